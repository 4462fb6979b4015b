/*
 * connector/cli/api.c: the management API client shared by the `tessera`
 * commands (connector/cli/api.h): one synchronous call per request on a
 * private loop (transports/client.h), errors turned into exit statuses
 * and messages, and the helpers that format answers for people.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"
#include "lib/buf.h"
#include "lib/json.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "transports/client.h"

/* The longest request URL built (base URL plus path and query). */
#define URL_MAX 8192
/* Connecting to a local daemon either works at once or not at all. */
#define CONNECT_TIMEOUT_MS 5000L
/* Nesting accepted in answers (policies nest a little deeper than most). */
#define ANSWER_DEPTH 64
/* tsr_cli_api_wait polls fast at first (a loopback negotiation takes milliseconds), then calmly. */
#define WAIT_FIRST_MS 50L
#define WAIT_MAX_MS 1000L
/* Width of the label column of tsr_cli_print_object. */
#define LABEL_WIDTH 18

/* ------------------------------------------------------------ the call */

/* The message of an error answer: its "error" member, or the status and start of the body. */
static void answer_message(const struct tsr_client_resp *resp, const char *url, char *msg,
                           size_t size, bool *unreachable)
{
    json_t *j = NULL;
    const char *err = NULL, *code = NULL;
    struct tsr_json_limits lim = TSR_JSON_LIMITS_DEFAULT;

    *unreachable = false;
    if (resp->body.len > 0 &&
        tsr_json_parse(resp->body.data, resp->body.len, &lim, &j, NULL) == 0) {
        (void)tsr_json_get_str(j, "error", false, &err, NULL);
        (void)tsr_json_get_str(j, "code", false, &code, NULL);
    }
    if (err != NULL) {
        snprintf(msg, size, "%s", err);
        /* The connector could not reach the peer it was asked to talk to. */
        *unreachable = code != NULL && (strcmp(code, "unavailable") == 0 ||
                                        strcmp(code, "timeout") == 0);
    } else {
        /* Not our daemon's answer (a proxy, another server on the port). */
        size_t n = strcspn(tsr_buf_str(&resp->body), "\r\n");

        snprintf(msg, size, "HTTP %d from %s%s%.*s", resp->status, url, n > 0 ? ": " : "",
                 (int)TSR_MIN(n, (size_t)200), tsr_buf_str(&resp->body));
        *unreachable = resp->status == 502 || resp->status == 503 || resp->status == 504;
    }
    json_decref(j);
    /* A message goes to a terminal: no control characters from the network. */
    for (char *p = msg; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
}

/* tsr_cli_api_call, or with write_cb a streamed 2xx body (tsr_cli_api_stream). */
static int api_call(struct tsr_cli *cli, const char *method, const char *path,
                    const json_t *body, json_t **out, tsr_client_write_fn write_cb,
                    void *write_arg)
{
    struct tsr_client_opts opts = {
        .connect_timeout_ms = CONNECT_TIMEOUT_MS,
        .timeout_ms = TSR_CLI_API_TIMEOUT_MS,
        .max_body = TSR_CLI_API_MAX_ANSWER,
    };
    struct tsr_json_limits lim = TSR_JSON_LIMITS_DEFAULT;
    struct tsr_client_req req = {0};
    struct tsr_client_resp resp;
    struct tsr_buf url, keyhdr;
    const char *base = NULL, *key = NULL;
    const char *headers[4];
    char *text = NULL;
    size_t len = 0, nh = 0;
    int rc, status;

    if (out != NULL)
        *out = NULL;
    tsr_client_resp_init(&resp);
    tsr_buf_init(&url, URL_MAX);
    tsr_buf_init(&keyhdr, 1024);
    status = tsr_cli_api(cli, &base, &key);
    if (status != TSR_CLI_EXIT_OK)
        goto out;
    if (tsr_buf_addf(&url, "%s%s", base, path) != 0 ||
        tsr_buf_addf(&keyhdr, "X-Api-Key: %s", key) != 0) {
        status = tsr_cli_fail(cli, "request URL or API key too long");
        goto out;
    }
    headers[nh++] = tsr_buf_str(&keyhdr);
    headers[nh++] = "Accept: application/json";
    if (body != NULL) {
        rc = tsr_json_dumps(body, JSON_COMPACT, TSR_CLI_API_MAX_ANSWER, &text, &len);
        if (rc != 0) {
            status = tsr_cli_fail(cli, "cannot encode the request: %s", tsr_strerror(rc));
            goto out;
        }
        headers[nh++] = "Content-Type: application/json";
    }
    headers[nh] = NULL;
    req.method = method;
    req.url = tsr_buf_str(&url);
    req.headers = headers;
    req.body = text;
    req.body_len = len;
    req.write_cb = write_cb;
    req.write_arg = write_arg;
    rc = tsr_client_fetch_sync(&opts, &req, &resp);
    if (rc != 0) {
        /* Our own request could not be sent, or the connector did not answer. */
        if (rc == TSR_EINVAL || rc == TSR_ELIMIT || rc == TSR_ENOMEM) {
            status = tsr_cli_fail_diag(cli, rc, &resp.diag, tsr_buf_str(&url));
        } else {
            tsr_cli_fail(cli, "cannot reach the connector at %s: %s (is tesserad running? "
                              "start it with 'tesserad -c DIR/tessera.conf')",
                         base, tsr_diag_msg(&resp.diag));
            status = TSR_CLI_EXIT_UNREACHABLE;
        }
        goto out;
    }
    if (resp.status < 200 || resp.status > 299) {
        char msg[TSR_DIAG_MAX];
        bool unreachable;

        answer_message(&resp, tsr_buf_str(&url), msg, sizeof(msg), &unreachable);
        status = tsr_cli_fail(cli, "%s", msg);
        if (unreachable)
            status = TSR_CLI_EXIT_UNREACHABLE;
        goto out;
    }
    status = TSR_CLI_EXIT_OK;
    if (out != NULL && resp.body.len > 0) {
        struct tsr_diag d = {0};

        lim.max_bytes = TSR_CLI_API_MAX_ANSWER;
        lim.max_depth = ANSWER_DEPTH;
        lim.max_members = TSR_CLI_API_LIST_MAX;
        rc = tsr_json_parse(resp.body.data, resp.body.len, &lim, out, &d);
        if (rc != 0)
            status = tsr_cli_fail(cli, "the connector's answer is not valid JSON: %s",
                                  tsr_diag_msg(&d));
    }
out:
    tsr_free(text);
    tsr_buf_cleanup_secret(&keyhdr);
    tsr_buf_cleanup(&url);
    tsr_client_resp_cleanup(&resp);
    return status;
}

int tsr_cli_api_call(struct tsr_cli *cli, const char *method, const char *path,
                     const json_t *body, json_t **out)
{
    return api_call(cli, method, path, body, out, NULL, NULL);
}

int tsr_cli_api_stream(struct tsr_cli *cli, const char *path, tsr_client_write_fn write_cb,
                       void *arg)
{
    return api_call(cli, "GET", path, NULL, NULL, write_cb, arg);
}

int tsr_cli_api_list(struct tsr_cli *cli, const char *path, json_t **items)
{
    json_t *all = json_array();
    size_t offset = 0;
    char page[4096];
    int status = TSR_CLI_EXIT_OK;

    *items = NULL;
    if (all == NULL)
        return tsr_cli_fail(cli, "out of memory");
    for (;;) {
        json_t *ans = NULL, *v;
        size_t n, i;
        int w = snprintf(page, sizeof(page), "%s%climit=%d&offset=%zu", path,
                         strchr(path, '?') != NULL ? '&' : '?', TSR_CLI_API_PAGE, offset);

        if (w < 0 || (size_t)w >= sizeof(page)) {
            status = tsr_cli_fail(cli, "request path too long");
            break;
        }
        status = tsr_cli_api_call(cli, "GET", page, NULL, &ans);
        if (status != TSR_CLI_EXIT_OK)
            break;
        v = json_object_get(ans, "items");
        if (!json_is_array(v)) {
            json_decref(ans);
            status = tsr_cli_fail(cli, "the connector's answer has no list of items");
            break;
        }
        n = json_array_size(v);
        for (i = 0; i < n; i++) {
            if (json_array_append(all, json_array_get(v, i)) != 0)
                break;
        }
        json_decref(ans);
        if (i < n) {
            status = tsr_cli_fail(cli, "out of memory");
            break;
        }
        offset += n;
        if (n < TSR_CLI_API_PAGE || offset >= TSR_CLI_API_LIST_MAX)
            break;
    }
    if (status != TSR_CLI_EXIT_OK) {
        json_decref(all);
        return status;
    }
    *items = all;
    return TSR_CLI_EXIT_OK;
}

int tsr_cli_api_wait(struct tsr_cli *cli, const char *path, const char *const *states,
                     long long timeout_s, tsr_cli_api_progress_fn progress, void *arg,
                     json_t **out)
{
    int64_t deadline = tsr_time_mono_ms() + timeout_s * 1000;
    long interval_ms = WAIT_FIRST_MS;
    json_t *ans = NULL;
    const char *state;
    int rc;

    *out = NULL;
    for (;;) {
        rc = tsr_cli_api_call(cli, "GET", path, NULL, &ans);
        if (rc != TSR_CLI_EXIT_OK)
            return rc;
        if (progress != NULL)
            progress(ans, arg);
        state = tsr_cli_jstr(ans, "state");
        for (size_t i = 0; states[i] != NULL; i++) {
            if (strcmp(states[i], state) == 0) {
                *out = ans;
                return TSR_CLI_EXIT_OK;
            }
        }
        int64_t left = deadline - tsr_time_mono_ms();
        if (left <= 0) {
            rc = tsr_cli_fail(cli, "timed out after %lld s waiting; %s is still %s", timeout_s,
                              tsr_cli_jstr(ans, "id"), state);
            json_decref(ans);
            return rc;
        }
        json_decref(ans);
        ans = NULL;
        long ms = (long)TSR_MIN((int64_t)interval_ms, left);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        interval_ms = TSR_MIN(interval_ms * 2, WAIT_MAX_MS);
    }
}

int tsr_cli_api_start(struct tsr_cli *cli, const char *collection, const json_t *body,
                      const char *const *states, long long timeout_s,
                      tsr_cli_api_progress_fn progress, void *arg, json_t **out)
{
    json_t *obj = NULL;
    char *path = NULL;
    int rc;

    *out = NULL;
    rc = tsr_cli_api_call(cli, "POST", collection, body, &obj);
    if (rc != TSR_CLI_EXIT_OK || states == NULL) {
        *out = obj;
        return rc;
    }
    path = tsr_cli_api_path(collection, tsr_cli_jstr(obj, "id"), NULL);
    if (path == NULL)
        rc = tsr_cli_fail(cli, "out of memory");
    else
        rc = tsr_cli_api_wait(cli, path, states, timeout_s, progress, arg, out);
    tsr_free(path);
    json_decref(obj);
    return rc;
}

int tsr_cli_negotiate(struct tsr_cli *cli, const char *url, const char *offer, bool wait,
                      long long timeout_s, json_t **neg_out)
{
    static const char *const final[] = {"FINALIZED", "TERMINATED", NULL};
    json_t *body, *neg = NULL;
    int rc;

    *neg_out = NULL;
    body = json_pack("{s:s, s:s}", "provider_url", url, "offer_id", offer);
    if (body == NULL)
        return tsr_cli_fail(cli, "the offer id must be UTF-8 text");
    rc = tsr_cli_api_start(cli, "/negotiations", body, wait ? final : NULL, timeout_s, NULL, NULL,
                           &neg);
    json_decref(body);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (wait && strcmp(tsr_cli_jstr(neg, "state"), "TERMINATED") == 0) {
        rc = tsr_cli_fail(cli, "negotiation %s for offer %s terminated: %s (see 'tessera "
                               "catalog fetch %s' for the offers and their policies)",
                          tsr_cli_jstr(neg, "id"), offer, tsr_cli_jstr(neg, "error"), url);
        json_decref(neg);
        return rc;
    }
    *neg_out = neg;
    return TSR_CLI_EXIT_OK;
}

char *tsr_cli_api_path(const char *collection, const char *id, const char *suffix)
{
    static const char hex[] = "0123456789ABCDEF";
    struct tsr_buf b;
    int rc;

    tsr_buf_init(&b, URL_MAX);
    rc = tsr_buf_adds(&b, collection);
    if (rc == 0)
        rc = tsr_buf_adds(&b, "/");
    for (const unsigned char *p = (const unsigned char *)id; rc == 0 && *p != '\0'; p++) {
        /* RFC 3986 unreserved characters and ':' pass; the rest is escaped. */
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~:", *p) != NULL) {
            rc = tsr_buf_add(&b, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};

            rc = tsr_buf_add(&b, e, 3);
        }
    }
    if (rc == 0 && suffix != NULL)
        rc = tsr_buf_addf(&b, "/%s", suffix);
    if (rc != 0) {
        tsr_buf_cleanup(&b);
        return NULL;
    }
    char *s = tsr_buf_steal(&b, NULL);
    tsr_buf_cleanup(&b);
    return s;
}

