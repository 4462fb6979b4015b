/*
 * connector/cli/tessera.c: main() of tessera, the command-line client, and
 * the framework its commands use (connector/cli/cli.h): global options,
 * command lookup by name or prefix, help and usage text from the command
 * table, error reporting, exit statuses and the one-document --json rule.
 *
 * No command logic lives here: each command is a cmd_*.c file plus one
 * line in COMMANDS below.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "connector/cli/cli.h"
#include "connector/conf.h"
#include "lib/cfg.h"
#include "lib/mem.h"
#include "lib/str.h"

/*
 * The top-level commands, in the order `tessera help` lists them
 * (alphabetical).  X(name) refers to `tsr_cmd_<name>_entry`, defined in
 * connector/cli/cmd_<name>.c (help is defined below).
 */
#define COMMANDS(X)                                                                               \
    X(agreement)                                                                                  \
    X(asset)                                                                                      \
    X(ca)                                                                                         \
    X(catalog)                                                                                    \
    X(get)                                                                                        \
    X(help)                                                                                       \
    X(init)                                                                                       \
    X(ledger)                                                                                     \
    X(negotiate)                                                                                  \
    X(negotiation)                                                                                \
    X(offer)                                                                                      \
    X(policy)                                                                                     \
    X(sd)                                                                                         \
    X(status)                                                                                     \
    X(transfer)                                                                                   \
    X(vault)                                                                                      \
    X(version)

#define DECLARE(n) extern const struct tsr_cmd_entry tsr_cmd_##n##_entry;
COMMANDS(DECLARE)
#undef DECLARE

#define ENTRY(n) &tsr_cmd_##n##_entry,
static const struct tsr_cmd_entry *const commands[] = {COMMANDS(ENTRY)};
#undef ENTRY

#define GLOBAL_USAGE "[-C DIR | --api URL --api-key KEY] [--json] COMMAND [ARG...]"

/* Longest getopt option string accepted from a command. */
#define OPTSTRING_MAX 128

/* ------------------------------------------------------------ output helpers */

static void vrecord(struct tsr_cli *cli, const char *fmt, va_list ap)
{
    int n = vsnprintf(cli->errmsg, sizeof(cli->errmsg), fmt, ap);

    if (n < 0)
        tsr_strlcpy(cli->errmsg, "(unprintable message)", sizeof(cli->errmsg));
}

int tsr_cli_fail(struct tsr_cli *cli, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vrecord(cli, fmt, ap);
    va_end(ap);
    fprintf(stderr, "tessera: %s\n", cli->errmsg);
    return TSR_CLI_EXIT_FAIL;
}

int tsr_cli_exit_status(int rc)
{
    if (rc == 0)
        return TSR_CLI_EXIT_OK;
    if (rc == TSR_EUNAVAIL || rc == TSR_ETIMEOUT)
        return TSR_CLI_EXIT_UNREACHABLE;
    return TSR_CLI_EXIT_FAIL;
}

int tsr_cli_fail_diag(struct tsr_cli *cli, int rc, const struct tsr_diag *d, const char *prefix)
{
    const char *msg = d != NULL && d->msg[0] != '\0' ? d->msg : tsr_strerror(rc);

    if (prefix != NULL)
        tsr_cli_fail(cli, "%s: %s", prefix, msg);
    else
        tsr_cli_fail(cli, "%s", msg);
    return rc == 0 ? TSR_CLI_EXIT_FAIL : tsr_cli_exit_status(rc);
}

/* "tessera init DIR [...]" for the command being run, or the global usage. */
static void print_usage_line(const struct tsr_cli *cli, FILE *fp)
{
    if (cli->cmd != NULL)
        fprintf(fp, "usage: tessera %s%s%s\n", cli->path, cli->cmd->usage[0] != '\0' ? " " : "",
                cli->cmd->usage);
    else if (cli->path[0] != '\0')
        fprintf(fp, "usage: tessera %s COMMAND [ARG...]\n", cli->path);
    else
        fprintf(fp, "usage: tessera " GLOBAL_USAGE "\n");
}

