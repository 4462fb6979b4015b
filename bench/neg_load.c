/*
 * bench/neg_load.c: the load generator of bench/negotiations.
 *
 * Starts contract negotiations through the management API of one or more
 * consumer daemons (POST /api/v1/negotiations), keeps a fixed number in
 * flight per consumer, and polls each one (GET /api/v1/negotiations/:id)
 * until it is FINALIZED or TERMINATED.  Everything runs on one libevent
 * loop with the connector's own HTTP client, so that a single thread can
 * drive thousands of negotiations per second.  The management port is
 * cleartext HTTP/1.1 with keep-alive (one connection per request in
 * flight): h2 with prior knowledge would need one connection only, but
 * Debian 12's libcurl 7.88 fails every request after the first on a
 * reused prior-knowledge connection ("Error in the HTTP2 framing layer",
 * curl issue 10634, fixed in 8.0).
 *
 * The latencies come from the consumer daemon's clock, not from the
 * polling: "request to FINALIZED" is the consumer's updated_at of the
 * FINALIZED state minus the wall-clock time the POST was sent (same
 * machine, same clock); "record to FINALIZED" is updated_at minus the
 * negotiation's created_at (both the daemon's), which leaves out the
 * catalog request that comes before the record.  Polling only decides
 * when a slot is reused.  The generator prints its own CPU time so that
 * a reader can see it was not the limit.
 *
 * Two ways to load: closed loop (the default), where a new negotiation
 * starts as soon as one of the IN_FLIGHT slots of a consumer frees up, which
 * measures the most the daemons can do; and open loop (-r RATE), where
 * negotiations start at RATE per second whatever the completions (still at
 * most IN_FLIGHT per consumer), which measures the latency at a given load.
 * By Little's law a closed loop with K negotiations in flight and a rate of
 * R per second has a mean latency of K / R: its latency says more about K
 * than about the daemons.
 *
 * Usage: neg_load -u PROVIDER_URL -o OFFER_ID [-n TOTAL] [-c IN_FLIGHT]
 *                 [-r RATE] [-p FIRST_POLL_MS] [-P MAX_POLL_MS] [-t TIMEOUT_S]
 * with one line per consumer on standard input: "MGMT_URL API_KEY"
 * (on stdin, so that the keys do not show in ps).  Exit status: 0 when
 * the run completed (failed negotiations are counted and reported), 1
 * when it could not run, 2 for a usage error.
 */
#include "lib/tsr.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "lib/json.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "transports/client.h"

#define MAX_CONSUMERS 64
#define MAX_LINE 1024
/* Distinct failure reasons kept for the report (the rest are counted). */
#define MAX_REASONS 8
#define REASON_LEN 300

struct load;

struct consumer {
    struct load *ld;
    char *url;      /* management base, e.g. http://127.0.0.1:8181 */
    char *key_hdr;  /* "X-Api-Key: ..." (a secret: wiped) */
    size_t inflight;
    size_t started;
};

struct neg {
    struct consumer *c;
    struct event *timer;
    struct tsr_client_xfer *xfer;
    char *id;
    int64_t sent_us;     /* wall clock when the POST was sent */
    int64_t deadline_us; /* monotonic */
    int64_t answered_us; /* wall clock when the POST was answered */
    unsigned polls;
};

struct reason {
    char text[REASON_LEN];
    size_t count;
};

struct load {
    struct event_base *base;
    struct tsr_client *client;
    struct consumer cons[MAX_CONSUMERS];
    size_t ncons;
    const char *provider_url;
    const char *offer_id;
    char *post_body;
    size_t total, started, finished, failed, inflight;
    size_t per_consumer;
    unsigned first_poll_ms, max_poll_ms;
    /* running mean of POST answered -> FINALIZED, to time the polls */
    double rest_ms;
    unsigned timeout_s;
    size_t next_cons;
    /* open loop: RATE per second from t0_us, paced by a 1 ms timer */
    double rate;
    struct event *pace;
    int64_t t0_us;
    size_t late; /* starts more than 2 ms behind their schedule */
    /* results, one per finalized negotiation */
    double *lat_full_ms;   /* POST sent -> updated_at(FINALIZED) */
    double *lat_rec_ms;    /* created_at -> updated_at(FINALIZED) */
    double *lat_post_ms;   /* POST sent -> 201 received (catalog + record) */
    size_t nok, npost;
    uint64_t polls;
    int64_t first_sent_us;
    int64_t last_final_ms;
    int64_t end_us;
    struct reason reasons[MAX_REASONS];
    size_t other_reasons;
    bool fatal;
};

