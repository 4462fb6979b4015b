/*
 * connector/cli/cmd_catalog.c: `tessera catalog ...`: catalogs.  `catalog
 * fetch` asks one connector for its DSP catalog, through our own
 * connector (which signs the request with the participant's identity).
 * `catalog init` sets up a federated catalog node (tessera-catalogd) and
 * `catalog query` searches one.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/conf.h"
#include "connector/cli/api.h"
#include "connector/cli/cli.h"
#include "connector/conf.h"
#include "lib/buf.h"
#include "lib/crypto.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "transports/client.h"

/* Nested catalogs followed when listing datasets for people. */
#define NESTING_MAX 4

/* v as a list: an array as is, a single value as a list of one (compacted JSON-LD does both). */
static size_t items_of(const json_t *v, const json_t **first)
{
    *first = v;
    if (json_is_array(v))
        return json_array_size(v);
    return v != NULL && !json_is_null(v) ? 1 : 0;
}

static const json_t *item(const json_t *v, size_t i)
{
    return json_is_array(v) ? json_array_get(v, i) : v;
}

/* A text member that may be a plain string or a {"@value": ...} object. */
static const char *text_of(const json_t *obj, const char *const *keys)
{
    for (size_t i = 0; keys[i] != NULL; i++) {
        const json_t *v = json_object_get(obj, keys[i]);

        if (json_is_array(v))
            v = json_array_get(v, 0);
        if (json_is_object(v))
            v = json_object_get(v, "@value");
        if (json_is_string(v))
            return json_string_value(v);
    }
    return "-";
}

/* One row per offer of each dataset, nested catalogs included. */
static int add_datasets(struct tsr_cli_table *t, const json_t *catalog, int depth)
{
    static const char *const title_keys[] = {"title", "dct:title", "dcterms:title", NULL};
    static const char *const format_keys[] = {"format", "dct:format", NULL};
    const json_t *ds, *sub;
    size_t n = items_of(json_object_get(catalog, "dataset"), &ds);
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < n; i++) {
        const json_t *d = item(ds, i), *pol, *dist;
        size_t np = items_of(json_object_get(d, "hasPolicy"), &pol);
        size_t nd = items_of(json_object_get(d, "distribution"), &dist);
        char formats[256] = "";
        size_t used = 0;

        for (size_t k = 0; k < nd; k++) {
            const char *f = text_of(item(dist, k), format_keys);
            int w = snprintf(formats + used, sizeof(formats) - used, "%s%s", used ? "," : "", f);

            if (w < 0 || (size_t)w >= sizeof(formats) - used)
                break;
            used += (size_t)w;
        }
        for (size_t k = 0; rc == 0 && k < (np > 0 ? np : 1); k++) {
            const char *offer = np > 0 ? tsr_cli_jstr(item(pol, k), "@id") : "-";
            const char *row[] = {offer, tsr_cli_jstr(d, "@id"), used ? formats : "-",
                                 text_of(d, title_keys)};

            rc = tsr_cli_table_add(t, row);
        }
    }
    n = items_of(json_object_get(catalog, "catalog"), &sub);
    for (size_t i = 0; rc == 0 && depth < NESTING_MAX && i < n; i++)
        rc = add_datasets(t, item(sub, i), depth + 1);
    return rc;
}

