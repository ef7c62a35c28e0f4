#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <poll.h>

/* One 8-byte counter read, as eventfd and timerfd deliver them.  Returns
   the value, or UINT64_MAX with errno set.  Neither counter can hold
   UINT64_MAX (an eventfd's maximum is 0xfffffffffffffffe, and a timer
   would need 2**64-1 expirations), but an fd of another kind can deliver
   eight 0xff bytes: then errno is 0, so the caller never mistakes data for
   a failure (and never raises a stale errno). */
static uint64_t butter_u64_result(ssize_t n, uint64_t value)
{
    if (n != (ssize_t)sizeof value) {
        if (n >= 0)
            errno = EIO;
        return UINT64_MAX;
    }
    if (value == UINT64_MAX)
        errno = 0;
    return value;
}

static uint64_t butter_read_u64(int fd)
{
    uint64_t value = 0;
    ssize_t n = read(fd, &value, sizeof value);
    return butter_u64_result(n, value);
}

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

/* read(2) that never sleeps, whatever the fd's O_NONBLOCK flag:
   preadv2(RWF_NOWAIT) at the file position.  Nothing ready: -1/EAGAIN.  A
   file type without non-blocking reads (inotify, fanotify; eventfd,
   timerfd and signalfd on old kernels): -1/EOPNOTSUPP. */
static ssize_t butter_read_nowait(int fd, char *buf, size_t size)
{
    struct iovec iov = { buf, size };
    return preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
}

/* butter_read_u64 that never sleeps (see butter_read_nowait). */
static uint64_t butter_read_u64_nowait(int fd)
{
    uint64_t value = 0;
    struct iovec iov = { &value, sizeof value };
    ssize_t n = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
    return butter_u64_result(n, value);
}

/* poll(2) on one fd for input: its revents (0: not ready), or -1 with
   errno set. */
static int butter_poll_in(int fd, int timeout_ms)
{
    struct pollfd p = { fd, POLLIN, 0 };
    int n = poll(&p, 1, timeout_ms);
    return n <= 0 ? n : p.revents;
}
