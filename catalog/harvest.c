/*
 * catalog/harvest.c: DCAT-AP RDF/XML import (catalog/harvest.h).
 *
 * Two passes: the XML tree is read into a small graph (subject -> types,
 * and predicate -> values, in JSON), then each dcat:Dataset of the graph
 * is turned into one entry, following its distribution and publisher
 * nodes wherever in the document they are described.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "catalog/harvest.h"
#include "catalog/store.h"
#include "lib/mem.h"
#include "lib/vc.h"

#define NS_RDF "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#define NS_XML "http://www.w3.org/XML/1998/namespace"
#define DCAT "http://www.w3.org/ns/dcat#"
#define DCT "http://purl.org/dc/terms/"
#define FOAF "http://xmlns.com/foaf/0.1/"
#define IANA_MEDIA "https://www.iana.org/assignments/media-types/"
/* Nesting of node elements followed (libxml2 itself stops at 256 levels). */
#define MAX_NEST 64
/* Statements read from one document. */
#define MAX_TRIPLES 2000000
/* How long harvested entries stay valid without a new harvest. */
#define HARVEST_VALIDITY_S (10LL * 365 * 86400)

#define X(s) ((const xmlChar *)(s))
#define S(s) ((const char *)(s))

struct reader {
    json_t *graph;   /* subject -> {"types": [...], "props": {pred: [value...]}} */
    const char *base;
    unsigned long bnodes;
    size_t triples;
    int bad;         /* TSR_ELIMIT / TSR_ENOMEM */
};

static bool is(const xmlNode *n, const char *ns, const char *name)
{
    return n->ns != NULL && strcmp(S(n->ns->href), ns) == 0 && strcmp(S(n->name), name) == 0;
}

/* An attribute in the rdf: namespace, or NULL.  New (xmlFree). */
static xmlChar *rdf_attr(const xmlNode *n, const char *name)
{
    return xmlGetNsProp(n, X(name), X(NS_RDF));
}

static json_t *node_of(struct reader *r, const char *subject)
{
    json_t *n = json_object_get(r->graph, subject);

    if (n == NULL) {
        n = json_pack("{s:[], s:{}}", "types", "props");
        if (n == NULL || json_object_set_new(r->graph, subject, n) != 0) {
            r->bad = TSR_ENOMEM;
            return NULL;
        }
    }
    return n;
}

static void add(struct reader *r, const char *subject, const char *pred, json_t *value)
{
    json_t *n = node_of(r, subject), *props, *list;

    if (n == NULL || value == NULL || ++r->triples > MAX_TRIPLES) {
        if (r->triples > MAX_TRIPLES)
            r->bad = TSR_ELIMIT;
        json_decref(value);
        return;
    }
    props = json_object_get(n, "props");
    list = json_object_get(props, pred);
    if (list == NULL) {
        list = json_array();
        json_object_set_new(props, pred, list);
    }
    json_array_append_new(list, value);
}

/* The subject a node element names: its IRI, a named blank node, or a new blank node. */
static char *subject_of(struct reader *r, const xmlNode *n)
{
    xmlChar *about = rdf_attr(n, "about"), *nid = rdf_attr(n, "nodeID");
    char buf[1200];

    if (about != NULL)
        snprintf(buf, sizeof(buf), "%s", S(about));
    else if (nid != NULL)
        snprintf(buf, sizeof(buf), "%s#_:%s", r->base, S(nid));
    else
        snprintf(buf, sizeof(buf), "%s#_:g%lu", r->base, ++r->bnodes);
    xmlFree(about);
    xmlFree(nid);
    return tsr_strdup(buf);
}

static char *read_node(struct reader *r, const xmlNode *n, int depth);

/* The properties of the node element n (subject s). */
static void read_props(struct reader *r, const xmlNode *n, const char *s, int depth)
{
    char pred[1024];

    for (const xmlNode *p = n->children; p != NULL && r->bad == 0; p = p->next) {
        if (p->type != XML_ELEMENT_NODE || p->ns == NULL)
            continue;
        snprintf(pred, sizeof(pred), "%s%s", S(p->ns->href), S(p->name));
        xmlChar *res = rdf_attr(p, "resource"), *nid = rdf_attr(p, "nodeID");
        if (is(p, NS_RDF, "type") && res != NULL) {
            json_array_append_new(json_object_get(node_of(r, s), "types"),
                                  json_string(S(res)));
        } else if (res != NULL) {
            add(r, s, pred, json_pack("{s:s}", "iri", S(res)));
        } else if (nid != NULL) {
            char ref[1200];
            snprintf(ref, sizeof(ref), "%s#_:%s", r->base, S(nid));
            add(r, s, pred, json_pack("{s:s}", "iri", ref));
        } else {
            const xmlNode *child = p->children;
            while (child != NULL && child->type != XML_ELEMENT_NODE)
                child = child->next;
            if (child != NULL) {
                char *o = read_node(r, child, depth + 1);
                if (o != NULL)
                    add(r, s, pred, json_pack("{s:s}", "iri", o));
                tsr_free(o);
            } else {
                xmlChar *text = xmlNodeGetContent(p);
                xmlChar *lang = xmlNodeGetLang(p);
                if (text != NULL)
                    add(r, s, pred, json_pack("{s:s, s:s?}", "lit", S(text), "lang",
                                              lang != NULL ? S(lang) : NULL));
                xmlFree(text);
                xmlFree(lang);
            }
        }
        xmlFree(res);
        xmlFree(nid);
    }
}

