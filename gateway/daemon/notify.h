/*
 * notify.h - systemd readiness notification (sd_notify protocol) without
 * libsystemd: one datagram to $NOTIFY_SOCKET. A no-op when the variable
 * is unset. Main thread only.
 */
#ifndef GATEHOUSE_DAEMON_NOTIFY_H
#define GATEHOUSE_DAEMON_NOTIFY_H

/* Send state (e.g. "READY=1"). Returns 0, or a GH_E_* when the socket
 * is set but unusable (logged at debug; never fatal). */
int gh_notify(const char *state);

#endif
