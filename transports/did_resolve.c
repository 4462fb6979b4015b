/*
 * transports/did_resolve.c: did:web resolution with a bounded cache (see
 * transports/did_resolve.h).
 *
 * Each DID has one cache entry, found through a small hash table and kept
 * on an LRU list.  An entry is either pending (one fetch in flight, the
 * lookups waiting on it queued on the entry) or done (a document or an
 * error, with an expiry time).  Each lookup carries its own reference to
 * the outcome once known, so entries can be evicted or refreshed while
 * callbacks are still queued.  Every callback runs from dispatch(), from
 * the event loop.
 */
#include "lib/tsr.h"

#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "lib/buf.h"
#include "lib/did.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "transports/client.h"
#include "transports/did_resolve.h"

struct entry;

struct tsr_did_lookup {
    struct tsr_did_lookup *prev, *next; /* on an entry's waiters or the ready queue */
    struct tsr_did_resolver *r;
    struct entry *e; /* while waiting; NULL once on the ready queue */
    tsr_did_resolve_fn cb;
    void *arg;
    int rc;
    json_t *doc; /* own reference, once ready */
    struct tsr_diag diag;
};

struct lookup_list {
    struct tsr_did_lookup *head, *tail;
};

struct entry {
    struct entry *lru_prev, *lru_next; /* most recently used first */
    struct entry *hnext;
    uint32_t hash;
    char *did;
    char *url;
    bool pending;
    struct tsr_client_xfer *xfer;
    struct lookup_list waiters;
    int rc;
    json_t *doc;
    struct tsr_diag diag;
    long long done_ms;    /* when the outcome arrived */
    long long expires_ms; /* when it stops being served */
    struct tsr_did_resolver *r;
};

struct tsr_did_resolver {
    struct tsr_client *client;
    struct event *ready_ev; /* runs the ready queue from the loop */
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    struct entry *lru_head, *lru_tail;
    size_t nentries;
    struct lookup_list ready;
    size_t max_entries;
    long ttl_ms;
    long neg_ttl_ms;
    long timeout_ms;
    bool allow_http;
    int dispatching;
    bool free_pending;
};

static void destroy(struct tsr_did_resolver *r);

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a: the keys are DIDs a peer chose, but the table is small and bounded. */
static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* ---------------------------------------------------------------- lists */

static void list_push(struct lookup_list *list, struct tsr_did_lookup *l)
{
    l->next = NULL;
    l->prev = list->tail;
    if (list->tail != NULL)
        list->tail->next = l;
    else
        list->head = l;
    list->tail = l;
}

static void list_remove(struct lookup_list *list, struct tsr_did_lookup *l)
{
    if (l->prev != NULL)
        l->prev->next = l->next;
    else
        list->head = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
    else
        list->tail = l->prev;
    l->prev = l->next = NULL;
}

static void lookup_free(struct tsr_did_lookup *l)
{
    if (l == NULL)
        return;
    json_decref(l->doc);
    tsr_free(l);
}

static void lru_unlink(struct tsr_did_resolver *r, struct entry *e)
{
    if (e->lru_prev != NULL)
        e->lru_prev->lru_next = e->lru_next;
    else
        r->lru_head = e->lru_next;
    if (e->lru_next != NULL)
        e->lru_next->lru_prev = e->lru_prev;
    else
        r->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct tsr_did_resolver *r, struct entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = r->lru_head;
    if (r->lru_head != NULL)
        r->lru_head->lru_prev = e;
    else
        r->lru_tail = e;
    r->lru_head = e;
}

/* ---------------------------------------------------------------- entries */

static struct entry *entry_find(struct tsr_did_resolver *r, const char *did)
{
    uint32_t h = hash_str(did);
    for (struct entry *e = r->buckets[h & (r->nbuckets - 1)]; e != NULL; e = e->hnext) {
        if (e->hash == h && strcmp(e->did, did) == 0)
            return e;
    }
    return NULL;
}

