/*
 * connector/cli/cmd_agreement.c: `tessera agreement ls|show`: the contract
 * agreements this connector signed or received.
 */
#include "lib/tsr.h"

#include <stdio.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"

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