/* Read one node element; returns its subject (new) or NULL. */
static char *read_node(struct reader *r, const xmlNode *n, int depth)
{
    char *s;

    if (depth > MAX_NEST) {
        r->bad = TSR_ELIMIT;
        return NULL;
    }
    s = subject_of(r, n);
    if (s == NULL) {
        r->bad = TSR_ENOMEM;
        return NULL;
    }
    json_t *node = node_of(r, s);
    if (node != NULL && !is(n, NS_RDF, "Description") && n->ns != NULL) {
        char type[1024];
        snprintf(type, sizeof(type), "%s%s", S(n->ns->href), S(n->name));
        json_array_append_new(json_object_get(node, "types"), json_string(type));
    }
    read_props(r, n, s, depth);
    return s;
}

/* ------------------------------------------------------------ datasets */

static const json_t *values(const json_t *graph, const char *s, const char *pred)
{
    return json_object_get(json_object_get(json_object_get(graph, s), "props"), pred);
}

/* The best literal of a property: English, then no language, then any. */
static const char *literal(const json_t *graph, const char *s, const char *pred)
{
    const json_t *v, *list = values(graph, s, pred);
    const char *any = NULL, *plain = NULL;
    size_t i;

    json_array_foreach(list, i, v) {
        const char *lit = json_string_value(json_object_get(v, "lit"));
        const char *lang = json_string_value(json_object_get(v, "lang"));
        if (lit == NULL || lit[0] == '\0')
            continue;
        if (lang != NULL && strncmp(lang, "en", 2) == 0)
            return lit;
        if (lang == NULL && plain == NULL)
            plain = lit;
        if (any == NULL)
            any = lit;
    }
    return plain != NULL ? plain : any;
}

static const char *iri(const json_t *graph, const char *s, const char *pred)
{
    return json_string_value(json_object_get(json_array_get(values(graph, s, pred), 0), "iri"));
}

static bool has_type(const json_t *graph, const char *s, const char *type)
{
    const json_t *t;
    size_t i;

    json_array_foreach(json_object_get(json_object_get(graph, s), "types"), i, t) {
        if (strcmp(json_string_value(t), type) == 0)
            return true;
    }
    return false;
}

static json_t *dataset(const json_t *g, const char *s)
{
    json_t *o = json_object(), *kw = json_array();
    const json_t *v;
    size_t i;
    const char *dist = iri(g, s, DCAT "distribution"), *pub = iri(g, s, DCT "publisher");

    if (o == NULL || kw == NULL) {
        json_decref(o);
        json_decref(kw);
        return NULL;
    }
    json_object_set_new(o, "id", json_string(s));
#define PUT(k, val)                                                                               \
    do {                                                                                          \
        const char *x_ = (val);                                                                   \
        if (x_ != NULL && x_[0] != '\0')                                                          \
            json_object_set_new(o, k, json_string(x_));                                           \
    } while (0)
    PUT("title", literal(g, s, DCT "title"));
    PUT("description", literal(g, s, DCT "description"));
    PUT("identifier", literal(g, s, DCT "identifier"));
    json_array_foreach(values(g, s, DCAT "keyword"), i, v) {
        const char *k = json_string_value(json_object_get(v, "lit"));
        if (k != NULL && k[0] != '\0' && json_array_size(kw) < TSR_VC_MAX_KEYWORDS)
            json_array_append_new(kw, json_string(k));
    }
    json_object_set_new(o, "keywords", kw);
    PUT("publisher", pub);
    if (pub != NULL)
        PUT("publisher_name", literal(g, pub, FOAF "name"));
    if (dist != NULL) {
        const char *mt = iri(g, dist, DCAT "mediaType");
        if (mt != NULL && strncmp(mt, IANA_MEDIA, strlen(IANA_MEDIA)) == 0)
            mt += strlen(IANA_MEDIA);
        if (mt == NULL)
            mt = literal(g, dist, DCAT "mediaType");
        if (mt == NULL)
            mt = literal(g, dist, DCT "format");
        PUT("media_type", mt);
        PUT("access_url", iri(g, dist, DCAT "accessURL"));
    }
#undef PUT
    return o;
}

