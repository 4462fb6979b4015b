/*
 * connector/cli/cmd_status.c: `tessera status`: whether the connector
 * answers, and who it is (GET /status of the management API).
 */
#include "lib/tsr.h"

#include <stdio.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"

/* "2d 3h 4m 5s", leaving out the leading zero units. */
static void fmt_uptime(long long s, char *buf, size_t size)
{
    long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;

    if (d > 0)
        snprintf(buf, size, "%lldd %lldh %lldm %llds", d, h, m, s % 60);
    else if (h > 0)
        snprintf(buf, size, "%lldh %lldm %llds", h, m, s % 60);
    else if (m > 0)
        snprintf(buf, size, "%lldm %llds", m, s % 60);
    else
        snprintf(buf, size, "%llds", s % 60);
}

static int status_exec(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {TSR_CLI_OPT_HELP, {NULL, 0, NULL, 0}};
    json_t *st = NULL;
    char up[64];
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1)
        return tsr_cli_opt_other(cli, c);
    if (optind < argc)
        return tsr_cli_usage(cli, "no operands expected");
    rc = tsr_cli_api_call(cli, "GET", "/status", NULL, &st);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, st);
    fmt_uptime((long long)json_integer_value(json_object_get(st, "uptime_s")), up, sizeof(up));
    printf("name          %s\n", tsr_cli_jstr(st, "name"));
    printf("did           %s\n", tsr_cli_jstr(st, "did"));
    printf("protocol url  %s\n", tsr_cli_jstr(st, "protocol_url"));
    printf("version       %s\n", tsr_cli_jstr(st, "version"));
    printf("uptime        %s\n", up);
    printf("connections   %lld\n",
           (long long)json_integer_value(json_object_get(st, "connections")));
    printf("dsp engine    %s\n", json_is_true(json_object_get(st, "dsp")) ? "running" : "stopped");
    json_decref(st);
    return TSR_CLI_EXIT_OK;
}

const struct tsr_cmd_entry tsr_cmd_status_entry = {
    .name = "status",
    .alias = NULL,
    .usage = "",
    .help = "Show whether the connector answers, and who it is.\n"
            "Asks the management API for the participant's name and DID, the public protocol\n"
            "URL, the version, the uptime and the open protocol connections. Exit status 3\n"
            "when the connector cannot be reached.",
    .exec = status_exec,
};
