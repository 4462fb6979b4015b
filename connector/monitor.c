/*
 * connector/monitor.c: the provider's policy monitor.  Each STARTED
 * provider transfer has a timer at the next moment its agreement's
 * outcome may change because of time (tsr_policy_next_boundary).  When
 * the timer fires and the agreement no longer permits use, the transfer
 * is terminated (TERMINATED + TransferTerminationMessage through the
 * outbox), so that the consumer stops pulling; otherwise the timer is set
 * again at the following boundary.  Nothing is stored: the timers are
 * rebuilt from the store's STARTED transfers at start.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "connector/dsp_int.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/time.h"

/* A far boundary is checked again at least this often (clock changes, cheap). */
#define MONITOR_MAX_SLEEP_MS (24LL * 3600 * 1000)

struct tsr_dsp_watch {
    struct tsr_dsp_watch *prev, *next;
    struct tsr_dsp *dsp;
    char *transfer_id;
    struct event *timer;
};

static void watch_free(struct tsr_dsp_watch *w)
{
    struct tsr_dsp *dsp = w->dsp;

    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        dsp->watches = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    if (w->timer != NULL)
        event_free(w->timer);
    tsr_free(w->transfer_id);
    tsr_free(w);
}

void tsr_dsp__monitor_free(struct tsr_dsp *dsp)
{
    while (dsp->watches != NULL)
        watch_free(dsp->watches);
}

static struct tsr_dsp_watch *find(struct tsr_dsp *dsp, const char *transfer_id)
{
    for (struct tsr_dsp_watch *w = dsp->watches; w != NULL; w = w->next)
        if (strcmp(w->transfer_id, transfer_id) == 0)
            return w;
    return NULL;
}

/* Wait until at_ms (wall clock); UNSET: forget the watch. */
static void arm(struct tsr_dsp_watch *w, int64_t at_ms, int64_t now_ms)
{
    if (at_ms == TSR_ODRL_TIME_UNSET) {
        watch_free(w);
        return;
    }
    int64_t wait = at_ms - now_ms;
    wait = TSR_MAX(wait, 1);
    wait = TSR_MIN(wait, MONITOR_MAX_SLEEP_MS);
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000)};
    evtimer_add(w->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg);

/*
 * Decide about transfer id now: terminate it if its agreement stopped
 * holding, else arm w (may be NULL: none yet) at the next boundary.
 * Returns true when it is (or was already) no longer STARTED.
 */
static bool check(struct tsr_dsp *dsp, struct tsr_dsp_watch *w, const char *id)
{
    struct tsr_store_tp *t = NULL;
    struct tsr_store_agreement *a = NULL;
    struct tsr_diag d = {0};
    int64_t now = tsr_time_now_ms();
    bool gone = true;

    if (tsr_store_tp_get(dsp->st, id, &t, NULL) != 0 ||
        strcmp(t->role, TSR_STORE_ROLE_PROVIDER) != 0 || strcmp(t->state, "STARTED") != 0 ||
        tsr_store_agreement_get(dsp->st, t->agreement_id, &a, NULL) != 0) {
        if (w != NULL)
            watch_free(w);
        goto out;
    }
    int rc = tsr_policy_holds(dsp->policy, a, t->counterparty_did, now, &d);
    if (rc == TSR_EPOLICY || rc == TSR_EINVAL) {
        char why[TSR_DIAG_MAX + 32];
        snprintf(why, sizeof(why), "policy: %s", tsr_diag_msg(&d));
        tsr_log_info(TSR_LC_POLICY, "transfer %s: terminating, %s", t->id, why);
        if (w != NULL)
            watch_free(w);
        if (tsr_dsp_transfer_terminate(dsp, t->id, why, &d) != 0)
            tsr_log_warn(TSR_LC_POLICY, "transfer %s: cannot terminate: %s", t->id,
                         tsr_diag_msg(&d));
        goto out;
    }
    gone = false;
    if (w == NULL) {
        w = tsr_calloc(1, sizeof(*w));
        if (w == NULL)
            goto out;
        w->dsp = dsp;
        w->transfer_id = tsr_strdup(id);
        w->timer = NULL;
        w->next = dsp->watches;
        if (dsp->watches != NULL)
            dsp->watches->prev = w;
        dsp->watches = w;
        if (w->transfer_id == NULL)
            goto fail;
    }
    if (w->timer == NULL) {
        w->timer = evtimer_new(dsp->base, on_timer, w);
        if (w->timer == NULL)
            goto fail;
    }
    /* An error reading the counter (rc < 0, not a refusal) retries a second later. */
    arm(w, rc == 0 ? tsr_policy_next_boundary(dsp->policy, a, t->counterparty_did, now)
                   : now + 1000,
        now);
    goto out;
fail:
    tsr_log_warn(TSR_LC_POLICY, "transfer %s: out of memory for its policy monitor", id);
    watch_free(w);
out:
    tsr_store_tp_free(t);
    tsr_store_agreement_free(a);
    return gone;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct tsr_dsp_watch *w = arg;
    char id[TSR_STORE_ID_MAX + 1];

    (void)fd;
    (void)what;
    /* check() may free w: work on a copy of the id. */
    snprintf(id, sizeof(id), "%s", w->transfer_id);
    (void)check(w->dsp, w, id);
}

bool tsr_dsp__monitor_watch(struct tsr_dsp *dsp, const char *transfer_id)
{
    struct tsr_dsp_watch *w;

    if (dsp->policy == NULL)
        return false;
    w = find(dsp, transfer_id);
    if (w != NULL && w->timer != NULL)
        evtimer_del(w->timer);
    return check(dsp, w, transfer_id);
}

void tsr_dsp__monitor_recover(struct tsr_dsp *dsp)
{
    struct tsr_store_tp *v = NULL;
    size_t n = 0;
    struct tsr_store_filter f = {.role = TSR_STORE_ROLE_PROVIDER, .state = "STARTED",
                                 .limit = TSR_STORE_LIST_MAX};

    if (dsp->policy == NULL)
        return;
    /* Also terminates at once what expired while the daemon was down; those
     * leave the STARTED list, so the next page starts fewer rows on. */
    for (;;) {
        size_t kept = 0;
        if (tsr_store_tp_list(dsp->st, &f, &v, &n, NULL) != 0)
            return;
        for (size_t i = 0; i < n; i++)
            kept += tsr_dsp__monitor_watch(dsp, v[i].id) ? 0 : 1;
        tsr_store_tp_array_free(v, n);
        v = NULL;
        if (n < TSR_STORE_LIST_MAX)
            break;
        f.offset += kept;
    }
}