int tsr_cat_harvest_parse(const char *xml, size_t len, const char *base, json_t **out,
                          struct tsr_diag *d)
{
    struct reader r = {.base = base};
    xmlDocPtr doc = NULL;
    const xmlNode *root;
    json_t *list = NULL;
    const char *key;
    json_t *node;
    int rc = 0;

    *out = NULL;
    if (len > TSR_HARVEST_MAX_BYTES)
        return tsr_diag_set(d, TSR_ELIMIT, "catalogue larger than %zu bytes",
                            TSR_HARVEST_MAX_BYTES);
    /* No network, no entity substitution, no DTD loading, no huge mode. */
    doc = xmlReadMemory(xml, (int)len, base, NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "not well-formed XML");
    /* Entities buy nothing in DCAT and carry every XML attack (external
     * files, expansion bombs through xmlNodeGetContent): refuse them. */
    if (doc->intSubset != NULL && doc->intSubset->entities != NULL) {
        rc = tsr_diag_set(d, TSR_EINVAL, "entity declarations are not accepted");
        goto out;
    }
    root = xmlDocGetRootElement(doc);
    if (root == NULL || !is(root, NS_RDF, "RDF")) {
        rc = tsr_diag_set(d, TSR_EINVAL, "not RDF/XML (the root is not rdf:RDF)");
        goto out;
    }
    r.graph = json_object();
    list = json_array();
    if (r.graph == NULL || list == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    for (const xmlNode *n = root->children; n != NULL && r.bad == 0; n = n->next) {
        if (n->type == XML_ELEMENT_NODE)
            tsr_free(read_node(&r, n, 0));
    }
    if (r.bad != 0) {
        rc = tsr_diag_set(d, r.bad, r.bad == TSR_ELIMIT ? "catalogue too large or too deep"
                                                        : "out of memory");
        goto out;
    }
    json_object_foreach(r.graph, key, node) {
        if (!has_type(r.graph, key, DCAT "Dataset"))
            continue;
        if (json_array_size(list) >= TSR_HARVEST_MAX_DATASETS) {
            rc = tsr_diag_set(d, TSR_ELIMIT, "more than %d datasets", TSR_HARVEST_MAX_DATASETS);
            goto out;
        }
        if (json_array_append_new(list, dataset(r.graph, key)) != 0) {
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
            goto out;
        }
    }
    *out = list;
    list = NULL;
out:
    json_decref(list);
    json_decref(r.graph);
    xmlFreeDoc(doc);
    return rc;
}

int tsr_cat_harvest_store(struct tsr_cat_store *cs, const char *source, const json_t *datasets,
                          int64_t now_ms, size_t *count, struct tsr_diag *d)
{
    const json_t *ds;
    size_t i, n = 0;
    int rc;

    rc = tsr_cat_store_begin(cs, d);
    json_array_foreach(datasets, i, ds) {
        if (rc != 0)
            break;
        /* The stored record says where and when it was harvested, so each
         * harvest stores a new version and the old ones can be retired. */
        json_t *rec = json_pack("{s:O, s:s, s:I, s:b}", "dataset", ds, "harvested_from", source,
                                "harvested_at", (json_int_t)now_ms, "signed", 0);
        char *text = rec != NULL ? json_dumps(rec, JSON_COMPACT) : NULL;
        json_decref(rec);
        if (text == NULL) {
            rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
            break;
        }
        const char *title = json_string_value(json_object_get(ds, "title"));
        struct tsr_vc_info in = {
            .cls = TSR_VC_CLASS_OTHER,
            .cls_name = "ExternalDataset",
            .id = json_string_value(json_object_get(ds, "id")),
            .issuer = source,
            .subject = json_string_value(json_object_get(ds, "id")),
            .participant = json_string_value(json_object_get(ds, "publisher")),
            .title = title,
            .description = json_string_value(json_object_get(ds, "description")),
            .media_type = json_string_value(json_object_get(ds, "media_type")),
            .endpoint = json_string_value(json_object_get(ds, "access_url")),
            .dataset_id = json_string_value(json_object_get(ds, "identifier")),
            .keywords = json_object_get(ds, "keywords"),
            .valid_from = now_ms / 1000,
            .valid_until = now_ms / 1000 + HARVEST_VALIDITY_S,
            .iat = now_ms,
        };
        enum tsr_cat_outcome oc;
        rc = tsr_cat_store_add(cs, text, &in, now_ms, false, &oc, d);
        free(text);
        if (rc == 0 && oc == TSR_CAT_ADDED)
            n++;
    }
    if (rc == 0)
        rc = tsr_cat_store_retire(cs, source, now_ms, NULL, d);
    if (rc == 0)
        rc = tsr_cat_store_commit(cs, d);
    if (rc != 0) {
        tsr_cat_store_rollback(cs);
        return rc;
    }
    if (count != NULL)
        *count = n;
    return 0;
}
