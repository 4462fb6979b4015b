/*
 * connector/sd.h: the connector's Gaia-X self-descriptions and their
 * publication to federated catalogs (tessera-catalogd).
 *
 * The builder turns the participant settings and the store's offers into
 * W3C VC 2.0 credentials in the Gaia-X Loire vocabulary, each signed as a
 * VC-JWT with the participant key (lib/vc.h): one gx:LegalPerson for the
 * participant, and per offer one gx:ServiceOffering whose
 * gx:aggregationOfResources is a node typed gx:VirtualResource and
 * dcat:Dataset carrying the DCAT-AP fields of the offered asset.  All of
 * them travel together in one VP-JWT.
 *
 * The publisher POSTs that presentation to every configured catalog
 * (POST CATALOG/credentials) when tesserad starts, soon after each offer
 * change (tsr_sd_publisher_changed), and when a quarter of the validity
 * is left; it sends a signed withdrawal (POST CATALOG/withdrawals) for
 * each offer that disappeared.  Failures are retried with a growing delay.
 * It is not a catalog client for queries (connector/cli/cmd_catalog.c).
 */
#ifndef TSR_CONNECTOR_SD_H
#define TSR_CONNECTOR_SD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/err.h"

struct event_base;
struct tsr_client;
struct tsr_key;
struct tsr_store;
struct tsr_store_asset;
struct tsr_store_offer;
struct tsr_store_policy;
struct tsr_sd_publisher;

/* Registration number kinds ([participant] registration_type). */
#define TSR_SD_REG_TYPES {"vat_id", "lei_code", "eori", "tax_id", "local", "url", NULL}

/* What the credentials say about the participant.  Strings are borrowed. */
struct tsr_sd_conf {
    const char *did;          /* the issuer, and the LegalPerson's subject */
    const char *kid;          /* DID#key-1: the verification method that signs */
    const char *name;         /* schema:name of the participant */
    const char *public_url;   /* https://host:port: base of the credential ids */
    const char *dsp_url;      /* the DSP endpoint (gx:endpointURL) */
    const char *ns;           /* the gx namespace in @context (TSR_VC_GX_2511 when NULL) */
    const char *reg_type;     /* one of TSR_SD_REG_TYPES */
    const char *reg_number;   /* the number, or for "url" the URL of a notary's credential */
    const char *legal_country;/* ISO 3166-1 alpha-2 */
    const char *hq_country;   /* ISO 3166-1 alpha-2; NULL or "": legal_country */
    const char *terms_url;    /* NULL or "": the offer's DSP dataset URL */
    const char *terms_hash;   /* sha256 hex of terms_url; NULL or "": of the offer's policy */
    const char *license;      /* SPDX id or URL; NULL or "": the terms URL */
    int64_t validity_s;       /* validUntil - validFrom */
};

/*
 * The unsigned gx:LegalPerson credential at time now (seconds).  *out is
 * a new reference.  Returns 0, TSR_EINVAL (a missing or malformed
 * setting, named in d), TSR_ENOMEM.
 */
int tsr_sd_legal_person(const struct tsr_sd_conf *c, int64_t now, json_t **out,
                        struct tsr_diag *d);

/*
 * The unsigned gx:ServiceOffering credential of offer o, which offers
 * asset a under policy p (all borrowed), at time now.  *out is new.
 * Returns 0, TSR_EINVAL, TSR_ENOMEM.
 */
int tsr_sd_offering(const struct tsr_sd_conf *c, const struct tsr_store_offer *o,
                    const struct tsr_store_asset *a, const struct tsr_store_policy *p,
                    int64_t now, json_t **out, struct tsr_diag *d);

/* The subject id of an offer's ServiceOffering: PUBLIC_URL/offers/ID.  New string or NULL. */
char *tsr_sd_offer_subject(const struct tsr_sd_conf *c, const char *offer_id);

