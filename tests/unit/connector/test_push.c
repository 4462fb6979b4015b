/*
 * tests/unit/connector/test_push.c: which URL an HttpData-PUSH
 * destination names (tsr_dsp__push_url): tessera's and the DSP's
 * top-level endpoint, EDC's namespaced endpoint property, EDC's baseUrl
 * (a POST sink), and what is refused.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "connector/dsp_int.h"

static json_t *parse(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);

    assert_non_null(j);
    return j;
}

static void test_endpoint(void **state)
{
    (void)state;
    bool edc = true;
    json_t *a = tsr_dsp_data_address("https://c.example/push/x", "tok", "bearer");

    assert_non_null(a);
    assert_string_equal(tsr_dsp__push_url(a, &edc), "https://c.example/push/x");
    assert_false(edc);
    json_decref(a);
}

static void test_edc_endpoint_property(void **state)
{
    (void)state;
    bool edc = true;
    json_t *a = parse("{\"endpointProperties\": [{\"name\": "
                      "\"https://w3id.org/edc/v0.0.1/ns/endpoint\", \"value\": "
                      "\"http://sink:8080/in\"}]}");

    assert_string_equal(tsr_dsp__push_url(a, &edc), "http://sink:8080/in");
    assert_false(edc);
    json_decref(a);
}

static void test_edc_base_url(void **state)
{
    (void)state;
    bool edc = false;
    json_t *a = parse("{\"endpointType\": \"HttpData\", \"endpointProperties\": [{\"name\": "
                      "\"https://w3id.org/edc/v0.0.1/ns/baseUrl\", \"value\": "
                      "\"http://sink:8080/in\"}]}");

    assert_string_equal(tsr_dsp__push_url(a, &edc), "http://sink:8080/in");
    assert_true(edc);
    json_decref(a);
}

static void test_refused(void **state)
{
    (void)state;
    bool edc = false;
    json_t *a = parse("{\"endpoint\": \"file:///etc/passwd\"}");
    json_t *b = parse("{\"endpoint\": 42}");
    json_t *c = parse("{\"endpointProperties\": [{\"name\": \"baseUrl\", "
                      "\"value\": \"ftp://x/\"}]}");

    assert_null(tsr_dsp__push_url(a, &edc));
    assert_null(tsr_dsp__push_url(b, &edc));
    assert_null(tsr_dsp__push_url(c, &edc));
    assert_null(tsr_dsp__push_url(NULL, &edc));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_edc_endpoint_property),
        cmocka_unit_test(test_edc_base_url),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
