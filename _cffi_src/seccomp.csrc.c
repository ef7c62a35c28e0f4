#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/audit.h>
#include <linux/elf-em.h>
#include <linux/seccomp.h>

/* Older kernel headers lack some of these; the values are the kernel ABI
   (and are spelt as libseccomp 2.5's seccomp.h spells its own fallbacks). */
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_KILL_THREAD
#define SECCOMP_RET_KILL_THREAD 0x00000000U
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U
#endif
#ifndef SECCOMP_RET_USER_NOTIF  /* Linux 5.0 */
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
struct seccomp_notif {
    __u64 id;
    __u32 pid;
    __u32 flags;
    struct seccomp_data data;
};
struct seccomp_notif_resp {
    __u64 id;
    __s64 val;
    __s32 error;
    __u32 flags;
};
#endif
#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE  /* Linux 5.5 */
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE 1
#endif

#ifndef EM_AARCH64
#define EM_AARCH64 183
#endif
#ifndef EM_RISCV
#define EM_RISCV 243
#endif
#ifndef __AUDIT_ARCH_CONVENTION_MIPS64_N32
#define __AUDIT_ARCH_CONVENTION_MIPS64_N32 0x20000000
#endif
#ifndef AUDIT_ARCH_AARCH64
#define AUDIT_ARCH_AARCH64 (EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE)
#endif
#ifndef AUDIT_ARCH_MIPS64N32
#define AUDIT_ARCH_MIPS64N32 (EM_MIPS | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_CONVENTION_MIPS64_N32)
#endif
#ifndef AUDIT_ARCH_MIPSEL64N32
#define AUDIT_ARCH_MIPSEL64N32 \
    (EM_MIPS | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE | __AUDIT_ARCH_CONVENTION_MIPS64_N32)
#endif
#ifndef AUDIT_ARCH_PPC64LE
#define AUDIT_ARCH_PPC64LE (EM_PPC64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE)
#endif
#ifndef AUDIT_ARCH_RISCV64
#define AUDIT_ARCH_RISCV64 (EM_RISCV | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE)
#endif
#define BUTTER_SCMP_ARCH_X32 (EM_X86_64 | __AUDIT_ARCH_LE)

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
