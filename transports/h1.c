/*
 * transports/h1.c: HTTP/1.1 (and 1.0) on a tessera connection: a strict,
 * bounded request parser (RFC 9112) and the response writer.
 *
 * One request is handled at a time.  Pipelined bytes wait in c->in until
 * the current answer is written; reading stops when they would exceed the
 * header limit.  Any framing doubt (both Content-Length and
 * Transfer-Encoding, an unknown coding, obs-fold, a bad chunk size) is a
 * 400 and the connection closes, so a request can never be smuggled past
 * a proxy that read the bytes differently.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "transports/http_int.h"

/* RFC 9110 §5.6.2 token characters. */
static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool new_request(struct tsr_http_conn *c)
{
    c->h1_req = tsr_http__req_new(c, TSR_HTTP_PROTO_1_1);
    if (c->h1_req == NULL) {
        tsr_http__conn_close(c);
        return false;
    }
    c->h1 = H1_HEAD;
    c->h1_started = false;
    c->h1_continue_sent = false;
    c->timer_write = false;
    tsr_http__conn_arm_timer(c, c->srv->limits.idle_timeout_ms);
    return true;
}

void tsr_http__h1_start(struct tsr_http_conn *c)
{
    c->h1_keepalive = true;
    new_request(c);
}

/* Find the end of the line starting at p; returns its length without the
 * line ending, or -1 when incomplete.  *eol gets the ending's length. */
static ssize_t line_len(const char *p, size_t avail, size_t *eol)
{
    const char *nl = memchr(p, '\n', avail);

    if (nl == NULL)
        return -1;
    size_t n = (size_t)(nl - p);
    *eol = 1;
    if (n > 0 && p[n - 1] == '\r') {
        n--;
        *eol = 2;
    }
    return (ssize_t)n;
}

/* Reject with status and close after the answer; always returns -1. */
static int reject(struct tsr_http_conn *c, int status, const char *why)
{
    tsr_log_debug(TSR_LC_HTTP, "conn %s: %d %s", c->peer, status, why);
    c->h1_keepalive = false;
    c->h1 = H1_DISPATCHED;
    c->h1_req->dispatched = true;
    if (c->h1_req->method == NULL)
        c->h1_req->method = tsr_strdup("GET");
    tsr_http__respond_error(c->h1_req, status, why);
    return -1;
}

static int parse_request_line(struct tsr_http_conn *c, const char *p, size_t n)
{
    struct tsr_http_req *req = c->h1_req;
    size_t i = 0;

    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ' ')
        return reject(c, 400, "malformed request line");
    req->method = tsr_strndup(p, i);
    size_t ts = ++i;
    while (i < n && p[i] != ' ') {
        unsigned char ch = (unsigned char)p[i];
        if (ch <= 0x20 || ch >= 0x7f)
            return reject(c, 400, "invalid character in request target");
        i++;
    }
    if (i >= n || i == ts)
        return reject(c, 400, "malformed request line");
    size_t te = i++;
    const char *ver = p + i;
    size_t vlen = n - i;
    if (vlen == 8 && memcmp(ver, "HTTP/1.1", 8) == 0) {
        req->proto = TSR_HTTP_PROTO_1_1;
    } else if (vlen == 8 && memcmp(ver, "HTTP/1.0", 8) == 0) {
        req->proto = TSR_HTTP_PROTO_1_0;
        c->h1_keepalive = false;
    } else if (vlen == 8 && memcmp(ver, "HTTP/", 5) == 0 && ver[5] >= '0' && ver[5] <= '9' &&
               ver[6] == '.' && ver[7] >= '0' && ver[7] <= '9') {
        return reject(c, 505, "only HTTP/1.0 and HTTP/1.1 are served here");
    } else {
        return reject(c, 400, "malformed HTTP version");
    }
    const char *target = p + ts;
    size_t tlen = te - ts;
    if (target[0] != '/' && !(tlen == 1 && target[0] == '*'))
        return reject(c, 400, "only origin-form request targets are accepted");
    const char *q = memchr(target, '?', tlen);
    size_t plen = q != NULL ? (size_t)(q - target) : tlen;
    req->path = tsr_strndup(target, plen);
    if (q != NULL)
        req->query = tsr_strndup(q + 1, tlen - plen - 1);
    if (req->method == NULL || req->path == NULL || (q != NULL && req->query == NULL)) {
        tsr_http__conn_close(c);
        return -1;
    }
    req->header_bytes = n;
    return 0;
}

