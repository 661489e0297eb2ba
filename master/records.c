/* records.c - searching, showing, releasing, deleting and aging stored verdicts.
 *
 * Runs on the database thread. Rows come from store.c as text and become
 * protobuf Records here: recipients split back into a list, the JSON symbol list
 * parsed back into Symbols, the quarantined message decompressed (zstd) for show
 * and release. A release locks its row (SELECT ... FOR UPDATE) for the whole
 * delivery, so two releases of one entry, from two operators or two masters,
 * deliver it once: the second finds it released and says when and by whom. A
 * failed delivery rolls back and leaves the entry held. */
#include "records.h"
#include "action.h"
#include "confdb.h"
#include "json.h"
#include "log.h"
#include "relay.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#define MAX_LIMIT 10000
#define MAX_MESSAGE (1024ull * 1024 * 1024)

Bulwark__Action records_action_parse(const char *name)
{
    Bulwark__Action a;
    return name && action_parse(name, &a) ? a : BULWARK__ACTION__ACTION_TEMPFAIL;
}

/* ---- rows to Records ------------------------------------------------------------------ */

/* A Record pointing into a store_record, plus what was made for it. */
typedef struct {
    Bulwark__Record rec;
    char **rcpt;
    json_symbol *js;
    Bulwark__Symbol *sym, **symv;
    size_t nsym;
} view;

static void split_rcpt(view *v, char *rcpt)
{
    size_t n = *rcpt ? 1 : 0;
    for (const char *p = rcpt; *p; p++)
        n += *p == '\n';
    v->rcpt = xcalloc(n ? n : 1, sizeof *v->rcpt);
    size_t i = 0;
    char *save = NULL;
    for (char *t = strtok_r(rcpt, "\n", &save); t && i < n; t = strtok_r(NULL, "\n", &save))
        v->rcpt[i++] = t;
    v->rec.rcpt = v->rcpt;
    v->rec.n_rcpt = i;
}

static void parse_symbols(view *v, const store_record *r)
{
    if (!json_symbols_parse(r->symbols, strlen(r->symbols), &v->js, &v->nsym)) {
        log_warn("job=%s event=bad_row reason=\"symbols are not readable JSON\"", r->id);
        v->nsym = 0;
    }
    v->sym = xcalloc(v->nsym ? v->nsym : 1, sizeof *v->sym);
    v->symv = xcalloc(v->nsym ? v->nsym : 1, sizeof *v->symv);
    for (size_t i = 0; i < v->nsym; i++) {
        bulwark__symbol__init(&v->sym[i]);
        v->sym[i].name = v->js[i].name;
        v->sym[i].score = v->js[i].score;
        v->sym[i].detail = v->js[i].detail;
        v->symv[i] = &v->sym[i];
    }
    v->rec.symbols = v->symv;
    v->rec.n_symbols = v->nsym;
}

/* Fills v from r (r's rcpt text is cut up in place). */
static void view_init(view *v, store_record *r)
{
    memset(v, 0, sizeof *v);
    bulwark__record__init(&v->rec);
    v->rec.id = r->id;
    v->rec.time_ms = r->time_ms;
    v->rec.client_ip = r->client_ip;
    v->rec.helo = r->helo;
    v->rec.sender = r->sender;
    v->rec.subject = r->subject;
    v->rec.message_id = r->message_id;
    v->rec.size = r->size;
    v->rec.score = r->score;
    v->rec.action = records_action_parse(r->action);
    v->rec.node_id = r->node_id ? r->node_id : (char *)"";
    v->rec.config_version = r->config_version;
    v->rec.scan_ms = r->scan_us / 1000;
    v->rec.queue_id = r->queue_id ? r->queue_id : (char *)"";
    v->rec.reason = r->reason;
    v->rec.status = r->status ? r->status : (char *)"";
    v->rec.released_ms = r->released_ms;
    v->rec.released_by = r->released_by ? r->released_by : (char *)"";
    v->rec.learn = r->learn ? r->learn : (char *)"";
    v->rec.learn_reply = r->learn_reply ? r->learn_reply : (char *)"";
    split_rcpt(v, r->rcpt);
    parse_symbols(v, r);
}

