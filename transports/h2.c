/*
 * transports/h2.c: HTTP/2 on a tessera connection, with nghttp2 doing the
 * framing.  nghttp2 does no I/O: server.c feeds it what it reads and
 * writes what h2_fill() takes from nghttp2_session_mem_send().
 *
 * Each request stream carries a struct tsr_http_req as its stream user
 * data; the stream's close callback is the one place a request is freed
 * (libuv's rule: free only from the last callback).
 */
#include "lib/tsr.h"

#include <string.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "transports/http_int.h"

/* Receive windows: generous so uploads (push transfers) are not throttled
 * by round trips; memory is still bounded by the body limit. */
#define H2_STREAM_WINDOW (1 << 20)
#define H2_CONN_WINDOW (16 << 20)

static void link_stream(struct tsr_http_conn *c, struct tsr_http_req *req)
{
    req->next = c->streams;
    if (c->streams != NULL)
        c->streams->prev = req;
    c->streams = req;
    c->nstreams++;
}

static void unlink_stream(struct tsr_http_conn *c, struct tsr_http_req *req)
{
    if (req->prev != NULL)
        req->prev->next = req->next;
    else
        c->streams = req->next;
    if (req->next != NULL)
        req->next->prev = req->prev;
    req->prev = req->next = NULL;
    c->nstreams--;
}

static void arm_timer(struct tsr_http_conn *c)
{
    const struct tsr_http_limits *l = &c->srv->limits;

    tsr_http__conn_arm_timer(c, c->nstreams == 0 ? l->idle_timeout_ms : l->read_timeout_ms);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *user_data)
{
    struct tsr_http_conn *c = user_data;

    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct tsr_http_req *req = tsr_http__req_new(c, TSR_HTTP_PROTO_2);
    if (req == NULL)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    req->stream_id = frame->hd.stream_id;
    link_stream(c, req);
    nghttp2_session_set_stream_user_data(s, frame->hd.stream_id, req);
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
    struct tsr_http_req *req;
    char **slot = NULL;

    (void)flags;
    (void)user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    req = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (req == NULL || req->header_overflow)
        return 0;
    if (namelen > 0 && name[0] == ':') {
        req->header_bytes += namelen + valuelen + 4;
        if (req->header_bytes > req->conn->srv->limits.max_header_bytes) {
            req->header_overflow = true;
            return 0;
        }
        if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
            slot = &req->method;
        } else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
            const uint8_t *q = memchr(value, '?', valuelen);
            size_t plen = q != NULL ? (size_t)(q - value) : valuelen;
            tsr_free(req->path);
            req->path = tsr_strndup((const char *)value, plen);
            if (q != NULL) {
                tsr_free(req->query);
                req->query = tsr_strndup((const char *)q + 1, valuelen - plen - 1);
            }
            if (req->path == NULL || (q != NULL && req->query == NULL))
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
            if (req->path[0] != '/' && strcmp(req->path, "*") != 0)
                req->bad_request = true;
            return 0;
        } else if (namelen == 10 && memcmp(name, ":authority", 10) == 0) {
            slot = &req->authority;
        } else {
            return 0; /* :scheme; nghttp2 has checked the set is valid */
        }
        tsr_free(*slot);
        *slot = tsr_strndup((const char *)value, valuelen);
        return *slot != NULL ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    int rc = tsr_http__req_add_header(req, (const char *)name, namelen, (const char *)value,
                                      valuelen);
    if (rc == TSR_ENOMEM)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static int on_data_chunk_recv(nghttp2_session *s, uint8_t flags, int32_t stream_id,
                              const uint8_t *data, size_t len, void *user_data)
{
    struct tsr_http_req *req = nghttp2_session_get_stream_user_data(s, stream_id);

    (void)flags;
    (void)user_data;
    if (req == NULL || req->dispatched)
        return 0; /* answered early: the rest is read and dropped */
    int rc = tsr_buf_add(&req->body, data, len);
    if (rc == TSR_ELIMIT) {
        req->body_overflow = true;
        tsr_http__dispatch(req);
        return 0;
    }
    return rc == 0 ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *user_data)
{
    struct tsr_http_conn *c = user_data;
    struct tsr_http_req *req;

    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    req = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (req == NULL || req->dispatched)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && req->header_overflow) {
        tsr_http__dispatch(req); /* 431 without waiting for the body */
        return 0;
    }
    if (frame->hd.type == NGHTTP2_HEADERS && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
        /* A declared length over the limit is refused before any of the
         * body is read (nghttp2 checks that DATA matches it). */
        const char *cl = tsr_http_req_header(req, "content-length");
        uint64_t v;
        if (cl != NULL && tsr_parse_u64(cl, UINT64_MAX, &v) == 0 &&
            v > c->srv->limits.max_body_bytes) {
            req->body_overflow = true;
            tsr_http__dispatch(req);
        }
        return 0;
    }
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
        req->complete = true;
        if (req->method == NULL || req->path == NULL)
            req->bad_request = true;
        if (c->srv->draining)
            (void)0; /* streams already open are still served while draining */
        tsr_http__dispatch(req);
    }
    return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *frame, void *user_data)
{
    struct tsr_http_req *req;

    (void)user_data;
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0)
        return 0;
    req = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    /* We answered before the request ended (413, 431): tell the peer to
     * stop sending the rest (RFC 9113 §8.1). */
    if (req != NULL && !req->complete)
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    struct tsr_http_conn *c = user_data;
    struct tsr_http_req *req = nghttp2_session_get_stream_user_data(s, stream_id);

    (void)error_code;
    if (req == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(s, stream_id, NULL);
    unlink_stream(c, req);
    req->done = true;
    tsr_http__req_free(req);
    arm_timer(c);
    return 0;
}