/*
 * Parse the header lines of a complete head and decide the body framing.
 * Returns 0, or -1 after rejecting or closing.
 */
static int parse_headers(struct tsr_http_conn *c, const char *p, size_t avail, size_t *used)
{
    struct tsr_http_req *req = c->h1_req;
    bool chunked = false, have_cl = false, have_host = false;
    uint64_t cl = 0;
    size_t off = 0, eol;

    for (;;) {
        ssize_t n = line_len(p + off, avail - off, &eol);
        if (n < 0)
            return reject(c, 400, "incomplete header");
        const char *l = p + off;
        off += (size_t)n + eol;
        if (n == 0)
            break;
        if (l[0] == ' ' || l[0] == '\t')
            return reject(c, 400, "obsolete line folding is not accepted");
        size_t i = 0;
        while (i < (size_t)n && is_tchar((unsigned char)l[i]))
            i++;
        if (i == 0 || i >= (size_t)n || l[i] != ':')
            return reject(c, 400, "malformed header field");
        size_t vs = i + 1, ve = (size_t)n;
        while (vs < ve && (l[vs] == ' ' || l[vs] == '\t'))
            vs++;
        while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
            ve--;
        for (size_t k = vs; k < ve; k++) {
            unsigned char ch = (unsigned char)l[k];
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
                return reject(c, 400, "invalid character in header value");
        }
        int rc = tsr_http__req_add_header(req, l, i, l + vs, ve - vs);
        if (rc == TSR_ELIMIT)
            return reject(c, 431, "request header fields too large");
        if (rc != 0) {
            tsr_http__conn_close(c);
            return -1;
        }
        const struct tsr_http_header *h = &req->hdrs[req->nhdrs - 1];
        if (strcmp(h->name, "content-length") == 0) {
            uint64_t v;
            if (tsr_parse_u64(h->value, UINT64_MAX, &v) != 0 || (have_cl && v != cl))
                return reject(c, 400, "invalid Content-Length");
            cl = v;
            have_cl = true;
        } else if (strcmp(h->name, "transfer-encoding") == 0) {
            if (chunked || strcasecmp(h->value, "chunked") != 0)
                return reject(c, 501, "only the chunked transfer coding is supported");
            chunked = true;
        } else if (strcmp(h->name, "connection") == 0) {
            /* A list of tokens; only close and keep-alive matter here. */
            char tmp[128];
            tsr_strlcpy(tmp, h->value, sizeof(tmp));
            for (char *save = NULL, *t = strtok_r(tmp, ", \t", &save); t != NULL;
                 t = strtok_r(NULL, ", \t", &save)) {
                if (strcasecmp(t, "close") == 0)
                    c->h1_keepalive = false;
                else if (strcasecmp(t, "keep-alive") == 0 && req->proto == TSR_HTTP_PROTO_1_0)
                    c->h1_keepalive = true;
            }
        } else if (strcmp(h->name, "host") == 0) {
            if (have_host)
                return reject(c, 400, "more than one Host header");
            have_host = true;
            req->authority = tsr_strdup(h->value);
        }
    }
    *used = off;
    if (req->proto == TSR_HTTP_PROTO_1_1 && !have_host)
        return reject(c, 400, "HTTP/1.1 requests need a Host header");
    if (chunked && have_cl)
        return reject(c, 400, "both Content-Length and Transfer-Encoding");
    if (chunked) {
        c->h1 = H1_CHUNK_SIZE;
    } else if (have_cl && cl > 0) {
        if (cl > c->srv->limits.max_body_bytes)
            return reject(c, 413, "request body too large");
        c->h1 = H1_BODY;
        c->h1_remaining = cl;
    } else {
        req->complete = true;
    }
    const char *expect = tsr_http_req_header(req, "expect");
    if (expect != NULL && !req->complete) {
        if (strcasecmp(expect, "100-continue") != 0)
            return reject(c, 417, "unsupported Expect");
        /* Only when no body bytes came with the head: the client waits. */
        if (req->proto == TSR_HTTP_PROTO_1_1 && off == avail) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            tsr_buf_add(&c->out, cont, sizeof(cont) - 1);
            c->h1_continue_sent = true;
        }
    }
    return 0;
}

