/*
 * connector/cli/cmd_ledger.c: `tessera ledger [--verify] [--agreement ID]`:
 * the connector's usage ledger (every use, refusal and duty), and its
 * verification (signatures, hash chain, head).
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"
#include "lib/mem.h"

static int ledger_verify(struct tsr_cli *cli)
{
    json_t *rep = NULL;
    int rc = tsr_cli_api_call(cli, "GET", "/ledger/verify", NULL, &rep);

    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (!json_is_true(json_object_get(rep, "valid"))) {
        json_t *bad = json_object_get(rep, "bad_line");
        if (json_is_integer(bad))
            rc = tsr_cli_fail(cli, "the usage ledger does not verify: first bad entry %lld: %s",
                              (long long)json_integer_value(bad), tsr_cli_jstr(rep, "error"));
        else
            rc = tsr_cli_fail(cli, "the usage ledger does not verify: %s",
                              tsr_cli_jstr(rep, "error"));
        json_decref(rep);
        return rc;
    }
    if (cli->json)
        return tsr_cli_json_out(cli, rep);
    printf("usage ledger valid: %lld entries, head %s\n",
           (long long)json_integer_value(json_object_get(rep, "entries")),
           json_is_string(json_object_get(rep, "head")) ? tsr_cli_jstr(rep, "head") : "(empty)");
    json_decref(rep);
    return TSR_CLI_EXIT_OK;
}

/* Print entries (borrowed) as a table. */
static int print_entries(struct tsr_cli *cli, const json_t *items)
{
    static const char *const head[] = {"SEQ", "TIME", "AGREEMENT", "EVENT", "DECISION"};
    struct tsr_cli_table t;
    const json_t *e;
    size_t i;
    int rc;

    rc = tsr_cli_table_init(&t, TSR_ARRAY_SIZE(head), head);
    t.maxw[2] = 48;
    json_array_foreach(items, i, e) {
        char seq[24], when[64];
        if (rc != 0)
            break;
        snprintf(seq, sizeof(seq), "%lld",
                 (long long)json_integer_value(json_object_get(e, "seq")));
        tsr_cli_fmt_time(tsr_cli_jstr(e, "ts"), when, sizeof(when));
        const char *row[] = {seq, when, tsr_cli_jstr(e, "agreement"), tsr_cli_jstr(e, "event"),
                             tsr_cli_jstr(e, "decision")};
        rc = tsr_cli_table_add(&t, row);
    }
    if (rc == 0)
        tsr_cli_table_print(&t, stdout);
    tsr_cli_table_cleanup(&t);
    return rc == 0 ? TSR_CLI_EXIT_OK : tsr_cli_fail(cli, "out of memory");
}

static int ledger_exec(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {
        {"verify", no_argument, NULL, 'v'},
        {"agreement", required_argument, NULL, 'a'},
        TSR_CLI_OPT_HELP,
        {NULL, 0, NULL, 0},
    };
    const char *agreement = NULL;
    bool verify = false;
    json_t *items = NULL;
    char *path = NULL;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "va:h", opts)) != -1) {
        switch (c) {
        case 'v': verify = true; break;
        case 'a': agreement = optarg; break;
        default: return tsr_cli_opt_other(cli, c);
        }
    }
    if (optind < argc)
        return tsr_cli_usage(cli, "no operands expected");
    if (verify)
        return ledger_verify(cli);
    if (agreement != NULL) {
        char *q = tsr_cli_api_path("", agreement, NULL);
        size_t n = q != NULL ? strlen(q) + 32 : 0;
        path = q != NULL ? tsr_malloc(n) : NULL;
        if (path != NULL)
            snprintf(path, n, "/ledger?agreement=%s", q + 1);
        tsr_free(q);
        if (path == NULL)
            return tsr_cli_fail(cli, "out of memory");
    }
    rc = tsr_cli_api_list(cli, path != NULL ? path : "/ledger", &items);
    tsr_free(path);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, json_pack("{s:o}", "items", items));
    rc = print_entries(cli, items);
    json_decref(items);
    return rc;
}

const struct tsr_cmd_entry tsr_cmd_ledger_entry = {
    .name = "ledger",
    .alias = NULL,
    .usage = "[--verify] [--agreement ID]",
    .help = "The usage ledger: every use, refusal and duty, signed and hash-chained.\n"
            "      -a, --agreement ID   only the entries of one agreement\n"
            "      -v, --verify         check every signature, the chain and the head:\n"
            "                           exit 0 when valid, 1 naming the first bad entry",
    .exec = ledger_exec,
};
