/*
 * transports/server.c: listening sockets, connections and their I/O,
 * protocol detection on one port, timeouts, graceful draining, and the
 * protocol-neutral request and response functions.
 *
 * One connection reads into a fixed stack block and hands the bytes to its
 * protocol (h1.c or h2.c), which queues output in c->out; pump() writes
 * c->out and asks the protocol for more until the socket would block or
 * the high-water mark is reached.  Frees are deferred while a callback
 * chain runs (c->busy) so that no function returns into a freed
 * connection.
 */
#include "lib/tsr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "transports/http_int.h"
#include "transports/tls.h"

/* The HTTP/2 client connection preface (RFC 9113 §3.4). */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN 24

static void conn_on_read(evutil_socket_t fd, short what, void *arg);
static void conn_on_write(evutil_socket_t fd, short what, void *arg);
static void conn_on_timer(evutil_socket_t fd, short what, void *arg);

void tsr_http_limits_default(struct tsr_http_limits *l)
{
    l->max_header_bytes = TSR_HTTP_DEFAULT_MAX_HEADER_BYTES;
    l->max_body_bytes = TSR_HTTP_DEFAULT_MAX_BODY_BYTES;
    l->max_streams = TSR_HTTP_DEFAULT_MAX_STREAMS;
    l->max_connections = TSR_HTTP_DEFAULT_MAX_CONNECTIONS;
    l->idle_timeout_ms = TSR_HTTP_DEFAULT_IDLE_TIMEOUT_MS;
    l->read_timeout_ms = TSR_HTTP_DEFAULT_READ_TIMEOUT_MS;
    l->write_timeout_ms = TSR_HTTP_DEFAULT_WRITE_TIMEOUT_MS;
    l->drain_timeout_ms = TSR_HTTP_DEFAULT_DRAIN_TIMEOUT_MS;
}

/* ------------------------------------------------------------ server */

int tsr_http_server_new(struct event_base *base, const struct tsr_http_limits *limits,
                        struct tsr_tls_ctx *tls, struct tsr_http_server **out)
{
    struct tsr_http_server *srv = tsr_calloc(1, sizeof(*srv));

    if (srv == NULL)
        return TSR_ENOMEM;
    srv->base = base;
    if (limits != NULL)
        srv->limits = *limits;
    else
        tsr_http_limits_default(&srv->limits);
    srv->tls = tls;
    *out = srv;
    return 0;
}

void tsr_http_server_require_tls(struct tsr_http_server *srv, bool require)
{
    srv->require_tls = require;
}

void tsr_http_server_set_tls(struct tsr_http_server *srv, struct tsr_tls_ctx *tls)
{
    srv->tls = tls;
}

void tsr_http_server_set_limits(struct tsr_http_server *srv, const struct tsr_http_limits *l)
{
    srv->limits = *l;
}

size_t tsr_http_server_connections(const struct tsr_http_server *srv)
{
    return srv->nconns;
}

uint16_t tsr_http_server_port(const struct tsr_http_server *srv, size_t n)
{
    return n < srv->nlisteners ? srv->listeners[n].port : 0;
}

static void set_nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* The port of an IPv4 or IPv6 address, in host order (0 for other families). */
static uint16_t ss_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6) {
        struct sockaddr_in6 a;
        memcpy(&a, ss, sizeof(a));
        return ntohs(a.sin6_port);
    }
    if (ss->ss_family == AF_INET) {
        struct sockaddr_in a;
        memcpy(&a, ss, sizeof(a));
        return ntohs(a.sin_port);
    }
    return 0;
}

static int conn_new(struct tsr_http_server *srv, int fd, const struct sockaddr_storage *ss)
{
    struct tsr_http_conn *c = tsr_calloc(1, sizeof(*c));
    char host[INET6_ADDRSTRLEN] = "?";

    if (c == NULL) {
        close(fd);
        return TSR_ENOMEM;
    }
    if (ss == NULL) {
        tsr_strlcpy(c->peer, "adopted", sizeof(c->peer));
    } else if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(c->peer, sizeof(c->peer), "%s:%u", host, (unsigned)ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(c->peer, sizeof(c->peer), "[%s]:%u", host, (unsigned)ntohs(sin6->sin6_port));
    }
    c->srv = srv;
    c->fd = fd;
    c->state = CONN_SNIFF;
    tsr_buf_init(&c->in, srv->limits.max_header_bytes + TSR_HTTP_READ_BLOCK);
    /* Output may exceed the high-water mark by one produced block. */
    tsr_buf_init(&c->out, 4 * TSR_HTTP_OUT_HIGH_WATER);
    c->rev = event_new(srv->base, fd, EV_READ | EV_PERSIST, conn_on_read, c);
    c->wev = event_new(srv->base, fd, EV_WRITE, conn_on_write, c);
    c->tmr = evtimer_new(srv->base, conn_on_timer, c);
    if (c->rev == NULL || c->wev == NULL || c->tmr == NULL) {
        if (c->rev)
            event_free(c->rev);
        if (c->wev)
            event_free(c->wev);
        if (c->tmr)
            event_free(c->tmr);
        tsr_free(c);
        close(fd);
        return TSR_ENOMEM;
    }
    c->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    set_nodelay(fd);
    tsr_http__conn_update_read(c);
    tsr_http__conn_arm_timer(c, srv->limits.read_timeout_ms);
    tsr_log_debug(TSR_LC_HTTP, "conn %s: accepted", c->peer);
    return 0;
}

