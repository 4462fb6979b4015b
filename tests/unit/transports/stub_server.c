/*
 * tests/unit/transports/stub_server.c: the in-test HTTP/1.1 server used by
 * the client and did:web resolver tests (see stub_server.h).
 */
#include "lib/tsr.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "lib/mem.h"
#include "tests/unit/transports/stub_server.h"

#define MAX_CONNS 128
#define HEAD_MAX (16 * 1024)
#define BODY_MAX (4 * 1024 * 1024)

struct conn {
    struct stub_server *s;
    pthread_t th;
    int fd;
    bool used;
};

struct stub_server {
    const struct stub_route *routes;
    size_t nroutes;
    SSL_CTX *tls;
    bool h2;
    unsigned nconns;
    int lfd;
    int wake[2]; /* written once at stop; every waiter polls the read end */
    int port;
    pthread_t accept_th;
    pthread_mutex_t mu;
    bool stopping;
    unsigned *hits; /* per route, plus one slot for unknown paths */
    unsigned total;
    char last_head[HEAD_MAX + 1];
    struct conn conns[MAX_CONNS];
};

unsigned char stub_pattern_byte(size_t i)
{
    return (unsigned char)((i * 131u + (i >> 12)) & 0xff);
}

/* ---------------------------------------------------------------- I/O */

struct io {
    int fd;
    SSL *ssl;
};

static ssize_t io_read(struct io *io, void *p, size_t n)
{
    if (io->ssl != NULL) {
        int r = SSL_read(io->ssl, p, (int)TSR_MIN(n, (size_t)1 << 20));
        return r > 0 ? r : -1;
    }
    ssize_t r;
    do {
        r = recv(io->fd, p, n, 0);
    } while (r < 0 && errno == EINTR);
    return r > 0 ? r : -1;
}

static int io_write(struct io *io, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t r;
        if (io->ssl != NULL) {
            int w = SSL_write(io->ssl, c, (int)TSR_MIN(n, (size_t)1 << 20));
            r = w > 0 ? w : -1;
        } else {
            r = send(io->fd, c, n, MSG_NOSIGNAL);
            if (r < 0 && errno == EINTR)
                continue;
        }
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

static int io_printf(struct io *io, const char *fmt, ...) TSR_PRINTF(2, 3);
static int io_printf(struct io *io, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line))
        return -1;
    return io_write(io, line, (size_t)n);
}

/* ---------------------------------------------------------------- requests */

static const struct stub_route *find_route(struct stub_server *s, const char *path, size_t *idx)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        if (strcmp(s->routes[i].path, path) == 0) {
            *idx = i;
            return &s->routes[i];
        }
    }
    *idx = s->nroutes;
    return NULL;
}

static void wait_for_stop(struct stub_server *s)
{
    struct pollfd p = {.fd = s->wake[0], .events = POLLIN};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
}

static int send_body(struct io *io, const struct stub_route *r, const char *body, size_t len)
{
    if (!r->chunked)
        return io_write(io, body, len);
    for (size_t off = 0; off < len;) {
        size_t n = TSR_MIN(len - off, (size_t)4096);
        if (io_printf(io, "%zx\r\n", n) != 0 || io_write(io, body + off, n) != 0 ||
            io_write(io, "\r\n", 2) != 0)
            return -1;
        off += n;
    }
    return io_write(io, "0\r\n\r\n", 5);
}

/*
 * What to answer to target: *status and the body (*out, *out_len; *gen
 * is an allocation to free afterwards).  Returns the route used, or NULL
 * for a STUB_HANG route.
 */
static const struct stub_route *prepare(struct stub_server *s, const char *target,
                                        const char *body, size_t body_len, int *status,
                                        const char **out, size_t *out_len, char **gen)
{
    size_t idx;
    const struct stub_route *r = find_route(s, target, &idx);
    static const struct stub_route notfound = {
        .path = "", .kind = STUB_FIXED, .status = 404, .body = "no route"};

    *gen = NULL;
    pthread_mutex_lock(&s->mu);
    s->hits[idx]++;
    s->total++;
    pthread_mutex_unlock(&s->mu);
    if (r == NULL)
        r = &notfound;
    switch (r->kind) {
    case STUB_HANG:
        return NULL;
    case STUB_ECHO:
        *status = 200;
        *out = body;
        *out_len = body_len;
        break;
    case STUB_PATTERN:
        *gen = tsr_malloc(r->pattern_len + 1);
        if (*gen == NULL)
            return NULL;
        for (size_t i = 0; i < r->pattern_len; i++)
            (*gen)[i] = (char)stub_pattern_byte(i);
        *status = 200;
        *out = *gen;
        *out_len = r->pattern_len;
        break;
    default:
        *status = r->status;
        *out = r->body != NULL ? r->body : "";
        *out_len = strlen(*out);
        break;
    }
    return r;
}

