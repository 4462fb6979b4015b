/*
 * transports/client.c: outgoing HTTP requests through libcurl's multi
 * interface, driven by libevent (the socket and timer callbacks pattern of
 * curl's docs/examples/hiperfifo.c, written afresh for our loop).
 *
 * libcurl tells us which sockets to watch (on_socket) and when to wake it
 * up (on_timer); we turn each into a libevent event and hand readiness
 * back with curl_multi_socket_action().  Finished transfers are collected
 * with curl_multi_info_read() in one place, check_done(), which is the
 * only place a completion callback is called from.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "transports/client.h"

#define URL_MAX 8192
#define METHOD_MAX 32
#define MAX_REDIRS 5

/* One socket libcurl asked us to watch. */
struct sock {
    struct sock *prev, *next;
    curl_socket_t fd;
    struct event *ev;
};

struct tsr_client_xfer {
    struct tsr_client_xfer *prev, *next;
    struct tsr_client *c;
    CURL *easy;
    struct curl_slist *hdrs;
    tsr_client_done_fn cb;
    void *arg;
    tsr_client_write_fn write_cb;
    void *write_arg;
    tsr_client_head_fn head_cb;
    tsr_client_read_fn read_cb;
    void *read_arg;
    bool head_done;    /* head_cb ran (or had no reason to) */
    uint64_t max_body; /* 0: no limit */
    uint64_t received;
    int abort_rc;      /* why one of our curl callbacks stopped the transfer */
    bool cancelled;    /* cancelled while libcurl was calling us: reaped later */
    bool in_done;      /* the completion callback is running */
    char *what;        /* "METHOD url-without-query", for diagnostics */
    struct tsr_client_resp resp;
    char errbuf[CURL_ERROR_SIZE];
};

struct tsr_client {
    struct event_base *base;
    CURLM *multi;
    struct event *timer; /* libcurl's single timeout */
    struct event *reap;  /* frees transfers cancelled from inside libcurl callbacks */
    struct tsr_client_xfer *xfers;
    size_t nxfers;
    struct sock *socks;
    char *ca_file;
    char *cert_file;
    char *key_file;
    char *user_agent;
    char *proxy;
    bool insecure;
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_body;
    int in_curl;       /* > 0 while libcurl is calling our write/header callbacks */
    int dispatching;   /* > 0 while check_done runs completion callbacks */
    bool free_pending; /* tsr_client_free was called during dispatching */
    bool global_init;
};

static void check_done(struct tsr_client *c);
static void destroy(struct tsr_client *c);

/* ---------------------------------------------------------------- responses */

void tsr_client_resp_init(struct tsr_client_resp *resp)
{
    memset(resp, 0, sizeof(*resp));
    tsr_buf_init(&resp->body, TSR_CLIENT_DEFAULT_MAX_BODY);
    tsr_buf_init(&resp->hdrs, TSR_CLIENT_MAX_HEADER_BYTES);
    tsr_diag_clear(&resp->diag);
}

void tsr_client_resp_cleanup(struct tsr_client_resp *resp)
{
    if (resp == NULL)
        return;
    tsr_buf_cleanup(&resp->body);
    tsr_buf_cleanup(&resp->hdrs);
}

const char *tsr_client_resp_header(const struct tsr_client_resp *resp, const char *name)
{
    if (resp == NULL || name == NULL || resp->hdrs.data == NULL)
        return NULL;
    const char *p = resp->hdrs.data;
    const char *end = p + resp->hdrs.len;
    while (p < end) {
        const char *value = p + strlen(p) + 1;
        if (value >= end)
            break;
        if (strcasecmp(p, name) == 0)
            return value;
        p = value + strlen(value) + 1;
    }
    return NULL;
}

/* ---------------------------------------------------------------- libcurl glue */