int tsr_cli_abs_path(struct tsr_cli *cli, const char *path, char **out)
{
    char cwd[PATH_MAX];
    size_t n;

    *out = NULL;
    if (path[0] == '/') {
        *out = tsr_strdup(path);
    } else {
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return tsr_cli_fail(cli, "cannot tell the current folder: %s", strerror(errno));
        n = strlen(cwd) + 1 + strlen(path) + 1;
        *out = tsr_malloc(n);
        if (*out != NULL)
            snprintf(*out, n, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", path);
    }
    if (*out == NULL)
        return tsr_cli_fail(cli, "out of memory");
    return TSR_CLI_EXIT_OK;
}

/* ------------------------------------------------------------ output for people */

const char *tsr_cli_jstr(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s != NULL ? s : "-";
}

void tsr_cli_fmt_size(int64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v;
    size_t u = 0;

    if (bytes < 0) {
        snprintf(buf, size, "-");
        return;
    }
    if (bytes < 1024) {
        snprintf(buf, size, "%lld B", (long long)bytes);
        return;
    }
    v = (double)bytes / 1024.0;
    while (v >= 1024.0 && u + 1 < TSR_ARRAY_SIZE(units)) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, size, v < 10.0 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void tsr_cli_fmt_time(const char *rfc3339, char *buf, size_t size)
{
    /* "2026-01-02T03:04:05.678Z" as the daemon writes it: UTC, so the clock part is enough. */
    if (rfc3339 != NULL && strlen(rfc3339) >= 20 && rfc3339[10] == 'T' &&
        rfc3339[strlen(rfc3339) - 1] == 'Z')
        snprintf(buf, size, "%.10s %.8s", rfc3339, rfc3339 + 11);
    else
        snprintf(buf, size, "%s", rfc3339 != NULL ? rfc3339 : "-");
}

/* Replace control characters, so that text from peers cannot drive the terminal. */
static void sanitise(char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
    }
}

/* Characters (UTF-8 code points) in s, for column widths. */
static size_t width(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++) {
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    }
    return n;
}

