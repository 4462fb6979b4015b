/*
 * connector/usage_mgmt.h: the management API routes of consumer-side
 * usage control (connector/usage.h): the vault, the usage ledger, and a
 * provider's fetch of a consumer's ledger extract.  connector/mgmt.c lists
 * them in its route table (after its key check); doc/openapi.yaml
 * documents them.  Each answers 503 while tesserad runs without usage
 * control (tsr_mgmt_usage is NULL).
 */
#ifndef TSR_CONNECTOR_USAGE_MGMT_H
#define TSR_CONNECTOR_USAGE_MGMT_H

struct tsr_http_req;
struct tsr_mgmt;

/* GET /vault: {"items": [object...]}. */
void tsr_usage_mgmt_vault_list(struct tsr_mgmt *m, struct tsr_http_req *req);
/* GET /vault/:id: one object with its agreement's use counter. */
void tsr_usage_mgmt_vault_get(struct tsr_mgmt *m, struct tsr_http_req *req);
/* GET /vault/:id/content?purpose=P: one use; the bytes, or 403 with the reason. */
void tsr_usage_mgmt_vault_content(struct tsr_mgmt *m, struct tsr_http_req *req);
/* DELETE /vault/:id: 204. */
void tsr_usage_mgmt_vault_delete(struct tsr_mgmt *m, struct tsr_http_req *req);
/* GET /ledger?agreement=A&limit&offset: {"items": [entry...]}. */
void tsr_usage_mgmt_ledger(struct tsr_mgmt *m, struct tsr_http_req *req);
/* GET /ledger/verify: {"valid", "entries", "head", "bad_line", "error"}. */
void tsr_usage_mgmt_ledger_verify(struct tsr_mgmt *m, struct tsr_http_req *req);
/* GET /agreements/:id/ledger: the consumer's extract, fetched and verified (provider). */
void tsr_usage_mgmt_agreement_ledger(struct tsr_mgmt *m, struct tsr_http_req *req);

#endif /* TSR_CONNECTOR_USAGE_MGMT_H */
