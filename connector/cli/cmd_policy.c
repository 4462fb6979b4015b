/*
 * connector/cli/cmd_policy.c: `tessera policy add|ls|show|rm`: the ODRL
 * policies the connector offers its assets under.  The policy is read
 * here (a file, or "-" for standard input) and sent to the connector as
 * JSON.  `tessera policy eval` decides a described request against a
 * policy file offline, with the engine and profile tesserad uses.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"
#include "connector/policy.h"
#include "contracts/odrl.h"
#include "lib/buf.h"
#include "lib/json.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"

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

/* Most --operand (and, apart, --part-of) options one evaluation takes. */
#define EVAL_MAX_OPERANDS 64
/* The longest --elapsed accepted: about 100 years. */
#define EVAL_MAX_ELAPSED_MS (100ULL * 366 * 24 * 3600 * 1000)

/* Print the decision (text or JSON) and turn it into the exit status. */
static int eval_report(struct tsr_cli *cli, const struct tsr_odrl_decision *dec)
{
    struct tsr_buf b;
    int rc = TSR_CLI_EXIT_OK;

    if (cli->json) {
        rc = tsr_cli_json_out(cli, tsr_odrl_decision_json(dec));
    } else {
        tsr_buf_init(&b, (size_t)1 << 20);
        if (tsr_odrl_decision_text(dec, &b) != 0) {
            tsr_buf_cleanup(&b);
            return tsr_cli_fail(cli, "out of memory");
        }
        bool ok = fwrite(b.data, 1, b.len, stdout) == b.len &&
                  (b.len == 0 || b.data[b.len - 1] == '\n' || putchar('\n') != EOF);
        tsr_buf_cleanup(&b);
        if (!ok)
            return tsr_cli_fail(cli, "cannot write the output: %s", strerror(errno));
    }
    if (rc != TSR_CLI_EXIT_OK || tsr_odrl_permitted(dec))
        return rc;
    /* The refusal also goes to stderr, so that scripts see it with --json too. */
    char why[512];
    tsr_policy_reason(dec, why, sizeof(why));
    fprintf(stderr, "tessera: %s: %s\n", tsr_odrl_effect_name(dec->effect), why);
    return TSR_CLI_EXIT_FAIL;
}

static int policy_eval(int argc, char **argv, struct tsr_cli *cli)
{
    enum { O_ACTION = 256, O_ASSIGNEE, O_PURPOSE, O_COUNT, O_AT, O_ELAPSED, O_SPATIAL,
           O_OPERAND, O_TARGET, O_PART_OF };
    static const struct option opts[] = {
        {"action", required_argument, NULL, O_ACTION},
        {"assignee", required_argument, NULL, O_ASSIGNEE},
        {"purpose", required_argument, NULL, O_PURPOSE},
        {"count", required_argument, NULL, O_COUNT},
        {"at", required_argument, NULL, O_AT},
        {"elapsed", required_argument, NULL, O_ELAPSED},
        {"spatial", required_argument, NULL, O_SPATIAL},
        {"operand", required_argument, NULL, O_OPERAND},
        {"target", required_argument, NULL, O_TARGET},
        {"part-of", required_argument, NULL, O_PART_OF},
        TSR_CLI_OPT_HELP,
        {NULL, 0, NULL, 0},
    };
    struct tsr_odrl_named named[EVAL_MAX_OPERANDS];
    struct tsr_odrl_fact facts[EVAL_MAX_OPERANDS];
    struct tsr_odrl_request rq;
    struct tsr_odrl_registry *reg = NULL;
    struct tsr_odrl_policy *p = NULL;
    struct tsr_odrl_decision *dec = NULL;
    struct tsr_diag d = {0};
    json_t *doc = NULL;
    long long count = 1;
    uint64_t elapsed = 0;
    int64_t at = tsr_time_now_ms();
    int c, rc;

    tsr_odrl_request_init(&rq);
    rq.action = "use";
    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1) {
        switch (c) {
        case O_ACTION: rq.action = optarg; break;
        case O_ASSIGNEE: rq.assignee = optarg; break;
        case O_PURPOSE: rq.purpose = optarg; break;
        case O_SPATIAL: rq.spatial = optarg; break;
        case O_TARGET: rq.target = optarg; break;
        case O_COUNT:
            if (!tsr_cli_int_arg(cli, "--count", optarg, 1, INT64_MAX, &count))
                return TSR_CLI_EXIT_USAGE;
            break;
        case O_AT:
            if (tsr_time_parse_ms(optarg, &at, &d) != 0)
                return tsr_cli_usage(cli, "--at: %s", tsr_diag_msg(&d));
            break;
        case O_ELAPSED:
            if (tsr_parse_duration_ms(optarg, EVAL_MAX_ELAPSED_MS, &elapsed) != 0)
                return tsr_cli_usage(cli, "--elapsed: '%s' is not a duration (30s, 5m, 2h, 7d)",
                                     optarg);
            break;
        case O_OPERAND:
        case O_PART_OF: {
            const char *opt = c == O_OPERAND ? "--operand" : "--part-of";
            size_t *n = c == O_OPERAND ? &rq.n_named : &rq.n_facts;
            const char *eq = strchr(optarg, '=');
            if (eq == NULL || eq == optarg || (c == O_PART_OF && eq[1] == '\0'))
                return tsr_cli_usage(cli, "%s: expected %s, not '%s'", opt,
                                     c == O_OPERAND ? "NAME=VALUE" : "PART=WHOLE", optarg);
            if (*n == EVAL_MAX_OPERANDS)
                return tsr_cli_usage(cli, "%s: at most %d", opt, EVAL_MAX_OPERANDS);
            /* Split in place: argv is ours to write. */
            optarg[eq - optarg] = '\0';
            if (c == O_OPERAND)
                named[*n] = (struct tsr_odrl_named){optarg, eq + 1};
            else
                facts[*n] = (struct tsr_odrl_fact){TSR_ODRL_REL_PART_OF, optarg, eq + 1};
            (*n)++;
            break;
        }
        default:
            return tsr_cli_opt_other(cli, c);
        }
    }
    if (argc - optind != 1)
        return tsr_cli_usage(cli, "expected one policy FILE.json");
    rq.named = named;
    rq.facts = facts;
    rq.now_ms = at;
    rq.use_count = (uint64_t)(count - 1);
    /* The agreement (and the first use) as long ago as --elapsed says: now by default. */
    rq.agreement_ms = at - (int64_t)elapsed;
    if (elapsed > 0)
        rq.first_use_ms = rq.agreement_ms;
    rc = read_policy(cli, argv[optind], &doc);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    reg = tsr_odrl_registry_new();
    dec = tsr_calloc(1, sizeof(*dec));
    if (reg == NULL || dec == NULL || tsr_odrl_registry_add_catenax(reg) != 0) {
        rc = tsr_cli_fail(cli, "out of memory");
        goto out;
    }
    struct tsr_odrl_options o = {.registry = reg};
    int crc = tsr_odrl_compile(doc, &o, &p, &d);
    if (crc != 0) {
        rc = tsr_cli_fail_diag(cli, crc, &d, "policy refused");
        goto out;
    }
    if (tsr_odrl_eval(p, &rq, dec) != 0 && dec->effect != TSR_ODRL_DENY) {
        rc = tsr_cli_fail(cli, "cannot evaluate: %s", dec->why);
        goto out;
    }
    rc = eval_report(cli, dec);