int tsr_http_server_adopt(struct tsr_http_server *srv, int fd, const char *peer)
{
    if (srv->nconns >= srv->limits.max_connections) {
        close(fd);
        return TSR_ELIMIT;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int rc = conn_new(srv, fd, NULL);
    if (rc == 0 && peer != NULL)
        tsr_strlcpy(srv->conns->peer, peer, sizeof(srv->conns->peer));
    return rc;
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    struct tsr_http_server *srv = arg;

    (void)fd;
    (void)what;
    for (size_t i = 0; i < srv->nlisteners; i++)
        event_add(srv->listeners[i].ev, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct tsr_http_server *srv = arg;

    (void)what;
    /* Bounded per wakeup so one busy listener cannot starve the loop. */
    for (int i = 0; i < 64; i++) {
        /* Zeroed: accept4 fills only sl bytes (none for some families). */
        struct sockaddr_storage ss = {0};
        socklen_t sl = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                errno == ECONNABORTED)
                return;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop accepting for a moment instead of
                 * spinning on a listener that stays readable. */
                tsr_log_warn(TSR_LC_HTTP, "accept: %s; pausing for 100 ms", strerror(errno));
                for (size_t j = 0; j < srv->nlisteners; j++)
                    event_del(srv->listeners[j].ev);
                if (srv->accept_retry == NULL)
                    srv->accept_retry = evtimer_new(srv->base, on_accept_retry, srv);
                if (srv->accept_retry != NULL) {
                    struct timeval tv = {0, 100000};
                    evtimer_add(srv->accept_retry, &tv);
                }
                return;
            }
            tsr_log_warn(TSR_LC_HTTP, "accept: %s", strerror(errno));
            return;
        }
        if (srv->draining || srv->nconns >= srv->limits.max_connections) {
            close(fd);
            continue;
        }
        (void)conn_new(srv, fd, &ss);
    }
}

int tsr_http_server_listen(struct tsr_http_server *srv, const char *host, uint16_t port,
                           struct tsr_diag *d)
{
    struct addrinfo hints, *res = NULL;
    char portstr[8];
    int fd = -1, rc;

    if (srv->nlisteners >= TSR_HTTP_MAX_LISTENERS)
        return tsr_diag_set(d, TSR_ELIMIT, "too many listeners");
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%u", port);
    rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0)
        return tsr_diag_set(d, TSR_EINVAL, "cannot resolve listen address %s: %s", host,
                            gai_strerror(rc));
    rc = TSR_EIO;
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        tsr_diag_set(d, TSR_EIO, "socket: %s", strerror(errno));
        goto out;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        tsr_diag_set(d, TSR_EIO, "cannot listen on %s port %u: %s", host, port, strerror(errno));
        goto out;
    }
    if (listen(fd, 1024) != 0) {
        tsr_diag_set(d, TSR_EIO, "listen: %s", strerror(errno));
        goto out;
    }
    /* Zeroed: getsockname fills only sl bytes. */
    struct sockaddr_storage ss = {0};
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        tsr_diag_set(d, TSR_EIO, "getsockname: %s", strerror(errno));
        goto out;
    }
    struct tsr_http_listener *l = &srv->listeners[srv->nlisteners];
    l->port = ss_port(&ss);
    l->ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, on_accept, srv);
    if (l->ev == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    event_add(l->ev, NULL);
    l->fd = fd;
    fd = -1;
    srv->nlisteners++;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return rc;
}

static void close_listeners(struct tsr_http_server *srv)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        if (srv->listeners[i].ev != NULL)
            event_free(srv->listeners[i].ev);
        if (srv->listeners[i].fd >= 0)
            close(srv->listeners[i].fd);
        srv->listeners[i].ev = NULL;
        srv->listeners[i].fd = -1;
    }
    if (srv->accept_retry != NULL) {
        event_free(srv->accept_retry);
        srv->accept_retry = NULL;
    }
}

static void conn_free(struct tsr_http_conn *c);

