/*
 * connector/cli/cmd_init.c: `tessera init DIR`: a new participant's folder,
 * ready for `tesserad -c DIR/tessera.conf`.
 *
 * It writes the participant key, a TLS key and certificate (issued by a
 * local CA from `tessera ca`, or self-signed), the state folder and a
 * commented tessera.conf generated from tesserad's own key table
 * (connector/conf.h), so the file always matches what the daemon reads.
 * Every file is written atomically, and a run that fails removes what it
 * made, so that a retry never trips over half a participant.
 */
#include "lib/tsr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connector/cli/cli.h"
#include "connector/conf.h"
#include "lib/b64.h"
#include "lib/crypto.h"
#include "lib/did.h"
#include "lib/jose.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "lib/str.h"

/* File names in a participant folder; the first four match tessera.conf's defaults. */
#define F_KEY "participant.key"
#define F_TLS_KEY "tls.key"
#define F_TLS_CERT "tls.crt"
#define F_STATE "state"
#define F_CA "ca.crt"
#define F_CONF "tessera.conf"

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 8443
#define DEFAULT_MGMT_PORT 8181
#define DEFAULT_NAME "tessera participant"
/* Bounds of participant.name in connector/conf.c. */
#define NAME_MAX_LEN 200
/* TLS certificates are for demos and tests: a year, then `tessera init` again. */
#define TLS_DAYS 365
/* Bytes of randomness in the management API key (base64url: 43 characters). */
#define API_KEY_BYTES 32
/* The generated tessera.conf is about 6 KiB; anything near this is a bug. */
#define CONF_TEXT_MAX (64u * 1024)
/* A CA certificate to copy; PEM of one P-256 certificate is under 1 KiB. */
#define CA_CERT_MAX (64u * 1024)
/* --catalog URLs one run takes, and their joined length. */
#define CATALOGS_MAX 16
#define CATALOGS_LEN 4096
/* What one run may create: the files above, the state folder and DIR. */
#define MAX_MADE 8

struct init {
    const char *dir;
    char *made[MAX_MADE]; /* files and folders this run created, in order */
    bool made_dir[MAX_MADE];
    size_t nmade;
};

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = tsr_malloc(n);

    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Remember path (stolen) for the clean-up of a failed run. */
static void made(struct init *in, char *path, bool is_dir)
{
    if (in->nmade < MAX_MADE) {
        in->made[in->nmade] = path;
        in->made_dir[in->nmade] = is_dir;
        in->nmade++;
    } else {
        tsr_free(path);
    }
}

/* Undo a failed run, newest first; keep=true just forgets (success). */
static void unmake(struct init *in, bool keep)
{
    while (in->nmade > 0) {
        in->nmade--;
        if (!keep) {
            if (in->made_dir[in->nmade])
                rmdir(in->made[in->nmade]);
            else
                unlink(in->made[in->nmade]);
        }
        tsr_free(in->made[in->nmade]);
    }
}

static bool is_loopback(const char *host)
{
    struct in_addr a;

    if (strcmp(host, "localhost") == 0)
        return true;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* A participant name tessera.conf and JSON both carry unchanged: UTF-8, no control characters. */
static bool name_ok(const char *name)
{
    size_t len = strlen(name);
    json_t *probe;

    if (len == 0 || len > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];

        if (ch < 0x20 || ch == 0x7f)
            return false;
    }
    /* jansson refuses strings that are not valid UTF-8. */
    probe = json_string(name);
    json_decref(probe);
    return probe != NULL;
}

/* The last component of dir as a default participant name ("provider" for "demo/provider/"). */
static void default_name(const char *dir, char *out, size_t size)
{
    size_t end = strlen(dir), start;

    while (end > 1 && dir[end - 1] == '/')
        end--;
    start = end;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    snprintf(out, size, "%.*s", (int)(end - start), dir + start);
    if (!name_ok(out) || strcmp(out, ".") == 0 || strcmp(out, "..") == 0 ||
        strcmp(out, "/") == 0)
        tsr_strlcpy(out, DEFAULT_NAME, size);
}

