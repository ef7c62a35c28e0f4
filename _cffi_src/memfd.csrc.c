#include <sys/mman.h>
#include <linux/memfd.h>
/* Newer than some distributions' headers; these values are the kernel ABI
   and the same on every architecture. */
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U   /* Linux 6.3 */
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U          /* Linux 6.3 */
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010  /* Linux 5.1 */
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020          /* Linux 6.3 */
#endif

static int butter_memfd_create(const char *name, unsigned int flags)
{
    return (int)syscall(SYS_memfd_create, name, flags);
}

static int butter_fcntl_int(int fd, int cmd, int arg)
{
    return fcntl(fd, cmd, arg);
}