static tsr_h2_ssize data_read(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
                              uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    struct tsr_http_req *req = source->ptr;
    bool eof = false;

    (void)s;
    (void)stream_id;
    (void)user_data;
    if (req->src_eof) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
    }
    if (req->content_length >= 0)
        length = (size_t)TSR_MIN((uint64_t)length, (uint64_t)req->content_length - req->sent);
    ssize_t n = length > 0 ? req->src.read(req->src.arg, buf, length, &eof) : 0;
    if (length == 0)
        eof = true;
    if (n < 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
    if (n == 0 && !eof) {
        req->src_deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    req->sent += (uint64_t)n;
    if (eof) {
        if (req->content_length >= 0 && req->sent != (uint64_t)req->content_length) {
            tsr_log_warn(TSR_LC_H2, "stream %d: body ended short of its length", stream_id);
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        req->src_eof = true;
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return (tsr_h2_ssize)n;
}

int tsr_http__h2_start(struct tsr_http_conn *c, const uint8_t *pre, size_t len)
{
    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_option *opt = NULL;
    int rc = TSR_ENOMEM;

    if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0)
        goto out;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    tsr_h2_option_harden(opt);
    /* Peers may not exceed our SETTINGS_MAX_CONCURRENT_STREAMS even before
     * they have acknowledged it. */
    nghttp2_option_set_peer_max_concurrent_streams(opt, c->srv->limits.max_streams);
    if (nghttp2_session_server_new2(&c->h2, cbs, c, opt) != 0)
        goto out;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, c->srv->limits.max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)c->srv->limits.max_header_bytes},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, TSR_ARRAY_SIZE(iv)) != 0)
        goto out;
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW);
    arm_timer(c);
    rc = 0;
    if (len > 0)
        rc = tsr_http__h2_feed(c, pre, len);
out:
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    return rc;
}

int tsr_http__h2_feed(struct tsr_http_conn *c, const uint8_t *data, size_t len)
{
    tsr_h2_ssize n = tsr_h2_mem_recv(c->h2, data, len);

    if (n < 0) {
        tsr_log_debug(TSR_LC_H2, "conn %s: %s", c->peer, nghttp2_strerror((int)n));
        /* A protocol error: nghttp2 has queued a GOAWAY when it could; send
         * it, then close. */
        c->closing = true;
        return TSR_EPROTO;
    }
    arm_timer(c);
    return 0;
}

void tsr_http__h2_fill(struct tsr_http_conn *c)
{
    while (!c->dead && c->out.len - c->out_off < TSR_HTTP_OUT_HIGH_WATER) {
        const uint8_t *data;
        tsr_h2_ssize n = tsr_h2_mem_send(c->h2, &data);
        if (n < 0) {
            tsr_log_debug(TSR_LC_H2, "conn %s: %s", c->peer, nghttp2_strerror((int)n));
            tsr_http__conn_close(c);
            return;
        }
        if (n == 0)
            return;
        if (tsr_buf_add(&c->out, data, (size_t)n) != 0) {
            tsr_http__conn_close(c);
            return;
        }
    }
}

