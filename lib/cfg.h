/*
 * lib/cfg.h: the configuration loader behind tessera.conf(5), shared by
 * tesserad, tessera-catalogd and the tessera CLI.
 *
 * A program describes its keys once, in a static table of struct
 * tsr_cfg_key that says where each value lands in the program's own
 * config struct.  tsr_cfg_load fills that struct from, in increasing
 * priority: the defaults in the table, the file, and environment
 * variables TESSERA_<SECTION>_<KEY>.  The same table prints the effective
 * configuration and the key reference (--help-config, docs-sync test).
 *
 * File format (INI):
 *   # comment               ; comment       (whole lines)
 *   [section]
 *   key = value             # an inline comment starts at '#' or ';'
 *                           # preceded by white space
 *   key = "  value # kept " (double quotes keep spaces, '#' and ';';
 *                            escapes \" and \\ only)
 * Keys before the first [section] belong to the section "" (keys whose
 * table section is "").  A [section] may appear more than once.  Names
 * are case-sensitive; values of BOOL and ENUM keys are not.  Lines are at
 * most TSR_CFG_LINE_MAX bytes and the file at most TSR_CFG_FILE_MAX; tabs
 * are the only control characters allowed in values; a UTF-8 byte order
 * mark at the start is skipped.
 *
 * Relative PATH values (from the file, the environment or a default) are
 * resolved against the directory of the configuration file, made
 * absolute, so that a daemon that changes directory still finds them.
 *
 * This file does not watch the file or decide what a reload may change:
 * the program reloads into a new struct and compares the keys that are
 * not TSR_CFG_RELOADABLE.
 */
#ifndef TSR_LIB_CFG_H
#define TSR_LIB_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/err.h"

#define TSR_CFG_LINE_MAX 4096         /* bytes per line, without the newline */
#define TSR_CFG_FILE_MAX (1u << 20)   /* bytes per file */
#define TSR_CFG_ENV_PREFIX "TESSERA_"

/* Value types, and the C type of the struct field each one fills. */
enum tsr_cfg_type {
    TSR_CFG_STRING,   /* char *, new (NULL when unset); min/max bound the length */
    TSR_CFG_INT,      /* long long; min/max bound the value */
    TSR_CFG_BOOL,     /* bool: yes/no, true/false, on/off, 1/0 */
    TSR_CFG_SIZE,     /* uint64_t bytes: "512", "64k", "1M" (tsr_parse_size); min/max in bytes */
    TSR_CFG_DURATION, /* uint64_t ms: "250ms", "30s", "5m" (tsr_parse_duration_ms); min/max in ms */
    TSR_CFG_ENUM,     /* int: the index of the value in enum_values */
    TSR_CFG_PATH,     /* char *, new, absolute unless empty; min/max bound the length */
    TSR_CFG_LIST,     /* struct tsr_cfg_list; min/max bound the number of items */
};

/*
 * A LIST value: items separated by commas and/or white space, or one
 * item when the value is quoted.  The first occurrence of the key in the
 * file replaces the default; further occurrences append.  An empty value
 * gives an empty list.  The environment replaces the whole list.
 */
struct tsr_cfg_list {
    char **items; /* n new strings, then a NULL (items itself is NULL when n == 0) */
    size_t n;
};

/* Flags. */
#define TSR_CFG_RELOADABLE 0x1u /* may change on SIGHUP without a restart */
#define TSR_CFG_SECRET 0x2u     /* never printed: dumps show "(set)", errors omit the value */

struct tsr_cfg_key {
    const char *section; /* "server"; "" for keys before any [section] */
    const char *name;    /* "listen" */
    enum tsr_cfg_type type;
    size_t offset;       /* offsetof(struct my_config, field) */
    const char *def;     /* the default as it would be written in the file, or NULL */
    long long min, max;  /* bounds (see enum tsr_cfg_type); both 0: no bounds */
    const char *const *enum_values; /* ENUM only: NULL-terminated list of allowed words */
    /*
     * Optional extra check, run after all sources were applied, on a
     * pointer to the field.  Returns 0 or a TSR_E* code with a message
     * in d (the loader prefixes where the value came from).
     */
    int (*validate)(const void *value, struct tsr_diag *d);
    unsigned flags;      /* TSR_CFG_RELOADABLE | TSR_CFG_SECRET */
    const char *help;    /* one sentence for --help-config and the docs */
};

/*
 * Load the configuration into out_struct, whose fields named in table
 * must be zero (a fresh struct, or one emptied by tsr_cfg_free): they are
 * overwritten, not freed.  path may be NULL to use only the defaults and
 * the environment (relative paths then resolve against the current
 * directory).
 *
 * Applies the defaults, then the file, then the environment, then each
 * key's bounds and validate callback.  All or nothing: on failure every
 * field of the table is freed and zeroed, so a caller reloading on SIGHUP
 * into a new struct can keep its old one.
 *
 * Returns 0, or:
 *   TSR_ENOTFOUND, TSR_EIO   the file cannot be read ("path: reason")
 *   TSR_ELIMIT               file or line too long ("path:N: line too long (limit 4096 bytes)")
 *   TSR_EINVAL               syntax, unknown section or key (with "did you
 *                            mean" when one name is within edit distance 2),
 *                            duplicate key, bad value ("path:N: ...")
 *   TSR_ERANGE               a value outside its bounds, naming them
 *   TSR_EINTERNAL            a bad table or default (a bug)
 *   TSR_ENOMEM
 * or a validate callback's code.  Errors from the environment name the
 * variable ("TESSERA_SERVER_PORT: ...").
 */
int tsr_cfg_load(const struct tsr_cfg_key *table, size_t n, const char *path, void *out_struct,
                 struct tsr_diag *d);

/* Free the strings and lists of out_struct and zero every field of table (secrets wiped). */
void tsr_cfg_free(const struct tsr_cfg_key *table, size_t n, void *out_struct);

/*
 * Write the environment variable that overrides key into buf:
 * "TESSERA_" SECTION "_" NAME, upper case, '-' and '.' turned into '_'
 * (no section part for section "").  Returns 0 or TSR_ELIMIT.
 */
int tsr_cfg_env_name(const struct tsr_cfg_key *key, char *buf, size_t size);

/*
 * Print the effective configuration of a loaded struct as a file that
 * tsr_cfg_load would read back (except secrets, shown as "(set)"):
 * sections in table order, strings quoted, sizes and durations with
 * units, list items as repeated keys, unset strings as comments.
 * Returns 0 or TSR_EIO.
 */
int tsr_cfg_dump(const struct tsr_cfg_key *table, size_t n, const void *cfg, FILE *fp);

/*
 * Print every key for --help-config and the docs-sync test, in table
 * order.  Each key takes three lines; only the first starts in column 0:
 *   section.name  TYPE[ BOUNDS], default DEFAULT|no default[, reloadable][, secret]
 *       env VARIABLE
 *       HELP
 * TYPE is string, integer, boolean, size, duration, path, list or
 * one-of(a|b|c).  Returns 0 or TSR_EIO.
 */
int tsr_cfg_print_keys(const struct tsr_cfg_key *table, size_t n, FILE *fp);

/*
 * The first key without TSR_CFG_RELOADABLE whose value differs between two
 * loaded configurations a and b (borrowed, from the table), or NULL when
 * only reloadable keys differ.  A reload uses it to refuse changes that
 * need a restart instead of pretending to apply them.
 */
const struct tsr_cfg_key *tsr_cfg_restart_change(const struct tsr_cfg_key *table, size_t n,
                                                 const void *a, const void *b);

#endif /* TSR_LIB_CFG_H */