out:
    tsr_odrl_policy_free(p);
    tsr_odrl_registry_free(reg);
    tsr_free(dec);
    json_decref(doc);
    return rc;
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

static const struct tsr_cmd_entry eval_entry = {
    .name = "eval",
    .alias = NULL,
    .usage = "FILE.json [--action A] [--assignee DID] [--purpose P] [--count N] [--at TIME] "
             "[--elapsed DURATION] [--spatial CODE] [--target ID] [--operand NAME=VALUE]... "
             "[--part-of PART=WHOLE]...",
    .help = "Decide a request against an ODRL policy offline: permit (exit 0) or deny (exit 1).\n"
            "No connector is needed: the policy is compiled with the engine and the Catena-X\n"
            "profile tesserad uses, and the decision is printed with every rule and constraint\n"
            "behind it (--json: the decision as JSON).\n"
            "  --action A          the action requested (default use)\n"
            "  --assignee DID      the requesting party\n"
            "  --purpose P         the declared purpose\n"
            "  --count N           this is the N-th use (default 1: the first)\n"
            "  --at TIME           when (RFC 3339, default now)\n"
            "  --elapsed DURATION  time since the agreement and first use (30s, 5m, 2h, 7d)\n"
            "  --spatial CODE      where the use takes place\n"
            "  --target ID         the asset (default: the policy's own)\n"
            "  --operand NAME=VALUE  a value for a named or profile operand (repeatable),\n"
            "                      e.g. --operand Membership=active\n"
            "  --part-of PART=WHOLE  a fact for isPartOf/hasPart and collections (repeatable),\n"
            "                      e.g. --part-of DE=EU",
    .exec = policy_eval,
};

static const struct tsr_cmd_entry *const subcommands[] = {&add_entry, &eval_entry, &ls_entry,
                                                          &rm_entry, &show_entry};

static int policy_exec(int argc, char **argv, struct tsr_cli *cli)
{
    return tsr_cli_dispatch(cli, subcommands, TSR_ARRAY_SIZE(subcommands), argc - 1, argv + 1);
}

const struct tsr_cmd_entry tsr_cmd_policy_entry = {
    .name = "policy",
    .alias = NULL,
    .usage = "add|ls|show|rm|eval ...",
    .help = "Manage the connector's ODRL policies, or decide a request against one offline.\n"
            "  policy add ID FILE.json | policy ls | policy show ID | policy rm ID\n"
            "  policy eval FILE.json [--action A] [--assignee DID] [--count N] ...",
    .exec = policy_exec,
};
