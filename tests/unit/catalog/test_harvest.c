/*
 * tests/unit/catalog/test_harvest.c: DCAT-AP RDF/XML import and export
 * (catalog/harvest.h, catalog/dcat.h): the datasets of a portal-style
 * catalogue (tests/data/dcat/portal.rdf, ours) with their titles,
 * keywords, publishers and distributions, wherever in the document the
 * nodes are described; stored as unsigned entries that queries find and
 * a later harvest replaces; an export read back by the importer; and
 * hostile XML (external entities, entity expansion, garbage) refused or
 * left unexpanded.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "catalog/dcat.h"
#include "catalog/harvest.h"
#include "catalog/store.h"
#include "lib/buf.h"
#include "lib/crypto.h"
#include "lib/mem.h"

#define SRC "https://opendata.example.org/catalog.rdf"
#define DS "https://opendata.example.org/dataset/"

static char *fixture(size_t *len)
{
    const char *top = getenv("top_srcdir");
    char path[1024];
    unsigned char *buf = NULL;

    snprintf(path, sizeof(path), "%s/tests/data/dcat/portal.rdf", top != NULL ? top : ".");
    if (tsr_crypto_read_file(path, 1 << 20, &buf, len, NULL) != 0)
        fail_msg("cannot read %s (is top_srcdir set?)", path);
    return (char *)buf;
}

static const json_t *by_id(const json_t *list, const char *id)
{
    const json_t *d;
    size_t i;

    json_array_foreach(list, i, d) {
        if (strcmp(json_string_value(json_object_get(d, "id")), id) == 0)
            return d;
    }
    fail_msg("no dataset %s", id);
    return NULL;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_parse_portal(void **state)
{
    size_t len = 0;
    char *xml = fixture(&len);
    json_t *list = NULL;
    struct tsr_diag d = {0};

    (void)state;
    assert_int_equal(tsr_cat_harvest_parse(xml, len, SRC, &list, &d), 0);
    assert_int_equal(json_array_size(list), 3);
    /* A typed node nested in the catalog, English title preferred, inline publisher. */
    const json_t *air = by_id(list, DS "air-quality-2025");
    assert_string_equal(str(air, "title"), "Air quality measurements 2025");
    assert_string_equal(str(air, "identifier"), "air-quality-2025");
    assert_string_equal(str(air, "publisher_name"), "Environment Office");
    assert_string_equal(str(air, "media_type"), "text/csv");
    assert_string_equal(str(air, "access_url"), "https://opendata.example.org/files/air-2025.csv");
    assert_int_equal(json_array_size(json_object_get(air, "keywords")), 2);
    /* rdf:Description with rdf:type, publisher and distribution described elsewhere. */
    const json_t *bike = by_id(list, DS "bike-counts");
    assert_string_equal(str(bike, "title"), "Bicycle counts & traffic");
    assert_string_equal(str(bike, "publisher_name"), "City of Example");
    assert_string_equal(str(bike, "media_type"), "JSON");
    assert_string_equal(str(bike, "access_url"), "https://opendata.example.org/api/bikes");
    /* A blank node dataset, named by nodeID under the source. */
    const json_t *trees = by_id(list, SRC "#_:n1");
    assert_string_equal(str(trees, "media_type"), "application/geo+json");
    json_decref(list);
    tsr_free(xml);
}