void tsr_http_server_free(struct tsr_http_server *srv)
{
    if (srv == NULL)
        return;
    close_listeners(srv);
    while (srv->conns != NULL) {
        struct tsr_http_conn *c = srv->conns;
        c->busy = 0;
        /* A connection closed while busy is already dead and only waits to
         * be freed; any other one is closed, which frees it, busy being 0.
         * Either way it leaves the list. */
        if (c->dead)
            conn_free(c);
        else
            tsr_http__conn_close(c);
    }
    if (srv->drain_timer != NULL)
        event_free(srv->drain_timer);
    for (size_t i = 0; i < srv->nroutes; i++)
        tsr_http__route_free(&srv->routes[i]);
    tsr_free(srv->routes);
    tsr_free(srv);
}

void tsr_http__conn_maybe_finish_drain(struct tsr_http_server *srv)
{
    if (!srv->draining || srv->nconns > 0 || srv->drain_done == NULL)
        return;
    void (*done)(void *) = srv->drain_done;
    srv->drain_done = NULL;
    if (srv->drain_timer != NULL)
        evtimer_del(srv->drain_timer);
    done(srv->drain_arg);
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct tsr_http_server *srv = arg;

    (void)fd;
    (void)what;
    tsr_log_warn(TSR_LC_HTTP, "drain timeout: closing %zu connection(s)", srv->nconns);
    struct tsr_http_conn *c = srv->conns;
    while (c != NULL) {
        struct tsr_http_conn *next = c->next;
        tsr_http__conn_close(c);
        c = next;
    }
    tsr_http__conn_maybe_finish_drain(srv);
}

void tsr_http_server_drain(struct tsr_http_server *srv, void (*done)(void *arg), void *arg)
{
    if (srv->draining)
        return;
    srv->draining = true;
    srv->drain_done = done;
    srv->drain_arg = arg;
    close_listeners(srv);
    srv->drain_timer = evtimer_new(srv->base, on_drain_timeout, srv);
    if (srv->drain_timer != NULL) {
        struct timeval tv = {(time_t)(srv->limits.drain_timeout_ms / 1000),
                             (suseconds_t)(srv->limits.drain_timeout_ms % 1000) * 1000};
        evtimer_add(srv->drain_timer, &tv);
    }
    struct tsr_http_conn *c = srv->conns;
    while (c != NULL) {
        struct tsr_http_conn *next = c->next;
        c->busy++;
        switch (c->state) {
        case CONN_H1:
            tsr_http__h1_drain(c);
            break;
        case CONN_H2:
            tsr_http__h2_drain(c);
            break;
        default:
            tsr_http__conn_close(c);
            break;
        }
        c->busy--;
        tsr_http__conn_pump(c);
        c = next;
    }
    tsr_http__conn_maybe_finish_drain(srv);
}

/* ------------------------------------------------------------ connections */

static void conn_free(struct tsr_http_conn *c)
{
    struct tsr_http_server *srv = c->srv;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    srv->nconns--;
    event_free(c->rev);
    event_free(c->wev);
    event_free(c->tmr);
    if (c->h1_req != NULL) {
        struct tsr_http_req *req = c->h1_req;
        c->h1_req = NULL;
        req->conn = NULL;
        tsr_http__req_free(req);
    }
    tsr_http__h2_free(c);
    if (c->ssl != NULL)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    tsr_buf_cleanup(&c->in);
    tsr_buf_cleanup(&c->out);
    tsr_free(c->client_subject);
    tsr_free(c);
    tsr_http__conn_maybe_finish_drain(srv);
}

void tsr_http__conn_close(struct tsr_http_conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    event_del(c->rev);
    event_del(c->wev);
    evtimer_del(c->tmr);
    tsr_log_debug(TSR_LC_HTTP, "conn %s: closed", c->peer);
    if (c->busy == 0)
        conn_free(c);
}

/* Leave a callback chain; free the connection if it died meanwhile. */
static bool conn_release(struct tsr_http_conn *c)
{
    c->busy--;
    if (c->busy == 0 && c->dead) {
        conn_free(c);
        return false;
    }
    return !c->dead;
}

void tsr_http__conn_update_read(struct tsr_http_conn *c)
{
    bool want = !c->dead && !c->paused_in && !c->paused_out;

    if (want == c->read_armed)
        return;
    if (want)
        event_add(c->rev, NULL);
    else
        event_del(c->rev);
    c->read_armed = want;
}

void tsr_http__conn_arm_timer(struct tsr_http_conn *c, uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    if (c->dead)
        return;
    if (ms == 0) {
        evtimer_del(c->tmr);
        return;
    }
    evtimer_add(c->tmr, &tv);
}

/*
 * Read up to len bytes.  Returns >0 bytes, 0 at end of stream, -1 when
 * nothing is available now (EAGAIN), -2 on error.
 */
