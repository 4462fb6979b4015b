/*
 * connector/metrics.c: tesserad's /metrics (connector/metrics.h).
 */
#include "lib/tsr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "connector/dsp.h"
#include "connector/metrics.h"
#include "connector/mgmt.h"
#include "connector/store.h"
#include "connector/usage.h"
#include "contracts/vault.h"
#include "lib/b64.h"
#include "lib/buf.h"
#include "lib/db.h"
#include "lib/json.h"
#include "lib/metrics.h"
#include "lib/str.h"
#include "lib/time.h"
#include "transports/http.h"

/* The largest answer: a few hundred lines in practice. */
#define ANSWER_MAX ((size_t)1 << 20)
/* The ledger's head is one small JWS; anything larger is not read. */
#define HEAD_MAX 8192

/* Servers and route classes of tessera_http_requests_total; statuses 100..599. */
enum { SRV_PROTOCOL, SRV_MANAGEMENT, NSRV };
static const char *const srv_names[NSRV] = {"protocol", "management"};
enum { CL_DSP, CL_DATA, CL_WELLKNOWN, CL_USAGE, CL_HEALTH, CL_MGMT, CL_METRICS, CL_OTHER, NCL };
static const char *const class_names[NCL] = {"dsp",    "data", "wellknown", "usage",
                                             "health", "mgmt", "metrics",   "other"};
#define STATUS_MIN 100
#define NSTATUS 500

/* Decision points and outcomes of tessera_policy_decisions_total. */
enum { PT_OFFER, PT_REQUEST, PT_USE, NPT };
static const char *const point_names[NPT] = {"offer", "request", "use"};

static uint64_t http_count[NSRV][NCL][NSTATUS];
static uint64_t decisions[NPT][2];
static int64_t started_ms;

void tsr_metrics_decision(const char *point, bool permit)
{
    for (size_t i = 0; i < NPT; i++) {
        if (strcmp(point, point_names[i]) == 0)
            decisions[i][permit ? 1 : 0]++;
    }
}

static bool has_prefix(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);

    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int route_class(const char *path)
{
    if (path == NULL)
        return CL_OTHER;
    if (has_prefix(path, TSR_MGMT_BASE_PATH))
        return CL_MGMT;
    if (strcmp(path, TSR_METRICS_PATH) == 0)
        return CL_METRICS;
    if (strcmp(path, "/health") == 0)
        return CL_HEALTH;
    if (has_prefix(path, TSR_DSP_BASE_PATH))
        return CL_DSP;
    if (has_prefix(path, TSR_DSP_DATA_PATH) || has_prefix(path, TSR_DSP_PUSH_PATH))
        return CL_DATA;
    if (strncmp(path, "/.well-known/", 13) == 0 || tsr_str_endswith(path, "/did.json"))
        return CL_WELLKNOWN;
    if (has_prefix(path, "/usage"))
        return CL_USAGE;
    return CL_OTHER;
}

static void on_answer(const struct tsr_http_req *req, int status, void *arg)
{
    size_t srv = *(const size_t *)arg;

    if (status < STATUS_MIN || status >= STATUS_MIN + NSTATUS || srv >= NSRV)
        return;
    http_count[srv][route_class(tsr_http_req_path(req))][status - STATUS_MIN]++;
}

static const size_t srv_index[NSRV] = {SRV_PROTOCOL, SRV_MANAGEMENT};

void tsr_metrics_observe(struct tsr_http_server *srv, const char *name)
{
    for (size_t i = 0; i < NSRV; i++) {
        if (strcmp(name, srv_names[i]) == 0)
            tsr_http_server_observe(srv, on_answer, (void *)&srv_index[i]);
    }
}

/* ------------------------------------------------------------ the answer */

static void http_families(struct tsr_prom *o)
{
    char code[8];

    tsr_prom_add_family(o, "tessera_http_requests_total", "counter",
                        "HTTP requests answered, by server, route class and status code.");
    for (size_t s = 0; s < NSRV; s++) {
        for (size_t c = 0; c < NCL; c++) {
            for (size_t k = 0; k < NSTATUS; k++) {
                if (http_count[s][c][k] == 0)
                    continue;
                snprintf(code, sizeof(code), "%zu", k + STATUS_MIN);
                const char *const l[] = {"server", srv_names[s], "class", class_names[c],
                                         "code",   code,         NULL};
                tsr_prom_add(o, "tessera_http_requests_total", l, (int64_t)http_count[s][c][k]);
            }
        }
    }
}

static void decision_families(struct tsr_prom *o)
{
    tsr_prom_add_family(o, "tessera_policy_decisions_total", "counter",
                        "Policy decisions, by decision point (offer, request, use) and outcome.");
    for (size_t p = 0; p < NPT; p++) {
        for (int permit = 1; permit >= 0; permit--) {
            const char *const l[] = {"point", point_names[p], "decision",
                                     permit ? "permit" : "deny", NULL};
            tsr_prom_add(o, "tessera_policy_decisions_total", l, (int64_t)decisions[p][permit]);
        }
    }
}

