/*
 * connector/conf.c: tesserad's configuration keys.
 */
#include "lib/tsr.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "connector/conf.h"
#include "lib/did.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "transports/http.h"

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const log_formats[] = {"auto", "text", "json", NULL};
static const char *const registration_types[] = {"vat_id", "lei_code", "eori", "tax_id", "local",
                                                 "url", NULL};

static int check_did(const void *value, struct tsr_diag *d)
{
    const char *const *did = value;
    char *url = NULL;

    if (*did == NULL || (*did)[0] == '\0')
        return tsr_diag_set(d, TSR_EINVAL, "a participant DID is required (tessera init writes one)");
    int rc = tsr_did_web_to_url(*did, &url, d);
    tsr_free(url);
    return rc;
}

static int check_debug(const void *value, struct tsr_diag *d)
{
    const char *const *spec = value;

    if (*spec == NULL)
        return 0;
    if (tsr_log_set_debug(*spec) != 0)
        return tsr_diag_set(d, TSR_EINVAL, "unknown component in \"%s\"", *spec);
    tsr_log_set_debug("");
    return 0;
}

#define K(sec, nm, ty, field, def, mn, mx, flags, help)                                           \
    {sec, nm, ty, offsetof(struct tsr_conf, field), def, mn, mx, NULL, NULL, flags, help}
#define R TSR_CFG_RELOADABLE

