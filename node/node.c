/* node.c - bulwark-node: a stateless scanner that takes jobs from the master.
 *
 * The main thread is the node's broker. It holds the node's single connection to
 * the master's worker socket (one DEALER: one heartbeat, one credit account and
 * one reconnect per node rather than per thread), the config SUB and snapshot
 * sockets, and an inproc ROUTER to the worker threads. Jobs from the master are
 * queued and handed to idle workers; a worker scans with the pipeline generation
 * current when it starts the job and sends the packed result back, which the
 * broker forwards unchanged; the workers share one resolver (dns.h, one cache),
 * built at start from dns_forwarders. A new config version is built into a pipeline in
 * the broker and swapped in under a mutex; workers pick it up at their next job.
 * The node tells the master its credit (workers x jobs_per_worker) in Hello and
 * returns one credit per result. If the master goes silent the node reconnects
 * (Paranoid Pirate); on SIGTERM it hands back queued jobs, finishes the ones in
 * progress, says a final Bye and exits. */
#include "clam.h"
#include "daemon.h"
#include "dkimseal.h"
#include "dns.h"
#include "keys.h"
#include "learn.h"
#include "log.h"
#include "params.h"
#include "pipeline.h"
#include "redisx.h"
#include "util.h"
#include "zmqx.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORKERS_EP "inproc://bulwark-workers"

typedef struct {
    uint8_t id[16];
    size_t len;
} wid;

typedef struct {
    params *cfg;
    char node_id[128];
    void *ctx;
    bool curve;
    curve_key mine, server;
    int64_t max_frame;

    pthread_mutex_t lock;
    pipeline *current; /* guarded by lock */

    int nworkers;
    pthread_t *threads;
    wid *workers; /* every worker's inproc id, for shutdown */
    int nknown;
    wid *idle; /* FIFO of idle workers */
    int nidle;

    zmq_msg_t *queue; /* jobs waiting for an idle worker (ring) */
    uint32_t qhead, qlen, capacity;
    uint32_t in_node; /* jobs received from the master and not yet answered */
    uint64_t jobs_done;

    void *master, *sub, *snap, *inproc, *monitor;
    int monitor_seq;
    bool hello_sent;
    uint64_t hello_us; /* when the last Hello went out */
    uint64_t disconnects; /* since the last successful handshake */
    uint64_t next_disconnect_log_us;
    uint64_t last_master_us, next_hb_us, reconnect_at_us, reconnect_ivl_us;
    uint64_t snapshot_asked_us;
    uint64_t hb_us, reconnect_max_us;
    int liveness;

    bool draining;
    uint64_t drain_deadline_us;
} node;

static uint64_t current_version(node *n)
{
    pthread_mutex_lock(&n->lock);
    uint64_t v = n->current ? pipeline_version(n->current) : 0;
    pthread_mutex_unlock(&n->lock);
    return v;
}

/* ---- workers ----------------------------------------------------------------------- */

typedef struct {
    node *n;
    int index;
} worker_arg;

static void send_credit(void *sock, uint32_t credit)
{
    Bulwark__Credit c = BULWARK__CREDIT__INIT;
    c.credit = credit;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_CREDIT;
    p.credit = &c;
    zx_send_packet(sock, &p, 0);
}

/* A learn job instead of a scan: PASS with LEARNED_SPAM/LEARNED_HAM when it was
 * learned (or already had been), TEMPFAIL with the reason when it must be retried. */
