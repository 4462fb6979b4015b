/*
 * connector/cli/cmd_version.c: `tessera version` (and `tessera --version`):
 * the program's version, for people and for scripts.
 */
#include "lib/tsr.h"

#include <stdio.h>

#include "connector/cli/cli.h"

static int version_exec(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {TSR_CLI_OPT_HELP, {NULL, 0, NULL, 0}};
    int c;

    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1)
        return tsr_cli_opt_other(cli, c);
    if (optind < argc)
        return tsr_cli_usage(cli, "no operands expected");
    if (cli->json)
        return tsr_cli_json_out(cli, json_pack("{s:s}", "version", PACKAGE_VERSION));
    printf("tessera %s\n", PACKAGE_VERSION);
    return TSR_CLI_EXIT_OK;
}

const struct tsr_cmd_entry tsr_cmd_version_entry = {
    .name = "version",
    .alias = NULL,
    .usage = "",
    .help = "Print the version of tessera.\n"
            "With --json: {\"version\": \"X.Y.Z\"}.",
    .exec = version_exec,
};
