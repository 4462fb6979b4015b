/*
 * tests/unit/lib/test_json.c: limits are enforced before jansson parses,
 * duplicates are refused, getters name the member, dumps are bounded and
 * state files are replaced atomically.
 */
#include "lib/tsr.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "lib/json.h"
#include "lib/mem.h"

static json_t *parse_ok(const char *s)
{
    struct tsr_diag d;
    json_t *j = NULL;

    tsr_diag_clear(&d);
    if (tsr_json_parse(s, strlen(s), NULL, &j, &d) != 0)
        fail_msg("refused %s: %s", s, d.msg);
    assert_non_null(j);
    return j;
}

static int parse_err(const char *s, const struct tsr_json_limits *lim, struct tsr_diag *d)
{
    json_t *j = (json_t *)1;

    tsr_diag_clear(d);
    int rc = tsr_json_parse(s, strlen(s), lim, &j, d);
    assert_null(j);
    assert_int_not_equal(rc, 0);
    assert_int_equal(d->code, rc);
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_parse_basic(void **state)
{
    struct tsr_diag d;
    json_t *j;

    (void)state;
    j = parse_ok("{\"a\": [1, 2, {\"b\": \"x\"}], \"c\": true}");
    assert_true(json_is_object(j));
    json_decref(j);
    j = parse_ok("42");
    assert_int_equal(json_integer_value(j), 42);
    json_decref(j);
    assert_int_equal(parse_err("{\"a\": 1,\n  \"b\": }", NULL, &d), TSR_EINVAL);
    assert_non_null(strstr(d.msg, "line 2"));
    assert_int_equal(parse_err("{\"a\": 1} x", NULL, &d), TSR_EINVAL);
    assert_int_equal(parse_err("", NULL, &d), TSR_EINVAL);
    assert_int_equal(parse_err("\"\\u0000\"", NULL, &d), TSR_EINVAL);
    assert_int_equal(parse_err("\"\xff\"", NULL, &d), TSR_EINVAL);
}

static void test_duplicates_refused(void **state)
{
    struct tsr_diag d;

    (void)state;
    assert_int_equal(parse_err("{\"target\": \"a\", \"target\": \"b\"}", NULL, &d), TSR_EINVAL);
    assert_non_null(strstr(d.msg, "duplicate"));
    assert_non_null(strstr(d.msg, "line 1"));
    /* Nested duplicates too. */
    assert_int_equal(parse_err("[{\"x\": {\"k\": 1, \"k\": 1}}]", NULL, &d), TSR_EINVAL);
}

static void test_deep_refused_quickly(void **state)
{
    enum { DEPTH = 10000 };
    struct tsr_diag d;
    char *s = tsr_malloc(2 * DEPTH + 1);
    json_t *j = NULL;

    (void)state;
    assert_non_null(s);
    memset(s, '[', DEPTH);
    memset(s + DEPTH, ']', DEPTH);
    s[2 * DEPTH] = '\0';
    double t0 = now_s();
    assert_int_equal(tsr_json_parse(s, 2 * DEPTH, NULL, &j, &d), TSR_ELIMIT);
    double t1 = now_s();
    assert_null(j);
    assert_non_null(strstr(d.msg, "nested too deeply"));
    /* The depth error is reported where nesting 33 starts. */
    assert_non_null(strstr(d.msg, "column 33"));
    assert_true(t1 - t0 < 0.5);
    /* Even a 10000-deep unterminated prefix is refused. */
    assert_int_equal(tsr_json_parse(s, DEPTH, NULL, &j, &d), TSR_ELIMIT);
    tsr_free(s);

    /* Exactly at the limit is fine; one more is not; brackets in strings do not count. */
    struct tsr_json_limits lim = {.max_depth = 3};
    assert_int_equal(tsr_json_parse("[[{\"a\":\"[[[[\"}]]", 16, &lim, &j, &d), 0);
    json_decref(j);
    assert_int_equal(parse_err("[[[[]]]]", &lim, &d), TSR_ELIMIT);
    assert_int_equal(parse_err("{\"a\":{\"b\":{\"c\":{}}}}", &lim, &d), TSR_ELIMIT);
}

static void test_size_members_strings(void **state)
{
    struct tsr_json_limits lim = {.max_bytes = 16};
    struct tsr_diag d;
    json_t *j;

    (void)state;
    assert_int_equal(parse_err("[1,2,3,4,5,6,7,8,9]", &lim, &d), TSR_ELIMIT);
    assert_non_null(strstr(d.msg, "too large"));

    lim = (struct tsr_json_limits){.max_members = 3};
    assert_int_equal(tsr_json_parse("[1,2,3]", 7, &lim, &j, &d), 0);
    json_decref(j);
    assert_int_equal(parse_err("[1,2,3,4]", &lim, &d), TSR_ELIMIT);
    assert_non_null(strstr(d.msg, "too many members"));
    assert_int_equal(parse_err("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", &lim, &d), TSR_ELIMIT);
    /* Commas inside strings and in nested containers count for their own level only. */
    const char *mixed = "[\"a,b,c,d\",[1,2,3],{\"x\":[4,5,6]}]";
    assert_int_equal(tsr_json_parse(mixed, strlen(mixed), &lim, &j, &d), 0);
    json_decref(j);

    lim = (struct tsr_json_limits){.max_string = 4};
    assert_int_equal(tsr_json_parse("{\"abcd\":\"wxyz\"}", 15, &lim, &j, &d), 0);
    json_decref(j);
    assert_int_equal(parse_err("[\"abcde\"]", &lim, &d), TSR_ELIMIT);
    assert_int_equal(parse_err("{\"abcde\":1}", &lim, &d), TSR_ELIMIT);
    /* An escaped quote does not end the string early. */
    assert_int_equal(parse_err("[\"a\\\"bcdef\"]", &lim, &d), TSR_ELIMIT);

    /* The defaults are the documented ones. */
    struct tsr_json_limits def = TSR_JSON_LIMITS_DEFAULT;
    assert_int_equal(def.max_bytes, 1 << 20);
    assert_int_equal(def.max_depth, 32);
    assert_int_equal(def.max_members, 10000);
    assert_int_equal(def.max_string, 64 << 10);
}

static void test_getters(void **state)
{
    struct tsr_diag d;
    json_t *j = parse_ok("{\"s\":\"text\",\"i\":7,\"b\":false,\"o\":{\"p/q\":{\"r\":1}},"
                         "\"a\":[10,{\"id\":\"x\"}],\"n\":null,\"f\":1.5}");
    const char *s = "preset";
    int64_t i = -1;
    bool b = true;
    json_t *o = NULL, *a = NULL;

    (void)state;
    assert_int_equal(tsr_json_get_str(j, "s", true, &s, &d), 0);
    assert_string_equal(s, "text");
    assert_int_equal(tsr_json_get_int(j, "i", true, &i, &d), 0);
    assert_int_equal(i, 7);
    assert_int_equal(tsr_json_get_bool(j, "b", true, &b, &d), 0);
    assert_false(b);
    assert_int_equal(tsr_json_get_obj(j, "o", true, &o, &d), 0);
    assert_true(json_is_object(o));
    assert_int_equal(tsr_json_get_array(j, "a", true, &a, &d), 0);
    assert_int_equal(json_array_size(a), 2);

    /* Optional and absent (or null): 0 and the preset stays. */
    s = "preset";
    assert_int_equal(tsr_json_get_str(j, "missing", false, &s, &d), 0);
    assert_string_equal(s, "preset");
    assert_int_equal(tsr_json_get_str(j, "n", false, &s, &d), 0);
    assert_string_equal(s, "preset");

    /* Required and absent. */
    tsr_diag_clear(&d);
    assert_int_equal(tsr_json_get_str(j, "missing", true, &s, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "missing required member \"missing\"");
    assert_int_equal(tsr_json_get_int(j, "n", true, &i, &d), TSR_EINVAL);

    /* Wrong types name the member and both types. */
    assert_int_equal(tsr_json_get_int(j, "s", true, &i, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "member \"s\": expected an integer, got a string");
    assert_int_equal(tsr_json_get_int(j, "f", true, &i, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "member \"f\": expected an integer, got a real number");
    assert_int_equal(tsr_json_get_bool(j, "i", false, &b, &d), TSR_EINVAL);
    assert_int_equal(tsr_json_get_obj(j, "a", true, &o, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "member \"a\": expected an object, got an array");
    assert_int_equal(tsr_json_get_array(j, "o", true, &a, &d), TSR_EINVAL);
    assert_int_equal(tsr_json_get_str(j, "o", true, &s, &d), TSR_EINVAL);

    /* Ranges. */
    assert_int_equal(tsr_json_get_int_range(j, "i", true, 0, 10, &i, &d), 0);
    assert_int_equal(tsr_json_get_int_range(j, "i", true, 8, 10, &i, &d), TSR_ERANGE);
    assert_string_equal(d.msg, "member \"i\": 7 is outside 8..10");

    /* JSON Pointers, with ~1 for '/' and array indices. */
    assert_int_equal(tsr_json_get_int(j, "/o/p~1q/r", true, &i, &d), 0);
    assert_int_equal(i, 1);
    assert_int_equal(tsr_json_get_str(j, "/a/1/id", true, &s, &d), 0);
    assert_string_equal(s, "x");
    assert_int_equal(tsr_json_get_int(j, "/a/0", true, &i, &d), 0);
    assert_int_equal(i, 10);
    assert_int_equal(tsr_json_get_int(j, "/a/01", true, &i, &d), TSR_EINVAL);
    assert_int_equal(tsr_json_get_int(j, "/a/2", true, &i, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "missing required member \"/a/2\"");
    assert_int_equal(tsr_json_get_str(j, "/a/1/id/deeper", true, &s, &d), TSR_EINVAL);
    assert_int_equal(tsr_json_get_str(j, "/a/1/id", true, &s, &d), 0);
    assert_int_equal(tsr_json_get_int(j, "/a/1/id", true, &i, &d), TSR_EINVAL);
    assert_string_equal(d.msg, "member \"/a/1/id\": expected an integer, got a string");

    /* Not an object at all: no members. */
    assert_int_equal(tsr_json_get_str(a, "s", false, &s, &d), 0);
    assert_int_equal(tsr_json_get_str(a, "s", true, &s, &d), TSR_EINVAL);
    json_decref(j);
}

static void test_dumps(void **state)
{
    json_t *j = json_pack("{s:i, s:[s, b]}", "a", 1, "b", "x", 1);
    char *s = NULL;
    size_t len = 0;

    (void)state;
    assert_non_null(j);
    assert_int_equal(tsr_json_dumps(j, 0, 1024, &s, &len), 0);
    assert_string_equal(s, "{\"a\":1,\"b\":[\"x\",true]}");
    assert_int_equal(len, strlen(s));
    tsr_free(s);
    assert_int_equal(tsr_json_dumps(j, JSON_INDENT(2), 1024, &s, NULL), 0);
    assert_non_null(strchr(s, '\n'));
    tsr_free(s);
    /* The compact text is 22 bytes: 21 is too little, 22 is enough. */
    assert_int_equal(tsr_json_dumps(j, 0, 21, &s, NULL), TSR_ELIMIT);
    assert_null(s);
    assert_int_equal(tsr_json_dumps(j, 0, 22, &s, NULL), 0);
    tsr_free(s);
    json_decref(j);

    json_t *str = json_string("scalar");
    assert_int_equal(tsr_json_dumps(str, 0, 100, &s, NULL), 0);
    assert_string_equal(s, "\"scalar\"");
    tsr_free(s);
    json_decref(str);
}

static int count_entries(const char *dir)
{
    DIR *dp = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(dp);
    while ((e = readdir(dp)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(dp);
    return n;
}

static void test_files(void **state)
{
    char dir[] = "/tmp/tsr_json_XXXXXX";
    char path[256], other[300];
    struct tsr_diag d;
    struct stat st;
    json_t *j, *back = NULL;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state.json", dir);

    assert_int_equal(tsr_json_read_file(path, NULL, &back, &d), TSR_ENOTFOUND);
    assert_null(back);

    j = json_pack("{s:s, s:i}", "id", "urn:uuid:1", "n", 3);
    assert_int_equal(tsr_json_write_file(path, j, &d), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(tsr_json_read_file(path, NULL, &back, &d), 0);
    assert_true(json_equal(j, back));
    json_decref(back);

    /* Overwrite: the new content replaces the old one, no temporary is left behind. */
    json_object_set_new(j, "n", json_integer(4));
    assert_int_equal(tsr_json_write_file(path, j, &d), 0);
    assert_int_equal(tsr_json_read_file(path, NULL, &back, &d), 0);
    assert_int_equal(json_integer_value(json_object_get(back, "n")), 4);
    json_decref(back);
    assert_int_equal(count_entries(dir), 1);

    /* Too large for the caller's limit: refused before being read. */
    struct tsr_json_limits lim = {.max_bytes = 8};
    assert_int_equal(tsr_json_read_file(path, &lim, &back, &d), TSR_ELIMIT);
    assert_non_null(strstr(d.msg, path));

    /* A syntax error is reported with the path and the position. */
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\n\"a\": nope}\n", fp);
    fclose(fp);
    assert_int_equal(tsr_json_read_file(path, NULL, &back, &d), TSR_EINVAL);
    assert_non_null(strstr(d.msg, path));
    assert_non_null(strstr(d.msg, "line 2"));

    /* A directory is not a JSON file. */
    assert_int_equal(tsr_json_read_file(dir, NULL, &back, &d), TSR_EIO);

    /* Writing into a missing directory fails cleanly. */
    snprintf(other, sizeof(other), "%s/no/such/dir.json", dir);
    assert_int_equal(tsr_json_write_file(other, j, &d), TSR_EIO);

    json_decref(j);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_basic),
        cmocka_unit_test(test_duplicates_refused),
        cmocka_unit_test(test_deep_refused_quickly),
        cmocka_unit_test(test_size_members_strings),
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_dumps),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
