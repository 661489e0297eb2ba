/* main.c - bulwark-master: the cluster's dispatcher, config owner and bus.
 *
 * One thread, one poll loop over: the ZAP handler (who may connect), the client
 * ROUTER (scan jobs, status and config requests from milters and bulwarkctl), the
 * worker ROUTER (nodes), the snapshot ROUTER (nodes asking for the current config)
 * and a signalfd. Config versions live in MariaDB (store.c); each new version is
 * published on the PUB socket (the ZeroMQ guide's Clone pattern: PUB for updates,
 * ROUTER for snapshots, heartbeats carrying the newest version so a node that
 * missed an update notices). The database is reached only from two threads of its
 * own: confdb.c (configuration, log and quarantine requests, aging) and recorder.c
 * (the verdicts of record jobs, committed before their answer is sent), so scan
 * traffic without `record` never waits for MariaDB, even when it hangs. */
#include "confdb.h"
#include "daemon.h"
#include "dispatch.h"
#include "keys.h"
#include "log.h"
#include "params.h"
#include "recorder.h"
#include "util.h"
#include "zap.h"
#include "zmqx.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 512

typedef struct {
    uint64_t version;
    params *p;
    char *author, *comment;
    uint64_t created_ms;
} config_gen;

typedef struct {
    params *cfg;
    char master_id[128];
    void *ctx, *clients, *workers, *pub, *snap;
    zap *zap;
    dispatch *d;
    confdb *db;
    recorder *rec;
    uint64_t maint_us, next_maint_us;
    uint64_t next_learn_us; /* next look for released entries to learn as ham */
    bool learn_claim_out; /* a CONFDB_LEARN_CLAIM is with the database thread */
    config_gen conf; /* version 0 until loaded from the database */
    uint64_t started_ms;
    bool stopping;
    uint64_t stop_deadline_us;
} master;

/* ---- configuration versions ------------------------------------------------------ */

static void conf_clear(config_gen *c)
{
    params_destroy(&c->p);
    free(c->author);
    free(c->comment);
    memset(c, 0, sizeof *c);
}

static void send_reply(void *sock, const void *id, size_t idlen, zmq_msg_t *body)
{
    if (zx_send_id(sock, id, idlen) != 0 || zmq_msg_send(body, sock, ZMQ_DONTWAIT) < 0) {
        log_warn("event=reply_lost error=\"%s\"", zmq_strerror(zmq_errno()));
        zmq_msg_close(body);
    }
}

static void send_error(void *sock, const void *id, size_t idlen, uint32_t code, const char *text)
{
    zmq_msg_t m;
    conf_pack_error(code, text, &m);
    send_reply(sock, id, idlen, &m);
}

/* Sends the current generation as a snapshot: to one peer, or published (id NULL). */
static void send_snapshot(master *m, void *sock, const void *id, size_t idlen)
{
    zmq_msg_t body;
    conf_pack_snapshot(m->conf.version, m->conf.author, m->conf.comment, m->conf.created_ms,
                       m->conf.p, &body);
    if (id) {
        send_reply(sock, id, idlen, &body);
        return;
    }
    if (zmq_send(sock, "config", 6, ZMQ_SNDMORE) < 0 || zmq_msg_send(&body, sock, ZMQ_DONTWAIT) < 0)
        zmq_msg_close(&body);
}

/* Makes `v` the current generation and tells everyone. */
static bool conf_install(master *m, const store_version *v)
{
    char err[512];
    if (v->version <= m->conf.version)
        return false;
    params *p = conf_parse(v, err, sizeof err);
    if (!p) {
        log_error("event=config_invalid version=%llu error=\"%s\"", (unsigned long long)v->version,
                  err);
        return false;
    }
    conf_clear(&m->conf);
    m->conf.version = v->version;
    m->conf.p = p;
    m->conf.author = xstrdup(v->author ? v->author : "");
    m->conf.comment = xstrdup(v->comment ? v->comment : "");
    m->conf.created_ms = v->created_ms;
    dispatch_set_config_version(m->d, v->version);
    send_snapshot(m, m->pub, NULL, 0);
    log_info("event=config_active version=%llu author=\"%s\"", (unsigned long long)v->version,
             m->conf.author);
    return true;
}

