/*
 * connector/cli/cmd_offer.c: `tessera offer add|ls|show|rm`: contract
 * definitions, an asset offered under a policy.  What a peer sees in the
 * connector's catalog and negotiates for.
 */
#include "lib/tsr.h"

#include <stdio.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"
#include "lib/mem.h"

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

static int offer_ls(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {TSR_CLI_OPT_HELP, {NULL, 0, NULL, 0}};
    static const char *const head[] = {"ID", "ASSET", "POLICY", "CREATED"};
    struct tsr_cli_table t;
    json_t *items = NULL, *o;
    size_t i;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1)
        return tsr_cli_opt_other(cli, c);
    if (optind < argc)
        return tsr_cli_usage(cli, "no operands expected");
    rc = tsr_cli_api_list(cli, "/offers", &items);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, json_pack("{s:o}", "items", items));
    rc = tsr_cli_table_init(&t, 4, head);
    json_array_foreach(items, i, o) {
        char created[64];

        if (rc != 0)
            break;
        tsr_cli_fmt_time(tsr_cli_jstr(o, "created_at"), created, sizeof(created));
        const char *row[] = {tsr_cli_jstr(o, "id"), tsr_cli_jstr(o, "asset_id"),
                             tsr_cli_jstr(o, "policy_id"), created};
        rc = tsr_cli_table_add(&t, row);
    }
    if (rc == 0)
        tsr_cli_table_print(&t, stdout);
    tsr_cli_table_cleanup(&t);
    json_decref(items);
    return rc == 0 ? TSR_CLI_EXIT_OK : tsr_cli_fail(cli, "out of memory");
}

static int offer_one(int argc, char **argv, struct tsr_cli *cli, bool remove)
{
    static const struct option opts[] = {TSR_CLI_OPT_HELP, {NULL, 0, NULL, 0}};
    json_t *ans = NULL;
    char *path;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1)
        return tsr_cli_opt_other(cli, c);
    if (argc - optind != 1)
        return tsr_cli_usage(cli, "expected one offer ID");
    path = tsr_cli_api_path("/offers", argv[optind], NULL);
    if (path == NULL)
        return tsr_cli_fail(cli, "out of memory");
    rc = tsr_cli_api_call(cli, remove ? "DELETE" : "GET", path, NULL, &ans);
    tsr_free(path);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (remove) {
        json_decref(ans);
        if (cli->json)
            return tsr_cli_json_out(cli, json_pack("{s:s, s:b}", "id", argv[optind], "deleted",
                                                   1));
        printf("offer %s removed\n", argv[optind]);
        return TSR_CLI_EXIT_OK;
    }
    if (cli->json)
        return tsr_cli_json_out(cli, ans);
    tsr_cli_print_object(ans, NULL, stdout);
    json_decref(ans);
    return TSR_CLI_EXIT_OK;
}

static int offer_show(int argc, char **argv, struct tsr_cli *cli)
{
    return offer_one(argc, argv, cli, false);
}

static int offer_rm(int argc, char **argv, struct tsr_cli *cli)
{
    return offer_one(argc, argv, cli, true);
}

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
    .exec = offer_ls,
};

static const struct tsr_cmd_entry show_entry = {
    .name = "show",
    .alias = NULL,
    .usage = "ID",
    .help = "Show one offer.",
    .exec = offer_show,
};

static const struct tsr_cmd_entry rm_entry = {
    .name = "rm",
    .alias = "remove",
    .usage = "ID",
    .help = "Withdraw an offer (agreements already made under it stay valid).",
    .exec = offer_rm,
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
