#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>

struct butter_pump {
    int64_t in_off;
    int64_t out_off;
    int64_t pending;
    int64_t done;
    int eof;
    int side;
};

static ssize_t butter_splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out,
                             size_t len, unsigned int flags)
{
    loff_t in = (loff_t)off_in, out = (loff_t)off_out;
    return splice(fd_in, off_in < 0 ? NULL : &in, fd_out, off_out < 0 ? NULL : &out,
                  len, flags);
}

static ssize_t butter_vmsplice(int fd, void **bases, size_t *lens, size_t n,
                               unsigned int flags, int copy)
{
    size_t total = 0, i;
    struct iovec one, *iov;
    ssize_t r;
    int saved;

    if (n > IOV_MAX) {
        errno = EINVAL;
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (lens[i] > (size_t)SSIZE_MAX - total) {
            errno = EINVAL;
            return -1;
        }
        total += lens[i];
    }
    if (!copy || total == 0) {
        iov = malloc((n ? n : 1) * sizeof *iov);
        if (iov == NULL)
            return -1;
        for (i = 0; i < n; i++) {
            iov[i].iov_base = bases[i];
            iov[i].iov_len = lens[i];
        }
        r = vmsplice(fd, iov, n, flags);
        saved = errno;
        free(iov);
        errno = saved;
        return r;
    }
    char *buf = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return -1;
    size_t at = 0;
    for (i = 0; i < n; i++) {
        memcpy(buf + at, bases[i], lens[i]);
        at += lens[i];
    }
    one.iov_base = buf;
    one.iov_len = total;
    r = vmsplice(fd, &one, 1, flags);
    saved = errno;
    /* The pipe holds its own references to the pages it took: once they
       are unmapped here nobody can change them any more. */
    munmap(buf, total);
    errno = saved;
    return r;
}

/* Through the pipe, reading one chunk ahead: the older chunk goes out with
   SPLICE_F_MORE only once the next read proved more data follows, so the
   last bytes are never held back (MSG_MORE) waiting for data that never
   comes.  Only safe when no fill can sleep (SPLICE_F_NONBLOCK in *flags*
   and a source that cannot block: a regular file, a block device or a
   non-blocking fd) and the pipe has at least two pages: a pipe's room is
   counted in pages, not bytes, so the read-ahead may find it full.  Python
   (butter.splice._Pump) checks this and uses a drain-then-fill loop
   otherwise. */
static int butter_splice_pump(struct butter_pump *p, int fd_in, int pipe_r, int pipe_w,
                              int fd_out, size_t chunk, int64_t limit, int64_t budget,
                              unsigned int flags)
{
    int64_t start = p->done;
    for (;;) {
        loff_t i = (loff_t)p->in_off, o = (loff_t)p->out_off;
        ssize_t n;
        size_t want = chunk;
        int64_t queued = p->done + p->pending;
        if (limit >= 0 && (uint64_t)(limit - queued) < (uint64_t)want)
            want = (size_t)(limit - queued);

        if (pipe_w < 0) {  /* one end is a pipe: splice straight through */
            if (p->eof || want == 0)
                return 0;
            if (budget >= 0 && p->done - start >= budget)
                return 1;
            n = splice(fd_in, p->in_off < 0 ? NULL : &i, fd_out,
                       p->out_off < 0 ? NULL : &o, want, flags);
            if (n < 0) {
                p->side = 0;
                return -1;
            }
            if (n == 0) {
                p->eof = 1;
                return 0;
            }
            if (p->in_off >= 0)
                p->in_off = i;
            if (p->out_off >= 0)
                p->out_off = o;
            p->done += n;
            continue;
        }

        ssize_t fresh = 0;   /* bytes the read just added: the rest may go out with MORE */
        int in_again = 0;
        if (!p->eof && want > 0 && (uint64_t)p->pending <= (uint64_t)chunk) {
            n = splice(fd_in, p->in_off < 0 ? NULL : &i, pipe_w, NULL, want, flags);
            if (n < 0) {
                if (errno != EAGAIN || p->pending == 0) {
                    p->side = 0;
                    return -1;
                }
                in_again = 1;  /* deliver what we hold before waiting */
            } else if (n == 0) {
                p->eof = 1;
            } else {
                if (p->in_off >= 0)
                    p->in_off = i;
                p->pending += n;
                fresh = n;
            }
        }
        int64_t send = p->pending - fresh;
        unsigned int oflags = fresh > 0 ? flags | SPLICE_F_MORE : flags;
        while (send > 0) {
            o = (loff_t)p->out_off;
            n = splice(pipe_r, NULL, fd_out, p->out_off < 0 ? NULL : &o, (size_t)send, oflags);
            if (n < 0) {
                p->side = 1;
                return -1;
            }
            if (n == 0) {  /* cannot happen with data in the pipe */
                p->side = 1;
                errno = EIO;
                return -1;
            }
            if (p->out_off >= 0)
                p->out_off = o;
            p->pending -= n;
            p->done += n;
            send -= n;
        }
        if (p->pending == 0 && (p->eof || (limit >= 0 && p->done >= limit)))
            return 0;
        if (in_again) {
            errno = EAGAIN;
            p->side = 0;
            return -1;
        }
        if (budget >= 0 && p->done - start >= budget)
            return 1;
    }
}
