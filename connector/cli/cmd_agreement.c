/*
 * connector/cli/cmd_agreement.c: `tessera agreement ls|show`: the contract
 * agreements this connector signed or received.
 */
#include "lib/tsr.h"

#include <stdio.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"
#include "lib/mem.h"

static int agreement_row(struct tsr_cli_table *t, const json_t *a)
{
    char signed_at[64];

    tsr_cli_fmt_time(tsr_cli_jstr(a, "signed_at"), signed_at, sizeof(signed_at));
    const char *row[] = {tsr_cli_jstr(a, "id"), tsr_cli_jstr(a, "asset_id"), signed_at,
                         tsr_cli_jstr(a, "provider_did"), tsr_cli_jstr(a, "consumer_did")};
    return tsr_cli_table_add(t, row);
}

static const char *const head[] = {"ID", "ASSET", "SIGNED", "PROVIDER", "CONSUMER"};

static const struct tsr_cli_resource agreements = {
    .what = "agreement",
    .collection = "/agreements",
    .ncols = TSR_ARRAY_SIZE(head),
    .head = head,
    .row = agreement_row,
};

static const struct tsr_cmd_entry ls_entry = {
    .name = "ls",
    .alias = "list",
    .usage = "",
    .help = "List the agreements: id, asset, when signed, provider and consumer.\n"
            "With --json: {\"items\": [...]} (without the policies; see 'show').",
    .exec = tsr_cli_resource_ls,
    .arg = &agreements,
};

static const struct tsr_cmd_entry show_entry = {
    .name = "show",
    .alias = NULL,
    .usage = "ID",
    .help = "Show one agreement with its ODRL policy.",
    .exec = tsr_cli_resource_show,
    .arg = &agreements,
};

/* Provider: the consumer's signed usage ledger extract, fetched and verified by the connector. */
static int agreement_ledger(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {TSR_CLI_OPT_HELP, {NULL, 0, NULL, 0}};
    json_t *ans = NULL, *e;
    char *path = NULL;
    size_t i;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1)
        return tsr_cli_opt_other(cli, c);
    if (optind + 1 != argc)
        return tsr_cli_usage(cli, "one agreement id expected");
    path = tsr_cli_api_path("/agreements", argv[optind], "ledger");
    if (path == NULL)
        return tsr_cli_fail(cli, "out of memory");
    rc = tsr_cli_api_call(cli, "GET", path, NULL, &ans);
    tsr_free(path);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, ans);
    printf("usage ledger of %s for agreement %s: %zu entries, signatures and chain verified\n",
           tsr_cli_jstr(ans, "consumer"), tsr_cli_jstr(ans, "agreement"),
           json_array_size(json_object_get(ans, "entries")));
    json_array_foreach(json_object_get(ans, "entries"), i, e) {
        printf("  %lld  %s  %s  %s\n", (long long)json_integer_value(json_object_get(e, "aseq")),
               tsr_cli_jstr(e, "ts"), tsr_cli_jstr(e, "event"), tsr_cli_jstr(e, "decision"));
    }
    json_decref(ans);
    return TSR_CLI_EXIT_OK;
}

static const struct tsr_cmd_entry ledger_entry = {
    .name = "ledger",
    .alias = NULL,
    .usage = "ID",
    .help = "Provider: fetch the consumer's signed usage ledger extract for an agreement\n"
            "and check it (signatures with the consumer's did:web key, chain, head).",
    .exec = agreement_ledger,
};

static const struct tsr_cmd_entry *const subcommands[] = {&ls_entry, &show_entry, &ledger_entry};

static int agreement_exec(int argc, char **argv, struct tsr_cli *cli)
{
    return tsr_cli_dispatch(cli, subcommands, TSR_ARRAY_SIZE(subcommands), argc - 1, argv + 1);
}

const struct tsr_cmd_entry tsr_cmd_agreement_entry = {
    .name = "agreement",
    .alias = NULL,
    .usage = "ls|show|ledger ...",
    .help = "The connector's contract agreements.\n"
            "  agreement ls | agreement show ID | agreement ledger ID",
    .exec = agreement_exec,
};
