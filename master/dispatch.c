/* dispatch.c - jobs, nodes, credit and timers of the master's broker.
 *
 * A job lives in exactly one place: the pending FIFO, or the list of the node it
 * was last sent to. All open jobs are also on one list in arrival order for the
 * timer walk, and in a dictionary by id, so a result finds its job in O(1) and a
 * second result for an answered job finds nothing and is dropped (exactly once).
 * A node's credit is what it told us in Hello minus jobs sent plus results back;
 * the next job goes to the node with the most free credit (least loaded), ties
 * broken round-robin. The packed job frame is kept until the job is answered so
 * a re-dispatch sends the same bytes without re-encoding (zmq_msg_copy shares it).
 * A job that asks to be recorded is not answered here: its first result goes, with
 * the job frame, to the recorder hook, which answers once the verdict is stored. */
#include "dispatch.h"
#include "dict.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct worker worker;
typedef struct job job;

struct job {
    char *id;
    uint8_t client[256];
    size_t client_len;
    zmq_msg_t frame;
    uint64_t deadline_us, dispatched_us, received_us;
    uint32_t attempts;
    bool record; /* ScanJob.record: the first result goes to the recorder hook */
    worker *w;
    job *prev, *next; /* pending queue or worker list */
    job *aprev, *anext; /* all open jobs */
};

typedef struct {
    job *head, *tail;
    size_t n;
} job_list;

struct worker {
    uint8_t id[256];
    size_t id_len;
    char key[513];
    char node_id[128];
    char peer[65];
    uint32_t capacity, credit, node_load;
    uint64_t config_version, jobs_done;
    double load_avg;
    uint64_t last_seen_us;
    bool draining;
    job_list jobs;
};

struct dispatch {
    void *clients, *workers;
    char master_id[128];
    uint64_t hb_us;
    int liveness;
    uint64_t attempt_us;
    uint32_t max_attempts;
    size_t queue_max;
    int64_t deadline_max_ms;
    uint64_t config_version;
    bool accepting;

    dict *jobs; /* id -> job */
    job_list pending;
    job *all_head, *all_tail;
    size_t nall;

    dict *by_id; /* hex routing id -> worker */
    worker **wv; /* same workers, for selection */
    size_t nw;
    size_t rr;

    uint64_t next_hb_us, next_walk_us;
    uint64_t protocol_logged_us;
    dispatch_stats st;
    dispatch_record_fn record_fn;
    void *record_arg;
};

/* ---- lists --------------------------------------------------------------------- */

static void list_push(job_list *l, job *j, bool front)
{
    j->prev = j->next = NULL;
    if (!l->head) {
        l->head = l->tail = j;
    } else if (front) {
        j->next = l->head;
        l->head->prev = j;
        l->head = j;
    } else {
        j->prev = l->tail;
        l->tail->next = j;
        l->tail = j;
    }
    l->n++;
}

static void list_remove(job_list *l, job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        l->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        l->tail = j->prev;
    j->prev = j->next = NULL;
    l->n--;
}

/* ---- construction -------------------------------------------------------------- */

dispatch *dispatch_new(void *client_sock, void *worker_sock, const params *cfg,
                       const char *master_id)
{
    dispatch *d = xcalloc(1, sizeof *d);
    d->clients = client_sock;
    d->workers = worker_sock;
    snprintf(d->master_id, sizeof d->master_id, "%s", master_id);
    d->hb_us = (uint64_t)params_int(cfg, "heartbeat_interval") * 1000;
    d->liveness = (int)params_int(cfg, "heartbeat_liveness");
    d->attempt_us = (uint64_t)params_int(cfg, "attempt_timeout") * 1000;
    d->max_attempts = (uint32_t)params_int(cfg, "max_attempts");
    d->queue_max = (size_t)params_int(cfg, "queue_max");
    d->deadline_max_ms = params_int(cfg, "deadline_max");
    d->accepting = true;
    d->jobs = dict_new();
    d->by_id = dict_new();
    d->next_hb_us = mono_us() + d->hb_us;
    return d;
}

static void job_free(job *j)
{
    zmq_msg_close(&j->frame);
    free(j->id);
    free(j);
}

static void forget_job(dispatch *d, job *j)
{
    if (j->w)
        list_remove(&j->w->jobs, j);
    else
        list_remove(&d->pending, j);
    if (j->aprev)
        j->aprev->anext = j->anext;
    else
        d->all_head = j->anext;
    if (j->anext)
        j->anext->aprev = j->aprev;
    else
        d->all_tail = j->aprev;
    d->nall--;
    dict_del(d->jobs, j->id);
    job_free(j);
}

