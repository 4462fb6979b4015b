/*
 * bench/catalog_bench.c: the catalog index at scale (bench/catalog runs it).
 *
 *   catalog_bench [-n OFFERS] [-q QUERIES] [-s SIGNED] [-d DBFILE [-r]]
 *
 * (-r: reuse the offers already in DBFILE instead of loading them.)
 *
 * 1. Loads OFFERS (default 1,000,000) synthetic offers from 3,000 issuers
 *    straight into a catalog database (catalog/store.h; no signatures),
 *    with titles, descriptions and keywords drawn from a vocabulary with
 *    a skewed (Zipf-like) distribution, and prints the load rate.
 * 2. Runs QUERIES queries of each kind (text, text + filter, filter
 *    only, keyword) and prints p50/p99 latency and queries per second
 *    per kind, against the 20 ms p99 the catalog aims at.
 * 3. Signs SIGNED (default 5,000) real offer credentials (connector/sd.h)
 *    and ingests them the way tessera-catalogd does: decode, verify the
 *    ES256 signature against the DID document, check the shapes and
 *    rules, store; prints credentials per second, per CPU second (which
 *    other processes' load does not change) and the time of each phase.
 * The process's peak resident memory is printed last.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog/store.h"
#include "connector/sd.h"
#include "connector/store.h"
#include "lib/did.h"
#include "lib/jose.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "lib/vc.h"

#define VOCAB 20000
#define KEYWORDS 2000
#define ISSUERS 3000
#define BATCH 20000

static char *vocab[VOCAB];
static char *kwords[KEYWORDS];
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: reproducible runs, no libc rand. */
static uint64_t next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

/* Skewed pick in [0, n): small indexes are much more frequent, as in real text. */
static size_t zipf(size_t n)
{
    double u = (double)(next() >> 11) / 9007199254740992.0;
    return (size_t)((double)n * u * u * u) % n;
}

static char *make_word(size_t i)
{
    static const char *const syl[] = {"ka", "lo", "mi", "ne", "ru", "sa", "te", "vi", "do",
                                      "fa", "gu", "hi", "po", "ze", "ba", "ce", "tor", "len"};
    char buf[32];
    size_t n = 0, v = i + 7;

    do {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", syl[v % TSR_ARRAY_SIZE(syl)]);
        v /= TSR_ARRAY_SIZE(syl);
    } while (v > 0 && n < 20);
    return tsr_strdup(buf);
}

static double now_s(void)
{
    return (double)tsr_time_mono_ms() / 1000.0;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* CPU seconds of this thread: a figure that other processes' load does not inflate. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void words(char *buf, size_t size, size_t n)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && used + 32 < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? " " : "",
                                 vocab[zipf(VOCAB)]);
}

static int load(struct tsr_cat_store *cs, size_t n)
{
    static const char *const media[] = {"text/csv", "application/json", "application/parquet",
                                        "image/png", "application/xml", "text/plain"};
    char title[256], desc[512], id[64], subj[96], iss[64];
    double t0 = now_s();

    for (size_t i = 0; i < n; i++) {
        if (i % BATCH == 0 && tsr_cat_store_begin(cs, NULL) != 0)
            return 1;
        words(title, sizeof(title), 3);
        words(desc, sizeof(desc), 12);
        snprintf(id, sizeof(id), "urn:bench:%zu", i);
        snprintf(iss, sizeof(iss), "did:web:p%zu.example", i % ISSUERS);
        snprintf(subj, sizeof(subj), "https://p%zu.example/offers/%zu", i % ISSUERS, i);
        json_t *kw = json_pack("[s, s, s]", kwords[zipf(KEYWORDS)], kwords[zipf(KEYWORDS)],
                               kwords[next() % KEYWORDS]);
        struct tsr_vc_info in = {
            .cls = TSR_VC_CLASS_SERVICE_OFFERING,
            .cls_name = "ServiceOffering",
            .id = id,
            .issuer = iss,
            .subject = subj,
            .participant = iss,
            .title = title,
            .description = desc,
            .media_type = media[next() % TSR_ARRAY_SIZE(media)],
            .endpoint = "https://p.example/dsp/2025-1",
            .dataset_id = id,
            .keywords = kw,
            .valid_from = 1700000000,
            .valid_until = 4000000000LL,
            .iat = 1700000000 + (int64_t)i,
        };
        enum tsr_cat_outcome oc;
        /* A stand-in for the JWT: the store keys duplicates on its hash. */
        int rc = tsr_cat_store_add(cs, id, &in, 0, false, &oc, NULL);
        json_decref(kw);
        if (rc != 0)
            return 1;
        if ((i + 1) % BATCH == 0 || i + 1 == n) {
            if (tsr_cat_store_commit(cs, NULL) != 0)
                return 1;
        }
        if ((i + 1) % 200000 == 0)
            fprintf(stderr, "# loaded %zu\n", i + 1);
    }
    double dt = now_s() - t0;
    printf("load: %zu offers in %.1f s: %.0f offers/s (direct, no signatures)\n", n, dt,
           (double)n / dt);
    return 0;
}

