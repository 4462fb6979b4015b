/*
 * connector/tesserad.c: the connector daemon's main(): options,
 * configuration, the one event loop, the protocol and management ports,
 * signals (SIGTERM/SIGINT drain and stop, SIGHUP reloads a valid
 * configuration), and the wiring: the store, the HTTP client, DID
 * resolution, identity, the DSP engine (connector/dsp.c) and the
 * management API (connector/mgmt.c).  It serves only GET /health and the
 * participant's did:web document itself.
 *
 * tesserad never forks: it runs in the foreground under systemd
 * (Type=notify, through $NOTIFY_SOCKET, without linking libsystemd), a
 * container runtime or a shell.  -f is accepted for symmetry with
 * tessera-catalogd and older scripts.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "connector/conf.h"
#include "connector/dsp.h"
#include "connector/identity.h"
#include "connector/metrics.h"
#include "connector/mgmt.h"
#include "connector/policy.h"
#include "connector/sd.h"
#include "connector/store.h"
#include "connector/tck.h"
#include "connector/usage.h"
#include "lib/crypto.h"
#include "lib/did.h"
#include "lib/jose.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/sdnotify.h"
#include "lib/str.h"
#include "lib/time.h"
#include "transports/client.h"
#include "transports/did_resolve.h"
#include "transports/http.h"
#include "transports/tls.h"

struct daemon {
    const char *conf_path;
    struct tsr_conf conf;
    struct event_base *base;
    struct tsr_key *key;
    char *did_doc;          /* serialised did.json, served as is */
    char *did_path;         /* where the DID document is served */
    char *public_url;
    struct tsr_tls_ctx *tls;
    struct tsr_http_server *proto;
    struct tsr_http_server *mgmt;
    struct tsr_mgmt *api;   /* the management API's routes on mgmt */
    struct tsr_store *store;
    struct tsr_client *client;
    struct tsr_did_resolver *resolver;
    struct tsr_identity *identity;
    struct tsr_dsp *dsp;
    struct tsr_sd_publisher *sd; /* self-descriptions published to catalogs */
    struct tsr_policy *policy; /* the ODRL registry, agreement cache, use counter */
    struct tsr_usage *usage;   /* the consumer's vault, usage ledger and duties */
    struct event *sig_term, *sig_int, *sig_hup;
    struct event *housekeeping;  /* periodic: purge expired token ids */
    int lock_fd;
    int draining;           /* servers still draining */
    const char *debug_override;
};

/* ------------------------------------------------------------ handlers */

static void h_health(struct tsr_http_req *req, void *arg)
{
    (void)arg;
    tsr_http_respond_text(req, 200, "application/json", "{\"status\":\"ok\"}\n");
}

static void h_did(struct tsr_http_req *req, void *arg)
{
    struct daemon *dm = arg;

    tsr_http_respond_text(req, 200, "application/did+json", dm->did_doc);
}

/* ------------------------------------------------------------ setup */

