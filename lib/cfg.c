/*
 * lib/cfg.c: tessera.conf(5) loading (defaults, file, environment),
 * printing of the effective configuration and of the key reference.
 *
 * The file is read whole (it is small and bounded) and parsed line by
 * line into a fixed line buffer.  Values are written straight into the
 * caller's struct; on any error the whole struct is emptied again, which
 * is what makes loading all-or-nothing.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/cfg.h"
#include "lib/mem.h"
#include "lib/str.h"

/* Names longer than this are never suggested for (nor compared with) a typo. */
#define SUGGEST_NAME_MAX 64
/* Environment variable names we build; the table's names are short. */
#define ENV_NAME_MAX 256

struct loader {
    const struct tsr_cfg_key *t;
    size_t n;
    void *out;
    struct tsr_diag *d;
    const char *file; /* the path as given, for messages; NULL without a file */
    char *dir;        /* absolute base for relative paths, computed on first use */
    unsigned *line;   /* per key: the file line that first set it, 0 if none */
    bool *from_env;   /* per key: the environment set it */
};

static void *field(void *out, const struct tsr_cfg_key *k)
{
    return (char *)out + k->offset;
}

static const void *cfield(const void *cfg, const struct tsr_cfg_key *k)
{
    return (const char *)cfg + k->offset;
}

static bool is_secret(const struct tsr_cfg_key *k)
{
    return (k->flags & TSR_CFG_SECRET) != 0;
}

static bool bounded(const struct tsr_cfg_key *k)
{
    return k->min != 0 || k->max != 0;
}

/* "[server] listen", or "listen" for a key outside any section. */
static const char *label(const struct tsr_cfg_key *k, char *buf, size_t size)
{
    if (k->section[0] == '\0')
        snprintf(buf, size, "%s", k->name);
    else
        snprintf(buf, size, "[%s] %s", k->section, k->name);
    return buf;
}

static void free_str(const struct tsr_cfg_key *k, char **s)
{
    if (is_secret(k))
        tsr_free_secret(*s);
    else
        tsr_free(*s);
    *s = NULL;
}

static void list_clear(const struct tsr_cfg_key *k, struct tsr_cfg_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free_str(k, &l->items[i]);
    tsr_free(l->items);
    l->items = NULL;
    l->n = 0;
}

void tsr_cfg_free(const struct tsr_cfg_key *table, size_t n, void *out_struct)
{
    if (table == NULL || out_struct == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct tsr_cfg_key *k = &table[i];
        void *f = field(out_struct, k);

        switch (k->type) {
        case TSR_CFG_STRING:
        case TSR_CFG_PATH: free_str(k, f); break;
        case TSR_CFG_LIST: list_clear(k, f); break;
        case TSR_CFG_INT: *(long long *)f = 0; break;
        case TSR_CFG_BOOL: *(bool *)f = false; break;
        case TSR_CFG_SIZE:
        case TSR_CFG_DURATION: *(uint64_t *)f = 0; break;
        case TSR_CFG_ENUM: *(int *)f = 0; break;
        }
    }
}

int tsr_cfg_env_name(const struct tsr_cfg_key *key, char *buf, size_t size)
{
    struct tsr_buf b;
    int rc;

    tsr_buf_init(&b, size > 0 ? size - 1 : 0);
    if (key->section[0] == '\0')
        rc = tsr_buf_addf(&b, "%s%s", TSR_CFG_ENV_PREFIX, key->name);
    else
        rc = tsr_buf_addf(&b, "%s%s_%s", TSR_CFG_ENV_PREFIX, key->section, key->name);
    if (rc == 0) {
        for (char *p = b.data; *p != '\0'; p++) {
            if (*p == '-' || *p == '.')
                *p = '_';
            else if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        }
        memcpy(buf, b.data, b.len + 1);
    }
    tsr_buf_cleanup(&b);
    return rc == 0 ? 0 : TSR_ELIMIT;
}

/* ------------------------------------------------------------ formatting */

static void fmt_size(uint64_t v, char *buf, size_t size)
{
    static const struct {
        unsigned shift;
        char unit;
    } units[] = {{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'k'}};

    for (size_t i = 0; i < TSR_ARRAY_SIZE(units); i++) {
        uint64_t u = (uint64_t)1 << units[i].shift;
        if (v != 0 && v % u == 0) {
            snprintf(buf, size, "%llu%c", (unsigned long long)(v / u), units[i].unit);
            return;
        }
    }
    snprintf(buf, size, "%llu", (unsigned long long)v);
}

