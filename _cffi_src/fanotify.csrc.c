#if !__has_include(<sys/fanotify.h>)
#error "butter needs <sys/fanotify.h> (apt-get install libc6-dev linux-libc-dev)"
#endif
#include <stddef.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <dirent.h>

/* Constants newer than the C library's headers: the values are kernel ABI
   (the kernel refuses what it does not know with EINVAL). */
#ifndef FAN_FS_ERROR
#define FAN_FS_ERROR 0x00008000            /* 5.16 */
#endif
#ifndef FAN_PRE_ACCESS
#define FAN_PRE_ACCESS 0x00100000          /* 6.14 */
#endif
#ifndef FAN_MNT_ATTACH
#define FAN_MNT_ATTACH 0x01000000          /* 6.15 */
#endif
#ifndef FAN_MNT_DETACH
#define FAN_MNT_DETACH 0x02000000          /* 6.15 */
#endif
#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000              /* 5.17 */
#endif
#ifndef FAN_REPORT_PIDFD
#define FAN_REPORT_PIDFD 0x00000080        /* 5.15 */
#endif
#ifndef FAN_REPORT_TID
#define FAN_REPORT_TID 0x00000100          /* 4.20 */
#endif
#ifndef FAN_REPORT_FID
#define FAN_REPORT_FID 0x00000200          /* 5.1 */
#endif
#ifndef FAN_REPORT_DIR_FID
#define FAN_REPORT_DIR_FID 0x00000400      /* 5.9 */
#endif
#ifndef FAN_REPORT_NAME
#define FAN_REPORT_NAME 0x00000800         /* 5.9 */
#endif
#ifndef FAN_REPORT_TARGET_FID
#define FAN_REPORT_TARGET_FID 0x00001000   /* 5.17 */
#endif
#ifndef FAN_REPORT_FD_ERROR
#define FAN_REPORT_FD_ERROR 0x00002000     /* 6.13 */
#endif
#ifndef FAN_REPORT_MNT
#define FAN_REPORT_MNT 0x00004000          /* 6.15 */
#endif
#ifndef FAN_REPORT_DFID_NAME
#define FAN_REPORT_DFID_NAME (FAN_REPORT_DIR_FID | FAN_REPORT_NAME)
#endif
#ifndef FAN_REPORT_DFID_NAME_TARGET
#define FAN_REPORT_DFID_NAME_TARGET \
    (FAN_REPORT_DFID_NAME | FAN_REPORT_FID | FAN_REPORT_TARGET_FID)
#endif
#ifndef FAN_MARK_FILESYSTEM
#define FAN_MARK_FILESYSTEM 0x00000100     /* 4.20 */
#endif
#ifndef FAN_MARK_EVICTABLE
#define FAN_MARK_EVICTABLE 0x00000200      /* 5.19 */
#endif
#ifndef FAN_MARK_IGNORE
#define FAN_MARK_IGNORE 0x00000400         /* 6.0 */
#endif
#ifndef FAN_MARK_INODE
#define FAN_MARK_INODE 0x00000000
#endif
#ifndef FAN_MARK_MNTNS
#define FAN_MARK_MNTNS 0x00000110          /* 6.15 */
#endif
#ifndef FAN_MARK_IGNORE_SURV
#define FAN_MARK_IGNORE_SURV (FAN_MARK_IGNORE | FAN_MARK_IGNORED_SURV_MODIFY)
#endif
#ifndef FAN_EVENT_INFO_TYPE_FID
#define FAN_EVENT_INFO_TYPE_FID 1
#endif
#ifndef FAN_EVENT_INFO_TYPE_DFID_NAME
#define FAN_EVENT_INFO_TYPE_DFID_NAME 2
#endif
#ifndef FAN_EVENT_INFO_TYPE_DFID
#define FAN_EVENT_INFO_TYPE_DFID 3
#endif
#ifndef FAN_EVENT_INFO_TYPE_PIDFD
#define FAN_EVENT_INFO_TYPE_PIDFD 4
#endif
#ifndef FAN_EVENT_INFO_TYPE_ERROR
#define FAN_EVENT_INFO_TYPE_ERROR 5
#endif
#ifndef FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
#define FAN_EVENT_INFO_TYPE_OLD_DFID_NAME 10
#endif
#ifndef FAN_EVENT_INFO_TYPE_NEW_DFID_NAME
#define FAN_EVENT_INFO_TYPE_NEW_DFID_NAME 12
#endif
#ifndef FAN_NOPIDFD
#define FAN_NOPIDFD FAN_NOFD
#endif
#ifndef FAN_EPIDFD
#define FAN_EPIDFD (-2)
#endif
#ifndef FAN_INFO
#define FAN_INFO 0x20                      /* 6.3 */
#endif
#ifndef FAN_RESPONSE_INFO_NONE
#define FAN_RESPONSE_INFO_NONE 0
#define FAN_RESPONSE_INFO_AUDIT_RULE 1
#endif
#ifndef FAN_ERRNO_BITS
#define FAN_ERRNO_BITS 8                   /* 6.14 */
#define FAN_ERRNO_SHIFT (32 - FAN_ERRNO_BITS)
#define FAN_ERRNO_MASK ((1 << FAN_ERRNO_BITS) - 1)
#endif