static int catalog_fetch(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {TSR_CLI_OPT_HELP, {NULL, 0, NULL, 0}};
    static const char *const head[] = {"OFFER", "DATASET", "FORMAT", "TITLE"};
    struct tsr_cli_table t;
    const char *url;
    json_t *body, *cat = NULL;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1)
        return tsr_cli_opt_other(cli, c);
    if (argc - optind != 1)
        return tsr_cli_usage(cli, "expected the provider's PROVIDER_URL");
    url = argv[optind];
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return tsr_cli_usage(cli, "%s: not an http:// or https:// URL", url);
    body = json_pack("{s:s}", "provider_url", url);
    if (body == NULL)
        return tsr_cli_fail(cli, "out of memory");
    rc = tsr_cli_api_call(cli, "POST", "/catalog/request", body, &cat);
    json_decref(body);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, cat);
    printf("catalog %s of %s\n\n", tsr_cli_jstr(cat, "@id"), tsr_cli_jstr(cat, "participantId"));
    rc = tsr_cli_table_init(&t, 4, head);
    t.maxw[3] = 50;
    if (rc == 0)
        rc = add_datasets(&t, cat, 0);
    if (rc == 0)
        tsr_cli_table_print(&t, stdout);
    tsr_cli_table_cleanup(&t);
    json_decref(cat);
    return rc == 0 ? TSR_CLI_EXIT_OK : tsr_cli_fail(cli, "out of memory");
}

static const struct tsr_cmd_entry fetch_entry = {
    .name = "fetch",
    .alias = NULL,
    .usage = "PROVIDER_URL",
    .help = "Ask one connector for its catalog (a DSP catalog request).\n"
            "PROVIDER_URL is the provider's DSP base URL, or its root URL (the version is then\n"
            "found through /.well-known/dspace-version). Lists each offer with its dataset;\n"
            "'tessera negotiate PROVIDER_URL OFFER' negotiates for one. With --json: the DSP\n"
            "Catalog as the provider sent it. Exit status 3 when the provider cannot be\n"
            "reached.",
    .exec = catalog_fetch,
};

/* ------------------------------------------------------------ catalog init */

/* Most --peer options, and the TLS certificate's lifetime. */
#define INIT_PEERS_MAX 64
#define INIT_TLS_DAYS 825

static int catalog_init(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"peer", required_argument, NULL, 'P'},
                                         {"ca", required_argument, NULL, 'a'},
                                         TSR_CLI_OPT_HELP,
                                         {NULL, 0, NULL, 0}};
    const char *set[2 * (INIT_PEERS_MAX + 8) + 1];
    char portbuf[16], path[4096], key[4096], cert[4096], cafile[4096];
    const char *ca = NULL, *dir;
    long long port = 9443;
    size_t ns = 0, npeers = 0;
    struct tsr_diag d = {0};
    bool created = false;
    char *text = NULL;
    size_t len = 0;
    FILE *fp;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "p:P:a:h", opts)) != -1) {
        switch (c) {
        case 'p':
            if (!tsr_cli_int_arg(cli, "--port", optarg, 1, 65535, &port))
                return TSR_CLI_EXIT_USAGE;
            break;
        case 'P':
            if (npeers == INIT_PEERS_MAX)
                return tsr_cli_usage(cli, "at most %d peers", INIT_PEERS_MAX);
            if (strncmp(optarg, "https://", 8) != 0 && strncmp(optarg, "http://", 7) != 0)
                return tsr_cli_usage(cli, "--peer %s: not an http:// or https:// URL", optarg);
            set[ns++] = "federation.peers";
            set[ns++] = optarg;
            npeers++;
            break;
        case 'a': ca = optarg; break;
        default: return tsr_cli_opt_other(cli, c);
        }
    }
    if (argc - optind != 1)
        return tsr_cli_usage(cli, "expected the node's folder DIR");
    dir = argv[optind];
    snprintf(path, sizeof(path), "%s/catalog.conf", dir);
    if (access(path, F_OK) == 0)
        return tsr_cli_fail(cli, "%s exists already", path);
    rc = tsr_cli_make_dir(cli, dir, &created);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    snprintf(portbuf, sizeof(portbuf), "%lld", port);
    set[ns++] = "server.port";
    set[ns++] = portbuf;
    if (ca != NULL) {
        /* A certificate from the demo CA for loopback, and the CA trusted for DID documents. */
        static const char *const hosts[] = {"127.0.0.1", "localhost"};
        snprintf(key, sizeof(key), "%s/tls.key", dir);
        snprintf(cert, sizeof(cert), "%s/tls.crt", dir);
        rc = tsr_pki_issue_dir(ca, hosts, 2, key, cert, INIT_TLS_DAYS, &d);
        if (rc != 0) {
            rc = tsr_cli_fail_diag(cli, rc, &d, "TLS certificate");
            goto fail;
        }
        char *abs = realpath(ca, NULL);
        if (abs == NULL) {
            rc = tsr_cli_fail(cli, "%s: %s", ca, strerror(errno));
            goto fail;
        }
        snprintf(cafile, sizeof(cafile), "%s/ca.crt", abs);
        free(abs);
        set[ns++] = "server.tls";
        set[ns++] = "yes";
        set[ns++] = "client.ca_file";
        set[ns++] = cafile;
    }
    set[ns] = NULL;
    fp = open_memstream(&text, &len);
    if (fp == NULL) {
        rc = tsr_cli_fail(cli, "out of memory");
        goto fail;
    }
    rc = tsr_catconf_write_template(fp, set);
    if (fclose(fp) != 0 || rc != 0) {
        rc = tsr_cli_fail(cli, "cannot build catalog.conf");
        goto fail;
    }
    rc = tsr_crypto_write_file(path, text, len, 0644, &d);
    if (rc != 0) {
        rc = tsr_cli_fail_diag(cli, rc, &d, NULL);
        goto fail;
    }
    free(text);
    if (cli->json)
        return tsr_cli_json_out(cli, json_pack("{s:s, s:I, s:b}", "config", path,
                                               "port", (json_int_t)port, "tls", ca != NULL));
    printf("catalog node in %s: tessera-catalogd -c %s (port %lld, %s)\n", dir, path, port,
           ca != NULL ? "TLS" : "cleartext");
    return TSR_CLI_EXIT_OK;
