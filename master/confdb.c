/* confdb.c - the thread that owns the master's database connection.
 *
 * The loop waits on its end of an inproc PAIR for jobs (pointers to confdb_job)
 * with a timeout that is the next config poll. A config change is made inside one
 * transaction on top of the newest stored version, not on the master's cached copy,
 * so two masters changing settings at once cannot lose each other's change; the
 * audit line ("key: old -> new") is computed there too. The poll creates version 1
 * on an empty database and hands back every version newer than the last it saw.
 * Message log and quarantine requests are handed to records.c with the store.
 * A lost connection is retried every db_retry; requests meanwhile get 451. */
#include "confdb.h"
#include "dmarcreport.h"
#include "log.h"
#include "mailbox.h"
#include "records.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFDB_MAX_JOBS 256

struct confdb {
    mailbox *mb;
    pthread_t thread;
    store *st;
    uint64_t retry_us, poll_us;
    uint64_t next_connect_us, next_poll_us;
    uint64_t seen_version; /* newest version handed to the main thread */
    atomic_bool connected;
};

/* ---- packing -------------------------------------------------------------------- */

void conf_pack_snapshot(uint64_t version, const char *author, const char *comment,
                        uint64_t created_ms, const params *p, zmq_msg_t *out)
{
    size_t n = 0, cap = 64;
    Bulwark__ConfigEntry *e = xcalloc(cap, sizeof *e);
    const char *k, *v;
    for (size_t it = 0; params_next_set(p, &it, &k, &v);) {
        if (n == cap)
            e = xrealloc(e, (cap *= 2) * sizeof *e);
        bulwark__config_entry__init(&e[n]);
        e[n].key = (char *)k;
        e[n].value = (char *)v;
        n++;
    }
    Bulwark__ConfigEntry **ev = xcalloc(n ? n : 1, sizeof *ev);
    for (size_t i = 0; i < n; i++)
        ev[i] = &e[i];
    Bulwark__ConfigSnapshot s = BULWARK__CONFIG_SNAPSHOT__INIT;
    s.version = version;
    s.author = (char *)(author ? author : "");
    s.comment = (char *)(comment ? comment : "");
    s.created_ms = created_ms;
    s.entries = ev;
    s.n_entries = n;
    packet pk = BULWARK__PACKET__INIT;
    pk.body_case = BULWARK__PACKET__BODY_SNAPSHOT;
    pk.snapshot = &s;
    zx_pack(&pk, out);
    free(ev);
    free(e);
}

void conf_pack_error(uint32_t code, const char *text, zmq_msg_t *out)
{
    Bulwark__Error e = BULWARK__ERROR__INIT;
    e.code = code;
    e.text = (char *)text;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_ERROR;
    p.error = &e;
    zx_pack(&p, out);
}

params *conf_parse(const store_version *v, char *err, size_t errlen)
{
    char origin[64];
    snprintf(origin, sizeof origin, "config version %llu", (unsigned long long)v->version);
    params *p = params_new(&params_cluster);
    const char *c = v->content ? v->content : "";
    if (!params_load_text(p, origin, c, strlen(c), err, errlen))
        params_destroy(&p);
    return p;
}

static void reply_snapshot(confdb_job *j, const store_version *v, const params *p)
{
    conf_pack_snapshot(v->version, v->author, v->comment, v->created_ms, p, &j->reply);
    j->has_reply = true;
}

static void reply_error(confdb_job *j, uint32_t code, const char *text)
{
    conf_pack_error(code, text, &j->reply);
    j->has_reply = true;
}

static store_version *version_dup(const store_version *v)
{
    store_version *c = xcalloc(1, sizeof *c);
    c->version = v->version;
    c->created_ms = v->created_ms;
    c->author = xstrdup(v->author ? v->author : "");
    c->comment = xstrdup(v->comment ? v->comment : "");
    c->changes = xstrdup(v->changes ? v->changes : "");
    c->content = xstrdup(v->content ? v->content : "");
    return c;
}

/* ---- configuration text ------------------------------------------------------------ */

static char *conf_content(const params *p)
{
    buf_t b = {0};
    const char *k, *v;
    buf_puts(&b, "");
    for (size_t it = 0; params_next_set(p, &it, &k, &v);)
        buf_printf(&b, "%s = %s\n", k, v);
    return b.data;
}

/* The explicitly set value of key in p, or "" (default). */
static const char *set_value(const params *p, const char *key)
{
    const char *k, *v;
    for (size_t it = 0; params_next_set(p, &it, &k, &v);)
        if (strcmp(k, key) == 0)
            return v;
    return "";
}

