/* Linux native AIO: io_setup(2), io_submit(2), io_getevents(2),
   io_cancel(2), io_destroy(2) (no glibc wrappers: shims over syscall(2)). */
#define IOCB_CMD_PREAD ...
#define IOCB_CMD_PWRITE ...
#define IOCB_CMD_FSYNC ...
#define IOCB_CMD_FDSYNC ...
#define IOCB_CMD_POLL ...
#define IOCB_CMD_NOOP ...
#define IOCB_CMD_PREADV ...
#define IOCB_CMD_PWRITEV ...
#define IOCB_FLAG_RESFD ...
#define IOCB_FLAG_IOPRIO ...

typedef unsigned long... aio_context_t;
typedef unsigned long long... butter_aio_u64;
typedef long long... butter_aio_s64;
typedef unsigned int... butter_aio_u32;
typedef unsigned short... butter_aio_u16;
typedef short... butter_aio_s16;

struct iocb {
    butter_aio_u64 aio_data;
    butter_aio_u32 aio_key;
    int aio_rw_flags;
    butter_aio_u16 aio_lio_opcode;
    butter_aio_s16 aio_reqprio;
    butter_aio_u32 aio_fildes;
    butter_aio_u64 aio_buf;
    butter_aio_u64 aio_nbytes;
    butter_aio_s64 aio_offset;
    butter_aio_u32 aio_flags;
    butter_aio_u32 aio_resfd;
    ...;
};

struct io_event {
    butter_aio_u64 data;
    butter_aio_u64 obj;
    butter_aio_s64 res;
    butter_aio_s64 res2;
    ...;
};

typedef struct { void *iov_base; size_t iov_len; } butter_aio_iovec;

int butter_io_setup(unsigned int nr_events, aio_context_t *ctxp);
int butter_io_destroy(aio_context_t ctx);
long butter_io_submit(aio_context_t ctx, long nr, struct iocb **iocbpp);
/* timeout_ns < 0: wait without a timeout. */
long butter_io_getevents(aio_context_t ctx, long min_nr, long nr,
                         struct io_event *events, long long timeout_ns);
int butter_io_cancel(aio_context_t ctx, struct iocb *iocb, struct io_event *result);
/* Fill *cb (zeroed first); flags |= IOCB_FLAG_RESFD when resfd >= 0. */
void butter_iocb_prep(struct iocb *cb, int opcode, int fd, uintptr_t buf,
                      unsigned long long nbytes, long long offset, int resfd,
                      unsigned long long data);
/* Empty an eventfd without blocking.  Returns 1 if the fd is O_NONBLOCK,
   0 if it is blocking, -1 with errno on failure. */
int butter_aio_eventfd_drain(int fd);
/* Empty an eventfd without blocking, whatever its O_NONBLOCK flag: one
   preadv2(RWF_NOWAIT) where the kernel allows it (3 syscalls fewer than
   butter_aio_eventfd_drain).  Returns 0, or -1 with errno on failure. */
int butter_aio_eventfd_empty(int fd);
