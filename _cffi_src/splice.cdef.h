/* splice(2), tee(2), vmsplice(2) and butter's splice pump. */
#define SPLICE_F_MOVE ...
#define SPLICE_F_NONBLOCK ...
#define SPLICE_F_MORE ...
#define SPLICE_F_GIFT ...
#define F_GETPIPE_SZ ...
#define F_SETPIPE_SZ ...

/* An offset < 0 means NULL (use and advance the fd's own position);
   otherwise the call uses a private loff_t and the position is untouched. */
ssize_t butter_splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out,
                      size_t len, unsigned int flags);
ssize_t tee(int fd_in, int fd_out, size_t len, unsigned int flags);
/* vmsplice(2) over n buffers.  copy != 0: the bytes are first copied into
   fresh anonymous pages which are unmapped again after the call, so only
   the pipe can still see them.  Returns the byte count or -1 with errno. */
ssize_t butter_vmsplice(int fd, void **bases, size_t *lens, size_t n,
                        unsigned int flags, int copy);

/* The copy loop: fd_in -> pipe -> fd_out (or fd_in -> fd_out when pipe_w < 0,
   i.e. when one end already is a pipe).  State survives across calls so the
   caller can wait on EAGAIN and come back. */
struct butter_pump {
    int64_t in_off;    /* < 0: fd_in's own position */
    int64_t out_off;   /* < 0: fd_out's own position */
    int64_t pending;   /* bytes sitting in the pipe */
    int64_t done;      /* bytes delivered to fd_out */
    int eof;           /* fd_in returned 0 */
    int side;          /* after -1: 0 = failed on fd_in, 1 = on fd_out */
};
/* Returns 0 when done (EOF or limit reached), 1 after moving `budget`
   bytes (call again), -1 with errno set. limit < 0: no limit. */
int butter_splice_pump(struct butter_pump *p, int fd_in, int pipe_r, int pipe_w,
                       int fd_out, size_t chunk, int64_t limit, int64_t budget,
                       unsigned int flags);
