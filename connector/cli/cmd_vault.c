/*
 * connector/cli/cmd_vault.c: `tessera vault ls|show|cat|rm`: the data this
 * connector received, kept encrypted in its vault.  Each `cat` is one use,
 * decided by the connector against the agreement at that moment.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"
#include "lib/crypto.h"
#include "lib/mem.h"

static int vault_row(struct tsr_cli_table *t, const json_t *o)
{
    char size[32], created[64];
    json_t *bytes = json_object_get(o, "size");

    tsr_cli_fmt_size(json_is_integer(bytes) ? json_integer_value(bytes) : 0, size, sizeof(size));
    tsr_cli_fmt_time(tsr_cli_jstr(o, "created_at"), created, sizeof(created));
    const char *row[] = {tsr_cli_jstr(o, "id"), size, created, tsr_cli_jstr(o, "agreement_id")};
    return tsr_cli_table_add(t, row);
}

static const char *const head[] = {"ID", "SIZE", "RECEIVED", "AGREEMENT"};

static const struct tsr_cli_resource objects = {
    .what = "vault object",
    .collection = "/vault",
    .ncols = TSR_ARRAY_SIZE(head),
    .head = head,
    .row = vault_row,
};

/* Copy the answer to stdout as it arrives. */
static int to_stdout(void *arg, const void *data, size_t len)
{
    (void)arg;
    return tsr_write_all(STDOUT_FILENO, data, len);
}

static int vault_cat(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {
        {"purpose", required_argument, NULL, 'p'},
        TSR_CLI_OPT_HELP,
        {NULL, 0, NULL, 0},
    };
    const char *purpose = NULL;
    char *path = NULL, *q = NULL;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "p:h", opts)) != -1) {
        switch (c) {
        case 'p': purpose = optarg; break;
        default: return tsr_cli_opt_other(cli, c);
        }
    }
    if (optind + 1 != argc)
        return tsr_cli_usage(cli, "one vault object id expected");
    if (cli->json)
        return tsr_cli_usage(cli, "the content is bytes, not JSON: run it without --json");
    if (purpose != NULL) {
        /* The purpose travels as a query value: escape it as the paths are. */
        q = tsr_cli_api_path("", purpose, NULL);
        if (q == NULL)
            return tsr_cli_fail(cli, "out of memory");
    }
    path = tsr_cli_api_path("/vault", argv[optind], "content");
    if (path == NULL) {
        tsr_free(q);
        return tsr_cli_fail(cli, "out of memory");
    }
    if (q != NULL) {
        size_t n = strlen(path) + strlen(q) + 16;
        char *full = tsr_malloc(n);
        if (full == NULL) {
            rc = tsr_cli_fail(cli, "out of memory");
            goto out;
        }
        /* q is "/<escaped>": skip its slash. */
        snprintf(full, n, "%s?purpose=%s", path, q + 1);
        tsr_free(path);
        path = full;
    }
    rc = tsr_cli_api_stream(cli, path, to_stdout, NULL);
out:
    tsr_free(path);
    tsr_free(q);
    return rc;
}

static const struct tsr_cmd_entry ls_entry = {
    .name = "ls",
    .alias = "list",
    .usage = "",
    .help = "List the vault's objects: id, size, when received, agreement.\n"
            "With --json: {\"items\": [...]}.",
    .exec = tsr_cli_resource_ls,
    .arg = &objects,
};

static const struct tsr_cmd_entry show_entry = {
    .name = "show",
    .alias = NULL,
    .usage = "ID",
    .help = "Show one vault object with its digest and its agreement's use count.",
    .exec = tsr_cli_resource_show,
    .arg = &objects,
};

static const struct tsr_cmd_entry cat_entry = {
    .name = "cat",
    .alias = NULL,
    .usage = "ID [--purpose P]",
    .help = "Use a vault object: its bytes on stdout, if the agreement permits it now.\n"
            "      -p, --purpose P   the purpose of this use, as the agreement names it\n"
            "Each permitted use is counted; uses and refusals go to the usage ledger.\n"
            "A refusal exits 1 with the agreement's reason.",
    .exec = vault_cat,
};

static const struct tsr_cmd_entry rm_entry = {
    .name = "rm",
    .alias = "remove",
    .usage = "ID",
    .help = "Remove a vault object (recorded in the usage ledger).",
    .exec = tsr_cli_resource_rm,
    .arg = &objects,
};

static const struct tsr_cmd_entry *const subcommands[] = {&ls_entry, &show_entry, &cat_entry,
                                                           &rm_entry};

static int vault_exec(int argc, char **argv, struct tsr_cli *cli)
{
    return tsr_cli_dispatch(cli, subcommands, TSR_ARRAY_SIZE(subcommands), argc - 1, argv + 1);
}

const struct tsr_cmd_entry tsr_cmd_vault_entry = {
    .name = "vault",
    .alias = NULL,
    .usage = "ls|show|cat|rm ...",
    .help = "The data this connector received, encrypted and bound to its agreements.\n"
            "  vault ls | vault show ID | vault cat ID [--purpose P] | vault rm ID",
    .exec = vault_exec,
};
