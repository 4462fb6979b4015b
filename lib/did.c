/*
 * lib/did.c: did:web identifiers and DID documents (see lib/did.h).
 *
 * Everything here treats its input as hostile: a resolved document comes
 * from whatever server the DID names, so it is checked for shape and size
 * before any key is looked up in it, and lookups only ever return members
 * of a checked document.
 */
#include "lib/tsr.h"

#include <string.h>

#include <jansson.h>

#include "lib/buf.h"
#include "lib/did.h"
#include "lib/mem.h"
#include "lib/str.h"

#define WEB_PREFIX "did:web:"
#define HOST_MAX 253
#define LABEL_MAX 63
#define CONTEXT_MAX 16

/* Private JWK members (RFC 7518 section 6): never in a public document. */
static const char *const private_jwk_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

/* Verification relationships of DID Core section 5.3. */
static const char *const relationships[] = {
    "authentication", "assertionMethod", "keyAgreement", "capabilityInvocation",
    "capabilityDelegation",
};

/* ---------------------------------------------------------------- syntax */

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int hexval(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decoded value of "%XY" at s (three bytes available), or -1. */
static int pct_decode(const char *s)
{
    if (s[0] != '%')
        return -1;
    int hi = hexval((unsigned char)s[1]);
    int lo = hi < 0 ? -1 : hexval((unsigned char)s[2]);
    return lo < 0 ? -1 : hi * 16 + lo;
}

/* DID Core idchar: ALPHA / DIGIT / "." / "-" / "_" (pct-encoded handled apart). */
static bool is_idchar(int c)
{
    return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_';
}

/*
 * Generic DID syntax (DID Core section 3.1): "did:" method-name ":"
 * method-specific-id, with no path, query or fragment.
 */
static bool did_syntax_ok(const char *s, size_t len)
{
    size_t i = 4;

    if (len < 7 || len > TSR_DID_MAX_LEN || memcmp(s, "did:", 4) != 0)
        return false;
    while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i])))
        i++;
    if (i == 4 || i >= len || s[i] != ':')
        return false;
    i++;
    size_t seg = 0; /* characters in the current ":"-separated segment */
    for (; i < len; i++) {
        if (s[i] == ':') {
            seg = 0;
        } else if (s[i] == '%') {
            if (i + 2 >= len || pct_decode(s + i) < 0)
                return false;
            i += 2;
            seg++;
        } else if (is_idchar((unsigned char)s[i])) {
            seg++;
        } else {
            return false;
        }
    }
    /* The last segment must not be empty ("did:x:a:" is not a DID). */
    return seg > 0;
}

/* True when the n bytes at h are a dotted-quad IPv4 address in 127.0.0.0/8. */
static bool is_loopback_v4(const char *h, size_t n)
{
    long long octet[4];
    const char *p = h;
    const char *end = h + n;

    for (int k = 0; k < 4; k++) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t len = (size_t)((dot != NULL ? dot : end) - p);
        char tmp[4];
        if (len == 0 || len > 3 || (len > 1 && p[0] == '0') || (k < 3) != (dot != NULL))
            return false;
        memcpy(tmp, p, len);
        tmp[len] = '\0';
        if (tsr_parse_ll(tmp, 0, 255, &octet[k]) != 0)
            return false;
        p += len + 1;
    }
    return octet[0] == 127;
}

