/*
 * catalog/conf.h: tessera-catalogd's configuration, catalog.conf (the
 * format of tessera.conf(5), documented in tessera-catalogd(8)): the key
 * table and the struct it fills.  `tessera catalog init` writes a file
 * from the same table.
 */
#ifndef TSR_CATALOG_CONF_H
#define TSR_CATALOG_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/cfg.h"

struct tsr_catconf {
    /* [server] */
    char *listen;
    long long port;
    bool tls;
    char *tls_cert;
    char *tls_key;
    uint64_t max_body_size;
    /* [client]: DID documents and peers */
    char *ca_file;
    /* [federation] */
    struct tsr_cfg_list peers;
    uint64_t pull_interval;
    /* [harvest]: DCAT-AP RDF/XML catalogues imported as unsigned entries */
    struct tsr_cfg_list harvest_sources;
    uint64_t harvest_interval;
    /* [trust] */
    struct tsr_cfg_list trusted_issuers;
    /* [state] */
    char *state_dir;
    /* [log] */
    int log_level;
    char *log_debug;
};

extern const struct tsr_cfg_key tsr_catconf_keys[];
extern const size_t tsr_catconf_nkeys;

/*
 * Load path into *c (defaults, file, TESSERA_* environment) and check that
 * the TLS files exist when TLS is on.  On error *c is zeroed and d says
 * why.  Free with tsr_catconf_free.
 */
int tsr_catconf_load(const char *path, struct tsr_catconf *c, struct tsr_diag *d);
void tsr_catconf_free(struct tsr_catconf *c);

/*
 * Write a complete, commented catalog.conf to fp: every key with its help
 * text, the ones in set ("section.name", "value" pairs, NULL-terminated)
 * active, the rest commented out.  Returns 0 or TSR_EIO.
 */
int tsr_catconf_write_template(FILE *fp, const char *const *set);

#endif /* TSR_CATALOG_CONF_H */