int tsr_cli_usage(struct tsr_cli *cli, const char *fmt, ...)
{
    char msg[TSR_DIAG_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        tsr_strlcpy(msg, "(unprintable message)", sizeof(msg));
    if (cli->path[0] != '\0')
        tsr_cli_fail(cli, "%s: %s", cli->path, msg);
    else
        tsr_cli_fail(cli, "%s", msg);
    print_usage_line(cli, stderr);
    return TSR_CLI_EXIT_USAGE;
}

bool tsr_cli_int_arg(struct tsr_cli *cli, const char *optname, const char *s, long long min,
                     long long max, long long *out)
{
    int rc = tsr_parse_ll(s, min, max, out);

    if (rc == 0)
        return true;
    if (rc == TSR_ERANGE)
        tsr_cli_usage(cli, "%s: %s is outside %lld..%lld", optname, s, min, max);
    else
        tsr_cli_usage(cli, "%s: '%s' is not a whole number", optname, s);
    return false;
}

/* A JSON string of s; bytes that are not UTF-8 become '?' rather than losing the message. */
static json_t *json_str_lossy(const char *s)
{
    json_t *j = json_string(s);
    char *copy;

    if (j != NULL)
        return j;
    copy = tsr_strdup(s);
    if (copy == NULL)
        return NULL;
    for (char *p = copy; *p != '\0'; p++) {
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    }
    j = json_string(copy);
    tsr_free(copy);
    return j;
}

int tsr_cli_json_out(struct tsr_cli *cli, json_t *doc)
{
    size_t flags = JSON_ENCODE_ANY;
    int rc;

    if (doc == NULL)
        return tsr_cli_fail(cli, "cannot build the JSON output (out of memory, or text that is "
                                 "not UTF-8)");
    if (cli->json_done) {
        json_decref(doc);
        return tsr_cli_fail(cli, "internal error: a second JSON document");
    }
    /* Scripts get one line; people at a terminal get it indented. */
    flags |= isatty(STDOUT_FILENO) ? JSON_INDENT(2) : JSON_COMPACT;
    cli->json_done = true;
    rc = json_dumpf(doc, stdout, flags);
    json_decref(doc);
    if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
        return tsr_cli_fail(cli, "cannot write the output: %s", strerror(errno));
    return TSR_CLI_EXIT_OK;
}

int tsr_cli_make_dir(struct tsr_cli *cli, const char *path, bool *created)
{
    struct stat st;

    *created = false;
    if (mkdir(path, 0700) == 0) {
        /* The umask may have taken bits away; the mode is part of the promise. */
        if (chmod(path, 0700) != 0) {
            int err = errno;

            rmdir(path);
            return tsr_cli_fail(cli, "%s: chmod: %s", path, strerror(err));
        }
        *created = true;
        return TSR_CLI_EXIT_OK;
    }
    if (errno != EEXIST)
        return tsr_cli_fail(cli, "cannot create %s: %s", path, strerror(errno));
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return tsr_cli_fail(cli, "%s exists and is not a folder", path);
    return TSR_CLI_EXIT_OK;
}

/* ------------------------------------------------------------ options */

static int getopt_checked(struct tsr_cli *cli, int argc, char **argv, const char *mode,
                          const char *shortopts, const struct option *longopts)
{
    char opts[OPTSTRING_MAX];
    int n, c;

    /* A leading ':' makes getopt report a missing value as ':' and stay silent. */
    n = snprintf(opts, sizeof(opts), "%s:%s", mode, shortopts);
    if (n < 0 || (size_t)n >= sizeof(opts)) {
        tsr_cli_fail(cli, "internal error: option string too long");
        return '?';
    }
    opterr = 0;
    c = getopt_long(argc, argv, opts, longopts, NULL);
    if (c != '?' && c != ':')
        return c;

    /* getopt leaves the offending word just before optind (or optopt for short options). */
    const char *word = optind >= 1 && optind <= argc ? argv[optind - 1] : NULL;
    char name[64];

    if (word != NULL && word[0] == '-' && word[1] == '-') {
        size_t len = strcspn(word, "=");

        snprintf(name, sizeof(name), "%.*s", (int)TSR_MIN(len, sizeof(name) - 1), word);
    } else if (optopt != 0) {
        snprintf(name, sizeof(name), "-%c", optopt);
    } else {
        snprintf(name, sizeof(name), "%s", word != NULL ? word : "?");
    }
    const char *sep = cli->path[0] != '\0' ? ": " : "";
    if (c == ':')
        tsr_cli_fail(cli, "%s%soption '%s' needs a value", cli->path, sep, name);
    else
        tsr_cli_fail(cli, "%s%sunknown option '%s'", cli->path, sep, name);
    return '?';
}

int tsr_cli_getopt(struct tsr_cli *cli, int argc, char **argv, const char *shortopts,
                   const struct option *longopts)
{
    return getopt_checked(cli, argc, argv, "", shortopts, longopts);
}

/* ------------------------------------------------------------ help */

static size_t summary_len(const char *help)
{
    return strcspn(help, "\n");
}

static json_t *entry_json(const struct tsr_cmd_entry *e)
{
    json_t *j = json_pack("{s:s, s:s, s:s%}", "name", e->name, "usage", e->usage, "summary",
                          e->help, summary_len(e->help));

    if (j != NULL && e->alias != NULL &&
        json_object_set_new(j, "alias", json_string(e->alias)) != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* The command list: for `tessera help`, `tessera -h`, a missing command. */
static int print_list(struct tsr_cli *cli, const struct tsr_cmd_entry *const *table, size_t n,
                      FILE *fp)
{
    bool top = cli->path[0] == '\0';

    if (cli->json && fp == stdout) {
        json_t *doc = json_object(), *arr = json_array();

        if (doc == NULL || arr == NULL || json_object_set_new(doc, "commands", arr) != 0) {
            json_decref(doc);
            return tsr_cli_json_out(cli, NULL);
        }
        for (size_t i = 0; i < n; i++) {
            if (json_array_append_new(arr, entry_json(table[i])) != 0) {
                json_decref(doc);
                return tsr_cli_json_out(cli, NULL);
            }
        }
        return tsr_cli_json_out(cli, doc);
    }
    if (top)
        fprintf(fp, "usage: tessera " GLOBAL_USAGE "\n\ncommands:\n");
    else
        fprintf(fp, "usage: tessera %s COMMAND [ARG...]\n\ncommands:\n", cli->path);
    for (size_t i = 0; i < n; i++) {
        const struct tsr_cmd_entry *e = table[i];

        fprintf(fp, "  %s%s%s%s%s\n      %.*s\n", top ? "" : cli->path, top ? "" : " ", e->name,
                e->usage[0] != '\0' ? " " : "", e->usage, (int)summary_len(e->help), e->help);
    }
    if (top) {
        fprintf(fp, "\nglobal options (before COMMAND):\n"
                    "  -C DIR          a participant folder: its tessera.conf names the connector\n"
                    "  --api URL       the connector's management API instead of -C\n"
                    "                  (http://127.0.0.1:8181" TSR_CLI_MGMT_BASE_PATH
                    ", or http://127.0.0.1:8181)\n"
                    "  --api-key KEY   its API key (default: $TESSERA_MANAGEMENT_API_KEY)\n"
                    "  --json          print one JSON document for scripts\n"
                    "  -h, --help      this list; 'tessera COMMAND -h' explains one command\n"
                    "  --version       print the version\n"
                    "\nexit status: 0 done, 1 failed or refused, 2 usage error, "
                    "3 connector or peer unreachable\n");
    } else {
        fprintf(fp, "\n'tessera %s COMMAND -h' explains one command.\n", cli->path);
    }
    return TSR_CLI_EXIT_OK;
}

/* One command's help: its usage line and the whole help text. */
static int print_entry_help(struct tsr_cli *cli, const char *path, const struct tsr_cmd_entry *e)
{
    const char *sep = e->usage[0] != '\0' ? " " : "";

    if (cli->json) {
        char usage[512];

        snprintf(usage, sizeof(usage), "tessera %s%s%s", path, sep, e->usage);
        return tsr_cli_json_out(cli, json_pack("{s:s, s:s, s:s}", "command", path, "usage", usage,
                                               "help", e->help));
    }
    printf("usage: tessera %s%s%s\n\n%s\n", path, sep, e->usage, e->help);
    return TSR_CLI_EXIT_OK;
}

int tsr_cli_opt_other(struct tsr_cli *cli, int c)
{
    if (c == 'h' && cli->cmd != NULL)
        return print_entry_help(cli, cli->path, cli->cmd);
    if (c != '?') {
        /* An option in the command's string that its switch forgot: a bug, but say something. */
        tsr_cli_fail(cli, "%s: option -%c is not handled", cli->path, c);
    }
    print_usage_line(cli, stderr);
    return TSR_CLI_EXIT_USAGE;
}

/* ------------------------------------------------------------ lookup and dispatch */

/*
 * The entry word names: an exact name or alias, else the only name it is
 * a prefix of.  Otherwise reports "unknown" or "ambiguous" and returns NULL.
 */
static const struct tsr_cmd_entry *lookup(struct tsr_cli *cli,
                                          const struct tsr_cmd_entry *const *table, size_t n,
                                          const char *word)
{
    const struct tsr_cmd_entry *found = NULL;
    size_t len = strlen(word), matches = 0;
    char list[TSR_DIAG_MAX];
    size_t used = 0;

    for (size_t i = 0; i < n; i++) {
        if (strcmp(table[i]->name, word) == 0 ||
            (table[i]->alias != NULL && strcmp(table[i]->alias, word) == 0))
            return table[i];
    }
    list[0] = '\0';
    for (size_t i = 0; len > 0 && i < n; i++) {
        if (strncmp(table[i]->name, word, len) == 0) {
            found = table[i];
            matches++;
        }
    }
    if (matches == 1)
        return found;
    /* The names to show: the candidates when ambiguous, all commands when unknown. */
    for (size_t i = 0; i < n; i++) {
        if (matches > 1 && strncmp(table[i]->name, word, len) != 0)
            continue;
        int w = snprintf(list + used, sizeof(list) - used, "%s%s", used > 0 ? ", " : "",
                         table[i]->name);
        if (w < 0 || (size_t)w >= sizeof(list) - used)
            break;
        used += (size_t)w;
    }
    const char *where = cli->path[0] != '\0' ? cli->path : NULL;
    if (matches > 1)
        tsr_cli_fail(cli, "%s%sambiguous command '%s': %s", where ? where : "", where ? ": " : "",
                     word, list);
    else
        tsr_cli_fail(cli, "%s%sunknown command '%s'; valid commands: %s", where ? where : "",
                     where ? ": " : "", word, list);
    return NULL;
}

static bool has_name(const struct tsr_cmd_entry *const *table, size_t n, const char *word)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(table[i]->name, word) == 0 ||
            (table[i]->alias != NULL && strcmp(table[i]->alias, word) == 0))
            return true;
    }
    return false;
}