fail:
    free(text);
    if (ca != NULL) {
        unlink(key);
        unlink(cert);
    }
    if (created)
        rmdir(dir);
    return rc;
}

static const struct tsr_cmd_entry init_entry = {
    .name = "init",
    .alias = NULL,
    .usage = "DIR [--port N] [--peer URL]... [--ca CADIR]",
    .help = "Set up a federated catalog node (tessera-catalogd) in DIR.\n"
            "  -p, --port N     the node's port (default 9443)\n"
            "  -P, --peer URL   a peer node whose event log this node pulls (repeatable)\n"
            "  -a, --ca CADIR   a TLS certificate from this CA (tessera ca), which is also\n"
            "                   trusted for DID documents and peers; without it: cleartext\n"
            "Writes DIR/catalog.conf; start the node with tessera-catalogd -c DIR/catalog.conf.",
    .exec = catalog_init,
};

/* ------------------------------------------------------------ catalog query */

/* --catalog, or the first of the connector's [catalog] urls (-C DIR). */
static int catalog_url(struct tsr_cli *cli, const char *given, const char **url)
{
    const char *u = NULL, *k = NULL;

    /* A connector's configuration also says which CAs to trust ([client] ca_file). */
    if (cli->conf_dir != NULL) {
        int rc = tsr_cli_api(cli, &u, &k);
        if (rc != TSR_CLI_EXIT_OK)
            return rc;
    }
    if (given != NULL) {
        *url = given;
        return TSR_CLI_EXIT_OK;
    }
    if (cli->conf_dir == NULL)
        return tsr_cli_usage(cli, "name the catalog with --catalog URL (or -C DIR of a connector "
                                  "whose [catalog] urls lists one)");
    if (cli->conf == NULL || cli->conf->catalog_urls.n == 0)
        return tsr_cli_usage(cli, "no catalog: [catalog] urls is empty; use --catalog URL");
    *url = cli->conf->catalog_urls.items[0];
    return TSR_CLI_EXIT_OK;
}

