/*
 * connector/cli/cli.h: the framework of `tessera`, the command-line client
 * (tmux's cmd_entry, relayctl's parser table).
 *
 * Each command lives in one file, connector/cli/cmd_<name>.c, which defines
 * one `const struct tsr_cmd_entry tsr_cmd_<name>_entry` and nothing else
 * with external linkage; tessera.c lists the entries in one table (one line
 * per command).  The framework parses the global options, finds the
 * command by name, alias or unambiguous prefix, and calls its exec.
 *
 * Contract with a command's exec:
 *   - argv[0] is the command's name, argv[argc] is NULL; getopt's state is
 *     reset, so exec parses its own options with tsr_cli_getopt (options
 *     and operands may be mixed; "--" ends the options).
 *   - exec returns an exit status: TSR_CLI_EXIT_OK, _FAIL (the operation
 *     failed or was refused), _USAGE, _UNREACHABLE (connector or peer could
 *     not be reached).  Every non-zero status has printed its reason on
 *     stderr, prefixed "tessera: ", through the tsr_cli_fail* / tsr_cli_usage
 *     helpers below.
 *   - with cli->json, stdout gets exactly one JSON document per command:
 *     exec prints its result with tsr_cli_json_out (once, on success); on
 *     failure the framework prints {"error": MESSAGE, "exit": STATUS}.
 *     Without --json, output on stdout is for people.
 *
 * This file declares no network client: commands that talk to the
 * management API get its URL and key from tsr_cli_api.
 */
#ifndef TSR_CONNECTOR_CLI_CLI_H
#define TSR_CONNECTOR_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include <jansson.h>

#include "lib/err.h"

struct tsr_conf;

/* Exit statuses (tessera(1)). */
#define TSR_CLI_EXIT_OK 0
#define TSR_CLI_EXIT_FAIL 1
#define TSR_CLI_EXIT_USAGE 2
#define TSR_CLI_EXIT_UNREACHABLE 3

/*
 * Where tesserad serves its management API under the management port; it
 * must match the daemon's routes (connector/tesserad.c).
 */
#define TSR_CLI_MGMT_BASE_PATH "/api/v1"

/* Longest command path kept for messages ("asset add"). */
#define TSR_CLI_PATH_MAX 64

struct tsr_cli;

struct tsr_cmd_entry {
    const char *name;  /* "init"; matched exactly or by an unambiguous prefix */
    const char *alias; /* another name matched exactly (never by prefix), or NULL */
    const char *usage; /* what follows the name: "DIR [--name NAME] [--ca CADIR]" */
    /*
     * First line: a one-line summary for `tessera help`.  The rest (after
     * a newline): the options and details shown by `tessera CMD -h`.
     */
    const char *help;
    /* Run the command; returns a TSR_CLI_EXIT_* status (see the contract above). */
    int (*exec)(int argc, char **argv, struct tsr_cli *cli);
    /* What a shared exec works on (tsr_cli_cmd_arg), or NULL. */
    const void *arg;
};

/* One invocation of the program: the global options, and the framework's state. */
struct tsr_cli {
    /* Global options, read-only for commands. */
    bool json;            /* --json */
    const char *conf_dir; /* -C DIR: a participant folder, or NULL */
    const char *api_url;  /* --api URL, or NULL */
    const char *api_key;  /* --api-key KEY, or NULL */

    /* The framework's own; commands do not touch these. */
    char path[TSR_CLI_PATH_MAX];         /* the command being run ("init"), for messages */
    const struct tsr_cmd_entry *cmd;     /* its entry, for usage and help */
    bool json_done;                      /* a JSON document was printed */
    char errmsg[TSR_DIAG_MAX];           /* the last reason printed on stderr */
    struct tsr_conf *conf;               /* conf_dir's tessera.conf, loaded by tsr_cli_api */
    char *mgmt_url;                      /* derived from conf */
};

/* The struct option line every command's long option table should carry. */
#define TSR_CLI_OPT_HELP {"help", no_argument, NULL, 'h'}

/* The arg of the entry being run: lets several entries share one exec. */
const void *tsr_cli_cmd_arg(const struct tsr_cli *cli);

/*
 * getopt_long for commands: shortopts as getopt's (without a leading '+'
 * or ':'; include "h"), longopts ending with an all-zero entry.  Returns
 * the option character (optarg set as usual), -1 after the last option
 * (optind is then the first operand), or '?' for an unknown option or a
 * missing argument, after printing "tessera: CMD: unknown option '--x'".
 * Pass any character your switch does not handle ('h', '?') to
 * tsr_cli_opt_other.
 */
