/*
 * lib/log.c: text or JSON-lines logging to stderr with per-component
 * debug switches.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"

static const char *const comp_names[TSR_LC_MAX] = {
    "main", "http", "h2", "tls", "client", "did", "db", "dsp", "policy", "data", "catalog",
};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static struct {
    enum tsr_log_format fmt;
    enum tsr_log_level level;
    unsigned debug_mask;
    const char *ident;
} lg = {TSR_LOG_FMT_AUTO, TSR_LOG_INFO, 0, NULL};

void tsr_log_setup(enum tsr_log_format fmt, enum tsr_log_level level)
{
    lg.fmt = fmt;
    lg.level = level;
}

void tsr_log_set_ident(const char *ident)
{
    lg.ident = ident;
}

const char *tsr_log_comp_name(enum tsr_log_comp comp)
{
    return (unsigned)comp < TSR_LC_MAX ? comp_names[comp] : "?";
}

int tsr_log_parse_level(const char *s, enum tsr_log_level *out)
{
    for (size_t i = 0; i < TSR_ARRAY_SIZE(level_names); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum tsr_log_level)i;
            return 0;
        }
    }
    return TSR_EINVAL;
}

int tsr_log_set_debug(const char *spec)
{
    unsigned mask = 0;
    const char *p = spec;

    while (*p != '\0') {
        size_t n = strcspn(p, ", ");
        bool neg = false;
        const char *w = p;
        size_t wn = n;
        if (wn > 0 && *w == '-') {
            neg = true;
            w++;
            wn--;
        }
        if (wn > 0) {
            unsigned bits = 0;
            if (wn == 3 && strncmp(w, "all", 3) == 0) {
                bits = (1u << TSR_LC_MAX) - 1;
            } else {
                for (unsigned i = 0; i < TSR_LC_MAX; i++) {
                    if (strlen(comp_names[i]) == wn && strncmp(w, comp_names[i], wn) == 0)
                        bits = 1u << i;
                }
            }
            if (bits == 0)
                return TSR_EINVAL;
            mask = neg ? (mask & ~bits) : (mask | bits);
        }
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    lg.debug_mask = mask;
    return 0;
}

bool tsr_log_debug_enabled(enum tsr_log_comp comp)
{
    return (unsigned)comp < TSR_LC_MAX && (lg.debug_mask & (1u << comp)) != 0;
}

/* Append s to b as the inside of a JSON string. */
static void json_escape(struct tsr_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"': tsr_buf_adds(b, "\\\""); break;
        case '\\': tsr_buf_adds(b, "\\\\"); break;
        case '\n': tsr_buf_adds(b, "\\n"); break;
        case '\r': tsr_buf_adds(b, "\\r"); break;
        case '\t': tsr_buf_adds(b, "\\t"); break;
        default:
            if (*p < 0x20)
                tsr_buf_addf(b, "\\u%04x", *p);
            else
                tsr_buf_add(b, p, 1);
        }
    }
}

void tsr_vlog(enum tsr_log_level level, enum tsr_log_comp comp, const char *fmt, va_list ap)
{
    char msg[2048];
    char ts[96];
    struct timespec now;
    struct tm tm;
    struct tsr_buf line;

    if (level > lg.level && !(level == TSR_LOG_DEBUG && tsr_log_debug_enabled(comp)))
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);

    bool json = lg.fmt == TSR_LOG_FMT_JSON || (lg.fmt == TSR_LOG_FMT_AUTO && !isatty(2));
    tsr_buf_init(&line, sizeof(msg) * 2 + 256);
    if (json) {
        tsr_buf_addf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"comp\":\"%s\",", ts,
                     level_names[level], tsr_log_comp_name(comp));
        if (lg.ident != NULL) {
            tsr_buf_adds(&line, "\"prog\":\"");
            json_escape(&line, lg.ident);
            tsr_buf_adds(&line, "\",");
        }
        tsr_buf_adds(&line, "\"msg\":\"");
        json_escape(&line, msg);
        tsr_buf_adds(&line, "\"}\n");
    } else {
        tsr_buf_addf(&line, "%s %s%s%s %s: %s\n", ts, lg.ident ? lg.ident : "",
                     lg.ident ? " " : "", level_names[level], tsr_log_comp_name(comp), msg);
    }
    /* One write per line so concurrent writers do not interleave mid-line. */
    if (line.data != NULL) {
        ssize_t off = 0, len = (ssize_t)line.len;
        while (off < len) {
            ssize_t w = write(2, line.data + off, (size_t)(len - off));
            if (w <= 0)
                break;
            off += w;
        }
    }
    tsr_buf_cleanup(&line);
}

void tsr_log(enum tsr_log_level level, enum tsr_log_comp comp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tsr_vlog(level, comp, fmt, ap);
    va_end(ap);
}

void tsr_fatalx(enum tsr_log_comp comp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tsr_vlog(TSR_LOG_ERROR, comp, fmt, ap);
    va_end(ap);
    exit(1);
}