static ssize_t conn_recv(struct tsr_http_conn *c, uint8_t *buf, size_t len)
{
    if (c->ssl == NULL) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n >= 0)
            return n;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return -1;
        return -2;
    }
    ERR_clear_error();
    int n = SSL_read(c->ssl, buf, (int)TSR_MIN(len, (size_t)INT32_MAX));
    if (n > 0)
        return n;
    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_READ:
        return -1;
    case SSL_ERROR_WANT_WRITE:
        /* TLS 1.3 key update or the like: wait for writability too. */
        if (!c->write_armed) {
            event_add(c->wev, NULL);
            c->write_armed = true;
        }
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:
        return -2;
    }
}

/* Write what c->out holds.  Returns 0 (all or some written), -1 on error. */
static int conn_send_out(struct tsr_http_conn *c)
{
    while (c->out_off < c->out.len) {
        size_t len = c->out.len - c->out_off;
        const char *p = c->out.data + c->out_off;
        ssize_t n;
        if (c->ssl == NULL) {
            n = send(c->fd, p, len, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    break;
                return -1;
            }
        } else {
            ERR_clear_error();
            int r = SSL_write(c->ssl, p, (int)TSR_MIN(len, (size_t)INT32_MAX));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
                    break;
                return -1;
            }
            n = r;
        }
        c->out_off += (size_t)n;
        if (c->timer_write)
            tsr_http__conn_arm_timer(c, c->srv->limits.write_timeout_ms);
    }
    if (c->out_off == c->out.len) {
        tsr_buf_reset(&c->out);
        c->out_off = 0;
    }
    return 0;
}

/* How long, and how much, a lingering close reads and discards. */
#define LINGER_MS 2000
#define LINGER_MAX_BYTES (8u << 20)

/*
 * Answer sent, request not fully read: send our FIN (and TLS close_notify),
 * then read and drop what the peer still sends, so that the peer sees our
 * answer instead of a reset (nginx's lingering close).
 */
static void conn_start_linger(struct tsr_http_conn *c)
{
    if (c->lingering)
        return;
    c->lingering = true;
    if (c->ssl != NULL) {
        ERR_clear_error();
        (void)SSL_shutdown(c->ssl);
    }
    (void)shutdown(c->fd, SHUT_WR);
    c->paused_in = false;
    c->paused_out = false;
    tsr_http__conn_update_read(c);
    c->timer_write = false;
    tsr_http__conn_arm_timer(c, LINGER_MS);
}

static void conn_linger_read(struct tsr_http_conn *c)
{
    uint8_t sink[16384];

    for (size_t total = 0; total < LINGER_MAX_BYTES;) {
        ssize_t n = c->ssl != NULL ? -2 : recv(c->fd, sink, sizeof(sink), 0);
        if (c->ssl != NULL) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, sink, sizeof(sink));
            if (r > 0) {
                n = r;
            } else {
                int e = SSL_get_error(c->ssl, r);
                n = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? -1 : 0;
            }
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            n = -1;
        }
        if (n == -1)
            return;
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    tsr_http__conn_close(c);
}

void tsr_http__conn_pump(struct tsr_http_conn *c)
{
    if (c->dead || c->busy > 0)
        return;
    c->busy++;
    for (;;) {
        /* Keep pending output at the front so produced blocks stay within
         * the buffer's bound however long the peer takes to read. */
        if (c->out_off > 0) {
            tsr_buf_consume(&c->out, c->out_off);
            c->out_off = 0;
        }
        size_t before = c->out.len - c->out_off;
        if (c->state == CONN_H2)
            tsr_http__h2_fill(c);
        else if (c->state == CONN_H1)
            tsr_http__h1_fill(c);
        if (c->dead)
            break;
        size_t produced = (c->out.len - c->out_off) - before;
        if (c->out.len - c->out_off == 0)
            break;
        if (conn_send_out(c) != 0) {
            tsr_log_debug(TSR_LC_HTTP, "conn %s: write failed", c->peer);
            tsr_http__conn_close(c);
            break;
        }
        if (c->out.len - c->out_off > 0) {
            /* The socket is full: wait for it, and stop reading so a peer
             * that does not read cannot make us buffer without bound. */
            if (!c->write_armed) {
                event_add(c->wev, NULL);
                c->write_armed = true;
            }
            break;
        }
        /* Stop when the protocol had room and produced nothing; when the
         * buffer was full it had no chance, and must be asked again now that
         * the socket took everything. */
        if (produced == 0 && before < TSR_HTTP_OUT_HIGH_WATER)
            break;
    }
    if (!c->dead) {
        c->paused_out = c->out.len - c->out_off >= TSR_HTTP_OUT_HIGH_WATER;
        tsr_http__conn_update_read(c);
        tsr_log_debug(TSR_LC_HTTP, "conn %s: pump: %zu pending, paused out=%d in=%d, write %s",
                      c->peer, c->out.len - c->out_off, c->paused_out, c->paused_in,
                      c->write_armed ? "armed" : "idle");
        if (c->state == CONN_H2 && tsr_http__h2_finished(c)) {
            tsr_http__conn_close(c);
        } else if (c->closing && c->out.len == c->out_off) {
            /* All sent: linger to read what the peer still sends, or close. */
            if (c->linger)
                conn_start_linger(c);
            else
                tsr_http__conn_close(c);
        }
    }
    conn_release(c);
}