/* Answer one request; returns 0 to keep the connection, -1 to close it. */
static int answer(struct stub_server *s, struct io *io, const char *target, const char *body,
                  size_t body_len)
{
    const char *out = NULL;
    size_t out_len = 0;
    int status = 0;
    char *gen = NULL;
    const struct stub_route *r =
        prepare(s, target, body, body_len, &status, &out, &out_len, &gen);

    if (r == NULL) {
        wait_for_stop(s);
        return -1;
    }
    int rc = io_printf(io, "HTTP/1.1 %d Stub\r\nContent-Type: %s\r\nX-Stub: yes\r\n", status,
                       r->content_type != NULL ? r->content_type : "text/plain");
    if (rc == 0 && r->location != NULL)
        rc = io_printf(io, "Location: %s\r\n", r->location);
    if (rc == 0 && r->chunked)
        rc = io_printf(io, "Transfer-Encoding: chunked\r\n\r\n");
    else if (rc == 0)
        rc = io_printf(io, "Content-Length: %zu\r\n\r\n", out_len);
    if (rc == 0)
        rc = send_body(io, r, out, out_len);
    tsr_free(gen);
    return rc;
}

static size_t content_length(const char *head)
{
    const char *p = head;
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, "Content-Length:", 15) == 0)
            return (size_t)strtoul(p + 15, NULL, 10);
    }
    return 0;
}

static bool is_chunked(const char *head)
{
    return strcasestr(head, "\r\nTransfer-Encoding: chunked") != NULL;
}

/* Read until buf holds at least need bytes (need <= cap). */
static bool fill(struct io *io, char *buf, size_t *have, size_t need, size_t cap)
{
    if (need > cap)
        return false;
    while (*have < need) {
        ssize_t r = io_read(io, buf + *have, cap - *have);
        if (r <= 0)
            return false;
        *have += (size_t)r;
    }
    return true;
}

/*
 * Decode a chunked request body that starts at buf[*pos] (no trailers),
 * moving the data to the front of the body area in place; *pos ends after
 * the last chunk, *blen is the body length.
 */
static bool dechunk(struct io *io, char *buf, size_t *have, size_t cap, size_t *pos,
                    size_t *blen)
{
    size_t out = *pos;

    *blen = 0;
    for (;;) {
        char *eol;
        buf[*have] = '\0';
        while ((eol = strstr(buf + *pos, "\r\n")) == NULL) {
            if (*have >= cap || !fill(io, buf, have, *have + 1, cap))
                return false;
            buf[*have] = '\0';
        }
        size_t n = (size_t)strtoul(buf + *pos, NULL, 16);
        *pos = (size_t)(eol - buf) + 2;
        if (!fill(io, buf, have, *pos + n + 2, cap))
            return false;
        memmove(buf + out, buf + *pos, n);
        out += n;
        *blen += n;
        *pos += n + 2;
        if (n == 0)
            return true;
    }
}

