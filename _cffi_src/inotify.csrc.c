#if !__has_include(<sys/inotify.h>)
#error "butter needs <sys/inotify.h> (apt-get install libc6-dev)"
#endif
#include <limits.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>

/* Older C libraries lack the newest flag; its value is kernel ABI (4.18+),
   the kernel refuses it with EINVAL where unsupported. */
#ifndef IN_MASK_CREATE
#define IN_MASK_CREATE 0x10000000
#endif
#define BUTTER_NAME_MAX NAME_MAX

static long butter_inotify_read(int fd, char *buf, size_t size)
{
    return (long)read(fd, buf, size);
}

static int butter_inotify_pending(int fd)
{
    int n = 0;
    if (ioctl(fd, FIONREAD, &n) < 0)
        return -1;
    return n;
}

static long butter_inotify_parse(const char *buf, size_t size,
                                 uint32_t *scratch, size_t cap)
{
    uint32_t *wd = scratch, *mask = scratch + cap, *cookie = scratch + 2 * cap;
    char *names = (char *)(scratch + 3 * cap + 2);
    size_t pos = 0, n = 0, out = 0;
    uint32_t mask_or = 0;
    while (pos < size) {
        struct inotify_event ev;
        if (size - pos < sizeof ev || n >= cap)
            return -1;
        memcpy(&ev, buf + pos, sizeof ev);
        pos += sizeof ev;
        if (ev.len > size - pos)
            return -1;
        wd[n] = (uint32_t)ev.wd;
        mask[n] = ev.mask;
        cookie[n] = ev.cookie;
        mask_or |= ev.mask;
        if (n)
            names[out++] = '\0';
        size_t len = strnlen(buf + pos, ev.len);
        memcpy(names + out, buf + pos, len);
        out += len;
        pos += ev.len;
        n++;
    }
    scratch[3 * cap] = (uint32_t)out;
    scratch[3 * cap + 1] = mask_or;
    return (long)n;
}