/* Byte length of the first w characters of s. */
static size_t prefix_bytes(const char *s, size_t w)
{
    size_t i = 0, n = 0;

    for (; s[i] != '\0'; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (n == w)
                break;
            n++;
        }
    }
    return i;
}

/* One value of tsr_cli_print_object as a line of text (new string), NULL: print it as JSON. */
static char *value_text(const char *key, const json_t *v)
{
    char buf[256];
    struct tsr_buf b;

    if (json_is_null(v))
        return tsr_strdup("-");
    if (json_is_string(v)) {
        if (tsr_str_endswith(key, "_at")) {
            tsr_cli_fmt_time(json_string_value(v), buf, sizeof(buf));
            return tsr_strdup(buf);
        }
        return tsr_strdup(json_string_value(v));
    }
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);

        if (strcmp(key, "size") == 0 || strcmp(key, "bytes") == 0) {
            char sz[32];

            tsr_cli_fmt_size(n, sz, sizeof(sz));
            if (n < 1024)
                snprintf(buf, sizeof(buf), "%s", sz);
            else
                snprintf(buf, sizeof(buf), "%s (%lld bytes)", sz, (long long)n);
        } else {
            snprintf(buf, sizeof(buf), "%lld", (long long)n);
        }
        return tsr_strdup(buf);
    }
    if (json_is_boolean(v))
        return tsr_strdup(json_is_true(v) ? "yes" : "no");
    if (json_is_array(v)) {
        size_t i;
        json_t *e;

        tsr_buf_init(&b, 64 * 1024);
        json_array_foreach(v, i, e) {
            if (!json_is_string(e)) {
                tsr_buf_cleanup(&b);
                return NULL;
            }
            if (tsr_buf_addf(&b, "%s%s", i > 0 ? ", " : "", json_string_value(e)) != 0)
                break;
        }
        if (json_array_size(v) == 0)
            (void)tsr_buf_adds(&b, "-");
        char *s = tsr_buf_steal(&b, NULL);
        tsr_buf_cleanup(&b);
        return s;
    }
    return NULL;
}

