/* zap.c - ZAP (ZeroMQ Authentication Protocol) handler over the allow-list.
 *
 * A REP socket on inproc://zeromq.zap.01 gets one request per handshake:
 * version, request id, domain, address, routing id, mechanism, credentials.
 * For CURVE the credential is the client's 32-byte public key. Refusals are
 * logged once per key per minute with a count, so a misconfigured node retrying
 * every second cannot flood the log. */
#include "zap.h"
#include "dict.h"
#include "keys.h"
#include "log.h"
#include "util.h"
#include "zmqx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct zap {
    void *sock;
    char *path;
    allowlist *al;
    uint64_t refused;
    dict *refusal_log; /* z85 key -> struct refusal */
};

typedef struct {
    uint64_t last_ms;
    uint64_t count;
} refusal;

zap *zap_new(void *ctx, const char *allow_path)
{
    zap *z = xcalloc(1, sizeof *z);
    char err[512];
    z->path = xstrdup(allow_path);
    z->al = allowlist_load(allow_path, err, sizeof err);
    if (!z->al)
        log_fatal("event=allowlist error=\"%s\"", err);
    z->sock = zx_socket(ctx, ZMQ_REP, 0);
    if (zmq_bind(z->sock, "inproc://zeromq.zap.01") != 0)
        log_fatal("event=zap_bind error=\"%s\"", zmq_strerror(zmq_errno()));
    z->refusal_log = dict_new();
    log_info("event=allowlist path=%s keys=%zu", allow_path, allowlist_size(z->al));
    return z;
}

void zap_destroy(zap **zp)
{
    zap *z = *zp;
    if (!z)
        return;
    zmq_close(z->sock);
    allowlist_destroy(&z->al);
    dict_destroy(&z->refusal_log, free);
    free(z->path);
    free(z);
    *zp = NULL;
}

void *zap_socket(zap *z)
{
    return z->sock;
}

unsigned zap_roles(const zap *z, const char *name)
{
    return allowlist_roles(z->al, name);
}

uint64_t zap_refused(const zap *z)
{
    return z->refused;
}

bool zap_reload(zap *z, char *err, size_t errlen)
{
    allowlist *al = allowlist_load(z->path, err, errlen);
    if (!al)
        return false;
    allowlist_destroy(&z->al);
    z->al = al;
    log_info("event=allowlist_reload path=%s keys=%zu", z->path, allowlist_size(al));
    return true;
}

static void log_refusal(zap *z, const char *addr, const char *mech, const uint8_t *key,
                        const char *domain, const char *why)
{
    char kz[41] = "none", lk[128];
    if (key)
        zmq_z85_encode(kz, key, 32);
    snprintf(lk, sizeof lk, "%s/%s", kz, domain);
    refusal *r = dict_get(z->refusal_log, lk);
    if (!r) {
        if (dict_size(z->refusal_log) > 10000) /* bound memory under a key-spraying peer */
            dict_destroy(&z->refusal_log, free), z->refusal_log = dict_new();
        r = xcalloc(1, sizeof *r);
        dict_set(z->refusal_log, lk, r);
    }
    r->count++;
    uint64_t now = now_ms();
    if (r->last_ms && now - r->last_ms < 60000)
        return;
    r->last_ms = now;
    log_warn("event=zap_refused address=%s socket=%s mechanism=%s key=%s attempts=%llu "
             "reason=\"%s\"",
             addr, domain, mech, kz, (unsigned long long)r->count, why);
}

void zap_handle(zap *z)
{
    for (;;) {
        zmq_msg_t f[7];
        int nf = 0;
        bool more = true;
        while (more && nf < 7) {
            zmq_msg_init(&f[nf]);
            if (zmq_msg_recv(&f[nf], z->sock, nf == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                zmq_msg_close(&f[nf]);
                if (nf == 0)
                    return;
                break;
            }
            more = zmq_msg_more(&f[nf]);
            nf++;
        }
        if (more)
            zx_drain(z->sock);
        /* Frames: 0 version, 1 request id, 2 domain, 3 address, 4 routing id,
         * 5 mechanism, 6 credentials (CURVE: 32-byte key). */
        char addr[64] = "?", mech[16] = "?";
        if (nf > 3)
            snprintf(addr, sizeof addr, "%.*s", (int)zmq_msg_size(&f[3]),
                     (char *)zmq_msg_data(&f[3]));
        if (nf > 5)
            snprintf(mech, sizeof mech, "%.*s", (int)zmq_msg_size(&f[5]),
                     (char *)zmq_msg_data(&f[5]));
        const uint8_t *key = nf > 6 && zmq_msg_size(&f[6]) == 32 ? zmq_msg_data(&f[6]) : NULL;
        char domain[16] = "?";
        if (nf > 2)
            snprintf(domain, sizeof domain, "%.*s", (int)zmq_msg_size(&f[2]),
                     (char *)zmq_msg_data(&f[2]));
        unsigned roles = 0;
        const char *name =
            key && strcmp(mech, "CURVE") == 0 ? allowlist_find(z->al, key, &roles) : NULL;
        /* The ZAP domain names the socket (zx_curve_server): nodes use the worker, publish
         * and snapshot sockets; clients and admins the client socket. */
        unsigned need = strcmp(domain, "client") == 0 ? ROLE_CLIENT : ROLE_NODE;
        const char *text = "OK";
        if (!name)
            text = "key not on allow-list";
        else if (!(roles & need))
            text = need == ROLE_NODE ? "key has no node role" : "key has no client or admin role";
        if (!name || !(roles & need)) {
            z->refused++;
            log_refusal(z, addr, mech, key, domain, text);
            name = NULL;
        } else {
            log_debug("event=zap_accepted address=%s socket=%s name=%s", addr, domain, name);
        }
        /* Reply: version, request id, status code, status text, user id, metadata. */
        zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE);
        if (nf > 1)
            zmq_send(z->sock, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
        else
            zmq_send(z->sock, "", 0, ZMQ_SNDMORE);
        zmq_send(z->sock, name ? "200" : "400", 3, ZMQ_SNDMORE);
        zmq_send(z->sock, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(z->sock, name ? name : "", name ? strlen(name) : 0, ZMQ_SNDMORE);
        zmq_send(z->sock, "", 0, 0);
        for (int i = 0; i < nf; i++)
            zmq_msg_close(&f[i]);
    }
}
