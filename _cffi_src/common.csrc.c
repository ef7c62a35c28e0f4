#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

/* One 8-byte counter read, as eventfd and timerfd deliver them.  Returns
   the value, or UINT64_MAX with errno set: neither counter can hold
   UINT64_MAX (an eventfd's maximum is 0xfffffffffffffffe, and a timer
   would need 2**64-1 expirations). */
static uint64_t butter_read_u64(int fd)
{
    uint64_t value;
    ssize_t n = read(fd, &value, sizeof value);
    if (n != (ssize_t)sizeof value) {
        if (n >= 0)
            errno = EIO;
        return UINT64_MAX;
    }
    return value;
}