static int map_curl_code(CURLcode res)
{
    switch (res) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return TSR_ETIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return TSR_EUNAVAIL;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return TSR_ETLS;
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_BAD_CONTENT_ENCODING:
        return TSR_EPROTO;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return TSR_EINVAL;
    case CURLE_FILESIZE_EXCEEDED:
        return TSR_ELIMIT;
    case CURLE_OUT_OF_MEMORY:
        return TSR_ENOMEM;
    default:
        return TSR_EIO;
    }
}

static long map_http_version(long v)
{
    switch (v) {
    case CURL_HTTP_VERSION_1_0:
        return TSR_CLIENT_HTTP_1_0;
    case CURL_HTTP_VERSION_1_1:
        return TSR_CLIENT_HTTP_1_1;
    case CURL_HTTP_VERSION_2_0:
        return TSR_CLIENT_HTTP_2;
    case CURL_HTTP_VERSION_3:
        return TSR_CLIENT_HTTP_3;
    default:
        return 0;
    }
}

/* Stop a transfer from inside a curl data callback, remembering why. */
static size_t xfer_abort(struct tsr_client_xfer *x, int rc, const char *why)
{
    if (x->abort_rc == 0) {
        x->abort_rc = rc;
        tsr_diag_set(&x->resp.diag, rc, "%s: %s", x->what, why);
    }
    return 0; /* any count other than the one passed in makes libcurl fail */
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct tsr_client_xfer *x = ud;
    size_t n = size * nmemb;

    if (x->cancelled)
        return 0;
    /*
     * A status line starts a new header block (interim 1xx responses,
     * redirects): only the last block's headers are kept.
     */
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        tsr_buf_reset(&x->resp.hdrs);
        return n;
    }
    size_t len = n;
    while (len > 0 && (ptr[len - 1] == '\r' || ptr[len - 1] == '\n'))
        len--;
    /* Blank end-of-block lines and obsolete folded lines carry no field. */
    if (len == 0 || ptr[0] == ' ' || ptr[0] == '\t')
        return n;
    const char *colon = memchr(ptr, ':', len);
    if (colon == NULL || colon == ptr)
        return n;
    size_t nlen = (size_t)(colon - ptr);
    const char *v = colon + 1;
    const char *vend = ptr + len;
    while (v < vend && (*v == ' ' || *v == '\t'))
        v++;
    while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
        vend--;
    /* A NUL inside a field would split it in our "name\0value\0" store. */
    if (memchr(ptr, '\0', len) != NULL)
        return xfer_abort(x, TSR_EPROTO, "NUL byte in a response header");
    struct tsr_buf *h = &x->resp.hdrs;
    size_t before = h->len;
    if (tsr_buf_add(h, ptr, nlen) != 0 || tsr_buf_add(h, "", 1) != 0 ||
        tsr_buf_add(h, v, (size_t)(vend - v)) != 0 || tsr_buf_add(h, "", 1) != 0) {
        h->len = before;
        return xfer_abort(x, TSR_ELIMIT, "response headers larger than the limit");
    }
    return n;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct tsr_client_xfer *x = ud;
    size_t n = size * nmemb;
    long status = 0;

    if (x->cancelled)
        return 0;
    if (x->max_body > 0 && (uint64_t)n > x->max_body - x->received)
        return xfer_abort(x, TSR_ELIMIT, "response body larger than the limit");
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    /* A sink only gets success bodies; error bodies stay readable in resp->body. */
    if (x->write_cb != NULL && status >= 200 && status < 300) {
        int rc = 0;
        x->c->in_curl++;
        if (!x->head_done) {
            x->head_done = true;
            x->resp.status = (int)status;
            if (x->head_cb != NULL)
                rc = x->head_cb(x->write_arg, &x->resp);
        }
        if (rc == 0 && !x->cancelled)
            rc = x->write_cb(x->write_arg, ptr, n);
        x->c->in_curl--;
        if (x->cancelled)
            return 0;
        if (rc == TSR_CLIENT_PAUSE)
            return CURL_WRITEFUNC_PAUSE; /* libcurl keeps the piece for later */
        if (rc != 0)
            return xfer_abort(x, rc < 0 ? rc : TSR_EIO, "the body sink refused the data");
        x->received += n;
        return n;
    }
    x->received += n;
    int rc = tsr_buf_add(&x->resp.body, ptr, n);
    if (rc == TSR_ELIMIT)
        return xfer_abort(x, rc, "response body larger than the limit");
    if (rc != 0)
        return xfer_abort(x, rc, "out of memory buffering the body");
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    struct tsr_client_xfer *x = ud;
    size_t cap = size * nitems, n = 0;

    if (x->cancelled)
        return CURL_READFUNC_ABORT;
    x->c->in_curl++;
    int rc = x->read_cb(x->read_arg, buf, cap, &n);
    x->c->in_curl--;
    if (x->cancelled)
        return CURL_READFUNC_ABORT;
    if (rc == TSR_CLIENT_PAUSE)
        return CURL_READFUNC_PAUSE;
    if (rc == 0 && n > cap)
        rc = TSR_EINTERNAL;
    if (rc != 0) {
        xfer_abort(x, rc < 0 ? rc : TSR_EIO, "the body source failed");
        return CURL_READFUNC_ABORT;
    }
    return n;
}