int tsr_http__h2_respond(struct tsr_http_req *req, const struct tsr_http_header *hdrs,
                         size_t nhdrs)
{
    struct tsr_http_conn *c = req->conn;
    nghttp2_nv nv[TSR_HTTP_MAX_HEADERS + 2];
    char names[TSR_HTTP_MAX_HEADERS][64];
    char status[4], clen[24];
    size_t n = 0;

    snprintf(status, sizeof(status), "%03d", req->status);
    nv[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7, 3, NGHTTP2_NV_FLAG_NONE};
    for (size_t i = 0; i < nhdrs && i < TSR_HTTP_MAX_HEADERS; i++) {
        size_t len = strlen(hdrs[i].name);
        if (len == 0 || len >= sizeof(names[0]))
            continue;
        /* HTTP/2 field names are lower case; connection-specific fields are
         * forbidden (RFC 9113 §8.2.2). */
        for (size_t k = 0; k <= len; k++) {
            char ch = hdrs[i].name[k];
            if (ch >= 'A' && ch <= 'Z')
                ch = (char)(ch - 'A' + 'a');
            names[i][k] = ch;
        }
        if (strcmp(names[i], "connection") == 0 || strcmp(names[i], "transfer-encoding") == 0 ||
            strcmp(names[i], "keep-alive") == 0 || strcmp(names[i], "upgrade") == 0 ||
            strcmp(names[i], "content-length") == 0)
            continue;
        nv[n++] = (nghttp2_nv){(uint8_t *)names[i], (uint8_t *)hdrs[i].value, len,
                               strlen(hdrs[i].value), NGHTTP2_NV_FLAG_NONE};
    }
    if (req->content_length >= 0) {
        int l = snprintf(clen, sizeof(clen), "%lld", (long long)req->content_length);
        nv[n++] = (nghttp2_nv){(uint8_t *)"content-length", (uint8_t *)clen, 14, (size_t)l,
                               NGHTTP2_NV_FLAG_NONE};
    }
    tsr_h2_data_provider prd;
    prd.source.ptr = req;
    prd.read_callback = data_read;
    int rc = tsr_h2_submit_response(c->h2, req->stream_id, nv, n, req->src_eof ? NULL : &prd);
    if (rc != 0) {
        tsr_log_debug(TSR_LC_H2, "stream %d: %s", req->stream_id, nghttp2_strerror(rc));
        /* The stream is gone (reset by the peer, say): nothing to answer. */
        return 0;
    }
    return 0;
}

void tsr_http__h2_resume(struct tsr_http_req *req)
{
    nghttp2_session_resume_data(req->conn->h2, req->stream_id);
}

void tsr_http__h2_cancel(struct tsr_http_req *req)
{
    /* on_stream_close frees req (and closes its source) once the RST is out. */
    nghttp2_submit_rst_stream(req->conn->h2, NGHTTP2_FLAG_NONE, req->stream_id, NGHTTP2_CANCEL);
}

void tsr_http__h2_timeout(struct tsr_http_conn *c)
{
    bool waiting_for_peer = c->nstreams == 0 || c->out.len > c->out_off;

    for (struct tsr_http_req *r = c->streams; r != NULL; r = r->next) {
        if (!r->complete && !r->dispatched)
            waiting_for_peer = true;
    }
    if (!waiting_for_peer) {
        /* Every open stream waits for its handler, not for the peer. */
        arm_timer(c);
        return;
    }
    tsr_log_debug(TSR_LC_H2, "conn %s: timeout with %zu stream(s)", c->peer, c->nstreams);
    if (c->out.len > c->out_off) {
        tsr_http__conn_close(c);
        return;
    }
    nghttp2_session_terminate_session(c->h2, c->nstreams == 0 ? NGHTTP2_NO_ERROR
                                                              : NGHTTP2_CANCEL);
    c->closing = true;
}

void tsr_http__h2_drain(struct tsr_http_conn *c)
{
    if (c->h2_goaway)
        return;
    c->h2_goaway = true;
    nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->h2),
                          NGHTTP2_NO_ERROR, NULL, 0);
}

bool tsr_http__h2_finished(struct tsr_http_conn *c)
{
    return c->h2 != NULL && !nghttp2_session_want_read(c->h2) &&
           !nghttp2_session_want_write(c->h2) && c->out.len == c->out_off;
}

void tsr_http__h2_free(struct tsr_http_conn *c)
{
    if (c->h2 == NULL)
        return;
    nghttp2_session_del(c->h2);
    c->h2 = NULL;
    /* Streams still open lose their connection; their handlers hear of it
     * through the abort callback. */
    while (c->streams != NULL) {
        struct tsr_http_req *req = c->streams;
        unlink_stream(c, req);
        req->conn = NULL;
        tsr_http__req_free(req);
    }
}
