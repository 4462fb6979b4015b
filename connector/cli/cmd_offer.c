/*
 * connector/cli/cmd_offer.c: `tessera offer add|ls|show|rm`: contract
 * definitions, an asset offered under a policy.  What a peer sees in the
 * connector's catalog and negotiates for.
 */
#include "lib/tsr.h"

#include <stdio.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"

static int offer_add(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {
        {"asset", required_argument, NULL, 'a'},
        {"policy", required_argument, NULL, 'p'},
        TSR_CLI_OPT_HELP,
        {NULL, 0, NULL, 0},
    };
    const char *asset = NULL, *policy = NULL;
    json_t *body, *ans = NULL;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "a:p:h", opts)) != -1) {
        switch (c) {
        case 'a': asset = optarg; break;
        case 'p': policy = optarg; break;
        default: return tsr_cli_opt_other(cli, c);
        }
    }
    if (argc - optind != 1)
        return tsr_cli_usage(cli, "expected one offer ID");
    if (asset == NULL || policy == NULL)
        return tsr_cli_usage(cli, "--asset ID and --policy ID are required");
    body = json_pack("{s:s, s:s, s:s}", "id", argv[optind], "asset_id", asset, "policy_id",
                     policy);
    if (body == NULL)
        return tsr_cli_fail(cli, "the ids must be UTF-8 text");
    rc = tsr_cli_api_call(cli, "POST", "/offers", body, &ans);
    json_decref(body);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, ans);
    printf("offer %s added: asset %s under policy %s\n", tsr_cli_jstr(ans, "id"),
           tsr_cli_jstr(ans, "asset_id"), tsr_cli_jstr(ans, "policy_id"));
    json_decref(ans);
    return TSR_CLI_EXIT_OK;
}

static int offer_row(struct tsr_cli_table *t, const json_t *o)
{
    char created[64];

    tsr_cli_fmt_time(tsr_cli_jstr(o, "created_at"), created, sizeof(created));
    const char *row[] = {tsr_cli_jstr(o, "id"), tsr_cli_jstr(o, "asset_id"),
                         tsr_cli_jstr(o, "policy_id"), created};
    return tsr_cli_table_add(t, row);
}

static const char *const head[] = {"ID", "ASSET", "POLICY", "CREATED"};

static const struct tsr_cli_resource offers = {
    .what = "offer",
    .collection = "/offers",
    .ncols = TSR_ARRAY_SIZE(head),
    .head = head,
    .row = offer_row,
};

static const struct tsr_cmd_entry add_entry = {
    .name = "add",
    .alias = NULL,
    .usage = "ID --asset ID --policy ID",
    .help = "Offer an asset under a policy (a contract definition).\n"
            "Peers find the offer in this connector's catalog and negotiate for it.\n"
            "  -a, --asset ID     the asset offered\n"
            "  -p, --policy ID    the policy it is offered under",
    .exec = offer_add,
};

static const struct tsr_cmd_entry ls_entry = {
    .name = "ls",
    .alias = "list",
    .usage = "",
    .help = "List the offers: id, asset, policy and when added.\n"
            "With --json: {\"items\": [...]}, every item as 'show' prints it.",
    .exec = tsr_cli_resource_ls,
    .arg = &offers,
};

static const struct tsr_cmd_entry show_entry = {
    .name = "show",
    .alias = NULL,
    .usage = "ID",
    .help = "Show one offer.",
    .exec = tsr_cli_resource_show,
    .arg = &offers,
};

static const struct tsr_cmd_entry rm_entry = {
    .name = "rm",
    .alias = "remove",
    .usage = "ID",
    .help = "Withdraw an offer (agreements already made under it stay valid).",
    .exec = tsr_cli_resource_rm,
    .arg = &offers,
};

static const struct tsr_cmd_entry *const subcommands[] = {&add_entry, &ls_entry, &rm_entry,
                                                          &show_entry};

static int offer_exec(int argc, char **argv, struct tsr_cli *cli)
{
    return tsr_cli_dispatch(cli, subcommands, TSR_ARRAY_SIZE(subcommands), argc - 1, argv + 1);
}

const struct tsr_cmd_entry tsr_cmd_offer_entry = {
    .name = "offer",
    .alias = NULL,
    .usage = "add|ls|show|rm ...",
    .help = "Manage the connector's offers: an asset offered under a policy.\n"
            "  offer add ID --asset ID --policy ID | offer ls | offer show ID | offer rm ID",
    .exec = offer_exec,
};
