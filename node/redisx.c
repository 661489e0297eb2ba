/* redisx.c - the process's Redis address and one hiredis connection per thread.
 *
 * The address is parsed once by redisx_configure() (before threads start) into a
 * host/port or a socket path. Each thread's connection lives behind a pthread key
 * whose destructor frees it when the thread exits; redisx_thread_done() frees it
 * earlier. Connect and command timeouts are the configured timeout. A thread
 * attempts a connect at most once a second, so a Redis that is down costs one
 * failed attempt per second per thread and every other call fails at once. */
#include "redisx.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

typedef struct {
    redisContext *ctx;
    uint64_t last_try_ms; /* mono_ms of the last connect attempt (0: none yet) */
    char last_err[128];
} redisx_conn;

static char g_server[512];
static char g_host[256];
static char g_path[256];
static int g_port;
static unsigned g_timeout_ms = 200;
static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

#define REDISX_RETRY_MS 1000

static void conn_free(void *p)
{
    redisx_conn *c = p;
    if (!c)
        return;
    if (c->ctx)
        redisFree(c->ctx);
    free(c);
}

static void make_key(void)
{
    if (pthread_key_create(&g_key, conn_free) != 0)
        abort();
}

static redisx_conn *this_conn(bool create)
{
    pthread_once(&g_once, make_key);
    redisx_conn *c = pthread_getspecific(g_key);
    if (!c && create) {
        c = xcalloc(1, sizeof *c);
        pthread_setspecific(g_key, c);
    }
    return c;
}

static bool parse_port(const char *s, int *port)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > 65535)
        return false;
    *port = (int)v;
    return true;
}

bool redisx_configure(const char *server, unsigned timeout_ms, char *err, size_t errlen)
{
    g_server[0] = g_host[0] = g_path[0] = '\0';
    g_port = 0;
    g_timeout_ms = timeout_ms ? timeout_ms : 200;
    if (!server || !*server)
        return true;
    if (strlen(server) >= sizeof g_host) {
        snprintf(err, errlen, "redis server address too long");
        return false;
    }
    if (server[0] == '/') {
        snprintf(g_path, sizeof g_path, "%s", server);
    } else if (server[0] == '[') {
        const char *close = strchr(server, ']');
        if (!close || close == server + 1 || close[1] != ':' || !parse_port(close + 2, &g_port)) {
            snprintf(err, errlen, "bad redis server '%s': expected [IPv6]:PORT", server);
            return false;
        }
        snprintf(g_host, sizeof g_host, "%.*s", (int)(close - server - 1), server + 1);
    } else {
        const char *colon = strrchr(server, ':');
        if (!colon || colon == server || memchr(server, ':', (size_t)(colon - server)) ||
            !parse_port(colon + 1, &g_port)) {
            snprintf(err, errlen, "bad redis server '%s': expected HOST:PORT, [IPv6]:PORT or /path",
                     server);
            return false;
        }
        snprintf(g_host, sizeof g_host, "%.*s", (int)(colon - server), server);
    }
    snprintf(g_server, sizeof g_server, "%s", server);
    return true;
}

bool redisx_configured(void)
{
    return g_server[0] != '\0';
}

const char *redisx_server(void)
{
    return g_server;
}

redisContext *redisx_get(char *err, size_t errlen)
{
    if (!redisx_configured()) {
        snprintf(err, errlen, "redis not configured");
        return NULL;
    }
    redisx_conn *c = this_conn(true);
    if (c->ctx)
        return c->ctx;
    uint64_t now = mono_ms();
    if (c->last_try_ms && now - c->last_try_ms < REDISX_RETRY_MS) {
        snprintf(err, errlen, "redis %s: %s (retry throttled)", g_server,
                 c->last_err[0] ? c->last_err : "down");
        return NULL;
    }
    c->last_try_ms = now ? now : 1;
    struct timeval tv = {(time_t)(g_timeout_ms / 1000), (suseconds_t)(g_timeout_ms % 1000) * 1000};
    redisContext *ctx = g_path[0] ? redisConnectUnixWithTimeout(g_path, tv)
                                  : redisConnectWithTimeout(g_host, g_port, tv);
    if (!ctx || ctx->err || redisSetTimeout(ctx, tv) != REDIS_OK) {
        snprintf(c->last_err, sizeof c->last_err, "%s",
                 ctx ? (ctx->err ? ctx->errstr : "cannot set timeout") : "out of memory");
        snprintf(err, errlen, "redis %s: %s", g_server, c->last_err);
        if (ctx)
            redisFree(ctx);
        return NULL;
    }
    c->last_err[0] = '\0';
    c->ctx = ctx;
    return ctx;
}

void redisx_reset(void)
{
    redisx_conn *c = this_conn(false);
    if (!c || !c->ctx)
        return;
    snprintf(c->last_err, sizeof c->last_err, "%s",
             c->ctx->err ? c->ctx->errstr : "connection reset after an error");
    redisFree(c->ctx);
    c->ctx = NULL;
}

void redisx_thread_done(void)
{
    redisx_conn *c = this_conn(false);
    if (!c)
        return;
    pthread_setspecific(g_key, NULL);
    conn_free(c);
}