static void answer_learn(void *s, node *n, const Bulwark__ScanJob *job)
{
    uint64_t t0 = mono_us();
    char detail[512];
    bool bad;
    /* The configuration the scans use, so learned tokens match scanned ones. */
    pthread_mutex_lock(&n->lock);
    pipeline *pl = n->current ? pipeline_ref(n->current) : NULL;
    pthread_mutex_unlock(&n->lock);
    bool ok = learn_job(job, pl ? pipeline_config(pl) : NULL, &bad, detail, sizeof detail);
    pipeline_release(&pl);
    Bulwark__Symbol sym = BULWARK__SYMBOL__INIT, *symv[1] = {&sym};
    Bulwark__ScanResult r = BULWARK__SCAN_RESULT__INIT;
    r.job_id = job->job_id;
    r.node_id = n->node_id;
    r.config_version = current_version(n);
    if (ok) {
        sym.name = job->learn == BULWARK__LEARN_AS__LEARN_SPAM ? "LEARNED_SPAM" : "LEARNED_HAM";
        sym.detail = detail;
        r.n_symbols = 1;
        r.symbols = symv;
        r.action = BULWARK__ACTION__ACTION_PASS;
        log_info("job=%s event=learned detail=\"%s\"", job->job_id, detail);
    } else {
        r.action = bad ? BULWARK__ACTION__ACTION_REJECT : BULWARK__ACTION__ACTION_TEMPFAIL;
        r.reason = detail;
        log_warn("job=%s event=learn_failed reason=\"%s\"", job->job_id, detail);
    }
    r.scan_us = (uint32_t)(mono_us() - t0);
    packet out = BULWARK__PACKET__INIT;
    out.body_case = BULWARK__PACKET__BODY_RESULT;
    out.result = &r;
    if (zx_send_packet(s, &out, 0) != 0)
        log_error("job=%s event=result_send_failed", job->job_id);
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    node *n = wa->n;
    void *s = zx_socket(n->ctx, ZMQ_DEALER, 0);
    char ident[16];
    snprintf(ident, sizeof ident, "w%d", wa->index);
    zmq_setsockopt(s, ZMQ_ROUTING_ID, ident, strlen(ident));
    if (zmq_connect(s, WORKERS_EP) != 0)
        log_fatal("event=worker_connect error=\"%s\"", zmq_strerror(zmq_errno()));
    zmq_send(s, "", 0, 0); /* ready */
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            if (zmq_errno() == EINTR)
                continue;
            break;
        }
        if (zmq_msg_size(&m) == 0) { /* stop */
            zmq_msg_close(&m);
            break;
        }
        packet *p = zx_decode(zmq_msg_data(&m), zmq_msg_size(&m));
        if (!p || p->body_case != BULWARK__PACKET__BODY_JOB) {
            log_warn("event=bad_frame socket=master reason=\"job frame does not decode\"");
            zx_packet_free(&p);
            zmq_msg_close(&m);
            send_credit(s, 1);
            continue;
        }
        const Bulwark__ScanJob *job = p->job;
        if (job->learn != BULWARK__LEARN_AS__LEARN_NONE) {
            answer_learn(s, n, job);
            zx_packet_free(&p);
            zmq_msg_close(&m);
            continue;
        }
        pthread_mutex_lock(&n->lock);
        pipeline *pl = pipeline_ref(n->current);
        pthread_mutex_unlock(&n->lock);
        scan_task *t =
            scan_task_new(pl, job->job_id, job->envelope, job->message.data, job->message.len);
        scan_task_set_deadline(t, job->deadline_ms); /* DNS waits end there at the latest */
        scan_run(t);
        Bulwark__ScanResult r = *scan_result(t);
        r.node_id = n->node_id;
        packet out = BULWARK__PACKET__INIT;
        out.body_case = BULWARK__PACKET__BODY_RESULT;
        out.result = &r;
        if (zx_send_packet(s, &out, 0) != 0)
            log_error("job=%s event=result_send_failed", job->job_id);
        log_debug("job=%s event=scanned action=%s score=%.2f us=%u", job->job_id,
                  action_name(r.action), r.score, r.scan_us);
        scan_task_destroy(&t);
        pipeline_release(&pl);
        zx_packet_free(&p);
        zmq_msg_close(&m);
    }
    zmq_close(s);
    redisx_thread_done();
    return NULL;
}

/* ---- talking to the master --------------------------------------------------------- */

static void send_master(node *n, const packet *p)
{
    if (zx_send_packet(n->master, p, ZMQ_DONTWAIT) != 0)
        log_debug("event=send_failed error=\"%s\"", zmq_strerror(zmq_errno()));
}