static void conn_on_write(evutil_socket_t fd, short what, void *arg)
{
    struct tsr_http_conn *c = arg;

    (void)fd;
    (void)what;
    c->write_armed = false;
    if (c->state == CONN_TLS_HANDSHAKE) {
        /* The handshake wanted to write: continue it from the read path. */
        event_active(c->rev, EV_READ, 0);
        return;
    }
    tsr_http__conn_pump(c);
}

static void conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct tsr_http_conn *c = arg;

    (void)fd;
    (void)what;
    c->busy++;
    if (c->lingering) {
        tsr_http__conn_close(c);
        conn_release(c);
        return;
    }
    switch (c->state) {
    case CONN_H1:
        tsr_http__h1_timeout(c);
        break;
    case CONN_H2:
        tsr_http__h2_timeout(c);
        break;
    default:
        tsr_log_debug(TSR_LC_HTTP, "conn %s: handshake timeout", c->peer);
        tsr_http__conn_close(c);
        break;
    }
    if (conn_release(c))
        tsr_http__conn_pump(c);
}

static void conn_tls_done(struct tsr_http_conn *c)
{
    const unsigned char *alpn = NULL;
    unsigned int alpnlen = 0;

    SSL_get0_alpn_selected(c->ssl, &alpn, &alpnlen);
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    if (peer != NULL) {
        if (SSL_get_verify_result(c->ssl) == X509_V_OK) {
            char *s = X509_NAME_oneline(X509_get_subject_name(peer), NULL, 0);
            if (s != NULL) {
                c->client_subject = tsr_strdup(s);
                OPENSSL_free(s);
            }
        }
        X509_free(peer);
    }
    if (alpnlen == 2 && memcmp(alpn, "h2", 2) == 0) {
        c->state = CONN_H2;
        if (tsr_http__h2_start(c, NULL, 0) != 0)
            tsr_http__conn_close(c);
    } else {
        c->state = CONN_H1;
        tsr_http__h1_start(c);
    }
}

/* Continue a TLS handshake; false when the connection was closed. */
static bool conn_handshake(struct tsr_http_conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        tsr_log_debug(TSR_LC_TLS, "conn %s: %s %s", c->peer, SSL_get_version(c->ssl),
                      SSL_get_cipher_name(c->ssl));
        conn_tls_done(c);
        return !c->dead;
    }
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return true;
    case SSL_ERROR_WANT_WRITE:
        if (!c->write_armed) {
            event_add(c->wev, NULL);
            c->write_armed = true;
        }
        return true;
    default: {
        char buf[160] = "";
        unsigned long e = ERR_peek_last_error();
        if (e != 0)
            ERR_error_string_n(e, buf, sizeof(buf));
        tsr_log_debug(TSR_LC_TLS, "conn %s: handshake failed: %s", c->peer, buf);
        ERR_clear_error();
        tsr_http__conn_close(c);
        return false;
    }
    }
}

/*
 * Decide what a new connection speaks from its first bytes: 0x16 opens a
 * TLS handshake record; otherwise the HTTP/2 preface or an HTTP/1.1
 * request line.  Returns false when the connection was closed.
 */
static bool conn_sniff(struct tsr_http_conn *c)
{
    uint8_t first;
    ssize_t n = recv(c->fd, &first, 1, MSG_PEEK);

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        tsr_http__conn_close(c);
        return false;
    }
    if (n < 0)
        return true;
    if (first == 0x16 && c->srv->tls != NULL) {
        c->ssl = SSL_new(tsr_tls_ctx_ssl_ctx(c->srv->tls));
        if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
            tsr_http__conn_close(c);
            return false;
        }
        SSL_set_accept_state(c->ssl);
        c->state = CONN_TLS_HANDSHAKE;
        return conn_handshake(c);
    }
    /* Cleartext.  Collect bytes until they either match the whole HTTP/2
     * preface or stop matching it. */
    uint8_t buf[H2_PREFACE_LEN];
    n = recv(c->fd, buf, sizeof(buf) - TSR_MIN(c->in.len, sizeof(buf)), 0);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            tsr_http__conn_close(c);
            return false;
        }
        return true;
    }
    if (tsr_buf_add(&c->in, buf, (size_t)n) != 0) {
        tsr_http__conn_close(c);
        return false;
    }
    size_t cmp = TSR_MIN(c->in.len, (size_t)H2_PREFACE_LEN);
    bool h2 = memcmp(c->in.data, h2_preface, cmp) == 0;
    if (h2 && c->in.len < H2_PREFACE_LEN)
        return true;
    if (h2) {
        c->state = CONN_H2;
        uint8_t pre[H2_PREFACE_LEN];
        memcpy(pre, c->in.data, H2_PREFACE_LEN);
        tsr_buf_reset(&c->in);
        if (tsr_http__h2_start(c, pre, H2_PREFACE_LEN) != 0) {
            tsr_http__conn_close(c);
            return false;
        }
        if (c->srv->require_tls) {
            tsr_http__h2_drain(c);
            c->closing = true;
        }
        return !c->dead;
    }
    c->state = CONN_H1;
    tsr_http__h1_start(c);
    if (c->srv->require_tls) {
        c->h1_keepalive = false;
        tsr_http__respond_error(c->h1_req, 400, "this port requires TLS");
        return !c->dead;
    }
    return tsr_http__h1_feed(c) == 0 && !c->dead;
}