/* Hands a job to the database thread, or answers 451 when too many wait. */
static void submit_db(master *m, confdb_job *j)
{
    if (!confdb_submit(m->db, j)) {
        send_error(j->reply_sock, j->id, j->idlen, 451, "configuration database busy");
        confdb_job_free(&j);
    }
}

/* Hands a request to the database thread; `p` is taken over. */
static void to_db(master *m, confdb_kind kind, void *sock, const void *id, size_t idlen,
                  const char *peer, packet **p)
{
    confdb_job *j = confdb_job_new(kind, sock, id, idlen, peer, *p);
    *p = NULL;
    submit_db(m, j);
}

/* ---- learning released messages as ham ------------------------------------------ */

/* Learn jobs are the master's own: dispatched like a client's job but with no client
 * (an empty routing id) and `record` set, so the node's answer comes to on_record,
 * which hands it to learn_answered. A job lost with a node or past its deadline just
 * stays pending in the database and is claimed again after its backoff. */
#define LEARN_BATCH 16
#define LEARN_INTERVAL_US 2000000
#define LEARN_DEADLINE_MS 60000

static void learn_dispatch(master *m, records_learn_item *it)
{
    char id[256];
    if (strlen(it->id) > 190) {
        log_warn("job=%.190s event=learn_skipped reason=\"id too long\"", it->id);
        return;
    }
    snprintf(id, sizeof id, "%s:learn-ham", it->id);
    Bulwark__Envelope env = BULWARK__ENVELOPE__INIT;
    Bulwark__ScanJob job = BULWARK__SCAN_JOB__INIT;
    job.job_id = id;
    job.envelope = &env;
    job.message.data = (uint8_t *)it->msg;
    job.message.len = it->len;
    job.submitted_ms = now_ms();
    job.deadline_ms = job.submitted_ms + LEARN_DEADLINE_MS;
    job.record = true;
    job.learn = BULWARK__LEARN_AS__LEARN_HAM;
    job.learn_scope = "";
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_JOB;
    p.job = &job;
    zmq_msg_t frame;
    zx_pack(&p, &frame);
    log_info("job=%s event=learn_dispatched as=ham", it->id);
    dispatch_job(m->d, "", 0, &frame, &job);
}

/* Every LEARN_INTERVAL while nodes are connected: ask the database for released
 * entries due to be learned. */
static void learn_sweep(master *m)
{
    uint64_t now = mono_us();
    if (now < m->next_learn_us || m->learn_claim_out || m->stopping || !m->conf.p ||
        dispatch_node_count(m->d) == 0)
        return;
    m->next_learn_us = now + LEARN_INTERVAL_US;
    confdb_job *j = confdb_job_new(CONFDB_LEARN_CLAIM, NULL, "", 0, "bulwark-master", NULL);
    j->learn_max = LEARN_BATCH;
    if (confdb_submit(m->db, j))
        m->learn_claim_out = true;
    else
        confdb_job_free(&j);
}

/* A node's answer to one of our learn jobs (both frames taken over). */
static void learn_answered(master *m, zmq_msg_t *job, zmq_msg_t *result, const char *job_id)
{
    packet *p = zx_decode(zmq_msg_data(result), zmq_msg_size(result));
    zmq_msg_close(job);
    zmq_msg_close(result);
    const Bulwark__ScanResult *r =
        p && p->body_case == BULWARK__PACKET__BODY_RESULT ? p->result : NULL;
    const char *detail = NULL;
    for (size_t i = 0; r && i < r->n_symbols; i++)
        if (r->symbols[i]->name && strcmp(r->symbols[i]->name, "LEARNED_HAM") == 0)
            detail = r->symbols[i]->detail;
    size_t idlen = strlen(job_id);
    const char *suffix = ":learn-ham";
    bool learned = r && r->action == BULWARK__ACTION__ACTION_PASS && detail;
    bool refused = r && r->action == BULWARK__ACTION__ACTION_REJECT; /* can never work */
    if (idlen > strlen(suffix) && (learned || refused)) {
        confdb_job *j = confdb_job_new(CONFDB_LEARN_DONE, NULL, "", 0, "bulwark-master", NULL);
        j->learn_id = xstrndup(job_id, idlen - strlen(suffix));
        j->learn_ok = learned;
        j->learn_reply =
            xasprintf("%s (node %s)", learned ? detail : r->reason, r->node_id ? r->node_id : "?");
        log_info("job=%s event=%s node=%s detail=\"%s\"", j->learn_id,
                 learned ? "learned" : "learn_refused", r->node_id ? r->node_id : "?",
                 j->learn_reply);
        if (!confdb_submit(m->db, j)) {
            log_warn("job=%s event=learn_mark_skipped reason=\"database thread busy\"",
                     j->learn_id);
            confdb_job_free(&j);
        }
    } else {
        log_warn("job=%s event=learn_retry_later reason=\"%s\"", job_id,
                 r && r->reason ? r->reason : "no usable answer");
    }
    zx_packet_free(&p);
}