static void send_hello(node *n)
{
    Bulwark__Hello h = BULWARK__HELLO__INIT;
    h.node_id = n->node_id;
    h.capacity = n->capacity;
    h.credit = n->draining ? 0 : n->capacity - n->in_node;
    h.config_version = current_version(n);
    h.protocol = BW_PROTOCOL;
    h.software = "bulwark-node " BULWARK_VERSION;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_HELLO;
    p.hello = &h;
    send_master(n, &p);
    n->hello_sent = true;
    n->hello_us = mono_us();
    log_info("event=hello credit=%u config_version=%llu", h.credit,
             (unsigned long long)h.config_version);
}

static double loadavg1(void)
{
    double l[1];
    return getloadavg(l, 1) == 1 ? l[0] : 0;
}

static void send_heartbeat(node *n)
{
    Bulwark__Heartbeat hb = BULWARK__HEARTBEAT__INIT;
    hb.capacity = n->capacity;
    hb.load = n->in_node;
    hb.config_version = current_version(n);
    hb.jobs_done = n->jobs_done;
    hb.load_avg = loadavg1();
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_HEARTBEAT;
    p.heartbeat = &hb;
    send_master(n, &p);
    n->next_hb_us = mono_us() + n->hb_us;
}

static void ask_snapshot(node *n)
{
    Bulwark__ConfigGet g = BULWARK__CONFIG_GET__INIT;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_CONFIG_GET;
    p.config_get = &g;
    zx_send_packet(n->snap, &p, ZMQ_DONTWAIT);
    n->snapshot_asked_us = mono_us();
}

static void *client_socket(node *n, int type, const char *param)
{
    void *s = zx_socket(n->ctx, type, n->max_frame);
    int ivl = 100, ivl_max = (int)(n->reconnect_max_us / 1000);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    if (n->curve)
        zx_curve_client(s, &n->mine, &n->server);
    if (type == ZMQ_SUB)
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "config", 6);
    const char *ep = params_str(n->cfg, param);
    if (zmq_connect(s, ep) != 0)
        log_fatal("event=connect %s=%s error=\"%s\"", param, ep, zmq_strerror(zmq_errno()));
    return s;
}

/* (Re)creates the connection to the master's worker socket, with a monitor that
 * tells the log when the master refuses our key. */
static void connect_master(node *n)
{
    if (n->master) {
        zmq_close(n->master);
        zmq_close(n->monitor);
    }
    n->master = client_socket(n, ZMQ_DEALER, "master_worker_endpoint");
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://bulwark-monitor-%d", n->monitor_seq++);
    zmq_socket_monitor(n->master, ep,
                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_DISCONNECTED);
    n->monitor = zx_socket(n->ctx, ZMQ_PAIR, 0);
    zmq_connect(n->monitor, ep);
    n->hello_sent = false;
    n->last_master_us = mono_us();
}

static void monitor_input(node *n)
{
    uint16_t ev;
    uint32_t val;
    while (zx_monitor_event(n->monitor, &ev, &val)) {
        const char *ep = params_str(n->cfg, "master_worker_endpoint");
        if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            log_error("event=master_refused_key endpoint=%s status=%u key=%s "
                      "hint=\"add this node's public key to the master's curve_allow\"",
                      ep, val, n->mine.public_z85);
        else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            log_error("event=handshake_failed endpoint=%s code=%u hint=\"curve settings differ?\"",
                      ep, val);
        else if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            log_info("event=master_connected endpoint=%s", ep);
            n->disconnects = 0;
        } else if (ev == ZMQ_EVENT_DISCONNECTED) {
            /* A master that cannot decrypt our handshake (wrong curve_server_key) just
             * closes the connection, and ZeroMQ retries at once: log the first
             * disconnect, then one line a minute with the count. */
            uint64_t now = mono_us();
            if (n->disconnects++ == 0 || now >= n->next_disconnect_log_us) {
                log_warn("event=master_disconnected endpoint=%s count=%llu%s", ep,
                         (unsigned long long)n->disconnects,
                         n->disconnects > 1 ? " hint=\"no handshake completes: is curve_server_key "
                                              "the master's public key, and curve_enable the same "
                                              "on both sides?\""
                                            : "");
                n->next_disconnect_log_us = now + 60000000;
            }
        }
    }
}

