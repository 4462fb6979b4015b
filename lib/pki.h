/*
 * lib/pki.h: X.509 certificates for demo and test data spaces: a local
 * certificate authority (`tessera ca`) and the TLS certificates it issues
 * or that a participant signs for itself (`tessera init`).
 *
 * Every key is ECDSA P-256.  Issued certificates serve both as TLS server
 * and client certificates (mutual TLS between connectors), with the host
 * names and IP addresses in subjectAltName.  Files are written atomically
 * (temporary file + rename) and private keys with mode 0600.  This is not
 * a production CA: no revocation, no policy, no hardware keys.
 */
#ifndef TSR_LIB_PKI_H
#define TSR_LIB_PKI_H

#include <stddef.h>

struct tsr_diag;

/* File names inside a CA folder. */
#define TSR_PKI_CA_KEY_FILE "ca.key"
#define TSR_PKI_CA_CERT_FILE "ca.crt"

/* Bounds on validity periods and host lists. */
#define TSR_PKI_CA_DAYS 3650
#define TSR_PKI_MAX_DAYS 3650
#define TSR_PKI_MAX_HOSTS 64

/* A loaded CA: its certificate and private key.  Opaque. */
struct tsr_pki_ca;

/*
 * Create a CA in dir (which must exist): dir/ca.key (P-256, PKCS#8 PEM,
 * 0600) and dir/ca.crt (self-signed, subject CN=name, basicConstraints
 * critical CA:TRUE, keyUsage critical keyCertSign+cRLSign, subject key
 * identifier, valid TSR_PKI_CA_DAYS days, random 16-byte serial).
 * Refuses to overwrite an existing ca.key or ca.crt.  Returns 0,
 * TSR_EINVAL (empty or overlong name), TSR_EEXIST, TSR_EIO, TSR_ECRYPTO,
 * TSR_ENOMEM.
 */
int tsr_pki_ca_create(const char *dir, const char *name, struct tsr_diag *d);

/*
 * Load dir/ca.key and dir/ca.crt into a new *out and check that they
 * belong together and that the certificate is a CA.  Returns 0, TSR_EIO,
 * TSR_EINVAL, TSR_ENOMEM.
 */
int tsr_pki_ca_load(const char *dir, struct tsr_pki_ca **out, struct tsr_diag *d);

/* Free a loaded CA (its key is cleared).  ca may be NULL. */
void tsr_pki_ca_free(struct tsr_pki_ca *ca);

/*
 * Issue a new P-256 key (written to key_path, 0600) and a certificate
 * signed by ca (written to cert_path as PEM, 0644) for nhosts host names
 * or IP addresses (hosts[0] is also the subject CN): extendedKeyUsage
 * serverAuth+clientAuth, keyUsage critical digitalSignature,
 * basicConstraints CA:FALSE, subjectAltName DNS:/IP: entries, authority
 * and subject key identifiers, valid for days (1..TSR_PKI_MAX_DAYS) from
 * now, random 16-byte serial.  Returns 0, TSR_EINVAL (no hosts, more than
 * TSR_PKI_MAX_HOSTS, a host that is neither a DNS name nor an IP address,
 * bad days), TSR_EIO, TSR_ECRYPTO, TSR_ENOMEM.
 */
int tsr_pki_issue(const struct tsr_pki_ca *ca, const char *const *hosts, size_t nhosts,
                  const char *key_path, const char *cert_path, int days, struct tsr_diag *d);

/* tsr_pki_issue with the CA loaded from ca_dir (as tsr_pki_ca_load). */
int tsr_pki_issue_dir(const char *ca_dir, const char *const *hosts, size_t nhosts,
                      const char *key_path, const char *cert_path, int days,
                      struct tsr_diag *d);

/*
 * As tsr_pki_issue, but the certificate is signed by its own key (issuer
 * = subject, authority key identifier = subject key identifier, still
 * CA:FALSE) for a participant without a CA.
 */
int tsr_pki_self_signed(const char *const *hosts, size_t nhosts, const char *key_path,
                        const char *cert_path, int days, struct tsr_diag *d);

#endif /* TSR_LIB_PKI_H */
