/*
 * catalog/web.h: the catalog's search page, plain server-rendered HTML
 * (no script): a search box with type, keyword, participant and media
 * type filters, the results, and one page per entry with its fields, its
 * DSP endpoint and its VC-JWT for re-verification.  Every text taken
 * from a credential is HTML-escaped.
 */
#ifndef TSR_CATALOG_WEB_H
#define TSR_CATALOG_WEB_H

#include <jansson.h>

#include "lib/err.h"

struct tsr_buf;
struct tsr_cat_query;

/*
 * Append the search page for q (borrowed; its fields fill the form) with
 * items (a query's result, borrowed; NULL: no search was made) and an
 * error message (NULL: none) to out.  Returns 0 or TSR_ELIMIT/TSR_ENOMEM.
 */
int tsr_cat_web_search(const struct tsr_cat_query *q, const json_t *items, const char *error,
                       struct tsr_buf *out);

/* Append the page of one entry (a tsr_cat_store_get object, borrowed) to out.  As above. */
int tsr_cat_web_entry(const json_t *entry, struct tsr_buf *out);

#endif /* TSR_CATALOG_WEB_H */
