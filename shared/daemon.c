/* daemon.c - signal, systemd and privilege helpers shared by the daemons.
 *
 * Signals arrive through a signalfd polled with the ZeroMQ sockets, so handlers
 * never run asynchronously inside library code. sd_notify comes from libsystemd;
 * without systemd (tests, containers) it does nothing. */
#include "daemon.h"
#include "log.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

int daemon_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        log_fatal("event=sigmask error=\"%s\"", strerror(errno));
    sigdelset(&set, SIGPIPE);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        log_fatal("event=signalfd error=\"%s\"", strerror(errno));
    return fd;
}

int daemon_read_signal(int fd)
{
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof si) != (ssize_t)sizeof si)
        return 0;
    return (int)si.ssi_signo;
}

void daemon_notify(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sd_notify(0, msg);
}

uint64_t daemon_watchdog_us(void)
{
    uint64_t us = 0;
    return sd_watchdog_enabled(0, &us) > 0 ? us : 0;
}

void daemon_drop_privileges(const char *user)
{
    if (!user || !*user || geteuid() != 0)
        return;
    struct passwd *pw = getpwnam(user);
    if (!pw)
        log_fatal("event=drop_privileges error=\"no such user '%s'\"", user);
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
        setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0)
        log_fatal("event=drop_privileges user=%s error=\"%s\"", user, strerror(errno));
    if (setuid(0) == 0)
        log_panic("event=drop_privileges error=\"could regain root\"");
    log_info("event=privileges_dropped user=%s uid=%d", user, (int)pw->pw_uid);
}