static bool is_help_word(const char *w)
{
    return strcmp(w, "-h") == 0 || strcmp(w, "--help") == 0 || strcmp(w, "help") == 0;
}

/* Append " name" (or "name" at the top) to cli->path; returns the old length to restore. */
static size_t path_push(struct tsr_cli *cli, const char *name)
{
    size_t old = strlen(cli->path);

    snprintf(cli->path + old, sizeof(cli->path) - old, "%s%s", old > 0 ? " " : "", name);
    return old;
}

static int run_entry(struct tsr_cli *cli, const struct tsr_cmd_entry *e, int argc, char **argv)
{
    const struct tsr_cmd_entry *saved = cli->cmd;
    size_t old = path_push(cli, e->name);
    int rc;

    cli->cmd = e;
    /* glibc: optind 0 re-initialises getopt, including its permutation state. */
    optind = 0;
    rc = e->exec(argc, argv, cli);
    cli->cmd = saved;
    cli->path[old] = '\0';
    return rc;
}

const void *tsr_cli_cmd_arg(const struct tsr_cli *cli)
{
    return cli->cmd != NULL ? cli->cmd->arg : NULL;
}

int tsr_cli_dispatch(struct tsr_cli *cli, const struct tsr_cmd_entry *const *table, size_t n,
                     int argc, char **argv)
{
    const struct tsr_cmd_entry *e;
    const struct tsr_cmd_entry *saved = cli->cmd;
    int rc;

    /* The list and messages below are about this level, not the parent command. */
    cli->cmd = NULL;
    if (argc < 1 || argv[0] == NULL) {
        if (cli->path[0] != '\0')
            tsr_cli_fail(cli, "%s: missing command", cli->path);
        else
            tsr_cli_fail(cli, "missing command");
        print_list(cli, table, n, stderr);
        rc = TSR_CLI_EXIT_USAGE;
        goto out;
    }
    /* "help" is a command of its own at the top level; below it, the framework answers it. */
    if (is_help_word(argv[0]) && !has_name(table, n, argv[0])) {
        if (argc > 2) {
            rc = tsr_cli_usage(cli, "help takes at most one COMMAND");
        } else if (argc == 2) {
            e = lookup(cli, table, n, argv[1]);
            if (e == NULL) {
                rc = TSR_CLI_EXIT_USAGE;
                goto out;
            }
            size_t old = path_push(cli, e->name);
            rc = print_entry_help(cli, cli->path, e);
            cli->path[old] = '\0';
        } else {
            rc = print_list(cli, table, n, stdout);
        }
        goto out;
    }
    e = lookup(cli, table, n, argv[0]);
    if (e == NULL) {
        rc = TSR_CLI_EXIT_USAGE;
        goto out;
    }
    rc = run_entry(cli, e, argc, argv);
out:
    cli->cmd = saved;
    return rc;
}