/* A DNS name of letters, digits and hyphens, or a loopback IPv4 literal. */
static int check_host(const char *h, size_t len, struct tsr_diag *d)
{
    size_t label = 0;
    bool label_numeric = true;
    bool last_numeric = true;

    if (len == 0 || len > HOST_MAX)
        return tsr_diag_set(d, TSR_EINVAL, "did:web host is empty or too long");
    for (size_t i = 0; i <= len; i++) {
        if (i == len || h[i] == '.') {
            if (label == 0 || label > LABEL_MAX || h[i - 1] == '-')
                return tsr_diag_set(d, TSR_EINVAL, "did:web host has a malformed label");
            last_numeric = label_numeric;
            label = 0;
            label_numeric = true;
            continue;
        }
        int c = (unsigned char)h[i];
        if (!is_alpha(c) && !is_digit(c) && c != '-')
            return tsr_diag_set(d, TSR_EINVAL, "did:web host has a character not allowed");
        if (c == '-' && label == 0)
            return tsr_diag_set(d, TSR_EINVAL, "did:web host has a label starting with '-'");
        if (!is_digit(c))
            label_numeric = false;
        label++;
    }
    /* No top-level domain is numeric: a numeric last label means an address. */
    if (!last_numeric || is_loopback_v4(h, len))
        return 0;
    return tsr_diag_set(d, TSR_EINVAL,
                        "did:web may not name an IP address (only loopback is allowed)");
}

/* A path segment: idchars and pct-encoded bytes that cannot act as separators. */
static int check_segment(const char *s, size_t len, struct tsr_diag *d)
{
    if (len == 0)
        return tsr_diag_set(d, TSR_EINVAL, "did:web has an empty path segment");
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return tsr_diag_set(d, TSR_EINVAL, "did:web path segment '.' or '..'");
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int v = i + 2 < len ? pct_decode(s + i) : -1;
            if (v < 0)
                return tsr_diag_set(d, TSR_EINVAL, "did:web path has a bad %%-escape");
            /* A decoded '/', '\', '.', '%' or control byte could change the path. */
            if (v < 0x20 || v == 0x7f || v == '/' || v == '\\' || v == '.' || v == '%')
                return tsr_diag_set(d, TSR_EINVAL, "did:web path has a forbidden %%-escape");
            i += 2;
        } else if (!is_idchar((unsigned char)s[i])) {
            return tsr_diag_set(d, TSR_EINVAL, "did:web path has a character not allowed");
        }
    }
    return 0;
}

struct web_did {
    const char *host;
    size_t host_len;
    const char *port; /* NULL when absent */
    size_t port_len;
    const char *path; /* ":"-separated segments after the host, NULL when absent */
    size_t path_len;
};

static int parse_web(const char *did, struct web_did *w, struct tsr_diag *d)
{
    size_t len;

    memset(w, 0, sizeof(*w));
    if (did == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "no DID");
    len = strnlen(did, TSR_DID_MAX_LEN + 1);
    if (len > TSR_DID_MAX_LEN)
        return tsr_diag_set(d, TSR_ELIMIT, "DID longer than %d bytes", TSR_DID_MAX_LEN);
    if (strncmp(did, WEB_PREFIX, strlen(WEB_PREFIX)) != 0)
        return tsr_diag_set(d, TSR_EINVAL, "not a did:web DID");
    if (strpbrk(did, "#?/") != NULL)
        return tsr_diag_set(d, TSR_EINVAL, "a DID URL (with a path, query or fragment), not a DID");
    const char *msid = did + strlen(WEB_PREFIX);
    const char *end = did + len;
    const char *colon = memchr(msid, ':', (size_t)(end - msid));
    const char *host_end = colon != NULL ? colon : end;

    w->host = msid;
    w->host_len = (size_t)(host_end - msid);
    for (size_t i = 0; i + 2 < w->host_len; i++) {
        if (msid[i] == '%' && msid[i + 1] == '3' && (msid[i + 2] == 'A' || msid[i + 2] == 'a')) {
            w->port = msid + i + 3;
            w->port_len = w->host_len - i - 3;
            w->host_len = i;
            break;
        }
    }
    int rc = check_host(w->host, w->host_len, d);
    if (rc != 0)
        return rc;
    if (w->port != NULL) {
        char tmp[8];
        long long port;
        if (w->port_len == 0 || w->port_len > 5 || w->port[0] == '0')
            return tsr_diag_set(d, TSR_EINVAL, "did:web has a malformed port");
        /* Digits only: tsr_parse_ll alone would let "+443" through. */
        for (size_t i = 0; i < w->port_len; i++) {
            if (!is_digit((unsigned char)w->port[i]))
                return tsr_diag_set(d, TSR_EINVAL, "did:web has a malformed port");
        }
        memcpy(tmp, w->port, w->port_len);
        tmp[w->port_len] = '\0';
        if (tsr_parse_ll(tmp, 1, 65535, &port) != 0)
            return tsr_diag_set(d, TSR_EINVAL, "did:web has a malformed port");
    }
    if (colon != NULL) {
        w->path = colon + 1;
        w->path_len = (size_t)(end - w->path);
        const char *seg = w->path;
        while (seg <= end) {
            const char *next = memchr(seg, ':', (size_t)(end - seg));
            const char *segend = next != NULL ? next : end;
            rc = check_segment(seg, (size_t)(segend - seg), d);
            if (rc != 0)
                return rc;
            if (next == NULL)
                break;
            seg = next + 1;
        }
    }
    return 0;
}