/* Unhook e from the table and the LRU list, cancel its fetch, free it and its waiters. */
static void entry_remove(struct tsr_did_resolver *r, struct entry *e)
{
    struct entry **pp = &r->buckets[e->hash & (r->nbuckets - 1)];
    while (*pp != NULL && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp == e)
        *pp = e->hnext;
    lru_unlink(r, e);
    r->nentries--;
    tsr_client_cancel(e->xfer);
    while (e->waiters.head != NULL) {
        struct tsr_did_lookup *l = e->waiters.head;
        list_remove(&e->waiters, l);
        lookup_free(l);
    }
    json_decref(e->doc);
    tsr_free(e->did);
    tsr_free(e->url);
    tsr_free(e);
}

/* Make room for one more entry: drop the least recently used finished one. */
static int make_room(struct tsr_did_resolver *r, struct tsr_diag *d)
{
    if (r->nentries < r->max_entries)
        return 0;
    for (struct entry *e = r->lru_tail; e != NULL; e = e->lru_prev) {
        if (!e->pending) {
            tsr_log_debug(TSR_LC_DID, "%s: evicting %s", __func__, e->did);
            entry_remove(r, e);
            return 0;
        }
    }
    return tsr_diag_set(d, TSR_ELIMIT, "more than %zu DID lookups in flight", r->max_entries);
}

/* ---------------------------------------------------------------- dispatch */

/* Run every ready lookup's callback. */
static void dispatch(struct tsr_did_resolver *r)
{
    r->dispatching++;
    while (!r->free_pending && r->ready.head != NULL) {
        struct tsr_did_lookup *l = r->ready.head;
        list_remove(&r->ready, l);
        l->cb(l->arg, l->rc, l->rc == 0 ? l->doc : NULL, &l->diag);
        lookup_free(l);
    }
    r->dispatching--;
    if (r->dispatching == 0 && r->free_pending)
        destroy(r);
}

static void on_ready(evutil_socket_t fd, short events, void *arg)
{
    (void)fd;
    (void)events;
    dispatch(arg);
}

/* Give l a reference to e's outcome and queue it. */
static void make_ready(struct tsr_did_resolver *r, struct tsr_did_lookup *l,
                       const struct entry *e)
{
    l->e = NULL;
    l->rc = e->rc;
    l->doc = e->rc == 0 ? json_incref(e->doc) : NULL;
    l->diag = e->diag;
    list_push(&r->ready, l);
}

static void on_fetched(void *arg, struct tsr_client_resp *resp)
{
    struct entry *e = arg;
    struct tsr_did_resolver *r = e->r;
    long long now = now_ms();

    e->xfer = NULL;
    e->pending = false;
    tsr_diag_clear(&e->diag);
    if (resp->rc != 0) {
        e->rc = tsr_diag_set(&e->diag, resp->rc, "resolving %s: %s", e->did,
                             tsr_diag_msg(&resp->diag));
    } else if (resp->status == 200) {
        e->rc = tsr_did_doc_parse(e->did, resp->body.data, resp->body.len, &e->doc, &e->diag);
        if (e->rc != 0)
            tsr_diag_prefix(&e->diag, "resolving %s", e->did);
    } else if (resp->status == 404 || resp->status == 410) {
        e->rc = tsr_diag_set(&e->diag, TSR_ENOTFOUND,
                             "resolving %s: %s answered %d (no DID document)", e->did, e->url,
                             resp->status);
    } else {
        e->rc = tsr_diag_set(&e->diag, TSR_EUNAVAIL, "resolving %s: %s answered %d", e->did,
                             e->url, resp->status);
    }
    e->done_ms = now;
    /* Out of memory says nothing about the DID: do not remember it. */
    if (e->rc == 0)
        e->expires_ms = now + r->ttl_ms;
    else
        e->expires_ms = e->rc == TSR_ENOMEM ? now : now + r->neg_ttl_ms;
    tsr_log_debug(TSR_LC_DID, "%s: %s -> %d", __func__, e->did, e->rc);
    while (e->waiters.head != NULL) {
        struct tsr_did_lookup *l = e->waiters.head;
        list_remove(&e->waiters, l);
        make_ready(r, l, e);
    }
    dispatch(r);
}

