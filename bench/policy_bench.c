/*
 * bench/policy_bench.c: decisions per second and per-decision latency of
 * the ODRL evaluator (contracts/odrl.h) on one thread, for an agreement
 * with 10 constraints of the kinds a dataspace agreement carries (time
 * window, in-force date relative to the agreement, use count, elapsed
 * time, purpose set, spatial region through a partOf fact, recipient
 * exclusion, two Catena-X credential operands) and a delete post-duty.
 *
 * Each decision is what the connector does per request: look the
 * compiled agreement up by id in the policy cache and evaluate it with
 * full reports (every constraint's operand, operator, right and actual
 * value).  Requests vary (use count, clock, purpose) so that one in ten
 * is refused.  JSON parsing is not in the loop (done once per agreement);
 * its cost is printed separately.
 *
 * Usage: policy_bench [DECISIONS [LATENCY_SAMPLES]]
 * Prints KEY=VALUE lines for bench/policy to read, then a human summary.
 * Exit status 0 unless the benchmark could not run (the policy did not
 * compile, a decision was not the expected one).
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "contracts/odrl.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"

static const char agreement[] =
    "{\"@context\": \"https://w3id.org/dspace/2025/1/context.jsonld\","
    " \"@type\": \"Agreement\", \"@id\": \"urn:uuid:agreement-bench-1\","
    " \"target\": \"urn:asset:telemetry\", \"assigner\": \"did:web:provider.example\","
    " \"assignee\": \"did:web:consumer.example\", \"timestamp\": \"2026-05-01T00:00:00Z\","
    " \"permission\": [{\"action\": \"use\", \"constraint\": [{\"and\": ["
    "  {\"leftOperand\": \"dateTime\", \"operator\": \"gteq\", \"rightOperand\":"
    "   {\"@value\": \"2026-01-01T00:00:00Z\", \"@type\": \"xsd:dateTime\"}},"
    "  {\"leftOperand\": \"dateTime\", \"operator\": \"lt\", \"rightOperand\":"
    "   {\"@value\": \"2027-01-01T00:00:00Z\", \"@type\": \"xsd:dateTime\"}},"
    "  {\"leftOperand\": \"https://w3id.org/edc/v0.0.1/ns/inForceDate\", \"operator\": \"lteq\","
    "   \"rightOperand\": \"contractAgreement + 365d\"},"
    "  {\"leftOperand\": \"count\", \"operator\": \"lteq\", \"rightOperand\": 900},"
    "  {\"leftOperand\": \"elapsedTime\", \"operator\": \"lteq\", \"rightOperand\": \"P90D\"},"
    "  {\"leftOperand\": \"purpose\", \"operator\": \"isAnyOf\", \"rightOperand\":"
    "   [\"cx.core.industrycore:1\", \"cx.pcf.base:1\", \"cx.quality.base:1\"]},"
    "  {\"leftOperand\": \"spatial\", \"operator\": \"isPartOf\", \"rightOperand\": \"EU\"},"
    "  {\"leftOperand\": \"recipient\", \"operator\": \"isNoneOf\", \"rightOperand\":"
    "   [\"did:web:competitor.example\"]},"
    "  {\"leftOperand\": \"cx-policy:Membership\", \"operator\": \"eq\","
    "   \"rightOperand\": \"active\"},"
    "  {\"leftOperand\": \"cx-policy:FrameworkAgreement\", \"operator\": \"eq\","
    "   \"rightOperand\": \"DataExchangeGovernance:1.0\"}"
    " ]}], \"duty\": [{\"action\": \"delete\", \"constraint\": [{\"leftOperand\": \"dateTime\","
    "  \"operator\": \"lteq\", \"rightOperand\": \"2027-01-31T00:00:00Z\"}]}]}]}";

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Vary the request per iteration i: one in ten is over the use count. */
static void vary(struct tsr_odrl_request *r, uint64_t i, int64_t base_now)
{
    static const char *const purposes[] = {"cx.core.industrycore:1", "cx.pcf.base:1",
                                           "cx.quality.base:1"};

    r->use_count = (i % 10 == 9) ? 900 : i % 900;
    r->now_ms = base_now + (int64_t)(i % 86400000);
    r->purpose = purposes[i % 3];
}

