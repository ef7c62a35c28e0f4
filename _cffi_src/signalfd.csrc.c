#if !__has_include(<sys/signalfd.h>)
#error "butter needs <sys/signalfd.h> (apt-get install libc6-dev)"
#endif
#include <signal.h>
#include <sys/signalfd.h>

/* Real-time signals go up to 64 on every Linux architecture butter runs on;
   the kernel's sigset is 64 bits wide.  glibc's sigset_t is larger (1024
   bits): using the C type here keeps that difference out of Python. */
#define BUTTER_NSIG 65

/* sigaddset() refuses the C library's reserved signals (32, 33 on glibc);
   set the bit directly so the kernel, not libc, decides what is valid. */
static void butter_sigset_fill(sigset_t *set, const int *signals, int count)
{
    unsigned long *words = (unsigned long *)set;
    const int bits = 8 * (int)sizeof(unsigned long);
    sigemptyset(set);
    for (int i = 0; i < count; i++) {
        int bit = signals[i] - 1;
        if (bit >= 0 && bit < BUTTER_NSIG - 1)
            words[bit / bits] |= 1UL << (bit % bits);
    }
}

static int butter_signalfd(int fd, const int *signals, int count, int flags)
{
    sigset_t set;
    butter_sigset_fill(&set, signals, count);
    return signalfd(fd, &set, flags);
}

static int butter_pthread_sigmask(int how, const int *signals, int count,
                                  uint64_t *old_mask)
{
    sigset_t set, old;
    butter_sigset_fill(&set, signals, count);
    sigemptyset(&old);
    /* sigprocmask(), not pthread_sigmask(): on Linux (glibc, musl) it sets
       the calling thread's mask exactly like pthread_sigmask() (rt_sigprocmask
       is per-thread; the C library drops its reserved signals the same way),
       but glibc 2.32 moved pthread_sigmask() into libc under a new symbol
       version, so calling it would make the wheel need glibc >= 2.32
       (manylinux_2_28 allows 2.28).  Returns the error number as
       pthread_sigmask() does. */
    if (sigprocmask(how, &set, &old) != 0)
        return errno;
    uint64_t mask = 0;
    for (int sig = 1; sig < BUTTER_NSIG; sig++)
        if (sigismember(&old, sig) == 1)
            mask |= (uint64_t)1 << (sig - 1);
    *old_mask = mask;
    return 0;
}