int tsr_cli_getopt(struct tsr_cli *cli, int argc, char **argv, const char *shortopts,
                   const struct option *longopts);

/*
 * The default branch of an option switch: for 'h' prints the command's
 * help and returns TSR_CLI_EXIT_OK; otherwise prints the usage line and
 * returns TSR_CLI_EXIT_USAGE.  Write `default: return tsr_cli_opt_other(cli, c);`.
 */
int tsr_cli_opt_other(struct tsr_cli *cli, int c);

/*
 * Report a usage error: "tessera: CMD: MESSAGE" and the command's usage
 * line on stderr.  Returns TSR_CLI_EXIT_USAGE.
 */
int tsr_cli_usage(struct tsr_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Report a failure: "tessera: MESSAGE" on stderr.  Returns TSR_CLI_EXIT_FAIL. */
int tsr_cli_fail(struct tsr_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Report a failed library call: "tessera: PREFIX: DETAIL" (no "PREFIX: "
 * when prefix is NULL), with DETAIL from d (or rc's description when d
 * holds none).  Returns tsr_cli_exit_status(rc).
 */
int tsr_cli_fail_diag(struct tsr_cli *cli, int rc, const struct tsr_diag *d, const char *prefix);

/* The exit status for a TSR_E* code: 0 for 0, TSR_CLI_EXIT_UNREACHABLE for
 * TSR_EUNAVAIL and TSR_ETIMEOUT, TSR_CLI_EXIT_FAIL for the rest. */
int tsr_cli_exit_status(int rc);

/*
 * Parse an integer option value in [min, max].  Returns true, or prints
 * "tessera: CMD: OPTNAME: ..." plus the usage line and returns false (the
 * caller then returns TSR_CLI_EXIT_USAGE).
 */
bool tsr_cli_int_arg(struct tsr_cli *cli, const char *optname, const char *s, long long min,
                     long long max, long long *out);

/*
 * Print doc (stolen, even on failure; NULL means out of memory) as the
 * command's one JSON document on stdout: compact with a newline, or
 * indented when stdout is a terminal.  Returns TSR_CLI_EXIT_OK, or
 * TSR_CLI_EXIT_FAIL after reporting why (no memory, output failed, a
 * second document).
 */
int tsr_cli_json_out(struct tsr_cli *cli, json_t *doc);

/*
 * The management API of the connector this invocation talks to: --api
 * and --api-key when given, the rest from -C DIR's tessera.conf (its
 * [management] port and api_key, environment overrides applied; a
 * wildcard listen address becomes loopback).  On success returns
 * TSR_CLI_EXIT_OK with *url, the API's base URL without a trailing slash
 * ("http://127.0.0.1:8181/api/v1"; an --api URL without a path gets
 * TSR_CLI_MGMT_BASE_PATH appended), and *key, both borrowed from cli or
 * the environment, valid until the program ends.  Otherwise
 * prints why and returns TSR_CLI_EXIT_USAGE (no connector named) or
 * TSR_CLI_EXIT_FAIL (the configuration cannot be loaded).
 */
int tsr_cli_api(struct tsr_cli *cli, const char **url, const char **key);

/*
 * Make sure the folder path exists: create it with mode 0700 (its parent
 * must exist) and set *created, or accept an existing folder (*created
 * false; its mode is left alone).  Returns TSR_CLI_EXIT_OK, or prints why
 * not (cannot create, exists but is not a folder) and returns
 * TSR_CLI_EXIT_FAIL.  A command that fails later removes a folder it
 * created (rmdir, once emptied), so that a retry starts clean.
 */
int tsr_cli_make_dir(struct tsr_cli *cli, const char *path, bool *created);

/*
 * Run a command from table (n entries) chosen by argv[0], for commands
 * with subcommands of their own ("asset add"): the same matching, help
 * and messages as the top level, with cli's command path extended.
 * `CMD help` and `CMD` alone list the subcommands.  Returns the exit
 * status of the subcommand, or TSR_CLI_EXIT_USAGE.
 */
int tsr_cli_dispatch(struct tsr_cli *cli, const struct tsr_cmd_entry *const *table, size_t n,
                     int argc, char **argv);

#endif /* TSR_CONNECTOR_CLI_CLI_H */
