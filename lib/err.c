/*
 * lib/err.c: error code descriptions, the code to HTTP status table and
 * the diagnostic record.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

static const struct {
    int code;
    int status;
    const char *text;
} err_table[] = {
    {TSR_OK, 200, "success"},
    {TSR_ENOMEM, 503, "out of memory"},
    {TSR_EINVAL, 400, "invalid input"},
    {TSR_EPROTO, 400, "protocol violation"},
    {TSR_ELIMIT, 413, "size limit exceeded"},
    {TSR_ENOTFOUND, 404, "not found"},
    {TSR_ECONFLICT, 409, "conflict"},
    {TSR_EPOLICY, 403, "refused by policy"},
    {TSR_EIO, 500, "input/output error"},
    {TSR_ETLS, 502, "TLS error"},
    {TSR_EAUTH, 401, "authentication required or failed"},
    {TSR_EFORBIDDEN, 403, "forbidden"},
    {TSR_ECRYPTO, 400, "cryptographic check failed"},
    {TSR_ETIMEOUT, 504, "timed out"},
    {TSR_EEXIST, 409, "already exists"},
    {TSR_EUNAVAIL, 502, "unavailable"},
    {TSR_ERANGE, 400, "value out of range"},
    {TSR_ESTATE, 409, "not allowed in the current state"},
    {TSR_EINTERNAL, 500, "internal error"},
};

const char *tsr_strerror(int code)
{
    for (size_t i = 0; i < TSR_ARRAY_SIZE(err_table); i++) {
        if (err_table[i].code == code)
            return err_table[i].text;
    }
    return "unknown error";
}

int tsr_err_http_status(int code)
{
    for (size_t i = 0; i < TSR_ARRAY_SIZE(err_table); i++) {
        if (err_table[i].code == code)
            return err_table[i].status;
    }
    return 500;
}

void tsr_diag_clear(struct tsr_diag *d)
{
    if (d == NULL)
        return;
    d->code = 0;
    d->msg[0] = '\0';
}

int tsr_diag_vset(struct tsr_diag *d, int code, const char *fmt, va_list ap)
{
    if (d == NULL)
        return code;
    d->code = code;
    int n = vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    if (n < 0)
        d->msg[0] = '\0';
    else if ((size_t)n >= sizeof(d->msg))
        memcpy(d->msg + sizeof(d->msg) - 4, "...", 4);
    return code;
}

/* Parenthesised so that the analyzer's macro in err.h does not apply here. */
int (tsr_diag_set)(struct tsr_diag *d, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tsr_diag_vset(d, code, fmt, ap);
    va_end(ap);
    return code;
}

int tsr_diag_prefix(struct tsr_diag *d, const char *fmt, ...)
{
    char prefix[TSR_DIAG_MAX];
    char old[TSR_DIAG_MAX];
    va_list ap;

    if (d == NULL)
        return TSR_EINTERNAL;
    if (d->code == 0)
        d->code = TSR_EINTERNAL;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    if (n < 0)
        return d->code;
    memcpy(old, d->msg, sizeof(old));
    n = snprintf(d->msg, sizeof(d->msg), "%s: %s", prefix,
                 old[0] != '\0' ? old : tsr_strerror(d->code));
    if (n >= 0 && (size_t)n >= sizeof(d->msg))
        memcpy(d->msg + sizeof(d->msg) - 4, "...", 4);
    return d->code;
}

const char *tsr_diag_msg(const struct tsr_diag *d)
{
    if (d == NULL)
        return "";
    if (d->msg[0] != '\0')
        return d->msg;
    return tsr_strerror(d->code);
}