static void conn_on_read(evutil_socket_t fd, short what, void *arg)
{
    struct tsr_http_conn *c = arg;
    uint8_t block[TSR_HTTP_READ_BLOCK];

    (void)fd;
    (void)what;
    c->busy++;
    if (c->lingering) {
        conn_linger_read(c);
        goto out;
    }
    if (c->state == CONN_SNIFF) {
        if (!conn_sniff(c))
            goto out;
        if (c->state != CONN_H1 && c->state != CONN_H2)
            goto out;
    } else if (c->state == CONN_TLS_HANDSHAKE) {
        if (!conn_handshake(c) || c->state == CONN_TLS_HANDSHAKE)
            goto out;
    }
    /* A bounded number of blocks per wakeup keeps one busy peer from
     * starving the others; leftover TLS plaintext re-arms the event. */
    for (int i = 0; i < 16 && !c->dead && !c->paused_in && !c->paused_out; i++) {
        if (c->state == CONN_H1 && c->h1 == H1_DISPATCHED) {
            /* Pipelined requests wait until the current answer is out;
             * stop reading once the next head would not fit anyway. */
            if (c->in.len >= c->in.max - TSR_HTTP_READ_BLOCK) {
                c->paused_in = true;
                tsr_http__conn_update_read(c);
                break;
            }
        }
        ssize_t n = conn_recv(c, block, sizeof(block));
        if (n == -1)
            break;
        if (n == 0 && c->state == CONN_H1 && c->h1 == H1_DISPATCHED) {
            /* The peer half-closed after its request: answer, then close. */
            c->h1_keepalive = false;
            c->paused_in = true;
            tsr_http__conn_update_read(c);
            break;
        }
        if (n == 0 || n == -2) {
            tsr_http__conn_close(c);
            break;
        }
        int rc;
        if (c->state == CONN_H2) {
            rc = tsr_http__h2_feed(c, block, (size_t)n);
        } else {
            rc = tsr_buf_add(&c->in, block, (size_t)n);
            if (rc == 0)
                rc = tsr_http__h1_feed(c);
            else
                rc = tsr_http__respond_error(c->h1_req, 431, "request header too large");
        }
        if (rc != 0 || c->dead)
            break;
        if (i == 15 && c->ssl != NULL && SSL_pending(c->ssl) > 0)
            event_active(c->rev, EV_READ, 0);
    }
out:
    if (conn_release(c))
        tsr_http__conn_pump(c);
}

/* ------------------------------------------------------------ requests */

struct tsr_http_req *tsr_http__req_new(struct tsr_http_conn *c, enum tsr_http_proto proto)
{
    struct tsr_http_req *req = tsr_calloc(1, sizeof(*req));

    if (req == NULL)
        return NULL;
    req->conn = c;
    req->proto = proto;
    req->content_length = -1;
    tsr_buf_init(&req->body, c->srv->limits.max_body_bytes);
    return req;
}

void tsr_http__req_free(struct tsr_http_req *req)
{
    if (req == NULL)
        return;
    if (req->dispatched && !req->responded && req->abort_fn != NULL) {
        tsr_http_abort_fn fn = req->abort_fn;
        req->abort_fn = NULL;
        fn(req, req->abort_arg);
    }
    if (req->has_src && req->src.close != NULL)
        req->src.close(req->src.arg);
    req->has_src = false;
    tsr_free(req->method);
    tsr_free(req->path);
    tsr_free(req->query);
    tsr_free(req->authority);
    for (size_t i = 0; i < req->nhdrs; i++) {
        tsr_free((char *)req->hdrs[i].name);
        tsr_free((char *)req->hdrs[i].value);
    }
    for (size_t i = 0; i < req->nparams; i++)
        tsr_free(req->pvalues[i]);
    tsr_buf_cleanup(&req->body);
    tsr_free(req);
}

