/*
 * lib/log.h: logging for the daemons and the CLI.
 *
 * Messages go to stderr: as text when stderr is a terminal, otherwise as
 * JSON lines ({"ts","level","comp","msg"}) that a log collector can read.
 * Debug messages are off unless their component is switched on
 * ("all", "http,tls", "all,-db"); the level check happens before the
 * arguments are evaluated.
 */
#ifndef TSR_LIB_LOG_H
#define TSR_LIB_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum tsr_log_level {
    TSR_LOG_ERROR = 0,
    TSR_LOG_WARN = 1,
    TSR_LOG_INFO = 2,
    TSR_LOG_DEBUG = 3,
};

/* Components with their own debug switch. */
enum tsr_log_comp {
    TSR_LC_MAIN = 0, /* "main": start-up, signals, configuration */
    TSR_LC_HTTP,     /* "http": HTTP/1.1 and request routing */
    TSR_LC_H2,       /* "h2": HTTP/2 sessions */
    TSR_LC_TLS,      /* "tls": handshakes, certificates */
    TSR_LC_CLIENT,   /* "client": outgoing requests (libcurl) */
    TSR_LC_DID,      /* "did": DID documents and resolution */
    TSR_LC_DB,       /* "db": SQLite store */
    TSR_LC_DSP,      /* "dsp": Dataspace Protocol */
    TSR_LC_POLICY,   /* "policy": ODRL evaluation */
    TSR_LC_DATA,     /* "data": data plane */
    TSR_LC_CATALOG,  /* "catalog": federated catalog */
    TSR_LC_MAX
};

enum tsr_log_format {
    TSR_LOG_FMT_AUTO = 0, /* text on a terminal, JSON otherwise */
    TSR_LOG_FMT_TEXT,
    TSR_LOG_FMT_JSON,
};

/* Choose the format and the most verbose level printed (default INFO). */
void tsr_log_setup(enum tsr_log_format fmt, enum tsr_log_level level);

/* The program name shown in text logs ("tesserad"). Borrowed, not copied. */
void tsr_log_set_ident(const char *ident);

/*
 * Switch debug output per component from a list such as "all,-db" or
 * "http,tls".  Returns 0, or TSR_EINVAL naming nothing known (the switches
 * are then unchanged).  An empty string turns debug off.
 */
int tsr_log_set_debug(const char *spec);

/* True when debug messages of comp would be printed. */
bool tsr_log_debug_enabled(enum tsr_log_comp comp);

/* Parse "error", "warn", "info", "debug"; 0 or TSR_EINVAL. */
int tsr_log_parse_level(const char *s, enum tsr_log_level *out);

/* Name of a component ("http"). */
const char *tsr_log_comp_name(enum tsr_log_comp comp);

void tsr_log(enum tsr_log_level level, enum tsr_log_comp comp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tsr_vlog(enum tsr_log_level level, enum tsr_log_comp comp, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Log at error level, then exit(1). */
void tsr_fatalx(enum tsr_log_comp comp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#define tsr_log_error(comp, ...) tsr_log(TSR_LOG_ERROR, (comp), __VA_ARGS__)
#define tsr_log_warn(comp, ...) tsr_log(TSR_LOG_WARN, (comp), __VA_ARGS__)
#define tsr_log_info(comp, ...) tsr_log(TSR_LOG_INFO, (comp), __VA_ARGS__)
#define tsr_log_debug(comp, ...)                                                                  \
    do {                                                                                          \
        if (tsr_log_debug_enabled(comp))                                                          \
            tsr_log(TSR_LOG_DEBUG, (comp), __VA_ARGS__);                                          \
    } while (0)

#endif /* TSR_LIB_LOG_H */