/* ---- configuration ------------------------------------------------------------------ */

static void apply_snapshot(node *n, const Bulwark__ConfigSnapshot *s)
{
    uint64_t have = current_version(n);
    if (s->version <= have && n->current)
        return;
    char err[512];
    params *p = params_new(&params_cluster);
    for (size_t i = 0; i < s->n_entries; i++) {
        if (!s->entries[i]->key || !s->entries[i]->value ||
            !params_set(p, s->entries[i]->key, s->entries[i]->value, err, sizeof err))
            log_warn("event=config_entry_skipped version=%llu error=\"%s\"",
                     (unsigned long long)s->version, err);
    }
    pipeline *pl = pipeline_new(p, s->version, err, sizeof err);
    params_destroy(&p);
    if (!pl) {
        log_error("event=config_refused version=%llu error=\"%s\"", (unsigned long long)s->version,
                  err);
        return;
    }
    pthread_mutex_lock(&n->lock);
    pipeline *old = n->current;
    n->current = pl;
    pthread_mutex_unlock(&n->lock);
    pipeline_release(&old);
    log_info("event=config_applied version=%llu previous=%llu", (unsigned long long)s->version,
             (unsigned long long)have);
    daemon_notify("STATUS=config_version=%llu", (unsigned long long)s->version);
    if (!n->hello_sent && !n->draining)
        send_hello(n);
    else
        send_heartbeat(n); /* the master learns the new version now, not a beat later */
}

static void sub_input(node *n)
{
    for (int i = 0; i < 64; i++) {
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, n->sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            return;
        }
        zmq_msg_init(&body);
        packet *p = NULL;
        if (zmq_msg_more(&topic) && zmq_msg_recv(&body, n->sub, 0) >= 0 && !zmq_msg_more(&body))
            p = zx_decode(zmq_msg_data(&body), zmq_msg_size(&body));
        else
            zx_drain(n->sub);
        if (p && p->body_case == BULWARK__PACKET__BODY_SNAPSHOT)
            apply_snapshot(n, p->snapshot);
        else
            log_warn("event=bad_frame socket=publish");
        zx_packet_free(&p);
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }
}

static void snap_input(node *n)
{
    for (int i = 0; i < 16; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, n->snap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        packet *p = zmq_msg_more(&m) ? NULL : zx_decode(zmq_msg_data(&m), zmq_msg_size(&m));
        if (zmq_msg_more(&m))
            zx_drain(n->snap);
        if (p && p->body_case == BULWARK__PACKET__BODY_SNAPSHOT) {
            n->snapshot_asked_us = 0;
            apply_snapshot(n, p->snapshot);
        } else if (p && p->body_case == BULWARK__PACKET__BODY_ERROR) {
            log_warn("event=snapshot_unavailable code=%u error=\"%s\"", p->error->code,
                     p->error->text);
        } else {
            log_warn("event=bad_frame socket=snapshot");
        }
        zx_packet_free(&p);
        zmq_msg_close(&m);
    }
}

/* ---- jobs ----------------------------------------------------------------------------- */

static void feed_workers(node *n)
{
    while (n->qlen && n->nidle) {
        wid w = n->idle[0];
        memmove(n->idle, n->idle + 1, (size_t)(--n->nidle) * sizeof *n->idle);
        zmq_msg_t *m = &n->queue[n->qhead];
        n->qhead = (n->qhead + 1) % n->capacity;
        n->qlen--;
        zmq_send(n->inproc, w.id, w.len, ZMQ_SNDMORE);
        zmq_msg_send(m, n->inproc, 0);
        zmq_msg_close(m);
    }
}

/* Takes a job frame into the node's queue (the caller checked there is room). */
static void queue_job(node *n, zmq_msg_t *m)
{
    n->in_node++;
    uint32_t slot = (n->qhead + n->qlen) % n->capacity;
    zmq_msg_init(&n->queue[slot]);
    zmq_msg_move(&n->queue[slot], m);
    n->qlen++;
    zmq_msg_close(m);
}

