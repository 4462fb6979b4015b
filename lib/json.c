/*
 * lib/json.c: bounded JSON parsing (a byte pre-scan, then jansson),
 * typed getters with path-naming errors, bounded serialisation and atomic
 * state files.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/buf.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/mem.h"

/* The largest state file tsr_json_write_file produces. */
#define WRITE_FILE_MAX (TSR_JSON_DEFAULT_MAX_BYTES * 64)

static void fill_limits(const struct tsr_json_limits *lim, struct tsr_json_limits *eff)
{
    *eff = TSR_JSON_LIMITS_DEFAULT;
    if (lim == NULL)
        return;
    if (lim->max_bytes != 0)
        eff->max_bytes = lim->max_bytes;
    if (lim->max_depth != 0)
        eff->max_depth = lim->max_depth;
    if (lim->max_members != 0)
        eff->max_members = lim->max_members;
    if (lim->max_string != 0)
        eff->max_string = lim->max_string;
    if (eff->max_depth > TSR_JSON_MAX_DEPTH_CAP)
        eff->max_depth = TSR_JSON_MAX_DEPTH_CAP;
}

/* 1-based line and column (in bytes) of offset off in buf. */
static void position(const char *buf, size_t off, size_t *line, size_t *col)
{
    const char *nl;
    size_t start = 0;

    *line = 1;
    for (size_t i = 0; i < off; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            start = i + 1;
        }
    }
    nl = buf + start;
    *col = (size_t)(buf + off - nl) + 1;
}

static int scan_limit(struct tsr_diag *d, const char *buf, size_t off, const char *what,
                      size_t limit)
{
    size_t line, col;

    position(buf, off, &line, &col);
    return tsr_diag_set(d, TSR_ELIMIT, "line %zu, column %zu: %s (limit %zu)", line, col, what,
                        limit);
}

/*
 * Walk the raw bytes once, tracking only strings, nesting and commas, so
 * that limits are enforced before jansson recurses or allocates.  Syntax
 * is not checked here: a malformed document that stays within the limits
 * passes, and jansson reports the syntax error.
 */
static int prescan(const char *buf, size_t len, const struct tsr_json_limits *lim,
                   struct tsr_diag *d)
{
    size_t *members = NULL; /* members[i]: elements seen so far at depth i+1 */
    size_t depth = 0, slen = 0, sstart = 0;
    bool in_str = false;
    int rc = 0;

    members = tsr_calloc(lim->max_depth, sizeof(*members));
    if (members == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];

        if (in_str) {
            if (c == '"') {
                in_str = false;
                continue;
            }
            if (c == '\\' && i + 1 < len) {
                i++;
                slen++;
            }
            if (++slen > lim->max_string) {
                rc = scan_limit(d, buf, sstart, "string too long", lim->max_string);
                goto out;
            }
            continue;
        }
        switch (c) {
        case ' ':
        case '\t':
        case '\n':
        case '\r':
            continue;
        case ',':
            if (depth > 0 && ++members[depth - 1] > lim->max_members) {
                rc = scan_limit(d, buf, i, "too many members", lim->max_members);
                goto out;
            }
            continue;
        case ']':
        case '}':
            if (depth > 0)
                depth--;
            continue;
        default:
            break;
        }
        /* Any other byte begins or continues a value: the container is not empty. */
        if (depth > 0 && members[depth - 1] == 0)
            members[depth - 1] = 1;
        if (c == '"') {
            in_str = true;
            slen = 0;
            sstart = i;
        } else if (c == '[' || c == '{') {
            if (depth == lim->max_depth) {
                rc = scan_limit(d, buf, i, "nested too deeply", lim->max_depth);
                goto out;
            }
            members[depth++] = 0;
        }
    }
out:
    tsr_free(members);
    return rc;
}

int tsr_json_parse(const char *buf, size_t len, const struct tsr_json_limits *lim, json_t **out,
                   struct tsr_diag *d)
{
    struct tsr_json_limits eff;
    json_error_t err;
    int rc;

    *out = NULL;
    fill_limits(lim, &eff);
    if (len > eff.max_bytes)
        return tsr_diag_set(d, TSR_ELIMIT, "document of %zu bytes is too large (limit %zu)", len,
                            eff.max_bytes);
    rc = prescan(buf, len, &eff, d);
    if (rc != 0)
        return rc;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (j == NULL) {
        if (json_error_code(&err) == json_error_out_of_memory)
            return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        return tsr_diag_set(d, TSR_EINVAL, "line %d, column %d: %s", err.line, err.column,
                            err.text);
    }
    *out = j;
    return 0;
}

