/*
 * contracts/ledger.h: the consumer's usage ledger: an append-only,
 * hash-chained, signed record of every use, refusal and duty.
 *
 * FORMAT (documented for users in tessera(1), USAGE LEDGER).  The folder
 * holds two files:
 *   ledger.log   one line per entry: a compact JWS (ES256 with the
 *                participant key, header {"alg","kid","typ":"tessera-ledger"})
 *                whose payload is the JSON object
 *                {"kind":"entry","seq":N,"ts":RFC3339,"agreement":A,
 *                 "object":O|null,"event":E,"decision":TEXT,"prev":H,
 *                 "aseq":K,"aprev":AH}
 *                seq counts 1, 2, 3... over the whole ledger; prev is the
 *                hex SHA-256 of the previous line (without its newline; 64
 *                zeros for the first); aseq and aprev do the same among the
 *                entries of agreement A only, so that one agreement's
 *                entries form a chain of their own (the provider's extract).
 *   ledger.head  a JWS with payload {"kind":"head","seq":N,"hash":H,"ts":T}
 *                naming the last entry, rewritten (atomically) after each
 *                append.
 * Editing any byte of an entry breaks its signature or the next entry's
 * prev (or, for the last entry, the head's hash); removing or reordering
 * entries breaks seq and prev; truncating the end leaves the head naming
 * an entry that is not there.
 *
 * An extract for one agreement is a JSON object
 *   {"agreement":A,"entries":[JWS...],"head":JWS}
 * with the agreement's entries in order and a head whose payload is
 * {"kind":"extract","agreement":A,"aseq":K,"hash":H,"ts":T,"aud":DID}.
 * Whoever holds the consumer's public key (its did:web document) can
 * check it with tsr_ledger_extract_verify.
 *
 * This file does file I/O and signatures only; one thread.  Errors: 0 or
 * TSR_EINVAL (bad argument), TSR_EIO, TSR_ELIMIT (an entry or extract too
 * large), TSR_ECRYPTO (the ledger does not verify; d names the entry),
 * TSR_ENOMEM.
 */
#ifndef TSR_CONTRACTS_LEDGER_H
#define TSR_CONTRACTS_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/err.h"

struct tsr_key;
struct tsr_ledger;

/* The longest line (one signed entry) accepted. */
#define TSR_LEDGER_LINE_MAX (16 * 1024)
/* Decision texts longer than this are cut before they are signed. */
#define TSR_LEDGER_DECISION_MAX 2000
/* The most entries one extract carries. */
#define TSR_LEDGER_EXTRACT_MAX 10000

/* Event names the connector records. */
#define TSR_LEDGER_EV_RECEIVE "receive"     /* data arrived and was stored */
#define TSR_LEDGER_EV_USE "use"             /* a permitted use */
#define TSR_LEDGER_EV_REFUSE "refuse"       /* a refused use */
#define TSR_LEDGER_EV_REMOVE "remove"       /* the operator removed an object */
#define TSR_LEDGER_EV_DUTY_DELETE "duty:delete"
#define TSR_LEDGER_EV_DUTY_INFORM "duty:inform"
#define TSR_LEDGER_EV_DUTY_LOG "duty:log"
#define TSR_LEDGER_EV_DUTY_FAILED "duty:failed"

/* What one append records.  Strings are borrowed. */
struct tsr_ledger_event {
    int64_t ts_ms;            /* 0: now */
    const char *agreement_id; /* required */
    const char *object_id;    /* NULL: none */
    const char *event;        /* required, e.g. TSR_LEDGER_EV_USE */
    const char *decision;     /* a summary of the decision or what was done; NULL: "" */
};

/* What tsr_ledger_verify found. */
struct tsr_ledger_report {
    uint64_t entries;  /* entries that verified */
    uint64_t bad_line; /* the first line that failed (1-based), 0 when none did */
    char head[65];     /* hex hash of the last entry ("" when empty) */
};

/*
 * Open the ledger in dir (created 0700 when missing) for appending,
 * signing with key (borrowed, must outlive the ledger; needs its private
 * half) under kid (copied, e.g. "did:web:...#key-1").  The whole ledger
 * is verified first; an entry written but not yet named by the head (a
 * crash between the two writes) is adopted, and a partial last line is
 * cut.  *out is new (tsr_ledger_close).  Returns 0, TSR_ECRYPTO (the
 * ledger does not verify: it is not opened), TSR_EIO, TSR_ENOMEM.
 */
int tsr_ledger_open(const char *dir, const struct tsr_key *key, const char *kid,
                    struct tsr_ledger **out, struct tsr_diag *d);

/* Close l.  l may be NULL. */
void tsr_ledger_close(struct tsr_ledger *l);

/* The folder of l (borrowed). */
const char *tsr_ledger_dir(const struct tsr_ledger *l);

/*
 * Append one entry and move the head, both flushed to disk before this
 * returns.  *seq_out (may be NULL) gets its sequence number.  Returns 0,
 * TSR_EINVAL (no agreement or event), TSR_ELIMIT, TSR_ECRYPTO, TSR_EIO,
 * TSR_ENOMEM.
 */
int tsr_ledger_append(struct tsr_ledger *l, const struct tsr_ledger_event *e, uint64_t *seq_out,
                      struct tsr_diag *d);

/*
 * Verify the ledger in dir with key (its public half is enough): every
 * signature, seq, prev, aseq, aprev and the head.  rep (may be NULL) is
 * filled in either case.  Returns 0 (valid; an empty ledger is valid),
 * TSR_ECRYPTO (the first bad line, or the head, in d and rep), TSR_EIO,
 * TSR_ENOMEM.
 */
int tsr_ledger_verify(const char *dir, const struct tsr_key *key, struct tsr_ledger_report *rep,
                      struct tsr_diag *d);

/*
 * The decoded entries (payload objects plus "hash"), oldest first: those
 * of agreement_id only when not NULL, skipping offset of them, at most
 * limit (0: 1000).  Signatures are not checked here (use verify).
 * *out is a new JSON array.  Returns 0, TSR_EIO, TSR_ENOMEM.
 */
int tsr_ledger_list(const char *dir, const char *agreement_id, size_t offset, size_t limit,
                    json_t **out, struct tsr_diag *d);

/*
 * A signed extract of agreement_id's entries for audience (the
 * provider's DID, copied into the head).  *out is a new JSON object.
 * Returns 0, TSR_ELIMIT (more than TSR_LEDGER_EXTRACT_MAX entries),
 * TSR_ECRYPTO, TSR_EIO, TSR_ENOMEM.
 */
int tsr_ledger_extract(struct tsr_ledger *l, const char *agreement_id, const char *audience,
                       json_t **out, struct tsr_diag *d);

/*
 * Check an extract (borrowed, untrusted) for agreement_id with the
 * consumer's public key: every entry signed and of that agreement, aseq
 * 1..n, the aprev chain, and a head naming the last entry.  *entries
 * (may be NULL) gets a new array of the decoded entries.  Returns 0,
 * TSR_EINVAL (malformed), TSR_ECRYPTO (does not verify; d says where),
 * TSR_ELIMIT, TSR_ENOMEM.
 */
int tsr_ledger_extract_verify(const json_t *ext, const struct tsr_key *pub,
                              const char *agreement_id, json_t **entries, struct tsr_diag *d);

#endif /* TSR_CONTRACTS_LEDGER_H */