/* One signed credential of a set. */
struct tsr_sd_cred {
    char *offer_id;  /* NULL for the participant */
    char *subject;   /* credentialSubject.id */
    char *jwt;       /* the VC-JWT */
    json_t *payload; /* the credential as signed */
};

/* Every self-description of the connector at one moment. */
struct tsr_sd_set {
    struct tsr_sd_cred *creds; /* the LegalPerson first, then one per offer */
    size_t n;
    char *vp;                  /* a VP-JWT holding all of them */
    int64_t issued;            /* seconds */
    int64_t valid_until;
};

/*
 * Build and sign the whole set from the store's offers (their assets and
 * policies; offers whose asset or policy is gone are skipped) at time
 * now.  *out is new (tsr_sd_set_free).  Returns 0, TSR_EINVAL, TSR_ECRYPTO,
 * TSR_ELIMIT, TSR_EIO, TSR_ENOMEM.
 */
int tsr_sd_build(const struct tsr_sd_conf *c, const struct tsr_key *key, struct tsr_store *st,
                 int64_t now, struct tsr_sd_set **out, struct tsr_diag *d);

/* Free a set.  s may be NULL. */
void tsr_sd_set_free(struct tsr_sd_set *s);

/* ------------------------------------------------------------ publisher */

/*
 * A publisher on base, sending through client (borrowed; both outlive
 * it), with c's strings, key and catalogs (NULL-terminated base URLs;
 * may be NULL or empty: then it only builds) copied.  st is borrowed.  It
 * publishes at once (on the next loop turn).  state_file (may be NULL)
 * remembers which offers were published, so that an offer removed while
 * tesserad was down is withdrawn at the next start.  *out is new.
 * Returns 0, TSR_EINVAL, TSR_ENOMEM.
 */
int tsr_sd_publisher_new(struct event_base *base, struct tsr_client *client,
                         const struct tsr_sd_conf *c, const struct tsr_key *key,
                         struct tsr_store *st, const char *const *catalogs,
                         const char *state_file, struct tsr_sd_publisher **out,
                         struct tsr_diag *d);

/*
 * The offers changed: rebuild and publish (and withdraw what went)
 * shortly.  Without configured catalogs it only forgets the current set,
 * which the next tsr_sd_publisher_show builds again.
 */
void tsr_sd_publisher_changed(struct tsr_sd_publisher *p);

/*
 * Publish now to catalog (NULL: every configured one; another URL is
 * published to once).  Returns 0 (started; outcomes in tsr_sd_publisher_show),
 * TSR_EINVAL (not an http(s) URL), TSR_ENOMEM or a build error.
 */
int tsr_sd_publisher_publish(struct tsr_sd_publisher *p, const char *catalog,
                             struct tsr_diag *d);

/*
 * The current set and the publication status as JSON, for GET
 * /api/v1/sd: {"presentation": VP-JWT, "valid_until", "credentials":
 * [{"offer_id", "subject", "jwt", "credential"}], "catalogs": [{"url",
 * "state": "pending"|"published"|"failed", "error", "published_at"}]}.
 * *out is new.  Returns 0, or a build error.
 */
int tsr_sd_publisher_show(struct tsr_sd_publisher *p, json_t **out, struct tsr_diag *d);

struct tsr_conf;

/*
 * tsr_sd_publisher_new with the settings of a loaded tessera.conf
 * (borrowed): [participant] and [catalog] keys, the DSP endpoint under
 * public_url, the state file STATE_DIR/sd-published.json.  Returns as
 * tsr_sd_publisher_new.
 */
int tsr_sd_publisher_from_conf(struct event_base *base, struct tsr_client *client,
                               const struct tsr_conf *conf, const char *public_url,
                               const struct tsr_key *key, struct tsr_store *st,
                               struct tsr_sd_publisher **out, struct tsr_diag *d);

/* Stop (requests in flight are cancelled) and free.  p may be NULL. */
void tsr_sd_publisher_free(struct tsr_sd_publisher *p);

#endif /* TSR_CONNECTOR_SD_H */
