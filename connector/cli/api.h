/*
 * connector/cli/api.h: what the commands that talk to tesserad's
 * management API share: one call (method, path and JSON body in; status
 * mapped to an exit status and the parsed JSON answer out), paths with
 * escaped ids, paging through lists, absolute paths for the daemon, and
 * output for people (aligned tables, sizes, times, an object's fields).
 *
 * Exit statuses follow cli.h: a connector that cannot be reached (or that
 * says the peer it asked cannot be) is TSR_CLI_EXIT_UNREACHABLE; any other
 * refusal is TSR_CLI_EXIT_FAIL with the server's own message on stderr.
 * Not here: the connector's URL and key (tsr_cli_api in cli.h).
 */
#ifndef TSR_CONNECTOR_CLI_API_H
#define TSR_CONNECTOR_CLI_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "transports/client.h"

struct tsr_cli;

/* Whole-request time limit of one call (a catalog request waits for the peer). */
#define TSR_CLI_API_TIMEOUT_MS 120000L
/* The largest answer accepted. */
#define TSR_CLI_API_MAX_ANSWER ((size_t)64 << 20)
/* Items asked for per page by tsr_cli_api_list, and the most it collects in all. */
#define TSR_CLI_API_PAGE 1000
#define TSR_CLI_API_LIST_MAX 1000000

/*
 * Call the management API: method ("GET", "POST", "DELETE") on path (below
 * the API's base URL, starting with '/', query included, ids already
 * escaped), with body (borrowed; NULL: none) sent as JSON.  On a 2xx
 * answer returns TSR_CLI_EXIT_OK and, when out is not NULL, *out gets the
 * parsed answer (new reference; NULL when the answer has no body).
 * Otherwise prints why on stderr and returns TSR_CLI_EXIT_UNREACHABLE
 * (connector unreachable, or it reports code "unavailable"/"timeout"),
 * TSR_CLI_EXIT_FAIL (refused: the server's "error" message) or
 * TSR_CLI_EXIT_USAGE (no connector named); *out is then NULL.
 */
int tsr_cli_api_call(struct tsr_cli *cli, const char *method, const char *path,
                     const json_t *body, json_t **out);

/*
 * GET path and hand a 2xx answer's body to write_cb(arg, data, len) as it
 * arrives (a non-zero return stops the transfer and fails the call); an
 * error answer is reported as by tsr_cli_api_call.  A body cut short by
 * the connector (it aborts an answer that fails half-way) fails the call.
 */
int tsr_cli_api_stream(struct tsr_cli *cli, const char *path, tsr_client_write_fn write_cb,
                       void *arg);

/*
 * GET every page of a list (path as above, may hold a query) and return
 * the concatenated "items" as *items (new array).  Exit status as
 * tsr_cli_api_call.
 */
int tsr_cli_api_list(struct tsr_cli *cli, const char *path, json_t **items);

/* Called by tsr_cli_api_wait with each answer (borrowed). */
typedef void (*tsr_cli_api_progress_fn)(const json_t *answer, void *arg);

/*
 * Poll GET path until the answer's "state" is one of states
 * (NULL-terminated), at intervals growing from 50 ms to 1 s, for at most
 * timeout_s seconds; progress (may be NULL) sees each answer.  On
 * TSR_CLI_EXIT_OK *out is the last answer (new).  Otherwise *out is NULL
 * and the status is TSR_CLI_EXIT_FAIL after printing "timed out ...", or
 * that of the failed call.
 */
int tsr_cli_api_wait(struct tsr_cli *cli, const char *path, const char *const *states,
                     long long timeout_s, tsr_cli_api_progress_fn progress, void *arg,
                     json_t **out);

/*
 * POST body (borrowed) to collection ("/transfers") to create a process,
 * then, when states is not NULL, poll it (its "id") as tsr_cli_api_wait
 * does until its "state" is one of states.  *out (new) is the object as
 * created, or as it ended; the caller judges the final state.  Exit
 * status as tsr_cli_api_wait (*out NULL then).
 */
int tsr_cli_api_start(struct tsr_cli *cli, const char *collection, const json_t *body,
                      const char *const *states, long long timeout_s,
                      tsr_cli_api_progress_fn progress, void *arg, json_t **out);

/*
 * Start a negotiation for offer_id at the provider url (POST
 * /negotiations) and, with wait, follow it for at most timeout_s seconds
 * to FINALIZED.  *out (new) is the negotiation: as started, or as it
 * ended (with its agreement_id).  A TERMINATED negotiation fails with
 * its reason and a hint.  Exit status as tsr_cli_api_call (*out NULL
 * then).
 */