static void fmt_duration(uint64_t ms, char *buf, size_t size)
{
    static const struct {
        uint64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};

    if (ms == 0) {
        snprintf(buf, size, "0s");
        return;
    }
    for (size_t i = 0; i < TSR_ARRAY_SIZE(units); i++) {
        if (ms % units[i].ms == 0) {
            snprintf(buf, size, "%llu%s", (unsigned long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    }
    snprintf(buf, size, "%llums", (unsigned long long)ms);
}

/* A bound or value of a numeric key, in the key's own units. */
static void fmt_num(const struct tsr_cfg_key *k, long long v, char *buf, size_t size)
{
    if (k->type == TSR_CFG_SIZE)
        fmt_size((uint64_t)v, buf, size);
    else if (k->type == TSR_CFG_DURATION)
        fmt_duration((uint64_t)v, buf, size);
    else
        snprintf(buf, size, "%lld", v);
}

static const char *fmt_range(const struct tsr_cfg_key *k, char *buf, size_t size)
{
    char lo[32], hi[32];

    fmt_num(k, k->min, lo, sizeof(lo));
    fmt_num(k, k->max, hi, sizeof(hi));
    snprintf(buf, size, "%s..%s", lo, hi);
    return buf;
}

/* ------------------------------------------------------------ values */

/* Control characters other than tab would garble logs and terminals. */
static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return true;
    }
    return false;
}

/* Secrets never appear in messages. */
static const char *shown(const struct tsr_cfg_key *k, const char *val)
{
    return is_secret(k) ? "(secret)" : val;
}

static int out_of_range(const struct tsr_cfg_key *k, const char *val, struct tsr_diag *d)
{
    char range[80];

    return tsr_diag_set(d, TSR_ERANGE, "\"%s\" is out of range (allowed %s)", shown(k, val),
                        fmt_range(k, range, sizeof(range)));
}

static int set_number(const struct tsr_cfg_key *k, void *f, const char *val, struct tsr_diag *d)
{
    uint64_t u = 0;
    long long ll = 0;
    int rc;

    switch (k->type) {
    case TSR_CFG_INT:
        rc = tsr_parse_ll(val, LLONG_MIN, LLONG_MAX, &ll);
        if (rc == TSR_ERANGE)
            return out_of_range(k, val, d);
        if (rc != 0)
            return tsr_diag_set(d, TSR_EINVAL, "\"%s\" is not an integer", shown(k, val));
        if (bounded(k) && (ll < k->min || ll > k->max))
            return out_of_range(k, val, d);
        *(long long *)f = ll;
        return 0;
    case TSR_CFG_SIZE:
        rc = tsr_parse_size(val, UINT64_MAX, &u);
        if (rc == 0 && bounded(k) && (u < (uint64_t)k->min || u > (uint64_t)k->max))
            rc = TSR_ERANGE;
        if (rc == TSR_ERANGE)
            return out_of_range(k, val, d);
        if (rc != 0) {
            return tsr_diag_set(d, TSR_EINVAL, "\"%s\" is not a size (like 512, 64k, 1M, 2G)",
                                shown(k, val));
        }
        *(uint64_t *)f = u;
        return 0;
    case TSR_CFG_DURATION:
        rc = tsr_parse_duration_ms(val, UINT64_MAX, &u);
        if (rc == 0 && bounded(k) && (u < (uint64_t)k->min || u > (uint64_t)k->max))
            rc = TSR_ERANGE;
        if (rc == TSR_ERANGE)
            return out_of_range(k, val, d);
        if (rc != 0) {
            return tsr_diag_set(d, TSR_EINVAL,
                                "\"%s\" is not a duration (like 250ms, 30s, 5m, 1h, 1d)",
                                shown(k, val));
        }
        *(uint64_t *)f = u;
        return 0;
    default:
        return tsr_diag_set(d, TSR_EINTERNAL, "not a numeric key");
    }
}

static int set_enum(const struct tsr_cfg_key *k, int *f, const char *val, struct tsr_diag *d)
{
    struct tsr_buf words;
    int rc;

    for (int i = 0; k->enum_values[i] != NULL; i++) {
        if (strcasecmp(val, k->enum_values[i]) == 0) {
            *f = i;
            return 0;
        }
    }
    tsr_buf_init(&words, TSR_DIAG_MAX);
    for (int i = 0; k->enum_values[i] != NULL; i++)
        (void)tsr_buf_addf(&words, "%s%s", i > 0 ? ", " : "", k->enum_values[i]);
    rc = tsr_diag_set(d, TSR_EINVAL, "\"%s\" is not one of: %s", shown(k, val),
                      tsr_buf_str(&words));
    tsr_buf_cleanup(&words);
    return rc;
}

/* The directory relative paths are resolved against, made absolute. */
static int base_dir(struct loader *ld)
{
    char cwd[PATH_MAX];
    struct tsr_buf b;
    const char *slash = ld->file != NULL ? strrchr(ld->file, '/') : NULL;
    int rc;

    if (ld->dir != NULL)
        return 0;
    tsr_buf_init(&b, PATH_MAX);
    if (ld->file != NULL && ld->file[0] == '/') {
        /* slash is not NULL here; "/x.conf" lives in "/". */
        rc = slash == ld->file ? tsr_buf_adds(&b, "/")
                               : tsr_buf_add(&b, ld->file, (size_t)(slash - ld->file));
    } else {
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            tsr_buf_cleanup(&b);
            return tsr_diag_set(ld->d, TSR_EIO, "cannot get the current directory: %s",
                                strerror(errno));
        }
        rc = tsr_buf_adds(&b, cwd);
        if (rc == 0 && slash != NULL) {
            rc = tsr_buf_adds(&b, "/");
            if (rc == 0)
                rc = tsr_buf_add(&b, ld->file, (size_t)(slash - ld->file));
        }
    }
    if (rc == 0) {
        ld->dir = tsr_buf_steal(&b, NULL);
        if (ld->dir == NULL)
            rc = TSR_ENOMEM;
    }
    tsr_buf_cleanup(&b);
    if (rc != 0)
        return tsr_diag_set(ld->d, rc, "configuration directory: %s", tsr_strerror(rc));
    return 0;
}