int main(int argc, char **argv)
{
    struct tsr_odrl_registry *reg = NULL;
    struct tsr_odrl_cache *cache = NULL;
    struct tsr_odrl_policy *p = NULL;
    struct tsr_odrl_options o;
    struct tsr_odrl_request r;
    struct tsr_odrl_decision *dec = NULL;
    int64_t *lat = NULL;
    uint64_t n = 3000000, nlat = 300000;
    struct tsr_diag d;
    int rc = 1;

    if (argc > 1 && tsr_parse_u64(argv[1], 1000000000ULL, &n) != 0) {
        fprintf(stderr, "usage: %s [DECISIONS [LATENCY_SAMPLES]]\n", argv[0]);
        return 2;
    }
    if (argc > 2 && tsr_parse_u64(argv[2], 100000000ULL, &nlat) != 0) {
        fprintf(stderr, "usage: %s [DECISIONS [LATENCY_SAMPLES]]\n", argv[0]);
        return 2;
    }
    if (n < 1000)
        n = 1000;
    if (nlat < 1000)
        nlat = 1000;
    reg = tsr_odrl_registry_new();
    cache = tsr_odrl_cache_new(1024);
    dec = tsr_malloc(sizeof(*dec));
    lat = tsr_calloc(nlat, sizeof(*lat));
    if (reg == NULL || cache == NULL || dec == NULL || lat == NULL ||
        tsr_odrl_registry_add_catenax(reg) != 0) {
        fprintf(stderr, "policy_bench: out of memory\n");
        goto out;
    }
    memset(&o, 0, sizeof(o));
    o.registry = reg;

    /* Compile cost, for the record (done once per agreement in the connector). */
    const int compiles = 2000;
    int64_t t0 = mono_ns();
    for (int i = 0; i < compiles; i++) {
        if (tsr_odrl_parse(agreement, sizeof(agreement) - 1, &o, &p, &d) != 0) {
            fprintf(stderr, "policy_bench: the agreement does not compile: %s\n", d.msg);
            goto out;
        }
        if (i + 1 < compiles)
            tsr_odrl_policy_free(p);
    }
    int64_t compile_ns = (mono_ns() - t0) / compiles;
    if (tsr_odrl_cache_put(cache, tsr_odrl_policy_id(p), p) != 0) {
        fprintf(stderr, "policy_bench: cache put failed\n");
        goto out;
    }
    /* Other agreements in the cache, as in a running connector. */
    for (int i = 0; i < 500; i++) {
        char id[64];
        struct tsr_odrl_policy *q = NULL;
        snprintf(id, sizeof(id), "urn:uuid:other-%d", i);
        if (tsr_odrl_parse(agreement, sizeof(agreement) - 1, &o, &q, &d) != 0 ||
            tsr_odrl_cache_put(cache, id, q) != 0) {
            fprintf(stderr, "policy_bench: cache fill failed\n");
            goto out;
        }
    }

    struct tsr_odrl_named named[] = {
        {"Membership", "active"},
        {"FrameworkAgreement", "DataExchangeGovernance:1.0"},
    };
    struct tsr_odrl_fact facts[] = {{TSR_ODRL_REL_PART_OF, "DE", "EU"}};
    int64_t base_now = 0;
    tsr_time_parse_ms("2026-06-01T00:00:00Z", &base_now, NULL);
    tsr_odrl_request_init(&r);
    r.action = "read";
    r.target = "urn:asset:telemetry";
    r.assignee = "did:web:consumer.example";
    r.recipient = "did:web:partner.example";
    r.spatial = "DE";
    tsr_time_parse_ms("2026-05-01T00:00:00Z", &r.agreement_ms, NULL);
    r.named = named;
    r.n_named = TSR_ARRAY_SIZE(named);
    r.facts = facts;
    r.n_facts = TSR_ARRAY_SIZE(facts);
    const char *agr_id = "urn:uuid:agreement-bench-1";

    /* Check the decisions are the ones intended, then warm up. */
    uint64_t permits = 0;
    for (uint64_t i = 0; i < 100000; i++) {
        vary(&r, i, base_now);
        const struct tsr_odrl_policy *cp = tsr_odrl_cache_get(cache, agr_id);
        if (cp == NULL || tsr_odrl_eval(cp, &r, dec) != 0) {
            fprintf(stderr, "policy_bench: evaluation failed\n");
            goto out;
        }
        bool want = i % 10 != 9;
        if (tsr_odrl_permitted(dec) != want || dec->n_constraints != 11 ||
            (want && dec->n_pending != 1)) {
            fprintf(stderr, "policy_bench: unexpected decision %s (%s) at %llu\n",
                    tsr_odrl_effect_name(dec->effect), dec->why, (unsigned long long)i);
            goto out;
        }
        permits += want;
    }

    /* Throughput. */
    permits = 0;
    t0 = mono_ns();
    for (uint64_t i = 0; i < n; i++) {
        vary(&r, i, base_now);
        (void)tsr_odrl_eval(tsr_odrl_cache_get(cache, agr_id), &r, dec);
        permits += dec->effect == TSR_ODRL_PERMIT;
    }
    int64_t total_ns = mono_ns() - t0;
    double rate = (double)n * 1e9 / (double)total_ns;

    /* Latency: each decision timed on its own, minus the clock's own cost. */
    int64_t clock_cost[1001];
    for (int i = 0; i < 1001; i++) {
        int64_t a = mono_ns();
        clock_cost[i] = mono_ns() - a;
    }
    qsort(clock_cost, 1001, sizeof(int64_t), cmp_i64);
    int64_t overhead = clock_cost[500];
    for (uint64_t i = 0; i < nlat; i++) {
        vary(&r, i * 7919, base_now);
        int64_t a = mono_ns();
        (void)tsr_odrl_eval(tsr_odrl_cache_get(cache, agr_id), &r, dec);
        int64_t b = mono_ns() - a - overhead;
        lat[i] = b > 0 ? b : 0;
    }
    qsort(lat, nlat, sizeof(int64_t), cmp_i64);
    int64_t p50 = lat[nlat / 2], p99 = lat[nlat * 99 / 100], pmax = lat[nlat - 1];

    printf("DECISIONS=%llu\n", (unsigned long long)n);
    printf("PERMITS=%llu\n", (unsigned long long)permits);
    printf("RATE=%.0f\n", rate);
    printf("P50_NS=%lld\nP99_NS=%lld\nMAX_NS=%lld\n", (long long)p50, (long long)p99,
           (long long)pmax);
    printf("COMPILE_NS=%lld\n", (long long)compile_ns);
    printf("CLOCK_NS=%lld\n", (long long)overhead);
    rc = 0;
out:
    tsr_free(lat);
    tsr_free(dec);
    tsr_odrl_cache_free(cache);
    tsr_odrl_registry_free(reg);
    return rc;
}
