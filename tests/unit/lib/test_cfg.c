/*
 * tests/unit/lib/test_cfg.c: tessera.conf loading (defaults, file,
 * environment), every error message with its line, quoting, paths,
 * lists, bounds, all-or-nothing failure, and the two printers.
 */
#include "lib/tsr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cfg.h"
#include "lib/mem.h"

struct conf {
    char *name;
    char *listen;
    long long port;
    bool debug;
    uint64_t max_body;
    uint64_t timeout;
    int mode;
    char *motto;
    char *state_dir;
    char *log_file;
    struct tsr_cfg_list peers;
    char *api_key;
};

static const char *const modes[] = {"strict", "lenient", NULL};

static int check_listen(const void *value, struct tsr_diag *d)
{
    const char *s = *(char *const *)value;

    if (s != NULL && strchr(s, ':') == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "expected host:port");
    return 0;
}

#define OFF(f) offsetof(struct conf, f)
static const struct tsr_cfg_key keys[] = {
    {"", "name", TSR_CFG_STRING, OFF(name), "node", 0, 0, NULL, NULL, 0, "Participant name."},
    {"server", "listen", TSR_CFG_STRING, OFF(listen), "0.0.0.0:8443", 0, 0, NULL, check_listen,
     TSR_CFG_RELOADABLE, "Protocol API address."},
    {"server", "port", TSR_CFG_INT, OFF(port), "8443", 1, 65535, NULL, NULL, 0, "TCP port."},
    {"server", "debug", TSR_CFG_BOOL, OFF(debug), "no", 0, 0, NULL, NULL, TSR_CFG_RELOADABLE,
     "Verbose logs."},
    {"server", "max-body", TSR_CFG_SIZE, OFF(max_body), "1M", 1024, 1LL << 30, NULL, NULL, 0,
     "Largest request body."},
    {"server", "timeout", TSR_CFG_DURATION, OFF(timeout), "30s", 100, 3600000, NULL, NULL, 0,
     "Idle timeout."},
    {"server", "mode", TSR_CFG_ENUM, OFF(mode), "strict", 0, 0, modes, NULL, 0, "Peer checks."},
    {"server", "motto", TSR_CFG_STRING, OFF(motto), NULL, 0, 0, NULL, NULL, 0, "Free text."},
    {"storage", "state_dir", TSR_CFG_PATH, OFF(state_dir), "state", 0, 0, NULL, NULL, 0,
     "State directory."},
    {"storage", "log.file", TSR_CFG_PATH, OFF(log_file), NULL, 0, 0, NULL, NULL, 0, "Log."},
    {"catalog", "peers", TSR_CFG_LIST, OFF(peers), NULL, 0, 4, NULL, NULL, TSR_CFG_RELOADABLE,
     "Peer catalogs."},
    {"auth", "api_key", TSR_CFG_STRING, OFF(api_key), NULL, 8, 64, NULL, NULL, TSR_CFG_SECRET,
     "Management API key."},
};
#define NKEYS TSR_ARRAY_SIZE(keys)

static const char *const env_vars[] = {
    "TESSERA_NAME", "TESSERA_SERVER_LISTEN", "TESSERA_SERVER_PORT", "TESSERA_SERVER_MAX_BODY",
    "TESSERA_CATALOG_PEERS", "TESSERA_STORAGE_LOG_FILE", "TESSERA_AUTH_API_KEY",
};

struct fixture {
    char dir[64];
    char path[128];
    struct conf c;
    struct tsr_diag d;
};

static int setup(void **state)
{
    struct fixture *f = tsr_calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/tsr_cfg_XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/tessera.conf", f->dir);
    for (size_t i = 0; i < TSR_ARRAY_SIZE(env_vars); i++)
        unsetenv(env_vars[i]);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    tsr_cfg_free(keys, NKEYS, &f->c);
    for (size_t i = 0; i < TSR_ARRAY_SIZE(env_vars); i++)
        unsetenv(env_vars[i]);
    unlink(f->path);
    rmdir(f->dir);
    tsr_free(f);
    return 0;
}

