#define _GNU_SOURCE 1
#if !defined(__linux__)
#error "butter only supports Linux"
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <seccomp.h>

#if SCMP_VER_MAJOR < 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR < 5)
#error "butter.seccomp needs libseccomp >= 2.5 (apt-get install libseccomp-dev)"
#endif

#define BUTTER_SCMP_ACT_ERRNO_BASE SCMP_ACT_ERRNO(0)
#define BUTTER_SCMP_ACT_TRACE_BASE SCMP_ACT_TRACE(0)
#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE 1
#endif
#ifndef SCMP_ARCH_RISCV64
#define SCMP_ARCH_RISCV64 0
#endif

static int butter_seccomp_notif_recv(int fd, struct seccomp_notif *req)
{
#ifdef SECCOMP_IOCTL_NOTIF_RECV
    memset(req, 0, sizeof(*req));  /* the kernel insists on a zeroed buffer */
    return ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, req);
#else
    (void)fd; (void)req;
    errno = ENOSYS;
    return -1;
#endif
}

static int butter_seccomp_notif_send(int fd, const struct seccomp_notif_resp *resp)
{
#ifdef SECCOMP_IOCTL_NOTIF_SEND
    return ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp);
#else
    (void)fd; (void)resp;
    errno = ENOSYS;
    return -1;
#endif
}

static int butter_seccomp_notif_id_valid(int fd, uint64_t id)
{
#ifdef SECCOMP_IOCTL_NOTIF_ID_VALID
    return ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id);
#else
    (void)fd; (void)id;
    errno = ENOSYS;
    return -1;
#endif
}