/* Refuse early, before anything is made, when a file this run would write already exists. */
static int check_free(struct tsr_cli *cli, const char *dir, bool with_ca)
{
    static const char *const names[] = {F_KEY, F_TLS_KEY, F_TLS_CERT, F_STATE, F_CA};
    struct stat st;
    char *p = join(dir, F_CONF);
    int rc = TSR_CLI_EXIT_OK;

    if (p == NULL)
        return tsr_cli_fail(cli, "out of memory");
    if (lstat(p, &st) == 0) {
        rc = tsr_cli_fail(cli, "%s already holds a participant (%s); refusing to overwrite it",
                          dir, F_CONF);
        goto out;
    }
    for (size_t i = 0; i < TSR_ARRAY_SIZE(names); i++) {
        if (strcmp(names[i], F_CA) == 0 && !with_ca)
            continue;
        tsr_free(p);
        p = join(dir, names[i]);
        if (p == NULL) {
            rc = tsr_cli_fail(cli, "out of memory");
            goto out;
        }
        if (lstat(p, &st) == 0) {
            rc = tsr_cli_fail(cli, "%s already exists; tessera init makes a participant in a new "
                                   "or empty folder",
                              p);
            goto out;
        }
    }
out:
    tsr_free(p);
    return rc;
}

static int make_state_dir(struct tsr_cli *cli, struct init *in)
{
    char *p = join(in->dir, F_STATE);

    if (p == NULL)
        return tsr_cli_fail(cli, "out of memory");
    if (mkdir(p, 0700) != 0) {
        int rc = tsr_cli_fail(cli, "cannot create %s: %s", p, strerror(errno));

        tsr_free(p);
        return rc;
    }
    made(in, p, true);
    if (chmod(p, 0700) != 0)
        return tsr_cli_fail(cli, "%s: chmod: %s", p, strerror(errno));
    return TSR_CLI_EXIT_OK;
}

static int make_participant_key(struct tsr_cli *cli, struct init *in)
{
    struct tsr_key *key = NULL;
    struct tsr_diag d;
    char *p = join(in->dir, F_KEY);
    int rc;

    tsr_diag_clear(&d);
    if (p == NULL)
        return tsr_cli_fail(cli, "out of memory");
    rc = tsr_key_generate(TSR_KEY_ES256, &key, &d);
    if (rc == 0)
        rc = tsr_key_save_pem(key, p, &d);
    tsr_key_free(key);
    if (rc != 0) {
        rc = tsr_cli_fail_diag(cli, rc, &d, "participant key");
        tsr_free(p);
        return rc;
    }
    made(in, p, false);
    return TSR_CLI_EXIT_OK;
}

static int make_tls(struct tsr_cli *cli, struct init *in, const struct tsr_pki_ca *ca,
                    const char *host)
{
    const char *hosts[2] = {host, NULL};
    size_t nhosts = 1;
    char *key = join(in->dir, F_TLS_KEY), *cert = join(in->dir, F_TLS_CERT);
    struct tsr_diag d;
    int rc;

    tsr_diag_clear(&d);
    if (key == NULL || cert == NULL) {
        rc = tsr_cli_fail(cli, "out of memory");
        goto fail;
    }
    /* Local demos reach a loopback participant by either name. */
    if (strcmp(host, "127.0.0.1") == 0)
        hosts[nhosts++] = "localhost";
    else if (strcmp(host, "localhost") == 0)
        hosts[nhosts++] = "127.0.0.1";
    if (ca != NULL)
        rc = tsr_pki_issue(ca, hosts, nhosts, key, cert, TLS_DAYS, &d);
    else
        rc = tsr_pki_self_signed(hosts, nhosts, key, cert, TLS_DAYS, &d);
    if (rc != 0) {
        /* pki writes the key first; do not leave it alone when the certificate failed. */
        unlink(key);
        rc = tsr_cli_fail_diag(cli, rc, &d, "TLS certificate");
        goto fail;
    }
    made(in, key, false);
    made(in, cert, false);
    return TSR_CLI_EXIT_OK;
fail:
    tsr_free(key);
    tsr_free(cert);
    return rc;
}

static int copy_ca_cert(struct tsr_cli *cli, struct init *in, const unsigned char *pem, size_t len)
{
    char *p = join(in->dir, F_CA);
    struct tsr_diag d;
    int rc;

    tsr_diag_clear(&d);
    if (p == NULL)
        return tsr_cli_fail(cli, "out of memory");
    rc = tsr_crypto_write_file(p, pem, len, 0644, &d);
    if (rc != 0) {
        rc = tsr_cli_fail_diag(cli, rc, &d, NULL);
        tsr_free(p);
        return rc;
    }
    made(in, p, false);
    return TSR_CLI_EXIT_OK;
}