/* "key: old -> new" for every parameter whose value differs between a and b. */
static char *conf_diff(const params *a, const params *b)
{
    buf_t out = {0};
    buf_puts(&out, "");
    const param_table *t = params_table(a);
    for (size_t i = 0; i < t->n; i++) {
        const char *k = t->defs[i].name, *x = params_str(a, k), *y = params_str(b, k);
        if (strcmp(x, y) != 0)
            buf_printf(&out, "%s: %s -> %s\n", k, *x ? x : "(empty)", *y ? y : "(empty)");
    }
    const char *k, *v;
    for (size_t it = t->n; params_next_set(a, &it, &k, &v);) { /* score.* in a */
        const char *nv = set_value(b, k);
        if (strcmp(v, nv) != 0)
            buf_printf(&out, "%s: %s -> %s\n", k, v, *nv ? nv : "(default)");
    }
    for (size_t it = t->n; params_next_set(b, &it, &k, &v);)
        if (!*set_value(a, k))
            buf_printf(&out, "%s: (default) -> %s\n", k, v);
    return out.data;
}

/* ---- the thread's work ----------------------------------------------------------------- */

static bool ensure_connected(confdb *db, char *err, size_t errlen)
{
    if (store_ok(db->st))
        return true;
    uint64_t now = mono_us();
    bool ok = store_connect(db->st, err, errlen);
    db->next_connect_us = now + db->retry_us;
    atomic_store(&db->connected, ok);
    if (ok) {
        log_info("event=db_connected");
        db->next_poll_us = 0;
    }
    return ok;
}

static void do_set(confdb *db, confdb_job *j)
{
    const Bulwark__ConfigSet *cs = j->req->config_set;
    char err[400], why[512];
    store_version cur;
    if (!ensure_connected(db, err, sizeof err) ||
        !store_change_begin(db->st, &cur, err, sizeof err)) {
        log_warn("event=config_set_failed error=\"%s\"", err);
        reply_error(j, 451, err);
        return;
    }
    params *old = conf_parse(&cur, err, sizeof err), *np = NULL;
    char *changes = NULL, *content = NULL, *author = NULL;
    uint32_t code = 0;
    if (!old) {
        code = 500;
        snprintf(why, sizeof why, "stored configuration unreadable: %s", err);
        goto done;
    }
    if (cs->base_version && cs->base_version != cur.version) {
        code = 409;
        snprintf(why, sizeof why, "configuration changed meanwhile: version is %llu, not %llu",
                 (unsigned long long)cur.version, (unsigned long long)cs->base_version);
        goto done;
    }
    np = params_dup(old);
    for (size_t i = 0; i < cs->n_set && !code; i++) {
        const char *k = cs->set[i]->key, *v = cs->set[i]->value;
        if (!k || !v || !params_set(np, k, v, why, sizeof why))
            code = 400;
    }
    for (size_t i = 0; i < cs->n_unset && !code; i++) {
        if (!params_unset(np, cs->unset[i])) {
            code = 400;
            snprintf(why, sizeof why, "unknown parameter '%s'", cs->unset[i]);
        }
    }
    if (code)
        goto done;
    changes = conf_diff(old, np);
    if (!*changes) { /* nothing changes: no new version, answer with the current one */
        store_rollback(db->st);
        reply_snapshot(j, &cur, old);
        goto out;
    }
    content = conf_content(np);
    author = xasprintf("%s (key %s)", cs->author && *cs->author ? cs->author : "?", j->peer);
    const char *comment = cs->comment ? cs->comment : "";
    if (!store_change_insert(db->st, cur.version + 1, author, comment, changes, content, err,
                             sizeof err) ||
        !store_commit(db->st, err, sizeof err)) {
        store_rollback(db->st);
        atomic_store(&db->connected, store_ok(db->st));
        log_warn("event=config_set_failed error=\"%s\"", err);
        reply_error(j, 451, err);
        goto out;
    }
    store_version nv = {cur.version + 1, now_ms(), author, (char *)comment, changes, content};
    log_info("event=config_set version=%llu author=\"%s\"", (unsigned long long)nv.version, author);
    reply_snapshot(j, &nv, np);
    j->installed = version_dup(&nv);
    if (nv.version > db->seen_version)
        db->seen_version = nv.version;
    goto out;
done:
    store_rollback(db->st);
    log_info("event=config_set_refused code=%u reason=\"%s\"", code, why);
    reply_error(j, code, why);
out:
    params_destroy(&old);
    params_destroy(&np);
    free(changes);
    free(content);
    free(author);
    store_version_free(&cur);
}