/* Info records newer than the headers (kernel ABI, 6.14 and 6.15). */
#ifndef FAN_EVENT_INFO_TYPE_RANGE
#define FAN_EVENT_INFO_TYPE_RANGE 6
struct fanotify_event_info_range {
    struct fanotify_event_info_header hdr;
    __u32 pad;
    __u64 offset;
    __u64 count;
};
#endif
#ifndef FAN_EVENT_INFO_TYPE_MNT
#define FAN_EVENT_INFO_TYPE_MNT 7
struct fanotify_event_info_mnt {
    struct fanotify_event_info_header hdr;
    __u64 mnt_id;
};
#endif

#define BUTTER_FAN_FSID_WORDS \
    (sizeof(((struct fanotify_event_info_fid *)0)->fsid) / sizeof(int))

static void butter_fan_fid_layout(size_t *out)
{
    out[0] = sizeof(struct fanotify_event_info_header);
    out[1] = offsetof(struct fanotify_event_info_fid, fsid);
    out[2] = sizeof(((struct fanotify_event_info_fid *)0)->fsid);
    out[3] = offsetof(struct fanotify_event_info_fid, handle);
}

static int butter_fanotify_mark(int fd, unsigned int flags, uint64_t mask,
                                int dfd, const char *path)
{
    return fanotify_mark(fd, flags, mask, dfd, path);
}

static int butter_fanotify_pending(int fd)
{
    int n = 0;
    if (ioctl(fd, FIONREAD, &n) < 0)
        return -1;
    return n;
}

static int butter_open_by_handle_at(int mount_fd, int handle_type,
                                    const unsigned char *f_handle,
                                    unsigned int handle_bytes, int flags)
{
    union {
        struct file_handle fh;
        unsigned char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    } u;
    struct file_handle *fh = &u.fh;
    if (handle_bytes > MAX_HANDLE_SZ) {
        errno = EINVAL;
        return -1;
    }
    fh->handle_bytes = handle_bytes;
    fh->handle_type = handle_type;
    memcpy(fh->f_handle, f_handle, handle_bytes);
    return open_by_handle_at(mount_fd, fh, flags);
}

#define BUTTER_MAX_HANDLE_SZ MAX_HANDLE_SZ
#ifndef AT_HANDLE_FID
#define AT_HANDLE_FID 0x200                /* 6.5 */
#endif

static int butter_name_to_handle_at(int dirfd, const char *path, int flags,
                                    int *mount_id, int *handle_type,
                                    unsigned char *f_handle,
                                    unsigned int *handle_bytes)
{
    union {
        struct file_handle fh;
        unsigned char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    } u;
    u.fh.handle_bytes = MAX_HANDLE_SZ;
    if (name_to_handle_at(dirfd, path, &u.fh, mount_id, flags) < 0)
        return -1;
    *handle_type = u.fh.handle_type;
    *handle_bytes = u.fh.handle_bytes;
    memcpy(f_handle, u.fh.f_handle, u.fh.handle_bytes);
    return 0;
}

