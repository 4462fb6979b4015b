/*
 * catalog/metrics.h: tessera-catalogd's /metrics, in the Prometheus text
 * format (lib/metrics.h): the catalog's size (credentials by status, the
 * event log's length), queries answered, ingests accepted and refused,
 * and every HTTP answer by route class and status.  Sizes are read from
 * the store at each scrape; the rest is counted since the daemon started.
 * The catalog's answers are public, and so are these counts: no key.
 */
#ifndef TSR_CATALOG_METRICS_H
#define TSR_CATALOG_METRICS_H

#include "lib/err.h"

struct tsr_cat_store;
struct tsr_http_server;

/*
 * Add GET /metrics to srv and count its answers; store (borrowed) is read
 * at each scrape.  One catalog per process.  Returns 0 or TSR_ENOMEM.
 */
int tsr_catalog_metrics_mount(struct tsr_http_server *srv, struct tsr_cat_store *store,
                              struct tsr_diag *d);

#endif /* TSR_CATALOG_METRICS_H */