static void write_conf(struct fixture *f, const char *text)
{
    FILE *fp = fopen(f->path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static bool is_zero(const struct conf *c)
{
    static const struct conf zero;

    return memcmp(c, &zero, sizeof(zero)) == 0;
}

static void load_ok(struct fixture *f, const char *text)
{
    write_conf(f, text);
    tsr_diag_clear(&f->d);
    if (tsr_cfg_load(keys, NKEYS, f->path, &f->c, &f->d) != 0)
        fail_msg("load failed: %s", f->d.msg);
}

/*
 * Load text, expect code and exactly the message "<path>:<suffix>" (or
 * suffix alone when it does not start with a digit), and an emptied
 * struct.
 */
static void load_err(struct fixture *f, const char *text, int code, const char *suffix)
{
    char want[TSR_DIAG_MAX];

    write_conf(f, text);
    tsr_diag_clear(&f->d);
    int rc = tsr_cfg_load(keys, NKEYS, f->path, &f->c, &f->d);
    if (suffix[0] >= '0' && suffix[0] <= '9')
        snprintf(want, sizeof(want), "%s:%s", f->path, suffix);
    else
        snprintf(want, sizeof(want), "%s", suffix);
    if (rc != code || strcmp(f->d.msg, want) != 0)
        fail_msg("got %d \"%s\", want %d \"%s\"", rc, f->d.msg, code, want);
    assert_int_equal(f->d.code, code);
    assert_true(is_zero(&f->c));
}

static void test_defaults(void **state)
{
    struct fixture *f = *state;
    char cwd[512], want[600];

    assert_int_equal(tsr_cfg_load(keys, NKEYS, NULL, &f->c, &f->d), 0);
    assert_string_equal(f->c.name, "node");
    assert_string_equal(f->c.listen, "0.0.0.0:8443");
    assert_int_equal(f->c.port, 8443);
    assert_false(f->c.debug);
    assert_int_equal(f->c.max_body, 1 << 20);
    assert_int_equal(f->c.timeout, 30000);
    assert_int_equal(f->c.mode, 0);
    assert_null(f->c.motto);
    assert_null(f->c.log_file);
    assert_null(f->c.api_key);
    assert_int_equal(f->c.peers.n, 0);
    /* Without a file, relative paths resolve against the current directory. */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    snprintf(want, sizeof(want), "%s/state", cwd);
    assert_string_equal(f->c.state_dir, want);
    tsr_cfg_free(keys, NKEYS, &f->c);
    assert_true(is_zero(&f->c));

    /* An empty file changes nothing either. */
    load_ok(f, "# nothing here\n\n; nor here\n");
    assert_int_equal(f->c.port, 8443);
}

static void test_file_overrides(void **state)
{
    struct fixture *f = *state;
    char want[200];

    load_ok(f, "name = edge-1\n"
               "[server]\n"
               "  listen = 127.0.0.1:9443   # inline comment\n"
               "port=9443\n"
               "debug = YES\n"
               "max-body = 64k\n"
               "timeout = 250ms\n"
               "mode = Lenient\n"
               "motto = did:web:example.com#key-1 ; trailing\n"
               "[storage]\n"
               "state_dir = ./var/state\n"
               "log.file = /var/log/tessera.log\n");
    assert_string_equal(f->c.name, "edge-1");
    assert_string_equal(f->c.listen, "127.0.0.1:9443");
    assert_int_equal(f->c.port, 9443);
    assert_true(f->c.debug);
    assert_int_equal(f->c.max_body, 65536);
    assert_int_equal(f->c.timeout, 250);
    assert_int_equal(f->c.mode, 1);
    /* '#' not preceded by a blank is part of the value. */
    assert_string_equal(f->c.motto, "did:web:example.com#key-1");
    /* Relative paths resolve against the file's directory. */
    snprintf(want, sizeof(want), "%s/var/state", f->dir);
    assert_string_equal(f->c.state_dir, want);
    assert_string_equal(f->c.log_file, "/var/log/tessera.log");
}

static void test_env_overrides(void **state)
{
    struct fixture *f = *state;
    char want[200];

    setenv("TESSERA_SERVER_PORT", "7000", 1);
    setenv("TESSERA_SERVER_MAX_BODY", "2M", 1);
    setenv("TESSERA_NAME", "from-env", 1);
    setenv("TESSERA_CATALOG_PEERS", "https://c1,https://c2", 1);
    setenv("TESSERA_STORAGE_LOG_FILE", "logs/t.log", 1);
    load_ok(f, "name = from-file\n"
               "[server]\nport = 9000\nmax-body = 4M\n"
               "[catalog]\npeers = https://a\npeers = https://b\n");
    assert_int_equal(f->c.port, 7000);
    assert_int_equal(f->c.max_body, 2 << 20);
    assert_string_equal(f->c.name, "from-env");
    /* The environment replaces a list entirely. */
    assert_int_equal(f->c.peers.n, 2);
    assert_string_equal(f->c.peers.items[0], "https://c1");
    assert_string_equal(f->c.peers.items[1], "https://c2");
    /* Relative paths from the environment resolve against the file's directory too. */
    snprintf(want, sizeof(want), "%s/logs/t.log", f->dir);
    assert_string_equal(f->c.log_file, want);

    char name[64];
    assert_int_equal(tsr_cfg_env_name(&keys[4], name, sizeof(name)), 0);
    assert_string_equal(name, "TESSERA_SERVER_MAX_BODY");
    assert_int_equal(tsr_cfg_env_name(&keys[9], name, sizeof(name)), 0);
    assert_string_equal(name, "TESSERA_STORAGE_LOG_FILE");
    assert_int_equal(tsr_cfg_env_name(&keys[0], name, sizeof(name)), 0);
    assert_string_equal(name, "TESSERA_NAME");
    assert_int_equal(tsr_cfg_env_name(&keys[4], name, 10), TSR_ELIMIT);
}

static void test_env_errors(void **state)
{
    struct fixture *f = *state;

    setenv("TESSERA_SERVER_PORT", "eighty", 1);
    load_err(f, "[server]\nport = 80\n", TSR_EINVAL,
             "TESSERA_SERVER_PORT: [server] port: \"eighty\" is not an integer");
    setenv("TESSERA_SERVER_PORT", "0", 1);
    load_err(f, "", TSR_ERANGE,
             "TESSERA_SERVER_PORT: [server] port: \"0\" is out of range (allowed 1..65535)");
    unsetenv("TESSERA_SERVER_PORT");
    setenv("TESSERA_SERVER_LISTEN", "nocolon", 1);
    load_err(f, "", TSR_EINVAL, "TESSERA_SERVER_LISTEN: [server] listen: expected host:port");
    setenv("TESSERA_SERVER_LISTEN", "a:1\nb", 1);
    load_err(f, "", TSR_EINVAL,
             "TESSERA_SERVER_LISTEN: [server] listen: control character in the value");
}

static void test_errors_with_lines(void **state)
{
    struct fixture *f = *state;
    char *big;

    load_err(f, "[server]\nport = 1\n\n[sever]\n", TSR_EINVAL,
             "4: unknown section [sever] (did you mean [server]?)");
    load_err(f, "[nothing-like-it]\n", TSR_EINVAL, "1: unknown section [nothing-like-it]");
    load_err(f, "[server]\nprot = 1\n", TSR_EINVAL,
             "2: unknown key \"prot\" in [server] (did you mean \"port\"?)");
    load_err(f, "[server]\nmax_body = 1\n", TSR_EINVAL,
             "2: unknown key \"max_body\" in [server] (did you mean \"max-body\"?)");
    load_err(f, "[server]\ncompletely_unknown = 1\n", TSR_EINVAL,
             "2: unknown key \"completely_unknown\" in [server]");
    /* A key of another section is unknown here. */
    load_err(f, "[server]\nstate_dir = x\n", TSR_EINVAL,
             "2: unknown key \"state_dir\" in [server]");
    load_err(f, "port = 1\n", TSR_EINVAL, "1: unknown key \"port\" outside any [section]");
    load_err(f, "[server]\nport = abc\n", TSR_EINVAL,
             "2: [server] port: \"abc\" is not an integer");
    load_err(f, "[server]\nport = 70000\n", TSR_ERANGE,
             "2: [server] port: \"70000\" is out of range (allowed 1..65535)");
    load_err(f, "[server]\nmax-body = 2G\n", TSR_ERANGE,
             "2: [server] max-body: \"2G\" is out of range (allowed 1k..1G)");
    load_err(f, "[server]\nmax-body = 512\n", TSR_ERANGE,
             "2: [server] max-body: \"512\" is out of range (allowed 1k..1G)");
    load_err(f, "[server]\nmax-body = lots\n", TSR_EINVAL,
             "2: [server] max-body: \"lots\" is not a size (like 512, 64k, 1M, 2G)");
    load_err(f, "[server]\ntimeout = 2h\n", TSR_ERANGE,
             "2: [server] timeout: \"2h\" is out of range (allowed 100ms..1h)");
    load_err(f, "[server]\ntimeout = soon\n", TSR_EINVAL,
             "2: [server] timeout: \"soon\" is not a duration (like 250ms, 30s, 5m, 1h, 1d)");
    load_err(f, "[server]\ndebug = maybe\n", TSR_EINVAL,
             "2: [server] debug: \"maybe\" is not a boolean (use yes/no, true/false, on/off, "
             "1/0)");
    load_err(f, "[server]\nmode = fast\n", TSR_EINVAL,
             "2: [server] mode: \"fast\" is not one of: strict, lenient");
    load_err(f, "[server]\nport = 1\n# again:\nport = 2\n", TSR_EINVAL,
             "4: duplicate key [server] port (first set on line 2)");
    load_err(f, "[server]\n\nport 80\n", TSR_EINVAL, "3: missing '=' (expected key = value)");
    load_err(f, "[server]\n= 80\n", TSR_EINVAL, "2: missing key name before '='");
    load_err(f, "[server\n", TSR_EINVAL, "1: missing ']' in section header");
    load_err(f, "[server] port = 1\n", TSR_EINVAL, "1: unexpected text after ']'");
    load_err(f, "[server]\nlisten = nocolon\n", TSR_EINVAL,
             "2: [server] listen: expected host:port");
    load_err(f, "[server]\nport = 1\x01\n", TSR_EINVAL, "2: control character in line");
    /* Secrets are never echoed, not even in errors. */
    load_err(f, "[auth]\napi_key = short\n", TSR_ERANGE,
             "2: [auth] api_key: value of 5 bytes (allowed 8..64)");

    /* Line length: 4096 bytes is fine, 4097 is not. */
    big = tsr_malloc(TSR_CFG_LINE_MAX + 64);
    assert_non_null(big);
    memset(big, ' ', TSR_CFG_LINE_MAX + 64);
    memcpy(big, "[server]\nmotto = x", 18);
    big[9 + TSR_CFG_LINE_MAX] = '\n';
    big[9 + TSR_CFG_LINE_MAX + 1] = '\0';
    load_ok(f, big);
    assert_string_equal(f->c.motto, "x");
    tsr_cfg_free(keys, NKEYS, &f->c);
    big[9 + TSR_CFG_LINE_MAX] = ' ';
    big[9 + TSR_CFG_LINE_MAX + 1] = '\n';
    big[9 + TSR_CFG_LINE_MAX + 2] = '\0';
    load_err(f, big, TSR_ELIMIT, "2: line too long (limit 4096 bytes)");
    tsr_free(big);

    /* File size: over 1 MiB is refused before parsing. */
    big = tsr_malloc(TSR_CFG_FILE_MAX + 2);
    assert_non_null(big);
    memset(big, '\n', TSR_CFG_FILE_MAX + 1);
    big[TSR_CFG_FILE_MAX + 1] = '\0';
    write_conf(f, big);
    assert_int_equal(tsr_cfg_load(keys, NKEYS, f->path, &f->c, &f->d), TSR_ELIMIT);
    assert_non_null(strstr(f->d.msg, "file too large"));
    assert_true(is_zero(&f->c));
    tsr_free(big);

    /* A missing file. */
    unlink(f->path);
    assert_int_equal(tsr_cfg_load(keys, NKEYS, f->path, &f->c, &f->d), TSR_ENOTFOUND);
    assert_non_null(strstr(f->d.msg, f->path));
    assert_true(is_zero(&f->c));
}

static void test_all_or_nothing(void **state)
{
    struct fixture *f = *state;
    struct conf second = {0};

    /* A good configuration, then a reload with an error on the last line. */
    load_ok(f, "[server]\nport = 1234\n[catalog]\npeers = a b\n");
    write_conf(f, "[server]\nport = 4321\nmotto = \"kept?\"\n[catalog]\npeers = c\npeers = d\n"
                  "[auth]\napi_key = secret-value-1\n[server]\ndebug = perhaps\n");
    assert_int_not_equal(tsr_cfg_load(keys, NKEYS, f->path, &second, &f->d), 0);
    assert_true(is_zero(&second));
    /* The old one is untouched. */
    assert_int_equal(f->c.port, 1234);
    assert_int_equal(f->c.peers.n, 2);
}

static void test_quoted_values(void **state)
{
    struct fixture *f = *state;

    load_ok(f, "[server]\nmotto = \"  spaced # not a comment ; \\\"q\\\" \\\\ \"   # comment\n");
    assert_string_equal(f->c.motto, "  spaced # not a comment ; \"q\" \\ ");
    tsr_cfg_free(keys, NKEYS, &f->c);
    load_ok(f, "[server]\nmotto = \"\"\n");
    assert_string_equal(f->c.motto, "");
    tsr_cfg_free(keys, NKEYS, &f->c);
    /* An unquoted value keeps inner quotes and spaces. */
    load_ok(f, "[server]\nmotto = a \"b\"  c\n");
    assert_string_equal(f->c.motto, "a \"b\"  c");
    tsr_cfg_free(keys, NKEYS, &f->c);

    load_err(f, "[server]\nmotto = \"open\n", TSR_EINVAL,
             "2: [server] motto: unterminated quoted value");
    load_err(f, "[server]\nmotto = \"a\\nb\"\n", TSR_EINVAL,
             "2: [server] motto: unknown escape in quoted value (only \\\" and \\\\)");
    load_err(f, "[server]\nmotto = \"a\" b\n", TSR_EINVAL,
             "2: [server] motto: unexpected text after the closing quote");
}

static void test_lists(void **state)
{
    struct fixture *f = *state;

    load_ok(f, "[catalog]\n"
               "peers = https://a, https://b\n"
               "peers = https://c\n"
               "peers = \"with space\"\n");
    assert_int_equal(f->c.peers.n, 4);
    assert_string_equal(f->c.peers.items[0], "https://a");
    assert_string_equal(f->c.peers.items[1], "https://b");
    assert_string_equal(f->c.peers.items[2], "https://c");
    assert_string_equal(f->c.peers.items[3], "with space");
    tsr_cfg_free(keys, NKEYS, &f->c);
    assert_int_equal(f->c.peers.n, 0);
    assert_null(f->c.peers.items);

    load_ok(f, "[catalog]\npeers = x,,y\t z\n");
    assert_int_equal(f->c.peers.n, 3);
    assert_string_equal(f->c.peers.items[2], "z");
    tsr_cfg_free(keys, NKEYS, &f->c);

    load_ok(f, "[catalog]\npeers =\n");
    assert_int_equal(f->c.peers.n, 0);
    tsr_cfg_free(keys, NKEYS, &f->c);

    /* The item count bound applies to the final list, naming the last line that set it. */
    load_err(f, "[catalog]\npeers = a b c\npeers = d e\n", TSR_ERANGE,
             "3: [catalog] peers: 5 items (allowed 0..4)");
}

static void test_crlf_bom_sections(void **state)
{
    struct fixture *f = *state;

    load_ok(f, "\xef\xbb\xbfname = n1\r\n[server]\r\nport = 81\r\n[storage]\r\n[server]\r\n"
               "debug = on\r\n");
    assert_string_equal(f->c.name, "n1");
    assert_int_equal(f->c.port, 81);
    assert_true(f->c.debug);
}

static void test_bad_table(void **state)
{
    struct fixture *f = *state;
    struct conf c = {0};
    static const struct tsr_cfg_key bad_default[] = {
        {"server", "port", TSR_CFG_INT, OFF(port), "x", 1, 10, NULL, NULL, 0, "Port."},
    };
    static const struct tsr_cfg_key no_enum[] = {
        {"server", "mode", TSR_CFG_ENUM, OFF(mode), NULL, 0, 0, NULL, NULL, 0, "Mode."},
    };

    assert_int_equal(tsr_cfg_load(bad_default, 1, NULL, &c, &f->d), TSR_EINTERNAL);
    assert_string_equal(f->d.msg, "[server] port: bad default: \"x\" is not an integer");
    assert_int_equal(tsr_cfg_load(no_enum, 1, NULL, &c, &f->d), TSR_EINTERNAL);
    assert_true(is_zero(&c));
}

/* Everything written to fp so far, as a new string. */
static char *slurp(FILE *fp)
{
    long len = ftell(fp);
    char *s;

    assert_true(len >= 0);
    s = tsr_malloc((size_t)len + 1);
    assert_non_null(s);
    rewind(fp);
    assert_int_equal(fread(s, 1, (size_t)len, fp), (size_t)len);
    s[len] = '\0';
    return s;
}

static void test_dump_round_trip(void **state)
{
    struct fixture *f = *state;
    struct conf again = {0};
    FILE *fp;
    char *text;

    load_ok(f, "name = \"edge 1\"\n[server]\nport = 9000\nmax-body = 3072\ntimeout = 90s\n"
               "motto = \"say \\\"hi\\\" # now\"\n[catalog]\npeers = a\npeers = \"b c\"\n"
               "[auth]\napi_key = very-secret-key\n");
    fp = tmpfile();
    assert_non_null(fp);
    assert_int_equal(tsr_cfg_dump(keys, NKEYS, &f->c, fp), 0);
    text = slurp(fp);
    fclose(fp);
    assert_null(strstr(text, "very-secret-key"));
    assert_non_null(strstr(text, "api_key = (set)\n"));
    assert_non_null(strstr(text, "max-body = 3k\n"));
    assert_non_null(strstr(text, "timeout = 90s\n"));
    assert_non_null(strstr(text, "debug = no\n"));
    assert_non_null(strstr(text, "mode = strict\n"));
    assert_non_null(strstr(text, "# log.file is not set\n"));
    /* Keys outside any section come first, before any header. */
    assert_memory_equal(text, "name = \"edge 1\"\n\n[server]\n", 25);

    /* Read it back (without the secret line): every value is the same. */
    char *secret = strstr(text, "[auth]");
    assert_non_null(secret);
    *secret = '\0';
    write_conf(f, text);
    tsr_free(text);
    assert_int_equal(tsr_cfg_load(keys, NKEYS, f->path, &again, &f->d), 0);
    assert_string_equal(again.name, "edge 1");
    assert_int_equal(again.port, 9000);
    assert_int_equal(again.max_body, 3072);
    assert_int_equal(again.timeout, 90000);
    assert_string_equal(again.motto, "say \"hi\" # now");
    assert_string_equal(again.state_dir, f->c.state_dir);
    assert_int_equal(again.peers.n, 2);
    assert_string_equal(again.peers.items[1], "b c");
    tsr_cfg_free(keys, NKEYS, &again);
}

static void test_print_keys(void **state)
{
    FILE *fp = tmpfile();
    char *text;

    (void)state;
    assert_non_null(fp);
    assert_int_equal(tsr_cfg_print_keys(keys, NKEYS, fp), 0);
    text = slurp(fp);
    fclose(fp);
    assert_non_null(strstr(text, "name  string, default \"node\"\n"
                                 "    env TESSERA_NAME\n"
                                 "    Participant name.\n"));
    assert_non_null(strstr(text, "\nserver.port  integer 1..65535, default \"8443\"\n"
                                 "    env TESSERA_SERVER_PORT\n    TCP port.\n"));
    assert_non_null(strstr(text, "\nserver.max-body  size 1k..1G, default \"1M\"\n"
                                 "    env TESSERA_SERVER_MAX_BODY\n"));
    assert_non_null(strstr(text, "\nserver.timeout  duration 100ms..1h, default \"30s\"\n"));
    assert_non_null(strstr(text, "\nserver.mode  one-of(strict|lenient), default \"strict\"\n"));
    assert_non_null(strstr(text, "\nserver.listen  string, default \"0.0.0.0:8443\", "
                                 "reloadable\n"));
    assert_non_null(strstr(text, "\ncatalog.peers  list items 0..4, no default, reloadable\n"));
    assert_non_null(strstr(text, "\nauth.api_key  string length 8..64, no default, secret\n"));
    /* One column-0 line per key. */
    int heads = 0;
    for (const char *p = text; *p != '\0'; p = strchr(p, '\n') + 1) {
        if (*p != ' ')
            heads++;
    }
    assert_int_equal(heads, NKEYS);
    tsr_free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_with_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoted_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crlf_bom_sections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_round_trip, setup, teardown),
        cmocka_unit_test(test_print_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