/* ------------------------------------------------------------ getters */

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown type";
}

/* Array index per RFC 6901: "0" or digits without a leading zero. */
static bool pointer_index(const char *tok, size_t *idx)
{
    size_t v = 0;

    if (tok[0] == '\0' || (tok[0] == '0' && tok[1] != '\0'))
        return false;
    for (const char *p = tok; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > (SIZE_MAX - 9) / 10)
            return false;
        v = v * 10 + (size_t)(*p - '0');
    }
    *idx = v;
    return true;
}

/*
 * Resolve key (a member name, or a JSON Pointer when it starts with '/')
 * in obj.  *val is NULL when absent.  Returns 0 or TSR_ENOMEM.
 */
static int lookup(const json_t *obj, const char *key, json_t **val)
{
    char *copy, *tok;
    json_t *cur = (json_t *)obj;

    *val = NULL;
    if (key[0] != '/') {
        if (json_is_object(obj))
            *val = json_object_get(obj, key);
        return 0;
    }
    copy = tsr_strdup(key + 1);
    if (copy == NULL)
        return TSR_ENOMEM;
    tok = copy;
    for (;;) {
        char *slash = strchr(tok, '/');
        char *w = tok;
        size_t idx;

        if (slash != NULL)
            *slash = '\0';
        /* Undo the RFC 6901 escapes in place: "~1" is '/', "~0" is '~'. */
        for (char *r = tok; *r != '\0'; r++) {
            if (r[0] == '~' && (r[1] == '0' || r[1] == '1')) {
                *w++ = r[1] == '1' ? '/' : '~';
                r++;
            } else {
                *w++ = *r;
            }
        }
        *w = '\0';
        if (json_is_object(cur))
            cur = json_object_get(cur, tok);
        else if (json_is_array(cur) && pointer_index(tok, &idx))
            cur = json_array_get(cur, idx);
        else
            cur = NULL;
        if (cur == NULL || slash == NULL)
            break;
        tok = slash + 1;
    }
    tsr_free(copy);
    *val = cur;
    return 0;
}

/*
 * The common part of the getters: find key, treat null as absent, check
 * the type with is_type.  *val is NULL when absent and optional.
 */
static int get_typed(const json_t *obj, const char *key, bool required, bool (*is_type)(json_type),
                     const char *want, json_t **val, struct tsr_diag *d)
{
    json_t *v;

    *val = NULL; /* on every error too: callers test it with the return code */
    if (lookup(obj, key, &v) != 0)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    if (v == NULL || json_is_null(v)) {
        if (required)
            return tsr_diag_set(d, TSR_EINVAL, "missing required member \"%s\"", key);
        return 0;
    }
    if (!is_type(json_typeof(v))) {
        return tsr_diag_set(d, TSR_EINVAL, "member \"%s\": expected %s, got %s", key, want,
                            type_name(v));
    }
    *val = v;
    return 0;
}

static bool type_is_string(json_type t)
{
    return t == JSON_STRING;
}

static bool type_is_integer(json_type t)
{
    return t == JSON_INTEGER;
}

static bool type_is_bool(json_type t)
{
    return t == JSON_TRUE || t == JSON_FALSE;
}

static bool type_is_object(json_type t)
{
    return t == JSON_OBJECT;
}

static bool type_is_array(json_type t)
{
    return t == JSON_ARRAY;
}

int tsr_json_get_str(const json_t *obj, const char *key, bool required, const char **out,
                     struct tsr_diag *d)
{
    json_t *v;
    int rc = get_typed(obj, key, required, type_is_string, "a string", &v, d);

    if (rc == 0 && v != NULL)
        *out = json_string_value(v);
    return rc;
}

int tsr_json_get_int(const json_t *obj, const char *key, bool required, int64_t *out,
                     struct tsr_diag *d)
{
    json_t *v;
    int rc = get_typed(obj, key, required, type_is_integer, "an integer", &v, d);

    if (rc == 0 && v != NULL)
        *out = (int64_t)json_integer_value(v);
    return rc;
}

int tsr_json_get_int_range(const json_t *obj, const char *key, bool required, int64_t min,
                           int64_t max, int64_t *out, struct tsr_diag *d)
{
    json_t *v;
    int rc = get_typed(obj, key, required, type_is_integer, "an integer", &v, d);

    if (rc != 0 || v == NULL)
        return rc;
    json_int_t n = json_integer_value(v);
    if (n < min || n > max) {
        return tsr_diag_set(d, TSR_ERANGE, "member \"%s\": %lld is outside %lld..%lld", key,
                            (long long)n, (long long)min, (long long)max);
    }
    *out = (int64_t)n;
    return 0;
}

