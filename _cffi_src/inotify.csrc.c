#if !__has_include(<sys/inotify.h>)
#error "butter needs <sys/inotify.h> (apt-get install libc6-dev)"
#endif
#include <limits.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>

/* Older C libraries lack the newest flag; its value is kernel ABI (4.18+),
   the kernel refuses it with EINVAL where unsupported. */
#ifndef IN_MASK_CREATE
#define IN_MASK_CREATE 0x10000000
#endif
#define BUTTER_NAME_MAX NAME_MAX

static long butter_inotify_read(int fd, char *buf, size_t size)
{
    return (long)read(fd, buf, size);
}

static int butter_inotify_pending(int fd)
{
    int n = 0;
    if (ioctl(fd, FIONREAD, &n) < 0)
        return -1;
    return n;
}

/* Direct-mapped cache of recent distinct records: a power of two; 256
   slots keep a batch's working set of files while costing 4 KiB of stack. */
#define BUTTER_INOTIFY_SLOTS 256

/* A hash of a record: its header words and the first and last 8 bytes of
   its name (len bytes, in a field of ev->len >= len bytes).  Equal records
   hash equal; a match is then checked in full, so a collision (or a wrong
   guess of the byte order below) only costs a missed fold.  Two loads
   whatever the length, and independent multiplies. */
static inline uint32_t butter_inotify_hash(const struct inotify_event *ev,
                                           const char *name, size_t len)
{
    uint64_t a = 0, b = 0;
    if (len >= 8) {
        memcpy(&a, name, 8);
        memcpy(&b, name + len - 8, 8);
    } else if (ev->len >= 8) { /* load the field, keep the name's bytes */
        memcpy(&a, name, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        a &= len ? ~0ull >> (64 - 8 * len) : 0;
#else
        a &= len ? ~0ull << (64 - 8 * len) : 0;
#endif
    } else {
        for (size_t i = 0; i < len; i++)
            a = a << 8 | (unsigned char)name[i];
    }
    uint64_t h = ((uint32_t)ev->wd | (uint64_t)ev->mask << 32) * 0x9E3779B97F4A7C15ull
                 ^ (ev->cookie | (uint64_t)len << 32) * 0xC2B2AE3D27D4EB4Full
                 ^ a * 0x165667B19E3779F9ull ^ b * 0xD6E8FEB86659FD93ull;
    return (uint32_t)(h ^ h >> 32);
}

static long butter_inotify_parse(const char *buf, size_t size,
                                 uint32_t *scratch, size_t cap, int dedup)
{
    int64_t *wd = (int64_t *)scratch, *mask = wd + cap, *cookie = wd + 2 * cap;
    uint32_t *rid = scratch + 6 * cap;
    char *names = (char *)(scratch + 7 * cap + 3);
    struct { uint32_t id, hash, off, len; } slot[BUTTER_INOTIFY_SLOTS];
    size_t pos = 0, n = 0, out = 0;
    uint32_t mask_or = 0, k = 0;
    if (dedup)
        memset(slot, 0xff, sizeof slot); /* id UINT32_MAX: empty */
    while (pos < size) {
        struct inotify_event ev;
        if (size - pos < sizeof ev || n >= cap)
            return -1;
        memcpy(&ev, buf + pos, sizeof ev);
        pos += sizeof ev;
        if (ev.len > size - pos)
            return -1;
        mask_or |= ev.mask;
        const char *name = buf + pos;
        size_t len = strnlen(name, ev.len);
        pos += ev.len;
        unsigned s = 0;
        uint32_t h32 = 0;
        if (dedup) {
            h32 = butter_inotify_hash(&ev, name, len);
            s = (h32 >> 16 ^ h32) & (BUTTER_INOTIFY_SLOTS - 1);
            uint32_t id = slot[s].id;
            if (id != UINT32_MAX && slot[s].hash == h32 && wd[id] == ev.wd && mask[id] == ev.mask
                && cookie[id] == ev.cookie && slot[s].len == len
                && memcmp(names + slot[s].off, name, len) == 0) {
                rid[n++] = id;
                continue;
            }
        }
        wd[k] = ev.wd;
        mask[k] = ev.mask;
        cookie[k] = ev.cookie;
        if (k)
            names[out++] = '\0';
        if (dedup) {
            slot[s].id = k;
            slot[s].hash = h32;
            slot[s].off = (uint32_t)out;
            slot[s].len = (uint32_t)len;
        }
        memcpy(names + out, name, len);
        out += len;
        rid[n++] = k++;
    }
    scratch[7 * cap] = (uint32_t)out;
    scratch[7 * cap + 1] = mask_or;
    scratch[7 * cap + 2] = k;
    return (long)n;
}
