/* milter.c - bulwark-milter: Postfix's SMTP-stage hook into the cluster.
 *
 * libmilter runs one thread per SMTP connection and calls the callbacks below.
 * They gather the envelope and the message exactly as received (header bytes
 * with SMFIP_HDR_LEADSPC, rebuilt as "Name:value\r\n", then the body); at end of
 * message one ScanJob (record=true) goes to the master through the shared
 * scanclient, and the verdict becomes Postfix's answer: accept with headers
 * (pass, tag), discard (quarantine, once the master committed it), 554 (reject)
 * or 451 (tempfail, no verdict, any error; fail_open accepts unscanned). The
 * libmilter callbacks take no user pointer, so the daemon's state is one static
 * context; per-connection state hangs off the SMFICTX (smfi_setpriv). */
#include "action.h"
#include "daemon.h"
#include "keys.h"
#include "log.h"
#include "milter_text.h"
#include "params.h"
#include "scanclient.h"
#include "util.h"
#include "zmqx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char host[128]; /* goes into job ids */
    char prefix[64]; /* header_prefix */
    char socket[512]; /* milter_socket as configured (Postfix's notation) */
    char spec[512]; /* the same in libmilter's notation */
    int64_t scan_timeout_ms, max_size;
    bool fail_open;
    int max_conns;

    pthread_rwlock_t gate; /* scans hold it shared; shutdown takes it exclusively */
    bool stopping; /* guarded by gate */
    scanclient *sc; /* guarded by gate */

    atomic_int conns;
    atomic_uint_fast64_t messages, accepted, tagged, quarantined, rejected, tempfailed, unscanned;

    pthread_mutex_t hk_lock; /* housekeeping thread: watchdog and status */
    pthread_cond_t hk_cond;
    bool hk_stop;
} milter_ctx;

static milter_ctx M;

typedef struct {
    char *client_ip, *client_name, *helo;
    bool leadspc;
    bool counted; /* holds one of max_conns */
    /* the current message */
    char *mail_from, *auth_user, *tls_version, *cipher;
    strlist rcpt;
    buf_t raw;
    bool too_big, in_body;
    char *subject; /* first Subject value as received */
    strlist own; /* names of received headers that carry our prefix, one per occurrence */
    uint64_t start_us;
} conn;

/* ---- small helpers ------------------------------------------------------------------ */

static void set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = s ? xstrdup(s) : NULL;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* "<a@b>" -> "a@b"; "<>" -> "". */
static char *strip_brackets(const char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
        return xstrndup(s + 1, n - 2);
    return xstrdup(s);
}

static char *macro(SMFICTX *ctx, const char *name)
{
    const char *v = smfi_getsymval(ctx, (char *)name);
    return v && *v ? xstrdup(v) : NULL;
}

static conn *conn_get(SMFICTX *ctx)
{
    conn *c = smfi_getpriv(ctx);
    if (!c) {
        c = xcalloc(1, sizeof *c);
        smfi_setpriv(ctx, c);
    }
    return c;
}

static void message_reset(conn *c)
{
    set_str(&c->mail_from, NULL);
    set_str(&c->auth_user, NULL);
    set_str(&c->tls_version, NULL);
    set_str(&c->cipher, NULL);
    set_str(&c->subject, NULL);
    strlist_free(&c->rcpt);
    strlist_free(&c->own);
    buf_free(&c->raw);
    c->too_big = c->in_body = false;
}

static void conn_free(conn **cp)
{
    conn *c = *cp;
    message_reset(c);
    free(c->client_ip);
    free(c->client_name);
    free(c->helo);
    free(c);
    *cp = NULL;
}

/* ---- connection and envelope ---------------------------------------------------------- */

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
    conn *c = conn_get(ctx);
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS);
    *pf1 = f1 & SMFIP_HDR_LEADSPC;
    *pf2 = *pf3 = 0;
    c->leadspc = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
    return SMFIS_CONTINUE;
}

static char *addr_text(const struct sockaddr *sa)
{
    char buf[INET6_ADDRSTRLEN] = "";
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
                  sizeof buf);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
                  sizeof buf);
    return xstrdup(buf);
}

