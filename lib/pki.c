/*
 * lib/pki.c: a small X.509 certificate authority for demo and test data
 * spaces, on OpenSSL 3's X509 and EVP interfaces.
 *
 * Host names are validated before they reach a certificate and the
 * subjectAltName is built from typed GENERAL_NAME values, never from a
 * configuration string, so a host such as "a,IP:0.0.0.0" cannot smuggle
 * extra entries in.
 */
#include "lib/tsr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/crypto.h"
#include "lib/jose.h"
#include "lib/mem.h"
#include "lib/pki.h"
#include "lib/str.h"

/* Certificates are a kilobyte or two; this bounds what we read back. */
#define CERT_FILE_MAX (64 * 1024)
/* RFC 5280 upper bound for a common name. */
#define CN_MAX 64
#define SERIAL_LEN 16
/* Back-date notBefore a little so peers with a slow clock accept a fresh certificate. */
#define BACKDATE_SECONDS 300

struct tsr_pki_ca {
    X509 *cert;
    struct tsr_key *key;
};

/* ------------------------------------------------------------ helpers */

static bool is_ip(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* A DNS name of letters, digits and hyphens in dot-separated labels (RFC 1123). */
static bool is_dns_name(const char *s)
{
    size_t len = strlen(s), label = 0, i;

    if (len == 0 || len > 253)
        return false;
    for (i = 0; i < len; i++) {
        char c = s[i];

        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
        if (c == '-' && label == 0)
            return false;
        if (++label > 63)
            return false;
    }
    return label > 0 && s[len - 1] != '-';
}

static int check_hosts(const char *const *hosts, size_t nhosts, struct tsr_diag *d)
{
    size_t i;

    if (hosts == NULL || nhosts == 0)
        return tsr_diag_set(d, TSR_EINVAL, "certificate needs at least one host name or address");
    if (nhosts > TSR_PKI_MAX_HOSTS)
        return tsr_diag_set(d, TSR_EINVAL, "more than %d hosts", TSR_PKI_MAX_HOSTS);
    for (i = 0; i < nhosts; i++) {
        if (hosts[i] == NULL || (!is_ip(hosts[i]) && !is_dns_name(hosts[i])))
            return tsr_diag_set(d, TSR_EINVAL, "\"%s\" is neither a DNS name nor an IP address",
                                hosts[i] == NULL ? "(null)"
                                : tsr_str_is_printable(hosts[i], strlen(hosts[i]))
                                    ? hosts[i]
                                    : "(unprintable)");
    }
    return 0;
}

/* A positive random serial of SERIAL_LEN bytes (RFC 5280 4.1.2.2 allows up to 20). */
static int set_serial(X509 *x, struct tsr_diag *d)
{
    unsigned char raw[SERIAL_LEN];
    ASN1_INTEGER *ai = NULL;
    BIGNUM *bn = NULL;
    int rc = 0;

    if (tsr_random_bytes(raw, sizeof(raw)) < 0)
        return tsr_diag_set(d, TSR_ECRYPTO, "no random bytes for the serial number");
    /* Clear the top bit (stay positive) but keep the length at exactly SERIAL_LEN. */
    raw[0] = (unsigned char)((raw[0] & 0x7f) | 0x40);
    bn = BN_bin2bn(raw, sizeof(raw), NULL);
    if (bn == NULL || (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
        X509_set_serialNumber(x, ai) != 1)
        rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot set serial number");
    ASN1_INTEGER_free(ai);
    BN_free(bn);
    return rc;
}

static int set_name(X509 *x, const char *cn, bool also_issuer, struct tsr_diag *d)
{
    X509_NAME *name = X509_NAME_new();
    int rc = 0;

    if (name == NULL ||
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"tessera", -1,
                                   -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_subject_name(x, name) != 1 || (also_issuer && X509_set_issuer_name(x, name) != 1))
        rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot set certificate name");
    X509_NAME_free(name);
    return rc;
}

static int set_validity(X509 *x, int days, struct tsr_diag *d)
{
    if (X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_SECONDS) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL)
        return tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot set validity period");
    return 0;
}

/* Add one extension from its OpenSSL text form (fixed strings only, never user input). */
static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value, struct tsr_diag *d)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    int ok;

    if (ext == NULL)
        return tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot build extension %s",
                                       OBJ_nid2sn(nid));
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (ok != 1)
        return tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot add extension %s", OBJ_nid2sn(nid));
    return 0;
}