int tsr_json_get_bool(const json_t *obj, const char *key, bool required, bool *out,
                      struct tsr_diag *d)
{
    json_t *v;
    int rc = get_typed(obj, key, required, type_is_bool, "a boolean", &v, d);

    if (rc == 0 && v != NULL)
        *out = json_is_true(v);
    return rc;
}

int tsr_json_get_obj(const json_t *obj, const char *key, bool required, json_t **out,
                     struct tsr_diag *d)
{
    json_t *v;
    int rc = get_typed(obj, key, required, type_is_object, "an object", &v, d);

    if (rc == 0 && v != NULL)
        *out = v;
    return rc;
}

int tsr_json_get_array(const json_t *obj, const char *key, bool required, json_t **out,
                       struct tsr_diag *d)
{
    json_t *v;
    int rc = get_typed(obj, key, required, type_is_array, "an array", &v, d);

    if (rc == 0 && v != NULL)
        *out = v;
    return rc;
}

/* ------------------------------------------------------------ output */

struct dump_ctx {
    struct tsr_buf buf;
    int rc; /* why the callback gave up */
};

static int dump_cb(const char *p, size_t n, void *arg)
{
    struct dump_ctx *c = arg;
    int rc = tsr_buf_add(&c->buf, p, n);

    if (rc != 0) {
        c->rc = rc;
        return -1;
    }
    return 0;
}

int tsr_json_dumps(const json_t *j, size_t flags, size_t max, char **out, size_t *len)
{
    struct dump_ctx c;

    *out = NULL;
    if (len != NULL)
        *len = 0;
    if ((flags & JSON_MAX_INDENT) == 0)
        flags |= JSON_COMPACT;
    tsr_buf_init(&c.buf, max);
    c.rc = TSR_EINVAL;
    if (json_dump_callback(j, dump_cb, &c, flags | JSON_ENCODE_ANY) != 0) {
        tsr_buf_cleanup(&c.buf);
        /* dump_cb stores failures only, so this is never 0: no success without text. */
        return c.rc != 0 ? c.rc : TSR_EINVAL;
    }
    *out = tsr_buf_steal(&c.buf, len);
    tsr_buf_cleanup(&c.buf);
    return *out == NULL ? TSR_ENOMEM : 0;
}

int tsr_json_write_file(const char *path, const json_t *j, struct tsr_diag *d)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    rc = tsr_json_dumps(j, JSON_INDENT(2), WRITE_FILE_MAX - 1, &text, &len);
    if (rc != 0)
        return tsr_diag_set(d, rc, "%s: cannot serialise JSON: %s", path, tsr_strerror(rc));
    text[len] = '\n'; /* replaces the NUL; the length is tracked */
    /* The one atomic writer (temporary file, fsync, rename, fsync of the folder). */
    rc = tsr_crypto_write_file(path, text, len + 1, 0600, d);
    tsr_free(text);
    return rc;
}

int tsr_json_read_file(const char *path, const struct tsr_json_limits *lim, json_t **out,
                       struct tsr_diag *d)
{
    struct tsr_json_limits eff;
    struct stat st;
    char *data = NULL;
    size_t len = 0;
    int fd = -1;
    int rc;

    *out = NULL;
    fill_limits(lim, &eff);
    /* O_NONBLOCK: opening a FIFO planted at path must not hang us. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        rc = tsr_diag_set(d, errno == ENOENT ? TSR_ENOTFOUND : TSR_EIO, "%s: %s", path,
                          strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = tsr_diag_set(d, TSR_EIO, "%s: not a regular file", path);
        goto out;
    }
    if ((uintmax_t)st.st_size > eff.max_bytes) {
        rc = tsr_diag_set(d, TSR_ELIMIT, "%s: file of %jd bytes is too large (limit %zu)", path,
                          (intmax_t)st.st_size, eff.max_bytes);
        goto out;
    }
    /* One byte more than fstat said, to notice a file that grew meanwhile. */
    size_t cap = (size_t)st.st_size + 1;
    data = tsr_malloc(cap);
    if (data == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    while (len < cap) {
        ssize_t r = read(fd, data + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = tsr_diag_set(d, TSR_EIO, "%s: read failed: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (len == cap) {
        rc = tsr_diag_set(d, TSR_EIO, "%s: file changed while being read", path);
        goto out;
    }
    rc = tsr_json_parse(data, len, &eff, out, d);
    if (rc != 0)
        tsr_diag_prefix(d, "%s", path);
out:
    if (fd >= 0)
        close(fd);
    tsr_free(data);
    return rc;
}
