#include <signal.h>
#include <sys/wait.h>
#ifndef P_PIDFD
#define P_PIDFD 3                  /* <linux/wait.h>, Linux 5.4 */
#endif
#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK  /* <linux/pidfd.h>, Linux 5.10 */
#endif

static int butter_pidfd_open(int pid, unsigned int flags)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, flags);
#else
    errno = ENOSYS;
    return -1;
#endif
}

static int butter_pidfd_send_signal(int pidfd, int sig, unsigned int flags)
{
#ifdef SYS_pidfd_send_signal
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags);
#else
    errno = ENOSYS;
    return -1;
#endif
}

static int butter_pidfd_getfd(int pidfd, int targetfd, unsigned int flags)
{
#ifdef SYS_pidfd_getfd
    return (int)syscall(SYS_pidfd_getfd, pidfd, targetfd, flags);
#else
    errno = ENOSYS;
    return -1;
#endif
}

static int butter_waitid_pidfd(int pidfd, int options, int *out)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (syscall(SYS_waitid, P_PIDFD, pidfd, &info, options, NULL) < 0)
        return -1;
    out[0] = info.si_pid;
    out[1] = info.si_code;
    out[2] = info.si_status;
    return 0;
}
