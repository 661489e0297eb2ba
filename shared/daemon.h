/* daemon.h - what every Bulwark daemon does the same way: signals as a file
 * descriptor for the event loop, systemd notification, dropping privileges. */
#ifndef BW_DAEMON_H
#define BW_DAEMON_H

#include "params.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The command line every daemon takes: `-c FILE` (default `default_path`, which may
 * be absent), `-t` (sets *check_only), `-V`, `-h`. Loads the file into a new params
 * of table `t` and applies its log_level. Exits 0 after -V/-h, 2 on a usage error,
 * 1 on a bad configuration file (FILE:LINE: reason on stderr). */
params *daemon_config(int argc, char **argv, const char *prog, const param_table *t,
                      const char *default_path, bool *check_only);
/* Copies parameter `name` into out, or the host name when it is empty. */
void daemon_name(const params *p, const char *name, char *out, size_t n);

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