void tsr_cli_print_object(const json_t *obj, const char *const *skip, FILE *fp)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v) {
        char label[64];
        char *text;
        bool skipped = false;

        for (size_t i = 0; skip != NULL && skip[i] != NULL; i++)
            skipped = skipped || strcmp(skip[i], key) == 0;
        if (skipped)
            continue;
        snprintf(label, sizeof(label), "%s", key);
        for (char *p = label; *p != '\0'; p++) {
            if (*p == '_')
                *p = ' ';
        }
        text = value_text(key, v);
        if (text != NULL) {
            sanitise(text);
            fprintf(fp, "%-*s %s\n", LABEL_WIDTH, label, text);
            tsr_free(text);
            continue;
        }
        /* Objects (a policy, an offer): indented JSON below the label. */
        char *json = NULL;
        if (tsr_json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER, TSR_CLI_API_MAX_ANSWER,
                           &json, NULL) != 0) {
            fprintf(fp, "%-*s (cannot show)\n", LABEL_WIDTH, label);
            continue;
        }
        fprintf(fp, "%s:\n  ", label);
        for (const char *p = json; *p != '\0'; p++) {
            fputc((unsigned char)*p < 0x20 && *p != '\n' ? '?' : *p, fp);
            if (*p == '\n')
                fputs("  ", fp);
        }
        fputc('\n', fp);
        tsr_free(json);
    }
}

