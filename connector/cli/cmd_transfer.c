/*
 * connector/cli/cmd_transfer.c: `tessera transfer`: start a transfer
 * under an agreement (`transfer AGREEMENT_ID [--out PATH | --push URL] [--wait]`), or
 * look after transfers (`transfer ls|show|suspend|resume|terminate`).
 * The first word decides: a sub-command's name, or else an agreement id.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"
#include "lib/mem.h"

#define DEFAULT_TIMEOUT_S 3600
#define MAX_TIMEOUT_S (30LL * 24 * 3600)

/* What --wait shows on a terminal while it polls. */
struct progress {
    bool shown;
};

static long long jint(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* "1h02m", "3m05s", "12s" */
static void fmt_eta(long long s, char *buf, size_t cap)
{
    if (s >= 3600)
        snprintf(buf, cap, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(buf, cap, "%lldm%02llds", s / 60, s % 60);
    else
        snprintf(buf, cap, "%llds", s);
}

/*
 * "transfer ID: STARTED, 12.0 MiB of 24.0 MiB (50%), 8.0 MiB/s, 2s left":
 * the live figures the daemon gives while the data moves.
 */
static void show_progress(const json_t *tp, void *arg)
{
    struct progress *p = arg;
    char size[32], total[32], rate[32], eta[32];
    long long bytes = jint(tp, "bytes"), all = jint(tp, "total_bytes"), bps = jint(tp, "rate_bps");

    tsr_cli_fmt_size(bytes, size, sizeof(size));
    fprintf(stderr, "\r\033[Ktransfer %s: %s, %s", tsr_cli_jstr(tp, "id"),
            tsr_cli_jstr(tp, "state"), size);
    if (all > 0 && bytes <= all) {
        tsr_cli_fmt_size(all, total, sizeof(total));
        fprintf(stderr, " of %s (%lld%%)", total, bytes * 100 / all);
    }
    if (bps > 0) {
        tsr_cli_fmt_size(bps, rate, sizeof(rate));
        fprintf(stderr, ", %s/s", rate);
        if (all > bytes) {
            fmt_eta((all - bytes + bps - 1) / bps, eta, sizeof(eta));
            fprintf(stderr, ", %s left", eta);
        }
    }
    (void)fflush(stderr);
    p->shown = true;
}

static int transfer_start(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"push", required_argument, NULL, 'p'},
        {"wait", no_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 't'},
        TSR_CLI_OPT_HELP,
        {NULL, 0, NULL, 0},
    };
    static const char *const final[] = {"COMPLETED", "TERMINATED", NULL};
    long long timeout = DEFAULT_TIMEOUT_S;
    const char *out_path = NULL, *push = NULL;
    struct progress prog = {false};
    bool wait = false;
    json_t *body = NULL, *tp = NULL, *done = NULL;
    char *abs = NULL, *path = NULL;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "o:p:wt:h", opts)) != -1) {
        switch (c) {
        case 'o': out_path = optarg; break;
        case 'p': push = optarg; break;
        case 'w': wait = true; break;
        case 't':
            if (!tsr_cli_int_arg(cli, "--timeout", optarg, 1, MAX_TIMEOUT_S, &timeout))
                return TSR_CLI_EXIT_USAGE;
            break;
        default: return tsr_cli_opt_other(cli, c);
        }
    }
    if (argc - optind != 1)
        return tsr_cli_usage(cli, "expected one AGREEMENT_ID, or ls, show, suspend, resume or "
                                  "terminate");
    if (push != NULL && out_path != NULL)
        return tsr_cli_usage(cli, "--out and --push exclude each other");
    if (push != NULL && strcmp(push, "self") != 0 && strncmp(push, "http://", 7) != 0 &&
        strncmp(push, "https://", 8) != 0)
        return tsr_cli_usage(cli, "--push needs an http:// or https:// URL, or self");
    /* The daemon writes the file from its own folder: give it an absolute path. */
    if (out_path != NULL) {
        if (out_path[0] == '\0')
            return tsr_cli_usage(cli, "--out needs a path");
        rc = tsr_cli_abs_path(cli, out_path, &abs);
        if (rc != TSR_CLI_EXIT_OK)
            return rc;
    }
    body = json_pack("{s:s, s:s?, s:s?}", "agreement_id", argv[optind], "out", abs, "push",
                     push);
    if (body == NULL) {
        rc = tsr_cli_fail(cli, "the agreement id and path must be UTF-8 text");
        goto out;
    }
    rc = tsr_cli_api_call(cli, "POST", "/transfers", body, &tp);
    if (rc != TSR_CLI_EXIT_OK)
        goto out;
    if (!wait) {
        if (cli->json) {
            rc = tsr_cli_json_out(cli, tp);
            tp = NULL;
        } else {
            printf("%s\n", tsr_cli_jstr(tp, "id"));
        }
        goto out;
    }
    path = tsr_cli_api_path("/transfers", tsr_cli_jstr(tp, "id"), NULL);
    if (path == NULL) {
        rc = tsr_cli_fail(cli, "out of memory");
        goto out;
    }
    /* A progress line only for people watching a terminal. */
    bool tty = !cli->json && isatty(STDERR_FILENO);
    rc = tsr_cli_api_wait(cli, path, final, timeout, tty ? show_progress : NULL, &prog, &done);
    if (prog.shown)
        fputc('\n', stderr);
    if (rc != TSR_CLI_EXIT_OK)
        goto out;
    if (strcmp(tsr_cli_jstr(done, "state"), "TERMINATED") == 0) {
        rc = tsr_cli_fail(cli, "transfer %s terminated: %s", tsr_cli_jstr(done, "id"),
                          tsr_cli_jstr(done, "error"));
        goto out;
    }
    /* The data is in the vault; the copy to --out is a use the agreement may refuse. */
    if (json_is_string(json_object_get(done, "out")) &&
        json_is_string(json_object_get(done, "error"))) {
        rc = tsr_cli_fail(cli, "transfer %s completed into the vault, but %s",
                          tsr_cli_jstr(done, "id"), tsr_cli_jstr(done, "error"));
        goto out;
    }
    if (cli->json) {
        rc = tsr_cli_json_out(cli, done);
        done = NULL;
        goto out;
    }
    char size[32];
    json_t *bytes = json_object_get(done, "bytes");
    tsr_cli_fmt_size(json_is_integer(bytes) ? json_integer_value(bytes) : 0, size, sizeof(size));
    if (push != NULL && strcmp(push, "self") != 0)
        printf("transfer %s completed: pushed to %s\n", tsr_cli_jstr(done, "id"), push);
    else
        printf("transfer %s completed: %s into the vault%s%s\n", tsr_cli_jstr(done, "id"), size,
               json_is_string(json_object_get(done, "out")) ? ", a copy in " : "",
               json_is_string(json_object_get(done, "out")) ? tsr_cli_jstr(done, "out") : "");