static void complete(struct tsr_http_conn *c)
{
    struct tsr_http_req *req = c->h1_req;

    c->h1 = H1_DISPATCHED;
    req->complete = true;
    /* The handler's time is not limited here; once it answers, the write
     * timeout takes over. */
    tsr_http__conn_arm_timer(c, 0);
    if (c->srv->draining)
        c->h1_keepalive = false;
    tsr_http__dispatch(req);
}

/* Append body bytes; false after rejecting with 413. */
static bool add_body(struct tsr_http_conn *c, const char *p, size_t n)
{
    int rc = tsr_buf_add(&c->h1_req->body, p, n);
    if (rc == TSR_ELIMIT) {
        reject(c, 413, "request body too large");
        return false;
    }
    if (rc != 0) {
        tsr_http__conn_close(c);
        return false;
    }
    return true;
}

int tsr_http__h1_feed(struct tsr_http_conn *c)
{
    size_t eol;

    while (!c->dead && c->h1 != H1_DISPATCHED) {
        struct tsr_http_req *req = c->h1_req;
        const char *p = c->in.data;
        size_t avail = c->in.len;

        if (avail == 0)
            return 0;
        if (!c->h1_started) {
            /* The read timeout runs from the first byte of a request, not per
             * byte, so a drip-feeding client cannot hold the connection. */
            c->h1_started = true;
            tsr_http__conn_arm_timer(c, c->srv->limits.read_timeout_ms);
        }
        switch (c->h1) {
        case H1_HEAD: {
            /* Tolerate empty lines before a request (RFC 9112 §2.2). */
            while (avail > 0 && (p[0] == '\r' || p[0] == '\n')) {
                tsr_buf_consume(&c->in, 1);
                p = c->in.data;
                avail = c->in.len;
            }
            if (avail == 0)
                return 0;
            size_t limit = TSR_MIN(avail, c->srv->limits.max_header_bytes);
            const char *end = NULL;
            for (size_t i = 0; i + 1 < limit; i++) {
                if (p[i] == '\n' && (p[i + 1] == '\n' ||
                                     (p[i + 1] == '\r' && i + 2 < limit && p[i + 2] == '\n'))) {
                    end = p + i;
                    break;
                }
            }
            if (end == NULL) {
                if (avail >= c->srv->limits.max_header_bytes)
                    return reject(c, 431, "request header too large");
                return 0;
            }
            ssize_t n = line_len(p, avail, &eol);
            if (n < 0 || parse_request_line(c, p, (size_t)n) != 0)
                return -1;
            size_t used = 0;
            if (parse_headers(c, p + n + eol, avail - (size_t)n - eol, &used) != 0)
                return -1;
            tsr_buf_consume(&c->in, (size_t)n + eol + used);
            if (req->complete) {
                complete(c);
                return 0;
            }
            break;
        }
        case H1_BODY: {
            size_t take = (size_t)TSR_MIN((uint64_t)avail, c->h1_remaining);
            if (!add_body(c, p, take))
                return -1;
            tsr_buf_consume(&c->in, take);
            c->h1_remaining -= take;
            if (c->h1_remaining == 0) {
                complete(c);
                return 0;
            }
            break;
        }
        case H1_CHUNK_SIZE: {
            ssize_t n = line_len(p, TSR_MIN(avail, (size_t)1024), &eol);
            if (n < 0) {
                if (avail >= 1024)
                    return reject(c, 400, "chunk size line too long");
                return 0;
            }
            uint64_t v = 0;
            ssize_t i = 0;
            for (; i < n; i++) {
                int d;
                char ch = p[i];
                if (ch >= '0' && ch <= '9')
                    d = ch - '0';
                else if (ch >= 'a' && ch <= 'f')
                    d = ch - 'a' + 10;
                else if (ch >= 'A' && ch <= 'F')
                    d = ch - 'A' + 10;
                else
                    break;
                if (v > (UINT64_MAX >> 4))
                    return reject(c, 400, "chunk size overflows");
                v = (v << 4) | (uint64_t)d;
            }
            if (i == 0 || (i < n && p[i] != ';' && p[i] != ' ' && p[i] != '\t'))
                return reject(c, 400, "malformed chunk size");
            tsr_buf_consume(&c->in, (size_t)n + eol);
            if (v == 0) {
                c->h1 = H1_TRAILERS;
            } else {
                if (v > c->srv->limits.max_body_bytes - req->body.len)
                    return reject(c, 413, "request body too large");
                c->h1_remaining = v;
                c->h1 = H1_CHUNK_DATA;
            }
            break;
        }
        case H1_CHUNK_DATA: {
            size_t take = (size_t)TSR_MIN((uint64_t)avail, c->h1_remaining);
            if (!add_body(c, p, take))
                return -1;
            tsr_buf_consume(&c->in, take);
            c->h1_remaining -= take;
            if (c->h1_remaining == 0)
                c->h1 = H1_CHUNK_CRLF;
            break;
        }
        case H1_CHUNK_CRLF: {
            ssize_t n = line_len(p, TSR_MIN(avail, (size_t)2), &eol);
            if (n < 0) {
                if (avail >= 2)
                    return reject(c, 400, "missing CRLF after chunk");
                return 0;
            }
            if (n != 0)
                return reject(c, 400, "missing CRLF after chunk");
            tsr_buf_consume(&c->in, eol);
            c->h1 = H1_CHUNK_SIZE;
            break;
        }
        case H1_TRAILERS: {
            ssize_t n = line_len(p, avail, &eol);
            if (n < 0) {
                if (avail >= c->srv->limits.max_header_bytes)
                    return reject(c, 431, "trailer section too large");
                return 0;
            }
            req->header_bytes += (size_t)n + eol;
            if (req->header_bytes > c->srv->limits.max_header_bytes)
                return reject(c, 431, "trailer section too large");
            tsr_buf_consume(&c->in, (size_t)n + eol);
            /* Trailer fields are read and dropped: nothing here needs them. */
            if (n == 0) {
                complete(c);
                return 0;
            }
            break;
        }
        case H1_DISPATCHED:
            return 0;
        }
    }
    return 0;
}

