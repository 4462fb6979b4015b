/*
 * connector/cli/cmd_policy.c: `tessera policy add|ls|show|rm`: the ODRL
 * policies the connector offers its assets under.  The policy is read
 * here (a file, or "-" for standard input) and sent to the connector as
 * JSON.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"
#include "lib/buf.h"
#include "lib/json.h"
#include "lib/mem.h"

/* The largest policy document accepted (the connector stores at most 1 MiB). */
#define POLICY_MAX ((size_t)1 << 20)

/* The policy document at path ("-": standard input) as a JSON object, *out new. */
static int read_policy(struct tsr_cli *cli, const char *path, json_t **out)
{
    struct tsr_json_limits lim = TSR_JSON_LIMITS_DEFAULT;
    struct tsr_diag d = {0};
    struct tsr_buf b;
    int rc;

    *out = NULL;
    lim.max_bytes = POLICY_MAX;
    if (strcmp(path, "-") != 0) {
        rc = tsr_json_read_file(path, &lim, out, &d);
        if (rc != 0)
            return tsr_cli_fail_diag(cli, rc, &d, NULL);
    } else {
        char chunk[8192];
        size_t n;

        tsr_buf_init(&b, POLICY_MAX);
        rc = 0;
        while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
            rc = tsr_buf_add(&b, chunk, n);
        if (rc == 0 && ferror(stdin))
            rc = tsr_diag_set(&d, TSR_EIO, "standard input: %s", strerror(errno));
        else if (rc != 0)
            rc = tsr_diag_set(&d, rc, "standard input: larger than %zu bytes", POLICY_MAX);
        if (rc == 0) {
            rc = tsr_json_parse(b.data != NULL ? b.data : "", b.len, &lim, out, &d);
            if (rc != 0)
                tsr_diag_prefix(&d, "standard input");
        }
        tsr_buf_cleanup(&b);
        if (rc != 0)
            return tsr_cli_fail_diag(cli, rc, &d, NULL);
    }
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return tsr_cli_fail(cli, "%s: an ODRL policy must be a JSON object", path);
    }
    return TSR_CLI_EXIT_OK;
}

static int policy_add(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {TSR_CLI_OPT_HELP, {NULL, 0, NULL, 0}};
    json_t *pol = NULL, *body, *ans = NULL;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1)
        return tsr_cli_opt_other(cli, c);
    if (argc - optind != 2)
        return tsr_cli_usage(cli, "expected a policy ID and a FILE.json");
    rc = read_policy(cli, argv[optind + 1], &pol);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    body = json_pack("{s:s, s:o}", "id", argv[optind], "policy", pol);
    if (body == NULL)
        return tsr_cli_fail(cli, "the policy ID must be UTF-8 text");
    rc = tsr_cli_api_call(cli, "POST", "/policies", body, &ans);
    json_decref(body);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, ans);
    printf("policy %s added\n", tsr_cli_jstr(ans, "id"));
    json_decref(ans);
    return TSR_CLI_EXIT_OK;
}

/* "2 permissions, 1 prohibition" for a table cell. */
static void summary(const json_t *pol, char *buf, size_t size)
{
    static const char *const kinds[] = {"permission", "prohibition", "obligation"};
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < TSR_ARRAY_SIZE(kinds); i++) {
        const json_t *v = json_object_get(pol, kinds[i]);
        size_t n = json_is_array(v) ? json_array_size(v) : json_is_object(v) ? 1 : 0;
        int w;

        if (n == 0)
            continue;
        w = snprintf(buf + used, size - used, "%s%zu %s%s", used > 0 ? ", " : "", n, kinds[i],
                     n > 1 ? "s" : "");
        if (w < 0 || (size_t)w >= size - used)
            break;
        used += (size_t)w;
    }
    if (used == 0)
        snprintf(buf, size, "no rules");
}

static int policy_row(struct tsr_cli_table *t, const json_t *p)
{
    const json_t *pol = json_object_get(p, "policy");
    char rules[128], created[64];

    summary(pol, rules, sizeof(rules));
    tsr_cli_fmt_time(tsr_cli_jstr(p, "created_at"), created, sizeof(created));
    const char *row[] = {tsr_cli_jstr(p, "id"), tsr_cli_jstr(pol, "@type"), created, rules};
    return tsr_cli_table_add(t, row);
}

static const char *const head[] = {"ID", "TYPE", "CREATED", "RULES"};

static const struct tsr_cli_resource policies = {
    .what = "policy",
    .collection = "/policies",
    .ncols = TSR_ARRAY_SIZE(head),
    .head = head,
    .row = policy_row,
};

static const struct tsr_cmd_entry add_entry = {
    .name = "add",
    .alias = NULL,
    .usage = "ID FILE.json",
    .help = "Add an ODRL policy read from FILE.json (\"-\": standard input).\n"
            "The file holds one JSON object, the policy in compacted JSON-LD as the\n"
            "Dataspace Protocol carries it, e.g.\n"
            "  {\"@type\": \"Offer\", \"permission\": [{\"action\": \"use\"}]}\n"
            "ID is 1..256 characters of A-Z a-z 0-9 . _ : -.",
    .exec = policy_add,
};

static const struct tsr_cmd_entry ls_entry = {
    .name = "ls",
    .alias = "list",
    .usage = "",
    .help = "List the policies: id, type, when added, and how many rules of each kind.\n"
            "With --json: {\"items\": [...]}, every item as 'show' prints it.",
    .exec = tsr_cli_resource_ls,
    .arg = &policies,
};

static const struct tsr_cmd_entry show_entry = {
    .name = "show",
    .alias = NULL,
    .usage = "ID",
    .help = "Show one policy and its ODRL document.",
    .exec = tsr_cli_resource_show,
    .arg = &policies,
};

static const struct tsr_cmd_entry rm_entry = {
    .name = "rm",
    .alias = "remove",
    .usage = "ID",
    .help = "Remove a policy. Refused while an offer uses it: remove the offer first.",
    .exec = tsr_cli_resource_rm,
    .arg = &policies,
};

static const struct tsr_cmd_entry *const subcommands[] = {&add_entry, &ls_entry, &rm_entry,
                                                          &show_entry};

static int policy_exec(int argc, char **argv, struct tsr_cli *cli)
{
    return tsr_cli_dispatch(cli, subcommands, TSR_ARRAY_SIZE(subcommands), argc - 1, argv + 1);
}

const struct tsr_cmd_entry tsr_cmd_policy_entry = {
    .name = "policy",
    .alias = NULL,
    .usage = "add|ls|show|rm ...",
    .help = "Manage the connector's ODRL policies.\n"
            "  policy add ID FILE.json | policy ls | policy show ID | policy rm ID",
    .exec = policy_exec,
};