static void master_input(node *n)
{
    for (int i = 0; i < 512; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, n->master, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        n->last_master_us = mono_us();
        n->reconnect_ivl_us = 0;
        /* Fast path: a frame that starts with Packet field 1 (job) goes to a worker
         * undecoded; the worker decodes it anyway, and one decode of a large message
         * per job is enough. A worker that cannot decode it returns the credit. */
        const uint8_t *raw = zmq_msg_data(&m);
        if (!zmq_msg_more(&m) && zmq_msg_size(&m) > 0 && raw[0] == 0x0a && n->qlen < n->capacity) {
            queue_job(n, &m);
            continue;
        }
        packet *p = zmq_msg_more(&m) ? NULL : zx_decode(zmq_msg_data(&m), zmq_msg_size(&m));
        if (zmq_msg_more(&m))
            zx_drain(n->master);
        if (!p) {
            log_warn("event=bad_frame socket=master size=%zu", zmq_msg_size(&m));
            zmq_msg_close(&m);
            continue;
        }
        switch (p->body_case) {
        case BULWARK__PACKET__BODY_JOB:
            if (n->qlen >= n->capacity) { /* the master overspent our credit: hand it back */
                Bulwark__Bye b = BULWARK__BYE__INIT;
                char *ids[1] = {p->job->job_id};
                b.reason = "over capacity";
                b.stay = true;
                b.n_handback = 1;
                b.handback = ids;
                packet bp = BULWARK__PACKET__INIT;
                bp.body_case = BULWARK__PACKET__BODY_BYE;
                bp.bye = &b;
                send_master(n, &bp);
                log_warn("job=%s event=over_capacity", p->job->job_id);
                zmq_msg_close(&m);
                break;
            }
            queue_job(n, &m);
            break;
        case BULWARK__PACKET__BODY_HEARTBEAT: {
            uint64_t want = p->heartbeat->config_version, have = current_version(n);
            uint64_t now = mono_us();
            if (want > have && (!n->snapshot_asked_us || now - n->snapshot_asked_us > 2000000)) {
                log_info("event=config_behind have=%llu master=%llu", (unsigned long long)have,
                         (unsigned long long)want);
                ask_snapshot(n);
            }
            zmq_msg_close(&m);
            break;
        }
        case BULWARK__PACKET__BODY_BYE:
            /* A master that restarted answers each message it gets before our Hello
             * with a Bye; those were sent before it saw the Hello already on its way,
             * and a second Hello would take back the jobs given since. */
            if (n->hello_sent && mono_us() - n->hello_us < n->hb_us) {
                zmq_msg_close(&m);
                break;
            }
            log_info("event=master_bye reason=\"%s\"", p->bye->reason);
            n->hello_sent = false;
            if (n->current && !n->draining)
                send_hello(n);
            zmq_msg_close(&m);
            break;
        case BULWARK__PACKET__BODY_ERROR:
            /* The master refused our Hello (protocol version): say so, keep trying. */
            log_error("event=master_error code=%u error=\"%s\"", p->error->code,
                      p->error->text ? p->error->text : "");
            zmq_msg_close(&m);
            break;
        default:
            log_warn("event=bad_frame socket=master reason=\"unexpected packet type %d\"",
                     p->body_case);
            zmq_msg_close(&m);
        }
        zx_packet_free(&p);
    }
}

static void worker_input(node *n)
{
    for (int i = 0; i < 512; i++) {
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, n->inproc, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            return;
        }
        zmq_msg_init(&body);
        zmq_msg_recv(&body, n->inproc, 0);
        wid w = {{0}, zmq_msg_size(&id) > 16 ? 16 : zmq_msg_size(&id)};
        memcpy(w.id, zmq_msg_data(&id), w.len);
        if (zmq_msg_size(&body) == 0) { /* a worker started */
            n->workers[n->nknown++] = w;
        } else {
            n->in_node--;
            n->jobs_done++;
            if (zmq_msg_send(&body, n->master, ZMQ_DONTWAIT) < 0)
                log_warn("event=result_not_sent error=\"%s\"", zmq_strerror(zmq_errno()));
        }
        n->idle[n->nidle++] = w;
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
}