static int make_path(struct loader *ld, const char *val, char **out)
{
    struct tsr_buf b;
    int rc;

    if (val[0] == '/' || val[0] == '\0') {
        *out = tsr_strdup(val);
        return *out == NULL ? tsr_diag_set(ld->d, TSR_ENOMEM, "out of memory") : 0;
    }
    rc = base_dir(ld);
    if (rc != 0)
        return rc;
    while (val[0] == '.' && val[1] == '/')
        val += 2;
    tsr_buf_init(&b, PATH_MAX);
    rc = tsr_buf_addf(&b, "%s%s%s", ld->dir, strcmp(ld->dir, "/") == 0 ? "" : "/", val);
    if (rc == 0) {
        *out = tsr_buf_steal(&b, NULL);
        if (*out == NULL)
            rc = TSR_ENOMEM;
    }
    tsr_buf_cleanup(&b);
    if (rc == TSR_ELIMIT)
        return tsr_diag_set(ld->d, rc, "path too long (limit %d bytes)", PATH_MAX);
    if (rc != 0)
        return tsr_diag_set(ld->d, rc, "out of memory");
    return 0;
}

static int list_add(const struct tsr_cfg_key *k, struct tsr_cfg_list *l, const char *item,
                    size_t len, struct tsr_diag *d)
{
    char **items;
    char *s = tsr_strndup(item, len);

    if (s == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    /* One slot more than needed: the list stays NULL-terminated, so it can be
     * handed to APIs that take a NULL-terminated array. */
    items = tsr_realloc(l->items, (l->n + 2) * sizeof(*items));
    if (items == NULL) {
        free_str(k, &s);
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    }
    l->items = items;
    l->items[l->n++] = s;
    l->items[l->n] = NULL;
    return 0;
}

static int set_list(const struct tsr_cfg_key *k, struct tsr_cfg_list *l, const char *val,
                    bool quoted, bool append, struct tsr_diag *d)
{
    if (!append)
        list_clear(k, l);
    if (quoted)
        return list_add(k, l, val, strlen(val), d);
    for (const char *p = val; *p != '\0';) {
        size_t len = strcspn(p, ", \t");
        if (len > 0) {
            int rc = list_add(k, l, p, len, d);
            if (rc != 0)
                return rc;
        }
        p += len;
        if (*p != '\0')
            p++;
    }
    return 0;
}

/*
 * Store val (already unquoted) into k's field, replacing what was there
 * (for lists: appending when append).  The message in d says what is
 * wrong with the value; the caller adds where it came from.
 */
static int set_value(struct loader *ld, const struct tsr_cfg_key *k, const char *val,
                     bool quoted, bool append)
{
    struct tsr_diag *d = ld->d;
    void *f = field(ld->out, k);
    char *s = NULL;
    int rc;

    if (has_control(val))
        return tsr_diag_set(d, TSR_EINVAL, "control character in the value");
    switch (k->type) {
    case TSR_CFG_STRING:
    case TSR_CFG_PATH: {
        size_t len = strlen(val);
        if (bounded(k) && (len < (unsigned long long)k->min || len > (unsigned long long)k->max)) {
            return tsr_diag_set(d, TSR_ERANGE, "value of %zu bytes (allowed %lld..%lld)", len,
                                k->min, k->max);
        }
        if (k->type == TSR_CFG_PATH) {
            rc = make_path(ld, val, &s);
            if (rc != 0)
                return rc;
        } else {
            s = tsr_strdup(val);
            if (s == NULL)
                return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        }
        free_str(k, f);
        *(char **)f = s;
        return 0;
    }
    case TSR_CFG_BOOL:
        if (tsr_parse_bool(val, f) != 0) {
            return tsr_diag_set(d, TSR_EINVAL,
                                "\"%s\" is not a boolean (use yes/no, true/false, on/off, 1/0)",
                                shown(k, val));
        }
        return 0;
    case TSR_CFG_INT:
    case TSR_CFG_SIZE:
    case TSR_CFG_DURATION: return set_number(k, f, val, d);
    case TSR_CFG_ENUM: return set_enum(k, f, val, d);
    case TSR_CFG_LIST: return set_list(k, f, val, quoted, append, d);
    }
    return tsr_diag_set(d, TSR_EINTERNAL, "unknown key type %d", (int)k->type);
}

/* ------------------------------------------------------------ the file */

/* Optimal string alignment distance, or SIZE_MAX when obviously above 2. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t m[SUGGEST_NAME_MAX + 1][SUGGEST_NAME_MAX + 1];
    size_t la = strlen(a), lb = strlen(b);

    if (la > SUGGEST_NAME_MAX || lb > SUGGEST_NAME_MAX || (la > lb ? la - lb : lb - la) > 2)
        return SIZE_MAX;
    for (size_t i = 0; i <= la; i++)
        m[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        m[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = TSR_MIN(m[i - 1][j] + 1, m[i][j - 1] + 1);
            v = TSR_MIN(v, m[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                v = TSR_MIN(v, m[i - 2][j - 2] + 1);
            m[i][j] = v;
        }
    }
    return m[la][lb];
}

/*
 * The one name of the table within edit distance 2 of name and nearer
 * than any other: a key of section, or (section NULL) a section name.
 */
static const char *suggest(const struct loader *ld, const char *section, const char *name)
{
    const char *best = NULL;
    size_t best_dist = 3;
    bool tie = false;

    for (size_t i = 0; i < ld->n; i++) {
        const struct tsr_cfg_key *k = &ld->t[i];
        const char *cand = section == NULL ? k->section : k->name;

        if (section != NULL && strcmp(k->section, section) != 0)
            continue;
        if (cand[0] == '\0' || (best != NULL && strcmp(cand, best) == 0))
            continue;
        size_t dist = edit_distance(name, cand);
        if (dist < best_dist) {
            best = cand;
            best_dist = dist;
            tie = false;
        } else if (dist == best_dist) {
            tie = true;
        }
    }
    return tie ? NULL : best;
}

static const char *find_section(const struct loader *ld, const char *name)
{
    for (size_t i = 0; i < ld->n; i++) {
        if (strcmp(ld->t[i].section, name) == 0)
            return ld->t[i].section;
    }
    return NULL;
}

static size_t find_key(const struct loader *ld, const char *section, const char *name)
{
    for (size_t i = 0; i < ld->n; i++) {
        if (strcmp(ld->t[i].section, section) == 0 && strcmp(ld->t[i].name, name) == 0)
            return i;
    }
    return SIZE_MAX;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool at_comment(const char *p)
{
    return *p == '\0' || *p == '#' || *p == ';';
}

/* Unquote in place the value starting at the '"' of s. */
static int unquote(char *s, struct tsr_diag *d)
{
    char *r = s + 1, *w = s;

    for (;;) {
        if (*r == '\0')
            return tsr_diag_set(d, TSR_EINVAL, "unterminated quoted value");
        if (*r == '"')
            break;
        if (*r == '\\') {
            if (r[1] != '"' && r[1] != '\\') {
                return tsr_diag_set(d, TSR_EINVAL,
                                    "unknown escape in quoted value (only \\\" and \\\\)");
            }
            r++;
        }
        *w++ = *r++;
    }
    *w = '\0';
    for (r++; is_blank(*r); r++)
        ;
    if (!at_comment(r))
        return tsr_diag_set(d, TSR_EINVAL, "unexpected text after the closing quote");
    return 0;
}

/* Cut an unquoted value at an inline comment (a '#' or ';' after a blank) and trim it. */
static void strip_comment(char *s)
{
    for (char *p = s; *p != '\0'; p++) {
        if ((*p == '#' || *p == ';') && (p == s || is_blank(p[-1]))) {
            *p = '\0';
            break;
        }
    }
    tsr_str_trim(s);
}

static bool valid_name(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static int parse_section(struct loader *ld, char *line, const char **cur)
{
    struct tsr_diag *d = ld->d;
    char *close = strchr(line, ']');
    const char *sec, *hint;

    if (close == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "missing ']' in section header");
    *close = '\0';
    char *after = close + 1;
    while (is_blank(*after))
        after++;
    if (!at_comment(after))
        return tsr_diag_set(d, TSR_EINVAL, "unexpected text after ']'");
    char *name = tsr_str_trim(line + 1);
    if (!valid_name(name))
        return tsr_diag_set(d, TSR_EINVAL, "invalid section name \"%s\"", name);
    sec = find_section(ld, name);
    if (sec == NULL) {
        hint = suggest(ld, NULL, name);
        if (hint != NULL) {
            return tsr_diag_set(d, TSR_EINVAL, "unknown section [%s] (did you mean [%s]?)", name,
                                hint);
        }
        return tsr_diag_set(d, TSR_EINVAL, "unknown section [%s]", name);
    }
    *cur = sec;
    return 0;
}

static int parse_assignment(struct loader *ld, char *line, const char *cur, unsigned lineno)
{
    struct tsr_diag *d = ld->d;
    char *eq = strchr(line, '=');
    char lbl[160];
    bool quoted = false;
    int rc;

    if (eq == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "missing '=' (expected key = value)");
    *eq = '\0';
    char *name = tsr_str_trim(line);
    char *val = eq + 1;
    while (is_blank(*val))
        val++;
    if (name[0] == '\0')
        return tsr_diag_set(d, TSR_EINVAL, "missing key name before '='");
    size_t i = find_key(ld, cur, name);
    if (i == SIZE_MAX) {
        const char *hint = valid_name(name) ? suggest(ld, cur, name) : NULL;
        char where[96];

        if (cur[0] == '\0')
            snprintf(where, sizeof(where), "outside any [section]");
        else
            snprintf(where, sizeof(where), "in [%s]", cur);
        if (hint != NULL) {
            return tsr_diag_set(d, TSR_EINVAL, "unknown key \"%s\" %s (did you mean \"%s\"?)",
                                name, where, hint);
        }
        return tsr_diag_set(d, TSR_EINVAL, "unknown key \"%s\" %s", name, where);
    }
    const struct tsr_cfg_key *k = &ld->t[i];
    if (ld->line[i] != 0 && k->type != TSR_CFG_LIST) {
        return tsr_diag_set(d, TSR_EINVAL, "duplicate key %s (first set on line %u)",
                            label(k, lbl, sizeof(lbl)), ld->line[i]);
    }
    if (*val == '"') {
        rc = unquote(val, d);
        if (rc != 0) {
            tsr_diag_prefix(d, "%s", label(k, lbl, sizeof(lbl)));
            return rc;
        }
        quoted = true;
    } else {
        strip_comment(val);
    }
    rc = set_value(ld, k, val, quoted, ld->line[i] != 0);
    if (rc != 0) {
        tsr_diag_prefix(d, "%s", label(k, lbl, sizeof(lbl)));
        return rc;
    }
    ld->line[i] = lineno;
    return 0;
}

static int parse_line(struct loader *ld, char *line, const char **cur, unsigned lineno)
{
    if (has_control(line))
        return tsr_diag_set(ld->d, TSR_EINVAL, "control character in line");
    char *s = line;
    while (is_blank(*s))
        s++;
    if (*s == '\0' || *s == '#' || *s == ';')
        return 0;
    if (*s == '[')
        return parse_section(ld, s, cur);
    return parse_assignment(ld, s, *cur, lineno);
}

/* Read the whole file at path, bounded by TSR_CFG_FILE_MAX. */
static int read_file(const char *path, char **out, size_t *outlen, struct tsr_diag *d)
{
    struct stat st;
    char *data = NULL;
    size_t len = 0;
    int rc, fd;

    *out = NULL;
    /* O_NONBLOCK: a FIFO at path must not hang the daemon at start-up. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        return tsr_diag_set(d, errno == ENOENT ? TSR_ENOTFOUND : TSR_EIO, "%s: %s", path,
                            strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = tsr_diag_set(d, TSR_EIO, "%s: not a regular file", path);
        goto out;
    }
    if ((uintmax_t)st.st_size > TSR_CFG_FILE_MAX) {
        rc = tsr_diag_set(d, TSR_ELIMIT, "%s: file too large (limit %u bytes)", path,
                          TSR_CFG_FILE_MAX);
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
            rc = tsr_diag_set(d, TSR_EIO, "%s: %s", path, strerror(errno));
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
    *out = data;
    *outlen = len;
    data = NULL;
    rc = 0;
out:
    tsr_free(data);
    close(fd);
    return rc;
}

static int load_file(struct loader *ld)
{
    char line[TSR_CFG_LINE_MAX + 1];
    const char *cur = "";
    char *data = NULL;
    size_t len = 0, pos = 0;
    unsigned lineno = 0;
    int rc;

    rc = read_file(ld->file, &data, &len, ld->d);
    if (rc != 0)
        return rc;
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        pos = 3;
    while (pos < len) {
        const char *start = data + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t ll = nl != NULL ? (size_t)(nl - start) : len - pos;

        lineno++;
        pos += ll + (nl != NULL ? 1 : 0);
        if (ll > 0 && start[ll - 1] == '\r')
            ll--;
        if (ll > TSR_CFG_LINE_MAX) {
            rc = tsr_diag_set(ld->d, TSR_ELIMIT, "%s:%u: line too long (limit %d bytes)",
                              ld->file, lineno, TSR_CFG_LINE_MAX);
            goto out;
        }
        if (memchr(start, '\0', ll) != NULL) {
            rc = tsr_diag_set(ld->d, TSR_EINVAL, "%s:%u: NUL byte in line", ld->file, lineno);
            goto out;
        }
        memcpy(line, start, ll);
        line[ll] = '\0';
        rc = parse_line(ld, line, &cur, lineno);
        if (rc != 0) {
            tsr_diag_prefix(ld->d, "%s:%u", ld->file, lineno);
            goto out;
        }
    }
    rc = 0;
out:
    tsr_free(data);
    return rc;
}

/* ------------------------------------------------------------ loading */

static int check_table(const struct tsr_cfg_key *t, size_t n, struct tsr_diag *d)
{
    for (size_t i = 0; i < n; i++) {
        const struct tsr_cfg_key *k = &t[i];
        if (k->section == NULL || k->name == NULL || !valid_name(k->name) ||
            (k->type == TSR_CFG_ENUM && (k->enum_values == NULL || k->enum_values[0] == NULL)) ||
            k->type > TSR_CFG_LIST || k->min > k->max) {
            return tsr_diag_set(d, TSR_EINTERNAL, "configuration table entry %zu is invalid", i);
        }
    }
    return 0;
}

static int apply_defaults(struct loader *ld)
{
    char lbl[160];

    for (size_t i = 0; i < ld->n; i++) {
        const struct tsr_cfg_key *k = &ld->t[i];
        if (k->def == NULL)
            continue;
        int rc = set_value(ld, k, k->def, false, false);
        if (rc != 0) {
            tsr_diag_prefix(ld->d, "%s: bad default", label(k, lbl, sizeof(lbl)));
            if (rc != TSR_ENOMEM && ld->d != NULL)
                ld->d->code = TSR_EINTERNAL;
            return rc == TSR_ENOMEM ? rc : TSR_EINTERNAL;
        }
    }
    return 0;
}

static int apply_env(struct loader *ld)
{
    char name[ENV_NAME_MAX], lbl[160];

    for (size_t i = 0; i < ld->n; i++) {
        const struct tsr_cfg_key *k = &ld->t[i];
        int rc = tsr_cfg_env_name(k, name, sizeof(name));
        if (rc != 0)
            return tsr_diag_set(ld->d, TSR_EINTERNAL, "%s: name too long", k->name);
        const char *val = getenv(name);
        if (val == NULL)
            continue;
        if (strlen(val) > TSR_CFG_LINE_MAX) {
            rc = tsr_diag_set(ld->d, TSR_ELIMIT, "%s: value too long (limit %d bytes)", name,
                              TSR_CFG_LINE_MAX);
        } else {
            rc = set_value(ld, k, val, false, false);
            if (rc != 0)
                tsr_diag_prefix(ld->d, "%s: %s", name, label(k, lbl, sizeof(lbl)));
        }
        if (rc != 0)
            return rc;
        ld->from_env[i] = true;
    }
    return 0;
}

/* The list-length bounds and the validate callbacks, on the final values. */
static int validate_all(struct loader *ld)
{
    char lbl[160], env[ENV_NAME_MAX];

    for (size_t i = 0; i < ld->n; i++) {
        const struct tsr_cfg_key *k = &ld->t[i];
        const void *f = field(ld->out, k);
        int rc = 0;

        if (k->type == TSR_CFG_LIST && bounded(k)) {
            const struct tsr_cfg_list *l = f;
            if (l->n < (unsigned long long)k->min || l->n > (unsigned long long)k->max) {
                rc = tsr_diag_set(ld->d, TSR_ERANGE, "%zu items (allowed %lld..%lld)", l->n,
                                  k->min, k->max);
            }
        }
        if (rc == 0 && k->validate != NULL) {
            tsr_diag_clear(ld->d);
            rc = k->validate(f, ld->d);
        }
        if (rc == 0)
            continue;
        label(k, lbl, sizeof(lbl));
        if (ld->from_env[i]) {
            (void)tsr_cfg_env_name(k, env, sizeof(env));
            tsr_diag_prefix(ld->d, "%s: %s", env, lbl);
        } else if (ld->line[i] != 0) {
            tsr_diag_prefix(ld->d, "%s:%u: %s", ld->file, ld->line[i], lbl);
        } else {
            tsr_diag_prefix(ld->d, "%s", lbl);
        }
        if (ld->d != NULL)
            ld->d->code = rc;
        return rc;
    }
    return 0;
}

int tsr_cfg_load(const struct tsr_cfg_key *table, size_t n, const char *path, void *out_struct,
                 struct tsr_diag *d)
{
    struct loader ld = {
        .t = table, .n = n, .out = out_struct, .d = d, .file = path,
    };
    int rc;

    tsr_diag_clear(d);
    rc = check_table(table, n, d);
    if (rc != 0)
        return rc;
    ld.line = tsr_calloc(n, sizeof(*ld.line));
    ld.from_env = tsr_calloc(n, sizeof(*ld.from_env));
    if (ld.line == NULL || ld.from_env == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    rc = apply_defaults(&ld);
    if (rc == 0 && path != NULL)
        rc = load_file(&ld);
    if (rc == 0)
        rc = apply_env(&ld);
    if (rc == 0)
        rc = validate_all(&ld);
out:
    if (rc != 0)
        tsr_cfg_free(table, n, out_struct);
    tsr_free(ld.line);
    tsr_free(ld.from_env);
    tsr_free(ld.dir);
    return rc;
}

/* ------------------------------------------------------------ printing */

static void put_quoted(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

static void dump_key(const struct tsr_cfg_key *k, const void *cfg, FILE *fp)
{
    const void *f = cfield(cfg, k);
    char num[32];

    switch (k->type) {
    case TSR_CFG_STRING:
    case TSR_CFG_PATH: {
        const char *s = *(char *const *)f;
        if (s == NULL) {
            fprintf(fp, "# %s is not set\n", k->name);
        } else if (is_secret(k)) {
            fprintf(fp, "%s = (set)\n", k->name);
        } else {
            fprintf(fp, "%s = ", k->name);
            put_quoted(fp, s);
            fputc('\n', fp);
        }
        return;
    }
    case TSR_CFG_LIST: {
        const struct tsr_cfg_list *l = f;
        if (l->n == 0 || is_secret(k)) {
            fprintf(fp, "%s =%s\n", k->name, l->n == 0 ? "" : " (set)");
            return;
        }
        for (size_t i = 0; i < l->n; i++) {
            fprintf(fp, "%s = ", k->name);
            put_quoted(fp, l->items[i]);
            fputc('\n', fp);
        }
        return;
    }
    case TSR_CFG_INT:
        snprintf(num, sizeof(num), "%lld", *(const long long *)f);
        break;
    case TSR_CFG_BOOL:
        snprintf(num, sizeof(num), "%s", *(const bool *)f ? "yes" : "no");
        break;
    case TSR_CFG_SIZE:
        fmt_size(*(const uint64_t *)f, num, sizeof(num));
        break;
    case TSR_CFG_DURATION:
        fmt_duration(*(const uint64_t *)f, num, sizeof(num));
        break;
    case TSR_CFG_ENUM: {
        int v = *(const int *)f;
        int count = 0;
        while (k->enum_values[count] != NULL)
            count++;
        fprintf(fp, "%s = %s\n", k->name, v >= 0 && v < count ? k->enum_values[v] : "(invalid)");
        return;
    }
    }
    fprintf(fp, "%s = %s\n", k->name, is_secret(k) ? "(set)" : num);
}

/* True when table[i] is the first key of its section. */
static bool first_of_section(const struct tsr_cfg_key *table, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (strcmp(table[j].section, table[i].section) == 0)
            return false;
    }
    return true;
}

int tsr_cfg_dump(const struct tsr_cfg_key *table, size_t n, const void *cfg, FILE *fp)
{
    bool first = true;

    /* Keys of section "" first: after a [section] header they would belong to it. */
    for (size_t i = 0; i < n; i++) {
        if (table[i].section[0] == '\0') {
            dump_key(&table[i], cfg, fp);
            first = false;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *sec = table[i].section;
        if (sec[0] == '\0' || !first_of_section(table, i))
            continue;
        fprintf(fp, "%s[%s]\n", first ? "" : "\n", sec);
        first = false;
        for (size_t j = i; j < n; j++) {
            if (strcmp(table[j].section, sec) == 0)
                dump_key(&table[j], cfg, fp);
        }
    }
    return ferror(fp) ? TSR_EIO : 0;
}

static const char *type_name(enum tsr_cfg_type t)
{
    switch (t) {
    case TSR_CFG_STRING: return "string";
    case TSR_CFG_INT: return "integer";
    case TSR_CFG_BOOL: return "boolean";
    case TSR_CFG_SIZE: return "size";
    case TSR_CFG_DURATION: return "duration";
    case TSR_CFG_ENUM: return "one-of";
    case TSR_CFG_PATH: return "path";
    case TSR_CFG_LIST: return "list";
    }
    return "?";
}

int tsr_cfg_print_keys(const struct tsr_cfg_key *table, size_t n, FILE *fp)
{
    char env[ENV_NAME_MAX], range[80];

    for (size_t i = 0; i < n; i++) {
        const struct tsr_cfg_key *k = &table[i];

        if (k->section[0] != '\0')
            fprintf(fp, "%s.", k->section);
        fprintf(fp, "%s  %s", k->name, type_name(k->type));
        if (k->type == TSR_CFG_ENUM) {
            for (size_t j = 0; k->enum_values[j] != NULL; j++)
                fprintf(fp, "%c%s", j == 0 ? '(' : '|', k->enum_values[j]);
            fputc(')', fp);
        }
        if (bounded(k)) {
            switch (k->type) {
            case TSR_CFG_INT:
            case TSR_CFG_SIZE:
            case TSR_CFG_DURATION:
                fprintf(fp, " %s", fmt_range(k, range, sizeof(range)));
                break;
            case TSR_CFG_STRING:
            case TSR_CFG_PATH: fprintf(fp, " length %lld..%lld", k->min, k->max); break;
            case TSR_CFG_LIST: fprintf(fp, " items %lld..%lld", k->min, k->max); break;
            default: break;
            }
        }
        if (k->def == NULL) {
            fputs(", no default", fp);
        } else {
            fputs(", default ", fp);
            put_quoted(fp, k->def);
        }
        if (k->flags & TSR_CFG_RELOADABLE)
            fputs(", reloadable", fp);
        if (k->flags & TSR_CFG_SECRET)
            fputs(", secret", fp);
        if (tsr_cfg_env_name(k, env, sizeof(env)) != 0)
            env[0] = '\0';
        fprintf(fp, "\n    env %s\n    %s\n", env, k->help != NULL ? k->help : "(undocumented)");
    }
    return ferror(fp) ? TSR_EIO : 0;
}

static bool str_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

const struct tsr_cfg_key *tsr_cfg_restart_change(const struct tsr_cfg_key *table, size_t n,
                                                 const void *a, const void *b)
{
    for (size_t i = 0; i < n; i++) {
        const struct tsr_cfg_key *k = &table[i];
        const char *pa = (const char *)a + k->offset;
        const char *pb = (const char *)b + k->offset;
        bool same = true;

        if ((k->flags & TSR_CFG_RELOADABLE) != 0)
            continue;
        switch (k->type) {
        case TSR_CFG_STRING:
        case TSR_CFG_PATH:
            same = str_equal(*(char *const *)pa, *(char *const *)pb);
            break;
        case TSR_CFG_INT:
            same = *(const long long *)pa == *(const long long *)pb;
            break;
        case TSR_CFG_BOOL:
            same = *(const bool *)pa == *(const bool *)pb;
            break;
        case TSR_CFG_SIZE:
        case TSR_CFG_DURATION:
            same = *(const uint64_t *)pa == *(const uint64_t *)pb;
            break;
        case TSR_CFG_ENUM:
            same = *(const int *)pa == *(const int *)pb;
            break;
        case TSR_CFG_LIST: {
            const struct tsr_cfg_list *la = (const struct tsr_cfg_list *)pa;
            const struct tsr_cfg_list *lb = (const struct tsr_cfg_list *)pb;
            same = la->n == lb->n;
            for (size_t j = 0; same && j < la->n; j++)
                same = str_equal(la->items[j], lb->items[j]);
            break;
        }
        }
        if (!same)
            return k;
    }
    return NULL;
}
