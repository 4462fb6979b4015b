/*
 * catalog/metrics.c: tessera-catalogd's /metrics (catalog/metrics.h).
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "catalog/metrics.h"
#include "catalog/store.h"
#include "lib/buf.h"
#include "lib/metrics.h"
#include "lib/time.h"
#include "transports/http.h"

#define ANSWER_MAX ((size_t)256 << 10)

enum { CL_QUERY, CL_INGEST, CL_EVENTS, CL_EXPORT, CL_PAGE, CL_HEALTH, CL_METRICS, CL_OTHER, NCL };
static const char *const class_names[NCL] = {"query",  "ingest", "events",  "export",
                                             "page",   "health", "metrics", "other"};
#define STATUS_MIN 100
#define NSTATUS 500

static uint64_t http_count[NCL][NSTATUS];
static uint64_t queries, ingests_ok, ingests_refused;
static int64_t started_ms;

static int route_class(const char *method, const char *path)
{
    if (strcmp(path, "/query") == 0)
        return CL_QUERY;
    if (strcmp(method, "POST") == 0 && (strcmp(path, "/credentials") == 0 ||
                                        strcmp(path, "/assets") == 0 ||
                                        strcmp(path, "/withdrawals") == 0))
        return CL_INGEST;
    if (strcmp(path, "/events") == 0)
        return CL_EVENTS;
    if (strcmp(path, "/dcat") == 0)
        return CL_EXPORT;
    if (strcmp(path, "/") == 0 || strcmp(path, "/entry") == 0)
        return CL_PAGE;
    if (strcmp(path, "/health") == 0)
        return CL_HEALTH;
    if (strcmp(path, "/metrics") == 0)
        return CL_METRICS;
    return CL_OTHER;
}

static void on_answer(const struct tsr_http_req *req, int status, void *arg)
{
    const char *method = tsr_http_req_method(req), *path = tsr_http_req_path(req);
    int cl;

    (void)arg;
    if (method == NULL || path == NULL || status < STATUS_MIN || status >= STATUS_MIN + NSTATUS)
        return;
    cl = route_class(method, path);
    http_count[cl][status - STATUS_MIN]++;
    /* An ingest stores all of its credentials (201) or none of them (an error). */
    if (cl == CL_QUERY && status == 200)
        queries++;
    else if (cl == CL_INGEST && status >= 200 && status < 300)
        ingests_ok++;
    else if (cl == CL_INGEST && status >= 400)
        ingests_refused++;
}

static void size_families(struct tsr_prom *o, struct tsr_cat_store *store)
{
    static const char *const states[] = {"active", "superseded", "withdrawn"};
    json_t *st = NULL;

    tsr_prom_add_family(o, "tessera_catalog_credentials", "gauge",
                        "Credentials held by the catalog, by status.");
    if (o->rc == 0 && tsr_cat_store_stats(store, &st, NULL) != 0)
        o->rc = TSR_EIO;
    for (size_t i = 0; st != NULL && i < TSR_ARRAY_SIZE(states); i++) {
        const char *const l[] = {"status", states[i], NULL};
        tsr_prom_add(o, "tessera_catalog_credentials", l,
                     json_integer_value(json_object_get(st, states[i])));
    }
    tsr_prom_add_family(o, "tessera_catalog_events", "gauge",
                        "Entries of the catalog's event log.");
    if (st != NULL)
        tsr_prom_add(o, "tessera_catalog_events", NULL,
                     json_integer_value(json_object_get(st, "events")));
    json_decref(st);
}

static void h_metrics(struct tsr_http_req *req, void *arg)
{
    struct tsr_cat_store *store = arg;
    struct tsr_prom o;
    char code[8];

    tsr_prom_init(&o, ANSWER_MAX);
    tsr_prom_add_family(&o, "tessera_catalog_build_info", "gauge",
                        "The version of tessera-catalogd.");
    const char *const v[] = {"version", PACKAGE_VERSION, NULL};
    tsr_prom_add(&o, "tessera_catalog_build_info", v, 1);
    tsr_prom_add_family(&o, "tessera_catalog_uptime_seconds", "gauge",
                        "Seconds since the daemon started.");
    tsr_prom_add(&o, "tessera_catalog_uptime_seconds", NULL,
                 (tsr_time_mono_ms() - started_ms) / 1000);
    size_families(&o, store);
    tsr_prom_add_family(&o, "tessera_catalog_queries_total", "counter", "Queries answered.");
    tsr_prom_add(&o, "tessera_catalog_queries_total", NULL, (int64_t)queries);
    tsr_prom_add_family(&o, "tessera_catalog_ingests_total", "counter",
                        "Ingest requests (credentials, presentations, withdrawals), by outcome.");
    const char *const acc[] = {"outcome", "accepted", NULL};
    const char *const ref[] = {"outcome", "refused", NULL};
    tsr_prom_add(&o, "tessera_catalog_ingests_total", acc, (int64_t)ingests_ok);
    tsr_prom_add(&o, "tessera_catalog_ingests_total", ref, (int64_t)ingests_refused);
    tsr_prom_add_family(&o, "tessera_catalog_http_requests_total", "counter",
                        "HTTP requests answered, by route class and status code.");
    for (size_t c = 0; c < NCL; c++) {
        for (size_t k = 0; k < NSTATUS; k++) {
            if (http_count[c][k] == 0)
                continue;
            snprintf(code, sizeof(code), "%zu", k + STATUS_MIN);
            const char *const l[] = {"class", class_names[c], "code", code, NULL};
            tsr_prom_add(&o, "tessera_catalog_http_requests_total", l, (int64_t)http_count[c][k]);
        }
    }
    if (o.rc != 0) {
        tsr_http_respond_text(req, 500, "text/plain", "cannot build the metrics\n");
    } else {
        struct tsr_http_header h = {"content-type", TSR_PROM_CONTENT_TYPE};
        tsr_http_respond(req, 200, &h, 1, o.b.data != NULL ? o.b.data : "", o.b.len);
    }
    tsr_prom_cleanup(&o);
}

int tsr_catalog_metrics_mount(struct tsr_http_server *srv, struct tsr_cat_store *store,
                              struct tsr_diag *d)
{
    int rc;

    started_ms = tsr_time_mono_ms();
    rc = tsr_http_server_route(srv, "GET", "/metrics", h_metrics, store);
    if (rc != 0)
        return tsr_diag_set(d, rc, "cannot add route /metrics");
    tsr_http_server_observe(srv, on_answer, NULL);
    return 0;
}