/* SIGTERM: no more jobs; jobs not started go back to the master now. */
static void start_drain(node *n)
{
    n->draining = true;
    n->drain_deadline_us = mono_us() + (uint64_t)params_int(n->cfg, "shutdown_grace") * 1000;
    Bulwark__Bye b = BULWARK__BYE__INIT;
    b.reason = "shutting down";
    b.handback = xcalloc(n->qlen ? n->qlen : 1, sizeof *b.handback);
    packet **decoded = xcalloc(n->qlen ? n->qlen : 1, sizeof *decoded);
    uint32_t q = n->qlen;
    for (uint32_t i = 0; i < q; i++) {
        zmq_msg_t *m = &n->queue[(n->qhead + i) % n->capacity];
        decoded[i] = zx_decode(zmq_msg_data(m), zmq_msg_size(m));
        if (decoded[i] && decoded[i]->body_case == BULWARK__PACKET__BODY_JOB)
            b.handback[b.n_handback++] = decoded[i]->job->job_id;
        zmq_msg_close(m);
    }
    n->in_node -= q;
    n->qlen = 0;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_BYE;
    p.bye = &b;
    if (n->hello_sent)
        send_master(n, &p);
    log_info("event=draining handed_back=%zu in_progress=%u", b.n_handback, n->in_node);
    for (uint32_t i = 0; i < q; i++)
        zx_packet_free(&decoded[i]);
    free(decoded);
    free(b.handback);
}

/* The process's resolver from dns_forwarders/dns_timeout; a value that is not an
 * address stops the node (and -t) rather than failing SPF and DKIM on every message. */
static dns_resolver *node_resolver(const params *cfg)
{
    dns_opts o;
    dns_opts_default(&o);
    dns_opts_add_forwarders(&o, params_str(cfg, "dns_forwarders"));
    dns_opts_add_stub_zones(&o, params_str(cfg, "dns_stub_zones"));
    o.timeout_ms = (unsigned)params_int(cfg, "dns_timeout");
    o.cache_bytes = (size_t)params_int(cfg, "dns_cache_size");
    char err[512];
    dns_resolver *r = dns_new(&o, err, sizeof err);
    dns_opts_clear(&o);
    if (!r)
        log_fatal("event=dns_config dns_forwarders=\"%s\" dns_stub_zones=\"%s\" error=\"%s\"",
                  params_str(cfg, "dns_forwarders"), params_str(cfg, "dns_stub_zones"), err);
    return r;
}