int tsr_did_web_to_url(const char *did, char **url, struct tsr_diag *d)
{
    struct web_did w;
    struct tsr_buf b;
    int rc;

    *url = NULL;
    rc = parse_web(did, &w, d);
    if (rc != 0)
        return rc;
    tsr_buf_init(&b, TSR_DID_MAX_LEN + 64);
    rc = tsr_buf_adds(&b, "https://");
    if (rc == 0)
        rc = tsr_buf_add(&b, w.host, w.host_len);
    if (rc == 0 && w.port != NULL)
        rc = tsr_buf_addf(&b, ":%.*s", (int)w.port_len, w.port);
    for (size_t i = 0; rc == 0 && w.path != NULL && i < w.path_len; i++) {
        char c = w.path[i];
        if (c == ':')
            c = '/';
        if (i == 0)
            rc = tsr_buf_add(&b, "/", 1);
        if (rc == 0)
            rc = tsr_buf_add(&b, &c, 1);
    }
    if (rc == 0)
        rc = tsr_buf_adds(&b, w.path != NULL ? "/did.json" : "/.well-known/did.json");
    if (rc == 0) {
        *url = tsr_buf_steal(&b, NULL);
        if (*url == NULL)
            rc = TSR_ENOMEM;
    }
    tsr_buf_cleanup(&b);
    if (rc != 0)
        return tsr_diag_set(d, rc, "cannot build the URL of %s", did);
    return 0;
}

int tsr_did_web_from_host(const char *host, unsigned port, const char *path, char **did,
                          struct tsr_diag *d)
{
    struct tsr_buf b;
    struct web_did w;
    int rc;

    *did = NULL;
    if (host == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "no host for a did:web DID");
    if (port > 65535)
        return tsr_diag_set(d, TSR_EINVAL, "port %u out of range", port);
    tsr_buf_init(&b, TSR_DID_MAX_LEN);
    rc = tsr_buf_addf(&b, WEB_PREFIX "%s", host);
    if (rc == 0 && port != 0 && port != 443)
        rc = tsr_buf_addf(&b, "%%3A%u", port);
    if (rc == 0 && path != NULL) {
        size_t start = strspn(path, "/");
        size_t end = strlen(path);
        while (end > start && path[end - 1] == '/')
            end--;
        for (size_t i = start; rc == 0 && i < end; i++) {
            /* ':' in a segment would split it: refuse rather than guess. */
            if (path[i] == ':') {
                rc = TSR_EINVAL;
                break;
            }
            char c = path[i];
            if (c == '/')
                c = ':';
            if (i == start)
                rc = tsr_buf_add(&b, ":", 1);
            if (rc == 0)
                rc = tsr_buf_add(&b, &c, 1);
        }
    }
    if (rc == TSR_EINVAL) {
        rc = tsr_diag_set(d, rc, "did:web path may not contain ':'");
        goto out;
    }
    if (rc != 0) {
        rc = tsr_diag_set(d, rc, "did:web DID for %s would be too long", host);
        goto out;
    }
    /* Whatever we emit must parse back, or nobody could resolve it. */
    rc = parse_web(tsr_buf_str(&b), &w, d);
    if (rc != 0)
        goto out;
    *did = tsr_buf_steal(&b, NULL);
    rc = *did != NULL ? 0 : tsr_diag_set(d, TSR_ENOMEM, "out of memory");
out:
    tsr_buf_cleanup(&b);
    return rc;
}