/* ------------------------------------------------------------ the management API */

/* The API's URL from [management]: wildcard addresses become loopback, IPv6 gets brackets. */
static int mgmt_url_from_conf(struct tsr_cli *cli, const struct tsr_conf *c)
{
    const char *host = c->mgmt_listen != NULL ? c->mgmt_listen : "127.0.0.1";
    char url[512];
    int n;

    /* --api wins over the file. */
    if (cli->mgmt_url != NULL)
        return TSR_CLI_EXIT_OK;
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0)
        host = "::1";
    if (strchr(host, ':') != NULL && host[0] != '[')
        n = snprintf(url, sizeof(url), "http://[%s]:%lld" TSR_CLI_MGMT_BASE_PATH, host,
                     c->mgmt_port);
    else
        n = snprintf(url, sizeof(url), "http://%s:%lld" TSR_CLI_MGMT_BASE_PATH, host,
                     c->mgmt_port);
    if (n < 0 || (size_t)n >= sizeof(url))
        return tsr_cli_fail(cli, "management address too long");
    cli->mgmt_url = tsr_strdup(url);
    if (cli->mgmt_url == NULL)
        return tsr_cli_fail(cli, "out of memory");
    return TSR_CLI_EXIT_OK;
}

static int load_conf(struct tsr_cli *cli)
{
    struct tsr_diag d;
    char path[4096];
    int n, rc;

    tsr_diag_clear(&d);
    n = snprintf(path, sizeof(path), "%s/tessera.conf", cli->conf_dir);
    if (n < 0 || (size_t)n >= sizeof(path))
        return tsr_cli_usage(cli, "-C %s: path too long", cli->conf_dir);
    cli->conf = tsr_calloc(1, sizeof(*cli->conf));
    if (cli->conf == NULL)
        return tsr_cli_fail(cli, "out of memory");
    /* The table alone, without tsr_conf_load's daemon checks: the CLI needs no key files. */
    rc = tsr_cfg_load(tsr_conf_keys, tsr_conf_nkeys, path, cli->conf, &d);
    if (rc != 0) {
        tsr_free(cli->conf);
        cli->conf = NULL;
        /* The loader's message already names the file (and line). */
        if (access(path, F_OK) != 0)
            tsr_cli_fail(cli, "-C %s: no tessera.conf there (make a participant with "
                              "'tessera init %s')",
                         cli->conf_dir, cli->conf_dir);
        else
            tsr_cli_fail_diag(cli, rc, &d, NULL);
        return TSR_CLI_EXIT_FAIL;
    }
    return mgmt_url_from_conf(cli, cli->conf);
}