static int64_t wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double cpu_seconds(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void add_reason(struct load *ld, const char *text)
{
    for (size_t i = 0; i < MAX_REASONS; i++) {
        struct reason *r = &ld->reasons[i];
        if (r->count == 0) {
            snprintf(r->text, sizeof(r->text), "%s", text);
            r->count = 1;
            return;
        }
        if (strcmp(r->text, text) == 0) {
            r->count++;
            return;
        }
    }
    ld->other_reasons++;
}

static void start_more(struct load *ld);

static void neg_free(struct neg *n)
{
    if (n == NULL)
        return;
    if (n->xfer != NULL)
        tsr_client_cancel(n->xfer);
    if (n->timer != NULL)
        event_free(n->timer);
    tsr_free(n->id);
    tsr_free(n);
}

/* n is over (finalized or failed): free its slot and start the next one. */
static void neg_end(struct neg *n)
{
    struct load *ld = n->c->ld;

    ld->polls += n->polls;
    n->c->inflight--;
    ld->inflight--;
    ld->finished++;
    neg_free(n);
    if (ld->finished == ld->total) {
        ld->end_us = wall_us();
        event_base_loopbreak(ld->base);
        return;
    }
    if (ld->rate == 0)
        start_more(ld);
}

static void neg_fail(struct neg *n, const char *fmt, ...) TSR_PRINTF(2, 3);
static void neg_fail(struct neg *n, const char *fmt, ...)
{
    char text[REASON_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    n->c->ld->failed++;
    add_reason(n->c->ld, text);
    neg_end(n);
}

/* The parsed body of a 2xx answer, or NULL after failing n with why. */
static json_t *answer_json(struct neg *n, struct tsr_client_resp *resp, int want, const char *what)
{
    json_t *j = NULL;
    struct tsr_diag d = {0};

    if (resp->rc != 0) {
        neg_fail(n, "%s: %s", what, tsr_diag_msg(&resp->diag));
        return NULL;
    }
    if (resp->status != want) {
        neg_fail(n, "%s: HTTP %d: %.200s", what, resp->status, tsr_buf_str(&resp->body));
        return NULL;
    }
    if (tsr_json_parse(resp->body.data, resp->body.len, NULL, &j, &d) != 0 || !json_is_object(j)) {
        json_decref(j);
        neg_fail(n, "%s: bad JSON: %s", what, tsr_diag_msg(&d));
        return NULL;
    }
    return j;
}

/*
 * Polls cost the consumer daemon CPU (a request each), and a late poll only
 * delays the reuse of a slot, never the measured latency.  So the first
 * poll comes when most negotiations are done (just before the running mean
 * of the time from the POST's answer to FINALIZED), and the next ones every
 * fifth of that mean, between FIRST_POLL_MS and MAX_POLL_MS: a few polls per
 * negotiation at any load.
 */
static void schedule_poll(struct neg *n)
{
    const struct load *ld = n->c->ld;
    double ms;

    if (n->polls == 0)
        ms = TSR_MAX((double)ld->first_poll_ms, 0.9 * ld->rest_ms);
    else
        ms = TSR_MIN(TSR_MAX((double)ld->first_poll_ms, 0.2 * ld->rest_ms),
                     (double)ld->max_poll_ms);
    int64_t us = (int64_t)(ms * 1000);
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    evtimer_add(n->timer, &tv);
}

/*
 * A negotiation's JSON: done (1) when it is FINALIZED or TERMINATED (n is
 * then freed), 0 to keep polling.
 */
static int check_state(struct neg *n, json_t *j)
{
    struct load *ld = n->c->ld;
    const char *state = NULL, *created = NULL, *updated = NULL, *err = NULL;
    int64_t c_ms = 0, u_ms = 0;

    (void)tsr_json_get_str(j, "state", true, &state, NULL);
    if (state == NULL) {
        neg_fail(n, "a negotiation without a state");
        return 1;
    }
    if (strcmp(state, "TERMINATED") == 0) {
        (void)tsr_json_get_str(j, "error", false, &err, NULL);
        neg_fail(n, "TERMINATED: %s", err != NULL ? err : "(no error text)");
        return 1;
    }
    if (strcmp(state, "FINALIZED") != 0)
        return 0;
    if (tsr_json_get_str(j, "created_at", true, &created, NULL) != 0 ||
        tsr_json_get_str(j, "updated_at", true, &updated, NULL) != 0 ||
        tsr_time_parse_ms(created, &c_ms, NULL) != 0 ||
        tsr_time_parse_ms(updated, &u_ms, NULL) != 0) {
        neg_fail(n, "FINALIZED without valid created_at/updated_at");
        return 1;
    }
    ld->lat_full_ms[ld->nok] = (double)(u_ms * 1000 - n->sent_us) / 1000.0;
    ld->lat_rec_ms[ld->nok] = (double)(u_ms - c_ms);
    if (n->answered_us != 0) {
        double rest = TSR_MAX(0.0, (double)(u_ms * 1000 - n->answered_us) / 1000.0);
        ld->rest_ms = ld->rest_ms == 0 ? rest : 0.9 * ld->rest_ms + 0.1 * rest;
    }
    ld->nok++;
    if (u_ms > ld->last_final_ms)
        ld->last_final_ms = u_ms;
    neg_end(n);
    return 1;
}

static void on_poll_answer(void *arg, struct tsr_client_resp *resp)
{
    struct neg *n = arg;
    json_t *j;

    n->xfer = NULL;
    j = answer_json(n, resp, 200, "GET negotiation");
    if (j == NULL)
        return;
    if (check_state(n, j) == 0) {
        if (mono_us() > n->deadline_us) {
            const char *state = json_string_value(json_object_get(j, "state"));
            neg_fail(n, "still %s after %u s", state != NULL ? state : "?",
                     n->c->ld->timeout_s);
        } else {
            schedule_poll(n);
        }
    }
    json_decref(j);
}

static void on_poll_timer(evutil_socket_t fd, short what, void *arg)
{
    struct neg *n = arg;
    struct consumer *c = n->c;
    struct tsr_diag d = {0};
    char url[1200];
    const char *hdrs[] = {c->key_hdr, "Accept: application/json", NULL};

    (void)fd;
    (void)what;
    snprintf(url, sizeof(url), "%s/api/v1/negotiations/%s", c->url, n->id);
    struct tsr_client_req req = {
        .method = "GET",
        .url = url,
        .headers = hdrs,
        .flags = TSR_CLIENT_HTTP1_ONLY,
    };
    n->polls++;
    if (tsr_client_request(c->ld->client, &req, on_poll_answer, n, &n->xfer, &d) != 0)
        neg_fail(n, "GET negotiation: %s", tsr_diag_msg(&d));
}

static void on_post_answer(void *arg, struct tsr_client_resp *resp)
{
    struct neg *n = arg;
    struct load *ld = n->c->ld;
    const char *id = NULL;
    json_t *j;

    n->xfer = NULL;
    j = answer_json(n, resp, 201, "POST negotiations");
    if (j == NULL)
        return;
    n->answered_us = wall_us();
    ld->lat_post_ms[ld->npost++] = (double)(n->answered_us - n->sent_us) / 1000.0;
    if (tsr_json_get_str(j, "id", true, &id, NULL) != 0 || (n->id = tsr_strdup(id)) == NULL) {
        json_decref(j);
        neg_fail(n, "POST negotiations: an answer without an id");
        return;
    }
    n->polls = 0;
    if (check_state(n, j) == 0)
        schedule_poll(n);
    json_decref(j);
}

static int start_one(struct load *ld, struct consumer *c)
{
    struct neg *n = tsr_calloc(1, sizeof(*n));
    struct tsr_diag d = {0};
    char url[1100];
    const char *hdrs[] = {c->key_hdr, "Content-Type: application/json",
                          "Accept: application/json", NULL};

    if (n == NULL)
        return TSR_ENOMEM;
    n->c = c;
    n->timer = evtimer_new(ld->base, on_poll_timer, n);
    if (n->timer == NULL) {
        tsr_free(n);
        return TSR_ENOMEM;
    }
    snprintf(url, sizeof(url), "%s/api/v1/negotiations", c->url);
    struct tsr_client_req req = {
        .method = "POST",
        .url = url,
        .headers = hdrs,
        .body = ld->post_body,
        .body_len = strlen(ld->post_body),
        .flags = TSR_CLIENT_HTTP1_ONLY,
    };
    n->sent_us = wall_us();
    n->deadline_us = mono_us() + (int64_t)ld->timeout_s * 1000000;
    if (ld->first_sent_us == 0)
        ld->first_sent_us = n->sent_us;
    if (tsr_client_request(ld->client, &req, on_post_answer, n, &n->xfer, &d) != 0) {
        fprintf(stderr, "neg_load: POST %s: %s\n", url, tsr_diag_msg(&d));
        neg_free(n);
        return TSR_EINTERNAL;
    }
    c->inflight++;
    c->started++;
    ld->inflight++;
    ld->started++;
    return 0;
}

/* Fill every consumer up to its in-flight limit, round robin. */
static void start_more(struct load *ld)
{
    size_t idle = 0;

    while (ld->started < ld->total && idle < ld->ncons) {
        struct consumer *c = &ld->cons[ld->next_cons];
        ld->next_cons = (ld->next_cons + 1) % ld->ncons;
        if (c->inflight >= ld->per_consumer) {
            idle++;
            continue;
        }
        idle = 0;
        if (start_one(ld, c) != 0) {
            ld->fatal = true;
            event_base_loopbreak(ld->base);
            return;
        }
    }
}

/* Open loop: start what is due by now; a start with no free slot waits. */
static void on_pace(evutil_socket_t fd, short what, void *arg)
{
    struct load *ld = arg;
    int64_t now = mono_us();
    double due_f = ld->rate * (double)(now - ld->t0_us) / 1e6 + 1;
    size_t due = due_f >= (double)ld->total ? ld->total : (size_t)due_f;

    (void)fd;
    (void)what;
    while (ld->started < due) {
        size_t k;
        for (k = 0; k < ld->ncons; k++) {
            struct consumer *c = &ld->cons[(ld->next_cons + k) % ld->ncons];
            if (c->inflight < ld->per_consumer)
                break;
        }
        if (k == ld->ncons)
            break; /* every slot is taken: the start waits for the next tick */
        struct consumer *c = &ld->cons[(ld->next_cons + k) % ld->ncons];
        ld->next_cons = (ld->next_cons + k + 1) % ld->ncons;
        /* The k-th start is due at t0 + k / rate (the first at once). */
        double sched_us = (double)ld->started * 1e6 / ld->rate;
        if ((double)(now - ld->t0_us) - sched_us > 2000)
            ld->late++;
        if (start_one(ld, c) != 0) {
            ld->fatal = true;
            event_base_loopbreak(ld->base);
            return;
        }
    }
    if (ld->started >= ld->total)
        evtimer_del(ld->pace);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct(const double *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double r = p / 100.0 * (double)n;
    size_t k = (size_t)r;
    if ((double)k < r)
        k++;
    return v[k > 0 ? k - 1 : 0];
}

static int read_consumers(struct load *ld)
{
    char line[MAX_LINE];

    while (fgets(line, sizeof(line), stdin) != NULL) {
        char *s = tsr_str_trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *sp = strchr(s, ' ');
        if (sp == NULL || ld->ncons >= MAX_CONSUMERS) {
            fprintf(stderr, "neg_load: want \"MGMT_URL API_KEY\" lines (at most %d)\n",
                    MAX_CONSUMERS);
            return -1;
        }
        *sp = '\0';
        char *key = tsr_str_trim(sp + 1);
        struct consumer *c = &ld->cons[ld->ncons];
        size_t hl = strlen(key) + 12;
        c->ld = ld;
        c->url = tsr_strdup(s);
        c->key_hdr = tsr_malloc(hl);
        if (c->url == NULL || c->key_hdr == NULL)
            return -1;
        snprintf(c->key_hdr, hl, "X-Api-Key: %s", key);
        tsr_wipe(line, sizeof(line));
        ld->ncons++;
    }
    return ld->ncons > 0 ? 0 : -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: neg_load -u PROVIDER_URL -o OFFER_ID [-n TOTAL] [-c IN_FLIGHT]\n"
                    "                [-r RATE] [-p FIRST_POLL_MS] [-P MAX_POLL_MS] [-t TIMEOUT_S]\n"
                    "       consumers on stdin, one \"MGMT_URL API_KEY\" per line\n");
}

static int num_opt(const char *s, long long min, long long max, long long *out)
{
    if (tsr_parse_ll(s, min, max, out) != 0) {
        fprintf(stderr, "neg_load: %s is not a number in %lld..%lld\n", s, min, max);
        return -1;
    }
    return 0;
}

static void report(struct load *ld, double cpu)
{
    double wall_s = 0;
    double gen_s = (double)(ld->end_us - ld->first_sent_us) / 1e6;
    if (ld->nok > 0)
        wall_s = (double)(ld->last_final_ms * 1000 - ld->first_sent_us) / 1e6;
    double rate = wall_s > 0 ? (double)ld->nok / wall_s : 0;
    size_t n = ld->nok;

    qsort(ld->lat_full_ms, n, sizeof(double), cmp_double);
    qsort(ld->lat_rec_ms, n, sizeof(double), cmp_double);
    qsort(ld->lat_post_ms, ld->npost, sizeof(double), cmp_double);
    if (ld->rate > 0)
        printf("negotiations: %zu FINALIZED, %zu failed, %zu consumer(s), offered %.0f/s "
               "(at most %zu in flight each; %zu starts over 2 ms late)\n", n,
               ld->failed, ld->ncons, ld->rate, ld->per_consumer, ld->late);
    else
        printf("negotiations: %zu FINALIZED, %zu failed, %zu consumer(s) x %zu in flight\n", n,
               ld->failed, ld->ncons, ld->per_consumer);
    printf("first request to last FINALIZED: %.3f s; %.1f negotiations/s\n", wall_s, rate);
    printf("%-34s %9s %9s %9s %9s\n", "latency (ms)", "min", "median", "p99", "max");
    printf("%-34s %9.1f %9.1f %9.1f %9.1f\n", "request to FINALIZED", pct(ld->lat_full_ms, n, 0),
           pct(ld->lat_full_ms, n, 50), pct(ld->lat_full_ms, n, 99), pct(ld->lat_full_ms, n, 100));
    printf("%-34s %9.1f %9.1f %9.1f %9.1f\n", "  of which record to FINALIZED",
           pct(ld->lat_rec_ms, n, 0), pct(ld->lat_rec_ms, n, 50), pct(ld->lat_rec_ms, n, 99),
           pct(ld->lat_rec_ms, n, 100));
    printf("%-34s %9.1f %9.1f %9.1f %9.1f\n", "POST answered (catalog + record)",
           pct(ld->lat_post_ms, ld->npost, 0), pct(ld->lat_post_ms, ld->npost, 50),
           pct(ld->lat_post_ms, ld->npost, 99), pct(ld->lat_post_ms, ld->npost, 100));
    printf("polls per negotiation: %.2f\n",
           ld->finished > 0 ? (double)ld->polls / (double)ld->finished : 0);
    printf("load generator: %.2f s CPU in %.2f s (%.0f%% of one CPU)\n", cpu, gen_s,
           gen_s > 0 ? 100.0 * cpu / gen_s : 0);
    for (size_t i = 0; i < MAX_REASONS && ld->reasons[i].count > 0; i++)
        printf("failure x%zu: %s\n", ld->reasons[i].count, ld->reasons[i].text);
    if (ld->other_reasons > 0)
        printf("failure x%zu: (other reasons)\n", ld->other_reasons);
    printf("RESULT ok=%zu failed=%zu wall_s=%.3f rate=%.1f median_ms=%.1f p99_ms=%.1f "
           "max_ms=%.1f rec_median_ms=%.1f rec_p99_ms=%.1f cpu_s=%.2f gen_s=%.2f late=%zu\n",
           n, ld->failed, wall_s, rate, pct(ld->lat_full_ms, n, 50), pct(ld->lat_full_ms, n, 99),
           pct(ld->lat_full_ms, n, 100), pct(ld->lat_rec_ms, n, 50), pct(ld->lat_rec_ms, n, 99),
           cpu, gen_s, ld->late);
}

int main(int argc, char **argv)
{
    struct load ld = {0};
    struct tsr_client_opts copts = {0};
    struct tsr_diag d = {0};
    json_t *body;
    long long v;
    int ch, rc = 1;
    double cpu0;

    ld.total = 5000;
    ld.per_consumer = 64;
    ld.first_poll_ms = 2;
    ld.max_poll_ms = 50;
    ld.timeout_s = 60;
    while ((ch = getopt(argc, argv, "u:o:n:c:r:p:P:t:h")) != -1) {
        switch (ch) {
        case 'u': ld.provider_url = optarg; break;
        case 'o': ld.offer_id = optarg; break;
        case 'n':
            if (num_opt(optarg, 1, 10000000, &v) != 0)
                return 2;
            ld.total = (size_t)v;
            break;
        case 'c':
            if (num_opt(optarg, 1, 100000, &v) != 0)
                return 2;
            ld.per_consumer = (size_t)v;
            break;
        case 'r':
            if (num_opt(optarg, 0, 1000000, &v) != 0)
                return 2;
            ld.rate = (double)v;
            break;
        case 'p':
            if (num_opt(optarg, 1, 60000, &v) != 0)
                return 2;
            ld.first_poll_ms = (unsigned)v;
            break;
        case 'P':
            if (num_opt(optarg, 1, 60000, &v) != 0)
                return 2;
            ld.max_poll_ms = (unsigned)v;
            break;
        case 't':
            if (num_opt(optarg, 1, 86400, &v) != 0)
                return 2;
            ld.timeout_s = (unsigned)v;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (ld.provider_url == NULL || ld.offer_id == NULL || optind != argc) {
        usage();
        return 2;
    }
    if (ld.max_poll_ms < ld.first_poll_ms)
        ld.max_poll_ms = ld.first_poll_ms;
    signal(SIGPIPE, SIG_IGN);
    tsr_log_set_ident("neg_load");
    if (getenv("TSR_DEBUG") != NULL)
        tsr_log_set_debug(getenv("TSR_DEBUG"));
    if (read_consumers(&ld) != 0) {
        usage();
        goto out;
    }
    body = json_pack("{s:s, s:s}", "provider_url", ld.provider_url, "offer_id", ld.offer_id);
    ld.post_body = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    ld.lat_full_ms = tsr_calloc(ld.total, sizeof(double));
    ld.lat_rec_ms = tsr_calloc(ld.total, sizeof(double));
    ld.lat_post_ms = tsr_calloc(ld.total, sizeof(double));
    ld.base = event_base_new();
    if (ld.post_body == NULL || ld.lat_full_ms == NULL || ld.lat_rec_ms == NULL ||
        ld.lat_post_ms == NULL || ld.base == NULL) {
        fprintf(stderr, "neg_load: out of memory\n");
        goto out;
    }
    copts.timeout_ms = (long)ld.timeout_s * 1000;
    copts.user_agent = "tessera-neg-load";
    if (tsr_client_new(&ld.client, ld.base, &copts, &d) != 0) {
        fprintf(stderr, "neg_load: %s\n", tsr_diag_msg(&d));
        goto out;
    }
    cpu0 = cpu_seconds();
    if (ld.rate > 0) {
        static const struct timeval ms = {0, 1000};
        ld.pace = event_new(ld.base, -1, EV_PERSIST, on_pace, &ld);
        if (ld.pace == NULL || event_add(ld.pace, &ms) != 0) {
            fprintf(stderr, "neg_load: cannot start the pacing timer\n");
            goto out;
        }
        ld.t0_us = mono_us();
        on_pace(-1, 0, &ld);
    } else {
        start_more(&ld);
    }
    if (!ld.fatal)
        event_base_dispatch(ld.base);
    if (ld.fatal || ld.finished != ld.total) {
        fprintf(stderr, "neg_load: stopped after %zu of %zu negotiations\n", ld.finished,
                ld.total);
        goto out;
    }
    report(&ld, cpu_seconds() - cpu0);
    rc = 0;
out:
    tsr_client_free(ld.client);
    if (ld.pace != NULL)
        event_free(ld.pace);
    if (ld.base != NULL)
        event_base_free(ld.base);
    for (size_t i = 0; i < ld.ncons; i++) {
        tsr_free(ld.cons[i].url);
        tsr_free_secret(ld.cons[i].key_hdr);
    }
    free(ld.post_body);
    tsr_free(ld.lat_full_ms);
    tsr_free(ld.lat_rec_ms);
    tsr_free(ld.lat_post_ms);
    return rc;
}