const struct tsr_cfg_key tsr_conf_keys[] = {
    K("participant", "name", TSR_CFG_STRING, name, "tessera participant", 1, 200, R,
      "A human-readable name of this participant."),
    {"participant", "did", TSR_CFG_STRING, offsetof(struct tsr_conf, did), NULL, 0, 2048, NULL,
     check_did, 0,
     "This participant's did:web identifier; its document is served at /.well-known/did.json."},
    K("participant", "key", TSR_CFG_PATH, participant_key, "participant.key", 0, 4096, 0,
      "PEM file with the participant's private key (P-256), which signs tokens and credentials."),
    {"participant", "registration_type", TSR_CFG_ENUM,
     offsetof(struct tsr_conf, registration_type), "vat_id", 0, 0, registration_types, NULL, 0,
     "Kind of registration_number: vat_id, lei_code, eori, tax_id, local, or url (of a notary's "
     "registration number credential)."},
    K("participant", "registration_number", TSR_CFG_STRING, registration_number, "", 0, 1024, 0,
      "The participant's registration number, required for its gx:LegalPerson self-description."),
    K("participant", "legal_country", TSR_CFG_STRING, legal_country, "", 0, 2, 0,
      "ISO 3166-1 alpha-2 country code of the legal address (\"DE\")."),
    K("participant", "headquarters_country", TSR_CFG_STRING, headquarters_country, "", 0, 2, 0,
      "ISO 3166-1 alpha-2 country code of the headquarters; empty: legal_country."),

    K("server", "listen", TSR_CFG_STRING, listen, "0.0.0.0", 1, 255, 0,
      "Address of the protocol port (Dataspace Protocol, data plane, DID document)."),
    K("server", "port", TSR_CFG_INT, port, "8443", 1, 65535, 0,
      "TCP port of the protocol port; it answers HTTP/2 and HTTP/1.1, TLS and cleartext."),
    K("server", "public_url", TSR_CFG_STRING, public_url, NULL, 0, 2048, 0,
      "Base URL peers use to reach this connector; default https://HOST:PORT from the DID."),
    K("server", "tls", TSR_CFG_BOOL, tls, "yes", 0, 0, 0,
      "Serve TLS on the protocol port; cleartext HTTP/1.1 and HTTP/2 are answered as well."),
    K("server", "tls_cert", TSR_CFG_PATH, tls_cert, "tls.crt", 0, 4096, R,
      "PEM certificate chain of the protocol port."),
    K("server", "tls_key", TSR_CFG_PATH, tls_key, "tls.key", 0, 4096, R,
      "PEM private key of the protocol port's certificate."),
    K("server", "client_ca", TSR_CFG_PATH, client_ca, "", 0, 4096, R,
      "PEM CA bundle for mutual TLS: client certificates are checked against it when set."),
    K("server", "require_client_cert", TSR_CFG_BOOL, require_client_cert, "no", 0, 0, R,
      "With client_ca: refuse TLS clients that present no certificate."),
    K("server", "max_header_size", TSR_CFG_SIZE, max_header_size, "16k", 1024, 1 << 20, R,
      "Largest request head (request line and headers); larger ones get 431."),
    K("server", "max_body_size", TSR_CFG_SIZE, max_body_size, "4M", 1024, 1LL << 30, R,
      "Largest request body held in memory; larger ones get 413."),
    K("server", "max_streams", TSR_CFG_INT, max_streams, "128", 1, 10000, R,
      "Concurrent HTTP/2 streams per connection."),
    K("server", "max_connections", TSR_CFG_INT, max_connections, "4096", 1, 1000000, R,
      "Open connections on the protocol port; more are refused."),
    K("server", "idle_timeout", TSR_CFG_DURATION, idle_timeout, "60s", 100, 86400000, R,
      "How long a connection may stay idle between requests."),
    K("server", "read_timeout", TSR_CFG_DURATION, read_timeout, "15s", 100, 3600000, R,
      "How long a client may take to send a whole request (head and body)."),
    K("server", "write_timeout", TSR_CFG_DURATION, write_timeout, "60s", 100, 3600000, R,
      "How long a client may go without reading the response being sent."),
    K("server", "drain_timeout", TSR_CFG_DURATION, drain_timeout, "10s", 0, 3600000, R,
      "On SIGTERM, how long requests in progress may run before connections are closed."),

    K("management", "listen", TSR_CFG_STRING, mgmt_listen, "127.0.0.1", 1, 255, 0,
      "Address of the management API; keep it on loopback or a private network."),
    K("management", "port", TSR_CFG_INT, mgmt_port, "8181", 1, 65535, 0,
      "TCP port of the management API."),
    K("management", "api_key", TSR_CFG_STRING, api_key, NULL, 16, 512, TSR_CFG_SECRET | R,
      "Secret every management request must carry in X-Api-Key (tessera init generates one)."),

    K("client", "ca_file", TSR_CFG_PATH, ca_file, "", 0, 4096, 0,
      "PEM CA bundle trusted for outgoing TLS (peers, DID documents); empty: the system's."),
    K("client", "connect_timeout", TSR_CFG_DURATION, connect_timeout, "10s", 100, 600000, 0,
      "Timeout for establishing an outgoing connection."),
    K("client", "request_timeout", TSR_CFG_DURATION, request_timeout, "60s", 100, 3600000, 0,
      "Timeout for a whole outgoing request (not for data transfers)."),

    K("identity", "allow", TSR_CFG_LIST, allow, "", 0, 65536, 0,
      "DIDs allowed to call the protocol port; empty: every DID not denied."),
    K("identity", "deny", TSR_CFG_LIST, deny, "", 0, 65536, 0,
      "DIDs refused on the protocol port (checked before any network request)."),
    K("identity", "token_lifetime", TSR_CFG_DURATION, token_lifetime, "5m", 10000, 600000, 0,
      "Lifetime of the self-issued tokens this connector sends with each DSP request."),
    K("identity", "data_token_lifetime", TSR_CFG_DURATION, data_token_lifetime, "10m", 10000,
      86400000, 0, "Lifetime of the data-access tokens handed to consumers when a transfer starts."),
    K("identity", "static_token", TSR_CFG_STRING, static_token, "", 0, 4096, TSR_CFG_SECRET,
      "Testing only: an Authorization header value accepted as is, standing for "
      "static_participant, and sent to it; empty: off."),
    K("identity", "static_participant", TSR_CFG_STRING, static_participant, "TCK_PARTICIPANT", 1,
      512, 0, "Testing only: the participant id static_token stands for."),
    K("identity", "mock_tokens", TSR_CFG_BOOL, mock_tokens, "no", 0, 0, 0,
      "Testing only: accept EDC's development tokens ({\"clientId\": ID}, unsigned) as the "
      "identity ID, and send {\"clientId\": our DID} to every peer."),

    K("dsp", "trace_dir", TSR_CFG_PATH, dsp_trace_dir, "", 0, 4096, 0,
      "Testing only: write a copy of every DSP message sent into this folder (tokens included)."),

    K("tck", "hooks", TSR_CFG_BOOL, tck_hooks, "no", 0, 0, 0,
      "Testing only: serve the DSP conformance kit's hooks under /tck on the protocol port, "
      "unauthenticated, and act out its scripted test cases."),

    K("catalog", "urls", TSR_CFG_LIST, catalog_urls, "", 0, 64, 0,
      "Base URLs of the federated catalogs (tessera-catalogd) the self-descriptions are "
      "published to."),
    K("catalog", "namespace", TSR_CFG_STRING, catalog_namespace, "https://w3id.org/gaia-x/2511#",
      1, 512, 0, "Gaia-X namespace named in the credentials' @context."),
    K("catalog", "validity", TSR_CFG_DURATION, catalog_validity, "7d", 60000, 31536000000LL, 0,
      "Validity of each self-description; they are re-issued when a quarter of it is left."),
    K("catalog", "terms_url", TSR_CFG_STRING, catalog_terms_url, "", 0, 2048, 0,
      "URL of the terms and conditions of the offers; empty: each offer's DSP dataset URL."),
    K("catalog", "terms_hash", TSR_CFG_STRING, catalog_terms_hash, "", 0, 128, 0,
      "SHA-256 (hex) of the document at terms_url; empty: of the offer's policy."),
    K("catalog", "license", TSR_CFG_STRING, catalog_license, "", 0, 2048, 0,
      "SPDX identifier or URL of the offered data's licence; empty: the terms URL."),

    K("state", "dir", TSR_CFG_PATH, state_dir, "state", 0, 4096, 0,
      "Folder for the connector's database and received data."),

    {"log", "level", TSR_CFG_ENUM, offsetof(struct tsr_conf, log_level), "info", 0, 0, log_levels,
     NULL, R, "Most verbose level logged: error, warn, info or debug."},
    {"log", "format", TSR_CFG_ENUM, offsetof(struct tsr_conf, log_format), "auto", 0, 0,
     log_formats, NULL, R, "auto (text on a terminal, JSON lines otherwise), text or json."},
    {"log", "debug", TSR_CFG_STRING, offsetof(struct tsr_conf, log_debug), "", 0, 256, NULL,
     check_debug, R,
     "Components with debug output: all, main, http, h2, tls, client, did, db, dsp, ... "
     "(\"all,-db\")."},
};
const size_t tsr_conf_nkeys = TSR_ARRAY_SIZE(tsr_conf_keys);