/* The rows of sql (SELECT role, state, count(*) ... GROUP BY ...) as samples of name. */
static void by_role_state(struct tsr_prom *o, struct tsr_db *db, const char *sql, const char *name)
{
    sqlite3_stmt *s;
    int rc;

    if (o->rc != 0)
        return;
    rc = tsr_db_prepare(db, sql, &s, NULL);
    if (rc != 0) {
        o->rc = rc;
        return;
    }
    while ((rc = tsr_db_step(db, s, NULL)) == 1) {
        const char *role = (const char *)sqlite3_column_text(s, 0);
        const char *state = (const char *)sqlite3_column_text(s, 1);
        const char *const l[] = {"role", role != NULL ? role : "", "state",
                                 state != NULL ? state : "", NULL};
        tsr_prom_add(o, name, l, sqlite3_column_int64(s, 2));
    }
    tsr_db_reset(s);
    if (rc < 0 && o->rc == 0)
        o->rc = rc;
}

/* One number from sql (no parameters), 0 when it fails (a table not there yet). */
static int64_t scalar(struct tsr_db *db, const char *sql, int col)
{
    sqlite3_stmt *s;
    int64_t v = 0;

    if (tsr_db_prepare(db, sql, &s, NULL) != 0)
        return 0;
    if (tsr_db_step(db, s, NULL) == 1)
        v = sqlite3_column_int64(s, col);
    tsr_db_reset(s);
    return v;
}

static void store_families(struct tsr_prom *o, struct tsr_store *st)
{
    struct tsr_db *db = tsr_store_db(st);

    tsr_prom_add_family(o, "tessera_negotiations", "gauge",
                        "Contract negotiations, by role and state.");
    by_role_state(o, db,
                  "SELECT role, state, count(*) FROM conn_negotiation GROUP BY role, state",
                  "tessera_negotiations");
    tsr_prom_add_family(o, "tessera_transfers", "gauge", "Transfer processes, by role and state.");
    by_role_state(o, db, "SELECT role, state, count(*) FROM conn_transfer GROUP BY role, state",
                  "tessera_transfers");
    tsr_prom_add_family(o, "tessera_transfer_bytes", "gauge",
                        "Bytes recorded by the transfer processes kept, by role and state.");
    by_role_state(o, db,
                  "SELECT role, state, coalesce(sum(bytes), 0) FROM conn_transfer"
                  " GROUP BY role, state",
                  "tessera_transfer_bytes");
    tsr_prom_add_family(o, "tessera_agreements", "gauge", "Contract agreements signed.");
    tsr_prom_add(o, "tessera_agreements", NULL,
                 scalar(db, "SELECT count(*) FROM conn_agreement", 0));
    tsr_prom_add_family(o, "tessera_assets", "gauge", "Assets registered.");
    tsr_prom_add(o, "tessera_assets", NULL, scalar(db, "SELECT count(*) FROM conn_asset", 0));
    tsr_prom_add_family(o, "tessera_offers", "gauge",
                        "Offers (an asset under a policy) published.");
    tsr_prom_add(o, "tessera_offers", NULL, scalar(db, "SELECT count(*) FROM conn_offer", 0));
}

/* The seq named by the ledger's head (STATE/ledger beside STATE/vault: connector/usage.h). */
static int64_t ledger_entries(struct tsr_usage *u)
{
    const char *vdir = tsr_vault_dir(tsr_usage_vault(u));
    char path[4200], jws[HEAD_MAX], payload[HEAD_MAX];
    size_t n = 0, plen = 0;
    json_t *j = NULL;
    int64_t seq = 0;
    ssize_t r;
    int fd;

    const char *slash = strrchr(vdir, '/');
    int w = snprintf(path, sizeof(path), "%.*s/ledger/ledger.head",
                     (int)(slash != NULL ? slash - vdir : 1), slash != NULL ? vdir : ".");
    if (w < 0 || (size_t)w >= sizeof(path))
        return 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    while (n < sizeof(jws) - 1 && ((r = read(fd, jws + n, sizeof(jws) - 1 - n)) > 0 ||
                                   (r < 0 && errno == EINTR)))
        n += r > 0 ? (size_t)r : 0;
    close(fd);
    jws[n] = '\0';
    /* header.payload.signature: the count is the payload's seq (not verified here). */
    char *p = strchr(jws, '.');
    char *e = p != NULL ? strchr(p + 1, '.') : NULL;
    if (e == NULL ||
        tsr_b64url_decode(p + 1, (size_t)(e - p - 1), payload, sizeof(payload) - 1, &plen) != 0)
        return 0;
    struct tsr_json_limits lim = TSR_JSON_LIMITS_DEFAULT;
    if (tsr_json_parse(payload, plen, &lim, &j, NULL) == 0 &&
        json_is_integer(json_object_get(j, "seq")))
        seq = json_integer_value(json_object_get(j, "seq"));
    json_decref(j);
    return seq;
}

