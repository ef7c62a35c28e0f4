#define SFD_CLOEXEC ...
#define SFD_NONBLOCK ...
#define SIG_BLOCK ...
#define SIG_UNBLOCK ...
#define SIG_SETMASK ...
#define BUTTER_NSIG ...

struct signalfd_siginfo {
    uint32_t ssi_signo;
    int32_t ssi_errno;
    int32_t ssi_code;
    uint32_t ssi_pid;
    uint32_t ssi_uid;
    int32_t ssi_fd;
    uint32_t ssi_tid;
    uint32_t ssi_band;
    uint32_t ssi_overrun;
    uint32_t ssi_trapno;
    int32_t ssi_status;
    int32_t ssi_int;
    uint64_t ssi_ptr;
    uint64_t ssi_utime;
    uint64_t ssi_stime;
    uint64_t ssi_addr;
    uint16_t ssi_addr_lsb;
    ...;
};

/* Build a sigset_t from signal numbers (1 <= n < BUTTER_NSIG, checked by
   the caller) in C, so the sigset size always matches the C library. */
int butter_signalfd(int fd, const int *signals, int count, int flags);
/* Returns 0 or an error number (pthread_sigmask does not set errno).
   The previous mask is returned as a bitmask: bit (n-1) is signal n. */
int butter_pthread_sigmask(int how, const int *signals, int count,
                           uint64_t *old_mask);