/* ---------------------------------------------------------------- API */

static int start_fetch(struct tsr_did_resolver *r, struct entry *e, struct tsr_diag *d)
{
    static const char *const headers[] = {"Accept: application/did+json, application/json", NULL};
    struct tsr_client_req req = {
        .method = "GET",
        .url = e->url,
        .headers = headers,
        .flags = r->allow_http ? 0 : TSR_CLIENT_HTTPS_ONLY,
        .timeout_ms = r->timeout_ms,
        .max_body = TSR_DID_DOC_MAX,
    };
    return tsr_client_request(r->client, &req, on_fetched, e, &e->xfer, d);
}

/* The document URL of did, with http:// in the test-only mode. */
static int doc_url(struct tsr_did_resolver *r, const char *did, char **url, struct tsr_diag *d)
{
    int rc = tsr_did_web_to_url(did, url, d);
    if (rc != 0 || !r->allow_http)
        return rc;
    /* "https://x" -> "http://x": drop the 's' in place. */
    memmove(*url + 4, *url + 5, strlen(*url + 5) + 1);
    return 0;
}

int tsr_did_resolve(struct tsr_did_resolver *r, const char *did, tsr_did_resolve_fn cb,
                    void *arg, struct tsr_did_lookup **lookup, struct tsr_diag *d)
{
    struct tsr_did_lookup *l = NULL;
    struct entry *e;
    struct entry *fresh = NULL; /* allocated here, not yet in the table */
    char *url = NULL;
    int rc;

    if (lookup != NULL)
        *lookup = NULL;
    if (r == NULL || cb == NULL || r->free_pending)
        return tsr_diag_set(d, TSR_EINVAL, "no resolver or no callback");
    rc = doc_url(r, did, &url, d);
    if (rc != 0)
        goto out;
    l = tsr_calloc(1, sizeof(*l));
    if (l == NULL)
        goto nomem;
    l->r = r;
    l->cb = cb;
    l->arg = arg;

    e = entry_find(r, did);
    if (e != NULL && !e->pending && now_ms() >= e->expires_ms) {
        entry_remove(r, e);
        e = NULL;
    }
    if (e != NULL && !e->pending) {
        /* Cached: answer from the loop, never from inside this call. */
        struct timeval zero = {0, 0};
        if (evtimer_add(r->ready_ev, &zero) != 0) {
            rc = tsr_diag_set(d, TSR_EINTERNAL, "cannot schedule a DID lookup");
            goto out;
        }
        lru_unlink(r, e);
        lru_push_front(r, e);
        make_ready(r, l, e);
        goto done;
    }
    if (e != NULL) {
        l->e = e;
        list_push(&e->waiters, l);
        goto done;
    }

    rc = make_room(r, d);
    if (rc != 0)
        goto out;
    fresh = tsr_calloc(1, sizeof(*fresh));
    if (fresh == NULL)
        goto nomem;
    fresh->r = r;
    fresh->did = tsr_strdup(did);
    if (fresh->did == NULL)
        goto nomem;
    fresh->url = url;
    url = NULL;
    fresh->hash = hash_str(did);
    fresh->pending = true;
    rc = start_fetch(r, fresh, d);
    if (rc != 0)
        goto out;
    e = fresh;
    fresh = NULL;
    e->hnext = r->buckets[e->hash & (r->nbuckets - 1)];
    r->buckets[e->hash & (r->nbuckets - 1)] = e;
    lru_push_front(r, e);
    r->nentries++;
    tsr_log_debug(TSR_LC_DID, "%s: fetching %s", __func__, e->url);
    l->e = e;
    list_push(&e->waiters, l);
done:
    if (lookup != NULL)
        *lookup = l;
    l = NULL;
    rc = 0;
    goto out;
nomem:
    rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory resolving a DID");
out:
    if (fresh != NULL) {
        tsr_free(fresh->did);
        tsr_free(fresh->url);
        tsr_free(fresh);
    }
    lookup_free(l);
    tsr_free(url);
    return rc;
}

