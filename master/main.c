/* main.c - bulwark-master: the cluster's dispatcher, config owner and bus.
 *
 * One thread, one poll loop over: the ZAP handler (who may connect), the client
 * ROUTER (scan jobs, status and config requests from milters and bulwarkctl), the
 * worker ROUTER (nodes), the snapshot ROUTER (nodes asking for the current config)
 * and a signalfd. Config versions live in MariaDB (store.c); each new version is
 * published on the PUB socket (the ZeroMQ guide's Clone pattern: PUB for updates,
 * ROUTER for snapshots, heartbeats carrying the newest version so a node that
 * missed an update notices). Scan traffic never waits for the database. */
#include "daemon.h"
#include "dispatch.h"
#include "keys.h"
#include "log.h"
#include "params.h"
#include "store.h"
#include "util.h"
#include "zap.h"
#include "zmqx.h"

#include <getopt.h>
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
    store *st;
    config_gen conf;  /* version 0 until loaded from the database */
    uint64_t next_db_try_us, next_poll_us;
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

static char *conf_content(const params *p)
{
    buf_t b = {0};
    const char *k, *v;
    buf_puts(&b, "");
    for (size_t it = 0; params_next_set(p, &it, &k, &v);)
        buf_printf(&b, "%s = %s\n", k, v);
    return b.data;
}

/* Packs the current generation as a snapshot packet body (entries point into conf). */
static void fill_snapshot(const config_gen *c, Bulwark__ConfigSnapshot *s,
                          Bulwark__ConfigEntry **ev, Bulwark__ConfigEntry *e, size_t max)
{
    bulwark__config_snapshot__init(s);
    s->version = c->version;
    s->author = c->author;
    s->comment = c->comment;
    s->created_ms = c->created_ms;
    s->entries = ev;
    const char *k, *v;
    for (size_t it = 0; s->n_entries < max && params_next_set(c->p, &it, &k, &v);) {
        bulwark__config_entry__init(&e[s->n_entries]);
        e[s->n_entries].key = (char *)k;
        e[s->n_entries].value = (char *)v;
        ev[s->n_entries] = &e[s->n_entries];
        s->n_entries++;
    }
}

#define MAX_ENTRIES 4096

static void send_snapshot(master *m, void *sock, const void *id, size_t idlen, bool topic)
{
    static Bulwark__ConfigEntry e[MAX_ENTRIES];
    static Bulwark__ConfigEntry *ev[MAX_ENTRIES];
    Bulwark__ConfigSnapshot s;
    fill_snapshot(&m->conf, &s, ev, e, MAX_ENTRIES);
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_SNAPSHOT;
    p.snapshot = &s;
    if (topic)
        zmq_send(sock, "config", 6, ZMQ_SNDMORE);
    else if (zx_send_id(sock, id, idlen) != 0)
        return;
    zx_send_packet(sock, &p, ZMQ_DONTWAIT);
}

static void send_error(void *sock, const void *id, size_t idlen, uint32_t code, const char *text)
{
    Bulwark__Error e = BULWARK__ERROR__INIT;
    e.code = code;
    e.text = (char *)text;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_ERROR;
    p.error = &e;
    if (zx_send_id(sock, id, idlen) == 0)
        zx_send_packet(sock, &p, ZMQ_DONTWAIT);
}

/* Makes `v` the current generation and tells everyone. */
static bool conf_install(master *m, const store_version *v)
{
    char err[512];
    params *p = params_new(&params_cluster);
    if (!params_load_text(p, "config_version", v->content ? v->content : "",
                          v->content ? strlen(v->content) : 0, err, sizeof err)) {
        log_error("event=config_invalid version=%llu error=\"%s\"", (unsigned long long)v->version, err);
        params_destroy(&p);
        return false;
    }
    conf_clear(&m->conf);
    m->conf.version = v->version;
    m->conf.p = p;
    m->conf.author = xstrdup(v->author ? v->author : "");
    m->conf.comment = xstrdup(v->comment ? v->comment : "");
    m->conf.created_ms = v->created_ms;
    dispatch_set_config_version(m->d, v->version);
    send_snapshot(m, m->pub, NULL, 0, true);
    log_info("event=config_active version=%llu author=\"%s\"", (unsigned long long)v->version,
             m->conf.author);
    return true;
}

/* Loads the newest version if it is newer than ours; creates version 1 on an empty
 * database so every node always runs a numbered generation. */