/* Append "?name=value" or "&name=value" (value percent-encoded) to b. */
static int add_param(struct tsr_buf *b, const char *name, const char *v)
{
    int rc;

    if (v == NULL)
        return 0;
    rc = tsr_buf_addf(b, "%s%s=", strchr(tsr_buf_str(b), '?') != NULL ? "&" : "?", name);
    return rc != 0 ? rc : tsr_buf_add_pct(b, v, NULL);
}

static int catalog_query(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {{"catalog", required_argument, NULL, 'c'},
                                         {"type", required_argument, NULL, 't'},
                                         {"participant", required_argument, NULL, 'p'},
                                         {"keyword", required_argument, NULL, 'k'},
                                         {"media-type", required_argument, NULL, 'm'},
                                         {"limit", required_argument, NULL, 'n'},
                                         {"cursor", required_argument, NULL, 'r'},
                                         TSR_CLI_OPT_HELP,
                                         {NULL, 0, NULL, 0}};
    static const char *const head[] = {"TYPE", "TITLE", "PARTICIPANT", "DATASET", "ENDPOINT"};
    const char *given = NULL, *type = NULL, *part = NULL, *kw = NULL, *mt = NULL, *url = NULL;
    const char *limit = NULL, *cursor = NULL;
    char *text = NULL;
    long long lim = 0;
    struct tsr_buf b, words;
    struct tsr_client_resp resp;
    json_t *ans = NULL, *it;
    size_t i;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "c:t:p:k:m:n:r:h", opts)) != -1) {
        switch (c) {
        case 'c': given = optarg; break;
        case 't': type = optarg; break;
        case 'p': part = optarg; break;
        case 'k': kw = optarg; break;
        case 'm': mt = optarg; break;
        case 'n':
            if (!tsr_cli_int_arg(cli, "--limit", optarg, 1, 1000, &lim))
                return TSR_CLI_EXIT_USAGE;
            limit = optarg;
            break;
        case 'r': cursor = optarg; break;
        default: return tsr_cli_opt_other(cli, c);
        }
    }
    rc = catalog_url(cli, given, &url);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (url == NULL)
        return tsr_cli_usage(cli, "no catalog URL");
    tsr_buf_init(&words, 4096);
    for (int k = optind; k < argc; k++)
        tsr_buf_addf(&words, "%s%s", k > optind ? " " : "", argv[k]);
    tsr_buf_init(&b, 16384);
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    rc = tsr_buf_addf(&b, "%.*s/query", (int)n, url);
    if (rc == 0 && words.len > 0)
        rc = add_param(&b, "q", tsr_buf_str(&words));
    if (rc == 0)
        rc = add_param(&b, "type", type);
    if (rc == 0)
        rc = add_param(&b, "participant", part);
    if (rc == 0)
        rc = add_param(&b, "keyword", kw);
    if (rc == 0)
        rc = add_param(&b, "mediaType", mt);
    if (rc == 0)
        rc = add_param(&b, "limit", limit);
    if (rc == 0)
        rc = add_param(&b, "cursor", cursor);
    tsr_buf_cleanup(&words);
    if (rc != 0) {
        tsr_buf_cleanup(&b);
        return tsr_cli_usage(cli, "query too long");
    }
    struct tsr_client_opts co = {0};
    if (cli->conf != NULL && cli->conf->ca_file != NULL && cli->conf->ca_file[0] != '\0')
        co.ca_file = cli->conf->ca_file;
    const char *env_ca = getenv("TESSERA_CLIENT_CA_FILE");
    if (env_ca != NULL && env_ca[0] != '\0')
        co.ca_file = env_ca;
    struct tsr_client_req req = {.method = "GET", .url = tsr_buf_str(&b)};
    rc = tsr_client_fetch_sync(&co, &req, &resp);
    tsr_buf_cleanup(&b);
    if (rc != 0) {
        rc = tsr_cli_fail_diag(cli, rc, &resp.diag, url);
        tsr_client_resp_cleanup(&resp);
        return rc;
    }
    text = tsr_buf_steal(&resp.body, NULL);
    ans = text != NULL ? json_loads(text, 0, NULL) : NULL;
    tsr_free(text);
    if (resp.status != 200) {
        rc = tsr_cli_fail(cli, "%s: HTTP %d: %s", url, resp.status,
                          tsr_cli_jstr(ans, "error"));
        tsr_client_resp_cleanup(&resp);
        json_decref(ans);
        return rc;
    }
    tsr_client_resp_cleanup(&resp);
    if (ans == NULL)
        return tsr_cli_fail(cli, "%s: the answer is not JSON", url);
    if (cli->json)
        return tsr_cli_json_out(cli, ans);
    struct tsr_cli_table t;
    rc = tsr_cli_table_init(&t, 5, head);
    t.maxw[1] = 40;
    json_array_foreach(json_object_get(ans, "items"), i, it) {
        const char *row[] = {tsr_cli_jstr(it, "type"), tsr_cli_jstr(it, "title"),
                             tsr_cli_jstr(it, "participant"), tsr_cli_jstr(it, "dataset_id"),
                             tsr_cli_jstr(it, "endpoint")};
        if (rc == 0)
            rc = tsr_cli_table_add(&t, row);
    }
    if (rc == 0)
        tsr_cli_table_print(&t, stdout);
    tsr_cli_table_cleanup(&t);
    /* The catalog gives a cursor for a full page: say how to ask for the next one. */
    const char *next = json_string_value(json_object_get(ans, "next_cursor"));
    if (rc == 0 && next != NULL)
        printf("more results: the same query with --cursor %s\n", next);
    json_decref(ans);
    return rc == 0 ? TSR_CLI_EXIT_OK : tsr_cli_fail(cli, "out of memory");
}