/* cli->mgmt_url from an --api URL: no trailing slash, the default base path when it has none. */
static int set_api_url(struct tsr_cli *cli, const char *url)
{
    const char *authority = strstr(url, "://") + 3;
    size_t len = strlen(url);
    bool has_path;
    char *u;

    /* Commands append "/status" and the like, so drop trailing slashes once here. */
    while (len > (size_t)(authority - url) && url[len - 1] == '/')
        len--;
    has_path = memchr(authority, '/', len - (size_t)(authority - url)) != NULL;
    u = tsr_malloc(len + sizeof(TSR_CLI_MGMT_BASE_PATH));
    if (u == NULL)
        return tsr_cli_fail(cli, "out of memory");
    snprintf(u, len + sizeof(TSR_CLI_MGMT_BASE_PATH), "%.*s%s", (int)len, url,
             has_path ? "" : TSR_CLI_MGMT_BASE_PATH);
    tsr_free(cli->mgmt_url);
    cli->mgmt_url = u;
    return TSR_CLI_EXIT_OK;
}

int tsr_cli_api(struct tsr_cli *cli, const char **url, const char **key)
{
    const char *k;
    int rc;

    if (cli->conf_dir == NULL && cli->api_url == NULL)
        return tsr_cli_usage(cli, "which connector? use -C DIR, or --api URL with --api-key KEY");
    /* Computed once: earlier callers may still hold the borrowed pointers. */
    if (cli->api_url != NULL && cli->mgmt_url == NULL) {
        if (!tsr_str_startswith(cli->api_url, "http://") &&
            !tsr_str_startswith(cli->api_url, "https://"))
            return tsr_cli_usage(cli, "--api %s: not an http:// or https:// URL", cli->api_url);
        rc = set_api_url(cli, cli->api_url);
        if (rc != TSR_CLI_EXIT_OK)
            return rc;
    }
    if (cli->conf_dir != NULL && cli->conf == NULL) {
        rc = load_conf(cli);
        if (rc != TSR_CLI_EXIT_OK)
            return rc;
    }
    k = cli->api_key;
    if (k == NULL && cli->conf != NULL)
        k = cli->conf->api_key;
    if (k == NULL)
        k = getenv("TESSERA_MANAGEMENT_API_KEY");
    if (k == NULL || k[0] == '\0')
        return tsr_cli_usage(cli, "no API key: use --api-key KEY, $TESSERA_MANAGEMENT_API_KEY "
                                  "or -C DIR");
    *url = cli->mgmt_url;
    *key = k;
    return TSR_CLI_EXIT_OK;
}