#define BUTTER_HANDLE_KEY_ROOM (sizeof(struct file_handle) + MAX_HANDLE_SZ)

static int butter_handle_key(int dirfd, const char *path, int flags,
                             int *mount_id, unsigned char *key,
                             unsigned int offset)
{
    union {
        struct file_handle fh;
        unsigned char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    } u;
    unsigned int size;
    u.fh.handle_bytes = MAX_HANDLE_SZ;
    if (name_to_handle_at(dirfd, path, &u.fh, mount_id, flags) < 0)
        return -1;
    size = sizeof(struct file_handle) + u.fh.handle_bytes;
    memcpy(key + offset, u.bytes, size);
    return (int)(offset + size);
}

/* getdents64(2) records (kernel ABI; glibc wraps it only since 2.30). */
struct butter_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};
#define BUTTER_LIST_READ 32768
#define BUTTER_LIST_HEADER 12
/* Worst case: 24-byte dirents, each a record with a 1-byte name and a
   full handle. */
#define BUTTER_LIST_OUT_SIZE \
    ((BUTTER_LIST_READ / 24 + 1) * (BUTTER_LIST_HEADER + 256 + BUTTER_HANDLE_KEY_ROOM))

/* fstatat(2) by the raw syscall where the kernel has newfstatat: glibc
   exports an fstatat symbol only since 2.33 (before, an inline wrapper of
   __fxstatat64), and the wheels promise manylinux_2_28. */
static int butter_fstatat_nofollow(int fd, const char *name, struct stat *st)
{
#ifdef SYS_newfstatat
    return (int)syscall(SYS_newfstatat, fd, name, st, AT_SYMLINK_NOFOLLOW);
#else
    return fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW);
#endif
}

static int butter_list_dir(int fd, unsigned char *out)
{
    union {
        struct butter_dirent64 d;
        unsigned char bytes[BUTTER_LIST_READ];
    } u;
    long n = syscall(SYS_getdents64, fd, u.bytes, sizeof u.bytes);
    long pos = 0;
    unsigned char *w = out;
    if (n <= 0)
        return (int)n;
    while (pos < n) {
        struct butter_dirent64 *d = (struct butter_dirent64 *)(u.bytes + pos);
        const char *name = d->d_name;
        size_t len = strlen(name);
        unsigned char kind = 0;
        int32_t info = 0;
        uint32_t keylen = 0;
        uint16_t len16;
        pos += d->d_reclen;
        if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
            continue;
        if (d->d_type == DT_DIR)
            kind = 1;
        else if (d->d_type == DT_UNKNOWN) {
            struct stat st;
            if (butter_fstatat_nofollow(fd, name, &st) == 0 && S_ISDIR(st.st_mode))
                kind = 1;
        }
        if (kind == 1) {
            int mount_id = 0;
            int end = butter_handle_key(fd, name, 0, &mount_id,
                                        w + BUTTER_LIST_HEADER, (unsigned int)len);
            if (end < 0) {
                kind = 2;
                info = errno;
            } else {
                info = mount_id;
                keylen = (uint32_t)end - (uint32_t)len;
            }
        }
        len16 = (uint16_t)len;
        w[0] = kind;
        w[1] = 0;
        memcpy(w + 2, &len16, 2);
        memcpy(w + 4, &info, 4);
        memcpy(w + 8, &keylen, 4);
        memcpy(w + BUTTER_LIST_HEADER, name, len);
        w += BUTTER_LIST_HEADER + len + keylen;
    }
    return (int)(w - out);
}

_Static_assert(sizeof(((struct statfs *)0)->f_fsid)
               == sizeof(((struct fanotify_event_info_fid *)0)->fsid),
               "statfs and fanotify fsid sizes differ");

static int butter_fstatfs_fsid(int fd, int *out)
{
    struct statfs st;
    if (fstatfs(fd, &st) < 0)
        return -1;
    memcpy(out, &st.f_fsid, sizeof(int) * BUTTER_FAN_FSID_WORDS);
    return 0;
}
