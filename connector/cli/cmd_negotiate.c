/*
 * connector/cli/cmd_negotiate.c: `tessera negotiate PROVIDER_URL OFFER_ID`:
 * start a contract negotiation for one of a provider's offers, and with
 * --wait follow it to its end: the agreement, or the reason it failed.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"
#include "lib/mem.h"

#define DEFAULT_TIMEOUT_S 60
#define MAX_TIMEOUT_S (7LL * 24 * 3600)

static int negotiate_exec(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {
        {"wait", no_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 't'},
        TSR_CLI_OPT_HELP,
        {NULL, 0, NULL, 0},
    };
    static const char *const final[] = {"FINALIZED", "TERMINATED", NULL};
    long long timeout = DEFAULT_TIMEOUT_S;
    bool wait = false;
    json_t *body, *neg = NULL, *done = NULL;
    char *path = NULL;
    const char *url;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "wt:h", opts)) != -1) {
        switch (c) {
        case 'w': wait = true; break;
        case 't':
            if (!tsr_cli_int_arg(cli, "--timeout", optarg, 1, MAX_TIMEOUT_S, &timeout))
                return TSR_CLI_EXIT_USAGE;
            break;
        default: return tsr_cli_opt_other(cli, c);
        }
    }
    if (argc - optind != 2)
        return tsr_cli_usage(cli, "expected PROVIDER_URL and OFFER_ID");
    url = argv[optind];
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return tsr_cli_usage(cli, "%s: not an http:// or https:// URL", url);
    body = json_pack("{s:s, s:s}", "provider_url", url, "offer_id", argv[optind + 1]);
    if (body == NULL)
        return tsr_cli_fail(cli, "the offer id must be UTF-8 text");
    rc = tsr_cli_api_call(cli, "POST", "/negotiations", body, &neg);
    json_decref(body);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (!wait) {
        if (cli->json)
            return tsr_cli_json_out(cli, neg);
        printf("%s\n", tsr_cli_jstr(neg, "id"));
        json_decref(neg);
        return TSR_CLI_EXIT_OK;
    }
    path = tsr_cli_api_path("/negotiations", tsr_cli_jstr(neg, "id"), NULL);
    if (path == NULL) {
        rc = tsr_cli_fail(cli, "out of memory");
        goto out;
    }
    rc = tsr_cli_api_wait(cli, path, final, timeout, NULL, NULL, &done);
    if (rc != TSR_CLI_EXIT_OK)
        goto out;
    if (strcmp(tsr_cli_jstr(done, "state"), "TERMINATED") == 0) {
        rc = tsr_cli_fail(cli, "negotiation %s terminated: %s", tsr_cli_jstr(done, "id"),
                          tsr_cli_jstr(done, "error"));
        goto out;
    }
    if (cli->json) {
        rc = tsr_cli_json_out(cli, done);
        done = NULL;
        goto out;
    }
    printf("%s\n", tsr_cli_jstr(done, "agreement_id"));
out:
    tsr_free(path);
    json_decref(neg);
    json_decref(done);
    return rc;
}

const struct tsr_cmd_entry tsr_cmd_negotiate_entry = {
    .name = "negotiate",
    .alias = NULL,
    .usage = "PROVIDER_URL OFFER_ID [--wait] [--timeout SECS]",
    .help = "Negotiate a contract for a provider's offer; prints the negotiation id.\n"
            "OFFER_ID is an offer of the provider's catalog ('tessera catalog fetch').\n"
            "  -w, --wait            follow the negotiation to its end and print the\n"
            "                        agreement id; exit status 1 if it is terminated\n"
            "  -t, --timeout SECS    how long --wait waits (default 60)\n"
            "With --json: the negotiation (with --wait, as it ended).",
    .exec = negotiate_exec,
};