static void on_sock_event(evutil_socket_t fd, short events, void *arg)
{
    struct tsr_client *c = arg;
    int action = 0;
    int running = 0;

    if (events & EV_READ)
        action |= CURL_CSELECT_IN;
    if (events & EV_WRITE)
        action |= CURL_CSELECT_OUT;
    curl_multi_socket_action(c->multi, fd, action, &running);
    check_done(c);
}

static void on_timer_event(evutil_socket_t fd, short events, void *arg)
{
    struct tsr_client *c = arg;
    int running = 0;

    (void)fd;
    (void)events;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

static void sock_free(struct tsr_client *c, struct sock *sk)
{
    if (sk->prev != NULL)
        sk->prev->next = sk->next;
    else
        c->socks = sk->next;
    if (sk->next != NULL)
        sk->next->prev = sk->prev;
    if (sk->ev != NULL)
        event_free(sk->ev);
    tsr_free(sk);
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching one socket. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct tsr_client *c = userp;
    struct sock *sk = socketp;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (sk != NULL) {
            curl_multi_assign(c->multi, s, NULL);
            sock_free(c, sk);
        }
        return 0;
    }
    short kind = EV_PERSIST;
    if (what & CURL_POLL_IN)
        kind |= EV_READ;
    if (what & CURL_POLL_OUT)
        kind |= EV_WRITE;
    if (sk == NULL) {
        sk = tsr_calloc(1, sizeof(*sk));
        if (sk == NULL)
            return -1;
        sk->fd = s;
        sk->ev = event_new(c->base, s, kind, on_sock_event, c);
        if (sk->ev == NULL) {
            tsr_free(sk);
            return -1;
        }
        sk->next = c->socks;
        if (c->socks != NULL)
            c->socks->prev = sk;
        c->socks = sk;
        curl_multi_assign(c->multi, s, sk);
    } else {
        event_del(sk->ev);
        event_assign(sk->ev, c->base, s, kind, on_sock_event, c);
    }
    return event_add(sk->ev, NULL) == 0 ? 0 : -1;
}

/*
 * CURLMOPT_TIMERFUNCTION: libcurl wants to be woken after timeout_ms (-1:
 * never).  A zero timeout is still deferred to the loop, as libcurl must
 * not be re-entered from here.
 */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct tsr_client *c = userp;

    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(c->timer);
        return 0;
    }
    struct timeval tv = {
        .tv_sec = timeout_ms / 1000,
        .tv_usec = (timeout_ms % 1000) * 1000,
    };
    return evtimer_add(c->timer, &tv) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- transfers */

static void xfer_unlink(struct tsr_client_xfer *x)
{
    struct tsr_client *c = x->c;

    if (x->prev != NULL)
        x->prev->next = x->next;
    else if (c->xfers == x)
        c->xfers = x->next;
    if (x->next != NULL)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
    c->nxfers--;
}

