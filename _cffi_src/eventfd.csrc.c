#if !__has_include(<sys/eventfd.h>)
#error "butter needs <sys/eventfd.h> (glibc or musl development headers: apt-get install libc6-dev)"
#endif
#include <sys/eventfd.h>

static uint64_t butter_eventfd_read(int fd)
{
    uint64_t value;
    ssize_t n = read(fd, &value, sizeof value);
    if (n != (ssize_t)sizeof value) {
        if (n >= 0)
            errno = EIO;
        return UINT64_MAX;
    }
    return value;
}
