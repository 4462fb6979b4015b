/*
 * connector/usage_mgmt.c: the management API's vault and ledger routes
 * (connector/usage_mgmt.h).  Only translation between HTTP and
 * connector/usage.h; the decisions are made there.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "connector/mgmt.h"
#include "connector/usage.h"
#include "connector/usage_mgmt.h"
#include "contracts/vault.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "transports/http.h"

/* Longest purpose accepted. */
#define PURPOSE_MAX 2048

/* The answer of a call that returned rc and j (stolen; NULL on error). */
static void answer(struct tsr_http_req *req, int rc, const struct tsr_diag *d, json_t *j)
{
    if (rc != 0) {
        json_decref(j);
        tsr_mgmt_reply_diag(req, rc, d);
    } else {
        tsr_mgmt_reply(req, 200, j);
    }
}

/* The usage control, or a 503 answer when tesserad runs without it. */
static struct tsr_usage *usage_of(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    struct tsr_usage *u = tsr_mgmt_usage(m);
    struct tsr_diag d = {0};

    if (u == NULL)
        tsr_mgmt_reply_diag(req, tsr_diag_set(&d, TSR_EUNAVAIL, "usage control is not running"),
                            &d);
    return u;
}

static int query_size(struct tsr_http_req *req, const char *name, long long min, long long max,
                      size_t *out, struct tsr_diag *d);