static void conf_refresh(master *m)
{
    char err[512];
    uint64_t latest;
    if (!store_latest_version(m->st, &latest, err, sizeof err)) {
        log_warn("event=db_error op=latest_version error=\"%s\"", err);
        return;
    }
    if (latest == 0) {
        uint64_t v;
        if (!store_add_version(m->st, 0, "bulwark-master", "initial configuration (defaults)", "",
                               "", &v, err, sizeof err)) {
            log_warn("event=db_error op=initial_version error=\"%s\"", err);
            return;
        }
        latest = v;
    }
    if (latest <= m->conf.version)
        return;
    store_version sv;
    if (!store_get_version(m->st, latest, &sv, err, sizeof err)) {
        log_warn("event=db_error op=get_version error=\"%s\"", err);
        return;
    }
    conf_install(m, &sv);
    store_version_free(&sv);
}

static void diff_line(buf_t *b, const char *k, const char *old, const char *new_)
{
    if (strcmp(old, new_) != 0)
        buf_printf(b, "%s: %s -> %s\n", k, *old ? old : "(unset)", *new_ ? new_ : "(unset)");
}

/* Human-readable changes between two parameter sets. */
static char *conf_diff(const params *a, const params *b)
{
    buf_t out = {0};
    buf_puts(&out, "");
    const param_table *t = params_table(a);
    for (size_t i = 0; i < t->n; i++)
        diff_line(&out, t->defs[i].name, params_str(a, t->defs[i].name),
                  params_str(b, t->defs[i].name));
    const char *k, *v;
    for (size_t it = t->n; params_next_set(a, &it, &k, &v);) { /* dynamic keys in a */
        double x;
        char nv[64] = "";
        if (params_dynamic(b, k, &x)) {
            const char *k2, *v2;
            for (size_t j = t->n; params_next_set(b, &j, &k2, &v2);)
                if (strcmp(k2, k) == 0)
                    snprintf(nv, sizeof nv, "%s", v2);
        }
        diff_line(&out, k, v, nv);
    }
    for (size_t it = t->n; params_next_set(b, &it, &k, &v);) {
        double x;
        if (!params_dynamic(a, k, &x))
            diff_line(&out, k, "", v);
    }
    return out.data;
}

static void on_config_set(master *m, const void *id, size_t idlen, const Bulwark__ConfigSet *cs,
                          const char *peer)
{
    char err[512], why[400];
    if (!m->conf.p) {
        send_error(m->clients, id, idlen, 451, "configuration database unavailable");
        return;
    }
    params *np = params_dup(m->conf.p);
    for (size_t i = 0; i < cs->n_set; i++) {
        if (!params_set(np, cs->set[i]->key, cs->set[i]->value, why, sizeof why)) {
            send_error(m->clients, id, idlen, 400, why);
            params_destroy(&np);
            return;
        }
    }
    for (size_t i = 0; i < cs->n_unset; i++) {
        if (!params_unset(np, cs->unset[i])) {
            snprintf(err, sizeof err, "unknown parameter '%s'", cs->unset[i]);
            send_error(m->clients, id, idlen, 400, err);
            params_destroy(&np);
            return;
        }
    }
    char *changes = conf_diff(m->conf.p, np);
    if (!*changes) {
        free(changes);
        params_destroy(&np);
        send_snapshot(m, m->clients, id, idlen, false); /* nothing changed: no new version */
        return;
    }
    char *content = conf_content(np);
    char author[512];
    snprintf(author, sizeof author, "%s (key %s)", cs->author && *cs->author ? cs->author : "?", peer);
    uint64_t v;
    bool ok = store_connect(m->st, err, sizeof err) &&
              store_add_version(m->st, cs->base_version, author, cs->comment ? cs->comment : "",
                                changes, content, &v, err, sizeof err);
    if (ok) {
        log_info("event=config_set version=%llu author=\"%s\"", (unsigned long long)v, author);
        store_version sv = {v, now_ms(), author, cs->comment ? cs->comment : "", changes, content};
        conf_install(m, &sv);
        send_snapshot(m, m->clients, id, idlen, false);
    } else {
        log_warn("event=config_set_failed error=\"%s\"", err);
        send_error(m->clients, id, idlen, strstr(err, "changed meanwhile") ? 409 : 451, err);
    }
    free(changes);
    free(content);
    params_destroy(&np);
}

