#if !__has_include(<linux/io_uring.h>)
#error "butter needs <linux/io_uring.h>: apt-get install linux-libc-dev (Debian/Ubuntu) or kernel-headers (Fedora)"
#endif
#include <linux/io_uring.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>

/* Newer than the oldest headers butter builds against: the kernel ABI values. */
#ifndef IORING_SETUP_NO_MMAP
#define IORING_SETUP_NO_MMAP (1U << 14)
#endif
#ifndef IORING_SETUP_REGISTERED_FD_ONLY
#define IORING_SETUP_REGISTERED_FD_ONLY (1U << 15)
#endif
#ifndef IORING_SETUP_NO_SQARRAY
#define IORING_SETUP_NO_SQARRAY (1U << 16)
#endif
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#define SYS_io_uring_enter 426
#define SYS_io_uring_register 427
#endif

typedef struct { int64_t tv_sec; long long tv_nsec; } butter_uring_timespec;

static int butter_io_uring_setup(unsigned int entries, struct io_uring_params *p)
{
    return (int)syscall(SYS_io_uring_setup, entries, p);
}

static int butter_io_uring_enter(int fd, unsigned int to_submit, unsigned int min_complete,
                                 unsigned int flags)
{
    return (int)syscall(SYS_io_uring_enter, fd, to_submit, min_complete, flags, NULL, 0);
}

static int butter_io_uring_register(int fd, unsigned int opcode, void *arg, unsigned int nr)
{
    return (int)syscall(SYS_io_uring_register, fd, opcode, arg, nr);
}

struct butter_uring {
    int fd;
    unsigned int flags;
    unsigned int features;
    unsigned int sq_entries;
    unsigned int cq_entries;
    unsigned int sq_mask, cq_mask;
    unsigned int *sq_head, *sq_tail, *sq_flags, *sq_array;
    unsigned int *cq_head, *cq_tail;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    void *sq_map, *cq_map;
    size_t sq_map_len, cq_map_len, sqes_len;
    unsigned int sqe_tail;      /* next free SQE; published by submit */
    struct io_uring_sqe *last;  /* the SQE filled last (linked chains) */
    pthread_mutex_t lock;       /* SQE filling/publishing and CQ reaping */
};

static void butter_uring_close(struct butter_uring *r)
{
    if (r->sqes != NULL && r->sqes != MAP_FAILED)
        munmap(r->sqes, r->sqes_len);
    if (r->cq_map != NULL && r->cq_map != MAP_FAILED && r->cq_map != r->sq_map)
        munmap(r->cq_map, r->cq_map_len);
    if (r->sq_map != NULL && r->sq_map != MAP_FAILED)
        munmap(r->sq_map, r->sq_map_len);
    r->sqes = NULL;
    r->cq_map = r->sq_map = NULL;
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

static int butter_uring_open(struct butter_uring *r, unsigned int entries, unsigned int flags)
{
    struct io_uring_params p;
    unsigned int i;
    int err;
    memset(r, 0, sizeof *r);
    r->fd = -1;
    if (flags & (IORING_SETUP_SQE128 | IORING_SETUP_CQE32 | IORING_SETUP_NO_MMAP |
                 IORING_SETUP_REGISTERED_FD_ONLY | IORING_SETUP_NO_SQARRAY))
        return -EINVAL;  /* layouts butter's ring does not handle */
    memset(&p, 0, sizeof p);
    p.flags = flags;
    r->fd = butter_io_uring_setup(entries, &p);
    if (r->fd < 0) {
        err = errno;
        r->fd = -1;
        return -err;
    }
    r->flags = p.flags;
    r->features = p.features;
    r->sq_entries = p.sq_entries;
    r->cq_entries = p.cq_entries;
    r->sq_map_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
    r->cq_map_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        if (r->cq_map_len > r->sq_map_len)
            r->sq_map_len = r->cq_map_len;
        r->cq_map_len = r->sq_map_len;
    }
    r->sq_map = mmap(NULL, r->sq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                     r->fd, IORING_OFF_SQ_RING);
    if (r->sq_map == MAP_FAILED)
        goto fail;
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        r->cq_map = r->sq_map;
    } else {
        r->cq_map = mmap(NULL, r->cq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                         r->fd, IORING_OFF_CQ_RING);
        if (r->cq_map == MAP_FAILED)
            goto fail;
    }
    r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                   r->fd, IORING_OFF_SQES);
    if (r->sqes == MAP_FAILED)
        goto fail;
    r->sq_head = (unsigned int *)((char *)r->sq_map + p.sq_off.head);
    r->sq_tail = (unsigned int *)((char *)r->sq_map + p.sq_off.tail);
    r->sq_flags = (unsigned int *)((char *)r->sq_map + p.sq_off.flags);
    r->sq_array = (unsigned int *)((char *)r->sq_map + p.sq_off.array);
    r->sq_mask = *(unsigned int *)((char *)r->sq_map + p.sq_off.ring_mask);
    r->cq_head = (unsigned int *)((char *)r->cq_map + p.cq_off.head);
    r->cq_tail = (unsigned int *)((char *)r->cq_map + p.cq_off.tail);
    r->cq_mask = *(unsigned int *)((char *)r->cq_map + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)((char *)r->cq_map + p.cq_off.cqes);
    /* The indirection array maps slot i to SQE i, once and for all. */
    for (i = 0; i < p.sq_entries; i++)
        r->sq_array[i] = i;
    r->sqe_tail = *r->sq_tail;
    pthread_mutex_init(&r->lock, NULL);
    return 0;
