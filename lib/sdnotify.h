/*
 * lib/sdnotify.h: tell a service manager how a daemon is doing, with the
 * sd_notify(3) protocol spoken directly (one datagram to the socket named
 * by $NOTIFY_SOCKET), so that neither daemon links libsystemd and a unit
 * can still use Type=notify.  Without $NOTIFY_SOCKET it does nothing.
 */
#ifndef TSR_LIB_SDNOTIFY_H
#define TSR_LIB_SDNOTIFY_H

/*
 * Send state ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...") to
 * $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace).  Best
 * effort: a missing, malformed or unreachable socket is ignored.
 */
void tsr_sd_notify(const char *state);

#endif /* TSR_LIB_SDNOTIFY_H */
