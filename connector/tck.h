/*
 * connector/tck.h: what tesserad needs to be tested by the Eclipse DSP
 * conformance kit (tests/interop/tck), all of it off unless configured.
 *
 * - [identity] static_token: an Authorization header value accepted as is
 *   and mapped to [identity] static_participant (the kit sends one fixed
 *   header), and sent as is on every message to that participant.
 * - [identity] mock_tokens: EDC's development identity (the iam-mock
 *   extension), for interop tests with a stock EDC: an Authorization
 *   header {"clientId": ID} in clear is caller ID, and every message we
 *   send carries {"clientId": our DID}.
 * - [tck] hooks: unauthenticated endpoints on the protocol port through
 *   which the kit makes tesserad act as a consumer
 *   (POST /tck/negotiations/requests, POST /tck/transfers/requests), one
 *   the test script seeds provider agreements with (POST /tck/agreements),
 *   and the kit's scripted test cases acted out: for the datasets and
 *   agreements the kit names (ACNC0101, ATP0103, ...) tesserad accepts,
 *   counter-offers, suspends, resumes or terminates when the case says so.
 *
 * Never enable any of them on a connector that holds real data: anyone who
 * can reach the protocol port could then act as any participant or start
 * negotiations and transfers.
 */
#ifndef TSR_CONNECTOR_TCK_H
#define TSR_CONNECTOR_TCK_H

#include "lib/err.h"

struct event_base;
struct tsr_conf;
struct tsr_dsp;
struct tsr_http_server;
struct tsr_store;

/*
 * Install what c enables on dsp (identity hooks) and srv (the /tck
 * routes, the script timer on base); with neither enabled, do nothing.
 * Everything borrowed must outlive dsp, which owns what this creates and
 * frees it in tsr_dsp_free.  Returns 0, TSR_ENOMEM, or the error of
 * adding a route.
 */
int tsr_tck_setup(struct event_base *base, const struct tsr_conf *c, struct tsr_dsp *dsp,
                  struct tsr_store *st, struct tsr_http_server *srv, struct tsr_diag *d);

#endif /* TSR_CONNECTOR_TCK_H */