static void on_config_get(master *m, void *sock, const void *id, size_t idlen,
                          const Bulwark__ConfigGet *g)
{
    char err[512];
    if (!m->conf.p) {
        send_error(sock, id, idlen, 451, "configuration not loaded yet (database unavailable)");
        return;
    }
    if (!g || g->version == 0 || g->version == m->conf.version) {
        send_snapshot(m, sock, id, idlen, false);
        return;
    }
    store_version sv;
    if (!store_get_version(m->st, g->version, &sv, err, sizeof err)) {
        send_error(sock, id, idlen, strstr(err, "not found") ? 404 : 451, err);
        return;
    }
    config_gen saved = m->conf;
    memset(&m->conf, 0, sizeof m->conf);
    m->conf.p = params_new(&params_cluster);
    params_load_text(m->conf.p, "db", sv.content ? sv.content : "", sv.content ? strlen(sv.content) : 0,
                     err, sizeof err);
    m->conf.version = sv.version;
    m->conf.author = sv.author;
    m->conf.comment = sv.comment;
    m->conf.created_ms = sv.created_ms;
    send_snapshot(m, sock, id, idlen, false);
    params_destroy(&m->conf.p);
    m->conf = saved;
    store_version_free(&sv);
}

static void on_history(master *m, const void *id, size_t idlen, const Bulwark__ConfigHistory *h)
{
    char err[512];
    store_version *v;
    size_t n;
    if (!store_connect(m->st, err, sizeof err) ||
        !store_history(m->st, h->limit > 1000 ? 1000 : h->limit, &v, &n, err, sizeof err)) {
        send_error(m->clients, id, idlen, 451, err);
        return;
    }
    Bulwark__ConfigHistoryReply r = BULWARK__CONFIG_HISTORY_REPLY__INIT;
    Bulwark__ConfigVersionInfo *infos = xcalloc(n ? n : 1, sizeof *infos);
    Bulwark__ConfigVersionInfo **iv = xcalloc(n ? n : 1, sizeof *iv);
    for (size_t i = 0; i < n; i++) {
        bulwark__config_version_info__init(&infos[i]);
        infos[i].version = v[i].version;
        infos[i].author = v[i].author;
        infos[i].created_ms = v[i].created_ms;
        infos[i].comment = v[i].comment;
        infos[i].change = v[i].changes;
        iv[i] = &infos[i];
    }
    r.n_versions = n;
    r.versions = iv;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_HISTORY;
    p.history = &r;
    if (zx_send_id(m->clients, id, idlen) == 0)
        zx_send_packet(m->clients, &p, ZMQ_DONTWAIT);
    for (size_t i = 0; i < n; i++)
        store_version_free(&v[i]);
    free(v);
    free(infos);
    free(iv);
}