int tsr_did_url_split(const char *didurl, char **did, const char **fragment,
                      struct tsr_diag *d)
{
    *did = NULL;
    *fragment = NULL;
    if (didurl == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "no DID URL");
    size_t len = strnlen(didurl, TSR_DID_MAX_LEN + 1);
    if (len > TSR_DID_MAX_LEN)
        return tsr_diag_set(d, TSR_ELIMIT, "DID URL longer than %d bytes", TSR_DID_MAX_LEN);
    const char *hash = memchr(didurl, '#', len);
    size_t dlen = hash != NULL ? (size_t)(hash - didurl) : len;
    if (!did_syntax_ok(didurl, dlen))
        return tsr_diag_set(d, TSR_EINVAL, "not a DID (or a DID URL with a path or query)");
    if (hash != NULL) {
        const char *f = hash + 1;
        size_t flen = len - dlen - 1;
        if (flen == 0 || !tsr_str_is_printable(f, flen) || strpbrk(f, " #") != NULL)
            return tsr_diag_set(d, TSR_EINVAL, "DID URL with an empty or malformed fragment");
        *fragment = f;
    }
    *did = tsr_strndup(didurl, dlen);
    if (*did == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    return 0;
}

/* ---------------------------------------------------------------- building */

/* code: TSR_EINVAL for our own key, TSR_EPROTO for a peer's document. */
static int check_public_jwk(const json_t *jwk, const char *where, int code, struct tsr_diag *d)
{
    if (!json_is_object(jwk) || !json_is_string(json_object_get(jwk, "kty")))
        return tsr_diag_set(d, code, "%s: publicKeyJwk is not a JWK", where);
    for (size_t i = 0; i < TSR_ARRAY_SIZE(private_jwk_members); i++) {
        if (json_object_get(jwk, private_jwk_members[i]) != NULL) {
            return tsr_diag_set(d, code, "%s: publicKeyJwk holds private member \"%s\"", where,
                                private_jwk_members[i]);
        }
    }
    return 0;
}

static bool fragment_ok(const char *f)
{
    size_t n = f != NULL ? strlen(f) : 0;
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_idchar((unsigned char)f[i]))
            return false;
    }
    return true;
}

static bool endpoint_ok(const char *u)
{
    size_t n = u != NULL ? strlen(u) : 0;
    if (n == 0 || n > 2048 || !tsr_str_is_printable(u, n) || strchr(u, ' ') != NULL)
        return false;
    return tsr_str_startswith(u, "https://") || tsr_str_startswith(u, "http://");
}

/* did + "#" + fragment as a new JSON string. */
static json_t *did_url(const char *did, const char *fragment)
{
    struct tsr_buf b;
    json_t *s = NULL;

    tsr_buf_init(&b, TSR_DID_MAX_LEN + 256);
    if (tsr_buf_addf(&b, "%s#%s", did, fragment) == 0)
        s = json_string(tsr_buf_str(&b));
    tsr_buf_cleanup(&b);
    return s;
}

/* json_object_set_new/json_array_append_new steal even on failure. */
static int set_new(json_t *obj, const char *key, json_t *v)
{
    if (v == NULL)
        return TSR_ENOMEM;
    return json_object_set_new(obj, key, v) == 0 ? 0 : TSR_ENOMEM;
}