static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
    conn *c = conn_get(ctx);
    set_str(&c->client_name, hostname);
    free(c->client_ip);
    c->client_ip = addr_text(hostaddr);
    if (!*c->client_ip)
        set_str(&c->client_ip, smfi_getsymval(ctx, (char *)"{client_addr}"));
    int now = atomic_fetch_add(&M.conns, 1) + 1;
    c->counted = true;
    if (M.max_conns > 0 && now > M.max_conns) {
        log_warn("event=too_many_connections limit=%d client=%s", M.max_conns,
                 or_empty(c->client_ip));
        smfi_setreply(ctx, "421", "4.3.2", "too many connections to the content filter");
        return SMFIS_TEMPFAIL;
    }
    return SMFIS_CONTINUE;
}

static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
    set_str(&conn_get(ctx)->helo, helo);
    return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
    conn *c = conn_get(ctx);
    message_reset(c);
    c->start_us = mono_us();
    c->mail_from = strip_brackets(argv[0] ? argv[0] : "");
    c->auth_user = macro(ctx, "{auth_authen}");
    c->tls_version = macro(ctx, "{tls_version}");
    c->cipher = macro(ctx, "{cipher}");
    return SMFIS_CONTINUE;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
    conn *c = conn_get(ctx);
    char *r = strip_brackets(argv[0] ? argv[0] : "");
    strlist_add(&c->rcpt, r);
    free(r);
    return SMFIS_CONTINUE;
}

/* ---- the message ----------------------------------------------------------------------- */

/* False (and the 552 reply set) once the message would exceed max_message_size. */
static bool room_for(SMFICTX *ctx, conn *c, size_t more)
{
    if (!c->too_big && c->raw.len + more <= (size_t)M.max_size)
        return true;
    if (!c->too_big)
        log_info("event=too_big queue_id=%s limit=%lld", or_empty(smfi_getsymval(ctx, (char *)"i")),
                 (long long)M.max_size);
    c->too_big = true;
    buf_free(&c->raw);
    smfi_setreply(ctx, "552", "5.3.4", "message too big for the content filter");
    return false;
}

static bool own_header(const char *name)
{
    size_t n = strlen(M.prefix);
    return strncasecmp(name, M.prefix, n) == 0 && name[n] == '-';
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
    conn *c = conn_get(ctx);
    if (!room_for(ctx, c, strlen(name) + strlen(value) + 4))
        return SMFIS_REJECT;
    milter_append_header(&c->raw, name, value, c->leadspc);
    if (!c->subject && strcasecmp(name, "Subject") == 0)
        c->subject = xstrdup(value);
    if (own_header(name))
        strlist_add(&c->own, name);
    return SMFIS_CONTINUE;
}

static sfsistat on_eoh(SMFICTX *ctx)
{
    conn *c = conn_get(ctx);
    if (!room_for(ctx, c, 2))
        return SMFIS_REJECT;
    buf_append(&c->raw, "\r\n", 2);
    c->in_body = true;
    return SMFIS_CONTINUE;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    conn *c = conn_get(ctx);
    if (!room_for(ctx, c, len))
        return SMFIS_REJECT;
    buf_append(&c->raw, chunk, len);
    return SMFIS_CONTINUE;
}

/* ---- the verdict ------------------------------------------------------------------------ */

typedef struct {
    char job_id[256];
    const char *queue_id;
    const char *action; /* what we did, for the log */
    char why[2 * MILTER_REPLY_MAX + 1];
} outcome;

static void add_header(SMFICTX *ctx, conn *c, const char *suffix, const char *value)
{
    char name[128];
    snprintf(name, sizeof name, "%s-%s", M.prefix, suffix);
    char *v = milter_header_value(value, c->leadspc);
    if (smfi_addheader(ctx, name, v) != MI_SUCCESS)
        log_warn("event=add_header_failed header=%s", name);
    free(v);
}

/* Deletes headers the sender put in under our prefix: only ours may be trusted. */
static void remove_own_headers(SMFICTX *ctx, conn *c)
{
    for (size_t i = c->own.n; i-- > 0;) {
        int idx = 0;
        for (size_t j = 0; j <= i; j++)
            idx += strcasecmp(c->own.v[j], c->own.v[i]) == 0;
        smfi_chgheader(ctx, c->own.v[i], idx, NULL);
    }
}

/* Deletes the fields the cluster found forged (Authentication-Results claiming our
 * authserv-id), the highest occurrence of a name first, so the lower numbers still
 * name the fields they named when the message was received. */