static void serve(struct stub_server *s, struct io *io)
{
    char *buf = tsr_malloc(HEAD_MAX + BODY_MAX + 1);
    size_t have = 0;

    if (buf == NULL)
        return;
    for (;;) {
        char *end;
        buf[have] = '\0';
        while ((end = strstr(buf, "\r\n\r\n")) == NULL) {
            if (have >= HEAD_MAX)
                goto out;
            ssize_t r = io_read(io, buf + have, HEAD_MAX - have);
            if (r <= 0)
                goto out;
            have += (size_t)r;
            buf[have] = '\0';
        }
        size_t head_len = (size_t)(end - buf) + 4;
        end[2] = '\0';
        size_t blen = content_length(buf), used;
        if (blen > BODY_MAX)
            goto out;
        pthread_mutex_lock(&s->mu);
        snprintf(s->last_head, sizeof(s->last_head), "%s", buf);
        pthread_mutex_unlock(&s->mu);
        char target[2048];
        if (sscanf(buf, "%*s %2047s", target) != 1)
            goto out;
        bool close_after = strcasestr(buf, "\r\nConnection: close") != NULL;
        if (is_chunked(buf)) {
            used = head_len;
            if (!dechunk(io, buf, &have, HEAD_MAX + BODY_MAX, &used, &blen))
                goto out;
        } else {
            used = head_len + blen;
            if (!fill(io, buf, &have, used, HEAD_MAX + BODY_MAX))
                goto out;
        }
        if (answer(s, io, target, buf + head_len, blen) != 0 || close_after)
            goto out;
        memmove(buf, buf + used, have - used);
        have -= used;
    }
out:
    tsr_free(buf);
}

/* ---------------------------------------------------------------- HTTP/2 */

struct h2_stream {
    struct h2_stream *prev, *next; /* open streams, freed at the end if still open */
    char path[2048];
    char *body; /* request body, then the response body */
    size_t len;
    size_t off;  /* response bytes already handed to nghttp2 */
    char *gen;
    const char *out;
    size_t out_len;
};

struct h2_conn {
    struct stub_server *s;
    struct io *io;
    struct h2_stream *streams;
};

static void h2_stream_free(struct h2_conn *hc, struct h2_stream *st)
{
    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        hc->streams = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    tsr_free(st->body);
    tsr_free(st->gen);
    tsr_free(st);
}

static int h2_begin_headers(nghttp2_session *sess, const nghttp2_frame *frame, void *ud)
{
    struct h2_conn *hc = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct h2_stream *st = tsr_calloc(1, sizeof(*st));
    if (st == NULL)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->next = hc->streams;
    if (hc->streams != NULL)
        hc->streams->prev = st;
    hc->streams = st;
    nghttp2_session_set_stream_user_data(sess, frame->hd.stream_id, st);
    return 0;
}

static int h2_header(nghttp2_session *sess, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud)
{
    (void)flags;
    (void)ud;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
    if (st != NULL && namelen == 5 && memcmp(name, ":path", 5) == 0 &&
        valuelen < sizeof(st->path)) {
        memcpy(st->path, value, valuelen);
        st->path[valuelen] = '\0';
    }
    return 0;
}

static int h2_data(nghttp2_session *sess, uint8_t flags, int32_t id, const uint8_t *data,
                   size_t len, void *ud)
{
    (void)flags;
    (void)ud;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(sess, id);
    if (st == NULL || st->len + len > BODY_MAX)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    char *nb = tsr_realloc(st->body, st->len + len + 1);
    if (nb == NULL)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    memcpy(nb + st->len, data, len);
    st->body = nb;
    st->len += len;
    return 0;
}