/* A job back from the database thread: install what it found, send what it answered. */
static void db_input(master *m)
{
    confdb_job *j;
    while ((j = confdb_recv(m->db))) {
        if (j->kind == CONFDB_LEARN_CLAIM) {
            m->learn_claim_out = false;
            for (size_t i = 0; i < j->n_learn_items; i++)
                learn_dispatch(m, &j->learn_items[i]);
        }
        if (j->installed)
            conf_install(m, j->installed);
        if (j->has_reply) {
            send_reply(j->reply_sock, j->id, j->idlen, &j->reply);
            j->has_reply = false;
        }
        confdb_job_free(&j);
    }
}

/* ---- message log and quarantine ------------------------------------------------------ */

/* The dispatcher's hook for a record job's first result: record, then answer. */
static void on_record(void *arg, const void *client, size_t client_len, zmq_msg_t *job,
                      zmq_msg_t *result, const char *job_id)
{
    master *m = arg;
    if (client_len == 0) { /* our own learn job */
        learn_answered(m, job, result, job_id);
        return;
    }
    recorder_item *it = recorder_item_new(client, client_len, job, result, job_id);
    if (recorder_submit(m->rec, it))
        return;
    log_warn("job=%s event=tempfail reason=\"recorder busy\"", job_id);
    zmq_msg_t r;
    zx_pack_tempfail(job_id, "recorder busy", m->master_id, 0, &r);
    send_reply(m->clients, client, client_len, &r);
    recorder_item_free(&it);
}

/* Items back from the recorder: send each its reply. */
static void rec_input(master *m)
{
    recorder_item *it;
    while ((it = recorder_recv(m->rec))) {
        send_reply(m->clients, it->client, it->client_len, &it->reply);
        zmq_msg_init(&it->reply);
        recorder_item_free(&it);
    }
}

/* Every maintenance_interval: age the log and the quarantine (current retention). */
static void maintenance(master *m)
{
    uint64_t now = mono_us();
    if (now < m->next_maint_us || !m->conf.p)
        return;
    m->next_maint_us = now + m->maint_us;
    confdb_job *j = confdb_job_new(CONFDB_AGING, NULL, "", 0, "bulwark-master", NULL);
    j->log_days = (unsigned)params_int(m->conf.p, "log.retention_days");
    j->quarantine_days = (unsigned)params_int(m->conf.p, "quarantine.retention_days");
    j->dmarc_days = (unsigned)params_int(m->conf.p, "dmarc.report.retention_days");
    if (!confdb_submit(m->db, j)) {
        log_warn("event=aging_skipped reason=\"database thread busy\"");
        confdb_job_free(&j);
    }
}

/* Config set, release and delete need the admin role; false (and a 403 sent) without it. */
static bool need_admin(master *m, const void *id, size_t idlen, const char *peer, const char *what,
                       const char *event)
{
    if (!m->zap || (zap_roles(m->zap, peer) & ROLE_ADMIN))
        return true;
    char why[200];
    snprintf(why, sizeof why, "key %s may not %s (needs role admin)", peer, what);
    log_warn("event=%s peer=%s reason=\"no admin role\"", event, peer);
    send_error(m->clients, id, idlen, 403, why);
    return false;
}