int tsr_http__h1_respond(struct tsr_http_req *req, const struct tsr_http_header *hdrs,
                         size_t nhdrs)
{
    struct tsr_http_conn *c = req->conn;
    struct tsr_buf *o = &c->out;
    int rc;

    /* A request still being received is answered early (413, 400...); the
     * rest of it is not read, so the connection cannot be reused. */
    if (!req->complete) {
        c->h1_keepalive = false;
        /* Closing with unread request bytes makes the kernel send RST, which
         * can destroy our answer before the client reads it. */
        c->linger = true;
    }
    rc = tsr_buf_addf(o, "HTTP/1.1 %d %s\r\n", req->status, tsr_http_reason(req->status));
    for (size_t i = 0; rc == 0 && i < nhdrs; i++) {
        /* A header with a line break would let a value forge a response. */
        if (strpbrk(hdrs[i].name, "\r\n:") != NULL || strpbrk(hdrs[i].value, "\r\n") != NULL)
            continue;
        rc = tsr_buf_addf(o, "%s: %s\r\n", hdrs[i].name, hdrs[i].value);
    }
    if (rc == 0 && req->content_length >= 0) {
        rc = tsr_buf_addf(o, "content-length: %lld\r\n", (long long)req->content_length);
    } else if (rc == 0 && req->content_length == -1) {
        if (req->proto == TSR_HTTP_PROTO_1_1) {
            req->chunked = true;
            rc = tsr_buf_adds(o, "transfer-encoding: chunked\r\n");
        } else {
            /* HTTP/1.0 has no chunks: the end of the body is the close. */
            c->h1_keepalive = false;
        }
    }
    if (rc == 0 && !c->h1_keepalive)
        rc = tsr_buf_adds(o, "connection: close\r\n");
    else if (rc == 0 && req->proto == TSR_HTTP_PROTO_1_0)
        rc = tsr_buf_adds(o, "connection: keep-alive\r\n");
    if (rc == 0)
        rc = tsr_buf_adds(o, "\r\n");
    if (rc != 0)
        return rc;
    c->timer_write = true;
    tsr_http__conn_arm_timer(c, c->srv->limits.write_timeout_ms);
    return 0;
}

