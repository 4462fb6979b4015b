/*
 * catalog/dcat.h: the catalog's offers as a DCAT-AP catalogue in RDF/XML,
 * the format data.europa.eu and CKAN (ckanext-dcat) harvest.
 *
 * Each active gx:ServiceOffering becomes a dcat:Dataset (dct:title,
 * dct:description, dct:identifier, dcat:keyword, dct:publisher) with one
 * dcat:Distribution whose dcat:accessURL is the offering connector's DSP
 * endpoint, and the DCAT-AP mandatory classes around them (dcat:Catalog
 * with title, description and a foaf:Agent publisher).  Written with
 * libxml2's xmlTextWriter, so every text is escaped.  Not here: reading
 * (harvesting) RDF/XML.
 */
#ifndef TSR_CATALOG_DCAT_H
#define TSR_CATALOG_DCAT_H

#include <stddef.h>

#include <jansson.h>

#include "lib/err.h"

struct tsr_buf;

/* What the exported catalogue says about itself.  Strings are borrowed. */
struct tsr_cat_dcat_meta {
    const char *about;       /* the catalogue's IRI, e.g. https://host:9443/dcat */
    const char *title;
    const char *description;
    const char *publisher;   /* the publisher's name (foaf:name) */
};

/*
 * Append the RDF/XML of a catalogue holding items (a JSON array as
 * tsr_cat_store_query returns, borrowed; LegalPerson entries are skipped)
 * to out.  Returns 0, TSR_ELIMIT (out's maximum), TSR_ENOMEM,
 * TSR_EINTERNAL (libxml2 failed).
 */
int tsr_cat_dcat_write(const struct tsr_cat_dcat_meta *meta, const json_t *items,
                       struct tsr_buf *out, struct tsr_diag *d);

#endif /* TSR_CATALOG_DCAT_H */
