#if !__has_include(<sys/timerfd.h>)
#error "butter needs <sys/timerfd.h> (apt-get install libc6-dev)"
#endif
#include <sys/timerfd.h>
#include <time.h>

#ifndef TFD_TIMER_CANCEL_ON_SET
#define TFD_TIMER_CANCEL_ON_SET (1 << 1)
#endif

static void butter_ns_to_timespec(int64_t ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}

static int64_t butter_timespec_to_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000LL + (int64_t)ts->tv_nsec;
}

static int butter_timerfd_settime(int fd, int flags, int64_t initial_ns,
                                  int64_t interval_ns, int64_t old_ns[2])
{
    struct itimerspec new_value, old_value;
    butter_ns_to_timespec(initial_ns, &new_value.it_value);
    butter_ns_to_timespec(interval_ns, &new_value.it_interval);
    if (timerfd_settime(fd, flags, &new_value, &old_value) < 0)
        return -1;
    old_ns[0] = butter_timespec_to_ns(&old_value.it_value);
    old_ns[1] = butter_timespec_to_ns(&old_value.it_interval);
    return 0;
}

static int butter_timerfd_gettime(int fd, int64_t cur_ns[2])
{
    struct itimerspec cur;
    if (timerfd_gettime(fd, &cur) < 0)
        return -1;
    cur_ns[0] = butter_timespec_to_ns(&cur.it_value);
    cur_ns[1] = butter_timespec_to_ns(&cur.it_interval);
    return 0;
}

