/*
 * connector/metrics.h: tesserad's /metrics on the management port, in the
 * Prometheus text format (lib/metrics.h): HTTP answers by server, route
 * class and status; negotiations and transfers by role and state;
 * agreements, assets and offers; the data plane's bytes moved and
 * transfers running (connector/dsp.h); policy decisions by decision point
 * and outcome; vault objects and bytes; usage ledger entries.
 *
 * Counts of things kept in the store are read from it at each scrape, so
 * they survive restarts; counts of events (answers, decisions) are kept
 * in this process since it started, as Prometheus counters are.
 * The route takes the management API key as X-Api-Key or as
 * "Authorization: Bearer KEY" (what a Prometheus scrape job can send).
 * One daemon per process, one thread: the counters are plain globals.
 */
#ifndef TSR_CONNECTOR_METRICS_H
#define TSR_CONNECTOR_METRICS_H

#include <stdbool.h>

#include "lib/err.h"

struct tsr_http_server;
struct tsr_mgmt;

/* Where the route lives on the management port (not under the API's base path). */
#define TSR_METRICS_PATH "/metrics"

/*
 * Count one policy decision: point names where it was taken ("offer": a
 * catalog or negotiation check, "request": a provider's data request,
 * "use": a consumer's local use), permit its outcome.  Never fails.
 */
void tsr_metrics_decision(const char *point, bool permit);

/*
 * Count the answers of srv (borrowed; it must outlive nothing: the
 * counters are global) under the label server="name" (a string literal:
 * "protocol" or "management").
 */
void tsr_metrics_observe(struct tsr_http_server *srv, const char *name);

/*
 * Add GET /metrics to the management server srv for the API m (borrowed:
 * its key, store, DSP engine and usage control are read at each scrape)
 * and observe srv's answers.  Returns 0 or TSR_ENOMEM (d says so).
 */
int tsr_metrics_mount(struct tsr_http_server *srv, struct tsr_mgmt *m, struct tsr_diag *d);

#endif /* TSR_CONNECTOR_METRICS_H */