/* Run nq queries made by mk and print the latency figures. */
static void run(struct tsr_cat_store *cs, const char *name, size_t nq,
                void (*mk)(struct tsr_cat_query *q, char *buf, size_t size))
{
    double *lat = calloc(nq, sizeof(double));
    char buf[256];
    size_t hits = 0;
    double t0 = now_us();

    for (size_t i = 0; i < nq; i++) {
        struct tsr_cat_query q = {.now = 1800000000, .limit = 20};
        json_t *items = NULL;
        mk(&q, buf, sizeof(buf));
        double s = now_us();
        if (tsr_cat_store_query(cs, &q, &items, NULL) == 0)
            hits += json_array_size(items);
        lat[i] = (now_us() - s) / 1000.0;
        json_decref(items);
    }
    double total = (now_us() - t0) / 1e6;
    qsort(lat, nq, sizeof(double), cmp_d);
    double p50 = lat[nq / 2], p99 = lat[(nq * 99) / 100];
    printf("%-22s %6zu queries  %8.0f q/s  p50 %7.3f ms  p99 %7.3f ms  (%.1f results/query)  "
           "p99 vs 20 ms target: %.2fx\n",
           name, nq, (double)nq / total, p50, p99, (double)hits / (double)nq, p99 / 20.0);
    free(lat);
}

static void mk_text(struct tsr_cat_query *q, char *buf, size_t size)
{
    snprintf(buf, size, "%s %s", vocab[zipf(VOCAB / 4)], vocab[zipf(VOCAB / 4)]);
    q->text = buf;
}

static void mk_text1(struct tsr_cat_query *q, char *buf, size_t size)
{
    snprintf(buf, size, "%s", vocab[VOCAB / 20 + next() % (VOCAB - VOCAB / 20)]);
    q->text = buf;
}

static void mk_text_filter(struct tsr_cat_query *q, char *buf, size_t size)
{
    static const char *const media[] = {"text/csv", "application/json"};
    snprintf(buf, size, "%s", vocab[zipf(VOCAB / 2)]);
    q->text = buf;
    q->cls = "ServiceOffering";
    q->media_type = media[next() % 2];
}

static char part_buf[64];
static void mk_participant(struct tsr_cat_query *q, char *buf, size_t size)
{
    (void)buf;
    (void)size;
    snprintf(part_buf, sizeof(part_buf), "did:web:p%zu.example", (size_t)(next() % ISSUERS));
    q->participant = part_buf;
    q->cls = "ServiceOffering";
}

static void mk_keyword(struct tsr_cat_query *q, char *buf, size_t size)
{
    (void)buf;
    (void)size;
    q->keyword = kwords[next() % KEYWORDS];
}