static const struct tsr_cmd_entry query_entry = {
    .name = "query",
    .alias = NULL,
    .usage = "[--catalog URL] [TEXT] [--type T] [--participant DID] [--keyword K] "
             "[--media-type M] [--limit N] [--cursor C]",
    .help = "Search a federated catalog (tessera-catalogd) for offers and participants.\n"
            "  -c, --catalog URL       the catalog (default: the first of [catalog] urls of\n"
            "                          the connector named by -C DIR)\n"
            "  -t, --type T            ServiceOffering or LegalPerson\n"
            "  -p, --participant DID   entries of this participant\n"
            "  -k, --keyword K         offers with this keyword\n"
            "  -m, --media-type M      offers of this media type\n"
            "  -n, --limit N           at most N results (1..1000, default 20)\n"
            "  -r, --cursor C          the next page: C is the cursor a full page gave\n"
            "                          (\"next_cursor\" with --json)\n"
            "TEXT: words that must all appear in the title, description or keywords; results\n"
            "are ranked by relevance, then newest first. Exit status 3 when the catalog cannot\n"
            "be reached.",
    .exec = catalog_query,
};

static const struct tsr_cmd_entry *const subcommands[] = {&fetch_entry, &init_entry,
                                                          &query_entry};

static int catalog_exec(int argc, char **argv, struct tsr_cli *cli)
{
    return tsr_cli_dispatch(cli, subcommands, TSR_ARRAY_SIZE(subcommands), argc - 1, argv + 1);
}

const struct tsr_cmd_entry tsr_cmd_catalog_entry = {
    .name = "catalog",
    .alias = NULL,
    .usage = "fetch | init | query ...",
    .help = "Catalogs of data offers.\n"
            "  catalog fetch PROVIDER_URL    the DSP catalog of one connector\n"
            "  catalog init DIR ...          set up a federated catalog node\n"
            "  catalog query [TEXT] ...      search a federated catalog",
    .exec = catalog_exec,
};