static void test_store_and_reharvest(void **state)
{
    size_t len = 0, n = 0;
    char *xml = fixture(&len);
    json_t *list = NULL, *items = NULL;
    struct tsr_cat_store *cs = NULL;
    struct tsr_cat_query q = {.now = 1800000000, .text = "bicycle"};

    (void)state;
    assert_int_equal(tsr_cat_store_open(":memory:", &cs, NULL), 0);
    assert_int_equal(tsr_cat_harvest_parse(xml, len, SRC, &list, NULL), 0);
    assert_int_equal(tsr_cat_harvest_store(cs, SRC, list, 1700000000000LL, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(tsr_cat_store_query(cs, &q, &items, NULL), 0);
    assert_int_equal(json_array_size(items), 1);
    const json_t *it = json_array_get(items, 0);
    assert_string_equal(str(it, "type"), "ExternalDataset");
    assert_false(json_is_true(json_object_get(it, "signed")));
    assert_string_equal(str(it, "issuer"), SRC);
    json_decref(items);
    /* Harvested entries are not published to peers. */
    json_t *ev = NULL;
    int64_t last = -1;
    assert_int_equal(tsr_cat_store_events(cs, 0, 10, &ev, &last, NULL), 0);
    assert_int_equal(json_array_size(ev), 0);
    json_decref(ev);
    /* The next harvest no longer lists the bicycle counts: withdrawn; the others stay. */
    for (size_t i = 0; i < json_array_size(list); i++) {
        if (strcmp(str(json_array_get(list, i), "id"), DS "bike-counts") == 0)
            json_array_remove(list, i);
    }
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(tsr_cat_harvest_store(cs, SRC, list, 1700000060000LL, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_int_equal(tsr_cat_store_query(cs, &q, &items, NULL), 0);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    q.text = "trees";
    assert_int_equal(tsr_cat_store_query(cs, &q, &items, NULL), 0);
    assert_int_equal(json_array_size(items), 1);
    json_decref(items);
    json_t *st = NULL;
    assert_int_equal(tsr_cat_store_stats(cs, &st, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(st, "active")), 2);
    json_decref(st);
    json_decref(list);
    tsr_cat_store_close(cs);
    tsr_free(xml);
}

/* What the export writes, the importer reads back with the same fields. */
static void test_export_roundtrip(void **state)
{
    json_t *items = json_pack(
        "[{s:s, s:s, s:s, s:s, s:[s, s], s:s, s:s, s:s, s:s}, {s:s, s:s, s:s}]", "type",
        "ServiceOffering", "subject", "https://p.example/offers/o1", "title", "Line <3> & co",
        "description", "Hourly \"readings\"", "keywords", "sensor", "steel", "participant",
        "did:web:p.example", "dataset_id", "line3", "endpoint", "https://p.example/dsp/2025-1",
        "media_type", "text/csv", "type", "LegalPerson", "subject", "did:web:p.example", "title",
        "P GmbH");
    struct tsr_cat_dcat_meta meta = {"https://cat.example/dcat", "A catalog", "Offers", "Op"};
    struct tsr_buf out;
    json_t *list = NULL;

    (void)state;
    tsr_buf_init(&out, 1 << 20);
    assert_int_equal(tsr_cat_dcat_write(&meta, items, &out, NULL), 0);
    assert_non_null(strstr(tsr_buf_str(&out), "<dct:title>Line &lt;3&gt; &amp; co</dct:title>"));
    assert_int_equal(tsr_cat_harvest_parse(out.data, out.len, "https://cat.example/dcat", &list,
                                           NULL),
                     0);
    /* The LegalPerson is not a dataset. */
    assert_int_equal(json_array_size(list), 1);
    const json_t *ds = json_array_get(list, 0);
    assert_string_equal(str(ds, "id"), "https://p.example/offers/o1");
    assert_string_equal(str(ds, "title"), "Line <3> & co");
    assert_string_equal(str(ds, "description"), "Hourly \"readings\"");
    assert_string_equal(str(ds, "identifier"), "line3");
    assert_string_equal(str(ds, "publisher"), "did:web:p.example");
    assert_string_equal(str(ds, "media_type"), "text/csv");
    assert_string_equal(str(ds, "access_url"), "https://p.example/dsp/2025-1");
    assert_int_equal(json_array_size(json_object_get(ds, "keywords")), 2);
    json_decref(list);
    json_decref(items);
    tsr_buf_cleanup(&out);
}

static void test_hostile(void **state)
{
    static const char xxe[] =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
        "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" "
        "xmlns:dcat=\"http://www.w3.org/ns/dcat#\" xmlns:dct=\"http://purl.org/dc/terms/\">"
        "<dcat:Dataset rdf:about=\"urn:x\"><dct:title>a&x;b</dct:title></dcat:Dataset>"
        "</rdf:RDF>";
    static const char laughs[] =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\">"
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
        "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
        "]>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" "
        "xmlns:dcat=\"http://www.w3.org/ns/dcat#\" xmlns:dct=\"http://purl.org/dc/terms/\">"
        "<dcat:Dataset rdf:about=\"urn:y\"><dct:title>&e;</dct:title></dcat:Dataset></rdf:RDF>";
    json_t *list = NULL;
    struct tsr_diag d = {0};

    (void)state;
    /* Entity declarations (an external file, an expansion bomb) are refused outright. */
    assert_int_equal(tsr_cat_harvest_parse(xxe, sizeof(xxe) - 1, "urn:s", &list, &d), TSR_EINVAL);
    assert_non_null(strstr(d.msg, "entit"));
    assert_int_equal(tsr_cat_harvest_parse(laughs, sizeof(laughs) - 1, "urn:s", &list, &d),
                     TSR_EINVAL);
    assert_int_equal(tsr_cat_harvest_parse("<a><b></a>", 10, "urn:s", &list, &d), TSR_EINVAL);
    assert_int_equal(tsr_cat_harvest_parse("<html/>", 7, "urn:s", &list, &d), TSR_EINVAL);
    assert_non_null(strstr(d.msg, "rdf:RDF"));
    assert_null(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_portal),
        cmocka_unit_test(test_store_and_reharvest),
        cmocka_unit_test(test_export_roundtrip),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