int tsr_cli_table_init(struct tsr_cli_table *t, size_t ncols, const char *const *headers)
{
    memset(t, 0, sizeof(*t));
    if (ncols == 0 || ncols > TSR_CLI_TABLE_MAX_COLS)
        return TSR_EINVAL;
    t->ncols = ncols;
    return tsr_cli_table_add(t, headers);
}

int tsr_cli_table_add(struct tsr_cli_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap == 0 ? 16 : t->cap * 2;
        char **c = tsr_realloc(t->cells, cap * t->ncols * sizeof(*c));

        if (c == NULL)
            return TSR_ENOMEM;
        t->cells = c;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        char *s = tsr_strdup(cells[i] != NULL ? cells[i] : "-");

        if (s == NULL) {
            while (i-- > 0)
                tsr_free(t->cells[t->nrows * t->ncols + i]);
            return TSR_ENOMEM;
        }
        sanitise(s);
        t->cells[t->nrows * t->ncols + i] = s;
    }
    t->nrows++;
    return 0;
}

void tsr_cli_table_print(const struct tsr_cli_table *t, FILE *fp)
{
    size_t w[TSR_CLI_TABLE_MAX_COLS] = {0};

    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            size_t n = width(t->cells[r * t->ncols + c]);

            if (t->maxw[c] > 0 && n > t->maxw[c])
                n = t->maxw[c];
            w[c] = TSR_MAX(w[c], n);
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t n = width(s);
            bool last = c + 1 == t->ncols;

            if (t->maxw[c] > 3 && n > t->maxw[c]) {
                /* Cut long text (a title, an error) and say so. */
                fprintf(fp, "%.*s...", (int)prefix_bytes(s, t->maxw[c] - 3), s);
                n = t->maxw[c];
            } else {
                fputs(s, fp);
            }
            if (!last)
                fprintf(fp, "%*s", (int)(w[c] - n + 2), "");
        }
        fputc('\n', fp);
    }
}

