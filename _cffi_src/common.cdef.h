/* Shared by every family. */
#define EINTR ...
#define EAGAIN ...
#define O_CLOEXEC ...
#define O_NONBLOCK ...

#define EOPNOTSUPP ...

/* Read one 8-byte counter (eventfd, timerfd): the value, or UINT64_MAX with
   errno set (errno 0: the eight bytes read really were all ones). */
uint64_t butter_read_u64(int fd);
/* The same and a plain read that never sleep, even on a blocking fd
   (preadv2 RWF_NOWAIT): EAGAIN when nothing is ready, EOPNOTSUPP where the
   kernel cannot do it for this kind of fd. */
uint64_t butter_read_u64_nowait(int fd);
ssize_t butter_read_nowait(int fd, char *buf, size_t size);
/* poll(2) on one fd for POLLIN: its revents (0: not ready), or -1 with errno. */
int butter_poll_in(int fd, int timeout_ms);
