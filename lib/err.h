/*
 * lib/err.h: tessera's error codes and the diagnostic record that carries
 * human-readable detail beside them (curl's failf idea).
 *
 * Functions that can fail return 0 (TSR_OK) or one of the negative codes
 * below.  Detail text never travels through return values: the failing
 * function writes it into a caller-supplied struct tsr_diag.
 */
#ifndef TSR_LIB_ERR_H
#define TSR_LIB_ERR_H

#include <stdarg.h>

enum tsr_err {
    TSR_OK = 0,
    TSR_ENOMEM = -1,     /* allocation failed */
    TSR_EINVAL = -2,     /* malformed input (HTTP 400) */
    TSR_EPROTO = -3,     /* protocol violation by a peer (400) */
    TSR_ELIMIT = -4,     /* a configured or built-in size limit was exceeded (413) */
    TSR_ENOTFOUND = -5,  /* no such object (404) */
    TSR_ECONFLICT = -6,  /* illegal state transition or duplicate (409) */
    TSR_EPOLICY = -7,    /* refused by a usage policy (403) */
    TSR_EIO = -8,        /* file or socket I/O failed */
    TSR_ETLS = -9,       /* TLS setup or handshake failed */
    TSR_EAUTH = -10,     /* missing or invalid credentials (401) */
    TSR_EFORBIDDEN = -11,/* authenticated but not allowed (403) */
    TSR_ECRYPTO = -12,   /* a signature or key operation failed */
    TSR_ETIMEOUT = -13,  /* an operation took too long (408/504) */
    TSR_EEXIST = -14,    /* the object already exists (409) */
    TSR_EUNAVAIL = -15,  /* a peer or resource could not be reached (502/503) */
    TSR_ERANGE = -16,    /* a number is outside its bounds (400) */
    TSR_ESTATE = -17,    /* the object is not in a state allowing this (409) */
    TSR_EINTERNAL = -18, /* a bug or an unexpected library failure (500) */
};

/* The longest detail text kept; longer messages are truncated with "...". */
#define TSR_DIAG_MAX 512

struct tsr_diag {
    int code;               /* the enum tsr_err the detail belongs to */
    char msg[TSR_DIAG_MAX]; /* NUL-terminated detail, "" when none */
};

/* Short static description of an error code; never NULL. */
const char *tsr_strerror(int code);

/* The HTTP status a code maps to (500 for unknown codes). */
int tsr_err_http_status(int code);

/* Clear a diagnostic record.  d may be NULL. */
void tsr_diag_clear(struct tsr_diag *d);

/*
 * Record code and a printf-style message in d (which may be NULL) and
 * return code, so callers can write "return tsr_diag_set(d, ...);".  An
 * earlier message is replaced.
 */
int tsr_diag_set(struct tsr_diag *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tsr_diag_vset(struct tsr_diag *d, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#ifdef __clang_analyzer__
/*
 * The static analyzer (make lint) sees one file at a time and cannot know
 * that tsr_diag_set returns its code: every "return tsr_diag_set(...)" path
 * would then look like a possible success that leaves outputs unset.  This
 * tells it the contract above; compiled code never sees it.
 */
#define tsr_diag_set(d, code, ...)                                                                 \
    __extension__({                                                                                \
        int tsr__diag_code = (code);                                                               \
        (void)(tsr_diag_set)((d), tsr__diag_code, __VA_ARGS__);                                    \
        tsr__diag_code;                                                                            \
    })
#endif

/*
 * Prefix the message already in d with "prefix: ", keeping d->code, and
 * return d->code (or TSR_EINTERNAL when d is NULL or holds no code).
 */
int tsr_diag_prefix(struct tsr_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* d's message, or the code's description when it has none.  Borrowed. */
const char *tsr_diag_msg(const struct tsr_diag *d);

#endif /* TSR_LIB_ERR_H */