static void remove_result_headers(SMFICTX *ctx, const Bulwark__ScanResult *r)
{
    for (size_t i = r->n_remove_headers; i-- > 0;) {
        const Bulwark__HeaderRef *h = r->remove_headers[i];
        if (!h->name || !milter_header_name_ok(h->name) || !h->index || h->index > INT32_MAX)
            continue;
        if (smfi_chgheader(ctx, h->name, (int)h->index, NULL) != MI_SUCCESS)
            log_warn("event=remove_header_failed header=%s index=%u", h->name, h->index);
    }
}

/* The value the cluster suggested for `<X-Bulwark>-suffix`, or NULL. */
static const char *result_header(const Bulwark__ScanResult *r, const char *suffix)
{
    for (size_t i = 0; i < r->n_add_headers; i++) {
        const Bulwark__Header *h = r->add_headers[i];
        if (h->name && h->value && str_iprefix(h->name, "X-Bulwark-") &&
            strcasecmp(h->name + 10, suffix) == 0)
            return h->value;
    }
    return NULL;
}

static char *top_symbols(const Bulwark__ScanResult *r)
{
    buf_t b = {0};
    buf_puts(&b, "");
    for (size_t i = 0; i < r->n_symbols && i < 10; i++)
        buf_printf(&b, "%s%s(%.2f)", i ? ", " : "", or_empty(r->symbols[i]->name),
                   r->symbols[i]->score);
    return b.data;
}

/* Id, Score, Status and Symbols (the cluster's values where it sent them), then any
 * other header the cluster asked for. */
static void add_verdict_headers(SMFICTX *ctx, conn *c, const char *job_id,
                                const Bulwark__ScanResult *r)
{
    remove_own_headers(ctx, c);
    remove_result_headers(ctx, r);
    char score[32], status[128];
    snprintf(score, sizeof score, "%.2f", r->score);
    snprintf(status, sizeof status, "%s score=%.2f", action_name(r->action), r->score);
    char *syms = top_symbols(r);
    const char *v;
    add_header(ctx, c, "Id", job_id);
    add_header(ctx, c, "Score", (v = result_header(r, "Score")) ? v : score);
    add_header(ctx, c, "Status", (v = result_header(r, "Status")) ? v : status);
    add_header(ctx, c, "Symbols", (v = result_header(r, "Symbols")) ? v : syms);
    free(syms);
    static const char *done[] = {"Id", "Score", "Status", "Symbols"};
    for (size_t i = 0; i < r->n_add_headers; i++) {
        const Bulwark__Header *h = r->add_headers[i];
        if (!h->name || !h->value || !milter_header_name_ok(h->name))
            continue;
        bool ours = str_iprefix(h->name, "X-Bulwark-");
        bool skip = false;
        for (size_t j = 0; ours && j < 4; j++)
            skip |= strcasecmp(h->name + 10, done[j]) == 0;
        if (skip)
            continue;
        if (ours) {
            add_header(ctx, c, h->name + 10, h->value);
        } else if (strcasecmp(h->name, "DKIM-Signature") == 0 ||
                   strcasecmp(h->name, "Authentication-Results") == 0) {
            /* on top, as signers do (and RFC 8601 5 asks of A-R), folded as written */
            char *val = milter_folded_value(h->value, c->leadspc);
            if (!val || smfi_insheader(ctx, 0, h->name, val) != MI_SUCCESS)
                log_warn("event=add_header_failed header=%s", h->name);
            free(val);
        } else {
            char *val = milter_header_value(h->value, c->leadspc);
            smfi_addheader(ctx, h->name, val);
            free(val);
        }
    }
}

static void tag_subject(SMFICTX *ctx, conn *c, const char *prefix)
{
    char *v = milter_subject(prefix, c->subject, c->leadspc);
    if (!v)
        return;
    if (c->subject)
        smfi_chgheader(ctx, "Subject", 1, v);
    else
        smfi_addheader(ctx, "Subject", v);
    free(v);
}

/* No usable verdict: 451, or with fail_open accept and say so. */
static sfsistat unscanned(SMFICTX *ctx, conn *c, outcome *o, const char *reason)
{
    milter_reply_text(reason, "content filter unavailable", o->why, sizeof o->why);
    if (M.fail_open) {
        remove_own_headers(ctx, c);
        char status[sizeof o->why + 16];
        snprintf(status, sizeof status, "unscanned (%s)",
                 reason && *reason ? reason : "no verdict");
        add_header(ctx, c, "Id", o->job_id);
        add_header(ctx, c, "Status", status);
        o->action = "unscanned";
        atomic_fetch_add(&M.unscanned, 1);
        return SMFIS_CONTINUE;
    }
    smfi_setreply(ctx, "451", "4.7.1", o->why);
    o->action = "tempfail";
    atomic_fetch_add(&M.tempfailed, 1);
    return SMFIS_TEMPFAIL;
}