out:
    tsr_free(abs);
    tsr_free(path);
    json_decref(body);
    json_decref(tp);
    json_decref(done);
    return rc;
}

static int transfer_row(struct tsr_cli_table *t, const json_t *tp)
{
    char updated[64], size[32];
    json_t *bytes = json_object_get(tp, "bytes");

    tsr_cli_fmt_time(tsr_cli_jstr(tp, "updated_at"), updated, sizeof(updated));
    tsr_cli_fmt_size(json_is_integer(bytes) ? json_integer_value(bytes) : -1, size,
                     sizeof(size));
    const char *row[] = {tsr_cli_jstr(tp, "id"), tsr_cli_jstr(tp, "role"),
                         tsr_cli_jstr(tp, "state"), size, updated,
                         tsr_cli_jstr(tp, "agreement_id")};
    return tsr_cli_table_add(t, row);
}

static const char *const head[] = {"ID", "ROLE", "STATE", "BYTES", "UPDATED", "AGREEMENT"};

static const struct tsr_cli_resource transfers = {
    .what = "transfer",
    .collection = "/transfers",
    .state_example = "COMPLETED",
    .ncols = TSR_ARRAY_SIZE(head),
    .head = head,
    .row = transfer_row,
};

static const struct tsr_cli_resource_action suspend = {&transfers, "suspend", true};
static const struct tsr_cli_resource_action resume = {&transfers, "resume", false};
static const struct tsr_cli_resource_action terminate = {&transfers, "terminate", true};

