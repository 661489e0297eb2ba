/* scanclient.c - a thread-safe scan client over one DEALER to the master.
 *
 * Callers (libmilter's per-connection threads) never touch ZeroMQ: each puts a
 * waiter (on its own stack) into a table keyed by job id and onto an outbox,
 * wakes the client thread through an eventfd and sleeps on the waiter's condition
 * variable. The client thread alone owns the DEALER and its socket monitor: it
 * writes queued frames (ZMQ_IMMEDIATE, so nothing sits in the pipe of a dead
 * connection), routes each result to its waiter, and when a handshake succeeds
 * after a disconnect puts every waiter back on the outbox: the Lazy Pirate resend
 * under the same id. One mutex guards the table, the outbox and the counters. */
#include "scanclient.h"
#include "dict.h"
#include "log.h"
#include "util.h"
#include "zmqx.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

typedef struct waiter waiter;
struct waiter {
    const char *id;
    uint8_t *frame; /* the packed Packet; owned by the caller */
    size_t len;
    Bulwark__ScanResult *result;
    const char *error;
    bool done, queued;
    pthread_cond_t cond;
    waiter *qprev, *qnext;
};

struct scanclient {
    void *ctx, *sock, *mon;
    int efd;
    pthread_t thread;
    char endpoint[256];

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t idle; /* signalled when the last caller leaves while stopping */
    dict *waiting; /* job id -> waiter */
    waiter *qhead, *qtail; /* outbox */
    bool stopping, lost;
    uint32_t ncallers;
    uint64_t next_disconnect_log_us;
    scanclient_stats st;
};

/* ---- outbox (lock held) ------------------------------------------------------------ */

static void outbox_push(scanclient *c, waiter *w)
{
    if (w->queued)
        return;
    w->queued = true;
    w->qnext = NULL;
    w->qprev = c->qtail;
    if (c->qtail)
        c->qtail->qnext = w;
    else
        c->qhead = w;
    c->qtail = w;
}

static void outbox_remove(scanclient *c, waiter *w)
{
    if (!w->queued)
        return;
    if (w->qprev)
        w->qprev->qnext = w->qnext;
    else
        c->qhead = w->qnext;
    if (w->qnext)
        w->qnext->qprev = w->qprev;
    else
        c->qtail = w->qprev;
    w->queued = false;
    w->qprev = w->qnext = NULL;
}

/* Hands the waiter its outcome and wakes it; it is no longer reachable from the
 * table or the outbox afterwards. */
static void finish(scanclient *c, waiter *w, Bulwark__ScanResult *r, const char *error)
{
    dict_del(c->waiting, w->id);
    outbox_remove(c, w);
    w->result = r;
    w->error = error;
    w->done = true;
    pthread_cond_signal(&w->cond);
}

static void wake(scanclient *c)
{
    uint64_t one = 1;
    ssize_t n = write(c->efd, &one, sizeof one);
    (void)n; /* the counter cannot overflow in practice; a wake is never lost */
}

/* ---- the client thread ------------------------------------------------------------- */

static void flush_outbox(scanclient *c)
{
    while (c->qhead) {
        waiter *w = c->qhead;
        if (zmq_send(c->sock, w->frame, w->len, ZMQ_DONTWAIT) < 0)
            return; /* not connected (or full): retried on the next event or tick */
        outbox_remove(c, w);
        c->st.sent++;
    }
}

static void requeue_all(scanclient *c)
{
    size_t it = 0, n = 0;
    waiter *w;
    while ((w = dict_next(c->waiting, &it, NULL))) {
        if (!w->queued) {
            outbox_push(c, w);
            n++;
        }
    }
    c->st.resent += n;
    if (n)
        log_info("event=master_reconnected endpoint=%s resent=%zu", c->endpoint, n);
}

static void on_monitor_event(scanclient *c, uint16_t ev, uint32_t val)
{
    uint64_t now = mono_us();
    pthread_mutex_lock(&c->lock);
    if (ev == ZMQ_EVENT_DISCONNECTED) {
        c->st.connected = false;
        if (!c->lost && now >= c->next_disconnect_log_us) {
            log_warn("event=master_disconnected endpoint=%s waiting=%zu", c->endpoint,
                     dict_size(c->waiting));
            c->next_disconnect_log_us = now + 10000000;
        }
        c->lost = true;
    } else if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        c->st.connected = true;
        if (c->lost) {
            c->lost = false;
            c->st.reconnects++;
            requeue_all(c);
        } else {
            log_info("event=master_connected endpoint=%s", c->endpoint);
        }
    } else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        log_error("event=master_refused_key endpoint=%s status=%u hint=\"add this client's "
                  "public key to the master's curve_allow with role client\"",
                  c->endpoint, val);
    }
    pthread_mutex_unlock(&c->lock);
}