static void on_release(master *m, const void *id, size_t idlen, packet **p, const char *peer)
{
    if (!need_admin(m, id, idlen, peer, "release quarantined messages",
                    "quarantine_release_refused"))
        return;
    if (!m->conf.p) {
        send_error(m->clients, id, idlen, 451,
                   "configuration not loaded yet (database unavailable)");
        return;
    }
    confdb_job *j = confdb_job_new(CONFDB_QUARANTINE_RELEASE, m->clients, id, idlen, peer, *p);
    *p = NULL;
    j->relay = xstrdup(params_str(m->conf.p, "quarantine.release_relay"));
    j->learn = params_bool(m->conf.p, "quarantine.learn_on_release");
    submit_db(m, j);
}

/* Building reports reads the database (any client); mailing them needs role admin. */
static void on_dmarc_report(master *m, const void *id, size_t idlen, packet **p, const char *peer)
{
    if ((*p)->dmarc_report->send &&
        !need_admin(m, id, idlen, peer, "send DMARC reports", "dmarc_report_refused"))
        return;
    if (!m->conf.p) {
        send_error(m->clients, id, idlen, 451,
                   "configuration not loaded yet (database unavailable)");
        return;
    }
    confdb_job *j = confdb_job_new(CONFDB_DMARC_REPORT, m->clients, id, idlen, peer, *p);
    *p = NULL;
    j->dmarc_org = xstrdup(params_str(m->conf.p, "dmarc.report.org_name"));
    j->dmarc_email = xstrdup(params_str(m->conf.p, "dmarc.report.email"));
    j->dmarc_extra = xstrdup(params_str(m->conf.p, "dmarc.report.extra_contact_info"));
    j->dmarc_relay = xstrdup(params_str(m->conf.p, "dmarc.report.relay"));
    submit_db(m, j);
}

static void on_config_get(master *m, void *sock, const void *id, size_t idlen, packet **p,
                          const char *peer)
{
    const Bulwark__ConfigGet *g = (*p)->config_get;
    if (!g->version || g->version == m->conf.version) {
        if (m->conf.p)
            send_snapshot(m, sock, id, idlen);
        else
            send_error(sock, id, idlen, 451, "configuration not loaded yet (database unavailable)");
        return;
    }
    to_db(m, CONFDB_GET, sock, id, idlen, peer, p);
}

static void on_status(master *m, const void *id, size_t idlen)
{
    Bulwark__StatusReply r = BULWARK__STATUS_REPLY__INIT;
    r.master_id = m->master_id;
    r.config_version = m->conf.version;
    r.uptime_ms = now_ms() - m->started_ms;
    r.zap_refused = m->zap ? zap_refused(m->zap) : 0;
    r.db_connected = confdb_connected(m->db);
    dispatch_status(m->d, &r);
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_STATUS_REPLY;
    p.status_reply = &r;
    zmq_msg_t body;
    zx_pack(&p, &body);
    send_reply(m->clients, id, idlen, &body);
    dispatch_status_free(&r);
}

/* ---- socket input --------------------------------------------------------------- */

/* Reads [id][payload]; false when nothing is waiting. *ok is false for a message of
 * the wrong shape (already drained). */
static bool recv_routed(void *sock, zmq_msg_t *id, zmq_msg_t *body, bool *ok)
{
    zmq_msg_init(id);
    zmq_msg_init(body);
    if (zmq_msg_recv(id, sock, ZMQ_DONTWAIT) < 0)
        return false;
    *ok = false;
    if (!zmq_msg_more(id))
        return true;
    if (zmq_msg_recv(body, sock, 0) < 0)
        return true;
    if (zmq_msg_more(body)) {
        zx_drain(sock);
        return true;
    }
    *ok = true;
    return true;
}

static const char *peer_of(zmq_msg_t *m)
{
    const char *u = zmq_msg_gets(m, "User-Id");
    return u && *u ? u : "anonymous";
}