static int append_new(json_t *arr, json_t *v)
{
    if (v == NULL)
        return TSR_ENOMEM;
    return json_array_append_new(arr, v) == 0 ? 0 : TSR_ENOMEM;
}

int tsr_did_doc_build(const char *did, const json_t *public_jwk,
                      const struct tsr_did_service *services, size_t nservices, json_t **out,
                      struct tsr_diag *d)
{
    json_t *doc = NULL;
    json_t *ctx, *vm, *vms, *auth, *assert_m, *svcs;
    int rc;

    *out = NULL;
    if (did == NULL || !did_syntax_ok(did, strlen(did)))
        return tsr_diag_set(d, TSR_EINVAL, "not a DID");
    rc = check_public_jwk(public_jwk, did, TSR_EINVAL, d);
    if (rc != 0)
        return rc;
    if (nservices > TSR_DID_MAX_SERVICES)
        return tsr_diag_set(d, TSR_ELIMIT, "more than %d services", TSR_DID_MAX_SERVICES);
    for (size_t i = 0; i < nservices; i++) {
        if (!fragment_ok(services[i].fragment) || services[i].type == NULL ||
            services[i].type[0] == '\0' || !endpoint_ok(services[i].endpoint))
            return tsr_diag_set(d, TSR_EINVAL, "service %zu is malformed", i);
    }

    rc = TSR_ENOMEM;
    doc = json_object();
    if (doc == NULL)
        goto out;
    ctx = json_array();
    if (set_new(doc, "@context", ctx) != 0 ||
        append_new(ctx, json_string(TSR_DID_CONTEXT_V1)) != 0 ||
        append_new(ctx, json_string(TSR_DID_CONTEXT_JWS2020)) != 0 ||
        set_new(doc, "id", json_string(did)) != 0)
        goto out;
    vms = json_array();
    vm = json_object();
    if (set_new(doc, "verificationMethod", vms) != 0 || append_new(vms, vm) != 0 ||
        set_new(vm, "id", did_url(did, TSR_DID_KEY_FRAGMENT)) != 0 ||
        set_new(vm, "type", json_string("JsonWebKey2020")) != 0 ||
        set_new(vm, "controller", json_string(did)) != 0 ||
        set_new(vm, "publicKeyJwk", json_deep_copy(public_jwk)) != 0)
        goto out;
    auth = json_array();
    assert_m = json_array();
    if (set_new(doc, "authentication", auth) != 0 ||
        append_new(auth, did_url(did, TSR_DID_KEY_FRAGMENT)) != 0 ||
        set_new(doc, "assertionMethod", assert_m) != 0 ||
        append_new(assert_m, did_url(did, TSR_DID_KEY_FRAGMENT)) != 0)
        goto out;
    if (nservices > 0) {
        svcs = json_array();
        if (set_new(doc, "service", svcs) != 0)
            goto out;
        for (size_t i = 0; i < nservices; i++) {
            json_t *s = json_object();
            if (append_new(svcs, s) != 0 ||
                set_new(s, "id", did_url(did, services[i].fragment)) != 0 ||
                set_new(s, "type", json_string(services[i].type)) != 0 ||
                set_new(s, "serviceEndpoint", json_string(services[i].endpoint)) != 0)
                goto out;
        }
    }
    *out = doc;
    doc = NULL;
    rc = 0;
out:
    json_decref(doc);
    if (rc != 0)
        return tsr_diag_set(d, rc, "out of memory building the DID document");
    return 0;
}

/* ---------------------------------------------------------------- checking */

/*
 * The fragment a verification method id or reference names within the
 * document docid ("#k" or "docid#k"), or NULL when it points elsewhere.
 */
static const char *local_fragment(const char *ref, const char *docid)
{
    size_t n = strlen(docid);

    if (ref[0] == '#')
        return ref[1] != '\0' ? ref + 1 : NULL;
    if (strncmp(ref, docid, n) == 0 && ref[n] == '#' && ref[n + 1] != '\0')
        return ref + n + 1;
    return NULL;
}