static void monitor_input(scanclient *c)
{
    uint16_t ev;
    uint32_t val;
    while (zx_monitor_event(c->mon, &ev, &val))
        on_monitor_event(c, ev, val);
}

/* Routes one decoded packet; takes ownership of it. */
static void route(scanclient *c, packet *p)
{
    Bulwark__ScanResult *r = NULL;
    if (p && p->body_case == BULWARK__PACKET__BODY_RESULT && p->result->job_id) {
        r = p->result; /* detach: protobuf-c allocates every sub-message on its own */
        p->result = NULL;
        p->body_case = BULWARK__PACKET__BODY__NOT_SET;
    } else if (p && p->body_case == BULWARK__PACKET__BODY_ERROR) {
        log_warn("event=master_error code=%u error=\"%s\"", p->error->code,
                 p->error->text ? p->error->text : "");
    }
    zx_packet_free(&p);
    pthread_mutex_lock(&c->lock);
    waiter *w = r ? dict_get(c->waiting, r->job_id) : NULL;
    if (w) {
        c->st.answered++;
        finish(c, w, r, NULL);
        r = NULL;
    } else {
        c->st.dropped++;
    }
    pthread_mutex_unlock(&c->lock);
    if (r) {
        log_debug("job=%s event=result_dropped reason=\"nobody waits for it\"", r->job_id);
        scanclient_result_free(&r);
    }
}