static void client_input(master *m)
{
    for (int n = 0; n < BATCH; n++) {
        zmq_msg_t id, body;
        bool ok;
        if (!recv_routed(m->clients, &id, &body, &ok))
            break;
        packet *p = ok ? zx_decode(zmq_msg_data(&body), zmq_msg_size(&body)) : NULL;
        const void *cid = zmq_msg_data(&id);
        size_t clen = zmq_msg_size(&id);
        if (!p) {
            dispatch_stats_mut(m->d)->bad_client++;
            log_warn("event=bad_frame socket=client peer=%s size=%zu reason=\"%s\"", peer_of(&id),
                     zmq_msg_size(&body), ok ? "not a Packet" : "wrong frame count");
        } else {
            switch (p->body_case) {
            case BULWARK__PACKET__BODY_JOB: dispatch_job(m->d, cid, clen, &body, p->job); break;
            case BULWARK__PACKET__BODY_STATUS: on_status(m, cid, clen); break;
            case BULWARK__PACKET__BODY_CONFIG_GET:
                on_config_get(m, m->clients, cid, clen, &p, peer_of(&body));
                break;
            case BULWARK__PACKET__BODY_CONFIG_SET:
                if (need_admin(m, cid, clen, peer_of(&body), "change the configuration",
                               "config_set_refused"))
                    to_db(m, CONFDB_SET, m->clients, cid, clen, peer_of(&body), &p);
                break;
            case BULWARK__PACKET__BODY_LOG_SEARCH:
                to_db(m, CONFDB_LOG_SEARCH, m->clients, cid, clen, peer_of(&body), &p);
                break;
            case BULWARK__PACKET__BODY_QUARANTINE_LIST:
                to_db(m, CONFDB_QUARANTINE_LIST, m->clients, cid, clen, peer_of(&body), &p);
                break;
            case BULWARK__PACKET__BODY_QUARANTINE_SHOW:
                to_db(m, CONFDB_QUARANTINE_SHOW, m->clients, cid, clen, peer_of(&body), &p);
                break;
            case BULWARK__PACKET__BODY_QUARANTINE_RELEASE:
                on_release(m, cid, clen, &p, peer_of(&body));
                break;
            case BULWARK__PACKET__BODY_QUARANTINE_DELETE:
                if (need_admin(m, cid, clen, peer_of(&body), "delete quarantined messages",
                               "quarantine_delete_refused"))
                    to_db(m, CONFDB_QUARANTINE_DELETE, m->clients, cid, clen, peer_of(&body), &p);
                break;
            case BULWARK__PACKET__BODY_DMARC_REPORT:
                on_dmarc_report(m, cid, clen, &p, peer_of(&body));
                break;
            case BULWARK__PACKET__BODY_CONFIG_HISTORY:
                to_db(m, CONFDB_HISTORY, m->clients, cid, clen, peer_of(&body), &p);
                break;
            default:
                dispatch_stats_mut(m->d)->bad_client++;
                log_warn(
                    "event=bad_frame socket=client peer=%s reason=\"unexpected packet type %d\"",
                    peer_of(&body), p->body_case);
                send_error(m->clients, cid, clen, 400, "unexpected request");
            }
        }
        zx_packet_free(&p);
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
}

static void worker_input(master *m)
{
    for (int n = 0; n < BATCH; n++) {
        zmq_msg_t id, body;
        bool ok;
        if (!recv_routed(m->workers, &id, &body, &ok))
            break;
        packet *p = ok ? zx_decode(zmq_msg_data(&body), zmq_msg_size(&body)) : NULL;
        if (!p) {
            dispatch_stats_mut(m->d)->bad_worker++;
            log_warn("event=bad_frame socket=worker peer=%s size=%zu reason=\"%s\"", peer_of(&id),
                     zmq_msg_size(&body), ok ? "not a Packet" : "wrong frame count");
        } else {
            dispatch_worker(m->d, zmq_msg_data(&id), zmq_msg_size(&id), &body, p, peer_of(&body));
        }
        zx_packet_free(&p);
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
}

static void snapshot_input(master *m)
{
    for (int n = 0; n < BATCH; n++) {
        zmq_msg_t id, body;
        bool ok;
        if (!recv_routed(m->snap, &id, &body, &ok))
            break;
        packet *p = ok ? zx_decode(zmq_msg_data(&body), zmq_msg_size(&body)) : NULL;
        if (p && p->body_case == BULWARK__PACKET__BODY_CONFIG_GET) {
            on_config_get(m, m->snap, zmq_msg_data(&id), zmq_msg_size(&id), &p, peer_of(&body));
        } else {
            dispatch_stats_mut(m->d)->bad_worker++;
            log_warn("event=bad_frame socket=snapshot peer=%s", peer_of(&id));
        }
        zx_packet_free(&p);
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
}

/* ---- setup and loop -------------------------------------------------------------- */

/* Binds the socket of `param` (client_endpoint, ...): its ZAP domain is the part of
 * the name before '_', which the ZAP handler checks against the key's roles. */
static void *bind_socket(master *m, int type, const char *param, const curve_key *key)
{
    void *s = zx_socket(m->ctx, type, params_int(m->cfg, "max_frame_size"));
    char domain[16];
    snprintf(domain, sizeof domain, "%.*s", (int)strcspn(param, "_"), param);
    if (key)
        zx_curve_server(s, key, domain);
    if (type == ZMQ_ROUTER) {
        int one = 1;
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    }
    const char *ep = params_str(m->cfg, param);
    if (zmq_bind(s, ep) != 0)
        log_fatal("event=bind %s=%s error=\"%s\"", param, ep, zmq_strerror(zmq_errno()));
    log_info("event=listening %s=%s curve=%s", param, ep, key ? "on" : "off");
    return s;
}

int main(int argc, char **argv)
{
    master m = {0};
    char err[1024];
    bool check_only;
    m.cfg = daemon_config(argc, argv, "bulwark-master", &params_master, "/etc/bulwark/master.conf",
                          &check_only);
    daemon_name(m.cfg, "master_id", m.master_id, sizeof m.master_id);

    bool curve = params_bool(m.cfg, "curve_enable");
    curve_key key;
    if (curve) {
        if (!key_load_secret(params_str(m.cfg, "curve_secret_key"), &key, err, sizeof err))
            log_fatal("event=config error=\"%s\"", err);
        allowlist *al = allowlist_load(params_str(m.cfg, "curve_allow"), err, sizeof err);
        if (!al)
            log_fatal("event=config error=\"%s\"", err);
        allowlist_destroy(&al);
    }
    if (check_only) {
        printf("bulwark-master: configuration OK\n");
        params_destroy(&m.cfg);
        return 0;
    }

    int sigfd = daemon_signalfd();
    m.ctx = zmq_ctx_new();
    zmq_ctx_set(m.ctx, ZMQ_IO_THREADS, (int)params_int(m.cfg, "io_threads"));
    if (curve)
        m.zap = zap_new(m.ctx, params_str(m.cfg, "curve_allow"));
    const curve_key *k = curve ? &key : NULL;
    m.clients = bind_socket(&m, ZMQ_ROUTER, "client_endpoint", k);
    m.workers = bind_socket(&m, ZMQ_ROUTER, "worker_endpoint", k);
    m.pub = bind_socket(&m, ZMQ_PUB, "publish_endpoint", k);
    m.snap = bind_socket(&m, ZMQ_ROUTER, "snapshot_endpoint", k);
    daemon_drop_privileges(params_str(m.cfg, "user"));
    m.d = dispatch_new(m.clients, m.workers, m.cfg, m.master_id);
    store_library_init();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        log_fatal("event=curl_global_init error=\"failed\"");
    m.db = confdb_new(m.ctx, m.cfg);
    m.rec = recorder_new(m.ctx, m.cfg, m.master_id);
    dispatch_set_recorder(m.d, on_record, &m);
    m.maint_us = (uint64_t)params_int(m.cfg, "maintenance_interval") * 1000;
    m.next_maint_us = mono_us() + m.maint_us;
    m.started_ms = now_ms();

    daemon_notify("READY=1\nSTATUS=dispatching");
    log_info("event=started master_id=%s version=%s curve=%s", m.master_id, BULWARK_VERSION,
             curve ? "on" : "off");
    uint64_t wd_us = daemon_watchdog_us(), next_wd = 0, next_status = 0;

    for (;;) {
        zmq_pollitem_t items[] = {
            {m.clients, 0, ZMQ_POLLIN, 0},
            {m.workers, 0, ZMQ_POLLIN, 0},
            {m.snap, 0, ZMQ_POLLIN, 0},
            {NULL, sigfd, ZMQ_POLLIN, 0},
            {confdb_socket(m.db), 0, ZMQ_POLLIN, 0},
            {recorder_socket(m.rec), 0, ZMQ_POLLIN, 0},
            {m.zap ? zap_socket(m.zap) : NULL, m.zap ? 0 : -1, ZMQ_POLLIN, 0},
        };
        int nitems = m.zap ? 7 : 6;
        int timeout = dispatch_next_tick_ms(m.d);
        if (timeout > 100)
            timeout = 100;
        if (zmq_poll(items, nitems, timeout) < 0 && zmq_errno() != EINTR)
            log_fatal("event=poll error=\"%s\"", zmq_strerror(zmq_errno()));
        if (m.zap && (items[6].revents & ZMQ_POLLIN))
            zap_handle(m.zap);
        if (items[4].revents & ZMQ_POLLIN)
            db_input(&m);
        if (items[5].revents & ZMQ_POLLIN)
            rec_input(&m);
        if (items[1].revents & ZMQ_POLLIN)
            worker_input(&m);
        if (items[0].revents & ZMQ_POLLIN)
            client_input(&m);
        if (items[2].revents & ZMQ_POLLIN)
            snapshot_input(&m);
        if (items[3].revents & ZMQ_POLLIN) {
            int sig;
            while ((sig = daemon_read_signal(sigfd)) != 0) {
                if (sig == SIGHUP) {
                    if (m.zap && !zap_reload(m.zap, err, sizeof err))
                        log_error("event=allowlist_reload_failed error=\"%s\"", err);
                } else if (!m.stopping) {
                    m.stopping = true;
                    m.stop_deadline_us =
                        mono_us() + (uint64_t)params_int(m.cfg, "shutdown_grace") * 1000;
                    dispatch_stop_accepting(m.d);
                    daemon_notify("STOPPING=1");
                    log_info("event=stopping signal=%d open_jobs=%zu", sig,
                             dispatch_open_jobs(m.d));
                }
            }
        }
        dispatch_tick(m.d);
        maintenance(&m);
        learn_sweep(&m);
        uint64_t now = mono_us();
        if (wd_us && now >= next_wd) {
            daemon_notify("WATCHDOG=1");
            next_wd = now + wd_us / 2;
        }
        if (now >= next_status) {
            next_status = now + 5000000;
            daemon_notify("STATUS=nodes=%zu open_jobs=%zu config_version=%llu",
                          dispatch_node_count(m.d), dispatch_open_jobs(m.d),
                          (unsigned long long)m.conf.version);
        }
        if (m.stopping && ((dispatch_open_jobs(m.d) == 0 && recorder_pending(m.rec) == 0) ||
                           now >= m.stop_deadline_us))
            break;
    }
    dispatch_fail_all(m.d, "master shutting down");
    recorder_stop(m.rec); /* what it holds is recorded (or fails) and answered now */
    rec_input(&m);
    recorder_destroy(&m.rec);
    const dispatch_stats *s = dispatch_get_stats(m.d);
    log_info("event=stopped received=%llu answered=%llu redispatched=%llu expired=%llu",
             (unsigned long long)s->received, (unsigned long long)s->answered,
             (unsigned long long)s->redispatched, (unsigned long long)s->expired);
    dispatch_destroy(&m.d);
    confdb_destroy(&m.db);
    conf_clear(&m.conf);
    zmq_close(m.clients);
    zmq_close(m.workers);
    zmq_close(m.pub);
    zmq_close(m.snap);
    zap_destroy(&m.zap);
    zmq_ctx_term(m.ctx);
    params_destroy(&m.cfg);
    close(sigfd);
    curl_global_cleanup();
    store_library_end();
    return 0;
}
