#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#if __has_include(<sys/fanotify.h>)
#include <sys/fanotify.h>
#define BUTTER_HAVE_FANOTIFY 1
#endif
#if __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
#define BUTTER_HAVE_IO_URING 1
#endif
#if __has_include(<linux/landlock.h>)
#include <linux/landlock.h>
#endif
#include <linux/seccomp.h>
#include <linux/aio_abi.h>

#define BUTTER_RET(expr) do { long r_ = (long)(expr); return r_ < 0 ? -errno : (int)r_; } while (0)

static int butter_probe_inotify(void)
{
    BUTTER_RET(inotify_init1(IN_CLOEXEC));
}

static int butter_probe_fanotify(int fid_mode)
{
#ifdef BUTTER_HAVE_FANOTIFY
    unsigned int flags = FAN_CLASS_NOTIF | FAN_CLOEXEC;
#ifdef FAN_REPORT_FID
    if (fid_mode)
        flags |= FAN_REPORT_FID;
#else
    if (fid_mode)
        return -ENOSYS;
#endif
    BUTTER_RET(fanotify_init(flags, O_RDONLY));
#else
    (void)fid_mode;
    return -ENOSYS;
#endif
}

static int butter_probe_io_uring(void)
{
#if defined(BUTTER_HAVE_IO_URING) && defined(__NR_io_uring_setup)
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    BUTTER_RET(syscall(__NR_io_uring_setup, 1, &params));
#else
    return -ENOSYS;
#endif
}

static int butter_probe_pidfd(void)
{
#ifdef __NR_pidfd_open
    BUTTER_RET(syscall(__NR_pidfd_open, getpid(), 0));
#else
    return -ENOSYS;
#endif
}

static int butter_probe_landlock_abi(void)
{
#if defined(__NR_landlock_create_ruleset) && defined(LANDLOCK_CREATE_RULESET_VERSION)
    BUTTER_RET(syscall(__NR_landlock_create_ruleset, NULL, 0,
                       LANDLOCK_CREATE_RULESET_VERSION));
#else
    return -ENOSYS;
#endif
}

/* The raw syscall, as butter.memfd uses: glibc's memfd_create() wrapper
   (2.27) is newer than some C libraries the wheels must load on, and the
   probe should test the path butter.memfd really takes. */
static int butter_probe_memfd(void)
{
    BUTTER_RET(syscall(SYS_memfd_create, "butter-probe", MFD_CLOEXEC));
}

static int butter_probe_seccomp(void)
{
    /* 0: not filtered yet; 2: already under a filter.  Then ask the kernel
       whether it knows the newest action we would use. */
    int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
    if (mode < 0)
        return -errno;
#if defined(__NR_seccomp) && defined(SECCOMP_GET_ACTION_AVAIL)
    unsigned int action = SECCOMP_RET_LOG;
    if (syscall(__NR_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) < 0)
        return -errno;
#endif
    return mode;
}

static int butter_probe_aio(void)
{
    aio_context_t ctx = 0;
    if (syscall(__NR_io_setup, 1, &ctx) < 0)
        return -errno;
    syscall(__NR_io_destroy, ctx);
    return 0;
}
