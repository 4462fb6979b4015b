/*
 * connector/identity.c: self-issued DSP caller tokens, issued and verified
 * (see connector/identity.h).
 *
 * A verification runs in two halves.  The first, inside
 * tsr_identity_verify, reads the token without trusting it (the header
 * through tsr_jws_peek_header, the claims by decoding the middle part) to
 * refuse everything that needs no key: shape, size, iss/sub, the DID's
 * form, kid, audience, deny and allow lists.  The second runs when the
 * caller's DID document arrives: key lookup, signature and time checks by
 * tsr_jwt_verify, then the replay check, which must come last so that a
 * forged token cannot burn a genuine caller's jti.
 */
#include "lib/tsr.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "connector/identity.h"
#include "lib/b64.h"
#include "lib/buf.h"
#include "lib/crypto.h"
#include "lib/did.h"
#include "lib/jose.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "lib/uuid.h"
#include "transports/did_resolve.h"

#define WEB_PREFIX "did:web:"
#define BEARER "Bearer"
#define REPLAY_SALT_LEN 16
#define REPLAY_MIN_BUCKETS 64

/* ---------------------------------------------------------------- replay cache */

struct replay_entry {
    struct replay_entry *hnext;
    struct replay_entry *prev, *next; /* insertion order, oldest first */
    int64_t until_ms;
    uint64_t hash;
    size_t keylen;
    char key[]; /* iss "\n" jti: a DID has no newline, so the pair is unambiguous */
};

/*
 * A bounded set of (iss, jti) pairs, each kept until its token would be
 * refused as expired anyway.  Tokens arrive roughly in expiry order, so
 * dropping expired entries from the old end keeps it small in the common
 * case; when it is full a full sweep runs, but only once the earliest
 * known expiry has passed, so a full cache cannot turn every request into
 * a scan.
 */
struct replay_cache {
    struct replay_entry **buckets;
    size_t nbuckets; /* a power of two */
    struct replay_entry *head, *tail;
    size_t n, max;
    int64_t min_until_ms; /* a lower bound on every entry's until_ms */
    unsigned char salt[REPLAY_SALT_LEN];
};

/*
 * Keys parsed from callers' DID documents, by the JWK's text: turning a
 * JWK into a checked key costs more than verifying the signature, and the
 * same few callers send every token.  A rotated key has other text, so it
 * can never be confused with the old one.
 */
#define KEY_CACHE_SIZE 256

struct key_entry {
    uint64_t hash;
    char *jwk;            /* compact JSON with sorted keys; NULL: empty slot */
    struct tsr_key *key;
};

struct tsr_identity {
    enum tsr_identity_mode mode;
    struct key_entry keys[KEY_CACHE_SIZE];
    size_t key_next;      /* the slot replaced next (round robin) */
    char *did;
    char *kid; /* did "#key-1" */
    const struct tsr_key *key;
    struct tsr_did_resolver *resolver;
    int64_t lifetime_s;
    int64_t skew_s;
    char **allow; /* sorted, for bsearch */
    size_t nallow;
    char **deny; /* sorted */
    size_t ndeny;
    tsr_identity_seen_fn seen;
    void *seen_arg;
    tsr_identity_clock_fn clock;
    void *clock_arg;
    struct replay_cache replay;
    struct tsr_identity_check *checks; /* in flight */
    size_t nchecks;
};

struct tsr_identity_check {
    struct tsr_identity_check *prev, *next;
    struct tsr_identity *id;
    struct tsr_did_lookup *lookup;
    tsr_identity_done_fn cb;
    void *arg;
    char *token; /* a credential: wiped on free */
    char *iss;
    char *kid;
};

static int64_t now_ms(const struct tsr_identity *id)
{
    return id->clock != NULL ? id->clock(id->clock_arg) : tsr_time_now_ms();
}

static int replay_hash(const struct replay_cache *rc, const char *key, size_t keylen,
                       uint64_t *out)
{
    unsigned char buf[REPLAY_SALT_LEN + TSR_DID_MAX_LEN + 1 + TSR_IDENTITY_MAX_JTI];
    unsigned char md[TSR_SHA256_LEN];

    /*
     * Keyed with a random salt: the jti values come from peers, and a
     * chosen set of colliding keys must not turn the table into a list.
     */
    if (keylen > sizeof(buf) - REPLAY_SALT_LEN)
        return TSR_ELIMIT;
    memcpy(buf, rc->salt, REPLAY_SALT_LEN);
    memcpy(buf + REPLAY_SALT_LEN, key, keylen);
    if (tsr_sha256(buf, REPLAY_SALT_LEN + keylen, md) != 0)
        return TSR_ECRYPTO;
    memcpy(out, md, sizeof(*out));
    return 0;
}