/* Sign n offer credentials and ingest them as tessera-catalogd does. */
static int signed_ingest(struct tsr_cat_store *cs, size_t n)
{
    struct tsr_key *key = NULL;
    json_t *jwk = NULL, *doc = NULL;
    char did[64], kid[80];
    /* An issuer of its own per run: with -r, fresh offers rather than supersessions. */
    snprintf(did, sizeof(did), "did:web:bench%ld.example", (long)getpid());
    snprintf(kid, sizeof(kid), "%s#key-1", did);
    struct tsr_sd_conf c = {.did = did, .kid = kid,
                            .name = "Bench GmbH", .public_url = "https://bench.example",
                            .dsp_url = "https://bench.example/dsp/2025-1", .reg_number = "X1",
                            .legal_country = "DE", .validity_s = 86400};
    char **jwts = calloc(n, sizeof(char *));
    char aid[64], title[256];
    int64_t now = tsr_time_now_ms() / 1000;
    size_t ok = 0;

    if (jwts == NULL || tsr_key_generate(TSR_KEY_ES256, &key, NULL) != 0 ||
        tsr_key_to_jwk(key, false, &jwk, NULL) != 0 ||
        tsr_did_doc_build(did, jwk, NULL, 0, &doc, NULL) != 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        snprintf(aid, sizeof(aid), "signed-%zu", i);
        words(title, sizeof(title), 3);
        struct tsr_store_asset a = {.id = aid, .title = title, .description = title,
                                    .keywords = (char *)"[\"bench\"]",
                                    .media_type = (char *)"text/csv", .size = 1000};
        struct tsr_store_policy p = {.body = (char *)"{\"@type\":\"Set\"}"};
        struct tsr_store_offer o = {.id = aid};
        json_t *cred = NULL;
        if (tsr_sd_offering(&c, &o, &a, &p, now, &cred, NULL) != 0 ||
            tsr_vc_sign(key, c.kid, false, cred, &jwts[i], NULL) != 0)
            return 1;
        json_decref(cred);
    }
    double t0 = now_s(), c0 = cpu_s();
    tsr_cat_store_begin(cs, NULL);
    double ph[5] = {0};
    struct tsr_vc_keycache *kc = NULL;
    if (tsr_vc_keycache_new(0, &kc) != 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        struct tsr_vc *vc = NULL;
        struct tsr_vc_info info;
        enum tsr_cat_outcome oc;
        double t[5];
        t[0] = now_us();
        bool good = tsr_vc_decode(jwts[i], &vc, NULL) == 0;
        t[1] = now_us();
        good = good && tsr_vc_verify_cached(vc, doc, kc, NULL) == 0;
        t[2] = now_us();
        good = good && tsr_vc_check(vc, now, NULL, NULL, &info) == 0;
        t[3] = now_us();
        good = good && tsr_cat_store_add(cs, vc->jwt, &info, 0, true, &oc, NULL) == 0 &&
               oc == TSR_CAT_ADDED;
        t[4] = now_us();
        for (int k = 0; k < 4; k++)
            ph[k] += t[k + 1] - t[k];
        if (good)
            ok++;
        tsr_vc_free(vc);
        if ((i + 1) % 1000 == 0) {
            t[0] = now_us();
            tsr_cat_store_commit(cs, NULL);
            ph[4] += now_us() - t[0];
            tsr_cat_store_begin(cs, NULL);
        }
    }
    double tc = now_us();
    tsr_cat_store_commit(cs, NULL);
    ph[4] += now_us() - tc;
    double dt = now_s() - t0, dc = cpu_s() - c0;
    printf("signed ingest: %zu of %zu credentials verified (ES256 + shapes) and stored in %.2f s: "
           "%.0f credentials/s (target 5000/s: %.2fx)\n",
           ok, n, dt, (double)n / dt, (double)n / dt / 5000.0);
    /* On a shared machine the wall clock counts others' work too: CPU time does not. */
    printf("  CPU time %.2f s: %.0f credentials per CPU second (one core)\n", dc,
           (double)n / dc);
    printf("  per credential: decode %.0f us, verify (key + ES256 + parse) %.0f us, "
           "check %.0f us, store %.0f us, commit %.0f us (every 1000)\n",
           ph[0] / (double)n, ph[1] / (double)n, ph[2] / (double)n, ph[3] / (double)n,
           ph[4] / (double)n);
    tsr_vc_keycache_free(kc);
    for (size_t i = 0; i < n; i++)
        tsr_free(jwts[i]);
    free(jwts);
    json_decref(jwk);
    json_decref(doc);
    tsr_key_free(key);
    return ok == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    size_t n = 1000000, nq = 2000, nsigned = 5000;
    const char *db = NULL;
    char path[256];
    struct tsr_cat_store *cs = NULL;
    struct rusage ru;
    int c, rc = 1;
    bool reuse = false;

    while ((c = getopt(argc, argv, "n:q:s:d:r")) != -1) {
        long long v = 0;
        switch (c) {
        case 'n':
        case 'q':
        case 's':
            if (tsr_parse_ll(optarg, 1, 100000000, &v) != 0) {
                fprintf(stderr, "catalog_bench: -%c: a positive number\n", c);
                return 2;
            }
            *(c == 'n' ? &n : c == 'q' ? &nq : &nsigned) = (size_t)v;
            break;
        case 'd': db = optarg; break;
        case 'r': reuse = true; break;
        default:
            fprintf(stderr, "usage: catalog_bench [-n OFFERS] [-q QUERIES] [-s SIGNED] "
                            "[-d DBFILE [-r]]\n");
            return 2;
        }
    }
    if (db == NULL) {
        snprintf(path, sizeof(path), "/tmp/tessera-catalog-bench-%ld.db", (long)getpid());
        db = path;
    }
    for (size_t i = 0; i < VOCAB; i++)
        vocab[i] = make_word(i);
    for (size_t i = 0; i < KEYWORDS; i++)
        kwords[i] = make_word(i * 7 + 100000);
    if (tsr_cat_store_open(db, &cs, NULL) != 0) {
        fprintf(stderr, "catalog_bench: cannot open %s\n", db);
        return 1;
    }
    printf("catalog bench: %zu offers, %zu queries per kind, database %s\n", n, nq, db);
    if (!reuse && load(cs, n) != 0)
        goto out;
    double t0 = now_s();
    if (tsr_cat_store_optimize(cs, NULL) != 0)
        goto out;
    printf("index merge (FTS5 optimize, ANALYZE): %.1f s\n", now_s() - t0);
    run(cs, "text (2 words)", nq, mk_text);
    run(cs, "text (rare word)", nq, mk_text1);
    run(cs, "text + type + media", nq, mk_text_filter);
    run(cs, "participant + type", nq, mk_participant);
    run(cs, "keyword", nq, mk_keyword);
    if (signed_ingest(cs, nsigned) != 0)
        goto out;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak resident memory: %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
    rc = 0;
out:
    tsr_cat_store_close(cs);
    if (db == path) {
        unlink(path);
        snprintf(path + strlen(path), sizeof(path) - strlen(path), "-wal");
        unlink(path);
        path[strlen(path) - 4] = '\0';
        snprintf(path + strlen(path), sizeof(path) - strlen(path), "-shm");
        unlink(path);
    }
    for (size_t i = 0; i < VOCAB; i++)
        tsr_free(vocab[i]);
    for (size_t i = 0; i < KEYWORDS; i++)
        tsr_free(kwords[i]);
    return rc;
}
