/*
 * tests/e2e/mint_vc.c: signs a credential payload as a VC-JWT
 * (lib/vc.h), so that the end-to-end tests can post well-signed
 * credentials whose content a catalog must refuse (expired, issued for
 * someone else, incomplete).  A test tool only; never installed.
 *
 *   mint_vc KEY.pem KID < CREDENTIAL.json
 *
 * Prints the VC-JWT: header {alg ES256, typ vc+jwt, cty vc, kid, iss},
 * payload the credential plus iss, iat and exp (from validUntil).
 * Exit status: 0, 1 on any failure (with a message on stderr), 2 usage.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "lib/jose.h"
#include "lib/json.h"
#include "lib/mem.h"
#include "lib/vc.h"

int main(int argc, char **argv)
{
    struct tsr_key *key = NULL;
    struct tsr_diag d = {0};
    json_t *cred = NULL;
    char buf[256 * 1024];
    char *jwt = NULL;
    size_t n;
    int status = 1;

    if (argc != 3) {
        fputs("usage: mint_vc KEY.pem KID < CREDENTIAL.json\n", stderr);
        return 2;
    }
    n = fread(buf, 1, sizeof(buf), stdin);
    if (tsr_key_load_pem(argv[1], &key, &d) != 0 ||
        tsr_json_parse(buf, n, NULL, &cred, &d) != 0 ||
        tsr_vc_sign(key, argv[2], false, cred, &jwt, &d) != 0) {
        fprintf(stderr, "mint_vc: %s\n", tsr_diag_msg(&d));
        goto out;
    }
    printf("%s\n", jwt);
    status = 0;
out:
    tsr_free(jwt);
    json_decref(cred);
    tsr_key_free(key);
    return status;
}