int tsr_conf_load(const char *path, struct tsr_conf *c, struct tsr_diag *d)
{
    int rc;

    memset(c, 0, sizeof(*c));
    rc = tsr_cfg_load(tsr_conf_keys, tsr_conf_nkeys, path, c, d);
    if (rc != 0)
        return rc;
    if (c->tls) {
        const char *missing = NULL;
        if (c->tls_cert == NULL || access(c->tls_cert, R_OK) != 0)
            missing = c->tls_cert;
        else if (c->tls_key == NULL || access(c->tls_key, R_OK) != 0)
            missing = c->tls_key;
        if (missing != NULL) {
            rc = tsr_diag_set(d, TSR_EINVAL, "%s: [server] tls is on but %s cannot be read", path,
                              missing != NULL ? missing : "(unset)");
            goto fail;
        }
    }
    if (c->participant_key == NULL || access(c->participant_key, R_OK) != 0) {
        rc = tsr_diag_set(d, TSR_EINVAL, "%s: [participant] key %s cannot be read", path,
                          c->participant_key != NULL ? c->participant_key : "(unset)");
        goto fail;
    }
    if (c->api_key == NULL) {
        rc = tsr_diag_set(d, TSR_EINVAL,
                          "%s: [management] api_key is required (tessera init generates one)",
                          path);
        goto fail;
    }
    return 0;
fail:
    tsr_conf_free(c);
    return rc;
}

void tsr_conf_free(struct tsr_conf *c)
{
    tsr_cfg_free(tsr_conf_keys, tsr_conf_nkeys, c);
}

void tsr_conf_http_limits(const struct tsr_conf *c, struct tsr_http_limits *l)
{
    tsr_http_limits_default(l);
    l->max_header_bytes = (size_t)c->max_header_size;
    l->max_body_bytes = (size_t)c->max_body_size;
    l->max_streams = (uint32_t)c->max_streams;
    l->max_connections = (uint32_t)c->max_connections;
    l->idle_timeout_ms = c->idle_timeout;
    l->read_timeout_ms = c->read_timeout;
    l->write_timeout_ms = c->write_timeout;
    l->drain_timeout_ms = c->drain_timeout;
}

static const char *lookup(const char *const *set, const char *section, const char *name)
{
    char full[128];

    snprintf(full, sizeof(full), "%s.%s", section, name);
    for (size_t i = 0; set != NULL && set[i] != NULL; i += 2) {
        if (strcmp(set[i], full) == 0)
            return set[i + 1];
    }
    return NULL;
}

/* Write a value so the loader reads it back unchanged. */
static void put_value(FILE *fp, const char *v)
{
    bool quote = v[0] == '\0' || strpbrk(v, "#;\"\\") != NULL || v[0] == ' ' ||
                 v[strlen(v) - 1] == ' ';
    if (!quote) {
        fputs(v, fp);
        return;
    }
    fputc('"', fp);
    for (const char *p = v; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', fp);
        fputc(*p, fp);
    }
    fputc('"', fp);
}

int tsr_conf_write_template(FILE *fp, const char *const *set)
{
    const char *section = NULL;

    fprintf(fp, "# tessera.conf: configuration of one tessera connector (tesserad).\n"
                "# Every key is listed with its default; lines starting with '#' are\n"
                "# comments. Each key can be overridden by an environment variable\n"
                "# TESSERA_<SECTION>_<KEY>. Relative paths are relative to this file.\n"
                "# See tessera.conf(5).\n");
    for (size_t i = 0; i < tsr_conf_nkeys; i++) {
        const struct tsr_cfg_key *k = &tsr_conf_keys[i];
        if (section == NULL || strcmp(section, k->section) != 0) {
            section = k->section;
            fprintf(fp, "\n[%s]\n", section);
        }
        fprintf(fp, "\n# %s\n", k->help);
        const char *v = lookup(set, k->section, k->name);
        if (v != NULL) {
            fprintf(fp, "%s = ", k->name);
            put_value(fp, v);
            fputc('\n', fp);
        } else {
            fprintf(fp, "#%s = ", k->name);
            put_value(fp, k->def != NULL ? k->def : "");
            fputc('\n', fp);
        }
    }
    return ferror(fp) ? TSR_EIO : 0;
}
