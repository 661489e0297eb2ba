/* log.c - writes one line per event to stderr (journald captures it under systemd).
 *
 * Format: `2026-11-23T19:38:46.123Z bulwark-master[123] level=info event=...`.
 * A line is formatted into a local buffer and written with one write(2), so lines
 * from worker threads never interleave. The level is a global set once at start. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "bulwark";
static log_level log_min = LOG_INFO;
static bool log_from_env; /* $BULWARK_LOG_LEVEL wins over configuration */

static const char *level_names[] = {"debug", "info", "warn", "error", "fatal", "panic"};

void log_init(const char *prog)
{
    log_prog = prog;
    const char *env = getenv("BULWARK_LOG_LEVEL");
    log_level lvl;
    if (env && log_level_parse(env, &lvl)) {
        log_min = lvl;
        log_from_env = true;
    }
}

void log_set_level(log_level lvl)
{
    if (!log_from_env)
        log_min = lvl;
}

bool log_level_parse(const char *s, log_level *out)
{
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (log_level)i;
            return true;
        }
    }
    return false;
}

bool log_enabled(log_level lvl)
{
    return lvl >= log_min;
}

static void vlog(int lvl, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void vlog(int lvl, const char *fmt, va_list ap)
{
    char line[4096];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%d] level=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), log_prog, (int)getpid(), level_names[lvl]);
    if (n < 0)
        n = 0;
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

#define LOG_FN(fn, lvl)                                                                            \
    void fn(const char *fmt, ...)                                                                  \
    {                                                                                              \
        if (lvl < log_min)                                                                         \
            return;                                                                                \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        vlog(lvl, fmt, ap);                                                                        \
        va_end(ap);                                                                                \
    }

LOG_FN(log_debug, LOG_DEBUG)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_warn, LOG_WARN)
LOG_FN(log_error, LOG_ERROR)

void log_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(4, fmt, ap);
    va_end(ap);
    exit(1);
}

void log_panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(5, fmt, ap);
    va_end(ap);
    abort();
}