static ssize_t h2_read_body(nghttp2_session *sess, int32_t id, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    struct h2_stream *st = src->ptr;
    size_t n = TSR_MIN(length, st->out_len - st->off);

    (void)sess;
    (void)id;
    (void)ud;
    memcpy(buf, st->out + st->off, n);
    st->off += n;
    if (st->off == st->out_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int h2_frame(nghttp2_session *sess, const nghttp2_frame *frame, void *ud)
{
    struct h2_conn *hc = ud;

    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
    if (st == NULL)
        return 0;
    int status = 0;
    const struct stub_route *r =
        prepare(hc->s, st->path, st->body, st->len, &status, &st->out, &st->out_len, &st->gen);
    if (r == NULL)
        return 0; /* a hung stream: never answered, the others go on */
    char code[8], clen[24];
    snprintf(code, sizeof(code), "%d", status);
    snprintf(clen, sizeof(clen), "%zu", st->out_len);
    const char *ctype = r->content_type != NULL ? r->content_type : "text/plain";
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
    nghttp2_nv nv[] = {NV(":status", code), NV("content-type", ctype), NV("x-stub", "yes"),
                       NV("content-length", clen)};
#undef NV
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = h2_read_body};
    if (nghttp2_submit_response(sess, frame->hd.stream_id, nv, TSR_ARRAY_SIZE(nv), &prd) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int h2_close(nghttp2_session *sess, int32_t id, uint32_t code, void *ud)
{
    (void)code;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(sess, id);
    if (st != NULL) {
        nghttp2_session_set_stream_user_data(sess, id, NULL);
        h2_stream_free(ud, st);
    }
    return 0;
}

static void serve_h2(struct stub_server *s, struct io *io)
{
    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_session *sess = NULL;
    struct h2_conn hc = {.s = s, .io = io};
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
    uint8_t buf[16384];

    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, h2_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, h2_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2_close);
    if (nghttp2_session_server_new(&sess, cbs, &hc) != 0)
        goto out;
    if (nghttp2_submit_settings(sess, NGHTTP2_FLAG_NONE, iv, TSR_ARRAY_SIZE(iv)) != 0)
        goto out;
    for (;;) {
        const uint8_t *data;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(sess, &data)) > 0) {
            if (io_write(io, data, (size_t)n) != 0)
                goto out;
        }
        if (n < 0 || (!nghttp2_session_want_read(sess) && !nghttp2_session_want_write(sess)))
            goto out;
        n = io_read(io, buf, sizeof(buf));
        if (n <= 0 || nghttp2_session_mem_recv(sess, buf, (size_t)n) < 0)
            goto out;
    }
out:
    nghttp2_session_del(sess);
    nghttp2_session_callbacks_del(cbs);
    while (hc.streams != NULL)
        h2_stream_free(&hc, hc.streams);
}

static bool alpn_is_h2(SSL *ssl)
{
    const unsigned char *p = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(ssl, &p, &n);
    return n == 2 && memcmp(p, "h2", 2) == 0;
}

static void *conn_main(void *arg)
{
    struct conn *cn = arg;
    struct stub_server *s = cn->s;
    struct io io = {.fd = cn->fd, .ssl = NULL};

    if (s->tls != NULL) {
        io.ssl = SSL_new(s->tls);
        if (io.ssl == NULL || SSL_set_fd(io.ssl, cn->fd) != 1 || SSL_accept(io.ssl) != 1)
            goto out;
    }
    if (s->h2 && (io.ssl == NULL || alpn_is_h2(io.ssl)))
        serve_h2(s, &io);
    else
        serve(s, &io);
    if (io.ssl != NULL)
        SSL_shutdown(io.ssl);
out:
    SSL_free(io.ssl);
    shutdown(cn->fd, SHUT_RDWR);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct stub_server *s = arg;
    struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN}, {.fd = s->wake[0], .events = POLLIN}};

    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents != 0)
            break;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&s->mu);
        struct conn *cn = NULL;
        for (size_t i = 0; i < MAX_CONNS && cn == NULL; i++) {
            if (!s->conns[i].used)
                cn = &s->conns[i];
        }
        if (cn == NULL || s->stopping) {
            pthread_mutex_unlock(&s->mu);
            close(fd);
            continue;
        }
        cn->used = true;
        s->nconns++;
        cn->fd = fd;
        cn->s = s;
        if (pthread_create(&cn->th, NULL, conn_main, cn) != 0) {
            cn->used = false;
            close(fd);
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static struct stub_server *start(const struct stub_route *routes, size_t nroutes, SSL_CTX *tls,
                                 bool h2)
{
    struct stub_server *s = tsr_calloc(1, sizeof(*s));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t salen = sizeof(sa);

    if (s == NULL)
        return NULL;
    /* OpenSSL writes with write(2): a client hanging up must not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    s->routes = routes;
    s->nroutes = nroutes;
    s->tls = tls;
    s->h2 = h2;
    s->lfd = -1;
    s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->mu, NULL);
    s->hits = tsr_calloc(nroutes + 1, sizeof(*s->hits));
    if (s->hits == NULL || pipe(s->wake) != 0)
        goto fail;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(s->lfd, 64) != 0 || getsockname(s->lfd, (struct sockaddr *)&sa, &salen) != 0)
        goto fail;
    s->port = ntohs(sa.sin_port);
    if (pthread_create(&s->accept_th, NULL, accept_main, s) != 0)
        goto fail;
    return s;
fail:
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    tsr_free(s->hits);
    pthread_mutex_destroy(&s->mu);
    tsr_free(s);
    return NULL;
}

struct stub_server *stub_server_start(const struct stub_route *routes, size_t nroutes,
                                      SSL_CTX *tls)
{
    return start(routes, nroutes, tls, false);
}

struct stub_server *stub_server_start_h2(const struct stub_route *routes, size_t nroutes,
                                         SSL_CTX *tls)
{
    return start(routes, nroutes, tls, true);
}

unsigned stub_server_connections(struct stub_server *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->nconns;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int stub_server_port(const struct stub_server *s)
{
    return s->port;
}

unsigned stub_server_hits(struct stub_server *s, const char *path)
{
    unsigned n;
    size_t idx;

    pthread_mutex_lock(&s->mu);
    if (path == NULL) {
        n = s->total;
    } else {
        find_route(s, path, &idx);
        n = idx < s->nroutes ? s->hits[idx] : 0;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

void stub_server_last_head(struct stub_server *s, char *out, size_t outsize)
{
    pthread_mutex_lock(&s->mu);
    snprintf(out, outsize, "%s", s->last_head);
    pthread_mutex_unlock(&s->mu);
}

void stub_server_stop(struct stub_server *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_mutex_unlock(&s->mu);
    if (write(s->wake[1], "x", 1) != 1)
        abort();
    pthread_join(s->accept_th, NULL);
    for (size_t i = 0; i < MAX_CONNS; i++) {
        if (s->conns[i].used)
            shutdown(s->conns[i].fd, SHUT_RDWR); /* wakes a blocked read */
    }
    for (size_t i = 0; i < MAX_CONNS; i++) {
        if (s->conns[i].used) {
            pthread_join(s->conns[i].th, NULL);
            close(s->conns[i].fd);
        }
    }
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    tsr_free(s->hits);
    pthread_mutex_destroy(&s->mu);
    tsr_free(s);
}

