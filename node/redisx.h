/* redisx.h - the process's Redis (hiredis): one server address, one connection per
 * thread.
 *
 * Redis holds what the whole cluster shares and learns: Bayes token counts, the
 * digests of learned messages, fuzzy hashes of spam campaigns. The address is set once
 * per process before the worker threads start (bulwark-node's redis_server,
 * `bulwarkctl --redis HOST:PORT`). Each thread gets its own connection on first use
 * (hiredis contexts are not thread-safe), with connect and command timeouts so a
 * stalled Redis costs a check its vote, never a stuck worker. After an I/O error the
 * caller calls redisx_reset() and the next redisx_get() reconnects (at most once per
 * second per thread, so a Redis that is down is not hammered). */
#ifndef BW_REDISX_H
#define BW_REDISX_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

/* "HOST:PORT", "[IPv6]:PORT" or "/path/to/socket"; "" turns Redis off. Not thread-safe:
 * call before the threads that use it start. False with a reason for a bad address. */
bool redisx_configure(const char *server, unsigned timeout_ms, char *err, size_t errlen);
/* Whether an address is configured (not whether Redis is up). */
bool redisx_configured(void);
/* The address as configured, for log lines and details. */
const char *redisx_server(void);
/* This thread's connection, connected if needed. NULL with the reason in err when
 * Redis is not configured or cannot be reached. */
redisContext *redisx_get(char *err, size_t errlen);
/* Drops this thread's connection after an error (the next get reconnects). */
void redisx_reset(void);
/* Frees this thread's connection (threads call it before they exit; also done by a
 * thread-exit destructor). */
void redisx_thread_done(void);

#endif
