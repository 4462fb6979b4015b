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
    long long timeout = DEFAULT_TIMEOUT_S;
    bool wait = false;
    json_t *neg = NULL;
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
    rc = tsr_cli_negotiate(cli, url, argv[optind + 1], wait, timeout, &neg);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, neg);
    /* Without --wait the negotiation's id; with it, the agreement's. */
    printf("%s\n", tsr_cli_jstr(neg, wait ? "agreement_id" : "id"));
    json_decref(neg);
    return TSR_CLI_EXIT_OK;
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