/* set: "section.key", "value" pairs, NULL-terminated.  Written 0600: it holds the API key. */
static int write_conf(struct tsr_cli *cli, struct init *in, const char *const *set)
{
    char *text = tsr_malloc(CONF_TEXT_MAX), *p = join(in->dir, F_CONF);
    struct tsr_diag d;
    FILE *fp = NULL;
    long len = -1;
    int rc;

    tsr_diag_clear(&d);
    if (text == NULL || p == NULL) {
        rc = tsr_cli_fail(cli, "out of memory");
        goto out;
    }
    /* Built in memory first, so the file appears whole or not at all. */
    fp = fmemopen(text, CONF_TEXT_MAX, "w");
    if (fp == NULL) {
        rc = tsr_cli_fail(cli, "cannot build %s: %s", F_CONF, strerror(errno));
        goto out;
    }
    rc = tsr_conf_write_template(fp, set);
    if (rc == 0 && fflush(fp) == 0 && !ferror(fp))
        len = ftell(fp);
    (void)fclose(fp); /* a memory stream, flushed and checked above */
    if (rc != 0 || len < 0 || (size_t)len >= CONF_TEXT_MAX - 1) {
        rc = tsr_cli_fail(cli, "cannot build %s (output too long or failed)", F_CONF);
        goto out;
    }
    rc = tsr_crypto_write_file(p, text, (size_t)len, 0600, &d);
    if (rc != 0) {
        rc = tsr_cli_fail_diag(cli, rc, &d, NULL);
        goto out;
    }
    made(in, p, false);
    p = NULL;
    rc = TSR_CLI_EXIT_OK;
out:
    if (text != NULL) {
        tsr_wipe(text, CONF_TEXT_MAX);
        tsr_free(text);
    }
    tsr_free(p);
    return rc;
}

