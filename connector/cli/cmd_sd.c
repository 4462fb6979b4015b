/*
 * connector/cli/cmd_sd.c: `tessera sd show|publish`: the connector's
 * self-descriptions (connector/sd.h), as tesserad builds, signs and
 * publishes them to federated catalogs.  Both go through the management
 * API (GET /sd, POST /sd/publish).
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"

/* How long `sd publish` waits for the catalogs' answers. */
#define PUBLISH_WAIT_S 30

static int sd_show(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {TSR_CLI_OPT_HELP, {NULL, 0, NULL, 0}};
    static const char *const head[] = {"TYPE", "OFFER", "TITLE", "SUBJECT"};
    struct tsr_cli_table t;
    json_t *ans = NULL, *c;
    size_t i;
    int ch, rc;

    while ((ch = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1)
        return tsr_cli_opt_other(cli, ch);
    if (argc != optind)
        return tsr_cli_usage(cli, "no operands expected");
    rc = tsr_cli_api_call(cli, "GET", "/sd", NULL, &ans);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, ans);
    rc = tsr_cli_table_init(&t, 4, head);
    t.maxw[2] = 40;
    json_array_foreach(json_object_get(ans, "credentials"), i, c) {
        const json_t *subj = json_object_get(json_object_get(c, "credential"),
                                             "credentialSubject");
        const char *row[] = {tsr_cli_jstr(subj, "type"), tsr_cli_jstr(c, "offer_id"),
                             tsr_cli_jstr(subj, "schema:name"), tsr_cli_jstr(c, "subject")};
        if (rc == 0)
            rc = tsr_cli_table_add(&t, row);
    }
    if (rc == 0) {
        tsr_cli_table_print(&t, stdout);
        printf("\nvalid until %s, signed as VC-JWTs in one VP-JWT (--json shows them)\n",
               tsr_cli_jstr(ans, "valid_until"));
        json_array_foreach(json_object_get(ans, "catalogs"), i, c)
            printf("catalog %s: %s%s%s\n", tsr_cli_jstr(c, "url"), tsr_cli_jstr(c, "state"),
                   json_is_string(json_object_get(c, "error")) ? ": " : "",
                   json_is_string(json_object_get(c, "error")) ? tsr_cli_jstr(c, "error") : "");
    }
    tsr_cli_table_cleanup(&t);
    json_decref(ans);
    return rc == 0 ? TSR_CLI_EXIT_OK : tsr_cli_fail(cli, "out of memory");
}

/* The catalogs the publication was for: all configured ones, or the one named. */
static bool settled(const json_t *ans, const char *catalog, bool *failed)
{
    const json_t *c;
    size_t i;
    bool done = true;

    *failed = false;
    json_array_foreach(json_object_get(ans, "catalogs"), i, c) {
        const char *url = tsr_cli_jstr(c, "url"), *state = tsr_cli_jstr(c, "state");
        if (catalog != NULL ? strcmp(url, catalog) != 0
                            : !json_is_true(json_object_get(c, "configured")))
            continue;
        if (strcmp(state, "pending") == 0)
            done = false;
        if (strcmp(state, "failed") == 0)
            *failed = true;
    }
    return done;
}

static int sd_publish(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {
        {"catalog", required_argument, NULL, 'c'}, TSR_CLI_OPT_HELP, {NULL, 0, NULL, 0}};
    const char *catalog = NULL;
    json_t *body, *ans = NULL, *c;
    bool failed = false;
    size_t i;
    int ch, rc;

    while ((ch = tsr_cli_getopt(cli, argc, argv, "c:h", opts)) != -1) {
        switch (ch) {
        case 'c': catalog = optarg; break;
        default: return tsr_cli_opt_other(cli, ch);
        }
    }
    if (argc != optind)
        return tsr_cli_usage(cli, "no operands expected");
    body = catalog != NULL ? json_pack("{s:s}", "catalog", catalog) : json_object();
    if (body == NULL)
        return tsr_cli_fail(cli, "out of memory");
    rc = tsr_cli_api_call(cli, "POST", "/sd/publish", body, NULL);
    json_decref(body);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    /* Published in the background: wait until every catalog answered. */
    for (int n = 0; n < PUBLISH_WAIT_S * 10; n++) {
        json_decref(ans);
        ans = NULL;
        rc = tsr_cli_api_call(cli, "GET", "/sd", NULL, &ans);
        if (rc != TSR_CLI_EXIT_OK)
            return rc;
        if (settled(ans, catalog, &failed))
            break;
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    json_object_del(ans, "credentials");
    json_object_del(ans, "presentation");
    if (cli->json) {
        rc = tsr_cli_json_out(cli, json_incref(ans));
    } else {
        json_array_foreach(json_object_get(ans, "catalogs"), i, c)
            printf("%s: %s%s%s\n", tsr_cli_jstr(c, "url"), tsr_cli_jstr(c, "state"),
                   json_is_string(json_object_get(c, "error")) ? ": " : "",
                   json_is_string(json_object_get(c, "error")) ? tsr_cli_jstr(c, "error") : "");
    }
    json_decref(ans);
    if (rc == TSR_CLI_EXIT_OK && failed)
        return tsr_cli_fail(cli, "publication to a catalog failed");
    return rc;
}

static const struct tsr_cmd_entry show_entry = {
    .name = "show",
    .usage = "",
    .help = "Show the connector's self-descriptions.\n"
            "One gx:LegalPerson credential for the participant and one gx:ServiceOffering per\n"
            "offer, each signed as a VC-JWT, and where they were published. With --json: the\n"
            "VP-JWT, every VC-JWT and its decoded credential.",
    .exec = sd_show,
};

static const struct tsr_cmd_entry publish_entry = {
    .name = "publish",
    .usage = "[--catalog URL]",
    .help = "Publish the self-descriptions now.\n"
            "  -c, --catalog URL   to this catalog only (default: every catalog in [catalog]\n"
            "                      urls of tessera.conf)\n"
            "Waits for the catalogs' answers (at most 30 seconds); exit status 1 when one\n"
            "refused them or could not be reached.",
    .exec = sd_publish,
};

static const struct tsr_cmd_entry *const subcommands[] = {&publish_entry, &show_entry};

static int sd_exec(int argc, char **argv, struct tsr_cli *cli)
{
    return tsr_cli_dispatch(cli, subcommands, TSR_ARRAY_SIZE(subcommands), argc - 1, argv + 1);
}

const struct tsr_cmd_entry tsr_cmd_sd_entry = {
    .name = "sd",
    .alias = NULL,
    .usage = "show | publish ...",
    .help = "The connector's Gaia-X self-descriptions.\n"
            "  sd show                      the signed credentials\n"
            "  sd publish [--catalog URL]   publish them now",
    .exec = sd_exec,
};