static sfsistat apply_verdict(SMFICTX *ctx, conn *c, outcome *o, const Bulwark__ScanResult *r)
{
    switch (r->action) {
    case BULWARK__ACTION__ACTION_PASS:
    case BULWARK__ACTION__ACTION_TAG:
        add_verdict_headers(ctx, c, o->job_id, r);
        if (r->action == BULWARK__ACTION__ACTION_TAG && r->subject_prefix && *r->subject_prefix)
            tag_subject(ctx, c, r->subject_prefix);
        o->action = action_name(r->action);
        atomic_fetch_add(r->action == BULWARK__ACTION__ACTION_TAG ? &M.tagged : &M.accepted, 1);
        return SMFIS_CONTINUE;
    case BULWARK__ACTION__ACTION_QUARANTINE:
        /* Discarding is only safe once the master holds the message. */
        if (!r->recorded)
            return unscanned(ctx, c, o, "quarantine could not be recorded");
        o->action = "quarantine";
        atomic_fetch_add(&M.quarantined, 1);
        return SMFIS_DISCARD;
    case BULWARK__ACTION__ACTION_REJECT:
        milter_reply_text(r->reason, "message rejected", o->why, sizeof o->why);
        smfi_setreply(ctx, "554", "5.7.1", o->why);
        o->action = "reject";
        atomic_fetch_add(&M.rejected, 1);
        return SMFIS_REJECT;
    default: return unscanned(ctx, c, o, r->reason && *r->reason ? r->reason : "scan failed");
    }
}

static void make_job_id(char *out, size_t n, const char *queue_id)
{
    uint8_t rnd[8];
    char hex[17];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        log_panic("event=getrandom error=\"%s\"", strerror(errno));
    zx_hex(rnd, sizeof rnd, hex);
    snprintf(out, n, "%s-%s-%s", M.host, queue_id, hex);
}

static void fill_job(conn *c, Bulwark__ScanJob *job, Bulwark__Envelope *env, const outcome *o)
{
    env->client_ip = (char *)or_empty(c->client_ip);
    env->client_name = (char *)or_empty(c->client_name);
    env->helo = (char *)or_empty(c->helo);
    env->mail_from = (char *)or_empty(c->mail_from);
    env->rcpt = c->rcpt.v;
    env->n_rcpt = c->rcpt.n;
    env->auth_user = (char *)or_empty(c->auth_user);
    env->tls = c->tls_version != NULL;
    env->tls_version = (char *)or_empty(c->tls_version);
    env->tls_cipher = (char *)or_empty(c->cipher);
    env->queue_id = (char *)o->queue_id;
    job->job_id = (char *)o->job_id;
    job->envelope = env;
    job->message.data = (uint8_t *)(c->raw.data ? c->raw.data : "");
    job->message.len = c->raw.len;
    job->submitted_ms = now_ms();
    job->deadline_ms = job->submitted_ms + (uint64_t)M.scan_timeout_ms;
    job->record = true;
}

/* Submits the job unless shutting down; the gate keeps the scanclient alive. */
static Bulwark__ScanResult *submit(conn *c, outcome *o, char *err, size_t errlen)
{
    Bulwark__ScanJob job = BULWARK__SCAN_JOB__INIT;
    Bulwark__Envelope env = BULWARK__ENVELOPE__INIT;
    fill_job(c, &job, &env, o);
    Bulwark__ScanResult *r = NULL;
    pthread_rwlock_rdlock(&M.gate);
    if (M.stopping)
        snprintf(err, errlen, "content filter shutting down");
    else /* a little longer than the deadline: the master's own tempfail comes first */
        scanclient_scan(M.sc, &job, M.scan_timeout_ms + 500, &r, err, errlen);
    pthread_rwlock_unlock(&M.gate);
    return r;
}

