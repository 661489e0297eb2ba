/* daemon.h - what every Bulwark daemon does the same way: signals as a file
 * descriptor for the event loop, systemd notification, dropping privileges. */
#ifndef BW_DAEMON_H
#define BW_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

/* Blocks SIGTERM, SIGINT, SIGHUP and SIGPIPE in the calling thread (threads
 * created later inherit the mask) and returns a signalfd for the first three. */
int daemon_signalfd(void);
/* Reads one pending signal from the fd; 0 if none. */
int daemon_read_signal(int fd);
/* sd_notify wrapper (a no-op without $NOTIFY_SOCKET). */
void daemon_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The watchdog period systemd asked for, in microseconds; 0 if none. */
uint64_t daemon_watchdog_us(void);
/* If running as root and user is not empty, switch to that user and its groups
 * for good (setgroups, setresgid, setresuid). Dies if it cannot. */
void daemon_drop_privileges(const char *user);

#endif
