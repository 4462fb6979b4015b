/*
 * transports/nghttp2_compat.h: the one place that chooses between
 * nghttp2's old (ssize_t, up to 1.59; Debian 12 ships 1.52) and new
 * (nghttp2_ssize, 1.60+) APIs, and that sets the hardening options each
 * version has.  configure probes the functions, never the version.
 */
#ifndef TSR_TRANSPORTS_NGHTTP2_COMPAT_H
#define TSR_TRANSPORTS_NGHTTP2_COMPAT_H

#include <nghttp2/nghttp2.h>

#ifdef HAVE_NGHTTP2_SESSION_MEM_RECV2
typedef nghttp2_ssize tsr_h2_ssize;
#define tsr_h2_mem_recv nghttp2_session_mem_recv2
#define tsr_h2_mem_send nghttp2_session_mem_send2
#define tsr_h2_submit_response nghttp2_submit_response2
typedef nghttp2_data_provider2 tsr_h2_data_provider;
typedef nghttp2_data_source_read_callback2 tsr_h2_read_cb;
#else
typedef ssize_t tsr_h2_ssize;
#define tsr_h2_mem_recv nghttp2_session_mem_recv
#define tsr_h2_mem_send nghttp2_session_mem_send
#define tsr_h2_submit_response nghttp2_submit_response
typedef nghttp2_data_provider tsr_h2_data_provider;
typedef nghttp2_data_source_read_callback tsr_h2_read_cb;
#endif

/*
 * Server hardening: a cap on SETTINGS entries (settings flood), on
 * CONTINUATION frames (continuation flood, CVE-2024-28182) and a rate
 * limit on streams reset by the peer (rapid reset, CVE-2023-44487).  Each
 * is set only where the library has the setter; 1.52 as patched by Debian
 * has all three.
 */
static inline void tsr_h2_option_harden(nghttp2_option *opt)
{
#ifdef HAVE_NGHTTP2_OPTION_SET_MAX_SETTINGS
    nghttp2_option_set_max_settings(opt, 32);
#endif
#ifdef HAVE_NGHTTP2_OPTION_SET_MAX_CONTINUATIONS
    nghttp2_option_set_max_continuations(opt, 8);
#endif
#ifdef HAVE_NGHTTP2_OPTION_SET_STREAM_RESET_RATE_LIMIT
    /* A burst of 1000 then 33 per second, the values nghttp2 picked for its
     * own default after the rapid reset reports. */
    nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
#endif
    /* Outbound queue bound for a peer that keeps sending PING/SETTINGS
     * without reading our ACKs. */
    nghttp2_option_set_max_outbound_ack(opt, 1000);
}

#endif /* TSR_TRANSPORTS_NGHTTP2_COMPAT_H */