static int add_san(X509 *x, const char *const *hosts, size_t nhosts, struct tsr_diag *d)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = NULL;
    int rc = TSR_ENOMEM;
    size_t i;

    if (gens == NULL)
        goto nomem;
    for (i = 0; i < nhosts; i++) {
        if (is_ip(hosts[i])) {
            ASN1_OCTET_STRING *ip = a2i_IPADDRESS(hosts[i]);

            gn = GENERAL_NAME_new();
            if (ip == NULL || gn == NULL) {
                ASN1_OCTET_STRING_free(ip);
                goto nomem;
            }
            GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
        } else {
            ASN1_IA5STRING *dns = ASN1_IA5STRING_new();

            gn = GENERAL_NAME_new();
            if (dns == NULL || gn == NULL || ASN1_STRING_set(dns, hosts[i], -1) != 1) {
                ASN1_IA5STRING_free(dns);
                goto nomem;
            }
            GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
        }
        if (sk_GENERAL_NAME_push(gens, gn) <= 0)
            goto nomem;
        gn = NULL;
    }
    if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1) {
        rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot add subjectAltName");
        goto out;
    }
    rc = 0;
    goto out;
nomem:
    rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
out:
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(gens);
    return rc;
}

static int write_cert(X509 *x, const char *path, struct tsr_diag *d)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;
    int rc;

    if (bio == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    if (PEM_write_bio_X509(bio, x) != 1 || (n = BIO_get_mem_data(bio, &data)) <= 0) {
        rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot encode certificate");
        goto out;
    }
    rc = tsr_crypto_write_file(path, data, (size_t)n, 0644, d);
out:
    BIO_free(bio);
    return rc;
}

static int join_path(char *buf, size_t size, const char *dir, const char *file,
                     struct tsr_diag *d)
{
    int n = snprintf(buf, size, "%s/%s", dir, file);

    if (n < 0 || (size_t)n >= size)
        return tsr_diag_set(d, TSR_EINVAL, "%s: path too long", dir);
    return 0;
}

/* ------------------------------------------------------------ CA */