static sfsistat on_eom(SMFICTX *ctx)
{
    conn *c = conn_get(ctx);
    if (c->too_big)
        return SMFIS_REJECT;
    atomic_fetch_add(&M.messages, 1);
    outcome o = {.queue_id = smfi_getsymval(ctx, (char *)"i")};
    if (!o.queue_id || !*o.queue_id)
        o.queue_id = "NOQUEUE";
    make_job_id(o.job_id, sizeof o.job_id, o.queue_id);
    char err[256] = "";
    Bulwark__ScanResult *r = submit(c, &o, err, sizeof err);
    sfsistat rc = r ? apply_verdict(ctx, c, &o, r) : unscanned(ctx, c, &o, err);
    log_info("job=%s event=verdict queue_id=%s action=%s score=%.2f ms=%llu size=%zu from=<%s> "
             "rcpts=%zu client=%s node=%s recorded=%s%s%s%s",
             o.job_id, o.queue_id, o.action, r ? r->score : 0.0,
             (unsigned long long)((mono_us() - c->start_us) / 1000), c->raw.len,
             or_empty(c->mail_from), c->rcpt.n, or_empty(c->client_ip),
             r && r->node_id ? r->node_id : "-", r && r->recorded ? "yes" : "no",
             o.why[0] ? " reason=\"" : "", o.why, o.why[0] ? "\"" : "");
    scanclient_result_free(&r);
    message_reset(c);
    return rc;
}

static sfsistat on_abort(SMFICTX *ctx)
{
    message_reset(conn_get(ctx));
    return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
    conn *c = smfi_getpriv(ctx);
    if (!c)
        return SMFIS_CONTINUE;
    if (c->counted)
        atomic_fetch_sub(&M.conns, 1);
    smfi_setpriv(ctx, NULL);
    conn_free(&c);
    return SMFIS_CONTINUE;
}

/* ---- the daemon ---------------------------------------------------------------------- */

static void *housekeeping_main(void *arg)
{
    uint64_t wd_us = daemon_watchdog_us();
    uint64_t period_ms = wd_us ? (wd_us / 2000 < 1000 ? wd_us / 2000 : 1000) : 1000;
    pthread_mutex_lock(&M.hk_lock);
    while (!M.hk_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(period_ms / 1000);
        ts.tv_nsec += (long)(period_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&M.hk_cond, &M.hk_lock, &ts);
        if (M.hk_stop)
            break;
        scanclient_stats st;
        scanclient_get_stats(M.sc, &st);
        daemon_notify("WATCHDOG=1\nSTATUS=master=%s messages=%llu waiting=%u connections=%d",
                      st.connected ? "connected" : "unreachable",
                      (unsigned long long)atomic_load(&M.messages), st.waiting,
                      atomic_load(&M.conns));
    }
    pthread_mutex_unlock(&M.hk_lock);
    return NULL;
}

static void load_settings(params *cfg)
{
    if (gethostname(M.host, sizeof M.host - 1) != 0 || !M.host[0])
        snprintf(M.host, sizeof M.host, "localhost");
    char *dot = strchr(M.host, '.');
    if (dot)
        *dot = '\0';
    snprintf(M.prefix, sizeof M.prefix, "%s", params_str(cfg, "header_prefix"));
    if (!milter_header_name_ok(M.prefix) || strlen(M.prefix) > 40)
        log_fatal("event=config error=\"header_prefix '%s' is not a header name of at most 40 "
                  "characters\"",
                  M.prefix);
    snprintf(M.socket, sizeof M.socket, "%s", params_str(cfg, "milter_socket"));
    if (!milter_conn_spec(M.socket, M.spec, sizeof M.spec))
        log_fatal("event=config error=\"milter_socket '%s' is not inet:HOST:PORT, "
                  "inet6:HOST:PORT or unix:PATH\"",
                  M.socket);
    M.scan_timeout_ms = params_int(cfg, "scan_timeout");
    M.max_size = params_int(cfg, "max_message_size");
    M.fail_open = params_bool(cfg, "fail_open");
    M.max_conns = (int)params_int(cfg, "threads");
}

static void load_keys(params *cfg, curve_key *mine, curve_key *server)
{
    char err[1024];
    if (!key_load_client(params_str(cfg, "curve_secret_key"), params_str(cfg, "curve_server_key"),
                         mine, server, err, sizeof err))
        log_fatal("event=config error=\"%s\"", err);
}

static struct smfiDesc milter_desc = {
    .xxfi_name = "bulwark",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS,
    .xxfi_connect = on_connect,
    .xxfi_helo = on_helo,
    .xxfi_envfrom = on_envfrom,
    .xxfi_envrcpt = on_envrcpt,
    .xxfi_header = on_header,
    .xxfi_eoh = on_eoh,
    .xxfi_body = on_body,
    .xxfi_eom = on_eom,
    .xxfi_abort = on_abort,
    .xxfi_close = on_close,
    .xxfi_negotiate = on_negotiate,
};

