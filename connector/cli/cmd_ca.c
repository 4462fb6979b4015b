/*
 * connector/cli/cmd_ca.c: `tessera ca DIR`: a local certificate authority
 * for a demo or test data space, whose certificates `tessera init --ca`
 * issues.  The X.509 work is lib/pki.h's; this file handles the folder,
 * the refusal to overwrite, and the output.  Not for production, which
 * uses real CAs.
 */
#include "lib/tsr.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "connector/cli/cli.h"
#include "lib/pki.h"
#include "lib/str.h"

#define CA_DEFAULT_NAME "tessera demo CA"

static int ca_exec(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        TSR_CLI_OPT_HELP,
        {NULL, 0, NULL, 0},
    };
    const char *name = CA_DEFAULT_NAME, *dir;
    char abs[PATH_MAX], cert[PATH_MAX + sizeof("/" TSR_PKI_CA_CERT_FILE)];
    struct tsr_diag d;
    bool created = false;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1) {
        switch (c) {
        case 'n':
            name = optarg;
            break;
        default:
            return tsr_cli_opt_other(cli, c);
        }
    }
    if (argc - optind != 1)
        return tsr_cli_usage(cli, argc - optind == 0 ? "missing DIR" : "too many operands");
    dir = argv[optind];
    if (dir[0] == '\0')
        return tsr_cli_usage(cli, "DIR is empty");

    tsr_diag_clear(&d);
    rc = tsr_cli_make_dir(cli, dir, &created);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    rc = tsr_pki_ca_create(dir, name, &d);
    if (rc == TSR_EEXIST) {
        rc = tsr_cli_fail(cli, "%s already holds a CA (%s, %s); refusing to overwrite it, since "
                               "the certificates it issued would no longer verify",
                          dir, TSR_PKI_CA_CERT_FILE, TSR_PKI_CA_KEY_FILE);
        goto out;
    }
    if (rc < 0) {
        rc = tsr_cli_fail_diag(cli, rc, &d, dir);
        goto out;
    }
    if (realpath(dir, abs) == NULL) {
        /* The CA is made; only the pretty path failed, so report it as given. */
        tsr_strlcpy(abs, dir, sizeof(abs));
    }
    snprintf(cert, sizeof(cert), "%s/%s", abs, TSR_PKI_CA_CERT_FILE);
    if (cli->json)
        rc = tsr_cli_json_out(cli, json_pack("{s:s, s:s}", "dir", abs, "certificate", cert));
    else
        rc = printf("%s\n", cert) < 0 ? TSR_CLI_EXIT_FAIL : TSR_CLI_EXIT_OK;
    return rc;
out:
    /* pki removes what it wrote; an empty folder this run made would only be in the way. */
    if (created)
        rmdir(dir);
    return rc;
}

const struct tsr_cmd_entry tsr_cmd_ca_entry = {
    .name = "ca",
    .alias = NULL,
    .usage = "DIR [--name NAME]",
    .help = "Make a local certificate authority for a demo or test data space.\n"
            "Creates DIR (mode 0700) if needed, with ca.key (P-256, mode 0600) and ca.crt (a\n"
            "self-signed CA certificate valid ten years), and prints the certificate's path\n"
            "(--json: {\"dir\", \"certificate\"}). 'tessera init --ca DIR' then issues TLS\n"
            "certificates from it. A folder that already holds a CA is never overwritten.\n"
            "Production data spaces use real certificate authorities instead.\n"
            "\n"
            "  --name NAME   the CA's common name (default \"" CA_DEFAULT_NAME "\")",
    .exec = ca_exec,
};
