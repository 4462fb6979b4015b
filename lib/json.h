/*
 * lib/json.h: bounded JSON parsing and typed member access on top of
 * jansson.
 *
 * Every JSON document tessera reads (DSP messages, policies, credentials,
 * management API bodies, state files) comes through tsr_json_parse or
 * tsr_json_read_file, which enforce size, depth, member-count and string
 * length limits on the raw bytes BEFORE jansson builds anything, so a
 * hostile "[[[[..." or a million-member object costs a linear scan and
 * nothing more.  Duplicate object keys are refused (a policy or token with
 * two "target" members is ambiguous).
 *
 * The getters turn "is it there and of the right type" into one call with
 * a message that names the member, for problem+json details.  This file
 * is not for JSON-LD processing: DSP messages are handled as plain JSON
 * with known compacted terms.
 */
#ifndef TSR_LIB_JSON_H
#define TSR_LIB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/err.h"

/* Limits applied to one document.  Zero in a field means "use the default". */
struct tsr_json_limits {
    size_t max_bytes;   /* size of the whole document */
    size_t max_depth;   /* nesting of arrays and objects; "[]" is depth 1 */
    size_t max_members; /* elements of one array, or members of one object */
    size_t max_string;  /* bytes of one string or key as written, escapes included */
};

#define TSR_JSON_DEFAULT_MAX_BYTES ((size_t)1 << 20)
#define TSR_JSON_DEFAULT_MAX_DEPTH 32
#define TSR_JSON_DEFAULT_MAX_MEMBERS 10000
#define TSR_JSON_DEFAULT_MAX_STRING ((size_t)64 << 10)

/*
 * Nesting is never allowed past this, whatever max_depth says (jansson's
 * own parser stops at 2048 too).
 */
#define TSR_JSON_MAX_DEPTH_CAP 2048

/*
 * The default limits (1 MiB, depth 32, 10000 members, 64 KiB strings) as a
 * compound literal: "struct tsr_json_limits l = TSR_JSON_LIMITS_DEFAULT;"
 * or "&TSR_JSON_LIMITS_DEFAULT" both work.
 */
#define TSR_JSON_LIMITS_DEFAULT                                                                   \
    ((struct tsr_json_limits){TSR_JSON_DEFAULT_MAX_BYTES, TSR_JSON_DEFAULT_MAX_DEPTH,             \
                              TSR_JSON_DEFAULT_MAX_MEMBERS, TSR_JSON_DEFAULT_MAX_STRING})

/*
 * Parse len bytes at buf as one JSON value (any type at the top level;
 * no trailing data; no NUL characters; duplicate keys refused) within lim
 * (NULL: the defaults).  On success *out is a new reference (json_decref
 * it).  Returns 0; TSR_ELIMIT when a limit is passed; TSR_EINVAL for a
 * syntax error, with "line L, column C: reason" in d; TSR_ENOMEM.
 * *out is NULL on failure.
 */
int tsr_json_parse(const char *buf, size_t len, const struct tsr_json_limits *lim, json_t **out,
                   struct tsr_diag *d);

/*
 * Typed getters.  key is either a member name of obj, or, when it starts
 * with '/', an RFC 6901 JSON Pointer from obj ("/dataAddress/endpoint",
 * "/items/0/id"); member names never start with '/' in the formats we
 * handle.  A JSON null counts as absent.
 *
 * When the member is present with the right type, *out gets its value
 * and 0 is returned.  When it is absent: if required, TSR_EINVAL with
 * "missing required member KEY"; otherwise 0 with *out left untouched, so
 * the caller can preset a default.  When it has another type: TSR_EINVAL
 * with "member KEY: expected a string, got an integer".  obj that is not
 * an object (or an array, for pointers) is treated as having no members.
 *
 * Strings, objects and arrays are borrowed from obj: valid while obj is.
 */
int tsr_json_get_str(const json_t *obj, const char *key, bool required, const char **out,
                     struct tsr_diag *d);
/* Integers only: 1.0 or "1" is a type error. */
int tsr_json_get_int(const json_t *obj, const char *key, bool required, int64_t *out,
                     struct tsr_diag *d);
/* As tsr_json_get_int, and TSR_ERANGE "member KEY: N is outside MIN..MAX". */
int tsr_json_get_int_range(const json_t *obj, const char *key, bool required, int64_t min,
                           int64_t max, int64_t *out, struct tsr_diag *d);
int tsr_json_get_bool(const json_t *obj, const char *key, bool required, bool *out,
                      struct tsr_diag *d);
int tsr_json_get_obj(const json_t *obj, const char *key, bool required, json_t **out,
                     struct tsr_diag *d);
int tsr_json_get_array(const json_t *obj, const char *key, bool required, json_t **out,
                       struct tsr_diag *d);

/*
 * Serialise j with jansson flags; compact (JSON_COMPACT) unless flags has
 * a JSON_INDENT.  Any value may be serialised (JSON_ENCODE_ANY is added).
 * The text may not exceed max bytes.  On success *out is a new
 * NUL-terminated string (tsr_free it) and *len (optional) its length.
 * Returns 0, TSR_ELIMIT, TSR_ENOMEM or TSR_EINVAL (jansson refused j, for
 * instance a NaN real).
 */
int tsr_json_dumps(const json_t *j, size_t flags, size_t max, char **out, size_t *len);

/*
 * Write j (indented by 2, with a final newline) to path atomically: into a
 * new temporary file in the same directory (mode 0600), fsync'ed, then
 * renamed over path, so readers see either the old or the complete new
 * file, never a partial one.  The text is limited to
 * TSR_JSON_DEFAULT_MAX_BYTES * 64.  Returns 0, TSR_EIO (with the system
 * error in d), TSR_ELIMIT or TSR_ENOMEM; on failure no temporary is left.
 */
int tsr_json_write_file(const char *path, const json_t *j, struct tsr_diag *d);

/*
 * Read and parse the regular file at path under lim (NULL: defaults),
 * refusing files larger than lim->max_bytes before reading them.  As
 * tsr_json_parse, plus TSR_ENOTFOUND when the file does not exist and
 * TSR_EIO; messages in d start with the path.
 */
int tsr_json_read_file(const char *path, const struct tsr_json_limits *lim, json_t **out,
                       struct tsr_diag *d);

#endif /* TSR_LIB_JSON_H */