static void open_socket(void)
{
    if (smfi_setconn(M.spec) != MI_SUCCESS || smfi_register(milter_desc) != MI_SUCCESS)
        log_fatal("event=config error=\"libmilter refused milter_socket '%s'\"", M.socket);
    if (smfi_opensocket(true) != MI_SUCCESS)
        log_fatal("event=listen socket=%s error=\"cannot open the milter socket\"", M.socket);
    if (strncmp(M.socket, "unix:", 5) == 0 || strncmp(M.socket, "local:", 6) == 0)
        chmod(strchr(M.socket, ':') + 1, 0660);
}

/* libmilter's own signal thread turns SIGTERM/SIGINT/SIGHUP into smfi_stop; every
 * other thread must have them blocked, or the kernel may pick one to kill us. */
static void block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static scanclient *start_client(params *cfg, const curve_key *mine, const curve_key *server)
{
    bool curve = params_bool(cfg, "curve_enable");
    scanclient_opts o = {.endpoint = params_str(cfg, "master_endpoint"),
                         .mine = curve ? mine : NULL,
                         .server = curve ? server : NULL,
                         .max_frame = 16 * 1024 * 1024};
    char err[512];
    scanclient *sc = scanclient_new(&o, err, sizeof err);
    if (!sc)
        log_fatal("event=config error=\"%s\"", err);
    return sc;
}

/* Waits for scans in progress, then fails later ones fast and stops the client. */
static void shut_down(pthread_t hk)
{
    pthread_rwlock_wrlock(&M.gate);
    M.stopping = true;
    pthread_rwlock_unlock(&M.gate);
    pthread_mutex_lock(&M.hk_lock);
    M.hk_stop = true;
    pthread_cond_signal(&M.hk_cond);
    pthread_mutex_unlock(&M.hk_lock);
    pthread_join(hk, NULL);
    scanclient_stats st;
    scanclient_get_stats(M.sc, &st);
    scanclient_destroy(&M.sc);
    log_info("event=stopped messages=%llu accepted=%llu tagged=%llu quarantined=%llu "
             "rejected=%llu tempfailed=%llu unscanned=%llu resent=%llu dropped=%llu",
             (unsigned long long)M.messages, (unsigned long long)M.accepted,
             (unsigned long long)M.tagged, (unsigned long long)M.quarantined,
             (unsigned long long)M.rejected, (unsigned long long)M.tempfailed,
             (unsigned long long)M.unscanned, (unsigned long long)st.resent,
             (unsigned long long)st.dropped);
}

int main(int argc, char **argv)
{
    bool check_only;
    params *cfg = daemon_config(argc, argv, "bulwark-milter", &params_milter,
                                "/etc/bulwark/milter.conf", &check_only);
    load_settings(cfg);
    curve_key mine, server;
    if (params_bool(cfg, "curve_enable"))
        load_keys(cfg, &mine, &server);
    if (check_only) {
        printf("bulwark-milter: configuration OK\n");
        params_destroy(&cfg);
        return 0;
    }
    block_signals();
    open_socket();
    daemon_drop_privileges(params_str(cfg, "user"));
    /* Writer preference: under steady traffic shutdown must still get the gate. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&M.gate, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&M.hk_lock, NULL);
    pthread_cond_init(&M.hk_cond, NULL);
    M.sc = start_client(cfg, &mine, &server);
    log_info("event=started socket=%s master=%s scan_timeout_ms=%lld fail_open=%s version=%s",
             M.socket, params_str(cfg, "master_endpoint"), (long long)M.scan_timeout_ms,
             M.fail_open ? "yes" : "no", BULWARK_VERSION);
    params_destroy(&cfg);
    pthread_t hk;
    if (pthread_create(&hk, NULL, housekeeping_main, NULL) != 0)
        log_fatal("event=thread_create error=\"%s\"", strerror(errno));
    daemon_notify("READY=1\nSTATUS=accepting connections");
    int rc = smfi_main();
    log_info("event=stopping rc=%d", rc);
    daemon_notify("STOPPING=1");
    shut_down(hk);
    return rc == MI_SUCCESS ? 0 : 1;
}
