#include <limits.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256  /* <linux/mount.h>, Linux 5.10; same on every arch */
#endif
#ifndef HOST_NAME_MAX
#define HOST_NAME_MAX 64
#endif

static int butter_pivot_root(const char *new_root, const char *put_old)
{
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

static int butter_gethostname(char *buf, size_t size)
{
    struct utsname u;
    if (uname(&u) < 0)
        return -1;
    size_t n = strnlen(u.nodename, sizeof u.nodename);
    if (n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, u.nodename, n);
    buf[n] = 0;
    return 0;
}

static long butter_getpid(void)
{
    return syscall(SYS_getpid);
}

static long butter_getppid(void)
{
    return syscall(SYS_getppid);
}
