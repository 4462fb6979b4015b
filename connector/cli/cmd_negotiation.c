/*
 * connector/cli/cmd_negotiation.c: `tessera negotiation ls|show|terminate`:
 * the contract negotiations of this connector, as consumer and as
 * provider.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"
#include "lib/buf.h"
#include "lib/mem.h"

static int neg_ls(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {
        {"state", required_argument, NULL, 's'},
        {"role", required_argument, NULL, 'r'},
        TSR_CLI_OPT_HELP,
        {NULL, 0, NULL, 0},
    };
    static const char *const head[] = {"ID", "ROLE", "STATE", "OFFER", "UPDATED", "COUNTERPARTY"};
    const char *state = NULL, *role = NULL;
    struct tsr_cli_table t;
    struct tsr_buf path;
    json_t *items = NULL, *n;
    size_t i;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "s:r:h", opts)) != -1) {
        switch (c) {
        case 's': state = optarg; break;
        case 'r': role = optarg; break;
        default: return tsr_cli_opt_other(cli, c);
        }
    }
    if (optind < argc)
        return tsr_cli_usage(cli, "no operands expected");
    if (role != NULL && strcmp(role, "provider") != 0 && strcmp(role, "consumer") != 0)
        return tsr_cli_usage(cli, "--role: provider or consumer");
    if (state != NULL && (state[0] == '\0' || strspn(state, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") !=
                                                  strlen(state)))
        return tsr_cli_usage(cli, "--state: a state name such as FINALIZED");
    tsr_buf_init(&path, 256);
    rc = tsr_buf_addf(&path, "/negotiations?%s%s%s%s%s", role ? "role=" : "", role ? role : "",
                      role && state ? "&" : "", state ? "state=" : "", state ? state : "");
    if (rc != 0) {
        tsr_buf_cleanup(&path);
        return tsr_cli_usage(cli, "--state: too long");
    }
    rc = tsr_cli_api_list(cli, tsr_buf_str(&path), &items);
    tsr_buf_cleanup(&path);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, json_pack("{s:o}", "items", items));
    rc = tsr_cli_table_init(&t, 6, head);
    json_array_foreach(items, i, n) {
        char updated[64];

        if (rc != 0)
            break;
        tsr_cli_fmt_time(tsr_cli_jstr(n, "updated_at"), updated, sizeof(updated));
        const char *row[] = {tsr_cli_jstr(n, "id"), tsr_cli_jstr(n, "role"),
                             tsr_cli_jstr(n, "state"), tsr_cli_jstr(n, "offer_id"), updated,
                             tsr_cli_jstr(n, "counterparty_did")};
        rc = tsr_cli_table_add(&t, row);
    }
    if (rc == 0)
        tsr_cli_table_print(&t, stdout);
    tsr_cli_table_cleanup(&t);
    json_decref(items);
    return rc == 0 ? TSR_CLI_EXIT_OK : tsr_cli_fail(cli, "out of memory");
}

static int neg_show(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {TSR_CLI_OPT_HELP, {NULL, 0, NULL, 0}};
    json_t *ans = NULL;
    char *path;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1)
        return tsr_cli_opt_other(cli, c);
    if (argc - optind != 1)
        return tsr_cli_usage(cli, "expected one negotiation ID");
    path = tsr_cli_api_path("/negotiations", argv[optind], NULL);
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

static int neg_terminate(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {
        {"reason", required_argument, NULL, 'r'},
        TSR_CLI_OPT_HELP,
        {NULL, 0, NULL, 0},
    };
    const char *reason = NULL;
    json_t *body = NULL, *ans = NULL;
    char *path;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "r:h", opts)) != -1) {
        switch (c) {
        case 'r': reason = optarg; break;
        default: return tsr_cli_opt_other(cli, c);
        }
    }
    if (argc - optind != 1)
        return tsr_cli_usage(cli, "expected one negotiation ID");
    if (reason != NULL && (body = json_pack("{s:s}", "reason", reason)) == NULL)
        return tsr_cli_fail(cli, "--reason must be UTF-8 text");
    path = tsr_cli_api_path("/negotiations", argv[optind], "terminate");
    if (path == NULL) {
        json_decref(body);
        return tsr_cli_fail(cli, "out of memory");
    }
    rc = tsr_cli_api_call(cli, "POST", path, body, &ans);
    tsr_free(path);
    json_decref(body);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, ans);
    printf("negotiation %s: %s\n", tsr_cli_jstr(ans, "id"), tsr_cli_jstr(ans, "state"));
    json_decref(ans);
    return TSR_CLI_EXIT_OK;
}

static const struct tsr_cmd_entry ls_entry = {
    .name = "ls",
    .alias = "list",
    .usage = "[--state STATE] [--role provider|consumer]",
    .help = "List the negotiations, oldest first.\n"
            "  -s, --state STATE   only those in this state (REQUESTED, OFFERED, ACCEPTED,\n"
            "                      AGREED, VERIFIED, FINALIZED, TERMINATED)\n"
            "  -r, --role ROLE     only those where this connector is provider or consumer\n"
            "With --json: {\"items\": [...]}.",
    .exec = neg_ls,
};

static const struct tsr_cmd_entry show_entry = {
    .name = "show",
    .alias = NULL,
    .usage = "ID",
    .help = "Show one negotiation: its state, the peer, the offer and the agreement id.",
    .exec = neg_show,
};

static const struct tsr_cmd_entry terminate_entry = {
    .name = "terminate",
    .alias = NULL,
    .usage = "ID [--reason TEXT]",
    .help = "Terminate a negotiation that has not ended yet; the peer is told.\n"
            "  -r, --reason TEXT   why, sent to the peer",
    .exec = neg_terminate,
};

static const struct tsr_cmd_entry *const subcommands[] = {&ls_entry, &show_entry,
                                                          &terminate_entry};

static int negotiation_exec(int argc, char **argv, struct tsr_cli *cli)
{
    return tsr_cli_dispatch(cli, subcommands, TSR_ARRAY_SIZE(subcommands), argc - 1, argv + 1);
}

const struct tsr_cmd_entry tsr_cmd_negotiation_entry = {
    .name = "negotiation",
    .alias = NULL,
    .usage = "ls|show|terminate ...",
    .help = "The connector's contract negotiations.\n"
            "  negotiation ls [--state S] [--role R] | negotiation show ID |\n"
            "  negotiation terminate ID [--reason TEXT]",
    .exec = negotiation_exec,
};