int tsr_http__req_add_header(struct tsr_http_req *req, const char *name, size_t nlen,
                             const char *value, size_t vlen)
{
    struct tsr_http_server *srv = req->conn->srv;

    req->header_bytes += nlen + vlen + 4;
    if (req->header_bytes > srv->limits.max_header_bytes || req->nhdrs >= TSR_HTTP_MAX_HEADERS) {
        req->header_overflow = true;
        return TSR_ELIMIT;
    }
    char *n = tsr_strndup(name, nlen);
    char *v = tsr_strndup(value, vlen);
    if (n == NULL || v == NULL) {
        tsr_free(n);
        tsr_free(v);
        return TSR_ENOMEM;
    }
    for (char *p = n; *p != '\0'; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    req->hdrs[req->nhdrs].name = n;
    req->hdrs[req->nhdrs].value = v;
    req->nhdrs++;
    return 0;
}

void tsr_http__dispatch(struct tsr_http_req *req)
{
    const struct tsr_http_route *route = NULL;

    req->dispatched = true;
    if (req->header_overflow) {
        tsr_http__respond_error(req, 431, "request header fields too large");
        return;
    }
    if (req->bad_request) {
        tsr_http__respond_error(req, 400, "malformed request");
        return;
    }
    if (req->body_overflow) {
        tsr_http__respond_error(req, 413, "request body too large");
        return;
    }
    req->head = strcmp(req->method, "HEAD") == 0;
    int rc = tsr_http__route_match(req->conn->srv, req, &route);
    if (rc == TSR_ENOTFOUND) {
        tsr_http__respond_error(req, 404, "no such resource");
        return;
    }
    if (rc == TSR_ESTATE) {
        /* RFC 9110 §15.5.6: a 405 lists the methods the resource has. */
        char allow[128], body[200];
        tsr_http__route_allow(req->conn->srv, req, allow, sizeof(allow));
        struct tsr_http_header h[] = {{"content-type", "text/plain; charset=utf-8"},
                                      {"allow", allow}};
        snprintf(body, sizeof(body), "405 Method Not Allowed: use %s\n", allow);
        tsr_http_respond(req, 405, h, 2, body, strlen(body));
        return;
    }
    if (rc != 0) {
        tsr_http__respond_error(req, rc == TSR_EINVAL ? 400 : 500, "cannot route request");
        return;
    }
    tsr_log_debug(TSR_LC_HTTP, "conn %s: %s %s", req->conn->peer, req->method, req->path);
    route->fn(req, route->arg);
}

int tsr_http__respond_error(struct tsr_http_req *req, int status, const char *msg)
{
    char body[256];
    static const struct tsr_http_header h[] = {{"content-type", "text/plain; charset=utf-8"}};

    if (req == NULL)
        return TSR_EINVAL;
    snprintf(body, sizeof(body), "%d %s: %s\n", status, tsr_http_reason(status), msg);
    if (req->proto != TSR_HTTP_PROTO_2 && (status == 400 || status == 408 || status == 413 ||
                                           status == 431 || status >= 500))
        req->conn->h1_keepalive = false;
    return tsr_http_respond(req, status, h, 1, body, strlen(body));
}

const char *tsr_http_req_method(const struct tsr_http_req *req)
{
    return req->method;
}

const char *tsr_http_req_path(const struct tsr_http_req *req)
{
    return req->path;
}

const char *tsr_http_req_query(const struct tsr_http_req *req)
{
    return req->query;
}

char *tsr_http_req_query_param(const struct tsr_http_req *req, const char *name)
{
    const char *p = req->query;
    size_t nlen = strlen(name);

    while (p != NULL && *p != '\0') {
        size_t seg = strcspn(p, "&");
        const char *eq = memchr(p, '=', seg);
        size_t klen = eq != NULL ? (size_t)(eq - p) : seg;
        if (klen == nlen && memcmp(p, name, nlen) == 0) {
            char *out = NULL;
            if (eq == NULL)
                return tsr_strdup("");
            /* '+' means space in form-encoded queries. */
            char *raw = tsr_strndup(eq + 1, seg - klen - 1);
            if (raw == NULL)
                return NULL;
            for (char *q = raw; *q != '\0'; q++) {
                if (*q == '+')
                    *q = ' ';
            }
            if (tsr_http__pct_decode(raw, strlen(raw), &out) != 0)
                out = NULL;
            tsr_free(raw);
            return out;
        }
        p += seg;
        if (*p == '&')
            p++;
    }
    return NULL;
}

const char *tsr_http_req_header(const struct tsr_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->nhdrs; i++) {
        if (strcasecmp(req->hdrs[i].name, name) == 0)
            return req->hdrs[i].value;
    }
    return NULL;
}

