/*
 * lib/metrics.c: the Prometheus text format (lib/metrics.h).
 */
#include "lib/tsr.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/metrics.h"

static bool name_ok(const char *s, bool colon)
{
    if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s != '\0'; s++) {
        bool alpha = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_';

        if (!alpha && !(*s >= '0' && *s <= '9') && !(colon && *s == ':'))
            return false;
    }
    return true;
}

/* s with \\ and \n escaped, and \" too when quoted (label values). */
static int add_escaped(struct tsr_buf *b, const char *s, bool quoted)
{
    int rc = 0;

    for (; rc == 0 && *s != '\0'; s++) {
        if (*s == '\\')
            rc = tsr_buf_adds(b, "\\\\");
        else if (*s == '\n')
            rc = tsr_buf_adds(b, "\\n");
        else if (quoted && *s == '"')
            rc = tsr_buf_adds(b, "\\\"");
        else
            rc = tsr_buf_add(b, s, 1);
    }
    return rc;
}

int tsr_prom_family(struct tsr_buf *b, const char *name, const char *type, const char *help)
{
    int rc;

    if (!name_ok(name, true) || type == NULL ||
        (strcmp(type, "counter") != 0 && strcmp(type, "gauge") != 0 &&
         strcmp(type, "untyped") != 0))
        return TSR_EINVAL;
    rc = tsr_buf_addf(b, "# HELP %s ", name);
    if (rc == 0)
        rc = add_escaped(b, help != NULL ? help : "", false);
    if (rc == 0)
        rc = tsr_buf_addf(b, "\n# TYPE %s %s\n", name, type);
    return rc;
}

/* name{labels} and a space; the caller adds the value. */
static int sample_head(struct tsr_buf *b, const char *name, const char *const *labels)
{
    size_t n = 0;
    int rc;

    if (!name_ok(name, true))
        return TSR_EINVAL;
    while (labels != NULL && labels[n] != NULL)
        n++;
    if (n % 2 != 0)
        return TSR_EINVAL;
    for (size_t i = 0; i < n; i += 2) {
        if (!name_ok(labels[i], false) || labels[i + 1] == NULL)
            return TSR_EINVAL;
    }
    rc = tsr_buf_adds(b, name);
    for (size_t i = 0; rc == 0 && i < n; i += 2) {
        rc = tsr_buf_addf(b, "%s%s=\"", i == 0 ? "{" : ",", labels[i]);
        if (rc == 0)
            rc = add_escaped(b, labels[i + 1], true);
        if (rc == 0)
            rc = tsr_buf_adds(b, "\"");
    }
    if (rc == 0 && n > 0)
        rc = tsr_buf_adds(b, "}");
    if (rc == 0)
        rc = tsr_buf_adds(b, " ");
    return rc;
}

int tsr_prom_sample(struct tsr_buf *b, const char *name, const char *const *labels,
                    int64_t value)
{
    int rc = sample_head(b, name, labels);

    if (rc == 0)
        rc = tsr_buf_addf(b, "%lld\n", (long long)value);
    return rc;
}

int tsr_prom_sample_f(struct tsr_buf *b, const char *name, const char *const *labels,
                      double value)
{
    int rc = sample_head(b, name, labels);

    if (rc != 0)
        return rc;
    /* The format's spellings of the values printf writes differently. */
    if (isnan(value))
        return tsr_buf_adds(b, "NaN\n");
    if (isinf(value))
        return tsr_buf_adds(b, value > 0 ? "+Inf\n" : "-Inf\n");
    return tsr_buf_addf(b, "%.17g\n", value);
}

void tsr_prom_init(struct tsr_prom *p, size_t max)
{
    tsr_buf_init(&p->b, max);
    p->rc = 0;
}

void tsr_prom_cleanup(struct tsr_prom *p)
{
    tsr_buf_cleanup(&p->b);
}

void tsr_prom_add_family(struct tsr_prom *p, const char *name, const char *type,
                         const char *help)
{
    if (p->rc == 0)
        p->rc = tsr_prom_family(&p->b, name, type, help);
}

void tsr_prom_add(struct tsr_prom *p, const char *name, const char *const *labels,
                  int64_t value)
{
    if (p->rc == 0)
        p->rc = tsr_prom_sample(&p->b, name, labels, value);
}
