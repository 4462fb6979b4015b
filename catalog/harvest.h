/*
 * catalog/harvest.h: importing DCAT-AP catalogues in RDF/XML from
 * open-data portals (CKAN's ckanext-dcat, piveau, data.europa.eu) as
 * external entries of the catalog.
 *
 * Harvested entries are not credentials: nobody signed them, so they are
 * stored with the class "ExternalDataset", the source URL as issuer,
 * shown as unsigned in every answer, never put into the event log (peers
 * harvest for themselves), and replaced as a whole at each harvest of
 * their source.
 *
 * The RDF/XML reader covers what DCAT exports use: node elements (typed,
 * or rdf:Description with rdf:type), rdf:about, rdf:nodeID, rdf:resource,
 * nested node elements, xml:lang literals.  It is not a complete RDF/XML
 * parser (no rdf:parseType, rdf:li, rdf:ID, property attributes or
 * xml:base; such statements are skipped).  The XML is parsed by libxml2
 * without network access, entity substitution or DTD loading; documents
 * declaring entities are refused, and the size is bounded.
 */
#ifndef TSR_CATALOG_HARVEST_H
#define TSR_CATALOG_HARVEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/err.h"

struct tsr_cat_store;

/* The largest catalogue document read, and the most datasets taken from one. */
#define TSR_HARVEST_MAX_BYTES ((size_t)32 << 20)
#define TSR_HARVEST_MAX_DATASETS 100000

/*
 * The datasets of a DCAT RDF/XML document (len bytes at xml; base names
 * blank nodes: BASE#_:id) as a new JSON array *out of {"id", "title",
 * "description", "keywords": [...], "identifier", "publisher",
 * "publisher_name", "media_type", "access_url"} (absent values omitted).
 * Returns 0, TSR_ELIMIT, TSR_EINVAL (not XML, not RDF, entities
 * declared; the reason in d), TSR_ENOMEM.
 */
int tsr_cat_harvest_parse(const char *xml, size_t len, const char *base, json_t **out,
                          struct tsr_diag *d);

/*
 * Replace the entries harvested from source with datasets (borrowed, as
 * tsr_cat_harvest_parse makes them) at now_ms, in one transaction; the
 * source's datasets that are no longer there are withdrawn.  *count (may
 * be NULL) gets the number stored.  Returns 0, TSR_EIO, TSR_ENOMEM.
 */
int tsr_cat_harvest_store(struct tsr_cat_store *cs, const char *source, const json_t *datasets,
                          int64_t now_ms, size_t *count, struct tsr_diag *d);

#endif /* TSR_CATALOG_HARVEST_H */