/* The current answer is fully queued: next request or close. */
static void finish(struct tsr_http_conn *c)
{
    struct tsr_http_req *req = c->h1_req;

    req->done = true;
    c->h1_req = NULL;
    tsr_http__req_free(req);
    if (!c->h1_keepalive || c->srv->draining) {
        c->closing = true;
        return;
    }
    if (!new_request(c))
        return;
    c->paused_in = false;
    tsr_http__conn_update_read(c);
    if (c->in.len > 0)
        tsr_http__h1_feed(c);
}

void tsr_http__h1_fill(struct tsr_http_conn *c)
{
    struct tsr_http_req *req = c->h1_req;
    struct tsr_buf *o = &c->out;

    while (!c->dead && req != NULL && req->responded && !req->done &&
           o->len - c->out_off < TSR_HTTP_OUT_HIGH_WATER) {
        if (req->src_eof) {
            if (req->chunked && !req->head && tsr_buf_adds(o, "0\r\n\r\n") != 0) {
                tsr_http__conn_close(c);
                return;
            }
            finish(c);
            req = c->h1_req;
            continue;
        }
        if (req->src_deferred)
            return;
        size_t want = TSR_HTTP_READ_BLOCK;
        if (req->content_length >= 0)
            want = (size_t)TSR_MIN((uint64_t)want, (uint64_t)req->content_length - req->sent);
        size_t pre = req->chunked ? 10 : 0;
        if (tsr_buf_reserve(o, pre + want + 2) != 0) {
            tsr_http__conn_close(c);
            return;
        }
        bool eof = false;
        uint8_t *dst = (uint8_t *)o->data + o->len + pre;
        ssize_t n = want > 0 ? req->src.read(req->src.arg, dst, want, &eof) : 0;
        if (want == 0)
            eof = true;
        if (n < 0) {
            /* The body failed midway: closing is the only way HTTP/1.1 can
             * tell the peer that what it got is incomplete. */
            tsr_log_debug(TSR_LC_HTTP, "conn %s: response source failed", c->peer);
            tsr_http__conn_close(c);
            return;
        }
        if (n > 0) {
            if (req->chunked) {
                char hdr[24];
                snprintf(hdr, sizeof(hdr), "%08zx\r\n", (size_t)n);
                memcpy(o->data + o->len, hdr, 10);
            }
            o->len += pre + (size_t)n;
            if (req->chunked) {
                memcpy(o->data + o->len, "\r\n", 2);
                o->len += 2;
            }
            o->data[o->len] = '\0';
            req->sent += (uint64_t)n;
        }
        if (eof) {
            if (req->content_length >= 0 && req->sent != (uint64_t)req->content_length) {
                tsr_log_warn(TSR_LC_HTTP, "conn %s: body ended after %llu of %lld bytes",
                             c->peer, (unsigned long long)req->sent,
                             (long long)req->content_length);
                c->closing = true;
                c->h1_keepalive = false;
                /* Flush what we have, then close: the length tells the
                 * peer the body is short. */
                req->src_eof = true;
                finish(c);
                return;
            }
            req->src_eof = true;
        } else if (n == 0) {
            req->src_deferred = true;
            return;
        }
    }
}

void tsr_http__h1_timeout(struct tsr_http_conn *c)
{
    if (c->h1 == H1_DISPATCHED) {
        /* Only the write timeout runs here: the peer stopped reading. */
        tsr_log_debug(TSR_LC_HTTP, "conn %s: write timeout", c->peer);
        tsr_http__conn_close(c);
        return;
    }
    if (!c->h1_started) {
        tsr_http__conn_close(c);
        return;
    }
    reject(c, 408, "request not received in time");
}

void tsr_http__h1_drain(struct tsr_http_conn *c)
{
    c->h1_keepalive = false;
    if (c->h1 == H1_HEAD && !c->h1_started)
        tsr_http__conn_close(c);
}
