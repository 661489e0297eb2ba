/* recorder.c - the thread that writes the message log and quarantine rows.
 *
 * It waits on its end of an inproc PAIR for items, then takes everything else
 * already waiting (up to RECORDER_BATCH) and writes the whole batch in one
 * transaction: one commit, one fsync, for many messages (group commit). Rows are
 * keyed by job id and inserted with INSERT IGNORE, so a job scanned twice is
 * recorded once and the first verdict wins: a later result for the same job is
 * answered with the stored action, and writes no second quarantine copy. If a
 * batch fails while the server is still there, each item is retried in its own
 * transaction so one bad row cannot fail the others; an item that cannot be
 * written is answered tempfail, never accepted. Messages are zstd-compressed. A result
 * carrying a DMARC evaluation whose policy asks for reports (rua=) also gets its
 * dmarc_result row, in the same transaction. */
#include "recorder.h"
#include "action.h"
#include "hdr.h"
#include "json.h"
#include "log.h"
#include "mailbox.h"
#include "records.h"
#include "store.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

struct recorder {
    mailbox *mb;
    pthread_t thread;
    bool running;
    store *st;
    char master_id[128];
    uint64_t retry_us, next_connect_us;
};

/* One item while its batch is written. */
typedef struct {
    recorder_item *it;
    packet *job, *res;
    store_record rec; /* strings owned here */
    char *z; /* compressed message, for a quarantine verdict */
    size_t zlen;
    bool written;
    store_record stored; /* the verdict recorded earlier, when `written` found one */
    bool earlier;
    store_dmarc dmarc; /* strings owned here */
    bool has_dmarc; /* the From domain asks for aggregate reports */
} prep;

/* ---- building the rows ------------------------------------------------------------- */

/* A copy that is valid UTF-8, without CR or LF, and at most max bytes (cut at a
 * character boundary), fit for a VARCHAR column. */