/* ------------------------------------------------------------ tessera help */

static int help_exec(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {TSR_CLI_OPT_HELP, {NULL, 0, NULL, 0}};
    const struct tsr_cmd_entry *e;
    int c;

    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1)
        return tsr_cli_opt_other(cli, c);
    if (argc - optind > 1)
        return tsr_cli_usage(cli, "help takes at most one COMMAND");
    if (argc - optind == 0) {
        char saved[TSR_CLI_PATH_MAX];
        int rc;

        /* The list is the top level's: list it as such. */
        tsr_strlcpy(saved, cli->path, sizeof(saved));
        cli->path[0] = '\0';
        rc = print_list(cli, commands, TSR_ARRAY_SIZE(commands), stdout);
        tsr_strlcpy(cli->path, saved, sizeof(cli->path));
        return rc;
    }
    cli->path[0] = '\0';
    e = lookup(cli, commands, TSR_ARRAY_SIZE(commands), argv[optind]);
    if (e == NULL)
        return TSR_CLI_EXIT_USAGE;
    return print_entry_help(cli, e->name, e);
}

const struct tsr_cmd_entry tsr_cmd_help_entry = {
    .name = "help",
    .alias = NULL,
    .usage = "[COMMAND]",
    .help = "List the commands, or explain one.\n"
            "Without COMMAND: every command with its usage and summary. With COMMAND: its\n"
            "usage and help, as 'tessera COMMAND -h' prints them.",
    .exec = help_exec,
};