static bool ref_syntax_ok(const char *ref)
{
    size_t n = strnlen(ref, TSR_DID_MAX_LEN + 1);
    if (n == 0 || n > TSR_DID_MAX_LEN || !tsr_str_is_printable(ref, n) || strchr(ref, ' '))
        return false;
    if (ref[0] == '#')
        return n > 1;
    const char *hash = strchr(ref, '#');
    return hash != NULL && hash[1] != '\0' && did_syntax_ok(ref, (size_t)(hash - ref));
}

static int check_vm(const json_t *vm, const char *where, struct tsr_diag *d)
{
    const char *id = json_string_value(json_object_get(vm, "id"));
    const char *type = json_string_value(json_object_get(vm, "type"));
    const char *ctl = json_string_value(json_object_get(vm, "controller"));
    const json_t *jwk = json_object_get(vm, "publicKeyJwk");
    const json_t *mb = json_object_get(vm, "publicKeyMultibase");

    if (!json_is_object(vm))
        return tsr_diag_set(d, TSR_EPROTO, "%s: a verification method is not an object", where);
    if (id == NULL || !ref_syntax_ok(id))
        return tsr_diag_set(d, TSR_EPROTO, "%s: a verification method has a bad id", where);
    if (type == NULL || type[0] == '\0')
        return tsr_diag_set(d, TSR_EPROTO, "%s: verification method %s has no type", where, id);
    if (ctl == NULL || !did_syntax_ok(ctl, strlen(ctl)))
        return tsr_diag_set(d, TSR_EPROTO, "%s: verification method %s has a bad controller",
                            where, id);
    if (jwk != NULL && mb != NULL)
        return tsr_diag_set(d, TSR_EPROTO, "%s: verification method %s has two keys", where, id);
    if (mb != NULL && !json_is_string(mb))
        return tsr_diag_set(d, TSR_EPROTO, "%s: bad publicKeyMultibase in %s", where, id);
    if (jwk != NULL)
        return check_public_jwk(jwk, id, TSR_EPROTO, d);
    return 0;
}

static int check_bounded_array(const json_t *a, const char *name, size_t max, struct tsr_diag *d)
{
    if (!json_is_array(a))
        return tsr_diag_set(d, TSR_EPROTO, "DID document: %s is not an array", name);
    if (json_array_size(a) > max)
        return tsr_diag_set(d, TSR_ELIMIT, "DID document: more than %zu entries in %s", max,
                            name);
    return 0;
}

static int check_context(const json_t *ctx, struct tsr_diag *d)
{
    const json_t *first = ctx;

    if (json_is_array(ctx)) {
        if (json_array_size(ctx) == 0 || json_array_size(ctx) > CONTEXT_MAX)
            return tsr_diag_set(d, TSR_EPROTO, "DID document: bad @context size");
        first = json_array_get(ctx, 0);
        size_t i;
        const json_t *v;
        json_array_foreach(ctx, i, v)
        {
            if (!json_is_string(v) && !json_is_object(v))
                return tsr_diag_set(d, TSR_EPROTO, "DID document: bad @context entry");
        }
    }
    /* The DID context comes first (DID Core 6.3.1); v1.1 extends the v1 URL. */
    if (!json_is_string(first) ||
        !tsr_str_startswith(json_string_value(first), TSR_DID_CONTEXT_V1))
        return tsr_diag_set(d, TSR_EPROTO, "DID document: @context does not start with %s",
                            TSR_DID_CONTEXT_V1);
    return 0;
}

