/*
 * tests/e2e/mint_token.c: mints the self-issued DSP caller token a
 * participant would send (connector/identity.h), and the broken variants
 * the end-to-end tests need to prove the callee refuses them.  A test
 * tool only; never installed.
 *
 *   mint_token PARTICIPANT_DIR AUDIENCE_DID [--exp-offset S] [--iat-offset S]
 *              [--kid KID] [--iss DID] [--jti JTI]
 *
 * Loads PARTICIPANT_DIR/tessera.conf (its participant.did and the key file
 * it names) and prints "Bearer <JWT>": header {alg, typ "JWT", kid
 * "<iss>#key-1"}, claims iss = sub = the participant's DID, aud, iat =
 * nbf = now + iat-offset, exp = now + exp-offset (default 300), and a
 * fresh jti.  --iss sets iss and sub to another DID while the token is
 * still signed with this participant's key (a forgery); --kid overrides
 * the header's kid; --jti fixes the jti (for a replay).
 * Exit status: 0, 1 on any failure (with a message on stderr), 2 usage.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "connector/conf.h"
#include "lib/jose.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/time.h"
#include "lib/uuid.h"

/* A day either way is plenty for any test and keeps the arithmetic small. */
#define OFFSET_MAX 86400

static int usage(void)
{
    fputs("usage: mint_token PARTICIPANT_DIR AUDIENCE_DID [--exp-offset S] [--iat-offset S]\n"
          "                  [--kid KID] [--iss DID] [--jti JTI]\n",
          stderr);
    return 2;
}

struct mint_opts {
    const char *dir;
    const char *aud;
    long long exp_offset;
    long long iat_offset;
    const char *kid;
    const char *iss;
    const char *jti;
};

static int parse_args(int argc, char **argv, struct mint_opts *o)
{
    int pos = 0;

    memset(o, 0, sizeof(*o));
    o->exp_offset = 300;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;

        if (strcmp(a, "--exp-offset") == 0 && has_val) {
            if (tsr_parse_ll(argv[++i], -OFFSET_MAX, OFFSET_MAX, &o->exp_offset) != 0)
                return -1;
        } else if (strcmp(a, "--iat-offset") == 0 && has_val) {
            if (tsr_parse_ll(argv[++i], -OFFSET_MAX, OFFSET_MAX, &o->iat_offset) != 0)
                return -1;
        } else if (strcmp(a, "--kid") == 0 && has_val) {
            o->kid = argv[++i];
        } else if (strcmp(a, "--iss") == 0 && has_val) {
            o->iss = argv[++i];
        } else if (strcmp(a, "--jti") == 0 && has_val) {
            o->jti = argv[++i];
        } else if (a[0] == '-' && a[1] == '-') {
            return -1;
        } else if (pos == 0) {
            o->dir = a;
            pos++;
        } else if (pos == 1) {
            o->aud = a;
            pos++;
        } else {
            return -1;
        }
    }
    return pos == 2 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct mint_opts o;
    struct tsr_conf conf;
    struct tsr_diag d = {0};
    struct tsr_key *key = NULL;
    json_t *claims = NULL;
    char *jwt = NULL;
    char path[4200], kid[4200], jti[TSR_UUID_URN_SIZE];
    const char *iss;
    int64_t now;
    int status = 1;

    memset(&conf, 0, sizeof(conf));
    if (parse_args(argc, argv, &o) != 0)
        return usage();
    snprintf(path, sizeof(path), "%s/tessera.conf", o.dir);
    if (tsr_conf_load(path, &conf, &d) != 0) {
        fprintf(stderr, "mint_token: %s\n", tsr_diag_msg(&d));
        return 1;
    }
    if (tsr_key_load_pem(conf.participant_key, &key, &d) != 0) {
        fprintf(stderr, "mint_token: %s: %s\n", conf.participant_key, tsr_diag_msg(&d));
        goto out;
    }
    iss = o.iss != NULL ? o.iss : conf.did;
    snprintf(kid, sizeof(kid), "%s#key-1", iss);
    if (o.jti == NULL && tsr_uuid_v4_urn(jti) != 0) {
        fputs("mint_token: cannot make a jti\n", stderr);
        goto out;
    }
    now = tsr_time_now_ms() / 1000;
    claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "iss", iss, "sub", iss, "aud",
                       o.aud, "iat", (json_int_t)(now + o.iat_offset), "nbf",
                       (json_int_t)(now + o.iat_offset), "exp",
                       (json_int_t)(now + o.exp_offset), "jti", o.jti != NULL ? o.jti : jti);
    if (claims == NULL) {
        fputs("mint_token: cannot build the claims (a value is not UTF-8?)\n", stderr);
        goto out;
    }
    if (tsr_jwt_sign(key, o.kid != NULL ? o.kid : kid, "JWT", claims, &jwt, &d) != 0) {
        fprintf(stderr, "mint_token: %s\n", tsr_diag_msg(&d));
        goto out;
    }
    printf("Bearer %s\n", jwt);
    status = fflush(stdout) == 0 ? 0 : 1;
out:
    tsr_free_secret(jwt);
    json_decref(claims);
    tsr_key_free(key);
    tsr_conf_free(&conf);
    return status;
}