static void xfer_free(struct tsr_client_xfer *x)
{
    if (x == NULL)
        return;
    if (x->easy != NULL)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    tsr_client_resp_cleanup(&x->resp);
    tsr_free(x->what);
    tsr_free(x);
}

/* Remove an unfinished transfer from the multi handle and free it, silently. */
static void xfer_drop(struct tsr_client_xfer *x)
{
    curl_multi_remove_handle(x->c->multi, x->easy);
    xfer_unlink(x);
    xfer_free(x);
}

static void xfer_finish(struct tsr_client_xfer *x, CURLcode res)
{
    struct tsr_client_resp *r = &x->resp;
    long status = 0;
    long version = 0;

    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &version);
    r->status = (int)status;
    r->http_version = status > 0 ? map_http_version(version) : 0;
    if (res == CURLE_OK) {
        r->rc = 0;
        tsr_diag_clear(&r->diag);
    } else if (x->abort_rc != 0) {
        r->rc = x->abort_rc; /* the diag was written when we aborted */
    } else {
        r->rc = map_curl_code(res);
        tsr_diag_set(&r->diag, r->rc, "%s: %s", x->what,
                     x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(res));
    }
    tsr_log_debug(TSR_LC_CLIENT, "%s: %s -> status %d rc %d", __func__, x->what, r->status,
                  r->rc);
}

/* Collect finished transfers and run their callbacks. */
static void check_done(struct tsr_client *c)
{
    CURLMsg *m;
    int left = 0;

    c->dispatching++;
    while (!c->free_pending && (m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode res = m->data.result;
        char *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        struct tsr_client_xfer *x = (struct tsr_client_xfer *)(void *)priv;
        xfer_finish(x, res);
        curl_multi_remove_handle(c->multi, easy);
        xfer_unlink(x);
        if (!x->cancelled) {
            x->in_done = true;
            x->cb(x->arg, &x->resp);
        }
        xfer_free(x);
    }
    c->dispatching--;
    if (c->dispatching == 0 && c->free_pending)
        destroy(c);
}

static void on_reap(evutil_socket_t fd, short events, void *arg)
{
    struct tsr_client *c = arg;

    (void)fd;
    (void)events;
    for (struct tsr_client_xfer *x = c->xfers, *next; x != NULL; x = next) {
        next = x->next;
        if (x->cancelled)
            xfer_drop(x);
    }
}

void tsr_client_cancel(struct tsr_client_xfer *x)
{
    if (x == NULL || x->in_done || x->cancelled)
        return;
    struct tsr_client *c = x->c;
    x->cancelled = true;
    /* libcurl forbids removing handles from inside its own callbacks. */
    if (c->in_curl > 0) {
        struct timeval now = {0, 0};
        evtimer_add(c->reap, &now);
        return;
    }
    xfer_drop(x);
}

int tsr_client_resume(struct tsr_client_xfer *x)
{
    if (x == NULL || x->cancelled)
        return TSR_EINVAL;
    /* libcurl may hand the kept piece to the sink from inside this call. */
    if (curl_easy_pause(x->easy, CURLPAUSE_CONT) != CURLE_OK)
        return TSR_EINTERNAL;
    return 0;
}

size_t tsr_client_pending(const struct tsr_client *c)
{
    return c == NULL ? 0 : c->nxfers;
}

struct event_base *tsr_client_base(const struct tsr_client *c)
{
    return c->base;
}

/* ---------------------------------------------------------------- set-up */

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_tchar((unsigned char)s[i]))
            return false;
    }
    return true;
}

static bool header_ok(const char *h)
{
    const char *colon = strchr(h, ':');
    size_t len = strlen(h);

    if (colon == NULL || !is_token(h, (size_t)(colon - h)))
        return false;
    /* Printable ASCII (and tab) only: no CR/LF header injection. */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)h[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return false;
    }
    return true;
}