int tsr_did_doc_check(const char *did, const json_t *doc, struct tsr_diag *d)
{
    const json_t *v;
    size_t i;
    int rc;

    if (!json_is_object(doc))
        return tsr_diag_set(d, TSR_EPROTO, "DID document is not a JSON object");
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (id == NULL)
        return tsr_diag_set(d, TSR_EPROTO, "DID document has no id");
    if (did == NULL || strcmp(id, did) != 0)
        return tsr_diag_set(d, TSR_EPROTO, "DID document id is not %s", did ? did : "(none)");
    if (!did_syntax_ok(id, strlen(id)))
        return tsr_diag_set(d, TSR_EPROTO, "DID document id is not a DID");

    v = json_object_get(doc, "@context");
    if (v != NULL && (rc = check_context(v, d)) != 0)
        return rc;

    v = json_object_get(doc, "controller");
    if (v != NULL && !json_is_string(v)) {
        rc = check_bounded_array(v, "controller", TSR_DID_MAX_METHODS, d);
        if (rc != 0)
            return rc;
    }

    const json_t *vms = json_object_get(doc, "verificationMethod");
    if (vms != NULL) {
        rc = check_bounded_array(vms, "verificationMethod", TSR_DID_MAX_METHODS, d);
        if (rc != 0)
            return rc;
        json_array_foreach(vms, i, v)
        {
            rc = check_vm(v, did, d);
            if (rc != 0)
                return rc;
            /* Two methods with one id would make a kid ambiguous. */
            const char *fi = local_fragment(json_string_value(json_object_get(v, "id")), did);
            for (size_t j = 0; fi != NULL && j < i; j++) {
                const json_t *o = json_array_get(vms, j);
                const char *fj = local_fragment(json_string_value(json_object_get(o, "id")), did);
                if (fj != NULL && strcmp(fi, fj) == 0)
                    return tsr_diag_set(d, TSR_EPROTO, "DID document: duplicate method #%s", fi);
            }
        }
    }

    for (size_t r = 0; r < TSR_ARRAY_SIZE(relationships); r++) {
        const json_t *rel = json_object_get(doc, relationships[r]);
        if (rel == NULL)
            continue;
        rc = check_bounded_array(rel, relationships[r], TSR_DID_MAX_METHODS, d);
        if (rc != 0)
            return rc;
        json_array_foreach(rel, i, v)
        {
            if (json_is_string(v)) {
                if (!ref_syntax_ok(json_string_value(v)))
                    return tsr_diag_set(d, TSR_EPROTO, "DID document: bad reference in %s",
                                        relationships[r]);
            } else if ((rc = check_vm(v, did, d)) != 0) {
                return rc;
            }
        }
    }

    const json_t *svcs = json_object_get(doc, "service");
    if (svcs != NULL) {
        rc = check_bounded_array(svcs, "service", TSR_DID_MAX_SERVICES, d);
        if (rc != 0)
            return rc;
        json_array_foreach(svcs, i, v)
        {
            const json_t *type = json_object_get(v, "type");
            const json_t *ep = json_object_get(v, "serviceEndpoint");
            if (!json_is_object(v) || !json_is_string(json_object_get(v, "id")) ||
                (!json_is_string(type) && !json_is_array(type)) ||
                (!json_is_string(ep) && !json_is_object(ep) && !json_is_array(ep)))
                return tsr_diag_set(d, TSR_EPROTO, "DID document: service %zu is malformed", i);
        }
    }

    v = json_object_get(doc, "alsoKnownAs");
    if (v != NULL) {
        rc = check_bounded_array(v, "alsoKnownAs", TSR_DID_MAX_METHODS, d);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int tsr_did_doc_parse(const char *did, const char *text, size_t len, json_t **out,
                      struct tsr_diag *d)
{
    json_error_t err;
    json_t *doc;
    int rc;

    *out = NULL;
    if (len > TSR_DID_DOC_MAX)
        return tsr_diag_set(d, TSR_ELIMIT, "DID document larger than %u bytes", TSR_DID_DOC_MAX);
    if (text == NULL)
        return tsr_diag_set(d, TSR_EPROTO, "empty DID document");
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (doc == NULL)
        return tsr_diag_set(d, TSR_EPROTO, "DID document is not valid JSON: line %d: %s",
                            err.line, err.text);
    rc = tsr_did_doc_check(did, doc, d);
    if (rc != 0) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return 0;
}

/* ---------------------------------------------------------------- lookup */

/* The method object with fragment frag among the objects of arr, or NULL. */
static const json_t *find_method(const json_t *arr, const char *docid, const char *frag)
{
    size_t i;
    const json_t *v;

    json_array_foreach(arr, i, v)
    {
        const char *id = json_string_value(json_object_get(v, "id"));
        const char *f = id != NULL ? local_fragment(id, docid) : NULL;
        if (f != NULL && strcmp(f, frag) == 0)
            return v;
    }
    return NULL;
}

/* True when arr references (or embeds) the method with fragment frag. */
static bool lists_method(const json_t *arr, const char *docid, const char *frag)
{
    size_t i;
    const json_t *v;

    json_array_foreach(arr, i, v)
    {
        const char *ref = json_is_string(v) ? json_string_value(v)
                                            : json_string_value(json_object_get(v, "id"));
        const char *f = ref != NULL ? local_fragment(ref, docid) : NULL;
        if (f != NULL && strcmp(f, frag) == 0)
            return true;
    }
    return false;
}

int tsr_did_doc_find_jwk(const json_t *doc, const char *kid, const char *relationship,
                         const json_t **jwk, struct tsr_diag *d)
{
    const char *docid = json_string_value(json_object_get(doc, "id"));
    const json_t *vm = NULL;
    const char *frag;

    *jwk = NULL;
    if (docid == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "not a DID document");
    if (kid == NULL || kid[0] == '\0' || strnlen(kid, TSR_DID_MAX_LEN + 1) > TSR_DID_MAX_LEN)
        return tsr_diag_set(d, TSR_EINVAL, "empty or overlong key id");
    if (relationship != NULL) {
        bool known = false;
        for (size_t i = 0; i < TSR_ARRAY_SIZE(relationships); i++)
            known = known || strcmp(relationship, relationships[i]) == 0;
        if (!known)
            return tsr_diag_set(d, TSR_EINVAL, "unknown verification relationship %s",
                                relationship);
    }
    if (strchr(kid, '#') != NULL && kid[0] != '#') {
        frag = local_fragment(kid, docid);
        if (frag == NULL)
            return tsr_diag_set(d, TSR_ENOTFOUND, "key %s does not belong to %s", kid, docid);
    } else {
        frag = kid[0] == '#' ? kid + 1 : kid;
    }
    if (frag[0] == '\0' || strchr(frag, '#') != NULL)
        return tsr_diag_set(d, TSR_EINVAL, "malformed key id %s", kid);

    if (relationship != NULL) {
        const json_t *rel = json_object_get(doc, relationship);
        if (!json_is_array(rel) || !lists_method(rel, docid, frag))
            return tsr_diag_set(d, TSR_ENOTFOUND, "%s: key #%s is not listed in %s", docid,
                                frag, relationship);
        vm = find_method(rel, docid, frag);
    }
    if (vm == NULL) {
        const json_t *vms = json_object_get(doc, "verificationMethod");
        if (json_is_array(vms))
            vm = find_method(vms, docid, frag);
    }
    for (size_t i = 0; vm == NULL && relationship == NULL && i < TSR_ARRAY_SIZE(relationships);
         i++) {
        const json_t *rel = json_object_get(doc, relationships[i]);
        if (json_is_array(rel))
            vm = find_method(rel, docid, frag);
    }
    if (vm == NULL)
        return tsr_diag_set(d, TSR_ENOTFOUND, "%s has no verification method #%s", docid, frag);
    const json_t *k = json_object_get(vm, "publicKeyJwk");
    if (!json_is_object(k))
        return tsr_diag_set(d, TSR_ENOTFOUND, "%s#%s has no publicKeyJwk", docid, frag);
    *jwk = k;
    return 0;
}