/* ------------------------------------------------------------ main */

static void cleanup(struct tsr_cli *cli)
{
    if (cli->conf != NULL) {
        tsr_cfg_free(tsr_conf_keys, tsr_conf_nkeys, cli->conf);
        tsr_free(cli->conf);
    }
    tsr_free(cli->mgmt_url);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"api", required_argument, NULL, 'A'},
        {"api-key", required_argument, NULL, 'K'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct tsr_cli cli;
    bool help = false, version = false;
    int c, rc;

    memset(&cli, 0, sizeof(cli));
    if (argc < 1) {
        fprintf(stderr, "tessera: no arguments at all\n");
        return TSR_CLI_EXIT_USAGE;
    }
    /* '+': stop at the command, whose options are its own. */
    while ((c = getopt_checked(&cli, argc, argv, "+", "C:h", opts)) != -1) {
        switch (c) {
        case 'C':
            cli.conf_dir = optarg;
            break;
        case 'A':
            cli.api_url = optarg;
            break;
        case 'K':
            cli.api_key = optarg;
            break;
        case 'j':
            cli.json = true;
            break;
        case 'h':
            help = true;
            break;
        case 'V':
            version = true;
            break;
        default:
            print_usage_line(&cli, stderr);
            rc = TSR_CLI_EXIT_USAGE;
            goto out;
        }
    }
    if (cli.conf_dir != NULL && cli.conf_dir[0] == '\0') {
        rc = tsr_cli_usage(&cli, "-C needs a folder");
        goto out;
    }
    if (version) {
        char *vargv[] = {(char *)"version", NULL};

        rc = run_entry(&cli, &tsr_cmd_version_entry, 1, vargv);
    } else if (help) {
        rc = print_list(&cli, commands, TSR_ARRAY_SIZE(commands), stdout);
    } else {
        rc = tsr_cli_dispatch(&cli, commands, TSR_ARRAY_SIZE(commands), argc - optind,
                              argv + optind);
    }
out:
    /* --json promises one document whatever happened. */
    if (cli.json && !cli.json_done) {
        json_t *doc;

        if (rc == TSR_CLI_EXIT_OK)
            doc = json_object();
        else
            doc = json_pack("{s:o, s:i}", "error",
                            json_str_lossy(cli.errmsg[0] != '\0' ? cli.errmsg : "failed"), "exit",
                            rc);
        if (tsr_cli_json_out(&cli, doc) != TSR_CLI_EXIT_OK && rc == TSR_CLI_EXIT_OK)
            rc = TSR_CLI_EXIT_FAIL;
    }
    if (fflush(stdout) != 0 && rc == TSR_CLI_EXIT_OK) {
        fprintf(stderr, "tessera: cannot write the output: %s\n", strerror(errno));
        rc = TSR_CLI_EXIT_FAIL;
    }
    cleanup(&cli);
    return rc;
}