int tsr_cli_negotiate(struct tsr_cli *cli, const char *url, const char *offer_id, bool wait,
                      long long timeout_s, json_t **out);

/*
 * "/collection/ID[/suffix]" with ID percent-escaped for a path segment
 * (suffix NULL: none).  New string (tsr_free), NULL when out of memory.
 */
char *tsr_cli_api_path(const char *collection, const char *id, const char *suffix);

/*
 * path made absolute against the current folder, for paths the daemon
 * opens (it does not share our folder).  *out new (tsr_free).  Returns
 * TSR_CLI_EXIT_OK or TSR_CLI_EXIT_FAIL after printing why.
 */
int tsr_cli_abs_path(struct tsr_cli *cli, const char *path, char **out);

/* A string member of obj, or "-" when absent or null (borrowed from obj). */
const char *tsr_cli_jstr(const json_t *obj, const char *key);

/* "1.5 MiB", "512 B"; "-" for a negative size.  buf of at least 32 bytes. */
void tsr_cli_fmt_size(int64_t bytes, char *buf, size_t size);

/* An RFC 3339 time as "YYYY-MM-DD HH:MM:SS" (UTC); anything else copied as is. */
void tsr_cli_fmt_time(const char *rfc3339, char *buf, size_t size);

/*
 * Print obj's members one per line, "label   value", for people: sizes and
 * times readable, arrays of strings joined, objects as indented JSON;
 * control characters shown as '?'.  Members whose name is in skip
 * (NULL-terminated; may be NULL) are left out.
 */
void tsr_cli_print_object(const json_t *obj, const char *const *skip, FILE *fp);

/* The most columns a table may have. */
#define TSR_CLI_TABLE_MAX_COLS 8

/* Rows of text printed in aligned columns; the last column is not padded. */
struct tsr_cli_table {
    size_t ncols;
    size_t nrows;                        /* including the header row */
    size_t cap;
    char **cells;                        /* nrows * ncols new strings */
    size_t maxw[TSR_CLI_TABLE_MAX_COLS]; /* longest cell shown per column, 0: no limit */
};

/*
 * Set up a table of ncols (1..TSR_CLI_TABLE_MAX_COLS) columns with a header
 * row.  Returns 0 or TSR_ENOMEM / TSR_EINVAL (tsr_cli_table_cleanup is safe
 * either way).
 */
int tsr_cli_table_init(struct tsr_cli_table *t, size_t ncols, const char *const *headers);

/* Add a row of ncols cells (copied; NULL shows as "-").  0 or TSR_ENOMEM. */
int tsr_cli_table_add(struct tsr_cli_table *t, const char *const *cells);

/* Print the table to fp: columns two spaces apart, long cells cut with "...". */
void tsr_cli_table_print(const struct tsr_cli_table *t, FILE *fp);

/* Free the cells.  Safe twice. */
void tsr_cli_table_cleanup(struct tsr_cli_table *t);

/*
 * A collection of the management API ("/assets") as the shared
 * sub-commands below see it: an entry runs one of them by naming it as
 * its exec and this description (or, for tsr_cli_resource_action, a
 * struct tsr_cli_resource_action) as its arg.
 */
struct tsr_cli_resource {
    const char *what;          /* for messages: "asset" */
    const char *collection;    /* "/assets" */
    const char *state_example; /* non-NULL: ls takes --state and --role; "FINALIZED" */
    /* ls for people: columns named head and cut at maxw (0: not cut) */
    size_t ncols;
    const char *const *head;
    size_t maxw[TSR_CLI_TABLE_MAX_COLS];
    /* Add item's (borrowed) row to t: 0 or TSR_ENOMEM. */
    int (*row)(struct tsr_cli_table *t, const json_t *item);
};

/* POST COLLECTION/ID/ACTION, with an optional --reason TEXT sent as {"reason": TEXT}. */
struct tsr_cli_resource_action {
    const struct tsr_cli_resource *res;
    const char *action; /* "terminate" */
    bool takes_reason;
};

/*
 * The execs of the shared sub-commands (cli.h's contract): `ls` (every
 * page; {"items": [...]} with --json, else a table), `show ID` (the
 * object's fields), `rm ID` ({"id": ID, "deleted": true} with --json) and
 * an action on one object ("KIND ID: STATE", or the answer with --json).
 */
int tsr_cli_resource_ls(int argc, char **argv, struct tsr_cli *cli);
int tsr_cli_resource_show(int argc, char **argv, struct tsr_cli *cli);
int tsr_cli_resource_rm(int argc, char **argv, struct tsr_cli *cli);
int tsr_cli_resource_action(int argc, char **argv, struct tsr_cli *cli);

#endif /* TSR_CONNECTOR_CLI_API_H */