void tsr_cli_table_cleanup(struct tsr_cli_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        tsr_free(t->cells[i]);
    tsr_free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

/* ------------------------------------------------------------ shared sub-commands */

/* The ?role=&state= query of a process list, checked; *path new (tsr_free). */
static int procs_path(struct tsr_cli *cli, const struct tsr_cli_resource *res, const char *role,
                      const char *state, char **path)
{
    struct tsr_buf b;

    *path = NULL;
    if (role != NULL && strcmp(role, "provider") != 0 && strcmp(role, "consumer") != 0)
        return tsr_cli_usage(cli, "--role: provider or consumer");
    if (state != NULL && (state[0] == '\0' || strspn(state, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") !=
                                                  strlen(state)))
        return tsr_cli_usage(cli, "--state: a state name such as %s", res->state_example);
    tsr_buf_init(&b, 256);
    if (tsr_buf_addf(&b, "%s?%s%s%s%s%s", res->collection, role ? "role=" : "",
                     role ? role : "", role && state ? "&" : "", state ? "state=" : "",
                     state ? state : "") != 0) {
        tsr_buf_cleanup(&b);
        return tsr_cli_usage(cli, "--state: too long");
    }
    *path = tsr_strdup(tsr_buf_str(&b));
    tsr_buf_cleanup(&b);
    return *path != NULL ? TSR_CLI_EXIT_OK : tsr_cli_fail(cli, "out of memory");
}

int tsr_cli_resource_ls(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {
        {"state", required_argument, NULL, 's'},
        {"role", required_argument, NULL, 'r'},
        TSR_CLI_OPT_HELP,
        {NULL, 0, NULL, 0},
    };
    const struct tsr_cli_resource *res = tsr_cli_cmd_arg(cli);
    bool procs = res->state_example != NULL;
    const char *state = NULL, *role = NULL;
    struct tsr_cli_table t;
    json_t *items = NULL, *item;
    char *path = NULL;
    size_t i;
    int c, rc;

    /* Without --state and --role, they are unknown options like any other. */
    while ((c = tsr_cli_getopt(cli, argc, argv, procs ? "s:r:h" : "h", opts + (procs ? 0 : 2))) !=
           -1) {
        switch (c) {
        case 's': state = optarg; break;
        case 'r': role = optarg; break;
        default: return tsr_cli_opt_other(cli, c);
        }
    }
    if (optind < argc)
        return tsr_cli_usage(cli, "no operands expected");
    if (procs && (rc = procs_path(cli, res, role, state, &path)) != TSR_CLI_EXIT_OK)
        return rc;
    rc = tsr_cli_api_list(cli, path != NULL ? path : res->collection, &items);
    tsr_free(path);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, json_pack("{s:o}", "items", items));
    rc = tsr_cli_table_init(&t, res->ncols, res->head);
    memcpy(t.maxw, res->maxw, sizeof(t.maxw));
    json_array_foreach(items, i, item) {
        if (rc != 0)
            break;
        rc = res->row(&t, item);
    }
    if (rc == 0)
        tsr_cli_table_print(&t, stdout);
    tsr_cli_table_cleanup(&t);
    json_decref(items);
    return rc == 0 ? TSR_CLI_EXIT_OK : tsr_cli_fail(cli, "out of memory");
}

/* GET or DELETE COLLECTION/ID; shared by show and rm. */
static int resource_one(int argc, char **argv, struct tsr_cli *cli, bool remove)
{
    static const struct option opts[] = {TSR_CLI_OPT_HELP, {NULL, 0, NULL, 0}};
    const struct tsr_cli_resource *res = tsr_cli_cmd_arg(cli);
    json_t *ans = NULL;
    char *path;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1)
        return tsr_cli_opt_other(cli, c);
    if (argc - optind != 1)
        return tsr_cli_usage(cli, "expected one %s ID", res->what);
    path = tsr_cli_api_path(res->collection, argv[optind], NULL);
    if (path == NULL)
        return tsr_cli_fail(cli, "out of memory");
    rc = tsr_cli_api_call(cli, remove ? "DELETE" : "GET", path, NULL, &ans);
    tsr_free(path);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (remove) {
        json_decref(ans);
        if (cli->json)
            return tsr_cli_json_out(cli, json_pack("{s:s, s:b}", "id", argv[optind], "deleted",
                                                   1));
        printf("%s %s removed\n", res->what, argv[optind]);
        return TSR_CLI_EXIT_OK;
    }
    if (cli->json)
        return tsr_cli_json_out(cli, ans);
    tsr_cli_print_object(ans, NULL, stdout);
    json_decref(ans);
    return TSR_CLI_EXIT_OK;
}

