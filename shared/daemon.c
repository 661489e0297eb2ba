/* daemon.c - signal, systemd and privilege helpers shared by the daemons.
 *
 * Signals arrive through a signalfd polled with the ZeroMQ sockets, so handlers
 * never run asynchronously inside library code. sd_notify comes from libsystemd;
 * without systemd (tests, containers) it does nothing. */
#include "daemon.h"
#include "log.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static void usage(FILE *f, const char *prog, const char *default_path)
{
    fprintf(f,
            "usage: %s [-c FILE] [-t] [-V] [-h]\n"
            "  -c FILE  configuration file (default %s)\n"
            "  -t       check the configuration and keys, then exit\n"
            "  -V       print the version\n",
            prog, default_path);
}

params *daemon_config(int argc, char **argv, const char *prog, const param_table *t,
                      const char *default_path, bool *check_only)
{
    const char *path = default_path;
    int opt;
    *check_only = false;
    log_init(prog);
    while ((opt = getopt(argc, argv, "c:thV")) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 't': *check_only = true; break;
        case 'V': printf("%s %s\n", prog, BULWARK_VERSION); exit(0);
        case 'h': usage(stdout, prog, default_path); exit(0);
        default: usage(stderr, prog, default_path); exit(2);
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
        usage(stderr, prog, default_path);
        exit(2);
    }
    params *p = params_new(t);
    char err[1024];
    /* The default file may be absent (defaults apply); a file named with -c may not. */
    bool want = path != default_path || access(path, F_OK) == 0;
    if (want && !params_load_file(p, path, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", prog, err);
        params_destroy(&p);
        exit(1);
    }
    log_level lvl;
    if (log_level_parse(params_str(p, "log_level"), &lvl))
        log_set_level(lvl);
    return p;
}

void daemon_name(const params *p, const char *name, char *out, size_t n)
{
    const char *v = params_str(p, name);
    if (*v) {
        snprintf(out, n, "%s", v);
        return;
    }
    if (gethostname(out, n - 1) != 0)
        snprintf(out, n, "%s", "localhost");
    out[n - 1] = '\0';
}

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
