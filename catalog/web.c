/*
 * catalog/web.c: the search page (catalog/web.h).
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "catalog/store.h"
#include "catalog/web.h"
#include "lib/buf.h"

static const char head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>%s</title><style>"
    "body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em}"
    "form{display:flex;flex-wrap:wrap;gap:.5em;margin-bottom:1em}"
    "input,select{padding:.3em}.r{border-top:1px solid #ccc;padding:.5em 0}"
    ".m{color:#555;font-size:90%%}code{word-break:break-all}"
    "</style></head><body>\n";

/* Append s HTML-escaped (text and attribute values alike). */
static int esc(struct tsr_buf *b, const char *s)
{
    int rc = 0;

    for (; s != NULL && *s != '\0' && rc == 0; s++) {
        switch (*s) {
        case '&': rc = tsr_buf_adds(b, "&amp;"); break;
        case '<': rc = tsr_buf_adds(b, "&lt;"); break;
        case '>': rc = tsr_buf_adds(b, "&gt;"); break;
        case '"': rc = tsr_buf_adds(b, "&quot;"); break;
        case '\'': rc = tsr_buf_adds(b, "&#39;"); break;
        default: rc = tsr_buf_add(b, s, 1);
        }
    }
    return rc;
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

static void input(struct tsr_buf *b, const char *name, const char *label, const char *value)
{
    tsr_buf_addf(b, "<input name=\"%s\" placeholder=\"%s\" aria-label=\"%s\" value=\"", name,
                 label, label);
    esc(b, value);
    tsr_buf_adds(b, "\">");
}

int tsr_cat_web_search(const struct tsr_cat_query *q, const json_t *items, const char *error,
                       struct tsr_buf *out)
{
    static const char *const types[] = {"", "ServiceOffering", "LegalPerson"};
    const json_t *it;
    size_t i;

    tsr_buf_addf(out, head, "tessera catalog");
    tsr_buf_adds(out, "<h1>tessera catalog</h1>\n"
                      "<form method=\"get\" action=\"/\" role=\"search\">");
    input(out, "q", "words", q->text);
    tsr_buf_adds(out, "<select name=\"type\" aria-label=\"type\">");
    for (size_t k = 0; k < TSR_ARRAY_SIZE(types); k++)
        tsr_buf_addf(out, "<option value=\"%s\"%s>%s</option>", types[k],
                     q->cls != NULL && strcmp(q->cls, types[k]) == 0 ? " selected" : "",
                     types[k][0] != '\0' ? types[k] : "any type");
    tsr_buf_adds(out, "</select>");
    input(out, "keyword", "keyword", q->keyword);
    input(out, "participant", "participant DID", q->participant);
    input(out, "mediaType", "media type", q->media_type);
    tsr_buf_adds(out, "<button type=\"submit\">Search</button></form>\n");
    if (error != NULL) {
        tsr_buf_adds(out, "<p class=\"error\" id=\"error\">");
        esc(out, error);
        tsr_buf_adds(out, "</p>\n");
    }
    if (items != NULL) {
        tsr_buf_addf(out, "<p id=\"count\">%zu result%s</p>\n<div id=\"results\">\n",
                     json_array_size(items), json_array_size(items) == 1 ? "" : "s");
        json_array_foreach(items, i, it) {
            const json_t *kw;
            size_t k;
            tsr_buf_adds(out, "<div class=\"r\"><a class=\"title\" href=\"/entry?id=");
            tsr_buf_add_pct(out, str(it, "id"), NULL);
            tsr_buf_adds(out, "\">");
            esc(out, str(it, "title")[0] != '\0' ? str(it, "title") : str(it, "subject"));
            tsr_buf_adds(out, "</a> <span class=\"m\">");
            esc(out, str(it, "type"));
            tsr_buf_adds(out, " &middot; ");
            esc(out, str(it, "participant"));
            if (str(it, "media_type")[0] != '\0') {
                tsr_buf_adds(out, " &middot; ");
                esc(out, str(it, "media_type"));
            }
            tsr_buf_adds(out, "</span><br>");
            esc(out, str(it, "description"));
            json_array_foreach(json_object_get(it, "keywords"), k, kw) {
                tsr_buf_adds(out, k == 0 ? "<br><span class=\"m\">" : ", ");
                esc(out, json_string_value(kw));
                if (k + 1 == json_array_size(json_object_get(it, "keywords")))
                    tsr_buf_adds(out, "</span>");
            }
            tsr_buf_adds(out, "</div>\n");
        }
        tsr_buf_adds(out, "</div>\n");
    }
    return tsr_buf_adds(out, "</body></html>\n");
}

static void row(struct tsr_buf *b, const char *label, const char *value, bool code)
{
    if (value == NULL || value[0] == '\0')
        return;
    tsr_buf_addf(b, "<tr><th>%s</th><td>%s", label, code ? "<code>" : "");
    esc(b, value);
    tsr_buf_addf(b, "%s</td></tr>\n", code ? "</code>" : "");
}

int tsr_cat_web_entry(const json_t *e, struct tsr_buf *out)
{
    char until[32] = "";
    json_int_t vu = json_integer_value(json_object_get(e, "valid_until"));
    struct tsr_buf kws;
    const json_t *kw;
    size_t i;

    if (vu > 0) {
        time_t t = (time_t)vu;
        struct tm tm;
        if (gmtime_r(&t, &tm) == NULL ||
            strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
            until[0] = '\0';
    }
    tsr_buf_init(&kws, 8192);
    json_array_foreach(json_object_get(e, "keywords"), i, kw)
        tsr_buf_addf(&kws, "%s%s", i > 0 ? ", " : "", json_string_value(kw));
    tsr_buf_addf(out, head, "tessera catalog entry");
    tsr_buf_adds(out, "<p><a href=\"/\">&larr; search</a></p>\n<h1 id=\"title\">");
    esc(out, str(e, "title")[0] != '\0' ? str(e, "title") : str(e, "subject"));
    tsr_buf_adds(out, "</h1>\n<p id=\"description\">");
    esc(out, str(e, "description"));
    tsr_buf_adds(out, "</p>\n<table>\n");
    row(out, "Type", str(e, "type"), false);
    row(out, "Status", str(e, "status"), false);
    row(out, "Participant", str(e, "participant"), true);
    row(out, "Issuer", str(e, "issuer"), true);
    row(out, "Subject", str(e, "subject"), true);
    row(out, "Credential", str(e, "id"), true);
    row(out, "Keywords", tsr_buf_str(&kws), false);
    row(out, "Media type", str(e, "media_type"), false);
    row(out, "Dataset", str(e, "dataset_id"), true);
    row(out, "DSP endpoint", str(e, "endpoint"), true);
    row(out, "Valid until", until, false);
    tsr_buf_adds(out, "</table>\n<h2>VC-JWT</h2>\n<p><code id=\"jwt\">");
    esc(out, str(e, "jwt"));
    tsr_buf_cleanup(&kws);
    return tsr_buf_adds(out, "</code></p>\n</body></html>\n");
}
