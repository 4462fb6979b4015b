/*
 * transports/fileserve.c: files as HTTP responses (see fileserve.h).
 */
#include "lib/tsr.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "transports/fields.h"
#include "transports/fileserve.h"
#include "transports/http.h"

struct tsr_http_file {
    struct tsr_http_req *req;
    int fd;
    uint64_t pos; /* next byte to read */
    uint64_t end; /* one past the last byte to send */
    uint64_t sent;
    void (*on_end)(void *arg, bool complete, uint64_t sent);
    void *arg;
    bool starting;     /* inside tsr_http_respond_stream */
    bool closed_early; /* the response ended (or failed) before it returned */
};

static ssize_t file_read(void *arg, uint8_t *buf, size_t len, bool *eof)
{
    struct tsr_http_file *f = arg;
    size_t want = (size_t)TSR_MIN((uint64_t)len, f->end - f->pos);

    if (want == 0) {
        *eof = true;
        return 0;
    }
    ssize_t n;
    do {
        n = pread(f->fd, buf, want, (off_t)f->pos);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return TSR_EIO; /* shrank or failed under us: the peer must see a broken body */
    f->pos += (uint64_t)n;
    f->sent += (uint64_t)n;
    *eof = f->pos == f->end;
    return n;
}

static void file_close(void *arg)
{
    struct tsr_http_file *f = arg;

    if (f->starting) {
        /* Whether on_end is due depends on what the start returns. */
        f->closed_early = true;
        return;
    }
    if (f->on_end != NULL)
        f->on_end(f->arg, f->pos == f->end, f->sent);
    close(f->fd);
    tsr_free(f);
}

int tsr_http_respond_file(struct tsr_http_req *req, int fd, const struct tsr_http_file_opts *opts,
                          struct tsr_http_file **out, struct tsr_diag *d)
{
    static const struct tsr_http_file_opts none;
    struct tsr_http_header h[5];
    char digest[TSR_HTTP_REPR_DIGEST_MAX], crange[TSR_HTTP_CONTENT_RANGE_MAX];
    struct stat st;
    size_t nh = 0;
    uint64_t first = 0, last = 0;
    int status = 200;

    if (out != NULL)
        *out = NULL;
    if (opts == NULL)
        opts = &none;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tsr_diag_set(d, TSR_EIO, "not a readable regular file");
    }
    uint64_t size = (uint64_t)st.st_size;

    h[nh++] = (struct tsr_http_header){"Content-Type", opts->content_type != NULL
                                                           ? opts->content_type
                                                           : "application/octet-stream"};
    h[nh++] = (struct tsr_http_header){"Accept-Ranges", "bytes"};
    if (opts->sha256 != NULL && tsr_http_repr_digest_format(opts->sha256, digest,
                                                            sizeof(digest)) == 0)
        h[nh++] = (struct tsr_http_header){"Repr-Digest", digest};

    int rc = tsr_http_range_parse(tsr_http_req_header(req, "range"), size, &first, &last);
    if (rc == TSR_ERANGE) {
        close(fd);
        tsr_http_content_range_format(crange, sizeof(crange), 1, 0, size);
        h[nh++] = (struct tsr_http_header){"Content-Range", crange};
        rc = tsr_http_respond(req, 416, h, nh, NULL, 0);
        return rc == 0 ? 0 : tsr_diag_set(d, rc, "cannot answer 416");
    }
    if (rc == 0) {
        status = 206;
        tsr_http_content_range_format(crange, sizeof(crange), first, last, size);
        h[nh++] = (struct tsr_http_header){"Content-Range", crange};
    } else {
        first = 0;
        last = size - 1; /* unused when size is 0 */
    }
    uint64_t len = size == 0 ? 0 : last - first + 1;

    struct tsr_http_file *f = tsr_calloc(1, sizeof(*f));
    if (f == NULL) {
        close(fd);
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    }
    f->req = req;
    f->fd = fd;
    f->pos = first;
    f->end = first + len;
    f->on_end = opts->on_end;
    f->arg = opts->arg;
    (void)posix_fadvise(fd, (off_t)first, (off_t)len, POSIX_FADV_SEQUENTIAL);
    f->starting = true;
    struct tsr_http_source src = {file_read, file_close, f};
    rc = tsr_http_respond_stream(req, status, h, nh, (int64_t)len, &src);
    f->starting = false;
    if (rc != 0) {
        close(f->fd);
        tsr_free(f); /* the source was closed (closed_early): on_end is not due */
        return tsr_diag_set(d, rc, "cannot start the response");
    }
    if (f->closed_early) {
        file_close(f); /* all of it went out at once */
        return 0;
    }
    if (out != NULL)
        *out = f;
    return 0;
}

void tsr_http_file_stop(struct tsr_http_file *f)
{
    tsr_http_req_cancel(f->req);
}

void tsr_http_file_where(const struct tsr_http_file *f, uint64_t *pos, uint64_t *end,
                         uint64_t *sent)
{
    *pos = f->pos;
    *end = f->end;
    *sent = f->sent;
}