const char *tsr_http_req_param(const struct tsr_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->nparams; i++) {
        if (strcmp(req->pnames[i], name) == 0)
            return req->pvalues[i];
    }
    return NULL;
}

const struct tsr_buf *tsr_http_req_body(const struct tsr_http_req *req)
{
    return &req->body;
}

enum tsr_http_proto tsr_http_req_proto(const struct tsr_http_req *req)
{
    return req->proto;
}

bool tsr_http_req_tls(const struct tsr_http_req *req)
{
    return req->conn != NULL && req->conn->ssl != NULL;
}

const char *tsr_http_req_peer(const struct tsr_http_req *req)
{
    return req->conn != NULL ? req->conn->peer : "";
}

const char *tsr_http_req_client_subject(const struct tsr_http_req *req)
{
    return req->conn != NULL ? req->conn->client_subject : NULL;
}

void tsr_http_req_set_data(struct tsr_http_req *req, void *data)
{
    req->data = data;
}

void *tsr_http_req_data(const struct tsr_http_req *req)
{
    return req->data;
}

void tsr_http_req_on_abort(struct tsr_http_req *req, tsr_http_abort_fn fn, void *arg)
{
    req->abort_fn = fn;
    req->abort_arg = arg;
}

/* ------------------------------------------------------------ responses */

struct mem_source {
    char *data;
    size_t len;
    size_t off;
};

static ssize_t mem_read(void *arg, uint8_t *buf, size_t len, bool *eof)
{
    struct mem_source *m = arg;
    size_t n = TSR_MIN(len, m->len - m->off);

    memcpy(buf, m->data + m->off, n);
    m->off += n;
    *eof = m->off == m->len;
    return (ssize_t)n;
}

static void mem_close(void *arg)
{
    struct mem_source *m = arg;

    tsr_free(m->data);
    tsr_free(m);
}

int tsr_http_respond(struct tsr_http_req *req, int status, const struct tsr_http_header *hdrs,
                     size_t nhdrs, const void *body, size_t len)
{
    struct mem_source *m = tsr_calloc(1, sizeof(*m));
    struct tsr_http_source src = {mem_read, mem_close, m};

    if (m == NULL)
        return TSR_ENOMEM;
    m->data = tsr_malloc(len);
    if (m->data == NULL) {
        tsr_free(m);
        return TSR_ENOMEM;
    }
    if (len > 0)
        memcpy(m->data, body, len);
    m->len = len;
    return tsr_http_respond_stream(req, status, hdrs, nhdrs, (int64_t)len, &src);
}

int tsr_http_respond_text(struct tsr_http_req *req, int status, const char *content_type,
                          const char *body)
{
    struct tsr_http_header h = {"content-type", content_type};

    return tsr_http_respond(req, status, &h, 1, body, strlen(body));
}

void tsr_http_server_observe(struct tsr_http_server *srv, tsr_http_observe_fn fn, void *arg)
{
    srv->observe = fn;
    srv->observe_arg = arg;
}

int tsr_http_respond_stream(struct tsr_http_req *req, int status,
                            const struct tsr_http_header *hdrs, size_t nhdrs,
                            int64_t content_length, const struct tsr_http_source *src)
{
    int rc;

    if (req->responded || req->conn == NULL) {
        if (src->close != NULL)
            src->close(src->arg);
        return TSR_ESTATE;
    }
    req->responded = true;
    req->status = status;
    if (req->conn->srv->observe != NULL)
        req->conn->srv->observe(req, status, req->conn->srv->observe_arg);
    req->src = *src;
    req->has_src = true;
    req->content_length = content_length;
    if (req->head || status == 204 || status == 304) {
        req->src_eof = true;
        if (status == 204 || status == 304)
            req->content_length = -2; /* no body, no length header */
    }
    struct tsr_http_conn *c = req->conn;
    if (req->proto == TSR_HTTP_PROTO_2)
        rc = tsr_http__h2_respond(req, hdrs, nhdrs);
    else
        rc = tsr_http__h1_respond(req, hdrs, nhdrs);
    if (rc != 0) {
        tsr_http__conn_close(c);
        return rc;
    }
    tsr_http__conn_pump(c);
    return 0;
}

void tsr_http_resume(struct tsr_http_req *req)
{
    if (req->conn == NULL || !req->src_deferred)
        return;
    req->src_deferred = false;
    if (req->proto == TSR_HTTP_PROTO_2)
        tsr_http__h2_resume(req);
    tsr_http__conn_pump(req->conn);
}

void tsr_http_req_cancel(struct tsr_http_req *req)
{
    struct tsr_http_conn *c = req->conn;

    if (c == NULL || req->done)
        return;
    if (req->proto == TSR_HTTP_PROTO_2) {
        tsr_http__h2_cancel(req);
        tsr_http__conn_pump(c);
    } else {
        tsr_http__conn_close(c);
    }
}

const char *tsr_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