static void view_free(view *v)
{
    free(v->rcpt);
    json_symbols_free(&v->js, v->nsym);
    free(v->sym);
    free(v->symv);
}

/* Packs rows as a RecordList; `message` (may be NULL) goes with the first row. */
static void pack_records(store_record *rows, size_t n, bool truncated, const char *message,
                         size_t message_len, zmq_msg_t *reply)
{
    view *v = xcalloc(n ? n : 1, sizeof *v);
    Bulwark__Record **rv = xcalloc(n ? n : 1, sizeof *rv);
    for (size_t i = 0; i < n; i++) {
        view_init(&v[i], &rows[i]);
        rv[i] = &v[i].rec;
    }
    if (n && message) {
        v[0].rec.message.data = (uint8_t *)message;
        v[0].rec.message.len = message_len;
    }
    Bulwark__RecordList l = BULWARK__RECORD_LIST__INIT;
    l.records = rv;
    l.n_records = n;
    l.truncated = truncated;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_RECORDS;
    p.records = &l;
    zx_pack(&p, reply);
    for (size_t i = 0; i < n; i++)
        view_free(&v[i]);
    free(v);
    free(rv);
}

static void free_rows(store_record *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_record_free(&rows[i]);
    free(rows);
}

/* ---- requests ------------------------------------------------------------------------------ */

void records_search(store *st, const Bulwark__RecordQuery *q, bool quarantine, zmq_msg_t *reply)
{
    unsigned limit = q->limit ? q->limit : 100;
    if (limit > MAX_LIMIT)
        limit = MAX_LIMIT;
    store_query sq = {q->id,     q->sender,   q->recipient, q->client_ip,
                      q->action, q->since_ms, q->until_ms,  limit + 1};
    store_record *rows;
    size_t n;
    char err[512];
    bool ok = quarantine ? store_quarantine_list(st, &sq, &rows, &n, err, sizeof err)
                         : store_log_search(st, &sq, &rows, &n, err, sizeof err);
    if (!ok) {
        log_warn("event=db_error op=%s error=\"%s\"", quarantine ? "quarantine_list" : "log_search",
                 err);
        conf_pack_error(451, err, reply);
        return;
    }
    bool truncated = n > limit;
    pack_records(rows, truncated ? limit : n, truncated, NULL, 0, reply);
    free_rows(rows, n);
}

