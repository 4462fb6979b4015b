/*
 * catalog/dcat.c: DCAT-AP RDF/XML export (catalog/dcat.h).
 */
#include "lib/tsr.h"

#include <string.h>

#include <libxml/xmlwriter.h>

#include "catalog/dcat.h"
#include "lib/buf.h"

#define NS_RDF "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#define NS_DCAT "http://www.w3.org/ns/dcat#"
#define NS_DCT "http://purl.org/dc/terms/"
#define NS_FOAF "http://xmlns.com/foaf/0.1/"
#define IANA_MEDIA "https://www.iana.org/assignments/media-types/"

#define X(s) ((const xmlChar *)(s))

/* Each xmlTextWriter call returns < 0 on failure; keep the first failure. */
struct w {
    xmlTextWriterPtr x;
    int bad;
};

static void start(struct w *w, const char *name)
{
    if (xmlTextWriterStartElement(w->x, X(name)) < 0)
        w->bad = 1;
}

static void end(struct w *w)
{
    if (xmlTextWriterEndElement(w->x) < 0)
        w->bad = 1;
}

static void attr(struct w *w, const char *name, const char *value)
{
    if (xmlTextWriterWriteAttribute(w->x, X(name), X(value)) < 0)
        w->bad = 1;
}

/* <name>text</name>, skipped for a missing text. */
static void text_el(struct w *w, const char *name, const char *text)
{
    if (text == NULL || text[0] == '\0')
        return;
    if (xmlTextWriterWriteElement(w->x, X(name), X(text)) < 0)
        w->bad = 1;
}

/* <name rdf:resource="iri"/> */
static void ref_el(struct w *w, const char *name, const char *iri)
{
    if (iri == NULL || iri[0] == '\0')
        return;
    start(w, name);
    attr(w, "rdf:resource", iri);
    end(w);
}

static void dataset(struct w *w, const json_t *it)
{
    const char *mt = json_string_value(json_object_get(it, "media_type"));
    const json_t *kw;
    size_t i;
    char media[512];

    start(w, "dcat:dataset");
    start(w, "dcat:Dataset");
    attr(w, "rdf:about", json_string_value(json_object_get(it, "subject")));
    text_el(w, "dct:title", json_string_value(json_object_get(it, "title")));
    /* DCAT-AP requires a description; an offer without one gets its title. */
    const char *desc = json_string_value(json_object_get(it, "description"));
    text_el(w, "dct:description",
            desc != NULL ? desc : json_string_value(json_object_get(it, "title")));
    text_el(w, "dct:identifier", json_string_value(json_object_get(it, "dataset_id")));
    json_array_foreach(json_object_get(it, "keywords"), i, kw)
        text_el(w, "dcat:keyword", json_string_value(kw));
    ref_el(w, "dct:publisher", json_string_value(json_object_get(it, "participant")));
    start(w, "dcat:distribution");
    start(w, "dcat:Distribution");
    ref_el(w, "dcat:accessURL", json_string_value(json_object_get(it, "endpoint")));
    if (mt != NULL && (size_t)snprintf(media, sizeof(media), "%s%s", IANA_MEDIA, mt) <
                          sizeof(media))
        ref_el(w, "dcat:mediaType", media);
    end(w);
    end(w);
    end(w);
    end(w);
}

int tsr_cat_dcat_write(const struct tsr_cat_dcat_meta *meta, const json_t *items,
                       struct tsr_buf *out, struct tsr_diag *d)
{
    xmlBufferPtr xb = xmlBufferCreate();
    struct w w = {NULL, 0};
    const json_t *it;
    size_t i;
    int rc = 0;

    if (xb == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    w.x = xmlNewTextWriterMemory(xb, 0);
    if (w.x == NULL) {
        xmlBufferFree(xb);
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    }
    xmlTextWriterSetIndent(w.x, 1);
    if (xmlTextWriterStartDocument(w.x, "1.0", "UTF-8", NULL) < 0)
        w.bad = 1;
    start(&w, "rdf:RDF");
    attr(&w, "xmlns:rdf", NS_RDF);
    attr(&w, "xmlns:dcat", NS_DCAT);
    attr(&w, "xmlns:dct", NS_DCT);
    attr(&w, "xmlns:foaf", NS_FOAF);
    start(&w, "dcat:Catalog");
    attr(&w, "rdf:about", meta->about);
    text_el(&w, "dct:title", meta->title);
    text_el(&w, "dct:description", meta->description);
    start(&w, "dct:publisher");
    start(&w, "foaf:Agent");
    text_el(&w, "foaf:name", meta->publisher);
    end(&w);
    end(&w);
    json_array_foreach(items, i, it) {
        const char *type = json_string_value(json_object_get(it, "type"));
        if (type != NULL && strcmp(type, "ServiceOffering") == 0)
            dataset(&w, it);
    }
    end(&w);
    end(&w);
    if (xmlTextWriterEndDocument(w.x) < 0)
        w.bad = 1;
    xmlFreeTextWriter(w.x);
    if (w.bad)
        rc = tsr_diag_set(d, TSR_EINTERNAL, "libxml2 could not write the catalogue");
    else
        rc = tsr_buf_add(out, xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
    if (rc == TSR_ELIMIT)
        tsr_diag_set(d, rc, "the catalogue is too large");
    xmlBufferFree(xb);
    return rc;
}
