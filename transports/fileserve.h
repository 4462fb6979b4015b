/*
 * transports/fileserve.h: answer a request with a file, as a data plane
 * must: Range requests for resuming (206, 416), the representation's
 * digest (Repr-Digest, RFC 9530) so the receiver can verify what it
 * assembled, streaming in constant memory, and a handle to stop the
 * response at once (suspension, termination, an agreement that stopped
 * holding).
 */
#ifndef TSR_TRANSPORTS_FILESERVE_H
#define TSR_TRANSPORTS_FILESERVE_H

#include <stdbool.h>
#include <stdint.h>

struct tsr_diag;
struct tsr_http_req;
struct tsr_http_file;

struct tsr_http_file_opts {
    const char *content_type; /* NULL: application/octet-stream */
    const uint8_t *sha256;    /* the whole file's SHA-256 (Repr-Digest); NULL: none */
    /*
     * Called exactly once when the response ends, however it ends:
     * complete when every byte of the selected range was handed to the
     * transport, and sent the bytes of the body handed so far.  The
     * handle is freed right after it returns.
     */
    void (*on_end)(void *arg, bool complete, uint64_t sent);
    void *arg;
};

/*
 * Answer req (GET or HEAD) with the regular file open on fd, which this
 * STEALS (closed on every path).  The request's Range header selects one
 * byte range (206 with Content-Range; a multi-range or malformed header is
 * ignored and the whole file sent; an unsatisfiable one gets 416 with
 * "Content-Range: bytes * /size"); Accept-Ranges and, when opts->sha256 is
 * set, Repr-Digest are sent in each case.  After a 200 or 206 started
 * (this returned 0 and status was not 416), on_end runs exactly once; *out
 * (may be NULL) gets a handle for tsr_http_file_stop, valid until then,
 * or NULL when the response already ended (416, or a body that went out
 * at once).  Returns 0, or TSR_EIO (fd is not a readable regular file),
 * TSR_ENOMEM, TSR_ESTATE (already answered): on_end then never runs.
 */
int tsr_http_respond_file(struct tsr_http_req *req, int fd, const struct tsr_http_file_opts *opts,
                          struct tsr_http_file **out, struct tsr_diag *d);

/*
 * Stop the response now (tsr_http_req_cancel): the peer sees an
 * incomplete body.  on_end runs (complete false), possibly before this
 * returns; the handle is gone afterwards.
 */
void tsr_http_file_stop(struct tsr_http_file *f);

/*
 * Where the response is: *pos the next byte of the file to send, *end one
 * past the last, *sent the body bytes handed to the transport so far.
 */
void tsr_http_file_where(const struct tsr_http_file *f, uint64_t *pos, uint64_t *end,
                         uint64_t *sent);

#endif