int tsr_pki_ca_create(const char *dir, const char *name, struct tsr_diag *d)
{
    char key_path[4096], cert_path[4096];
    struct tsr_key *key = NULL;
    bool key_written = false;
    X509V3_CTX ctx;
    X509 *x = NULL;
    struct stat st;
    int rc;

    if (name == NULL || name[0] == '\0' || strlen(name) > CN_MAX ||
        !tsr_str_is_printable(name, strlen(name)))
        return tsr_diag_set(d, TSR_EINVAL, "CA name must be 1 to %d printable characters", CN_MAX);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return tsr_diag_set(d, TSR_EIO, "%s: not a folder", dir);
    rc = join_path(key_path, sizeof(key_path), dir, TSR_PKI_CA_KEY_FILE, d);
    if (rc == 0)
        rc = join_path(cert_path, sizeof(cert_path), dir, TSR_PKI_CA_CERT_FILE, d);
    if (rc < 0)
        return rc;
    /* Overwriting a CA would orphan every certificate it issued. */
    if (lstat(key_path, &st) == 0 || lstat(cert_path, &st) == 0)
        return tsr_diag_set(d, TSR_EEXIST, "%s already holds a CA", dir);

    rc = tsr_key_generate(TSR_KEY_ES256, &key, d);
    if (rc < 0)
        goto out;
    x = X509_new();
    if (x == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    if (X509_set_version(x, X509_VERSION_3) != 1 ||
        X509_set_pubkey(x, tsr_key_pkey(key)) != 1) {
        rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot build CA certificate");
        goto out;
    }
    rc = set_serial(x, d);
    if (rc == 0)
        rc = set_name(x, name, true, d);
    if (rc == 0)
        rc = set_validity(x, TSR_PKI_CA_DAYS, d);
    if (rc < 0)
        goto out;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    rc = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE", d);
    if (rc == 0)
        rc = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign", d);
    if (rc == 0)
        rc = add_ext(x, &ctx, NID_subject_key_identifier, "hash", d);
    if (rc < 0)
        goto out;
    if (X509_sign(x, tsr_key_pkey(key), EVP_sha256()) <= 0) {
        rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot sign CA certificate");
        goto out;
    }
    rc = tsr_key_save_pem(key, key_path, d);
    if (rc < 0)
        goto out;
    key_written = true;
    rc = write_cert(x, cert_path, d);
    if (rc < 0)
        goto out;
    key_written = false;
out:
    /* A key without its certificate is no CA: do not leave one behind. */
    if (key_written)
        unlink(key_path);
    X509_free(x);
    tsr_key_free(key);
    return rc;
}

int tsr_pki_ca_load(const char *dir, struct tsr_pki_ca **out, struct tsr_diag *d)
{
    char key_path[4096], cert_path[4096];
    struct tsr_pki_ca *ca = NULL;
    unsigned char *pem = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    int rc;

    *out = NULL;
    rc = join_path(key_path, sizeof(key_path), dir, TSR_PKI_CA_KEY_FILE, d);
    if (rc == 0)
        rc = join_path(cert_path, sizeof(cert_path), dir, TSR_PKI_CA_CERT_FILE, d);
    if (rc < 0)
        return rc;
    ca = tsr_calloc(1, sizeof(*ca));
    if (ca == NULL)
        return tsr_diag_set(d, TSR_ENOMEM, "out of memory");
    rc = tsr_key_load_pem(key_path, &ca->key, d);
    if (rc < 0)
        goto out;
    if (!tsr_key_has_private(ca->key)) {
        rc = tsr_diag_set(d, TSR_EINVAL, "%s: not a private key", key_path);
        goto out;
    }
    rc = tsr_crypto_read_file(cert_path, CERT_FILE_MAX, &pem, &len, d);
    if (rc < 0)
        goto out;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    ca->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (ca->cert == NULL) {
        rc = tsr_crypto_diag_openssl(d, TSR_EINVAL, "%s: no PEM certificate", cert_path);
        goto out;
    }
    if (X509_check_private_key(ca->cert, tsr_key_pkey(ca->key)) != 1) {
        rc = tsr_crypto_diag_openssl(d, TSR_EINVAL, "%s does not belong to %s", key_path,
                                     cert_path);
        goto out;
    }
    if (X509_check_ca(ca->cert) < 1) {
        rc = tsr_diag_set(d, TSR_EINVAL, "%s: not a CA certificate", cert_path);
        goto out;
    }
    *out = ca;
    ca = NULL;
    rc = 0;
out:
    BIO_free(bio);
    tsr_free(pem);
    tsr_pki_ca_free(ca);
    return rc;
}

void tsr_pki_ca_free(struct tsr_pki_ca *ca)
{
    if (ca == NULL)
        return;
    X509_free(ca->cert);
    tsr_key_free(ca->key);
    tsr_free(ca);
}

/* ------------------------------------------------------------ leaf certificates */

/*
 * Issue a leaf for hosts, signed by ca, or by its own key when ca is NULL.
 * A self-signed leaf carries no keyUsage: OpenSSL accepts a self-signed
 * certificate as its own trust anchor only if keyUsage (when present)
 * allows certificate signing, which RFC 5280 reserves for CA:TRUE.
 */
static int issue(const struct tsr_pki_ca *ca, const char *const *hosts, size_t nhosts,
                 const char *key_path, const char *cert_path, int days, struct tsr_diag *d)
{
    struct tsr_key *key = NULL;
    bool key_written = false;
    X509V3_CTX ctx;
    X509 *x = NULL;
    int rc;

    rc = check_hosts(hosts, nhosts, d);
    if (rc < 0)
        return rc;
    if (days < 1 || days > TSR_PKI_MAX_DAYS)
        return tsr_diag_set(d, TSR_EINVAL, "validity must be 1 to %d days", TSR_PKI_MAX_DAYS);
    if (key_path == NULL || cert_path == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "key and certificate paths are required");

    rc = tsr_key_generate(TSR_KEY_ES256, &key, d);
    if (rc < 0)
        goto out;
    x = X509_new();
    if (x == NULL) {
        rc = tsr_diag_set(d, TSR_ENOMEM, "out of memory");
        goto out;
    }
    if (X509_set_version(x, X509_VERSION_3) != 1 ||
        X509_set_pubkey(x, tsr_key_pkey(key)) != 1 ||
        (ca != NULL && X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1)) {
        rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot build certificate");
        goto out;
    }
    rc = set_serial(x, d);
    if (rc == 0)
        rc = set_name(x, strlen(hosts[0]) <= CN_MAX ? hosts[0] : "tessera", ca == NULL, d);
    if (rc == 0)
        rc = set_validity(x, days, d);
    if (rc < 0)
        goto out;
    X509V3_set_ctx(&ctx, ca != NULL ? ca->cert : x, x, NULL, NULL, 0);
    rc = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE", d);
    if (rc == 0 && ca != NULL)
        rc = add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature", d);
    if (rc == 0)
        rc = add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth", d);
    /* The subject key identifier must exist before a self-signed AKI can copy it. */
    if (rc == 0)
        rc = add_ext(x, &ctx, NID_subject_key_identifier, "hash", d);
    if (rc == 0)
        rc = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", d);
    if (rc == 0)
        rc = add_san(x, hosts, nhosts, d);
    if (rc < 0)
        goto out;
    if (X509_sign(x, tsr_key_pkey(ca != NULL ? ca->key : key), EVP_sha256()) <= 0) {
        rc = tsr_crypto_diag_openssl(d, TSR_ECRYPTO, "cannot sign certificate");
        goto out;
    }
    rc = tsr_key_save_pem(key, key_path, d);
    if (rc < 0)
        goto out;
    key_written = true;
    rc = write_cert(x, cert_path, d);
    if (rc < 0)
        goto out;
    key_written = false;
out:
    if (key_written)
        unlink(key_path);
    X509_free(x);
    tsr_key_free(key);
    return rc;
}

int tsr_pki_issue(const struct tsr_pki_ca *ca, const char *const *hosts, size_t nhosts,
                  const char *key_path, const char *cert_path, int days, struct tsr_diag *d)
{
    if (ca == NULL)
        return tsr_diag_set(d, TSR_EINVAL, "no CA given");
    return issue(ca, hosts, nhosts, key_path, cert_path, days, d);
}

int tsr_pki_issue_dir(const char *ca_dir, const char *const *hosts, size_t nhosts,
                      const char *key_path, const char *cert_path, int days,
                      struct tsr_diag *d)
{
    struct tsr_pki_ca *ca = NULL;
    int rc;

    rc = tsr_pki_ca_load(ca_dir, &ca, d);
    if (rc < 0)
        return rc;
    rc = issue(ca, hosts, nhosts, key_path, cert_path, days, d);
    tsr_pki_ca_free(ca);
    return rc;
}

int tsr_pki_self_signed(const char *const *hosts, size_t nhosts, const char *key_path,
                        const char *cert_path, int days, struct tsr_diag *d)
{
    return issue(NULL, hosts, nhosts, key_path, cert_path, days, d);
}