static void sock_input(scanclient *c)
{
    for (int i = 0; i < 256; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        packet *p = NULL;
        if (zmq_msg_more(&m))
            zx_drain(c->sock);
        else
            p = zx_decode(zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
        route(c, p);
    }
}

static void fail_all(scanclient *c, const char *why)
{
    size_t it = 0;
    waiter *w;
    while ((w = dict_next(c->waiting, &it, NULL)))
        finish(c, w, NULL, why);
}

static void *client_main(void *arg)
{
    scanclient *c = arg;
    for (;;) {
        zmq_pollitem_t items[] = {
            {c->sock, 0, ZMQ_POLLIN, 0},
            {c->mon, 0, ZMQ_POLLIN, 0},
            {NULL, c->efd, ZMQ_POLLIN, 0},
        };
        if (zmq_poll(items, 3, 100) < 0 && zmq_errno() != EINTR)
            log_fatal("event=poll error=\"%s\"", zmq_strerror(zmq_errno()));
        if (items[2].revents & ZMQ_POLLIN) {
            uint64_t v;
            ssize_t n = read(c->efd, &v, sizeof v);
            (void)n;
        }
        if (items[1].revents & ZMQ_POLLIN)
            monitor_input(c);
        if (items[0].revents & ZMQ_POLLIN)
            sock_input(c);
        pthread_mutex_lock(&c->lock);
        bool stop = c->stopping;
        if (stop)
            fail_all(c, "client stopping");
        else
            flush_outbox(c);
        pthread_mutex_unlock(&c->lock);
        if (stop)
            return NULL;
    }
}

/* ---- public ------------------------------------------------------------------------ */

static void setup_socket(scanclient *c, const scanclient_opts *o)
{
    c->sock = zx_socket(c->ctx, ZMQ_DEALER, o->max_frame);
    int one = 1, ivl = o->reconnect_ms > 0 ? o->reconnect_ms : 100, ivl_max = 2000;
    int hb_ivl = 1000, hb_timeout = 3000;
    zmq_setsockopt(c->sock, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    /* ZMTP heartbeats notice a master host that vanished without closing TCP. */
    zmq_setsockopt(c->sock, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl);
    zmq_setsockopt(c->sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout);
    if (o->mine && o->server)
        zx_curve_client(c->sock, o->mine, o->server);
}

scanclient *scanclient_new(const scanclient_opts *o, char *err, size_t errlen)
{
    static int seq;
    scanclient *c = xcalloc(1, sizeof *c);
    snprintf(c->endpoint, sizeof c->endpoint, "%s", o->endpoint);
    c->ctx = zmq_ctx_new();
    setup_socket(c, o);
    char mon_ep[64];
    snprintf(mon_ep, sizeof mon_ep, "inproc://scanclient-monitor-%d",
             __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
    zmq_socket_monitor(c->sock, mon_ep,
                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    c->mon = zx_socket(c->ctx, ZMQ_PAIR, 0);
    zmq_connect(c->mon, mon_ep);
    if (zmq_connect(c->sock, o->endpoint) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", o->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(c->mon);
        zmq_close(c->sock);
        zmq_ctx_term(c->ctx);
        free(c);
        return NULL;
    }
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->efd < 0)
        log_fatal("event=eventfd error=\"%s\"", strerror(errno));
    c->waiting = dict_new();
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->idle, NULL);
    if (pthread_create(&c->thread, NULL, client_main, c) != 0)
        log_fatal("event=thread_create error=\"%s\"", strerror(errno));
    return c;
}

static uint8_t *pack_job(const Bulwark__ScanJob *job, size_t *len)
{
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_JOB;
    p.job = (Bulwark__ScanJob *)job;
    *len = bulwark__packet__get_packed_size(&p);
    uint8_t *buf = xmalloc(*len);
    bulwark__packet__pack(&p, buf);
    return buf;
}

static struct timespec deadline_in(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Lock held: registers w; returns NULL, or why it cannot be registered. */
static const char *enlist(scanclient *c, waiter *w)
{
    if (c->stopping)
        return "client stopping";
    if (dict_get(c->waiting, w->id))
        return "job id already in flight";
    c->ncallers++;
    c->st.waiting++;
    dict_set(c->waiting, w->id, w);
    outbox_push(c, w);
    return NULL;
}

/* Lock held: sleeps until w is done or the deadline passes. */
static void await(scanclient *c, waiter *w, int64_t timeout_ms)
{
    struct timespec until = deadline_in(timeout_ms > 0 ? timeout_ms : 0);
    while (!w->done) {
        if (pthread_cond_timedwait(&w->cond, &c->lock, &until) == ETIMEDOUT && !w->done) {
            c->st.timeouts++;
            finish(c, w, NULL, "no verdict in time");
        }
    }
    c->ncallers--;
    c->st.waiting--;
    if (c->stopping && c->ncallers == 0)
        pthread_cond_broadcast(&c->idle);
}

bool scanclient_scan(scanclient *c, const Bulwark__ScanJob *job, int64_t timeout_ms,
                     Bulwark__ScanResult **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!job->job_id || !*job->job_id) {
        snprintf(err, errlen, "job without an id");
        return false;
    }
    waiter w = {.id = job->job_id};
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cond, &ca);
    pthread_condattr_destroy(&ca);
    w.frame = pack_job(job, &w.len);

    pthread_mutex_lock(&c->lock);
    const char *why = enlist(c, &w);
    if (!why) {
        pthread_mutex_unlock(&c->lock);
        wake(c);
        pthread_mutex_lock(&c->lock);
        await(c, &w, timeout_ms);
        why = w.error;
    }
    pthread_mutex_unlock(&c->lock);

    pthread_cond_destroy(&w.cond);
    free(w.frame);
    if (!w.result) {
        snprintf(err, errlen, "%s", why ? why : "no verdict");
        return false;
    }
    *out = w.result;
    return true;
}

void scanclient_result_free(Bulwark__ScanResult **r)
{
    if (*r)
        bulwark__scan_result__free_unpacked(*r, NULL);
    *r = NULL;
}

void scanclient_get_stats(scanclient *c, scanclient_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    pthread_mutex_unlock(&c->lock);
}

void scanclient_destroy(scanclient **cp)
{
    scanclient *c = *cp;
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_mutex_unlock(&c->lock);
    wake(c);
    pthread_join(c->thread, NULL);
    pthread_mutex_lock(&c->lock);
    while (c->ncallers > 0)
        pthread_cond_wait(&c->idle, &c->lock);
    pthread_mutex_unlock(&c->lock);

    zmq_socket_monitor(c->sock, NULL, 0);
    zmq_close(c->mon);
    zmq_close(c->sock);
    zmq_ctx_term(c->ctx);
    close(c->efd);
    dict_destroy(&c->waiting, NULL);
    pthread_cond_destroy(&c->idle);
    pthread_mutex_destroy(&c->lock);
    free(c);
    *cp = NULL;
}