fail:
    err = errno;
    butter_uring_close(r);
    return -err;
}

static int butter_uring_prep(struct butter_uring *r, uint64_t user_data, unsigned int sqe_flags,
                             int opcode, int fd, uint64_t addr, uint32_t len, uint64_t off,
                             uint32_t op_flags, int buf_index, int extra)
{
    struct io_uring_sqe *sqe;
    unsigned int head;
    pthread_mutex_lock(&r->lock);
    head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
    if (r->sqe_tail - head >= r->sq_entries) {
        pthread_mutex_unlock(&r->lock);
        return -1;
    }
    sqe = &r->sqes[r->sqe_tail & r->sq_mask];
    memset(sqe, 0, sizeof *sqe);
    sqe->opcode = (__u8)opcode;
    sqe->flags = (__u8)sqe_flags;
    sqe->fd = fd;
    sqe->off = off;
    sqe->addr = addr;
    sqe->len = len;
    sqe->rw_flags = (__kernel_rwf_t)op_flags;
    sqe->user_data = user_data;
    sqe->buf_index = (__u16)buf_index;
    sqe->splice_fd_in = extra;
    r->last = sqe;
    r->sqe_tail++;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static void butter_uring_unlink_last(struct butter_uring *r)
{
    pthread_mutex_lock(&r->lock);
    if (r->last != NULL && r->sqe_tail != *r->sq_tail)
        r->last->flags &= (__u8)~IOSQE_IO_LINK;
    pthread_mutex_unlock(&r->lock);
}

static unsigned int butter_uring_queued(struct butter_uring *r)
{
    unsigned int n;
    pthread_mutex_lock(&r->lock);
    n = r->sqe_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&r->lock);
    return n;
}

static unsigned int butter_uring_ready_nolock(struct butter_uring *r)
{
    return __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE) - __atomic_load_n(r->cq_head, __ATOMIC_ACQUIRE);
}