static int init_exec(int argc, char **argv, struct tsr_cli *cli)
{
    enum { O_NAME = 1000, O_HOST, O_PORT, O_MGMT_PORT, O_CA, O_MTLS, O_CATALOG };
    static const struct option opts[] = {
        {"name", required_argument, NULL, O_NAME},
        {"host", required_argument, NULL, O_HOST},
        {"port", required_argument, NULL, O_PORT},
        {"mgmt-port", required_argument, NULL, O_MGMT_PORT},
        {"ca", required_argument, NULL, O_CA},
        {"mtls", no_argument, NULL, O_MTLS},
        {"catalog", required_argument, NULL, O_CATALOG},
        TSR_CLI_OPT_HELP,
        {NULL, 0, NULL, 0},
    };
    struct init in = {0};
    const char *name = NULL, *host = DEFAULT_HOST, *ca_dir = NULL;
    long long port = DEFAULT_PORT, mgmt_port = DEFAULT_MGMT_PORT;
    bool mtls = false, dir_created = false;
    char name_buf[NAME_MAX_LEN + 1], port_s[8], mgmt_port_s[8], mgmt_url[64];
    char api_key[64]; /* base64url of API_KEY_BYTES: 43 characters */
    char catalogs[CATALOGS_LEN] = "";
    size_t ncatalogs = 0;
    unsigned char raw[API_KEY_BYTES];
    char abs[PATH_MAX], conf_path[PATH_MAX + sizeof("/" F_CONF)];
    struct tsr_pki_ca *ca = NULL;
    unsigned char *ca_pem = NULL;
    size_t ca_pem_len = 0;
    char *did = NULL, *ca_cert_path = NULL;
    struct tsr_diag d;
    int c, rc;

    api_key[0] = '\0';
    tsr_diag_clear(&d);
    while ((c = tsr_cli_getopt(cli, argc, argv, "h", opts)) != -1) {
        switch (c) {
        case O_NAME:
            name = optarg;
            break;
        case O_HOST:
            host = optarg;
            break;
        case O_PORT:
            if (!tsr_cli_int_arg(cli, "--port", optarg, 1, 65535, &port))
                return TSR_CLI_EXIT_USAGE;
            break;
        case O_MGMT_PORT:
            if (!tsr_cli_int_arg(cli, "--mgmt-port", optarg, 1, 65535, &mgmt_port))
                return TSR_CLI_EXIT_USAGE;
            break;
        case O_CA:
            ca_dir = optarg;
            break;
        case O_MTLS:
            mtls = true;
            break;
        case O_CATALOG: {
            size_t used = strlen(catalogs);

            /* [catalog] urls is a list separated by white space: a URL has none. */
            if ((strncmp(optarg, "https://", 8) != 0 && strncmp(optarg, "http://", 7) != 0) ||
                optarg[strcspn(optarg, " \t,\"")] != '\0')
                return tsr_cli_usage(cli, "--catalog %s: not an http:// or https:// URL",
                                     optarg);
            if (++ncatalogs > CATALOGS_MAX ||
                used + strlen(optarg) + 2 > sizeof(catalogs))
                return tsr_cli_usage(cli, "--catalog: at most %d catalogs", CATALOGS_MAX);
            snprintf(catalogs + used, sizeof(catalogs) - used, "%s%s", used > 0 ? " " : "",
                     optarg);
            break;
        }
        default:
            return tsr_cli_opt_other(cli, c);
        }
    }
    if (argc - optind != 1)
        return tsr_cli_usage(cli, argc - optind == 0 ? "missing DIR" : "too many operands");
    in.dir = argv[optind];
    if (in.dir[0] == '\0')
        return tsr_cli_usage(cli, "DIR is empty");
    if (port == mgmt_port)
        return tsr_cli_usage(cli, "--port and --mgmt-port must differ (both are %lld)", port);
    if (mtls && ca_dir == NULL)
        return tsr_cli_usage(cli, "--mtls needs --ca CADIR (client certificates are checked "
                                  "against that CA)");
    if (name != NULL && !name_ok(name))
        return tsr_cli_usage(cli, "--name: 1 to %d characters of UTF-8 without control "
                                  "characters", NAME_MAX_LEN);
    if (name == NULL) {
        default_name(in.dir, name_buf, sizeof(name_buf));
        name = name_buf;
    }
    /* did:web checks the host: a DNS name, or a loopback address for local demos. */
    rc = tsr_did_web_from_host(host, (unsigned)port, NULL, &did, &d);
    if (rc != 0)
        return tsr_cli_usage(cli, "--host %s: %s", host, tsr_diag_msg(&d));

    /* Everything that can be checked is checked before the first file is made. */
    if (ca_dir != NULL) {
        rc = tsr_pki_ca_load(ca_dir, &ca, &d);
        if (rc == 0) {
            ca_cert_path = join(ca_dir, TSR_PKI_CA_CERT_FILE);
            rc = ca_cert_path == NULL ? TSR_ENOMEM
                                      : tsr_crypto_read_file(ca_cert_path, CA_CERT_MAX, &ca_pem,
                                                             &ca_pem_len, &d);
        }
        if (rc != 0) {
            rc = tsr_cli_fail_diag(cli, rc, &d, "--ca");
            goto out;
        }
    }
    rc = check_free(cli, in.dir, ca_dir != NULL);
    if (rc != TSR_CLI_EXIT_OK)
        goto out;
    rc = tsr_random_bytes(raw, sizeof(raw));
    if (rc == 0)
        rc = tsr_b64url_encode_buf(raw, sizeof(raw), api_key, sizeof(api_key));
    tsr_wipe(raw, sizeof(raw));
    if (rc != 0) {
        rc = tsr_cli_fail_diag(cli, rc, NULL, "API key");
        goto out;
    }

    rc = tsr_cli_make_dir(cli, in.dir, &dir_created);
    if (rc != TSR_CLI_EXIT_OK)
        goto out;
    if (dir_created) {
        char *p = tsr_strdup(in.dir);

        if (p == NULL) {
            rmdir(in.dir);
            rc = tsr_cli_fail(cli, "out of memory");
            goto out;
        }
        made(&in, p, true);
    }
    rc = make_state_dir(cli, &in);
    if (rc == TSR_CLI_EXIT_OK)
        rc = make_participant_key(cli, &in);
    if (rc == TSR_CLI_EXIT_OK)
        rc = make_tls(cli, &in, ca, host);
    if (rc == TSR_CLI_EXIT_OK && ca != NULL)
        rc = copy_ca_cert(cli, &in, ca_pem, ca_pem_len);
    if (rc != TSR_CLI_EXIT_OK)
        goto out;

    snprintf(port_s, sizeof(port_s), "%lld", port);
    snprintf(mgmt_port_s, sizeof(mgmt_port_s), "%lld", mgmt_port);
    {
        /* Listen where the DID points when that is loopback; else on every address. */
        const char *listen = !is_loopback(host)                ? "0.0.0.0"
                             : strcmp(host, "localhost") == 0 ? "127.0.0.1"
                                                              : host;
        const char *set[24];
        size_t n = 0;

        set[n++] = "participant.name";
        set[n++] = name;
        set[n++] = "participant.did";
        set[n++] = did;
        set[n++] = "server.listen";
        set[n++] = listen;
        set[n++] = "server.port";
        set[n++] = port_s;
        if (mtls) {
            set[n++] = "server.client_ca";
            set[n++] = F_CA;
        }
        set[n++] = "management.port";
        set[n++] = mgmt_port_s;
        set[n++] = "management.api_key";
        set[n++] = api_key;
        if (ca != NULL) {
            set[n++] = "client.ca_file";
            set[n++] = F_CA;
        }
        if (ncatalogs > 0) {
            set[n++] = "catalog.urls";
            set[n++] = catalogs;
        }
        set[n] = NULL;
        rc = write_conf(cli, &in, set);
    }
    if (rc != TSR_CLI_EXIT_OK)
        goto out;

    /* Done: what follows only reports, and must not undo the participant. */
    unmake(&in, true);
    if (realpath(in.dir, abs) == NULL)
        tsr_strlcpy(abs, in.dir, sizeof(abs));
    snprintf(conf_path, sizeof(conf_path), "%s/%s", abs, F_CONF);
    snprintf(mgmt_url, sizeof(mgmt_url), "http://127.0.0.1:%lld" TSR_CLI_MGMT_BASE_PATH,
             mgmt_port);
    if (cli->json) {
        rc = tsr_cli_json_out(cli, json_pack("{s:s, s:s, s:s, s:s}", "did", did, "dir", abs,
                                             "config", conf_path, "management_url", mgmt_url));
    } else {
        printf("%s\n", did);
        printf("participant folder %s (start it with: tesserad -c %s)\n", abs, conf_path);
        rc = TSR_CLI_EXIT_OK;
    }
out:
    unmake(&in, false);
    tsr_wipe(api_key, sizeof(api_key));
    tsr_pki_ca_free(ca);
    tsr_free(ca_pem);
    tsr_free(ca_cert_path);
    tsr_free(did);
    return rc;
}