/* True when the request's own headers already name field name. */
static bool has_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        if (strncasecmp(headers[i], name, n) == 0 && headers[i][n] == ':')
            return true;
    }
    return false;
}

static int check_req(const struct tsr_client_req *req, bool *https, struct tsr_diag *d)
{
    if (req == NULL || req->url == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "request without a URL");
    size_t ulen = strlen(req->url);
    if (ulen > URL_MAX)
        return tsr_diag_set(d, TSR_EINVAL, "URL longer than %d bytes", URL_MAX);
    for (size_t i = 0; i < ulen; i++) {
        unsigned char ch = (unsigned char)req->url[i];
        if (ch <= 0x20 || ch >= 0x7f)
            return tsr_diag_set(d, TSR_EINVAL, "URL with a space or control character");
    }
    if (strncasecmp(req->url, "https://", 8) == 0) {
        *https = true;
    } else if (strncasecmp(req->url, "http://", 7) == 0) {
        *https = false;
        if (req->flags & TSR_CLIENT_HTTPS_ONLY)
            return tsr_diag_set(d, TSR_EINVAL, "%s: only https:// is allowed here", req->url);
    } else {
        return tsr_diag_set(d, TSR_EINVAL, "not an http:// or https:// URL");
    }
    if (req->method != NULL) {
        size_t mlen = strlen(req->method);
        if (mlen > METHOD_MAX || !is_token(req->method, mlen))
            return tsr_diag_set(d, TSR_EINVAL, "invalid HTTP method");
    }
    size_t nh = 0;
    for (; req->headers != NULL && req->headers[nh] != NULL; nh++) {
        if (nh >= TSR_CLIENT_MAX_REQ_HEADERS) {
            return tsr_diag_set(d, TSR_ELIMIT, "more than %d request headers",
                                TSR_CLIENT_MAX_REQ_HEADERS);
        }
        if (!header_ok(req->headers[nh]))
            return tsr_diag_set(d, TSR_EINVAL, "malformed request header");
    }
    if (req->body == NULL && req->body_len > 0)
        return tsr_diag_set(d, TSR_EINVAL, "request body length without a body");
    if (req->read_cb != NULL &&
        (req->body_len > 0 || (req->method != NULL && (strcmp(req->method, "GET") == 0 ||
                                                       strcmp(req->method, "HEAD") == 0))))
        return tsr_diag_set(d, TSR_EINVAL, "a streamed body with a buffered one or on a GET");
    if (req->head_cb != NULL && req->write_cb == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "a head callback needs a body sink");
    return 0;
}

/* "METHOD url" with the query string cut off: queries may carry tokens. */
static char *describe(const char *method, const char *url)
{
    struct tsr_buf b;
    size_t ulen = strcspn(url, "?#");

    tsr_buf_init(&b, URL_MAX + METHOD_MAX + 8);
    if (tsr_buf_addf(&b, "%s %.*s", method, (int)ulen, url) != 0) {
        tsr_buf_cleanup(&b);
        return NULL;
    }
    return tsr_buf_steal(&b, NULL);
}

static int add_header(struct curl_slist **list, const char *h)
{
    struct curl_slist *n = curl_slist_append(*list, h);
    if (n == NULL)
        return TSR_ENOMEM;
    *list = n;
    return 0;
}