int main(int argc, char **argv)
{
    node n = {0};
    char err[1024];
    bool check_only;
    n.cfg = daemon_config(argc, argv, "bulwark-node", &params_node, "/etc/bulwark/node.conf",
                          &check_only);
    daemon_name(n.cfg, "node_id", n.node_id, sizeof n.node_id);
    n.curve = params_bool(n.cfg, "curve_enable");
    if (n.curve) {
        if (!key_load_client(params_str(n.cfg, "curve_secret_key"),
                             params_str(n.cfg, "curve_server_key"), &n.mine, &n.server, err,
                             sizeof err))
            log_fatal("event=config error=\"%s\"", err);
    }
    /* Redis is configured before -t returns, so a bad address fails the check too. */
    const char *redis = params_str(n.cfg, "redis_server");
    if (!redisx_configure(redis, (unsigned)params_int(n.cfg, "redis_timeout"), err, sizeof err))
        log_fatal("event=redis_config redis_server=\"%s\" error=\"%s\"", redis, err);
    dns_resolver *dns = node_resolver(n.cfg);
    /* The DKIM cluster key is read as root, like the CURVE key, before -t answers. */
    static uint8_t seal_key[DKIMSEAL_KEY_BYTES];
    const char *seal_file = params_str(n.cfg, "dkim_key_file");
    if (*seal_file && !dkimseal_load(seal_file, seal_key, err, sizeof err))
        log_fatal("event=dkim_key_file error=\"%s\"", err);
    if (*seal_file)
        dkimseal_process_set(seal_key); /* before the first configuration is built */
    if (check_only) {
        printf("bulwark-node: configuration OK\n");
        dns_destroy(&dns);
        params_destroy(&n.cfg);
        return 0;
    }
    n.nworkers = (int)params_int(n.cfg, "workers");
    if (n.nworkers == 0)
        n.nworkers = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n.nworkers < 1)
        n.nworkers = 1;
    n.capacity = (uint32_t)(n.nworkers * params_int(n.cfg, "jobs_per_worker"));
    n.hb_us = (uint64_t)params_int(n.cfg, "heartbeat_interval") * 1000;
    n.liveness = (int)params_int(n.cfg, "heartbeat_liveness");
    n.reconnect_max_us = (uint64_t)params_int(n.cfg, "reconnect_max") * 1000;
    n.max_frame = params_int(n.cfg, "max_frame_size");
    n.queue = xcalloc(n.capacity, sizeof *n.queue);
    n.workers = xcalloc((size_t)n.nworkers, sizeof *n.workers);
    n.idle = xcalloc((size_t)n.nworkers, sizeof *n.idle);
    pthread_mutex_init(&n.lock, NULL);

    int sigfd = daemon_signalfd();
    daemon_drop_privileges(params_str(n.cfg, "user"));
    /* ClamAV before the workers: an administrator who configured it must not get a
     * node scanning without it. Loads as the service user, who must read the dir. */
    clam_config clam;
    clam_config_from_params(n.cfg, &clam);
    bool clamav = *clam.db_dir != '\0';
    if (clamav && !clam_start(&clam, err, sizeof err))
        log_fatal("event=clamav_failed clamav_db_dir=%s error=\"%s\"", clam.db_dir, err);
    if (!clamav)
        log_info("event=clamav_off reason=\"clamav_db_dir is empty\" effect=\"CLAM_UNAVAILABLE "
                 "when check.clamav.enabled\"");
    if (*redis)
        log_info("event=redis redis_server=%s", redis);
    const char *fwd = params_str(n.cfg, "dns_forwarders");
    log_info("event=dns mode=%s forwarders=\"%s\" stub_zones=\"%s\" timeout_ms=%lld",
             *fwd ? "forward" : "recursion", fwd, params_str(n.cfg, "dns_stub_zones"),
             (long long)params_int(n.cfg, "dns_timeout"));
    dns_process_set(dns); /* before the workers start; they only read it */
    n.ctx = zmq_ctx_new();
    n.inproc = zx_socket(n.ctx, ZMQ_ROUTER, 0);
    if (zmq_bind(n.inproc, WORKERS_EP) != 0)
        log_fatal("event=bind error=\"%s\"", zmq_strerror(zmq_errno()));
    n.sub = client_socket(&n, ZMQ_SUB, "master_publish_endpoint");
    n.snap = client_socket(&n, ZMQ_DEALER, "master_snapshot_endpoint");
    connect_master(&n);
    ask_snapshot(&n);

    n.threads = xcalloc((size_t)n.nworkers, sizeof *n.threads);
    worker_arg *args = xcalloc((size_t)n.nworkers, sizeof *args);
    for (int i = 0; i < n.nworkers; i++) {
        args[i] = (worker_arg){&n, i};
        if (pthread_create(&n.threads[i], NULL, worker_main, &args[i]) != 0)
            log_fatal("event=thread_create error=\"%s\"", strerror(errno));
    }
    log_info("event=started node_id=%s workers=%d capacity=%u curve=%s version=%s", n.node_id,
             n.nworkers, n.capacity, n.curve ? "on" : "off", BULWARK_VERSION);
    daemon_notify("READY=1\nSTATUS=waiting for configuration");
    uint64_t wd_us = daemon_watchdog_us(), next_wd = 0;

    for (;;) {
        zmq_pollitem_t items[] = {
            {n.master, 0, ZMQ_POLLIN, 0},  {n.inproc, 0, ZMQ_POLLIN, 0},
            {n.sub, 0, ZMQ_POLLIN, 0},     {n.snap, 0, ZMQ_POLLIN, 0},
            {n.monitor, 0, ZMQ_POLLIN, 0}, {NULL, sigfd, ZMQ_POLLIN, 0},
        };
        if (zmq_poll(items, 6, 100) < 0 && zmq_errno() != EINTR)
            log_fatal("event=poll error=\"%s\"", zmq_strerror(zmq_errno()));
        if (items[1].revents & ZMQ_POLLIN)
            worker_input(&n);
        if (items[0].revents & ZMQ_POLLIN)
            master_input(&n);
        if (items[2].revents & ZMQ_POLLIN)
            sub_input(&n);
        if (items[3].revents & ZMQ_POLLIN)
            snap_input(&n);
        if (items[4].revents & ZMQ_POLLIN)
            monitor_input(&n);
        if (items[5].revents & ZMQ_POLLIN) {
            int sig;
            while ((sig = daemon_read_signal(sigfd)) != 0) {
                if (sig == SIGHUP)
                    continue;
                if (!n.draining) {
                    log_info("event=stopping signal=%d", sig);
                    daemon_notify("STOPPING=1");
                    start_drain(&n);
                }
            }
        }
        feed_workers(&n);

        uint64_t now = mono_us();
        if (!n.current && n.snapshot_asked_us && now - n.snapshot_asked_us > 1000000)
            ask_snapshot(&n); /* no config yet: keep asking */
        if (n.hello_sent && now - n.last_master_us > n.hb_us * (uint64_t)n.liveness) {
            /* Paranoid Pirate: the master is silent; start a new connection, backing off. */
            if (!n.reconnect_at_us) {
                n.reconnect_ivl_us = n.reconnect_ivl_us ? n.reconnect_ivl_us * 2 : 1000000;
                if (n.reconnect_ivl_us > n.reconnect_max_us)
                    n.reconnect_ivl_us = n.reconnect_max_us;
                n.reconnect_at_us = now + n.reconnect_ivl_us;
                log_warn("event=master_silent ms=%llu reconnect_in_ms=%llu",
                         (unsigned long long)((now - n.last_master_us) / 1000),
                         (unsigned long long)(n.reconnect_ivl_us / 1000));
            }
        }
        if (n.reconnect_at_us && now >= n.reconnect_at_us) {
            n.reconnect_at_us = 0;
            connect_master(&n);
            if (n.current && !n.draining)
                send_hello(&n);
        }
        if (n.hello_sent && now >= n.next_hb_us)
            send_heartbeat(&n);
        if (wd_us && now >= next_wd) {
            daemon_notify("WATCHDOG=1");
            next_wd = now + wd_us / 2;
        }
        if (n.draining && (n.in_node == 0 || now >= n.drain_deadline_us))
            break;
    }

    /* Final Bye: the master re-dispatches whatever we still hold. */
    Bulwark__Bye b = BULWARK__BYE__INIT;
    b.reason = n.in_node ? "shutdown grace expired" : "shutdown";
    b.final = true;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_BYE;
    p.bye = &b;
    if (n.hello_sent)
        send_master(&n, &p);
    int linger = 1000;
    zmq_setsockopt(n.master, ZMQ_LINGER, &linger, sizeof linger);
    for (int i = 0; i < n.nknown; i++) {
        zmq_send(n.inproc, n.workers[i].id, n.workers[i].len, ZMQ_SNDMORE);
        zmq_send(n.inproc, "", 0, 0);
    }
    for (int i = 0; i < n.nworkers; i++)
        pthread_join(n.threads[i], NULL);
    dns_process_set(NULL);
    dns_destroy(&dns);
    if (clamav)
        clam_stop();
    log_info("event=stopped jobs_done=%llu unfinished=%u", (unsigned long long)n.jobs_done,
             n.in_node);
    for (uint32_t i = 0; i < n.qlen; i++)
        zmq_msg_close(&n.queue[(n.qhead + i) % n.capacity]);
    zmq_close(n.master);
    zmq_close(n.monitor);
    zmq_close(n.sub);
    zmq_close(n.snap);
    zmq_close(n.inproc);
    zmq_ctx_term(n.ctx);
    pipeline_release(&n.current);
    free(n.queue);
    free(n.workers);
    free(n.idle);
    free(n.threads);
    free(args);
    params_destroy(&n.cfg);
    close(sigfd);
    return 0;
}