static const struct tsr_cmd_entry ls_entry = {
    .name = "ls",
    .alias = "list",
    .usage = "[--state STATE] [--role provider|consumer]",
    .help = "List the transfers, oldest first.\n"
            "  -s, --state STATE   only those in this state (REQUESTED, STARTED, SUSPENDED,\n"
            "                      COMPLETED, TERMINATED)\n"
            "  -r, --role ROLE     only those where this connector is provider or consumer\n"
            "With --json: {\"items\": [...]}.",
    .exec = tsr_cli_resource_ls,
    .arg = &transfers,
};

static const struct tsr_cmd_entry show_entry = {
    .name = "show",
    .alias = NULL,
    .usage = "ID",
    .help = "Show one transfer: its state, bytes moved, destination and digest.",
    .exec = tsr_cli_resource_show,
    .arg = &transfers,
};

static const struct tsr_cmd_entry suspend_entry = {
    .name = "suspend",
    .alias = NULL,
    .usage = "ID [--reason TEXT]",
    .help = "Suspend a started transfer; the peer is told.\n"
            "  -r, --reason TEXT   why, sent to the peer",
    .exec = tsr_cli_resource_action,
    .arg = &suspend,
};

static const struct tsr_cmd_entry resume_entry = {
    .name = "resume",
    .alias = NULL,
    .usage = "ID",
    .help = "Resume a suspended transfer.",
    .exec = tsr_cli_resource_action,
    .arg = &resume,
};

static const struct tsr_cmd_entry terminate_entry = {
    .name = "terminate",
    .alias = NULL,
    .usage = "ID [--reason TEXT]",
    .help = "Terminate a transfer for good; the peer is told.\n"
            "  -r, --reason TEXT   why, sent to the peer",
    .exec = tsr_cli_resource_action,
    .arg = &terminate,
};

static const struct tsr_cmd_entry *const subcommands[] = {
    &ls_entry, &resume_entry, &show_entry, &suspend_entry, &terminate_entry,
};

static int transfer_exec(int argc, char **argv, struct tsr_cli *cli)
{
    /* Sub-commands by exact name only: anything else is an agreement id. */
    if (argc >= 2) {
        static const char *const words[] = {"ls", "list", "show", "suspend", "resume",
                                            "terminate", "help"};

        for (size_t i = 0; i < TSR_ARRAY_SIZE(words); i++) {
            if (strcmp(argv[1], words[i]) == 0)
                return tsr_cli_dispatch(cli, subcommands, TSR_ARRAY_SIZE(subcommands), argc - 1,
                                        argv + 1);
        }
    }
    return transfer_start(argc, argv, cli);
}

const struct tsr_cmd_entry tsr_cmd_transfer_entry = {
    .name = "transfer",
    .alias = NULL,
    .usage = "AGREEMENT_ID [--out PATH | --push URL] [--wait] [--timeout SECS] | "
             "ls|show|suspend|resume|terminate ...",
    .help = "Start a transfer under an agreement, or look after transfers.\n"
            "  transfer AGREEMENT_ID [--out PATH | --push URL] [--wait] [--timeout SECS]\n"
            "      pull the agreed data (or have it pushed); prints the transfer id\n"
            "      -o, --out PATH        the data goes into the connector's vault; also\n"
            "                            write one copy to PATH through a checked use\n"
            "                            (counted and recorded in the usage ledger); made\n"
            "                            absolute, as the connector writes it\n"
            "      -p, --push URL        HttpData-PUSH: the provider PUTs the data to URL\n"
            "                            (any HTTP server), or with `self` to this\n"
            "                            connector, which verifies it into the vault\n"
            "      -w, --wait            wait until it completes (on a terminal a progress\n"
            "                            line: bytes, rate, time left); exit status 1 if\n"
            "                            it is terminated\n"
            "      -t, --timeout SECS    how long --wait waits (default 3600)\n"
            "  transfer ls [--state S] [--role R] | transfer show ID\n"
            "  transfer suspend ID [--reason TEXT] | transfer resume ID |\n"
            "  transfer terminate ID [--reason TEXT]",
    .exec = transfer_exec,
};
