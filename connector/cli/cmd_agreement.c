/*
 * connector/cli/cmd_agreement.c: `tessera agreement ls|show`: the contract
 * agreements this connector signed or received.
 */
#include "lib/tsr.h"

#include <stdio.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"
#include "lib/mem.h"

static int agreement_ls(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {TSR_CLI_OPT_HELP, {NULL, 0, NULL, 0}};
    static const char *const head[] = {"ID", "ASSET", "SIGNED", "PROVIDER", "CONSUMER"};
    struct tsr_cli_table t;
    json_t *items = NULL, *a;
    size_t i;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1)
        return tsr_cli_opt_other(cli, c);
    if (optind < argc)
        return tsr_cli_usage(cli, "no operands expected");
    rc = tsr_cli_api_list(cli, "/agreements", &items);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, json_pack("{s:o}", "items", items));
    rc = tsr_cli_table_init(&t, 5, head);
    json_array_foreach(items, i, a) {
        char signed_at[64];

        if (rc != 0)
            break;
        tsr_cli_fmt_time(tsr_cli_jstr(a, "signed_at"), signed_at, sizeof(signed_at));
        const char *row[] = {tsr_cli_jstr(a, "id"), tsr_cli_jstr(a, "asset_id"), signed_at,
                             tsr_cli_jstr(a, "provider_did"), tsr_cli_jstr(a, "consumer_did")};
        rc = tsr_cli_table_add(&t, row);
    }
    if (rc == 0)
        tsr_cli_table_print(&t, stdout);
    tsr_cli_table_cleanup(&t);
    json_decref(items);
    return rc == 0 ? TSR_CLI_EXIT_OK : tsr_cli_fail(cli, "out of memory");
}

static int agreement_show(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {TSR_CLI_OPT_HELP, {NULL, 0, NULL, 0}};
    json_t *ans = NULL;
    char *path;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1)
        return tsr_cli_opt_other(cli, c);
    if (argc - optind != 1)
        return tsr_cli_usage(cli, "expected one agreement ID");
    path = tsr_cli_api_path("/agreements", argv[optind], NULL);
    if (path == NULL)
        return tsr_cli_fail(cli, "out of memory");
    rc = tsr_cli_api_call(cli, "GET", path, NULL, &ans);
    tsr_free(path);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, ans);
    tsr_cli_print_object(ans, NULL, stdout);
    json_decref(ans);
    return TSR_CLI_EXIT_OK;
}

static const struct tsr_cmd_entry ls_entry = {
    .name = "ls",
    .alias = "list",
    .usage = "",
    .help = "List the agreements: id, asset, when signed, provider and consumer.\n"
            "With --json: {\"items\": [...]} (without the policies; see 'show').",
    .exec = agreement_ls,
};

static const struct tsr_cmd_entry show_entry = {
    .name = "show",
    .alias = NULL,
    .usage = "ID",
    .help = "Show one agreement with its ODRL policy.",
    .exec = agreement_show,
};

static const struct tsr_cmd_entry *const subcommands[] = {&ls_entry, &show_entry};

static int agreement_exec(int argc, char **argv, struct tsr_cli *cli)
{
    return tsr_cli_dispatch(cli, subcommands, TSR_ARRAY_SIZE(subcommands), argc - 1, argv + 1);
}

const struct tsr_cmd_entry tsr_cmd_agreement_entry = {
    .name = "agreement",
    .alias = NULL,
    .usage = "ls|show ...",
    .help = "The connector's contract agreements.\n"
            "  agreement ls | agreement show ID",
    .exec = agreement_exec,
};
