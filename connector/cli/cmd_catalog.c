/*
 * connector/cli/cmd_catalog.c: `tessera catalog ...`: catalogs.  `catalog
 * fetch` asks one connector for its DSP catalog, through our own
 * connector (which signs the request with the participant's identity).
 * Queries to a federated catalog node are another sub-command.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"

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

static const struct tsr_cmd_entry *const subcommands[] = {&fetch_entry};

static int catalog_exec(int argc, char **argv, struct tsr_cli *cli)
{
    return tsr_cli_dispatch(cli, subcommands, TSR_ARRAY_SIZE(subcommands), argc - 1, argv + 1);
}

const struct tsr_cmd_entry tsr_cmd_catalog_entry = {
    .name = "catalog",
    .alias = NULL,
    .usage = "fetch ...",
    .help = "Catalogs of data offers.\n"
            "  catalog fetch PROVIDER_URL    the DSP catalog of one connector",
    .exec = catalog_exec,
};