void dispatch_destroy(dispatch **dp)
{
    dispatch *d = *dp;
    if (!d)
        return;
    while (d->all_head)
        forget_job(d, d->all_head);
    for (size_t i = 0; i < d->nw; i++)
        free(d->wv[i]);
    free(d->wv);
    dict_destroy(&d->jobs, NULL);
    dict_destroy(&d->by_id, NULL);
    free(d);
    *dp = NULL;
}

/* ---- replies ------------------------------------------------------------------- */

static void send_to_client(dispatch *d, job *j, zmq_msg_t *frame)
{
    if (!j->client_len) { /* the master's own job (a learn job): nobody to answer */
        log_debug("job=%s event=internal_job_closed", j->id);
        zmq_msg_close(frame);
        return;
    }
    if (zmq_send(d->clients, j->client, j->client_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_msg_send(frame, d->clients, ZMQ_DONTWAIT) < 0) {
        log_warn("job=%s event=reply_lost error=\"%s\"", j->id, zmq_strerror(zmq_errno()));
        zmq_msg_close(frame);
    }
}

/* Answers a job tempfail and forgets it. */
static void tempfail(dispatch *d, job *j, const char *reason)
{
    zmq_msg_t m;
    zx_pack_tempfail(j->id, reason, d->master_id, d->config_version, &m);
    send_to_client(d, j, &m);
    log_info("job=%s event=tempfail reason=\"%s\" attempts=%u", j->id, reason, j->attempts);
    d->st.answered++;
    forget_job(d, j);
}

static void tempfail_new(dispatch *d, const void *client, size_t len, const char *id,
                         const char *reason)
{
    job tmp = {0};
    tmp.id = (char *)id;
    memcpy(tmp.client, client, len);
    tmp.client_len = len;
    zmq_msg_t m;
    zx_pack_tempfail(id, reason, d->master_id, 0, &m);
    send_to_client(d, &tmp, &m);
}

/* ---- workers ------------------------------------------------------------------- */

static worker *pick_worker(dispatch *d)
{
    worker *best = NULL;
    for (size_t k = 0; k < d->nw; k++) {
        worker *w = d->wv[(d->rr + k) % d->nw];
        if (w->draining || w->credit == 0)
            continue;
        if (!best || w->credit > best->credit)
            best = w;
    }
    if (best)
        d->rr++;
    return best;
}

/* Sends p to the node behind routing id wid, without waiting. */
static void send_to_node(dispatch *d, const void *wid, size_t len, const packet *p)
{
    if (zx_send_id(d->workers, wid, len) == 0)
        zx_send_packet(d->workers, p, ZMQ_DONTWAIT);
}

static void requeue(dispatch *d, job *j, const char *why)
{
    if (j->w) {
        list_remove(&j->w->jobs, j);
        j->w = NULL;
    } else {
        list_remove(&d->pending, j);
    }
    if (j->attempts >= d->max_attempts) {
        list_push(&d->pending, j, true); /* tempfail() removes it from there */
        tempfail(d, j, "no node could scan the message");
        return;
    }
    d->st.redispatched++;
    log_info("job=%s event=redispatch reason=%s attempts=%u", j->id, why, j->attempts);
    list_push(&d->pending, j, true);
}

/* Sends pending jobs while some node has credit. */
static void pump(dispatch *d)
{
    while (d->pending.head) {
        worker *w = pick_worker(d);
        if (!w)
            return;
        job *j = d->pending.head;
        zmq_msg_t copy;
        zmq_msg_init(&copy);
        zmq_msg_copy(&copy, &j->frame);
        if (zmq_send(d->workers, w->id, w->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_msg_send(&copy, d->workers, ZMQ_DONTWAIT) < 0) {
            /* Unroutable (gone) or full: stop using this node until it speaks again. */
            zmq_msg_close(&copy);
            log_warn("event=node_send_failed node=%s error=\"%s\"", w->node_id,
                     zmq_strerror(zmq_errno()));
            w->credit = 0;
            continue;
        }
        list_remove(&d->pending, j);
        j->w = w;
        j->attempts++;
        j->dispatched_us = mono_us();
        list_push(&w->jobs, j, false);
        w->credit--;
    }
}

static void remove_worker(dispatch *d, worker *w, const char *why)
{
    log_info("event=node_gone node=%s peer=%s reason=%s jobs=%zu", w->node_id, w->peer, why,
             w->jobs.n);
    while (w->jobs.head)
        requeue(d, w->jobs.head, why);
    dict_del(d->by_id, w->key);
    for (size_t i = 0; i < d->nw; i++) {
        if (d->wv[i] == w) {
            d->wv[i] = d->wv[--d->nw];
            break;
        }
    }
    free(w);
}

static void say_bye(dispatch *d, const void *wid, size_t len, const char *reason)
{
    Bulwark__Bye b = BULWARK__BYE__INIT;
    b.reason = (char *)reason;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_BYE;
    p.bye = &b;
    send_to_node(d, wid, len, &p);
}

/* A node speaking another protocol version gets an Error and no jobs; the refusal is
 * logged at most every 10 s (the node says Hello again every heartbeat). */
static void refuse_protocol(dispatch *d, const void *wid, size_t len, const Bulwark__Hello *h,
                            const char *peer)
{
    char text[160];
    snprintf(text, sizeof text, "protocol %u not supported: this master speaks protocol %d",
             h->protocol, BW_PROTOCOL);
    d->st.bad_worker++;
    uint64_t now = mono_us();
    if (!d->protocol_logged_us || now - d->protocol_logged_us > 10000000) {
        d->protocol_logged_us = now;
        log_error("event=node_refused node=%s peer=%s software=\"%s\" reason=\"%s\"",
                  h->node_id ? h->node_id : "?", peer, h->software ? h->software : "", text);
    }
    Bulwark__Error e = BULWARK__ERROR__INIT;
    e.code = 505;
    e.text = text;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_ERROR;
    p.error = &e;
    send_to_node(d, wid, len, &p);
}

static worker *on_hello(dispatch *d, const void *wid, size_t len, const char *key,
                        const Bulwark__Hello *h, const char *peer)
{
    worker *w = dict_get(d->by_id, key);
    if (w) {
        /* The node started a new session on the same connection: what it held before
         * is lost to it. */
        while (w->jobs.head)
            requeue(d, w->jobs.head, "node_rehello");
    } else {
        w = xcalloc(1, sizeof *w);
        memcpy(w->id, wid, len);
        w->id_len = len;
        snprintf(w->key, sizeof w->key, "%s", key);
        dict_set(d->by_id, key, w);
        d->wv = xrealloc(d->wv, (d->nw + 1) * sizeof *d->wv);
        d->wv[d->nw++] = w;
    }
    snprintf(w->node_id, sizeof w->node_id, "%s", h->node_id[0] ? h->node_id : "?");
    snprintf(w->peer, sizeof w->peer, "%s", peer);
    w->capacity = h->capacity > 100000 ? 100000 : h->capacity;
    w->credit = h->credit > w->capacity ? w->capacity : h->credit;
    w->config_version = h->config_version;
    w->draining = false;
    log_info("event=node_joined node=%s peer=%s capacity=%u credit=%u config_version=%llu",
             w->node_id, peer, w->capacity, w->credit, (unsigned long long)w->config_version);
    return w;
}

static void give_credit(worker *w, uint32_t n)
{
    uint64_t c = (uint64_t)w->credit + n;
    w->credit = c > w->capacity ? w->capacity : (uint32_t)c;
}

static void on_result(dispatch *d, worker *w, zmq_msg_t *frame, const Bulwark__ScanResult *r)
{
    give_credit(w, 1);
    job *j = r->job_id ? dict_get(d->jobs, r->job_id) : NULL;
    if (!j) {
        d->st.dropped_results++;
        log_debug("job=%s event=result_dropped node=%s reason=not_open", r->job_id, w->node_id);
        return;
    }
    zmq_msg_t out;
    zmq_msg_init(&out);
    zmq_msg_move(&out, frame);
    if (j->record && d->record_fn) {
        zmq_msg_t jf;
        zmq_msg_init(&jf);
        zmq_msg_move(&jf, &j->frame);
        d->record_fn(d->record_arg, j->client, j->client_len, &jf, &out, j->id);
        d->st.to_recorder++;
    } else {
        send_to_client(d, j, &out);
    }
    d->st.answered++;
    log_debug("job=%s event=answered node=%s action=%d", j->id, w->node_id, r->action);
    forget_job(d, j);
}

void dispatch_worker(dispatch *d, const void *wid, size_t wid_len, zmq_msg_t *frame,
                     const packet *p, const char *peer)
{
    char key[513];
    zx_hex(wid, wid_len > 256 ? 256 : wid_len, key);
    if (p->body_case == BULWARK__PACKET__BODY_HELLO && p->hello->protocol != BW_PROTOCOL) {
        refuse_protocol(d, wid, wid_len, p->hello, peer);
        return;
    }
    if (p->body_case == BULWARK__PACKET__BODY_HELLO) {
        on_hello(d, wid, wid_len, key, p->hello, peer)->last_seen_us = mono_us();
        pump(d);
        return;
    }
    worker *w = dict_get(d->by_id, key);
    if (!w) {
        /* After a master restart nodes are unknown: ask them to introduce themselves. */
        if (p->body_case != BULWARK__PACKET__BODY_BYE)
            say_bye(d, wid, wid_len, "unknown node: send Hello");
        return;
    }
    w->last_seen_us = mono_us();
    switch (p->body_case) {
    case BULWARK__PACKET__BODY_HEARTBEAT:
        w->node_load = p->heartbeat->load;
        w->config_version = p->heartbeat->config_version;
        w->jobs_done = p->heartbeat->jobs_done;
        w->load_avg = p->heartbeat->load_avg;
        break;
    case BULWARK__PACKET__BODY_RESULT: on_result(d, w, frame, p->result); break;
    case BULWARK__PACKET__BODY_CREDIT: give_credit(w, p->credit->credit); break;
    case BULWARK__PACKET__BODY_BYE:
        if (p->bye->final) {
            remove_worker(d, w, "node_bye");
            break;
        }
        if (!p->bye->stay) {
            w->draining = true;
            log_info("event=node_draining node=%s handback=%zu", w->node_id, p->bye->n_handback);
        }
        for (size_t i = 0; i < p->bye->n_handback; i++) {
            job *j = dict_get(d->jobs, p->bye->handback[i]);
            if (j && j->w == w) {
                give_credit(w, 1);
                j->attempts--; /* never scanned: not an attempt */
                requeue(d, j, "handback");
            }
        }
        break;
    default:
        d->st.bad_worker++;
        log_warn("event=bad_frame socket=worker node=%s reason=\"unexpected packet type %d\"",
                 w->node_id, p->body_case);
        break;
    }
    pump(d);
}

/* ---- clients ------------------------------------------------------------------- */

void dispatch_job(dispatch *d, const void *client, size_t client_len, zmq_msg_t *frame,
                  const Bulwark__ScanJob *sj)
{
    uint64_t now = mono_us();
    d->st.received++;
    if (client_len > 256 || !sj->job_id || !*sj->job_id || strlen(sj->job_id) > 200) {
        d->st.bad_client++;
        log_warn("event=bad_frame socket=client reason=\"job without a valid job_id\"");
        zmq_msg_close(frame);
        return;
    }
    job *j = dict_get(d->jobs, sj->job_id);
    if (j) {
        /* A client retrying a job still open: answer the latest connection, once. */
        memcpy(j->client, client, client_len);
        j->client_len = client_len;
        zmq_msg_close(frame);
        log_info("job=%s event=duplicate_submit", sj->job_id);
        return;
    }
    if (!d->accepting || d->nall >= d->queue_max) {
        d->st.rejected_full++;
        zmq_msg_close(frame);
        tempfail_new(d, client, client_len, sj->job_id,
                     d->accepting ? "cluster overloaded" : "master shutting down");
        return;
    }
    j = xcalloc(1, sizeof *j);
    j->id = xstrdup(sj->job_id);
    j->record = sj->record;
    memcpy(j->client, client, client_len);
    j->client_len = client_len;
    zmq_msg_init(&j->frame);
    zmq_msg_move(&j->frame, frame);
    j->received_us = now;
    /* The deadline is wall-clock from the client; convert to our monotonic clock. */
    uint64_t wall = now_ms();
    int64_t left_ms = sj->deadline_ms ? (int64_t)(sj->deadline_ms - wall) : 60000;
    if (left_ms < 0)
        left_ms = 0;
    if (left_ms > d->deadline_max_ms)
        left_ms = d->deadline_max_ms;
    j->deadline_us = now + (uint64_t)left_ms * 1000;
    dict_set(d->jobs, j->id, j);
    j->aprev = d->all_tail;
    if (d->all_tail)
        d->all_tail->anext = j;
    else
        d->all_head = j;
    d->all_tail = j;
    d->nall++;
    list_push(&d->pending, j, false);
    pump(d);
}

/* ---- timers -------------------------------------------------------------------- */

int dispatch_next_tick_ms(const dispatch *d)
{
    uint64_t now = mono_us(), next = d->next_hb_us;
    if (d->next_walk_us < next)
        next = d->next_walk_us;
    return next <= now ? 0 : (int)((next - now + 999) / 1000);
}

void dispatch_tick(dispatch *d)
{
    uint64_t now = mono_us();
    if (now >= d->next_hb_us) {
        d->next_hb_us = now + d->hb_us;
        Bulwark__Heartbeat hb = BULWARK__HEARTBEAT__INIT;
        hb.config_version = d->config_version;
        packet p = BULWARK__PACKET__INIT;
        p.body_case = BULWARK__PACKET__BODY_HEARTBEAT;
        p.heartbeat = &hb;
        for (size_t i = 0; i < d->nw;) {
            worker *w = d->wv[i];
            if (now - w->last_seen_us > d->hb_us * (uint64_t)d->liveness) {
                remove_worker(d, w, "heartbeat_timeout"); /* wv[i] now holds another */
                continue;
            }
            send_to_node(d, w->id, w->id_len, &p);
            i++;
        }
    }
    if (now < d->next_walk_us)
        return;
    d->next_walk_us = now + 100000;
    for (job *j = d->all_head, *next; j; j = next) {
        next = j->anext;
        if (now >= j->deadline_us) {
            d->st.expired++;
            tempfail(d, j, "scan deadline expired");
        } else if (j->w && now - j->dispatched_us > d->attempt_us) {
            /* The node is alive but sits on the job: try another one. The first node
             * keeps the credit until it answers. */
            requeue(d, j, "attempt_timeout");
        }
    }
    pump(d);
}

/* ---- control ------------------------------------------------------------------- */

void dispatch_set_config_version(dispatch *d, uint64_t v)
{
    d->config_version = v;
    d->next_hb_us = 0; /* tell nodes now */
}

void dispatch_set_recorder(dispatch *d, dispatch_record_fn fn, void *arg)
{
    d->record_fn = fn;
    d->record_arg = arg;
}

void dispatch_stop_accepting(dispatch *d)
{
    d->accepting = false;
}

void dispatch_fail_all(dispatch *d, const char *reason)
{
    while (d->all_head)
        tempfail(d, d->all_head, reason);
}

size_t dispatch_open_jobs(const dispatch *d)
{
    return d->nall;
}

size_t dispatch_node_count(const dispatch *d)
{
    return d->nw;
}

const dispatch_stats *dispatch_get_stats(const dispatch *d)
{
    return &d->st;
}

dispatch_stats *dispatch_stats_mut(dispatch *d)
{
    return &d->st;
}

void dispatch_status(const dispatch *d, Bulwark__StatusReply *r)
{
    uint64_t now = mono_us();
    r->queue_depth = (uint32_t)d->pending.n;
    r->in_flight = (uint32_t)(d->nall - d->pending.n);
    r->jobs_received = d->st.received;
    r->jobs_answered = d->st.answered;
    r->jobs_redispatched = d->st.redispatched;
    r->jobs_expired = d->st.expired;
    r->results_dropped = d->st.dropped_results;
    r->bad_frames_client = d->st.bad_client;
    r->bad_frames_worker = d->st.bad_worker;
    r->n_nodes = d->nw;
    r->nodes = xcalloc(d->nw ? d->nw : 1, sizeof *r->nodes);
    for (size_t i = 0; i < d->nw; i++) {
        const worker *w = d->wv[i];
        Bulwark__NodeStatus *n = xmalloc(sizeof *n);
        bulwark__node_status__init(n);
        n->node_id = xstrdup(w->node_id);
        n->peer = xstrdup(w->peer);
        n->capacity = w->capacity;
        n->load = (uint32_t)w->jobs.n;
        n->credit = w->credit;
        n->config_version = w->config_version;
        n->jobs_done = w->jobs_done;
        n->last_seen_ms = (uint32_t)((now - w->last_seen_us) / 1000);
        n->load_avg = w->load_avg;
        r->nodes[i] = n;
    }
}

void dispatch_status_free(Bulwark__StatusReply *r)
{
    for (size_t i = 0; i < r->n_nodes; i++) {
        free(r->nodes[i]->node_id);
        free(r->nodes[i]->peer);
        free(r->nodes[i]);
    }
    free(r->nodes);
    r->nodes = NULL;
    r->n_nodes = 0;
}