#define SETOPT(opt, val)                                                                          \
    do {                                                                                          \
        if (curl_easy_setopt(x->easy, (opt), (val)) != CURLE_OK) {                                \
            rc = tsr_diag_set(d, TSR_EINTERNAL, "libcurl refused option %s", #opt);               \
            goto out;                                                                             \
        }                                                                                         \
    } while (0)

int tsr_client_request(struct tsr_client *c, const struct tsr_client_req *req,
                       tsr_client_done_fn cb, void *arg, struct tsr_client_xfer **xfer,
                       struct tsr_diag *d)
{
    struct tsr_client_xfer *x = NULL;
    bool https = false;
    int rc;

    if (xfer != NULL)
        *xfer = NULL;
    if (c == NULL || cb == NULL || c->free_pending)
        return tsr_diag_set(d, TSR_EINVAL, "no client or no callback");
    rc = check_req(req, &https, d);
    if (rc != 0)
        return rc;

    const char *method = req->method;
    if (method == NULL)
        method = req->body_len > 0 || req->read_cb != NULL ? "POST" : "GET";
    bool sends_body = req->body_len > 0 || req->read_cb != NULL || strcmp(method, "POST") == 0 ||
                      strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;

    x = tsr_calloc(1, sizeof(*x));
    if (x == NULL)
        goto nomem;
    x->c = c;
    x->cb = cb;
    x->arg = arg;
    x->write_cb = req->write_cb;
    x->write_arg = req->write_arg;
    x->head_cb = req->head_cb;
    x->read_cb = req->read_cb;
    x->read_arg = req->read_arg;
    tsr_client_resp_init(&x->resp);
    x->resp.body.max = c->max_body;
    if (req->max_body > 0)
        x->max_body = req->max_body;
    else if (req->write_cb == NULL)
        x->max_body = c->max_body;
    if (req->write_cb == NULL && x->max_body < SIZE_MAX)
        x->resp.body.max = (size_t)x->max_body;
    x->what = describe(method, req->url);
    x->easy = curl_easy_init();
    if (x->what == NULL || x->easy == NULL)
        goto nomem;

    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
        if (add_header(&x->hdrs, req->headers[i]) != 0)
            goto nomem;
    }
    /*
     * libcurl would add "Expect: 100-continue" to large bodies (a round
     * trip lost) and a form Content-Type to every POST; neither is ours.
     */
    if (sends_body && !has_header(req->headers, "Expect") && add_header(&x->hdrs, "Expect:") != 0)
        goto nomem;
    if (sends_body && !has_header(req->headers, "Content-Type") &&
        add_header(&x->hdrs, "Content-Type:") != 0)
        goto nomem;

    long timeout = req->timeout_ms > 0 ? req->timeout_ms : req->timeout_ms < 0 ? 0 : c->timeout_ms;
    long version = CURL_HTTP_VERSION_2TLS;
    if (req->flags & TSR_CLIENT_HTTP1_ONLY)
        version = CURL_HTTP_VERSION_1_1;
    else if (req->flags & TSR_CLIENT_H2_PRIOR_KNOWLEDGE)
        version = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;

    SETOPT(CURLOPT_PRIVATE, (void *)x);
    SETOPT(CURLOPT_URL, req->url);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_ERRORBUFFER, x->errbuf);
    SETOPT(CURLOPT_PROTOCOLS_STR, (req->flags & TSR_CLIENT_HTTPS_ONLY) ? "https" : "http,https");
    /* A redirect may never downgrade https to http. */
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, (req->flags & TSR_CLIENT_FOLLOW_REDIRECTS) ? 1L : 0L);
    SETOPT(CURLOPT_MAXREDIRS, (long)MAX_REDIRS);
    SETOPT(CURLOPT_HTTP_VERSION, version);
    /*
     * Wait for a connection that may multiplex rather than open a second
     * one, but only where h2 is possible: over cleartext HTTP/1.1 libcurl
     * would only learn that from the first response, and a slow one would
     * hold every other request to that host.
     */
    if (version == CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE ||
        (https && version != CURL_HTTP_VERSION_1_1))
        SETOPT(CURLOPT_PIPEWAIT, 1L);
    SETOPT(CURLOPT_USERAGENT, c->user_agent);
    SETOPT(CURLOPT_PROXY, c->proxy != NULL ? c->proxy : "");
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    SETOPT(CURLOPT_TIMEOUT_MS, timeout);
    SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SETOPT(CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
    if (c->ca_file != NULL)
        SETOPT(CURLOPT_CAINFO, c->ca_file);
    if (c->cert_file != NULL) {
        SETOPT(CURLOPT_SSLCERT, c->cert_file);
        SETOPT(CURLOPT_SSLKEY, c->key_file != NULL ? c->key_file : c->cert_file);
    }
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, (void *)x);
    SETOPT(CURLOPT_WRITEFUNCTION, on_write);
    SETOPT(CURLOPT_WRITEDATA, (void *)x);
    if (x->max_body > 0 && x->max_body <= INT64_MAX)
        SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_body);
    if (req->read_cb != NULL) {
        curl_off_t size = req->body_size >= 0 ? (curl_off_t)req->body_size : -1;
        SETOPT(CURLOPT_READFUNCTION, on_read);
        SETOPT(CURLOPT_READDATA, (void *)x);
        /* libcurl's POST mode sends an unknown size chunked over HTTP/1.1 by itself. */
        SETOPT(CURLOPT_POST, 1L);
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, size);
        if (strcmp(method, "POST") != 0)
            SETOPT(CURLOPT_CUSTOMREQUEST, method);
    } else if (sends_body) {
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SETOPT(CURLOPT_COPYPOSTFIELDS, req->body_len > 0 ? (const char *)req->body : "");
        if (strcmp(method, "POST") != 0)
            SETOPT(CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "HEAD") == 0) {
        SETOPT(CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        SETOPT(CURLOPT_CUSTOMREQUEST, method);
    }
    if (x->hdrs != NULL)
        SETOPT(CURLOPT_HTTPHEADER, x->hdrs);

    if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
        rc = tsr_diag_set(d, TSR_EINTERNAL, "libcurl refused a new transfer");
        goto out;
    }
    x->next = c->xfers;
    if (c->xfers != NULL)
        c->xfers->prev = x;
    c->xfers = x;
    c->nxfers++;
    tsr_log_debug(TSR_LC_CLIENT, "%s: %s started", __func__, x->what);
    if (xfer != NULL)
        *xfer = x;
    x = NULL;
    rc = 0;
    goto out;
