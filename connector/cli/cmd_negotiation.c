/*
 * connector/cli/cmd_negotiation.c: `tessera negotiation ls|show|terminate`:
 * the contract negotiations of this connector, as consumer and as
 * provider.
 */
#include "lib/tsr.h"

#include <stdio.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"

static int neg_row(struct tsr_cli_table *t, const json_t *n)
{
    char updated[64];

    tsr_cli_fmt_time(tsr_cli_jstr(n, "updated_at"), updated, sizeof(updated));
    const char *row[] = {tsr_cli_jstr(n, "id"), tsr_cli_jstr(n, "role"),
                         tsr_cli_jstr(n, "state"), tsr_cli_jstr(n, "offer_id"), updated,
                         tsr_cli_jstr(n, "counterparty_did")};
    return tsr_cli_table_add(t, row);
}

static const char *const head[] = {"ID", "ROLE", "STATE", "OFFER", "UPDATED", "COUNTERPARTY"};

static const struct tsr_cli_resource negotiations = {
    .what = "negotiation",
    .collection = "/negotiations",
    .state_example = "FINALIZED",
    .ncols = TSR_ARRAY_SIZE(head),
    .head = head,
    .row = neg_row,
};

static const struct tsr_cli_resource_action terminate = {&negotiations, "terminate", true};

static const struct tsr_cmd_entry ls_entry = {
    .name = "ls",
    .alias = "list",
    .usage = "[--state STATE] [--role provider|consumer]",
    .help = "List the negotiations, oldest first.\n"
            "  -s, --state STATE   only those in this state (REQUESTED, OFFERED, ACCEPTED,\n"
            "                      AGREED, VERIFIED, FINALIZED, TERMINATED)\n"
            "  -r, --role ROLE     only those where this connector is provider or consumer\n"
            "With --json: {\"items\": [...]}.",
    .exec = tsr_cli_resource_ls,
    .arg = &negotiations,
};

static const struct tsr_cmd_entry show_entry = {
    .name = "show",
    .alias = NULL,
    .usage = "ID",
    .help = "Show one negotiation: its state, the peer, the offer and the agreement id.",
    .exec = tsr_cli_resource_show,
    .arg = &negotiations,
};

static const struct tsr_cmd_entry terminate_entry = {
    .name = "terminate",
    .alias = NULL,
    .usage = "ID [--reason TEXT]",
    .help = "Terminate a negotiation that has not ended yet; the peer is told.\n"
            "  -r, --reason TEXT   why, sent to the peer",
    .exec = tsr_cli_resource_action,
    .arg = &terminate,
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