/* ---------------------------------------------------------------- certificates */

static int write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");
    int ok;

    if (f == NULL)
        return -1;
    ok = x != NULL ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    if (fclose(f) != 0)
        ok = 0;
    return ok == 1 ? 0 : -1;
}

int stub_cert_make(const char *dir, const char *name, char *cert, char *key, size_t size)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_EXTENSION *ext = NULL;
    X509V3_CTX v3;
    int rc = -1;

    if (k == NULL || x == NULL)
        goto out;
    X509_NAME *n = X509_get_subject_name(x);
    if (X509_set_version(x, 2) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(getpid() ^ (long)time(NULL))) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), 3600) == NULL || X509_set_pubkey(x, k) != 1 ||
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                                   -1, -1, 0) != 1 ||
        X509_set_issuer_name(x, n) != 1)
        goto out;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    if (ext == NULL || X509_add_ext(x, ext, -1) != 1 || X509_sign(x, k, EVP_sha256()) == 0)
        goto out;
    if (snprintf(cert, size, "%s/%s.crt", dir, name) >= (int)size ||
        snprintf(key, size, "%s/%s.key", dir, name) >= (int)size)
        goto out;
    if (write_pem(cert, x, NULL) != 0 || write_pem(key, NULL, k) != 0)
        goto out;
    rc = 0;
out:
    X509_EXTENSION_free(ext);
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}

static int select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                     const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    for (unsigned int i = 0; i < inlen; i += 1u + in[i]) {
        if (in[i] == 2 && i + 3 <= inlen && memcmp(in + i + 1, "h2", 2) == 0) {
            *out = in + i + 1;
            *outlen = 2;
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

SSL_CTX *stub_tls_ctx(const char *cert, const char *key, const char *client_ca, bool alpn_h2)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL)
        return NULL;
    if (SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        goto fail;
    if (client_ca != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1)
            goto fail;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    if (alpn_h2)
        SSL_CTX_set_alpn_select_cb(ctx, select_h2, NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int stub_tmpdir(char *dir, size_t size)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    if (snprintf(dir, size, "%s/tsr-test-XXXXXX", base) >= (int)size)
        return -1;
    return mkdtemp(dir) != NULL ? 0 : -1;
}

void stub_tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}