/* The original message of a quarantine row; NULL with err if it cannot be had. */
static char *decompress(const char *z, size_t zlen, uint64_t size, size_t *len, char *err,
                        size_t errlen)
{
    unsigned long long want = ZSTD_getFrameContentSize(z, zlen);
    if (want == ZSTD_CONTENTSIZE_ERROR || want == ZSTD_CONTENTSIZE_UNKNOWN || want != size ||
        want > MAX_MESSAGE) {
        snprintf(err, errlen, "stored message is damaged (not a zstd frame of %llu bytes)",
                 (unsigned long long)size);
        return NULL;
    }
    char *m = xmalloc(want ? want : 1);
    size_t got = ZSTD_decompress(m, want, z, zlen);
    if (ZSTD_isError(got) || got != want) {
        snprintf(err, errlen, "stored message is damaged: %s",
                 ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short");
        free(m);
        return NULL;
    }
    *len = got;
    return m;
}

void records_show(store *st, const Bulwark__QuarantineShow *q, zmq_msg_t *reply)
{
    store_record r;
    char *z, err[512];
    size_t zlen, len;
    bool found;
    if (!store_quarantine_get(st, q->id, false, &r, &z, &zlen, &found, err, sizeof err)) {
        conf_pack_error(451, err, reply);
        return;
    }
    if (!found) {
        snprintf(err, sizeof err, "no quarantine entry '%s'", q->id);
        conf_pack_error(404, err, reply);
        return;
    }
    char *m = decompress(z, zlen, r.size, &len, err, sizeof err);
    if (!m)
        conf_pack_error(500, err, reply);
    else
        pack_records(&r, 1, false, m, len, reply);
    free(m);
    free(z);
    store_record_free(&r);
}

/* Delivers one held entry (its row locked) and marks it released. */
static bool deliver(store *st, store_record *r, const char *z, size_t zlen, const char *who,
                    const char *relay, bool learn, char *text, size_t textlen)
{
    char err[512], smtp[600];
    size_t len;
    char *m = decompress(z, zlen, r->size, &len, err, sizeof err);
    if (!m) {
        snprintf(text, textlen, "%s", err);
        return false;
    }
    view v;
    view_init(&v, r); /* splits the recipients */
    bool ok = relay_send(relay, r->sender, v.rec.rcpt, v.rec.n_rcpt, m, len, smtp, sizeof smtp);
    view_free(&v);
    free(m);
    if (!ok) {
        snprintf(text, textlen, "delivery to %s failed: %s", relay, smtp);
        return false;
    }
    if (!store_quarantine_mark_released(st, r->id, who, smtp, learn, err, sizeof err) ||
        !store_commit(st, err, sizeof err)) {
        snprintf(text, textlen, "delivered (%s) but not marked released: %s", smtp, err);
        return false;
    }
    snprintf(text, textlen, "released: %s%s", smtp, learn ? " (to be learned as ham)" : "");
    return true;
}

typedef struct {
    const char *who, *relay;
    bool learn;
} op_ctx;

static bool release_one(store *st, const char *id, const op_ctx *o, char *text, size_t textlen)
{
    store_record r;
    char *z = NULL, err[512];
    size_t zlen;
    bool found, ok = false;
    if (!store_begin(st, err, sizeof err) ||
        !store_quarantine_get(st, id, true, &r, &z, &zlen, &found, err, sizeof err)) {
        store_rollback(st);
        snprintf(text, textlen, "database: %s", err);
        return false;
    }
    if (!found) {
        snprintf(text, textlen, "no quarantine entry '%s'", id);
    } else if (strcmp(r.status, "released") == 0) {
        char when[64];
        time_text(r.released_ms, when, sizeof when);
        snprintf(text, textlen, "already released at %s by %s", when, r.released_by);
        ok = true;
    } else if (deliver(st, &r, z, zlen, o->who, o->relay, o->learn, text, textlen)) {
        log_info("job=%s event=quarantine_released by=\"%s\" reply=\"%s\"", id, o->who, text);
        ok = true;
    } else {
        log_warn("job=%s event=quarantine_release_failed by=\"%s\" error=\"%s\"", id, o->who, text);
    }
    store_rollback(st); /* ends the transaction when deliver() did not commit it */
    if (found)
        store_record_free(&r);
    free(z);
    return ok;
}

static void pack_op_reply(Bulwark__QuarantineOpResult *res, size_t n, zmq_msg_t *reply)
{
    Bulwark__QuarantineOpResult **rv = xcalloc(n ? n : 1, sizeof *rv);
    for (size_t i = 0; i < n; i++)
        rv[i] = &res[i];
    Bulwark__QuarantineOpReply r = BULWARK__QUARANTINE_OP_REPLY__INIT;
    r.results = rv;
    r.n_results = n;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_QUARANTINE_REPLY;
    p.quarantine_reply = &r;
    zx_pack(&p, reply);
    free(rv);
}

typedef bool (*op_fn)(store *st, const char *id, const op_ctx *o, char *text, size_t textlen);

static void run_op(store *st, const Bulwark__QuarantineOp *op, const op_ctx *o, op_fn fn,
                   zmq_msg_t *reply)
{
    size_t n = op->n_ids;
    Bulwark__QuarantineOpResult *res = xcalloc(n ? n : 1, sizeof *res);
    char(*texts)[1200] = xcalloc(n ? n : 1, sizeof *texts);
    for (size_t i = 0; i < n; i++) {
        bulwark__quarantine_op_result__init(&res[i]);
        res[i].id = op->ids[i];
        res[i].ok = fn(st, op->ids[i], o, texts[i], sizeof texts[i]);
        res[i].text = texts[i];
    }
    pack_op_reply(res, n, reply);
    free(texts);
    free(res);
}

void records_release(store *st, const Bulwark__QuarantineOp *op, const char *who, const char *relay,
                     bool learn, zmq_msg_t *reply)
{
    op_ctx o = {who, relay, learn && !op->no_learn};
    run_op(st, op, &o, release_one, reply);
}

static bool delete_one(store *st, const char *id, const op_ctx *o, char *text, size_t textlen)
{
    char err[512];
    bool found;
    if (!store_quarantine_delete(st, id, &found, err, sizeof err)) {
        snprintf(text, textlen, "database: %s", err);
        return false;
    }
    if (!found) {
        snprintf(text, textlen, "no quarantine entry '%s'", id);
        return false;
    }
    log_info("job=%s event=quarantine_deleted by=\"%s\"", id, o->who);
    snprintf(text, textlen, "deleted");
    return true;
}

void records_delete(store *st, const Bulwark__QuarantineOp *op, const char *who, zmq_msg_t *reply)
{
    op_ctx o = {who, NULL, false};
    run_op(st, op, &o, delete_one, reply);
}

void records_learn_claim(store *st, unsigned max, records_learn_item **items, size_t *n)
{
    *items = NULL;
    *n = 0;
    strlist ids = {0};
    char err[512];
    if (!store_learn_claim(st, max, &ids, err, sizeof err)) {
        log_warn("event=learn_claim_failed error=\"%s\"", err);
        strlist_free(&ids);
        return;
    }
    if (ids.n)
        *items = xcalloc(ids.n, sizeof **items);
    for (size_t i = 0; i < ids.n; i++) {
        store_record r;
        char *z = NULL;
        size_t zlen, len;
        bool found;
        if (!store_quarantine_get(st, ids.v[i], false, &r, &z, &zlen, &found, err, sizeof err)) {
            log_warn("job=%s event=learn_claim_failed error=\"%s\"", ids.v[i], err);
            continue;
        }
        char *m = found ? decompress(z, zlen, r.size, &len, err, sizeof err) : NULL;
        free(z);
        if (found)
            store_record_free(&r);
        if (!m) {
            /* Gone (deleted meanwhile) or unreadable: nothing to learn, ever. */
            const char *why = found ? err : "entry deleted";
            log_warn("job=%s event=learn_skipped reason=\"%s\"", ids.v[i], why);
            if (!store_learn_done(st, ids.v[i], false, why, err, sizeof err))
                log_warn("job=%s event=learn_mark_failed error=\"%s\"", ids.v[i], err);
            continue;
        }
        (*items)[*n].id = xstrdup(ids.v[i]);
        (*items)[*n].msg = m;
        (*items)[*n].len = len;
        (*n)++;
    }
    strlist_free(&ids);
}

void records_learn_done(store *st, const char *id, bool ok, const char *reply)
{
    char err[512];
    if (!store_learn_done(st, id, ok, reply, err, sizeof err))
        log_warn("job=%s event=learn_mark_failed error=\"%s\"", id, err);
}

void records_age(store *st, unsigned log_days, unsigned quarantine_days)
{
    char err[512];
    uint64_t nlog = 0, nquar = 0;
    if (!store_age(st, "message_log", log_days, &nlog, err, sizeof err) ||
        !store_age(st, "quarantine", quarantine_days, &nquar, err, sizeof err)) {
        log_warn("event=aging_failed error=\"%s\" log_deleted=%llu quarantine_deleted=%llu", err,
                 (unsigned long long)nlog, (unsigned long long)nquar);
        return;
    }
    log_info("event=aging log_deleted=%llu quarantine_deleted=%llu log_days=%u quarantine_days=%u",
             (unsigned long long)nlog, (unsigned long long)nquar, log_days, quarantine_days);
}