static void replay_unlink(struct replay_cache *rc, struct replay_entry *e)
{
    struct replay_entry **pp = &rc->buckets[e->hash & (rc->nbuckets - 1)];

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        rc->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        rc->tail = e->prev;
    rc->n--;
    tsr_free(e);
}

static void replay_sweep(struct replay_cache *rc, int64_t now)
{
    struct replay_entry *e = rc->head, *next;
    int64_t min = INT64_MAX;

    for (; e != NULL; e = next) {
        next = e->next;
        if (e->until_ms <= now)
            replay_unlink(rc, e);
        else if (e->until_ms < min)
            min = e->until_ms;
    }
    rc->min_until_ms = min;
}

/* Double the table while it is more than full, up to what max needs. */
static void replay_grow(struct replay_cache *rc)
{
    struct replay_entry **nb;
    size_t nn;

    if (rc->n < rc->nbuckets || rc->nbuckets >= rc->max)
        return;
    nn = rc->nbuckets * 2;
    nb = tsr_calloc(nn, sizeof(*nb));
    if (nb == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < rc->nbuckets; i++) {
        struct replay_entry *e = rc->buckets[i], *next;
        for (; e != NULL; e = next) {
            next = e->hnext;
            e->hnext = nb[e->hash & (nn - 1)];
            nb[e->hash & (nn - 1)] = e;
        }
    }
    tsr_free(rc->buckets);
    rc->buckets = nb;
    rc->nbuckets = nn;
}

static int replay_init(struct replay_cache *rc, size_t max)
{
    memset(rc, 0, sizeof(*rc));
    rc->max = max;
    rc->min_until_ms = INT64_MAX;
    rc->nbuckets = REPLAY_MIN_BUCKETS;
    rc->buckets = tsr_calloc(rc->nbuckets, sizeof(*rc->buckets));
    if (rc->buckets == NULL)
        return TSR_ENOMEM;
    return tsr_random_bytes(rc->salt, sizeof(rc->salt));
}

static void replay_cleanup(struct replay_cache *rc)
{
    struct replay_entry *e = rc->head, *next;

    for (; e != NULL; e = next) {
        next = e->next;
        tsr_free(e);
    }
    tsr_free(rc->buckets);
    memset(rc, 0, sizeof(*rc));
}

/* As tsr_identity_seen_fn, with the time and a diagnostic. */
static int replay_add(struct replay_cache *rc, const char *iss, const char *jti,
                      int64_t until_ms, int64_t now, struct tsr_diag *d)
{
    char key[TSR_DID_MAX_LEN + 1 + TSR_IDENTITY_MAX_JTI + 1];
    size_t isslen = strlen(iss), jtilen = strlen(jti);
    size_t keylen = isslen + 1 + jtilen;
    struct replay_entry *e;
    uint64_t hash;
    int err;

    if (rc->buckets == NULL)
        return tsr_diag_set(d, TSR_EINTERNAL, "no replay cache");
    if (keylen >= sizeof(key))
        return tsr_diag_set(d, TSR_ELIMIT, "token issuer and id too long for the replay cache");
    memcpy(key, iss, isslen);
    key[isslen] = '\n';
    memcpy(key + isslen + 1, jti, jtilen);
    key[keylen] = '\0';
    err = replay_hash(rc, key, keylen, &hash);
    if (err != 0)
        return tsr_diag_set(d, err, "replay cache: cannot hash a token id");

    while (rc->head != NULL && rc->head->until_ms <= now)
        replay_unlink(rc, rc->head);
    for (e = rc->buckets[hash & (rc->nbuckets - 1)]; e != NULL; e = e->hnext) {
        if (e->hash == hash && e->keylen == keylen && memcmp(e->key, key, keylen) == 0)
            break;
    }
    if (e != NULL && e->until_ms > now)
        return TSR_EEXIST;
    if (e != NULL)
        replay_unlink(rc, e); /* expired but not yet swept: the pair is new again */
    if (rc->n >= rc->max && now >= rc->min_until_ms)
        replay_sweep(rc, now);
    if (rc->n >= rc->max)
        return tsr_diag_set(d, TSR_EUNAVAIL,
                            "replay cache full (%zu tokens still valid); try again later", rc->n);
    e = tsr_malloc(sizeof(*e) + keylen + 1);
    if (e == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory in the replay cache");
    memcpy(e->key, key, keylen + 1);
    e->keylen = keylen;
    e->hash = hash;
    e->until_ms = until_ms;
    e->hnext = rc->buckets[hash & (rc->nbuckets - 1)];
    rc->buckets[hash & (rc->nbuckets - 1)] = e;
    e->next = NULL;
    e->prev = rc->tail;
    if (rc->tail != NULL)
        rc->tail->next = e;
    else
        rc->head = e;
    rc->tail = e;
    rc->n++;
    if (until_ms < rc->min_until_ms)
        rc->min_until_ms = until_ms;
    replay_grow(rc);
    return 0;
}

/* ---------------------------------------------------------------- DIDs and lists */

static bool is_upper_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static bool is_idchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_';
}