const struct tsr_cmd_entry tsr_cmd_init_entry = {
    .name = "init",
    .alias = NULL,
    .usage = "DIR [--name NAME] [--host HOST] [--port N] [--mgmt-port N] [--catalog URL]... "
             "[--ca CADIR [--mtls]]",
    .help = "Make a new participant: its folder, keys, certificate and tessera.conf.\n"
            "Creates DIR (mode 0700) with participant.key (P-256, 0600), tls.key and tls.crt\n"
            "for HOST (issued by CADIR's CA, or self-signed without --ca), state/, and\n"
            "tessera.conf (0600: it holds the management API key), then prints the\n"
            "participant's DID (--json: {\"did\", \"dir\", \"config\", \"management_url\"}).\n"
            "Start the connector with 'tesserad -c DIR/tessera.conf'. A folder that already\n"
            "holds a tessera.conf is never overwritten; a failed run leaves nothing behind.\n"
            "\n"
            "  --name NAME     the participant's name (default: the folder's name)\n"
            "  --host HOST     DNS name, or loopback address, peers reach the connector at;\n"
            "                  the DID is did:web:HOST%3APORT (default " DEFAULT_HOST ")\n"
            "  --port N        the protocol port (DSP, data plane, DID document; default 8443)\n"
            "  --mgmt-port N   the management API's port on 127.0.0.1 (default 8181)\n"
            "  --ca CADIR      issue the TLS certificate from the CA 'tessera ca CADIR' made,\n"
            "                  copy its certificate to DIR/ca.crt and trust it for outgoing TLS\n"
            "  --mtls          with --ca: also check client certificates against that CA\n"
            "  --catalog URL   publish the self-descriptions to this catalog node\n"
            "                  ([catalog] urls; may be given more than once)",
    .exec = init_exec,
};