static void on_status(master *m, const void *id, size_t idlen)
{
    Bulwark__StatusReply r = BULWARK__STATUS_REPLY__INIT;
    r.master_id = m->master_id;
    r.config_version = m->conf.version;
    r.uptime_ms = now_ms() - m->started_ms;
    r.zap_refused = m->zap ? zap_refused(m->zap) : 0;
    dispatch_status(m->d, &r);
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_STATUS_REPLY;
    p.status_reply = &r;
    if (zx_send_id(m->clients, id, idlen) == 0)
        zx_send_packet(m->clients, &p, ZMQ_DONTWAIT);
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
            log_warn("event=bad_frame socket=client peer=%s size=%zu reason=\"%s\"",
                     peer_of(&id), zmq_msg_size(&body), ok ? "not a Packet" : "wrong frame count");
        } else {
            switch (p->body_case) {
            case BULWARK__PACKET__BODY_JOB:
                dispatch_job(m->d, cid, clen, &body, p->job);
                break;
            case BULWARK__PACKET__BODY_STATUS:
                on_status(m, cid, clen);
                break;
            case BULWARK__PACKET__BODY_CONFIG_GET:
                on_config_get(m, m->clients, cid, clen, p->config_get);
                break;
            case BULWARK__PACKET__BODY_CONFIG_SET:
                on_config_set(m, cid, clen, p->config_set, peer_of(&body));
                break;
            case BULWARK__PACKET__BODY_CONFIG_HISTORY:
                on_history(m, cid, clen, p->config_history);
                break;
            default:
                dispatch_stats_mut(m->d)->bad_client++;
                log_warn("event=bad_frame socket=client peer=%s reason=\"unexpected packet type %d\"",
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
            on_config_get(m, m->snap, zmq_msg_data(&id), zmq_msg_size(&id), p->config_get);
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

static void *bind_socket(master *m, int type, const char *param, const curve_key *key)
{
    void *s = zx_socket(m->ctx, type, params_int(m->cfg, "max_frame_size"));
    if (key)
        zx_curve_server(s, key);
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

static void usage(FILE *f)
{
    fprintf(f, "usage: bulwark-master [-c FILE] [-t] [-h]\n"
               "  -c FILE  configuration file (default /etc/bulwark/master.conf)\n"
               "  -t       check the configuration and keys, then exit\n"
               "  -V       print the version\n");
}

static void db_work(master *m)
{
    uint64_t now = mono_us();
    char err[512];
    if (!store_ok(m->st)) {
        if (now < m->next_db_try_us)
            return;
        m->next_db_try_us = now + (uint64_t)params_int(m->cfg, "db_retry") * 1000;
        if (!store_connect(m->st, err, sizeof err)) {
            log_warn("event=db_unavailable error=\"%s\"", err);
            return;
        }
        log_info("event=db_connected");
        m->next_poll_us = 0;
    }
    if (now >= m->next_poll_us) {
        m->next_poll_us = now + (uint64_t)params_int(m->cfg, "config_poll") * 1000;
        conf_refresh(m);
    }
}

int main(int argc, char **argv)
{
    const char *conf_path = "/etc/bulwark/master.conf";
    bool check_only = false;
    int opt;
    log_init("bulwark-master");
    while ((opt = getopt(argc, argv, "c:thV")) != -1) {
        switch (opt) {
        case 'c': conf_path = optarg; break;
        case 't': check_only = true; break;
        case 'V': printf("bulwark-master %s\n", BULWARK_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "bulwark-master: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    master m = {0};
    char err[1024];
    m.cfg = params_new(&params_master);
    if (access(conf_path, F_OK) == 0 || strcmp(conf_path, "/etc/bulwark/master.conf") != 0) {
        if (!params_load_file(m.cfg, conf_path, err, sizeof err)) {
            fprintf(stderr, "bulwark-master: %s\n", err);
            return 1;
        }
    }
    log_level lvl;
    log_level_parse(params_str(m.cfg, "log_level"), &lvl);
    log_set_level(lvl);
    const char *mid = params_str(m.cfg, "master_id");
    if (*mid)
        snprintf(m.master_id, sizeof m.master_id, "%s", mid);
    else
        gethostname(m.master_id, sizeof m.master_id - 1);

    bool curve = params_bool(m.cfg, "curve_enable");
    curve_key key;
    if (curve) {
        if (!key_load(params_str(m.cfg, "curve_secret_key"), &key, err, sizeof err))
            log_fatal("event=config error=\"%s\"", err);
        if (!key.secret_z85[0])
            log_fatal("event=config error=\"%s holds no secret key\"", params_str(m.cfg, "curve_secret_key"));
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
    m.st = store_new(m.cfg);
    m.started_ms = now_ms();
    db_work(&m);

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
            {m.zap ? zap_socket(m.zap) : NULL, m.zap ? 0 : -1, ZMQ_POLLIN, 0},
        };
        int nitems = m.zap ? 5 : 4;
        int timeout = dispatch_next_tick_ms(m.d);
        if (timeout > 100)
            timeout = 100;
        if (zmq_poll(items, nitems, timeout) < 0 && zmq_errno() != EINTR)
            log_fatal("event=poll error=\"%s\"", zmq_strerror(zmq_errno()));
        if (m.zap && (items[4].revents & ZMQ_POLLIN))
            zap_handle(m.zap);
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
                    m.stop_deadline_us = mono_us() + (uint64_t)params_int(m.cfg, "shutdown_grace") * 1000;
                    dispatch_stop_accepting(m.d);
                    daemon_notify("STOPPING=1");
                    log_info("event=stopping signal=%d open_jobs=%zu", sig, dispatch_open_jobs(m.d));
                }
            }
        }
        dispatch_tick(m.d);
        db_work(&m);
        uint64_t now = mono_us();
        if (wd_us && now >= next_wd) {
            daemon_notify("WATCHDOG=1");
            next_wd = now + wd_us / 2;
        }
        if (now >= next_status) {
            next_status = now + 5000000;
            daemon_notify("STATUS=nodes=%zu open_jobs=%zu config_version=%llu", dispatch_node_count(m.d),
                          dispatch_open_jobs(m.d), (unsigned long long)m.conf.version);
        }
        if (m.stopping && (dispatch_open_jobs(m.d) == 0 || now >= m.stop_deadline_us))
            break;
    }
    dispatch_fail_all(m.d, "master shutting down");
    const dispatch_stats *s = dispatch_get_stats(m.d);
    log_info("event=stopped received=%llu answered=%llu redispatched=%llu expired=%llu",
             (unsigned long long)s->received, (unsigned long long)s->answered,
             (unsigned long long)s->redispatched, (unsigned long long)s->expired);
    dispatch_destroy(&m.d);
    store_destroy(&m.st);
    conf_clear(&m.conf);
    zmq_close(m.clients);
    zmq_close(m.workers);
    zmq_close(m.pub);
    zmq_close(m.snap);
    zap_destroy(&m.zap);
    zmq_ctx_term(m.ctx);
    params_destroy(&m.cfg);
    close(sigfd);
    store_library_end();
    return 0;
}