static int build_identity(struct daemon *dm, struct tsr_diag *d)
{
    json_t *jwk = NULL, *doc = NULL;
    char *url = NULL;
    int rc;

    rc = tsr_key_load_pem(dm->conf.participant_key, &dm->key, d);
    if (rc != 0)
        return tsr_diag_prefix(d, "participant key %s", dm->conf.participant_key);
    rc = tsr_did_web_to_url(dm->conf.did, &url, d);
    if (rc != 0)
        goto out;
    /* did:web:host%3Aport maps to https://host:port/.well-known/did.json and
     * did:web:host:a:b to https://host/a/b/did.json; the path part is what
     * this server must answer. */
    const char *path = strchr(url + strlen("https://"), '/');
    dm->did_path = tsr_strdup(path);
    if (dm->conf.public_url != NULL && dm->conf.public_url[0] != '\0') {
        dm->public_url = tsr_strdup(dm->conf.public_url);
    } else {
        dm->public_url = tsr_strndup(url, (size_t)(path - url));
    }
    if (dm->did_path == NULL || dm->public_url == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    rc = tsr_key_to_jwk(dm->key, false, &jwk, d);
    if (rc != 0)
        goto out;
    char dsp[2100];
    snprintf(dsp, sizeof(dsp), "%s", dm->public_url);
    struct tsr_did_service svc = {"dsp", "DataService", dsp};
    rc = tsr_did_doc_build(dm->conf.did, jwk, &svc, 1, &doc, d);
    if (rc != 0)
        goto out;
    dm->did_doc = json_dumps(doc, JSON_INDENT(2));
    if (dm->did_doc == NULL)
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
out:
    json_decref(jwk);
    json_decref(doc);
    tsr_free(url);
    return rc;
}

static int make_tls(const struct tsr_conf *c, struct tsr_tls_ctx **out, struct tsr_diag *d)
{
    struct tsr_tls_opts o = {
        .cert_file = c->tls_cert,
        .key_file = c->tls_key,
        .client_ca = c->client_ca,
        .require_client_cert = c->require_client_cert,
        .allow_h2 = true,
    };

    *out = NULL;
    if (!c->tls)
        return 0;
    return tsr_tls_ctx_new(&o, out, d);
}

static void apply_logging(const struct daemon *dm)
{
    tsr_log_setup((enum tsr_log_format)dm->conf.log_format, (enum tsr_log_level)dm->conf.log_level);
    tsr_log_set_debug(dm->debug_override != NULL ? dm->debug_override
                      : dm->conf.log_debug != NULL ? dm->conf.log_debug
                                                    : "");
}

static int lock_state(struct daemon *dm, struct tsr_diag *d)
{
    char path[4200];

    if (mkdir(dm->conf.state_dir, 0700) != 0 && errno != EEXIST)
        return tsr_diag_set(d, TSR_EIO, "cannot create state folder %s: %s", dm->conf.state_dir,
                            strerror(errno));
    snprintf(path, sizeof(path), "%s/tesserad.lock", dm->conf.state_dir);
    dm->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (dm->lock_fd < 0)
        return tsr_diag_set(d, TSR_EIO, "cannot open %s: %s", path, strerror(errno));
    /* One daemon per state folder: a second one would corrupt nothing
     * (SQLite locks) but would answer for contracts it does not drive. */
    if (flock(dm->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return tsr_diag_set(d, TSR_EEXIST, "another tesserad is running on %s", dm->conf.state_dir);
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(dm->lock_fd, 0) == 0)
        (void)!write(dm->lock_fd, pid, (size_t)n);
    return 0;
}

/* Replay protection for incoming tokens, kept in the store so that a
 * restart does not reopen the window. */
static int jti_seen(void *arg, const char *iss, const char *jti, int64_t until_ms)
{
    return tsr_store_jti_add(arg, iss, jti, until_ms, NULL);
}

/* Token ids are kept until their token expires; drop the expired ones so
 * the replay table stays as small as the traffic of a few minutes. */
static void on_housekeeping(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *dm = arg;
    size_t removed = 0;

    (void)fd;
    (void)what;
    if (tsr_store_jti_purge(dm->store, tsr_time_now_ms(), &removed, NULL) == 0 && removed > 0)
        tsr_log_debug(TSR_LC_DB, "purged %zu expired token ids", removed);
}

/* The store, the outgoing client, DID resolution, identity and DSP. */
static int start_engine(struct daemon *dm, struct tsr_diag *d)
{
    char path[4200];
    int rc;

    snprintf(path, sizeof(path), "%s/tesserad.db", dm->conf.state_dir);
    rc = tsr_store_open(path, &dm->store, d);
    if (rc != 0)
        return rc;
    tsr_store_jti_purge(dm->store, tsr_time_now_ms(), NULL, NULL);
    dm->policy = tsr_policy_new(dm->store);
    if (dm->policy == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "cannot set up the policy engine");
    dm->housekeeping = event_new(dm->base, -1, EV_PERSIST, on_housekeeping, dm);
    if (dm->housekeeping != NULL) {
        struct timeval tv = {60, 0};
        event_add(dm->housekeeping, &tv);
    }
    struct tsr_client_opts co = {
        .ca_file = dm->conf.ca_file != NULL && dm->conf.ca_file[0] != '\0' ? dm->conf.ca_file : NULL,
        .connect_timeout_ms = (long)dm->conf.connect_timeout,
        .timeout_ms = (long)dm->conf.request_timeout,
    };
    rc = tsr_client_new(&dm->client, dm->base, &co, d);
    if (rc != 0)
        return rc;
    rc = tsr_did_resolver_new(&dm->resolver, dm->client, NULL, d);
    if (rc != 0)
        return rc;
    struct tsr_identity_opts io = {
        .lifetime_s = (int64_t)(dm->conf.token_lifetime / 1000),
        .allow = (const char *const *)dm->conf.allow.items,
        .deny = (const char *const *)dm->conf.deny.items,
        .seen = jti_seen,
        .seen_arg = dm->store,
    };
    rc = tsr_identity_new(&dm->identity, dm->conf.did, dm->key, dm->resolver, &io, d);
    if (rc != 0)
        return rc;
    snprintf(path, sizeof(path), "%s/data", dm->conf.state_dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return tsr_diag_set(d, TSR_EIO, "cannot create %s: %s", path, strerror(errno));
    struct tsr_usage_opts uo = {
        .base = dm->base,
        .store = dm->store,
        .policy = dm->policy,
        .identity = dm->identity,
        .client = dm->client,
        .resolver = dm->resolver,
        .key = dm->key,
        .did = dm->conf.did,
        .state_dir = dm->conf.state_dir,
    };
    rc = tsr_usage_new(&uo, &dm->usage, d);
    if (rc != 0)
        return rc;
    struct tsr_dsp_opts po = {
        .did = dm->conf.did,
        .public_url = dm->public_url,
        .store = dm->store,
        .identity = dm->identity,
        .client = dm->client,
        .key = dm->key,
        .data_dir = path,
        .token_lifetime_ms = dm->conf.data_token_lifetime,
        /* Pushed pieces fit the protocol port's request-body limit with room to spare. */
        .push_segment = TSR_MIN(dm->conf.max_body_size / 2, (uint64_t)8 * 1024 * 1024),
        .policy = dm->policy,
        .usage = dm->usage,
        .trace_dir = dm->conf.dsp_trace_dir != NULL && dm->conf.dsp_trace_dir[0] != '\0'
                         ? dm->conf.dsp_trace_dir
                         : NULL,
    };
    return tsr_dsp_new(dm->base, &po, &dm->dsp, d);
}

static int start_servers(struct daemon *dm, struct tsr_diag *d)
{
    struct tsr_http_limits lim;
    int rc;

    tsr_conf_http_limits(&dm->conf, &lim);
    rc = make_tls(&dm->conf, &dm->tls, d);
    if (rc != 0)
        return rc;
    rc = tsr_http_server_new(dm->base, &lim, dm->tls, &dm->proto);
    if (rc != 0)
        return tsr_diag_set(d, rc, "out of memory");
    tsr_metrics_observe(dm->proto, "protocol");
    tsr_http_server_route(dm->proto, "GET", "/health", h_health, dm);
    tsr_http_server_route(dm->proto, "GET", dm->did_path, h_did, dm);
    rc = tsr_dsp_mount(dm->dsp, dm->proto, d);
    if (rc == 0)
        rc = tsr_usage_mount(dm->usage, dm->proto, d);
    if (rc == 0)
        rc = tsr_tck_setup(dm->base, &dm->conf, dm->dsp, dm->store, dm->proto, d);
    if (rc != 0)
        return rc;
    rc = tsr_http_server_listen(dm->proto, dm->conf.listen, (uint16_t)dm->conf.port, d);
    if (rc != 0)
        return rc;

    /* The management API is local and small: default limits, no TLS. */
    rc = tsr_http_server_new(dm->base, NULL, NULL, &dm->mgmt);
    if (rc != 0)
        return tsr_diag_set(d, rc, "out of memory");
    tsr_http_server_route(dm->mgmt, "GET", "/health", h_health, dm);
    struct tsr_mgmt_info info = {dm->conf.name, dm->conf.did, dm->public_url, dm->proto};
    rc = tsr_mgmt_new(dm->base, dm->mgmt, dm->store, dm->dsp, dm->conf.api_key, &info, &dm->api,
                      d);
    if (rc != 0)
        return rc;
    tsr_mgmt_set_policy(dm->api, dm->policy);
    rc = tsr_sd_publisher_from_conf(dm->base, dm->client, &dm->conf, dm->public_url, dm->key,
                                    dm->store, &dm->sd, d);
    if (rc != 0)
        return rc;
    tsr_mgmt_set_sd(dm->api, dm->sd);
    tsr_mgmt_set_usage(dm->api, dm->usage);
    return tsr_http_server_listen(dm->mgmt, dm->conf.mgmt_listen, (uint16_t)dm->conf.mgmt_port,
                                  d);
}

/* ------------------------------------------------------------ signals */

static void on_drained(void *arg)
{
    struct daemon *dm = arg;

    if (--dm->draining == 0)
        event_base_loopexit(dm->base, NULL);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *dm = arg;

    (void)what;
    if (dm->draining > 0) {
        tsr_log_warn(TSR_LC_MAIN, "second signal: stopping at once");
        event_base_loopbreak(dm->base);
        return;
    }
    tsr_log_info(TSR_LC_MAIN, "%s: draining and stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    tsr_sd_notify("STOPPING=1");
    dm->draining = 2;
    tsr_http_server_drain(dm->proto, on_drained, dm);
    tsr_http_server_drain(dm->mgmt, on_drained, dm);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *dm = arg;
    struct tsr_conf next;
    struct tsr_tls_ctx *tls = NULL;
    struct tsr_http_limits lim;
    struct tsr_diag d = {0};

    (void)sig;
    (void)what;
    tsr_sd_notify("RELOADING=1");
    if (tsr_conf_load(dm->conf_path, &next, &d) != 0) {
        tsr_log_error(TSR_LC_MAIN, "reload refused, keeping the running configuration: %s",
                      tsr_diag_msg(&d));
        goto out;
    }
    /* Only keys marked reloadable may change: the rest were used to set up
     * sockets, identity and the engine once. */
    const struct tsr_cfg_key *fixed =
        tsr_cfg_restart_change(tsr_conf_keys, tsr_conf_nkeys, &dm->conf, &next);
    if (fixed != NULL) {
        tsr_log_error(TSR_LC_MAIN, "reload refused: [%s] %s changed, which needs a restart",
                      fixed->section, fixed->name);
        tsr_conf_free(&next);
        goto out;
    }
    if (make_tls(&next, &tls, &d) != 0) {
        tsr_log_error(TSR_LC_MAIN, "reload refused, TLS: %s", tsr_diag_msg(&d));
        tsr_conf_free(&next);
        goto out;
    }
    /* All checks passed: swap in the new configuration as a whole. */
    tsr_conf_http_limits(&next, &lim);
    tsr_http_server_set_limits(dm->proto, &lim);
    tsr_http_server_set_tls(dm->proto, tls);
    tsr_tls_ctx_free(dm->tls);
    dm->tls = tls;
    tsr_conf_free(&dm->conf);
    dm->conf = next;
    struct tsr_mgmt_info info = {dm->conf.name, dm->conf.did, dm->public_url, dm->proto};
    if (tsr_mgmt_set_api_key(dm->api, dm->conf.api_key) != 0 ||
        tsr_mgmt_set_info(dm->api, &info) != 0)
        tsr_log_error(TSR_LC_MAIN, "reload: out of memory; the management API keeps its old key");
    apply_logging(dm);
    tsr_log_info(TSR_LC_MAIN, "configuration reloaded from %s", dm->conf_path);
out:
    tsr_sd_notify("READY=1");
}

/* ------------------------------------------------------------ main */

static void usage(FILE *fp)
{
    fprintf(fp, "usage: tesserad -c FILE [-n] [-f] [-d COMPONENTS]\n"
                "       tesserad --help-config | --version | --help\n"
                "\n"
                "  -c, --config FILE   the connector's tessera.conf\n"
                "  -n, --check         check the configuration, print \"configuration OK\", exit\n"
                "  -f, --foreground    run in the foreground (tesserad never forks)\n"
                "  -d, --debug LIST    debug output for components (\"all\", \"http,tls\")\n"
                "      --help-config   list every configuration key with its default\n"
                "  -V, --version       print the version\n"
                "  -h, --help          this help\n"
                "\nSignals: SIGTERM/SIGINT drain and stop; SIGHUP reloads the configuration.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 'n'},
        {"foreground", no_argument, NULL, 'f'},   {"debug", required_argument, NULL, 'd'},
        {"version", no_argument, NULL, 'V'},      {"help", no_argument, NULL, 'h'},
        {"help-config", no_argument, NULL, 'K'},  {NULL, 0, NULL, 0},
    };
    struct daemon dm = {.lock_fd = -1};
    struct tsr_diag d = {0};
    bool check_only = false;
    int ch, status = 1;

    tsr_log_set_ident("tesserad");
    while ((ch = getopt_long(argc, argv, "c:nfd:Vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': dm.conf_path = optarg; break;
        case 'n': check_only = true; break;
        case 'f': break;
        case 'd':
            if (tsr_log_set_debug(optarg) != 0) {
                fprintf(stderr, "tesserad: unknown debug component in \"%s\"\n", optarg);
                return 2;
            }
            dm.debug_override = optarg;
            break;
        case 'V': printf("tesserad %s\n", PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        case 'K': tsr_cfg_print_keys(tsr_conf_keys, tsr_conf_nkeys, stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || dm.conf_path == NULL) {
        usage(stderr);
        return 2;
    }
    if (tsr_conf_load(dm.conf_path, &dm.conf, &d) != 0) {
        fprintf(stderr, "tesserad: %s\n", tsr_diag_msg(&d));
        return 1;
    }
    apply_logging(&dm);
    if (build_identity(&dm, &d) != 0)
        goto fail;
    if (check_only) {
        struct tsr_tls_ctx *tls = NULL;
        if (make_tls(&dm.conf, &tls, &d) != 0)
            goto fail;
        tsr_tls_ctx_free(tls);
        printf("configuration OK\n");
        status = 0;
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    if (lock_state(&dm, &d) != 0)
        goto fail;
    dm.base = event_base_new();
    if (dm.base == NULL) {
        tsr_diag_set(&d, TSR_ENOMEM, "cannot create the event loop");
        goto fail;
    }
    if (start_engine(&dm, &d) != 0 || start_servers(&dm, &d) != 0)
        goto fail;
    dm.sig_term = evsignal_new(dm.base, SIGTERM, on_stop, &dm);
    dm.sig_int = evsignal_new(dm.base, SIGINT, on_stop, &dm);
    dm.sig_hup = evsignal_new(dm.base, SIGHUP, on_hup, &dm);
    event_add(dm.sig_term, NULL);
    event_add(dm.sig_int, NULL);
    event_add(dm.sig_hup, NULL);
    tsr_log_info(TSR_LC_MAIN, "tesserad %s: %s (%s)", PACKAGE_VERSION, dm.conf.did, dm.conf.name);
    tsr_log_info(TSR_LC_MAIN, "protocol port %s:%lld (%s), public URL %s", dm.conf.listen,
                 dm.conf.port, dm.conf.tls ? "TLS and cleartext; h2 and http/1.1" : "cleartext",
                 dm.public_url);
    tsr_log_info(TSR_LC_MAIN, "management API http://%s:%lld/api/v1", dm.conf.mgmt_listen,
                 dm.conf.mgmt_port);
    tsr_sd_notify("READY=1");
    event_base_dispatch(dm.base);
    tsr_log_info(TSR_LC_MAIN, "stopped");
    status = 0;
    goto out;
fail:
    if (check_only)
        fprintf(stderr, "tesserad: %s\n", tsr_diag_msg(&d));
    else
        tsr_log_error(TSR_LC_MAIN, "%s", tsr_diag_msg(&d));
out:
    if (dm.sig_term)
        event_free(dm.sig_term);
    if (dm.sig_int)
        event_free(dm.sig_int);
    if (dm.sig_hup)
        event_free(dm.sig_hup);
    if (dm.housekeeping)
        event_free(dm.housekeeping);
    tsr_http_server_free(dm.proto);
    tsr_http_server_free(dm.mgmt);
    tsr_dsp_free(dm.dsp);
    tsr_mgmt_free(dm.api);
    tsr_sd_publisher_free(dm.sd);
    tsr_usage_free(dm.usage);
    tsr_policy_free(dm.policy);
    tsr_identity_free(dm.identity);
    tsr_did_resolver_free(dm.resolver);
    tsr_client_free(dm.client);
    tsr_store_close(dm.store);
    tsr_tls_ctx_free(dm.tls);
    if (dm.base != NULL)
        event_base_free(dm.base);
    tsr_key_free(dm.key);
    free(dm.did_doc);
    tsr_free(dm.did_path);
    tsr_free(dm.public_url);
    tsr_conf_free(&dm.conf);
    if (dm.lock_fd >= 0)
        close(dm.lock_fd);
    return status;
}
