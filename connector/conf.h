/*
 * connector/conf.h: tesserad's configuration, tessera.conf(5): the key
 * table (the single source for the loader, `tesserad --help-config`,
 * `tessera init`'s commented file and the manual's docs-sync test) and
 * the struct it fills.
 */
#ifndef TSR_CONNECTOR_CONF_H
#define TSR_CONNECTOR_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/cfg.h"

struct tsr_http_limits;

enum tsr_conf_log_format { TSR_CONF_LOG_AUTO = 0, TSR_CONF_LOG_TEXT, TSR_CONF_LOG_JSON };

struct tsr_conf {
    /* [participant] */
    char *name;
    char *did;
    char *participant_key;
    int registration_type;      /* index in TSR_SD_REG_TYPES (connector/sd.h) */
    char *registration_number;  /* for the gx:LegalPerson self-description */
    char *legal_country;
    char *headquarters_country;
    /* [server]: the protocol port (DSP, data plane, did:web document) */
    char *listen;
    long long port;
    char *public_url;
    bool tls;
    char *tls_cert;
    char *tls_key;
    char *client_ca;
    bool require_client_cert;
    uint64_t max_header_size;
    uint64_t max_body_size;
    long long max_streams;
    long long max_connections;
    uint64_t idle_timeout;
    uint64_t read_timeout;
    uint64_t write_timeout;
    uint64_t drain_timeout;
    /* [management]: the local management API */
    char *mgmt_listen;
    long long mgmt_port;
    char *api_key;
    /* [client]: outgoing requests */
    char *ca_file;
    uint64_t connect_timeout;
    uint64_t request_timeout;
    /* [identity]: who may call us */
    struct tsr_cfg_list allow;
    struct tsr_cfg_list deny;
    uint64_t token_lifetime;
    uint64_t data_token_lifetime;
    char *static_token;       /* testing/interop: an Authorization value accepted as-is */
    char *static_participant; /* who static_token stands for */
    bool mock_tokens;         /* testing/interop: EDC's iam-mock tokens */
    /* [tck] */
    bool tck_hooks;
    /* [dsp] */
    char *dsp_trace_dir;
    /* [catalog]: self-descriptions published to federated catalogs (connector/sd.h) */
    struct tsr_cfg_list catalog_urls;
    char *catalog_namespace;
    uint64_t catalog_validity;
    char *catalog_terms_url;
    char *catalog_terms_hash;
    char *catalog_license;
    /* [state] */
    char *state_dir;
    /* [log] */
    int log_level;  /* enum tsr_log_level */
    int log_format; /* enum tsr_conf_log_format */
    char *log_debug;
};

extern const struct tsr_cfg_key tsr_conf_keys[];
extern const size_t tsr_conf_nkeys;

/*
 * Load path into *c (defaults, file, TESSERA_* environment) and check the
 * cross-key rules (TLS files present when TLS is on, the DID well-formed).
 * On error *c is zeroed and d says file:line: why.  Free with
 * tsr_conf_free.
 */
int tsr_conf_load(const char *path, struct tsr_conf *c, struct tsr_diag *d);
void tsr_conf_free(struct tsr_conf *c);

/* The HTTP limits the [server] keys describe. */
void tsr_conf_http_limits(const struct tsr_conf *c, struct tsr_http_limits *l);

/*
 * Write a complete, commented tessera.conf to fp: every key with its help
 * text and default, the keys in `set` (pairs "section.name", "value",
 * NULL-terminated) written as active lines, the rest commented out.
 * Returns 0 or TSR_EIO.
 */
int tsr_conf_write_template(FILE *fp, const char *const *set);

#endif /* TSR_CONNECTOR_CONF_H */