int tsr_cli_resource_show(int argc, char **argv, struct tsr_cli *cli)
{
    return resource_one(argc, argv, cli, false);
}

int tsr_cli_resource_rm(int argc, char **argv, struct tsr_cli *cli)
{
    return resource_one(argc, argv, cli, true);
}

int tsr_cli_resource_action(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {
        {"reason", required_argument, NULL, 'r'},
        TSR_CLI_OPT_HELP,
        {NULL, 0, NULL, 0},
    };
    const struct tsr_cli_resource_action *act = tsr_cli_cmd_arg(cli);
    const char *reason = NULL;
    json_t *body = NULL, *ans = NULL;
    char *path;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, act->takes_reason ? "r:h" : "h",
                               opts + (act->takes_reason ? 0 : 1))) != -1) {
        switch (c) {
        case 'r': reason = optarg; break;
        default: return tsr_cli_opt_other(cli, c);
        }
    }
    if (argc - optind != 1)
        return tsr_cli_usage(cli, "expected one %s ID", act->res->what);
    if (reason != NULL && (body = json_pack("{s:s}", "reason", reason)) == NULL)
        return tsr_cli_fail(cli, "--reason must be UTF-8 text");
    path = tsr_cli_api_path(act->res->collection, argv[optind], act->action);
    if (path == NULL) {
        json_decref(body);
        return tsr_cli_fail(cli, "out of memory");
    }
    rc = tsr_cli_api_call(cli, "POST", path, body, &ans);
    tsr_free(path);
    json_decref(body);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return tsr_cli_json_out(cli, ans);
    printf("%s %s: %s\n", act->res->what, tsr_cli_jstr(ans, "id"), tsr_cli_jstr(ans, "state"));
    json_decref(ans);
    return TSR_CLI_EXIT_OK;
}