nomem:
    rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory starting a request");
out:
    xfer_free(x);
    return rc;
}

#undef SETOPT

static int dup_opt(char **dst, const char *src)
{
    if (src == NULL)
        return 0;
    *dst = tsr_strdup(src);
    return *dst == NULL ? TSR_ENOMEM : 0;
}

static int check_file(const char *what, const char *path, struct tsr_diag *d)
{
    if (path != NULL && access(path, R_OK) != 0)
        return tsr_diag_set(d, TSR_EINVAL, "cannot read the %s %s", what, path);
    return 0;
}

int tsr_client_new(struct tsr_client **out, struct event_base *base,
                   const struct tsr_client_opts *opts, struct tsr_diag *d)
{
    static const struct tsr_client_opts defaults;
    struct tsr_client *c = NULL;
    int rc;

    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    if (base == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "HTTP client without an event loop");
    if (opts->connect_timeout_ms < 0 || opts->timeout_ms < 0)
        return tsr_diag_set(d, TSR_EINVAL, "negative HTTP client timeout");
    if (opts->key_file != NULL && opts->cert_file == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "client key without a client certificate");
    rc = check_file("CA file", opts->ca_file, d);
    if (rc == 0)
        rc = check_file("client certificate", opts->cert_file, d);
    if (rc == 0)
        rc = check_file("client key", opts->key_file, d);
    if (rc != 0)
        return rc;

    c = tsr_calloc(1, sizeof(*c));
    if (c == NULL)
        goto nomem;
    c->base = base;
    c->insecure = opts->insecure;
    c->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
                                                         : TSR_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS;
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : TSR_CLIENT_DEFAULT_TIMEOUT_MS;
    c->max_body = opts->max_body > 0 ? opts->max_body : TSR_CLIENT_DEFAULT_MAX_BODY;
    if (dup_opt(&c->ca_file, opts->ca_file) != 0 || dup_opt(&c->cert_file, opts->cert_file) != 0 ||
        dup_opt(&c->key_file, opts->key_file) != 0 || dup_opt(&c->proxy, opts->proxy) != 0 ||
        dup_opt(&c->user_agent, opts->user_agent != NULL ? opts->user_agent
                                                         : "tessera/" PACKAGE_VERSION) != 0)
        goto nomem;
    c->timer = evtimer_new(base, on_timer_event, c);
    c->reap = evtimer_new(base, on_reap, c);
    if (c->timer == NULL || c->reap == NULL)
        goto nomem;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc = tsr_diag_set(d, TSR_EINTERNAL, "libcurl global initialisation failed");
        goto out;
    }
    c->global_init = true;
    c->multi = curl_multi_init();
    if (c->multi == NULL)
        goto nomem;
    if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, (void *)c) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, (void *)c) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX) != CURLM_OK) {
        rc = tsr_diag_set(d, TSR_EINTERNAL, "libcurl refused a multi option");
        goto out;
    }
    *out = c;
    c = NULL;
    rc = 0;
    goto out;