static void usage_families(struct tsr_prom *o, struct tsr_store *st, struct tsr_usage *u)
{
    struct tsr_db *db = tsr_store_db(st);

    tsr_prom_add_family(o, "tessera_vault_objects", "gauge",
                        "Objects received and kept in the vault.");
    tsr_prom_add_family(o, "tessera_vault_bytes", "gauge",
                        "Bytes of the objects in the vault (plaintext).");
    tsr_prom_add_family(o, "tessera_ledger_entries", "gauge", "Entries of the usage ledger.");
    if (u == NULL)
        return;
    tsr_prom_add(o, "tessera_vault_objects", NULL,
                 scalar(db, "SELECT count(*) FROM vault_objects", 0));
    tsr_prom_add(o, "tessera_vault_bytes", NULL,
                 scalar(db, "SELECT coalesce(sum(size), 0) FROM vault_objects", 0));
    tsr_prom_add(o, "tessera_ledger_entries", NULL, ledger_entries(u));
}

static void data_families(struct tsr_prom *o, struct tsr_dsp *dsp)
{
    struct tsr_dsp_data_stats ds = {0, 0};

    if (dsp != NULL)
        tsr_dsp_data_stats(dsp, &ds);
    tsr_prom_add_family(o, "tessera_data_bytes_total", "counter",
                        "Data bytes received or sent by the data plane since the start.");
    tsr_prom_add(o, "tessera_data_bytes_total", NULL, (int64_t)ds.bytes_moved);
    tsr_prom_add_family(o, "tessera_data_transfers_active", "gauge",
                        "Pulls, pushes and data responses running now.");
    tsr_prom_add(o, "tessera_data_transfers_active", NULL, (int64_t)ds.active);
}

static void h_metrics(struct tsr_http_req *req, void *arg)
{
    struct tsr_mgmt *m = arg;
    const char *key = tsr_http_req_header(req, "x-api-key");
    const char *auth = tsr_http_req_header(req, "authorization");
    const struct tsr_http_server *proto = tsr_mgmt_proto(m);
    struct tsr_prom o;
    struct tsr_diag d = {0};

    if (key == NULL && auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0)
        key = auth + 7;
    if (key == NULL || !tsr_mgmt_key_ok(m, key)) {
        tsr_diag_set(&d, TSR_EAUTH, key == NULL ? "missing X-Api-Key or Authorization header"
                                                : "wrong API key");
        tsr_mgmt_reply_diag(req, TSR_EAUTH, &d);
        return;
    }
    tsr_prom_init(&o, ANSWER_MAX);
    tsr_prom_add_family(&o, "tessera_build_info", "gauge", "The version of tesserad, as a label.");
    const char *const v[] = {"version", PACKAGE_VERSION, NULL};
    tsr_prom_add(&o, "tessera_build_info", v, 1);
    tsr_prom_add_family(&o, "tessera_uptime_seconds", "gauge", "Seconds since tesserad started.");
    tsr_prom_add(&o, "tessera_uptime_seconds", NULL, (tsr_time_mono_ms() - started_ms) / 1000);
    tsr_prom_add_family(&o, "tessera_http_connections", "gauge",
                        "Open connections on the protocol port.");
    tsr_prom_add(&o, "tessera_http_connections", NULL,
                 proto != NULL ? (int64_t)tsr_http_server_connections(proto) : 0);
    http_families(&o);
    decision_families(&o);
    store_families(&o, tsr_mgmt_store(m));
    data_families(&o, tsr_mgmt_dsp(m));
    usage_families(&o, tsr_mgmt_store(m), tsr_mgmt_usage(m));
    if (o.rc != 0) {
        tsr_diag_set(&d, o.rc, "cannot build the metrics: %s", tsr_strerror(o.rc));
        tsr_mgmt_reply_diag(req, o.rc, &d);
    } else {
        struct tsr_http_header h = {"content-type", TSR_PROM_CONTENT_TYPE};
        tsr_http_respond(req, 200, &h, 1, o.b.data != NULL ? o.b.data : "", o.b.len);
    }
    tsr_prom_cleanup(&o);
}

int tsr_metrics_mount(struct tsr_http_server *srv, struct tsr_mgmt *m, struct tsr_diag *d)
{
    int rc;

    started_ms = tsr_time_mono_ms();
    rc = tsr_http_server_route(srv, "GET", TSR_METRICS_PATH, h_metrics, m);
    if (rc != 0)
        return tsr_diag_set(d, rc, "cannot add route %s", TSR_METRICS_PATH);
    tsr_metrics_observe(srv, "management");
    return 0;
}
