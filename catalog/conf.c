/*
 * catalog/conf.c: tessera-catalogd's configuration keys (catalog/conf.h).
 */
#include "lib/tsr.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "catalog/conf.h"
#include "lib/mem.h"

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};

#define K(sec, nm, ty, field, def, mn, mx, help)                                                  \
    {sec, nm, ty, offsetof(struct tsr_catconf, field), def, mn, mx, NULL, NULL, 0, help}

const struct tsr_cfg_key tsr_catconf_keys[] = {
    K("server", "listen", TSR_CFG_STRING, listen, "0.0.0.0", 1, 255,
      "Address the catalog listens on."),
    K("server", "port", TSR_CFG_INT, port, "9443", 1, 65535,
      "TCP port of the catalog API (HTTP/2 and HTTP/1.1, TLS and cleartext)."),
    K("server", "tls", TSR_CFG_BOOL, tls, "no", 0, 0, "Serve TLS as well as cleartext."),
    K("server", "tls_cert", TSR_CFG_PATH, tls_cert, "tls.crt", 0, 4096,
      "PEM certificate chain of the catalog."),
    K("server", "tls_key", TSR_CFG_PATH, tls_key, "tls.key", 0, 4096,
      "PEM private key of the catalog's certificate."),
    K("server", "max_body_size", TSR_CFG_SIZE, max_body_size, "8M", 1024, 1LL << 30,
      "Largest request body (a presentation of many credentials); larger ones get 413."),
    K("client", "ca_file", TSR_CFG_PATH, ca_file, "", 0, 4096,
      "PEM CA bundle trusted for DID documents and peers; empty: the system's."),
    K("federation", "peers", TSR_CFG_LIST, peers, "", 0, 256,
      "Base URLs of peer catalogs whose event logs this node pulls and re-verifies."),
    K("federation", "pull_interval", TSR_CFG_DURATION, pull_interval, "1s", 100, 3600000,
      "How often each peer's event log is pulled."),
    K("harvest", "sources", TSR_CFG_LIST, harvest_sources, "", 0, 64,
      "URLs of DCAT-AP RDF/XML catalogues (open-data portals) imported as unsigned entries."),
    K("harvest", "interval", TSR_CFG_DURATION, harvest_interval, "1h", 1000, 604800000,
      "How often each harvest source is imported again."),
    K("trust", "trusted_issuers", TSR_CFG_LIST, trusted_issuers, "", 0, 1024,
      "DIDs allowed to describe offerings of other participants."),
    K("state", "dir", TSR_CFG_PATH, state_dir, "state", 0, 4096,
      "Folder for the catalog's database."),
    {"log", "level", TSR_CFG_ENUM, offsetof(struct tsr_catconf, log_level), "info", 0, 0,
     log_levels, NULL, 0, "Most verbose level logged: error, warn, info or debug."},
    K("log", "debug", TSR_CFG_STRING, log_debug, "", 0, 256,
      "Components with debug output (\"catalog,did\")."),
};
const size_t tsr_catconf_nkeys = TSR_ARRAY_SIZE(tsr_catconf_keys);

int tsr_catconf_load(const char *path, struct tsr_catconf *c, struct tsr_diag *d)
{
    int rc;

    memset(c, 0, sizeof(*c));
    rc = tsr_cfg_load(tsr_catconf_keys, tsr_catconf_nkeys, path, c, d);
    if (rc != 0)
        return rc;
    if (c->tls && (access(c->tls_cert, R_OK) != 0 || access(c->tls_key, R_OK) != 0)) {
        tsr_catconf_free(c);
        return tsr_diag_set(d, TSR_EINVAL, "%s: [server] tls is on but the certificate or key "
                            "cannot be read", path != NULL ? path : "(defaults)");
    }
    return 0;
}

void tsr_catconf_free(struct tsr_catconf *c)
{
    tsr_cfg_free(tsr_catconf_keys, tsr_catconf_nkeys, c);
}

int tsr_catconf_write_template(FILE *fp, const char *const *set)
{
    const char *section = NULL;

    fprintf(fp, "# catalog.conf: configuration of one tessera-catalogd node.\n"
                "# Every key is listed with its default; see tessera-catalogd(8).\n");
    for (size_t i = 0; i < tsr_catconf_nkeys; i++) {
        const struct tsr_cfg_key *k = &tsr_catconf_keys[i];
        const char *v = NULL;
        char full[128];

        if (section == NULL || strcmp(section, k->section) != 0) {
            section = k->section;
            fprintf(fp, "\n[%s]\n", section);
        }
        fprintf(fp, "\n# %s\n", k->help);
        snprintf(full, sizeof(full), "%s.%s", k->section, k->name);
        /* A LIST key may be set several times: write each value. */
        for (size_t j = 0; set != NULL && set[j] != NULL; j += 2) {
            if (strcmp(set[j], full) == 0) {
                /* Quoted, with the loader's two escapes, so any value reads back. */
                fprintf(fp, "%s = \"", k->name);
                for (const char *p = set[j + 1]; *p != '\0'; p++) {
                    if (*p == '"' || *p == '\\')
                        fputc('\\', fp);
                    fputc(*p, fp);
                }
                fputs("\"\n", fp);
                v = set[j + 1];
            }
        }
        if (v == NULL)
            fprintf(fp, "#%s = %s\n", k->name, k->def != NULL ? k->def : "");
    }
    return ferror(fp) ? TSR_EIO : 0;
}