nomem:
    rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory creating the HTTP client");
out:
    tsr_client_free(c);
    return rc;
}

void tsr_client_free(struct tsr_client *c)
{
    if (c == NULL || c->free_pending)
        return;
    while (c->xfers != NULL)
        xfer_drop(c->xfers);
    if (c->dispatching > 0) {
        /* Inside a completion callback: check_done finishes the job. */
        c->free_pending = true;
        return;
    }
    destroy(c);
}

/* Tear down a client with no transfers left and no callback running. */
static void destroy(struct tsr_client *c)
{
    if (c->multi != NULL)
        curl_multi_cleanup(c->multi); /* may still call on_socket/on_timer */
    while (c->socks != NULL)
        sock_free(c, c->socks);
    if (c->timer != NULL)
        event_free(c->timer);
    if (c->reap != NULL)
        event_free(c->reap);
    if (c->global_init)
        curl_global_cleanup();
    tsr_free(c->ca_file);
    tsr_free(c->cert_file);
    tsr_free(c->key_file);
    tsr_free(c->proxy);
    tsr_free(c->user_agent);
    tsr_free(c);
}

/* ---------------------------------------------------------------- synchronous */

struct sync_state {
    struct tsr_client_resp *out;
    bool done;
};

static void sync_done(void *arg, struct tsr_client_resp *resp)
{
    struct sync_state *st = arg;

    tsr_client_resp_cleanup(st->out);
    *st->out = *resp; /* move: the client's copy is left empty */
    tsr_client_resp_init(resp);
    st->done = true;
}

int tsr_client_fetch_sync(const struct tsr_client_opts *opts, const struct tsr_client_req *req,
                          struct tsr_client_resp *resp)
{
    struct event_base *base = NULL;
    struct tsr_client *c = NULL;
    struct sync_state st = {.out = resp, .done = false};
    int rc;

    tsr_client_resp_init(resp);
    base = event_base_new();
    if (base == NULL) {
        rc = tsr_diag_set(&resp->diag, TSR_ENOMEM, "cannot create an event loop");
        goto out;
    }
    rc = tsr_client_new(&c, base, opts, &resp->diag);
    if (rc != 0)
        goto out;
    rc = tsr_client_request(c, req, sync_done, &st, NULL, &resp->diag);
    if (rc != 0)
        goto out;
    while (!st.done) {
        /* 1: nothing left to wait for, which a pending transfer rules out. */
        if (event_base_loop(base, EVLOOP_ONCE) != 0)
            break;
    }
    /* sync_done sets st.done from inside the loop, through the pointer given above. */
    if (!st.done) {
        rc = tsr_diag_set(&resp->diag, TSR_EINTERNAL, "the event loop stopped early");
        goto out;
    }
    rc = resp->rc;
out:
    tsr_client_free(c);
    if (base != NULL)
        event_base_free(base);
    resp->rc = rc;
    if (rc != 0 && resp->diag.code == 0)
        tsr_diag_set(&resp->diag, rc, "%s", tsr_strerror(rc));
    return rc;
}
