/*
 * transports/router.c: method + path pattern -> handler.
 *
 * Patterns are split into segments once, when a route is added; a request
 * path is split on the fly and never copied unless a ":name" segment
 * captures it.  Captured values are percent-decoded; a value that decodes
 * to a NUL byte or a '/' is refused, so a parameter is always exactly one
 * path segment.
 */
#include "lib/tsr.h"

#include <string.h>

#include "lib/mem.h"
#include "transports/http_int.h"

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int tsr_http__pct_decode(const char *s, size_t n, char **out)
{
    char *d = tsr_malloc(n + 1);
    size_t j = 0;

    if (d == NULL)
        return TSR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            d[j++] = s[i];
            continue;
        }
        int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
        int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            tsr_free(d);
            return TSR_EINVAL;
        }
        d[j++] = (char)(hi * 16 + lo);
        i += 2;
    }
    d[j] = '\0';
    *out = d;
    return 0;
}

void tsr_http__route_free(struct tsr_http_route *r)
{
    for (size_t i = 0; i < r->nsegs; i++)
        tsr_free(r->segs[i]);
    tsr_free(r->segs);
    tsr_free(r->method);
}

int tsr_http_server_route(struct tsr_http_server *srv, const char *method, const char *pattern,
                          tsr_http_handler_fn fn, void *arg)
{
    struct tsr_http_route r = {0};
    size_t nparams = 0;

    if (pattern[0] != '/')
        return TSR_EINVAL;
    r.method = tsr_strdup(method);
    if (r.method == NULL)
        return TSR_ENOMEM;
    r.fn = fn;
    r.arg = arg;
    const char *p = pattern + 1;
    while (*p != '\0') {
        size_t n = strcspn(p, "/");
        char **segs = tsr_realloc(r.segs, (r.nsegs + 1) * sizeof(*segs));
        if (segs == NULL)
            goto nomem;
        r.segs = segs;
        r.segs[r.nsegs] = tsr_strndup(p, n);
        if (r.segs[r.nsegs] == NULL)
            goto nomem;
        r.nsegs++;
        if (p[0] == ':' && ++nparams > TSR_HTTP_MAX_PARAMS) {
            tsr_http__route_free(&r);
            return TSR_EINVAL;
        }
        if (p[0] == '*' && p[n] != '\0') {
            tsr_http__route_free(&r);
            return TSR_EINVAL; /* "*" only at the end */
        }
        p += n;
        if (*p == '/')
            p++;
    }
    struct tsr_http_route *routes =
        tsr_realloc(srv->routes, (srv->nroutes + 1) * sizeof(*routes));
    if (routes == NULL)
        goto nomem;
    srv->routes = routes;
    srv->routes[srv->nroutes++] = r;
    return 0;
nomem:
    tsr_http__route_free(&r);
    return TSR_ENOMEM;
}

static void clear_params(struct tsr_http_req *req)
{
    for (size_t i = 0; i < req->nparams; i++)
        tsr_free(req->pvalues[i]);
    req->nparams = 0;
}

/*
 * Match one route against req->path; on success the captured parameters
 * are stored in req.  Returns 1 on a match, 0 on none, or a negative code
 * (TSR_EINVAL for a malformed escape, TSR_ENOMEM).
 */
static int match(const struct tsr_http_route *r, struct tsr_http_req *req)
{
    const char *p = req->path;

    clear_params(req);
    if (*p != '/')
        return 0;
    p++;
    for (size_t i = 0; i < r->nsegs; i++) {
        const char *seg = r->segs[i];
        if (strcmp(seg, "*") == 0)
            return 1;
        if (*p == '\0' && i < r->nsegs)
            return 0;
        size_t n = strcspn(p, "/");
        if (seg[0] == ':') {
            char *v = NULL;
            if (n == 0)
                return 0;
            int rc = tsr_http__pct_decode(p, n, &v);
            if (rc != 0)
                return rc;
            if (strchr(v, '/') != NULL) {
                tsr_free(v);
                return TSR_EINVAL;
            }
            req->pnames[req->nparams] = seg + 1;
            req->pvalues[req->nparams++] = v;
        } else if (strlen(seg) != n || memcmp(seg, p, n) != 0) {
            return 0;
        }
        p += n;
        if (*p == '/')
            p++;
        else if (*p != '\0')
            return 0;
        if (i + 1 == r->nsegs && p[-1] == '/' && p[0] == '\0')
            return 0; /* a trailing slash is a different resource */
    }
    return *p == '\0' ? 1 : 0;
}

int tsr_http__route_match(struct tsr_http_server *srv, struct tsr_http_req *req,
                          const struct tsr_http_route **out)
{
    bool path_known = false;
    const char *method = req->method;

    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    for (size_t i = 0; i < srv->nroutes; i++) {
        const struct tsr_http_route *r = &srv->routes[i];
        int rc = match(r, req);
        if (rc < 0) {
            clear_params(req);
            return rc;
        }
        if (rc == 0)
            continue;
        if (strcmp(r->method, method) == 0) {
            *out = r;
            return 0;
        }
        path_known = true;
    }
    clear_params(req);
    return path_known ? TSR_ESTATE : TSR_ENOTFOUND;
}

void tsr_http__route_allow(struct tsr_http_server *srv, struct tsr_http_req *req, char *buf,
                           size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < srv->nroutes; i++) {
        const struct tsr_http_route *r = &srv->routes[i];
        if (match(r, req) != 1 || strstr(buf, r->method) != NULL)
            continue;
        bool get = strcmp(r->method, "GET") == 0;
        int n = snprintf(buf + len, size - len, "%s%s%s", len > 0 ? ", " : "", r->method,
                         get ? ", HEAD" : "");
        if (n < 0 || (size_t)n >= size - len) {
            buf[len] = '\0';
            break;
        }
        len += (size_t)n;
    }
    clear_params(req);
}