void tsr_did_resolve_cancel(struct tsr_did_lookup *l)
{
    if (l == NULL)
        return;
    if (l->e != NULL)
        list_remove(&l->e->waiters, l);
    else
        list_remove(&l->r->ready, l);
    lookup_free(l);
}

void tsr_did_resolver_invalidate(struct tsr_did_resolver *r, const char *did)
{
    struct entry *e;

    if (r == NULL || did == NULL || r->free_pending)
        return;
    e = entry_find(r, did);
    if (e == NULL || e->pending || now_ms() - e->done_ms < r->neg_ttl_ms)
        return;
    entry_remove(r, e);
}

size_t tsr_did_resolver_size(const struct tsr_did_resolver *r)
{
    return r == NULL ? 0 : r->nentries;
}

int tsr_did_resolver_new(struct tsr_did_resolver **out, struct tsr_client *client,
                         const struct tsr_did_resolver_opts *opts, struct tsr_diag *d)
{
    static const struct tsr_did_resolver_opts defaults;
    struct tsr_did_resolver *r = NULL;

    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    if (client == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "DID resolver without an HTTP client");
    if (opts->ttl_ms < 0 || opts->neg_ttl_ms < 0 || opts->timeout_ms < 0)
        return tsr_diag_set(d, TSR_EINVAL, "negative DID resolver time");
    r = tsr_calloc(1, sizeof(*r));
    if (r == NULL)
        goto nomem;
    r->client = client;
    r->max_entries =
        opts->max_entries > 0 ? opts->max_entries : TSR_DID_RESOLVE_DEFAULT_MAX_ENTRIES;
    r->ttl_ms = opts->ttl_ms > 0 ? opts->ttl_ms : TSR_DID_RESOLVE_DEFAULT_TTL_MS;
    r->neg_ttl_ms = opts->neg_ttl_ms > 0 ? opts->neg_ttl_ms : TSR_DID_RESOLVE_DEFAULT_NEG_TTL_MS;
    r->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : TSR_DID_RESOLVE_DEFAULT_TIMEOUT_MS;
    r->allow_http = opts->allow_http;
    r->nbuckets = 16;
    while (r->nbuckets < r->max_entries && r->nbuckets < ((size_t)1 << 20))
        r->nbuckets <<= 1;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, so pointer-sized */
    r->buckets = tsr_calloc(r->nbuckets, sizeof(*r->buckets));
    r->ready_ev = evtimer_new(tsr_client_base(client), on_ready, r);
    if (r->buckets == NULL || r->ready_ev == NULL)
        goto nomem;
    *out = r;
    return 0;
nomem:
    tsr_did_resolver_free(r);
    return tsr_diag_set(d, TSR_ENOMEM, "out of memory creating a DID resolver");
}

void tsr_did_resolver_free(struct tsr_did_resolver *r)
{
    if (r == NULL || r->free_pending)
        return;
    while (r->lru_head != NULL)
        entry_remove(r, r->lru_head);
    while (r->ready.head != NULL) {
        struct tsr_did_lookup *l = r->ready.head;
        list_remove(&r->ready, l);
        lookup_free(l);
    }
    if (r->dispatching > 0) {
        /* Inside a callback: dispatch() finishes the job when it returns. */
        r->free_pending = true;
        return;
    }
    destroy(r);
}

static void destroy(struct tsr_did_resolver *r)
{
    if (r->ready_ev != NULL)
        event_free(r->ready_ev);
    tsr_free(r->buckets);
    tsr_free(r);
}
