/* log.h - the one logging module: graded diagnostics as key=value lines.
 *
 * Every line: time, program, level, then the caller's text, which should itself be
 * key=value fields (`event=job_done job=%s node=%s`). Lines about a message carry
 * job=<id>. log_fatal() exits(1); log_panic() aborts (broken invariant). */
#ifndef BW_LOG_H
#define BW_LOG_H

#include <stdbool.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Reads $BULWARK_LOG_LEVEL (debug|info|warn|error): when set, it overrides any
 * later log_set_level(), so a daemon's configured level can be raised for one run. */
void log_init(const char *prog);
void log_set_level(log_level lvl);
/* Parses "debug|info|warn|error"; false if unknown. */
bool log_level_parse(const char *s, log_level *out);
bool log_enabled(log_level lvl);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void log_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
