#if !__has_include(<linux/aio_abi.h>)
#error "butter needs <linux/aio_abi.h>: apt-get install linux-libc-dev (Debian/Ubuntu) or kernel-headers (Fedora)"
#endif
#include <linux/aio_abi.h>
#include <poll.h>
#include <sys/uio.h>
#include <time.h>

typedef __u64 butter_aio_u64;
typedef __s64 butter_aio_s64;
typedef __u32 butter_aio_u32;
typedef __u16 butter_aio_u16;
typedef __s16 butter_aio_s16;
typedef struct iovec butter_aio_iovec;

#ifndef IOCB_FLAG_IOPRIO
#define IOCB_FLAG_IOPRIO (1 << 1)   /* Linux 4.18 */
#endif

static int butter_io_setup(unsigned int nr_events, aio_context_t *ctxp)
{
    return (int)syscall(SYS_io_setup, nr_events, ctxp);
}

static int butter_io_destroy(aio_context_t ctx)
{
    return (int)syscall(SYS_io_destroy, ctx);
}

static long butter_io_submit(aio_context_t ctx, long nr, struct iocb **iocbpp)
{
    return syscall(SYS_io_submit, ctx, nr, iocbpp);
}

static long butter_io_getevents(aio_context_t ctx, long min_nr, long nr,
                                struct io_event *events, long long timeout_ns)
{
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000LL);
        ts.tv_nsec = (long)(timeout_ns % 1000000000LL);
        tsp = &ts;
    }
#ifdef SYS_io_getevents
    return syscall(SYS_io_getevents, ctx, min_nr, nr, events, tsp);
#else
    return syscall(SYS_io_pgetevents, ctx, min_nr, nr, events, tsp, NULL);
#endif
}

static int butter_io_cancel(aio_context_t ctx, struct iocb *iocb, struct io_event *result)
{
    return (int)syscall(SYS_io_cancel, ctx, iocb, result);
}

static void butter_iocb_prep(struct iocb *cb, int opcode, int fd, uintptr_t buf,
                             unsigned long long nbytes, long long offset, int resfd,
                             unsigned long long data)
{
    memset(cb, 0, sizeof *cb);
    cb->aio_data = data;
    cb->aio_lio_opcode = (__u16)opcode;
    cb->aio_fildes = (__u32)fd;
    cb->aio_buf = (__u64)buf;
    cb->aio_nbytes = nbytes;
    cb->aio_offset = offset;
    if (resfd >= 0) {
        cb->aio_flags = IOCB_FLAG_RESFD;
        cb->aio_resfd = (__u32)resfd;
    }
}

static int butter_aio_eventfd_drain(int fd)
{
    uint64_t value;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -1;
    if (!(flags & O_NONBLOCK)) {
        struct pollfd pfd;
        int n;
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        n = poll(&pfd, 1, 0);
        if (n < 0)
            return -1;
        if (n == 0 || !(pfd.revents & POLLIN))
            return 0;
    }
    if (read(fd, &value, sizeof value) < 0 && errno != EAGAIN)
        return -1;
    return (flags & O_NONBLOCK) ? 1 : 0;
}

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008   /* Linux 4.14 */
#endif
/* 0 once the kernel refused RWF_NOWAIT on an eventfd (before Linux 5.x):
   then butter_aio_eventfd_empty() takes the fcntl + poll + read way.  A
   plain int: threads racing on it all store the same value. */
static int butter_eventfd_nowait = 1;

static int butter_aio_eventfd_empty(int fd)
{
    if (butter_eventfd_nowait) {
        uint64_t value;
        struct iovec iov;
        iov.iov_base = &value;
        iov.iov_len = sizeof value;
        if (preadv2(fd, &iov, 1, -1, RWF_NOWAIT) >= 0 || errno == EAGAIN)
            return 0;
        if (errno != EOPNOTSUPP && errno != EINVAL && errno != ENOSYS)
            return -1;
        butter_eventfd_nowait = 0;
    }
    return butter_aio_eventfd_drain(fd) < 0 ? -1 : 0;
}