/*
 * True when a did:web DID that tsr_did_web_to_url accepted is in its one
 * canonical spelling: lower-case host, "%3A" before a port other than
 * 443, and %-escapes in the path only for bytes that need one, in upper
 * case.  Every other spelling names the same document, so accepting them
 * would let a denied DID through under another name.
 */
static bool did_canonical(const char *did)
{
    const char *p = did + strlen(WEB_PREFIX);
    const char *colon = strchr(p, ':');
    size_t hlen = colon != NULL ? (size_t)(colon - p) : strlen(p);

    for (size_t i = 0; i < hlen; i++) {
        if (p[i] >= 'A' && p[i] <= 'Z')
            return false;
        if (p[i] == '%') {
            /* The only escape a host part may hold is the port marker. */
            if (i + 2 >= hlen || p[i + 1] != '3' || p[i + 2] != 'A')
                return false;
            if (hlen - (i + 3) == 3 && memcmp(p + i + 3, "443", 3) == 0)
                return false;
            break;
        }
    }
    if (colon == NULL)
        return true;
    for (p = colon; *p != '\0'; p++) {
        if (*p != '%')
            continue;
        if (!is_upper_hex((unsigned char)p[1]) || !is_upper_hex((unsigned char)p[2]))
            return false;
        int hi = p[1] <= '9' ? p[1] - '0' : p[1] - 'A' + 10;
        int lo = p[2] <= '9' ? p[2] - '0' : p[2] - 'A' + 10;
        if (is_idchar(hi * 16 + lo))
            return false;
        p += 2;
    }
    return true;
}