/* A list answer (stolen) with the page it is: offset and limit, as every list has. */
static json_t *paged(json_t *j, size_t offset, size_t limit)
{
    if (j != NULL &&
        (json_object_set_new(j, "offset", json_integer((json_int_t)offset)) != 0 ||
         json_object_set_new(j, "limit", json_integer(limit == 0 ? 1000 : (json_int_t)limit)))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

void tsr_usage_mgmt_vault_list(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    struct tsr_usage *u = usage_of(m, req);
    struct tsr_diag d = {0};
    size_t limit = 0, offset = 0;
    json_t *j = NULL;
    int rc;

    if (u == NULL)
        return;
    rc = query_size(req, "limit", 1, 1000, &limit, &d);
    if (rc == 0)
        rc = query_size(req, "offset", 0, 1000000000LL, &offset, &d);
    if (rc == 0)
        rc = tsr_usage_vault_list(u, offset, limit, &j, &d);
    answer(req, rc, &d, paged(j, offset, limit));
}

void tsr_usage_mgmt_vault_get(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    struct tsr_usage *u = usage_of(m, req);
    struct tsr_diag d = {0};
    json_t *j = NULL;
    int rc;

    if (u == NULL)
        return;
    rc = tsr_usage_vault_get(u, tsr_http_req_param(req, "id"), &j, &d);
    answer(req, rc, &d, j);
}

static ssize_t content_read(void *arg, uint8_t *buf, size_t len, bool *eof)
{
    struct tsr_diag d = {0};
    ssize_t n = tsr_vault_reader_read(arg, buf, len, eof, &d);

    /* A segment that fails now aborts the answer: the client must not take it as whole. */
    return n < 0 ? TSR_ECRYPTO : n;
}

static void content_close(void *arg)
{
    tsr_vault_reader_free(arg);
}

void tsr_usage_mgmt_vault_content(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    struct tsr_usage *u = usage_of(m, req);
    struct tsr_vault_reader *r = NULL;
    struct tsr_vault_obj *o = NULL;
    struct tsr_diag d = {0};
    char *purpose = NULL;
    int rc;

    if (u == NULL)
        return;
    purpose = tsr_http_req_query_param(req, "purpose");
    if (purpose != NULL && (purpose[0] == '\0' || strlen(purpose) > PURPOSE_MAX ||
                            !tsr_str_is_printable(purpose, strlen(purpose)))) {
        tsr_mgmt_reply_diag(req, tsr_diag_set(&d, TSR_EINVAL, "purpose: 1..%d printable "
                                              "characters", PURPOSE_MAX), &d);
        goto out;
    }
    rc = tsr_usage_open(u, tsr_http_req_param(req, "id"), purpose, &r, &o, &d);
    if (rc != 0) {
        tsr_mgmt_reply_diag(req, rc, &d);
        goto out;
    }
    struct tsr_http_source src = {content_read, content_close, r};
    struct tsr_http_header h[] = {
        {"content-type", o->media_type != NULL ? o->media_type : "application/octet-stream"},
        {"x-content-sha256", o->sha256}};
    tsr_http_respond_stream(req, 200, h, TSR_ARRAY_SIZE(h), o->size, &src);
out:
    tsr_vault_obj_free(o);
    tsr_free(purpose);
}

void tsr_usage_mgmt_vault_delete(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    struct tsr_usage *u = usage_of(m, req);
    struct tsr_diag d = {0};
    int rc;

    if (u == NULL)
        return;
    rc = tsr_usage_vault_remove(u, tsr_http_req_param(req, "id"), &d);
    if (rc != 0)
        tsr_mgmt_reply_diag(req, rc, &d);
    else
        tsr_http_respond(req, 204, NULL, 0, NULL, 0);
}

/* A numeric query parameter in [min, max], or 0 when absent. */
static int query_size(struct tsr_http_req *req, const char *name, long long min, long long max,
                      size_t *out, struct tsr_diag *d)
{
    char *s = tsr_http_req_query_param(req, name);
    long long v = 0;
    int rc = 0;

    *out = 0;
    if (s == NULL)
        return 0;
    if (tsr_parse_ll(s, min, max, &v) != 0)
        rc = tsr_diag_set(d, TSR_EINVAL, "query parameter %s: a number in %lld..%lld", name, min,
                          max);
    else
        *out = (size_t)v;
    tsr_free(s);
    return rc;
}

void tsr_usage_mgmt_ledger(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    struct tsr_usage *u = usage_of(m, req);
    struct tsr_diag d = {0};
    char *agreement = NULL;
    size_t limit = 0, offset = 0;
    json_t *j = NULL;
    int rc;

    if (u == NULL)
        return;
    agreement = tsr_http_req_query_param(req, "agreement");
    rc = query_size(req, "limit", 1, 1000, &limit, &d);
    if (rc == 0)
        rc = query_size(req, "offset", 0, 1000000000LL, &offset, &d);
    if (rc == 0)
        rc = tsr_usage_ledger_list(u, agreement, offset, limit, &j, &d);
    answer(req, rc, &d, paged(j, offset, limit));
    tsr_free(agreement);
}

void tsr_usage_mgmt_ledger_verify(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    struct tsr_usage *u = usage_of(m, req);
    struct tsr_diag d = {0};
    json_t *j = NULL;
    int rc;

    if (u == NULL)
        return;
    rc = tsr_usage_ledger_verify(u, &j, &d);
    answer(req, rc, &d, j);
}

/* A request waiting for a consumer's extract. */
struct wait {
    struct tsr_usage *u;
    struct tsr_http_req *req;
    void *handle;
};

static void wait_abort(struct tsr_http_req *req, void *arg)
{
    struct wait *w = arg;

    (void)req;
    tsr_usage_cancel(w->u, w->handle); /* frees w */
}

static void on_extract(void *arg, int rc, json_t *result, const struct tsr_diag *d)
{
    struct wait *w = arg;

    tsr_http_req_on_abort(w->req, NULL, NULL);
    if (rc != 0)
        tsr_mgmt_reply_diag(w->req, rc, d);
    else
        tsr_mgmt_reply(w->req, 200, json_incref(result));
    tsr_free(w);
}

void tsr_usage_mgmt_agreement_ledger(struct tsr_mgmt *m, struct tsr_http_req *req)
{
    struct tsr_usage *u = usage_of(m, req);
    struct tsr_diag d = {0};
    struct wait *w;
    int rc;

    if (u == NULL)
        return;
    w = tsr_calloc(1, sizeof(*w));
    if (w == NULL) {
        tsr_mgmt_reply_diag(req, tsr_diag_set(&d, TSR_ENOMEM, "out of memory"), &d);
        return;
    }
    w->u = u;
    w->req = req;
    rc = tsr_usage_fetch_extract(u, tsr_http_req_param(req, "id"), on_extract, w, &w->handle, &d);
    if (rc != 0) {
        tsr_free(w);
        tsr_mgmt_reply_diag(req, rc, &d);
        return;
    }
    tsr_http_req_on_abort(req, wait_abort, w);
}