static char *clean(const char *s, size_t max)
{
    char *c = xstrdup(s ? s : "");
    utf8_scrub(c);
    for (char *p = c; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    size_t n = strlen(c);
    if (n > max) {
        n = max;
        while (n && ((unsigned char)c[n] & 0xc0) == 0x80)
            n--;
        c[n] = '\0';
    }
    return c;
}

static char *join_rcpt(const Bulwark__Envelope *env)
{
    buf_t b = {0};
    buf_puts(&b, "");
    for (size_t i = 0; env && i < env->n_rcpt; i++) {
        char *r = clean(env->rcpt[i], 512);
        buf_printf(&b, "%s%s", i ? "\n" : "", r);
        free(r);
    }
    return b.data;
}

static char *symbols_json(const Bulwark__ScanResult *r)
{
    buf_t b = {0};
    json_symbols_write_pb(&b, r->symbols, r->n_symbols);
    return b.data;
}

static void build_record(prep *p)
{
    const Bulwark__ScanJob *j = p->job->job;
    const Bulwark__ScanResult *r = p->res->result;
    const Bulwark__Envelope *env = j->envelope;
    hdr_block *h = hdr_parse((const char *)j->message.data, j->message.len);
    store_record *rec = &p->rec;
    rec->id = clean(j->job_id, 200);
    rec->time_ms = now_ms();
    rec->client_ip = clean(env ? env->client_ip : "", 64);
    rec->helo = clean(env ? env->helo : "", 255);
    rec->sender = clean(env ? env->mail_from : "", 512);
    rec->rcpt = join_rcpt(env);
    rec->subject = clean(hdr_get(h, "Subject"), 1000);
    rec->message_id = clean(hdr_get(h, "Message-ID"), 512);
    rec->size = j->message.len;
    rec->score = r->score;
    /* An action outside the enum (a newer node) is stored as what the milter did. */
    rec->action = xstrdup((unsigned)r->action <= BULWARK__ACTION__ACTION_TEMPFAIL
                              ? action_name(r->action)
                              : action_name(BULWARK__ACTION__ACTION_TEMPFAIL));
    rec->symbols = symbols_json(r);
    rec->node_id = clean(r->node_id, 128);
    rec->config_version = r->config_version;
    rec->scan_us = r->scan_us;
    rec->queue_id = clean(env ? env->queue_id : "", 64);
    rec->reason = clean(r->reason, 1000);
    hdr_destroy(&h);
}

/* The domain of an address, lower case ("" for none). */
static char *addr_domain(const char *a)
{
    const char *at = a ? strrchr(a, '@') : NULL;
    char *d = clean(at ? at + 1 : "", 255);
    for (char *c = d; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return d;
}

/* The DMARC row of a result whose policy has rua= (aggregate reports wanted). */
static void build_dmarc(prep *p)
{
    const Bulwark__DmarcResult *d = p->res->result->dmarc;
    const Bulwark__Envelope *env = p->job->job->envelope;
    if (!d || !d->n_rua || !d->policy_domain || !*d->policy_domain)
        return;
    store_dmarc *r = &p->dmarc;
    buf_t rua = {0}, dkim = {0};
    buf_puts(&rua, "");
    buf_puts(&dkim, "");
    for (size_t i = 0; i < d->n_rua; i++)
        buf_printf(&rua, "%s%s", i ? "," : "", d->rua[i]);
    for (size_t i = 0; i < d->n_dkim; i++) {
        char *dom = clean(d->dkim[i]->domain, 255), *sel = clean(d->dkim[i]->selector, 128);
        char *res = clean(d->dkim[i]->result, 16);
        for (char *c = sel; *c; c++)
            *c = *c == '\t' ? ' ' : *c;
        if (*dom && !strchr(dom, '\t'))
            buf_printf(&dkim, "%s\t%s\t%s\n", dom, sel, res);
        free(dom);
        free(sel);
        free(res);
    }
    r->id = clean(p->rec.id, 200);
    r->time_ms = p->rec.time_ms;
    r->policy_domain = clean(d->policy_domain, 255);
    r->from_domain = clean(d->from_domain, 255);
    r->rua = clean(rua.data, 1100);
    r->adkim = clean(d->adkim, 1);
    r->aspf = clean(d->aspf, 1);
    r->p = clean(d->p, 16);
    r->sp = clean(d->sp, 16);
    r->pct = d->pct > 100 ? 100 : d->pct;
    r->fo = clean(d->fo, 16);
    r->source_ip = clean(env ? env->client_ip : "", 64);
    r->envelope_from = addr_domain(env ? env->mail_from : NULL);
    r->envelope_to = addr_domain(env && env->n_rcpt ? env->rcpt[0] : NULL);
    r->result = clean(d->result, 16);
    r->disposition = clean(d->disposition, 16);
    r->dkim_aligned = xstrdup(d->dkim_aligned ? "pass" : "fail");
    r->spf_aligned = xstrdup(d->spf_aligned ? "pass" : "fail");
    r->override = clean(d->override, 32);
    r->override_comment = clean(d->override_comment, 255);
    r->spf_domain = clean(d->spf_domain, 255);
    r->spf_scope = clean(d->spf_scope, 8);
    r->spf_result = clean(d->spf_result, 16);
    r->dkim = dkim.data;
    buf_free(&rua);
    p->has_dmarc = true;
}

static bool compress_message(prep *p)
{
    const ProtobufCBinaryData *m = &p->job->job->message;
    size_t cap = ZSTD_compressBound(m->len);
    p->z = xmalloc(cap);
    size_t n = ZSTD_compress(p->z, cap, m->data, m->len, 3);
    if (ZSTD_isError(n)) {
        log_warn("job=%s event=compress_failed error=\"%s\"", p->it->job_id, ZSTD_getErrorName(n));
        return false;
    }
    p->zlen = n;
    return true;
}

/* Decodes the frames and builds the rows; false if the item cannot be recorded. */
static bool prepare(prep *p)
{
    recorder_item *it = p->it;
    p->job = zx_decode(zmq_msg_data(&it->job), zmq_msg_size(&it->job));
    p->res = zx_decode(zmq_msg_data(&it->result), zmq_msg_size(&it->result));
    if (!p->job || !p->res || p->job->body_case != BULWARK__PACKET__BODY_JOB ||
        p->res->body_case != BULWARK__PACKET__BODY_RESULT) {
        log_warn("job=%s event=record_failed error=\"frames do not decode\"", it->job_id);
        return false;
    }
    build_record(p);
    build_dmarc(p);
    return p->res->result->action != BULWARK__ACTION__ACTION_QUARANTINE || compress_message(p);
}

static void prep_clear(prep *p)
{
    zx_packet_free(&p->job);
    zx_packet_free(&p->res);
    store_record_free(&p->rec);
    store_record_free(&p->stored);
    store_dmarc_free(&p->dmarc);
    free(p->z);
    memset(p, 0, sizeof *p);
}

/* ---- writing -------------------------------------------------------------------------- */

static bool ensure_connected(recorder *r, char *err, size_t errlen)
{
    if (store_ok(r->st))
        return true;
    uint64_t now = mono_us();
    if (now < r->next_connect_us) {
        snprintf(err, errlen, "database unavailable");
        return false;
    }
    r->next_connect_us = now + r->retry_us;
    if (!store_connect(r->st, err, errlen))
        return false;
    log_info("event=db_connected thread=recorder");
    return true;
}

/* The rows of one item, inside the caller's transaction. */
static bool write_item(recorder *r, prep *p, char *err, size_t errlen)
{
    bool inserted;
    if (!store_log_insert(r->st, &p->rec, &inserted, err, errlen))
        return false;
    if (!inserted) { /* recorded before: that verdict stands */
        store_record_free(&p->stored);
        if (!store_log_verdict(r->st, p->rec.id, &p->stored, &p->earlier, err, errlen))
            return false;
        log_info("job=%s event=recorded_before action=%s", p->it->job_id,
                 p->earlier ? p->stored.action : "?");
        return true;
    }
    if (p->z && !store_quarantine_insert(r->st, &p->rec, p->z, p->zlen, err, errlen))
        return false;
    if (p->has_dmarc && !store_dmarc_insert(r->st, &p->dmarc, err, errlen))
        return false;
    return true;
}

/* Writes items v[0..n) in one transaction; true when committed. */
static bool write_batch(recorder *r, prep **v, size_t n, char *err, size_t errlen)
{
    if (!ensure_connected(r, err, errlen) || !store_begin(r->st, err, errlen))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!write_item(r, v[i], err, errlen)) {
            store_rollback(r->st);
            return false;
        }
    }
    if (!store_commit(r->st, err, errlen)) {
        store_rollback(r->st);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        v[i]->written = true;
    return true;
}

/* ---- replies ---------------------------------------------------------------------------- */

/* The result as the node sent it, with `recorded` set and, for a job recorded
 * before, the stored action, score and reason. */
static void pack_recorded(prep *p, zmq_msg_t *out)
{
    Bulwark__ScanResult *res = p->res->result;
    char *reason = res->reason;
    res->recorded = true;
    if (p->earlier) {
        res->action = records_action_parse(p->stored.action);
        res->score = p->stored.score;
        res->reason = p->stored.reason;
    }
    zx_pack(p->res, out);
    res->reason = reason; /* the unpacked message frees its own string */
}

static void finish_item(recorder *r, prep *p, const char *err)
{
    recorder_item *it = p->it;
    it->recorded = p->written;
    if (p->written) {
        pack_recorded(p, &it->reply);
        log_debug("job=%s event=recorded action=%s", it->job_id, p->rec.action);
    } else {
        log_warn("job=%s event=record_failed error=\"%s\"", it->job_id, err ? err : "?");
        zx_pack_tempfail(it->job_id, "could not record the verdict", r->master_id, 0, &it->reply);
    }
    zmq_msg_close(&it->job);
    zmq_msg_close(&it->result);
    zmq_msg_init(&it->job);
    zmq_msg_init(&it->result);
}

/* ---- the thread ------------------------------------------------------------------------- */

static void process(recorder *r, recorder_item **items, size_t n)
{
    prep *pv = xcalloc(n, sizeof *pv);
    prep **ok = xcalloc(n, sizeof *ok);
    size_t nok = 0;
    char err[512] = "";
    uint64_t t0 = mono_us();
    for (size_t i = 0; i < n; i++) {
        pv[i].it = items[i];
        if (prepare(&pv[i]))
            ok[nok++] = &pv[i];
    }
    if (nok && !write_batch(r, ok, nok, err, sizeof err) && nok > 1 && store_ok(r->st)) {
        log_warn("event=record_batch_failed items=%zu error=\"%s\" retry=each", nok, err);
        for (size_t i = 0; i < nok; i++)
            write_batch(r, &ok[i], 1, err, sizeof err);
    }
    for (size_t i = 0; i < n; i++) {
        finish_item(r, &pv[i], err[0] ? err : "the message could not be read");
        prep_clear(&pv[i]);
        mailbox_answer(r->mb, items[i]);
    }
    log_debug("event=record_batch items=%zu us=%llu", n, (unsigned long long)(mono_us() - t0));
    free(ok);
    free(pv);
}

static void *recorder_main(void *arg)
{
    recorder *r = arg;
    recorder_item **batch = xcalloc(RECORDER_BATCH, sizeof *batch);
    bool stop = false;
    while (!stop) {
        void *it;
        if (!mailbox_take(r->mb, -1, &it))
            continue;
        size_t n = 0;
        if (!it)
            break;
        batch[n++] = it;
        while (n < RECORDER_BATCH && mailbox_take(r->mb, 0, &it)) {
            if (!it) {
                stop = true;
                break;
            }
            batch[n++] = it;
        }
        process(r, batch, n);
    }
    free(batch);
    store_destroy(&r->st);
    return NULL;
}

/* ---- the main thread's side --------------------------------------------------------------- */

recorder *recorder_new(void *ctx, const params *cfg, const char *master_id)
{
    recorder *r = xcalloc(1, sizeof *r);
    snprintf(r->master_id, sizeof r->master_id, "%s", master_id);
    r->retry_us = (uint64_t)params_int(cfg, "db_retry") * 1000;
    r->st = store_new(cfg);
    r->mb = mailbox_new(ctx, "recorder", RECORDER_MAX_ITEMS);
    if (pthread_create(&r->thread, NULL, recorder_main, r) != 0)
        log_fatal("event=thread_create error=\"recorder\"");
    r->running = true;
    return r;
}

void recorder_stop(recorder *r)
{
    if (!r->running)
        return;
    mailbox_stop(r->mb);
    pthread_join(r->thread, NULL);
    r->running = false;
}

void recorder_destroy(recorder **rp)
{
    recorder *r = *rp;
    if (!r)
        return;
    recorder_stop(r);
    recorder_item *it;
    while ((it = recorder_recv(r)))
        recorder_item_free(&it);
    mailbox_destroy(&r->mb);
    free(r);
    *rp = NULL;
}

void *recorder_socket(recorder *r)
{
    return mailbox_main_socket(r->mb);
}

recorder_item *recorder_item_new(const void *client, size_t client_len, zmq_msg_t *job,
                                 zmq_msg_t *result, const char *job_id)
{
    recorder_item *it = xcalloc(1, sizeof *it);
    it->client_len = client_len > sizeof it->client ? sizeof it->client : client_len;
    memcpy(it->client, client, it->client_len);
    snprintf(it->job_id, sizeof it->job_id, "%s", job_id);
    zmq_msg_init(&it->job);
    zmq_msg_move(&it->job, job);
    zmq_msg_init(&it->result);
    zmq_msg_move(&it->result, result);
    zmq_msg_init(&it->reply);
    return it;
}

void recorder_item_free(recorder_item **itp)
{
    recorder_item *it = *itp;
    if (!it)
        return;
    zmq_msg_close(&it->job);
    zmq_msg_close(&it->result);
    zmq_msg_close(&it->reply);
    free(it);
    *itp = NULL;
}

bool recorder_submit(recorder *r, recorder_item *it)
{
    return r->running && mailbox_post(r->mb, it);
}

recorder_item *recorder_recv(recorder *r)
{
    return mailbox_collect(r->mb);
}

size_t recorder_pending(const recorder *r)
{
    return mailbox_out(r->mb);
}