/* 0 when did is a well-formed, canonical did:web DID; else TSR_EINVAL/TSR_ELIMIT in d. */
static int check_web_did(const char *did, struct tsr_diag *d)
{
    char *url = NULL;
    int rc = tsr_did_web_to_url(did, &url, d);

    tsr_free(url);
    if (rc != 0)
        return rc;
    if (!did_canonical(did))
        return tsr_diag_set(d, TSR_EINVAL,
                            "%s is not in canonical form (lower-case host, \"%%3A\" before a "
                            "port other than 443, no needless %%-escapes)",
                            did);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool list_has(char *const *list, size_t n, const char *did)
{
    return n > 0 && bsearch(&did, list, n, sizeof(*list), cmp_str) != NULL;
}

static void list_free(char **list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        tsr_free(list[i]);
    tsr_free(list);
}

static int list_copy(const char *what, const char *const *src, char ***out, size_t *nout,
                     struct tsr_diag *d)
{
    char **list = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    *nout = 0;
    while (src != NULL && src[n] != NULL) {
        if (n >= TSR_IDENTITY_MAX_LIST)
            return tsr_diag_set(d, TSR_ELIMIT, "%s list longer than %d DIDs", what,
                                TSR_IDENTITY_MAX_LIST);
        n++;
    }
    if (n == 0)
        return 0;
    list = tsr_calloc(n, sizeof(*list));
    if (list == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory copying the %s list", what);
    for (size_t i = 0; i < n; i++) {
        rc = check_web_did(src[i], d);
        if (rc != 0) {
            tsr_diag_prefix(d, "%s list entry %zu", what, i + 1);
            goto fail;
        }
        list[i] = tsr_strdup(src[i]);
        if (list[i] == NULL) {
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory copying the %s list", what);
            goto fail;
        }
    }
    qsort(list, n, sizeof(*list), cmp_str);
    *out = list;
    *nout = n;
    return 0;
fail:
    list_free(list, n);
    return rc;
}

/* ---------------------------------------------------------------- lifecycle */

int tsr_identity_new(struct tsr_identity **out, const char *did, const struct tsr_key *key,
                     struct tsr_did_resolver *resolver, const struct tsr_identity_opts *opts,
                     struct tsr_diag *d)
{
    static const struct tsr_identity_opts defaults;
    struct tsr_identity *id = NULL;
    size_t kidlen;
    int rc;

    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    if (opts->mode != TSR_IDENTITY_SELF_ISSUED)
        return tsr_diag_set(d, TSR_EINVAL, "unknown identity mode %d", (int)opts->mode);
    if (opts->lifetime_s < 0 || opts->lifetime_s > TSR_IDENTITY_MAX_LIFETIME_S)
        return tsr_diag_set(d, TSR_EINVAL, "token lifetime must be 1..%d s",
                            TSR_IDENTITY_MAX_LIFETIME_S);
    if (opts->max_skew_s < 0 || opts->max_skew_s > TSR_IDENTITY_MAX_SKEW_S)
        return tsr_diag_set(d, TSR_EINVAL, "clock skew must be 0..%d s", TSR_IDENTITY_MAX_SKEW_S);
    if (key != NULL && !tsr_key_has_private(key))
        return tsr_diag_set(d, TSR_EINVAL, "participant key has no private half, cannot sign");
    rc = check_web_did(did, d);
    if (rc != 0) {
        tsr_diag_prefix(d, "participant DID");
        return rc;
    }

    id = tsr_calloc(1, sizeof(*id));
    if (id == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    id->mode = opts->mode;
    id->key = key;
    id->resolver = resolver;
    id->lifetime_s = opts->lifetime_s > 0 ? opts->lifetime_s : TSR_IDENTITY_DEFAULT_LIFETIME_S;
    id->skew_s = opts->max_skew_s > 0 ? opts->max_skew_s : TSR_IDENTITY_DEFAULT_SKEW_S;
    id->seen = opts->seen;
    id->seen_arg = opts->seen_arg;
    id->clock = opts->clock;
    id->clock_arg = opts->clock_arg;
    id->did = tsr_strdup(did);
    if (id->did == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    kidlen = strlen(did) + 1 + strlen(TSR_DID_KEY_FRAGMENT) + 1;
    id->kid = tsr_malloc(kidlen);
    if (id->kid == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    if (snprintf(id->kid, kidlen, "%s#%s", did, TSR_DID_KEY_FRAGMENT) != (int)kidlen - 1) {
        rc = tsr_diag_set(d, TSR_EINTERNAL, "cannot build the key id");
        goto out;
    }
    rc = list_copy("allow", opts->allow, &id->allow, &id->nallow, d);
    if (rc == 0)
        rc = list_copy("deny", opts->deny, &id->deny, &id->ndeny, d);
    if (rc != 0)
        goto out;
    if (id->seen == NULL) {
        rc = replay_init(&id->replay,
                         opts->replay_max > 0 ? opts->replay_max : TSR_IDENTITY_DEFAULT_REPLAY_MAX);
        if (rc != 0) {
            rc = tsr_diag_set(d, rc, "cannot set up the replay cache");
            goto out;
        }
    }
    *out = id;
    id = NULL;
    rc = 0;
out:
    tsr_identity_free(id);
    return rc;
}

static void check_unlink(struct tsr_identity_check *c)
{
    struct tsr_identity *id = c->id;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        id->checks = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    id->nchecks--;
}

static void check_free(struct tsr_identity_check *c)
{
    if (c == NULL)
        return;
    tsr_free_secret(c->token);
    tsr_free(c->iss);
    tsr_free(c->kid);
    tsr_free(c);
}

void tsr_identity_free(struct tsr_identity *id)
{
    if (id == NULL)
        return;
    while (id->checks != NULL) {
        struct tsr_identity_check *c = id->checks;
        check_unlink(c);
        tsr_did_resolve_cancel(c->lookup);
        check_free(c);
    }
    replay_cleanup(&id->replay);
    for (size_t i = 0; i < KEY_CACHE_SIZE; i++) {
        tsr_free(id->keys[i].jwk);
        tsr_key_free(id->keys[i].key);
    }
    list_free(id->allow, id->nallow);
    list_free(id->deny, id->ndeny);
    tsr_free(id->kid);
    tsr_free(id->did);
    tsr_free(id);
}

const char *tsr_identity_did(const struct tsr_identity *id)
{
    return id->did;
}

size_t tsr_identity_pending(const struct tsr_identity *id)
{
    return id == NULL ? 0 : id->nchecks;
}

/* ---------------------------------------------------------------- issuing */

int tsr_identity_token(struct tsr_identity *id, const char *audience_did,
                       char **out_header_value, struct tsr_diag *d)
{
    char jti[TSR_UUID_URN_SIZE];
    json_t *claims = NULL;
    char *jwt = NULL;
    struct tsr_buf b;
    size_t alen;
    int64_t now;
    int rc;

    *out_header_value = NULL;
    if (id->key == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "no participant key: this identity cannot sign");
    alen = audience_did != NULL ? strnlen(audience_did, TSR_DID_MAX_LEN + 1) : 0;
    /* Any DID method: the audience is whatever the callee calls itself. */
    if (alen < 7 || alen > TSR_DID_MAX_LEN || strncmp(audience_did, "did:", 4) != 0 ||
        !tsr_str_is_printable(audience_did, alen))
        return tsr_diag_set(d, TSR_EINVAL, "token audience is not a DID");
    rc = tsr_uuid_v4_urn(jti);
    if (rc != 0)
        return tsr_diag_set(d, rc, "cannot generate a token id");
    tsr_buf_init(&b, TSR_IDENTITY_MAX_TOKEN + sizeof(BEARER));
    now = now_ms(id) / 1000;
    claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "iss", id->did, "sub", id->did,
                       "aud", audience_did, "iat", (json_int_t)now, "nbf", (json_int_t)now,
                       "exp", (json_int_t)(now + id->lifetime_s), "jti", jti);
    if (claims == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "cannot build token claims");
        goto out;
    }
    rc = tsr_jwt_sign(id->key, id->kid, "JWT", claims, &jwt, d);
    if (rc != 0)
        goto out;
    rc = tsr_buf_addf(&b, BEARER " %s", jwt);
    if (rc != 0) {
        rc = tsr_diag_set(d, rc, "token too long");
        goto out;
    }
    *out_header_value = tsr_buf_steal(&b, NULL);
    if (*out_header_value == NULL)
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
out:
    tsr_buf_cleanup_secret(&b);
    tsr_free_secret(jwt);
    json_decref(claims);
    return rc;
}

/* ---------------------------------------------------------------- verifying */

/* Everything refused before a key is needed ends up as this code. */
static int auth_fail(struct tsr_diag *d, int rc, const char *what)
{
    if (rc == TSR_ENOMEM)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory checking the token");
    if (d != NULL) {
        d->code = TSR_EAUTH;
        tsr_diag_prefix(d, "%s", what);
    }
    return TSR_EAUTH;
}

/* The token after "Bearer ", or TSR_EAUTH. */
static int bearer_token(const char *v, const char **token, struct tsr_diag *d)
{
    size_t len;

    *token = NULL;
    if (v == NULL || *v == '\0')
        return tsr_diag_set(d, TSR_EAUTH, "no Authorization header: a Bearer token is required");
    /* The scheme is case-insensitive (RFC 9110 11.1); one or more spaces follow. */
    if (strncasecmp(v, BEARER, strlen(BEARER)) != 0 || v[strlen(BEARER)] != ' ')
        return tsr_diag_set(d, TSR_EAUTH, "Authorization is not a Bearer token");
    v += strlen(BEARER);
    while (*v == ' ')
        v++;
    len = strnlen(v, TSR_IDENTITY_MAX_TOKEN + 1);
    if (len == 0)
        return tsr_diag_set(d, TSR_EAUTH, "empty Bearer token");
    if (len > TSR_IDENTITY_MAX_TOKEN)
        return tsr_diag_set(d, TSR_EAUTH, "Bearer token longer than %d bytes",
                            TSR_IDENTITY_MAX_TOKEN);
    *token = v;
    return 0;
}

/*
 * The claims of a compact JWS, decoded but NOT verified: for the checks
 * that decide whether it is worth fetching a key at all.
 */
static int peek_claims(const char *token, json_t **out, struct tsr_diag *d)
{
    static const struct tsr_json_limits lim = {TSR_IDENTITY_MAX_TOKEN, 16, 256,
                                               TSR_IDENTITY_MAX_TOKEN};
    const char *p1 = strchr(token, '.');
    const char *p2 = p1 != NULL ? strchr(p1 + 1, '.') : NULL;
    unsigned char *text = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (p2 == NULL)
        return tsr_diag_set(d, TSR_EAUTH, "malformed token: not a compact JWS");
    rc = tsr_b64url_decode_alloc(p1 + 1, (size_t)(p2 - p1 - 1), TSR_IDENTITY_MAX_TOKEN, &text,
                                 &len);
    if (rc != 0) {
        if (rc == TSR_ENOMEM)
            return tsr_diag_set(d, rc, "out of memory decoding the token");
        return tsr_diag_set(d, TSR_EAUTH, "malformed token: claims are not base64url");
    }
    rc = tsr_json_parse((const char *)text, len, &lim, out, d);
    tsr_free(text);
    if (rc != 0)
        return auth_fail(d, rc, "malformed token: claims");
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return tsr_diag_set(d, TSR_EAUTH, "malformed token: claims are not a JSON object");
    }
    return 0;
}

/* A string member without NUL bytes (which would make two readers see two values), or NULL. */
static const char *str_member(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    const char *s = json_string_value(v);

    return s != NULL && strlen(s) == json_string_length(v) ? s : NULL;
}

static bool aud_has(const json_t *aud, const char *did)
{
    const json_t *e;
    size_t i;

    if (json_is_string(aud))
        return strcmp(json_string_value(aud), did) == 0;
    json_array_foreach(aud, i, e) {
        if (json_is_string(e) && strcmp(json_string_value(e), did) == 0)
            return true;
    }
    return false;
}

/*
 * The checks that need no network.  On success *iss and *kid are new
 * strings: the issuer DID and the key id, which is a DID URL of iss.
 */
static int precheck(struct tsr_identity *id, const char *token, char **iss, char **kid,
                    struct tsr_diag *d)
{
    json_t *hdr = NULL, *claims = NULL;
    const char *alg, *kid_s, *iss_s, *sub_s, *frag = NULL;
    char *kid_did = NULL;
    int rc;

    *iss = *kid = NULL;
    rc = tsr_jws_peek_header(token, &hdr, d);
    if (rc != 0) {
        rc = auth_fail(d, rc, "malformed token");
        goto out;
    }
    alg = json_string_value(json_object_get(hdr, "alg"));
    if (alg == NULL || (strcmp(alg, "ES256") != 0 && strcmp(alg, "EdDSA") != 0)) {
        rc = tsr_diag_set(d, TSR_EAUTH, "token algorithm is not ES256 or EdDSA");
        goto out;
    }
    kid_s = str_member(hdr, "kid");
    if (kid_s == NULL) {
        rc = tsr_diag_set(d, TSR_EAUTH, "token header has no \"kid\" naming the signing key");
        goto out;
    }
    rc = peek_claims(token, &claims, d);
    if (rc != 0)
        goto out;
    iss_s = str_member(claims, "iss");
    sub_s = str_member(claims, "sub");
    if (iss_s == NULL || sub_s == NULL) {
        rc = tsr_diag_set(d, TSR_EAUTH, "token lacks \"iss\" or \"sub\"");
        goto out;
    }
    if (strcmp(iss_s, sub_s) != 0) {
        rc = tsr_diag_set(d, TSR_EAUTH, "token is not self-issued: \"iss\" differs from \"sub\"");
        goto out;
    }
    rc = check_web_did(iss_s, d);
    if (rc != 0) {
        rc = auth_fail(d, rc, "token issuer");
        goto out;
    }
    rc = tsr_did_url_split(kid_s, &kid_did, &frag, d);
    if (rc != 0) {
        rc = auth_fail(d, rc, "token \"kid\"");
        goto out;
    }
    if (strcmp(kid_did, iss_s) != 0 || frag == NULL || *frag == '\0') {
        rc = tsr_diag_set(d, TSR_EAUTH, "token \"kid\" is not a key of its issuer %s", iss_s);
        goto out;
    }
    /* Lists first: a denied caller should learn that, whatever else is wrong. */
    if (list_has(id->deny, id->ndeny, iss_s)) {
        rc = tsr_diag_set(d, TSR_EFORBIDDEN, "caller %s is denied", iss_s);
        goto out;
    }
    if (id->nallow > 0 && !list_has(id->allow, id->nallow, iss_s)) {
        rc = tsr_diag_set(d, TSR_EFORBIDDEN, "caller %s is not on the allow list", iss_s);
        goto out;
    }
    if (!aud_has(json_object_get(claims, "aud"), id->did)) {
        rc = tsr_diag_set(d, TSR_EAUTH, "token is for another audience (expected %s)", id->did);
        goto out;
    }
    *iss = tsr_strdup(iss_s);
    *kid = tsr_strdup(kid_s);
    if (*iss == NULL || *kid == NULL) {
        tsr_free(*iss);
        tsr_free(*kid);
        *iss = *kid = NULL;
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory checking the token");
        goto out;
    }
    rc = 0;
out:
    tsr_free(kid_did);
    json_decref(claims);
    json_decref(hdr);
    return rc;
}

/* The second half: doc is the issuer's checked DID document. */

/* The key for jwk, parsed once; *out is borrowed from the cache. */
static int cached_key(struct tsr_identity *id, const json_t *jwk, const struct tsr_key **out,
                      struct tsr_diag *d)
{
    char *text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    struct tsr_key *key = NULL;
    int rc;

    if (text == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    uint64_t h = tsr_str_hash(text, NULL);
    for (size_t i = 0; i < KEY_CACHE_SIZE; i++) {
        struct key_entry *e = &id->keys[i];
        if (e->jwk != NULL && e->hash == h && strcmp(e->jwk, text) == 0) {
            free(text);
            *out = e->key;
            return 0;
        }
    }
    rc = tsr_key_from_jwk(jwk, &key, d);
    if (rc != 0) {
        free(text);
        return rc;
    }
    struct key_entry *e = &id->keys[id->key_next];
    id->key_next = (id->key_next + 1) % KEY_CACHE_SIZE;
    tsr_free(e->jwk);
    tsr_key_free(e->key);
    e->jwk = tsr_strdup(text);
    free(text);
    if (e->jwk == NULL) {
        tsr_key_free(key);
        e->key = NULL;
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    }
    e->hash = h;
    e->key = key;
    *out = key;
    return 0;
}

static int finish(struct tsr_identity_check *c, const json_t *doc, struct tsr_diag *d)
{
    struct tsr_identity *id = c->id;
    int64_t now = now_ms(id), exp_s, until_ms;
    struct tsr_jwt_expect exp = {
        .iss = c->iss,
        .sub = c->iss,
        .aud = id->did,
        .typ = "JWT",
        .now = now / 1000,
        .leeway = id->skew_s,
        .max_lifetime = TSR_IDENTITY_MAX_LIFETIME_S,
        .require_iat = true,
        .require_jti = true,
        .max_len = TSR_IDENTITY_MAX_TOKEN,
    };
    const struct tsr_key *key = NULL;
    json_t *claims = NULL;
    const json_t *jwk = NULL;
    const char *jti;
    int rc;

    rc = tsr_did_doc_find_jwk(doc, c->kid, "authentication", &jwk, d);
    if (rc != 0) {
        rc = rc == TSR_ENOMEM ? rc
                              : tsr_diag_set(d, TSR_EAUTH,
                                             "unknown key: %s is not an authentication key in "
                                             "the DID document of %s",
                                             c->kid, c->iss);
        goto out;
    }
    rc = cached_key(id, jwk, &key, d);
    if (rc != 0) {
        rc = auth_fail(d, rc, "unusable key in the caller's DID document");
        goto out;
    }
    rc = tsr_jwt_verify(key, c->token, &exp, &claims, d);
    if (rc == TSR_ECRYPTO) {
        /* The key may have been rotated: let the next token fetch the document again. */
        tsr_did_resolver_invalidate(id->resolver, c->iss);
        rc = tsr_diag_set(d, TSR_EAUTH, "bad signature: the token was not signed by %s's key %s",
                          c->iss, c->kid);
        goto out;
    }
    if (rc != 0) {
        rc = auth_fail(d, rc, "invalid token");
        goto out;
    }
    jti = json_string_value(json_object_get(claims, "jti"));
    if (strlen(jti) > TSR_IDENTITY_MAX_JTI || !tsr_str_is_printable(jti, strlen(jti))) {
        rc = tsr_diag_set(d, TSR_EAUTH, "token \"jti\" is longer than %d bytes or unprintable",
                          TSR_IDENTITY_MAX_JTI);
        goto out;
    }
    /* tsr_jwt_verify checked exp is a number within the date range. */
    exp_s = (int64_t)json_number_value(json_object_get(claims, "exp"));
    until_ms = (exp_s + id->skew_s) * 1000;
    if (id->seen != NULL) {
        rc = id->seen(id->seen_arg, c->iss, jti, until_ms);
        if (rc < 0 && rc != TSR_EEXIST)
            rc = tsr_diag_set(d, rc, "replay check failed: %s", tsr_strerror(rc));
    } else {
        rc = replay_add(&id->replay, c->iss, jti, until_ms, now, d);
    }
    if (rc == TSR_EEXIST)
        rc = tsr_diag_set(d, TSR_EAUTH, "token replayed: %s already used jti %s", c->iss, jti);
    else if (rc > 0)
        rc = tsr_diag_set(d, TSR_EINTERNAL, "replay check returned %d", rc);
out:
    json_decref(claims);
    return rc;
}

static void on_resolved(void *arg, int rc, const json_t *doc, const struct tsr_diag *diag)
{
    struct tsr_identity_check *c = arg;
    struct tsr_diag d;

    tsr_diag_clear(&d);
    c->lookup = NULL;
    check_unlink(c);
    if (rc == 0) {
        rc = finish(c, doc, &d);
    } else if (rc == TSR_ENOMEM) {
        rc = tsr_diag_set(&d, rc, "out of memory resolving %s", c->iss);
    } else if (rc == TSR_ENOTFOUND || rc == TSR_EPROTO || rc == TSR_ELIMIT) {
        /*
         * The caller's host answered, with no valid document for this DID:
         * the caller is not who it claims to be, retrying will not help.
         */
        rc = tsr_diag_set(&d, TSR_EAUTH, "cannot establish the caller's identity: %s",
                          tsr_diag_msg(diag));
    } else {
        rc = tsr_diag_set(&d, TSR_EUNAVAIL, "cannot fetch the caller's DID document: %s",
                          tsr_diag_msg(diag));
    }
    tsr_log_debug(TSR_LC_DSP, "%s: %s: %s", __func__, c->iss, rc == 0 ? "verified" : d.msg);
    /* The callback may free the identity: c no longer refers to it. */
    c->cb(c->arg, rc, rc == 0 ? c->iss : NULL, &d);
    check_free(c);
}

int tsr_identity_verify(struct tsr_identity *id, const char *authorization_header_value,
                        tsr_identity_done_fn cb, void *arg, struct tsr_identity_check **handle,
                        struct tsr_diag *d)
{
    struct tsr_identity_check *c = NULL;
    const char *token;
    int rc;

    if (handle != NULL)
        *handle = NULL;
    if (id == NULL || cb == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "no identity or no callback");
    if (id->resolver == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "no DID resolver: this identity cannot verify");
    rc = bearer_token(authorization_header_value, &token, d);
    if (rc != 0)
        return rc;
    c = tsr_calloc(1, sizeof(*c));
    if (c == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    rc = precheck(id, token, &c->iss, &c->kid, d);
    if (rc != 0)
        goto out;
    c->token = tsr_strdup(token);
    if (c->token == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    c->id = id;
    c->cb = cb;
    c->arg = arg;
    rc = tsr_did_resolve(id->resolver, c->iss, on_resolved, c, &c->lookup, d);
    if (rc == TSR_ELIMIT)
        rc = tsr_diag_set(d, TSR_EUNAVAIL, "too many DID documents being fetched; try again");
    if (rc != 0)
        goto out;
    c->next = id->checks;
    if (id->checks != NULL)
        id->checks->prev = c;
    id->checks = c;
    id->nchecks++;
    if (handle != NULL)
        *handle = c;
    c = NULL;
out:
    check_free(c);
    return rc;
}

void tsr_identity_cancel(struct tsr_identity_check *c)
{
    if (c == NULL)
        return;
    check_unlink(c);
    tsr_did_resolve_cancel(c->lookup);
    check_free(c);
}