static void do_get(confdb *db, confdb_job *j)
{
    char err[512];
    store_version v;
    uint64_t want = j->req->config_get ? j->req->config_get->version : 0;
    if (!ensure_connected(db, err, sizeof err) ||
        !store_get_version(db->st, want, &v, err, sizeof err)) {
        atomic_store(&db->connected, store_ok(db->st));
        reply_error(j, strstr(err, "not found") ? 404 : 451, err);
        return;
    }
    params *p = conf_parse(&v, err, sizeof err);
    if (p)
        reply_snapshot(j, &v, p);
    else
        reply_error(j, 500, err);
    params_destroy(&p);
    store_version_free(&v);
}

static void do_history(confdb *db, confdb_job *j)
{
    char err[512];
    store_version *v;
    size_t n;
    unsigned limit = j->req->config_history->limit;
    if (!ensure_connected(db, err, sizeof err) ||
        !store_history(db->st, limit > 1000 ? 1000 : limit, &v, &n, err, sizeof err)) {
        atomic_store(&db->connected, store_ok(db->st));
        reply_error(j, 451, err);
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
    zx_pack(&p, &j->reply);
    j->has_reply = true;
    for (size_t i = 0; i < n; i++)
        store_version_free(&v[i]);
    free(v);
    free(infos);
    free(iv);
}

/* Log and quarantine requests: records.c packs the reply. */
static void do_records(confdb *db, confdb_job *j)
{
    char err[512];
    if (!ensure_connected(db, err, sizeof err)) {
        if (j->kind == CONFDB_AGING || j->kind == CONFDB_LEARN_CLAIM ||
            j->kind == CONFDB_LEARN_DONE)
            log_warn("event=db_unavailable op=%s error=\"%s\"",
                     j->kind == CONFDB_AGING ? "aging" : "learn", err);
        else
            reply_error(j, 451, err);
        return;
    }
    const Bulwark__QuarantineOp *op =
        j->kind == CONFDB_QUARANTINE_RELEASE  ? j->req->quarantine_release
        : j->kind == CONFDB_QUARANTINE_DELETE ? j->req->quarantine_delete
                                              : NULL;
    char *who =
        xasprintf("%s (key %s)", op && op->author && *op->author ? op->author : "?", j->peer);
    switch (j->kind) {
    case CONFDB_LOG_SEARCH: records_search(db->st, j->req->log_search, false, &j->reply); break;
    case CONFDB_QUARANTINE_LIST:
        records_search(db->st, j->req->quarantine_list, true, &j->reply);
        break;
    case CONFDB_QUARANTINE_SHOW: records_show(db->st, j->req->quarantine_show, &j->reply); break;
    case CONFDB_QUARANTINE_RELEASE:
        records_release(db->st, j->req->quarantine_release, who, j->relay, j->learn, &j->reply);
        break;
    case CONFDB_QUARANTINE_DELETE:
        records_delete(db->st, j->req->quarantine_delete, who, &j->reply);
        break;
    case CONFDB_LEARN_CLAIM:
        records_learn_claim(db->st, j->learn_max, &j->learn_items, &j->n_learn_items);
        break;
    case CONFDB_LEARN_DONE:
        records_learn_done(db->st, j->learn_id, j->learn_ok, j->learn_reply);
        break;
    case CONFDB_DMARC_REPORT: {
        dmarcrep_config dc = {j->dmarc_org, j->dmarc_email, j->dmarc_extra, j->dmarc_relay};
        dmarcrep_request(db->st, j->req->dmarc_report, &dc, &j->reply);
        break;
    }
    default:
        records_age(db->st, j->log_days, j->quarantine_days);
        if (j->dmarc_days)
            dmarcrep_age(db->st, j->dmarc_days);
        break;
    }
    j->has_reply =
        j->kind != CONFDB_AGING && j->kind != CONFDB_LEARN_CLAIM && j->kind != CONFDB_LEARN_DONE;
    atomic_store(&db->connected, store_ok(db->st));
    free(who);
}

/* Hands the main thread any version newer than the last it got; creates version 1
 * on an empty database so every node always runs a numbered generation. */
static void poll_versions(confdb *db)
{
    char err[512];
    uint64_t latest;
    if (!store_latest_version(db->st, &latest, err, sizeof err)) {
        atomic_store(&db->connected, store_ok(db->st));
        log_warn("event=db_error op=latest_version error=\"%s\"", err);
        return;
    }
    if (latest == 0) {
        if (!store_add_version(db->st, 0, "bulwark-master", "initial configuration (defaults)", "",
                               "", &latest, err, sizeof err)) {
            log_warn("event=db_error op=initial_version error=\"%s\"", err);
            return;
        }
    }
    if (latest <= db->seen_version)
        return;
    store_version v;
    if (!store_get_version(db->st, latest, &v, err, sizeof err)) {
        log_warn("event=db_error op=get_version error=\"%s\"", err);
        return;
    }
    confdb_job *j = xcalloc(1, sizeof *j);
    j->kind = CONFDB_VERSION;
    j->installed = version_dup(&v);
    store_version_free(&v);
    db->seen_version = latest;
    mailbox_notify(db->mb, j);
}

static void *confdb_main(void *arg)
{
    confdb *db = arg;
    char err[512];
    for (;;) {
        uint64_t now = mono_us();
        if (!store_ok(db->st) && now >= db->next_connect_us &&
            !ensure_connected(db, err, sizeof err))
            log_warn("event=db_unavailable error=\"%s\"", err);
        if (store_ok(db->st) && now >= db->next_poll_us) {
            db->next_poll_us = now + db->poll_us;
            poll_versions(db);
        }
        now = mono_us();
        uint64_t next = store_ok(db->st) ? db->next_poll_us : db->next_connect_us;
        long wait_ms = next > now ? (long)((next - now) / 1000) + 1 : 0;
        void *p;
        if (!mailbox_take(db->mb, wait_ms, &p))
            continue;
        confdb_job *j = p;
        if (!j) /* stop */
            break;
        switch (j->kind) {
        case CONFDB_SET: do_set(db, j); break;
        case CONFDB_GET: do_get(db, j); break;
        case CONFDB_HISTORY: do_history(db, j); break;
        case CONFDB_VERSION: break;
        default: do_records(db, j); break;
        }
        mailbox_answer(db->mb, j);
    }
    store_destroy(&db->st);
    return NULL;
}

/* ---- the main thread's side -------------------------------------------------------------- */

confdb *confdb_new(void *ctx, const params *cfg)
{
    confdb *db = xcalloc(1, sizeof *db);
    db->retry_us = (uint64_t)params_int(cfg, "db_retry") * 1000;
    db->poll_us = (uint64_t)params_int(cfg, "config_poll") * 1000;
    db->st = store_new(cfg);
    db->mb = mailbox_new(ctx, "confdb", CONFDB_MAX_JOBS);
    if (pthread_create(&db->thread, NULL, confdb_main, db) != 0)
        log_fatal("event=thread_create error=\"confdb\"");
    return db;
}

void confdb_destroy(confdb **dbp)
{
    confdb *db = *dbp;
    if (!db)
        return;
    mailbox_stop(db->mb);
    pthread_join(db->thread, NULL);
    confdb_job *j;
    while ((j = confdb_recv(db)))
        confdb_job_free(&j);
    /* Jobs the thread never took are lost with the socket; their requesters time out. */
    mailbox_destroy(&db->mb);
    free(db);
    *dbp = NULL;
}

void *confdb_socket(confdb *db)
{
    return mailbox_main_socket(db->mb);
}

bool confdb_connected(const confdb *db)
{
    return atomic_load(&((confdb *)db)->connected);
}

confdb_job *confdb_job_new(confdb_kind kind, void *reply_sock, const void *id, size_t idlen,
                           const char *peer, packet *req)
{
    confdb_job *j = xcalloc(1, sizeof *j);
    j->kind = kind;
    j->reply_sock = reply_sock;
    j->idlen = idlen > sizeof j->id ? sizeof j->id : idlen;
    memcpy(j->id, id, j->idlen);
    snprintf(j->peer, sizeof j->peer, "%s", peer ? peer : "");
    j->req = req;
    return j;
}

bool confdb_submit(confdb *db, confdb_job *j)
{
    return mailbox_post(db->mb, j);
}

confdb_job *confdb_recv(confdb *db)
{
    return mailbox_collect(db->mb);
}

void confdb_job_free(confdb_job **jp)
{
    confdb_job *j = *jp;
    if (!j)
        return;
    zx_packet_free(&j->req);
    if (j->has_reply)
        zmq_msg_close(&j->reply);
    if (j->installed) {
        store_version_free(j->installed);
        free(j->installed);
    }
    free(j->relay);
    for (size_t i = 0; i < j->n_learn_items; i++) {
        free(j->learn_items[i].id);
        free(j->learn_items[i].msg);
    }
    free(j->learn_items);
    free(j->learn_id);
    free(j->learn_reply);
    free(j->dmarc_org);
    free(j->dmarc_email);
    free(j->dmarc_extra);
    free(j->dmarc_relay);
    free(j);
    *jp = NULL;
}