static int butter_uring_submit(struct butter_uring *r, unsigned int min_complete,
                               long long timeout_ns)
{
    unsigned int flags = 0, to_submit;
    int ret;
    pthread_mutex_lock(&r->lock);
    __atomic_store_n(r->sq_tail, r->sqe_tail, __ATOMIC_RELEASE);
    to_submit = r->sqe_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&r->lock);
    if (r->flags & IORING_SETUP_SQPOLL) {
        /* The kernel thread submits; wake it if it sleeps. */
        if (__atomic_load_n(r->sq_flags, __ATOMIC_ACQUIRE) & IORING_SQ_NEED_WAKEUP)
            flags |= IORING_ENTER_SQ_WAKEUP;
        else if (!min_complete)
            return (int)to_submit;
    } else if (!to_submit && !min_complete) {
        /* Nothing to do unless the kernel holds completions back (CQ
           overflow, deferred task work): then enter to flush them. */
        if (!(__atomic_load_n(r->sq_flags, __ATOMIC_ACQUIRE) &
              (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)))
            return 0;
        flags |= IORING_ENTER_GETEVENTS;
    }
    if (min_complete)
        flags |= IORING_ENTER_GETEVENTS;
    if (min_complete && timeout_ns >= 0) {
        butter_uring_timespec ts;
        struct io_uring_getevents_arg arg;
        if (!(r->features & IORING_FEAT_EXT_ARG)) {
            /* Before Linux 5.11: submit, then poll the ring fd. */
            struct pollfd pfd;
            ret = (int)syscall(SYS_io_uring_enter, r->fd, to_submit, 0, 0, NULL, 0);
            if (ret < 0)
                return -errno;
            if (butter_uring_ready_nolock(r) >= min_complete)
                return ret;
            pfd.fd = r->fd;
            pfd.events = POLLIN;
            if (poll(&pfd, 1, (int)((timeout_ns + 999999) / 1000000)) < 0)
                return -errno;
            return ret;
        }
        memset(&arg, 0, sizeof arg);
        ts.tv_sec = timeout_ns / 1000000000LL;
        ts.tv_nsec = timeout_ns % 1000000000LL;
        arg.sigmask = 0;
        arg.sigmask_sz = _NSIG / 8;
        arg.ts = (__u64)(uintptr_t)&ts;
        ret = (int)syscall(SYS_io_uring_enter, r->fd, to_submit, min_complete,
                           flags | IORING_ENTER_EXT_ARG, &arg, sizeof arg);
    } else {
        ret = (int)syscall(SYS_io_uring_enter, r->fd, to_submit, min_complete, flags, NULL,
                           _NSIG / 8);
    }
    return ret < 0 ? -errno : ret;
}

static unsigned int butter_uring_reap(struct butter_uring *r, uint64_t *data, int32_t *res,
                                      unsigned int max)
{
    unsigned int head, tail, n, i;
    struct io_uring_cqe *cqe;
    pthread_mutex_lock(&r->lock);
    head = *r->cq_head;
    tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
    n = tail - head;
    if (n > max)
        n = max;
    for (i = 0; i < n; i++) {
        cqe = &r->cqes[(head + i) & r->cq_mask];
        data[i] = cqe->user_data;
        res[i] = cqe->res;
    }
    __atomic_store_n(r->cq_head, head + n, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&r->lock);
    return n;
}

static unsigned int butter_uring_ready(struct butter_uring *r)
{
    return butter_uring_ready_nolock(r);
}

static int butter_uring_probe(int fd, unsigned char *ops, unsigned int n)
{
    struct io_uring_probe *probe;
    unsigned int i, len = 256;
    int ret;
    probe = calloc(1, sizeof *probe + len * sizeof(struct io_uring_probe_op));
    if (probe == NULL)
        return -ENOMEM;
    ret = butter_io_uring_register(fd, IORING_REGISTER_PROBE, probe, len);
    if (ret < 0) {
        ret = -errno;
        free(probe);
        return ret;
    }
    memset(ops, 0, n);
    for (i = 0; i < probe->ops_len && i < len; i++) {
        unsigned int op = probe->ops[i].op;
        if (op < n && (probe->ops[i].flags & IO_URING_OP_SUPPORTED))
            ops[op] = 1;
    }
    ret = (int)probe->last_op + 1;
    free(probe);
    return ret;
}

static int butter_uring_prep_buf(struct butter_uring *r, uint64_t user_data,
                                 unsigned int sqe_flags, int opcode, int fd, char *buf,
                                 uint32_t len, uint64_t off, uint32_t op_flags)
{
    return butter_uring_prep(r, user_data, sqe_flags, opcode, fd, (uint64_t)(uintptr_t)buf, len,
                             off, op_flags, 0, 0);
}

static void *butter_alloc_aligned(size_t size)
{
    void *p = NULL;
    if (posix_memalign(&p, 4096, size ? size : 1) != 0)
        return NULL;
    return p;
}
