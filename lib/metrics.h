/*
 * lib/metrics.h: the Prometheus text exposition format (version 0.0.4)
 * written into a bounded buffer: a family's HELP and TYPE lines, then
 * its samples with escaped label values.  tesserad's and
 * tessera-catalogd's /metrics are built with it; what they count lives
 * with them (connector/metrics.c, catalog/metrics.c).
 *
 * On TSR_ELIMIT b may end in a partial line: the caller discards the
 * whole answer.  Names must match [a-zA-Z_:][a-zA-Z0-9_:]* (label names without ':');
 * they come from our own code, and a bad one is refused with TSR_EINVAL
 * rather than written.  Label values and help texts may be anything: they
 * are escaped (\\, \", \n) as the format requires.
 */
#ifndef TSR_LIB_METRICS_H
#define TSR_LIB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* The Content-Type of the format. */
#define TSR_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Start a metric family: "# HELP name help" and "# TYPE name type" (type
 * "counter", "gauge" or "untyped").  Returns 0, TSR_EINVAL (bad name or
 * type), TSR_ELIMIT (b is full).
 */
int tsr_prom_family(struct tsr_buf *b, const char *name, const char *type, const char *help);

/*
 * One sample line: name{k1="v1",k2="v2"} value.  labels is a
 * NULL-terminated list of name, value pairs (NULL or empty: no braces).
 * Returns 0, TSR_EINVAL (bad metric or label name, odd list), TSR_ELIMIT.
 */
int tsr_prom_sample(struct tsr_buf *b, const char *name, const char *const *labels,
                    int64_t value);

/* tsr_prom_sample for a sample with a fractional value (seconds, ratios). */
int tsr_prom_sample_f(struct tsr_buf *b, const char *name, const char *const *labels,
                      double value);

/*
 * A whole answer being built: the calls below write into b and keep the
 * first error in rc, after which they do nothing, so that a page is
 * written straight through and checked once at the end (rc 0: b holds
 * the page; otherwise answer an error).
 */
struct tsr_prom {
    struct tsr_buf b;
    int rc;
};

/* Start an empty page of at most max bytes. */
void tsr_prom_init(struct tsr_prom *p, size_t max);
/* Free the page.  Safe twice. */
void tsr_prom_cleanup(struct tsr_prom *p);
/* tsr_prom_family and tsr_prom_sample on p->b, unless p->rc is set already. */
void tsr_prom_add_family(struct tsr_prom *p, const char *name, const char *type,
                         const char *help);
void tsr_prom_add(struct tsr_prom *p, const char *name, const char *const *labels,
                  int64_t value);

#endif /* TSR_LIB_METRICS_H */
