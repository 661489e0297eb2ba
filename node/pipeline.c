/* pipeline.c - configuration generations and the scan of one message.
 *
 * pipeline_new() copies the cluster parameters, asks each enabled check to build
 * its state, and fixes the weight of every registered symbol (default, or the
 * `score.NAME` override). scan_run() calls each enabled check's start hook (where
 * checks submit their DNS lookups to the task's batch, so they are in flight
 * together), then runs the checks in registry order on a task whose allocations all
 * live in one arena, then the policy: the total score is
 * compared with the tag/quarantine/reject thresholds and combined with any action
 * a check forced; the most severe wins. The result is a ScanResult ready to send. */
#include "pipeline.h"
#include "arena.h"
#include "authres.h"
#include "checks/checks.h"
#include "dict.h"
#include "json.h"
#include "learn.h"
#include "log.h"
#include "message.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Order matters only for cost: cheap checks first; the ones that read every file of
 * the message (office, ClamAV) last. The policy does not depend on the order, but the
 * rule engine's meta rules see only symbols of checks before it (DKIM's, for one). */
static const check_def *const registry[] = {
    &check_size,        &check_headers,  &check_mime,   &check_gtube,  &check_html,
    &check_attachments, &check_archives, &check_office, &check_clamav, &check_spf,
    &check_dkim,        &check_arc,      &check_dmarc,  &check_rbl,    &check_dnscheck,
    &check_rules,       &check_bayes,    &check_fuzzy,  &check_rspamd,
};
#define NCHECKS (sizeof registry / sizeof registry[0])

typedef struct {
    const symbol_def *def;
    double weight;
} symbol_weight;

struct pipeline {
    atomic_int refs;
    uint64_t version;
    params *cfg;
    void *state[NCHECKS];
    bool enabled[NCHECKS];
    dict *weights; /* symbol name -> symbol_weight */
    double tag, quarantine, reject;
    const char *subject_prefix, *reject_message;
    walk_limits walk;
    dict *scopes; /* "domain:example.org" / "user:a@example.org" -> scoped_policy */
    char authserv_id[256]; /* auth.authserv_id, or this host's name */
};

/* Per-domain / per-user policy (policy.domain.D.* / policy.user.A.*); NaN = not set. */
enum { SP_TAG, SP_QUARANTINE, SP_REJECT, SP_ADJUST, SP_N };
typedef struct {
    double v[SP_N];
} scoped_policy;

#define MAX_SYMBOLS 256
#define MAX_REMOVED 16 /* forged Authentication-Results fields deleted per message */

struct scan_task {
    pipeline *pl;
    arena *a;
    const char *job_id;
    const Bulwark__Envelope *env;
    const uint8_t *raw;
    size_t len;
    hdr_block *hdrs;
    msg_model *msg;
    file_set *files;
    time_t now;
    Bulwark__ScanResult result;
    Bulwark__Symbol *symv[MAX_SYMBOLS];
    Bulwark__Symbol symbols[MAX_SYMBOLS];
    Bulwark__Header *hdrv[4 + TASK_MAX_HEADERS];
    Bulwark__Header headers[4 + TASK_MAX_HEADERS];
    Bulwark__HeaderRef *remv[MAX_REMOVED];
    Bulwark__HeaderRef removed[MAX_REMOVED];
    bool policy_done; /* the policy's own header fields are in */
    size_t dropped_symbols;
    Bulwark__Action forced;
    const char *forced_reason;
    uint64_t deadline_ms; /* epoch ms; 0: none */
    dns_batch *dns; /* made by task_dns on first use */
    bool dns_tried;
    auth_results auth;
    void *slots[NCHECKS]; /* task_slot: what a check keeps from its start to its run */
};

const check_def *const *pipeline_checks(size_t *n)
{
    *n = NCHECKS;
    return registry;
}

/* Collects the scoped policy keys of the configuration into p->scopes. */
static void load_scopes(pipeline *p)
{
    const char *key, *value;
    for (size_t it = 0; params_next_set(p->cfg, &it, &key, &value);) {
        char scope[300];
        const char *what = params_scoped_key(key, scope, sizeof scope);
        if (!what)
            continue;
        scoped_policy *sp = dict_get(p->scopes, scope);
        if (!sp) {
            sp = xmalloc(sizeof *sp);
            for (int k = 0; k < SP_N; k++)
                sp->v[k] = NAN;
            dict_set(p->scopes, scope, sp);
        }
        double v = strtod(value, NULL);
        if (strcmp(what, "tag_score") == 0)
            sp->v[SP_TAG] = v;
        else if (strcmp(what, "quarantine_score") == 0)
            sp->v[SP_QUARANTINE] = v;
        else if (strcmp(what, "reject_score") == 0)
            sp->v[SP_REJECT] = v;
        else
            sp->v[SP_ADJUST] = v;
    }
}

static void free_pipeline(pipeline *p)
{
    for (size_t i = 0; i < NCHECKS; i++)
        if (p->state[i] && registry[i]->free)
            registry[i]->free(p->state[i]);
    dict_destroy(&p->weights, free);
    dict_destroy(&p->scopes, free);
    params_destroy(&p->cfg);
    free(p);
}

/* Registers the symbols a check's state declares (rules from data files); a name
 * already taken refuses the generation rather than panicking, since it comes from
 * configuration, not code. */
static bool add_dynamic(pipeline *p, size_t i, char *err, size_t errlen)
{
    size_t n = 0;
    const symbol_def *defs = registry[i]->dynamic_symbols(p->state[i], &n);
    for (size_t k = 0; k < n; k++) {
        symbol_weight *w = xmalloc(sizeof *w);
        char key[160];
        w->def = &defs[k];
        w->weight = defs[k].score;
        snprintf(key, sizeof key, "score.%s", defs[k].name);
        params_dynamic(p->cfg, key, &w->weight);
        symbol_weight *old = dict_set(p->weights, defs[k].name, w);
        if (old) {
            free(old);
            snprintf(err, errlen, "check %s: symbol %s is already registered", registry[i]->name,
                     defs[k].name);
            return false;
        }
    }
    return true;
}

/* auth.authserv_id, else the host name (RFC 8601 2.5: a name for this ADMD's
 * authentication service; all nodes should share one, so set it in a cluster). */
static bool authserv_id(const params *cfg, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *v = params_str(cfg, "auth.authserv_id");
    if (*v) {
        if (!authres_id_ok(v)) {
            snprintf(err, errlen,
                     "auth.authserv_id '%s' is not a name (letters, digits, '.', '-', '_')", v);
            return false;
        }
        snprintf(out, outlen, "%s", v);
        return true;
    }
    if (gethostname(out, outlen - 1) != 0 || !authres_id_ok(out))
        snprintf(out, outlen, "localhost");
    out[outlen - 1] = '\0';
    return true;
}

pipeline *pipeline_new(const params *cfg, uint64_t version, char *err, size_t errlen)
{
    pipeline *p = xcalloc(1, sizeof *p);
    atomic_init(&p->refs, 1);
    p->version = version;
    p->cfg = params_dup(cfg);
    p->weights = dict_new();
    p->scopes = dict_new();
    load_scopes(p);
    p->tag = params_double(p->cfg, "policy.tag_score");
    p->quarantine = params_double(p->cfg, "policy.quarantine_score");
    p->reject = params_double(p->cfg, "policy.reject_score");
    p->subject_prefix = params_str(p->cfg, "policy.subject_prefix");
    p->reject_message = params_str(p->cfg, "policy.reject_message");
    if (!authserv_id(p->cfg, p->authserv_id, sizeof p->authserv_id, err, errlen)) {
        free_pipeline(p);
        return NULL;
    }
    p->walk.max_depth = params_bool(p->cfg, "check.archives.enabled")
                            ? (size_t)params_int(p->cfg, "check.archives.max_depth")
                            : 0;
    p->walk.max_total = (uint64_t)params_int(p->cfg, "check.archives.max_total_size");
    p->walk.max_ratio = params_double(p->cfg, "check.archives.max_ratio");
    p->walk.max_entries = (size_t)params_int(p->cfg, "check.archives.max_entries");
    p->walk.max_time_ms = (uint64_t)params_int(p->cfg, "check.archives.max_time");
    p->walk.try_passwords = params_bool(p->cfg, "check.archives.try_passwords");
    p->walk.max_passwords = (size_t)params_int(p->cfg, "check.archives.max_passwords");

    for (size_t i = 0; i < NCHECKS; i++) {
        const check_def *c = registry[i];
        for (const symbol_def *s = c->symbols; s->name; s++) {
            symbol_weight *w = xmalloc(sizeof *w);
            char key[128];
            w->def = s;
            w->weight = s->score;
            snprintf(key, sizeof key, "score.%s", s->name);
            params_dynamic(p->cfg, key, &w->weight);
            if (dict_set(p->weights, s->name, w))
                log_panic("symbol %s registered twice", s->name);
        }
        char key[128];
        snprintf(key, sizeof key, "check.%s.enabled", c->name);
        p->enabled[i] = params_bool(p->cfg, key);
        if (p->enabled[i] && c->init && !c->init(p->cfg, &p->state[i], err, errlen)) {
            free_pipeline(p);
            return NULL;
        }
        if (p->enabled[i] && c->dynamic_symbols && !add_dynamic(p, i, err, errlen)) {
            free_pipeline(p);
            return NULL;
        }
    }
    return p;
}

pipeline *pipeline_ref(pipeline *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void pipeline_release(pipeline **pp)
{
    pipeline *p = *pp;
    *pp = NULL;
    if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        free_pipeline(p);
}

uint64_t pipeline_version(const pipeline *p)
{
    return p->version;
}

const params *pipeline_config(const pipeline *p)
{
    return p->cfg;
}

/* ---- tasks ------------------------------------------------------------------- */

scan_task *scan_task_new(pipeline *p, const char *job_id, const Bulwark__Envelope *env,
                         const uint8_t *raw, size_t len)
{
    scan_task *t = xcalloc(1, sizeof *t);
    t->pl = pipeline_ref(p);
    t->a = arena_new(8192);
    t->job_id = arena_strdup(t->a, job_id ? job_id : "");
    t->env = env;
    t->raw = raw;
    t->len = len;
    t->now = time(NULL);
    t->forced = BULWARK__ACTION__ACTION_PASS;
    bulwark__scan_result__init(&t->result);
    return t;
}

void scan_task_destroy(scan_task **tp)
{
    scan_task *t = *tp;
    if (!t)
        return;
    dns_batch_destroy(&t->dns);
    hdr_destroy(&t->hdrs);
    files_free(&t->files);
    msg_destroy(&t->msg);
    arena_destroy(&t->a);
    pipeline_release(&t->pl);
    free(t);
    *tp = NULL;
}

const msg_model *task_message(scan_task *t)
{
    if (!t->msg)
        t->msg = msg_parse(t->raw, t->len);
    return t->msg;
}

const file_set *task_files(scan_task *t)
{
    if (!t->files) {
        const msg_model *m = task_message(t);
        size_t n;
        const char *text = t->pl->walk.try_passwords ? msg_text(m, &n) : NULL;
        t->files = files_walk(m, &t->pl->walk, text);
    }
    return t->files;
}

const hdr_block *task_headers(scan_task *t)
{
    if (!t->hdrs)
        t->hdrs = hdr_parse((const char *)t->raw, t->len);
    return t->hdrs;
}

const uint8_t *task_raw(const scan_task *t, size_t *len)
{
    *len = t->len;
    return t->raw;
}

const Bulwark__Envelope *task_envelope(const scan_task *t)
{
    return t->env;
}

time_t task_time(const scan_task *t)
{
    return t->now;
}

const char *task_job_id(const scan_task *t)
{
    return t->job_id;
}

void scan_task_set_deadline(scan_task *t, uint64_t deadline_ms)
{
    t->deadline_ms = deadline_ms;
}

uint64_t task_deadline(const scan_task *t)
{
    return t->deadline_ms;
}

void *task_alloc(scan_task *t, size_t n)
{
    void *p = arena_alloc(t->a, n ? n : 1);
    memset(p, 0, n ? n : 1);
    return p;
}

void **task_slot(scan_task *t, const check_def *c)
{
    for (size_t i = 0; i < NCHECKS; i++)
        if (registry[i] == c)
            return &t->slots[i];
    log_panic("task_slot: check %s is not in the registry", c->name);
}

dns_batch *task_dns(scan_task *t)
{
    if (!t->dns_tried) {
        t->dns_tried = true;
        dns_resolver *r = dns_process();
        if (r)
            t->dns = dns_batch_new(r, t->deadline_ms);
    }
    return t->dns;
}

auth_results *task_auth(scan_task *t)
{
    return &t->auth;
}

static char *dup_or_empty(arena *a, const char *s)
{
    return arena_strdup(a, s ? s : "");
}

void task_set_dmarc(scan_task *t, const Bulwark__DmarcResult *d)
{
    Bulwark__DmarcResult *c = arena_alloc(t->a, sizeof *c);
    *c = *d;
    char **strs[] = {&c->from_domain,
                     &c->policy_domain,
                     &c->adkim,
                     &c->aspf,
                     &c->p,
                     &c->sp,
                     &c->fo,
                     &c->result,
                     &c->disposition,
                     &c->override,
                     &c->override_comment,
                     &c->spf_domain,
                     &c->spf_scope,
                     &c->spf_result};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        *strs[i] = dup_or_empty(t->a, *strs[i]);
    c->rua = arena_alloc(t->a, (d->n_rua ? d->n_rua : 1) * sizeof *c->rua);
    for (size_t i = 0; i < d->n_rua; i++)
        c->rua[i] = dup_or_empty(t->a, d->rua[i]);
    c->dkim = arena_alloc(t->a, (d->n_dkim ? d->n_dkim : 1) * sizeof *c->dkim);
    for (size_t i = 0; i < d->n_dkim; i++) {
        Bulwark__DmarcDkim *k = arena_alloc(t->a, sizeof *k);
        bulwark__dmarc_dkim__init(k);
        k->domain = dup_or_empty(t->a, d->dkim[i]->domain);
        k->selector = dup_or_empty(t->a, d->dkim[i]->selector);
        k->result = dup_or_empty(t->a, d->dkim[i]->result);
        c->dkim[i] = k;
    }
    t->result.dmarc = c;
}

static void add_symbol(scan_task *t, const char *name, double factor, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void add_symbol(scan_task *t, const char *name, double factor, const char *fmt, va_list ap)
{
    symbol_weight *w = dict_get(t->pl->weights, name);
    if (!w)
        log_panic("job=%s check added unregistered symbol %s", t->job_id, name);
    if (t->result.n_symbols >= MAX_SYMBOLS) {
        t->dropped_symbols++;
        return;
    }
    Bulwark__Symbol *s = &t->symbols[t->result.n_symbols];
    bulwark__symbol__init(s);
    s->name = (char *)w->def->name;
    s->score = w->weight * factor;
    char detail[512];
    vsnprintf(detail, sizeof detail, fmt, ap);
    utf8_scrub(detail); /* details quote message bytes; a proto3 string must be UTF-8 */
    s->detail = arena_strdup(t->a, detail);
    t->symv[t->result.n_symbols++] = s;
}

void task_symbol(scan_task *t, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_symbol(t, name, 1.0, fmt, ap);
    va_end(ap);
}

void task_symbol_scaled(scan_task *t, const char *name, double factor, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_symbol(t, name, factor, fmt, ap);
    va_end(ap);
}

bool check_param_action(const params *cfg, const char *key, Bulwark__Action *a)
{
    const char *v = params_str(cfg, key);
    return strcmp(v, "none") != 0 && action_parse(v, a);
}

void check_param_list(const params *cfg, const char *key, strlist *out)
{
    char *list = xstrdup(params_str(cfg, key));
    char *save = NULL;
    for (char *e = strtok_r(list, ", \t", &save); e; e = strtok_r(NULL, ", \t", &save)) {
        while (*e == '.')
            e++;
        for (char *c = e; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (*e)
            strlist_add(out, e);
    }
    free(list);
}

bool task_has_symbol(const scan_task *t, const char *name)
{
    for (size_t i = 0; i < t->result.n_symbols; i++)
        if (strcmp(t->symbols[i].name, name) == 0)
            return true;
    return false;
}

void task_force(scan_task *t, Bulwark__Action a, const char *reason)
{
    if (action_severity(a) > action_severity(t->forced)) {
        t->forced = a;
        t->forced_reason = arena_strdup(t->a, reason);
    }
}

/* ---- policy -------------------------------------------------------------------- */

static int by_weight(const void *a, const void *b)
{
    const Bulwark__Symbol *x = *(Bulwark__Symbol *const *)a, *y = *(Bulwark__Symbol *const *)b;
    double dx = fabs(x->score), dy = fabs(y->score);
    return dx < dy ? 1 : dx > dy ? -1 : strcmp(x->name, y->name);
}

static void add_header(scan_task *t, const char *name, char *value)
{
    Bulwark__Header *h = &t->headers[t->result.n_add_headers];
    bulwark__header__init(h);
    h->name = (char *)name;
    h->value = value;
    t->hdrv[t->result.n_add_headers++] = h;
}

bool task_add_header(scan_task *t, const char *name, const char *value)
{
    /* Before the policy, room is kept for its four fields (Authentication-Results and
     * X-Bulwark-Status/Symbols/Id). */
    if (t->result.n_add_headers + (t->policy_done ? 0 : 4) >= sizeof t->hdrv / sizeof t->hdrv[0])
        return false;
    t->result.add_headers = t->hdrv;
    add_header(t, arena_strdup(t->a, name), arena_strdup(t->a, value));
    return true;
}

/* The thresholds and adjustment for this message's recipients: each recipient's own
 * (user, else domain, else global, per value), then the strictest across recipients
 * (lowest thresholds, highest adjustment). `scope` names what applied ("" = global). */
typedef struct {
    double tag, quarantine, reject, adjust;
    char scope[128];
} thresholds;

static double pick(const scoped_policy *u, const scoped_policy *d, int k, double global)
{
    double uv = u ? u->v[k] : NAN;
    double dv = d ? d->v[k] : NAN;
    return !isnan(uv) ? uv : !isnan(dv) ? dv : global;
}

static void recipient_thresholds(const scan_task *t, thresholds *th)
{
    const pipeline *p = t->pl;
    *th = (thresholds){p->tag, p->quarantine, p->reject, 0, ""};
    if (!t->env || !t->env->n_rcpt || !dict_size(p->scopes))
        return;
    bool first = true;
    for (size_t i = 0; i < t->env->n_rcpt; i++) {
        char addr[300], key[310];
        snprintf(addr, sizeof addr, "%s", t->env->rcpt[i] ? t->env->rcpt[i] : "");
        for (char *c = addr; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        const char *at = strrchr(addr, '@');
        snprintf(key, sizeof key, "user:%s", addr);
        const scoped_policy *u = dict_get(p->scopes, key);
        snprintf(key, sizeof key, "domain:%s", at ? at + 1 : "");
        const scoped_policy *d = at ? dict_get(p->scopes, key) : NULL;
        thresholds r = {
            pick(u, d, SP_TAG, p->tag),
            pick(u, d, SP_QUARANTINE, p->quarantine),
            pick(u, d, SP_REJECT, p->reject),
            pick(u, d, SP_ADJUST, 0),
            "",
        };
        if (u || d)
            snprintf(r.scope, sizeof r.scope, "%s:%.100s", u ? "user" : "domain",
                     u ? addr : at + 1);
        if (first || r.tag < th->tag)
            th->tag = r.tag;
        if (first || r.quarantine < th->quarantine)
            th->quarantine = r.quarantine;
        if (first || r.reject < th->reject)
            th->reject = r.reject;
        if (first || r.adjust > th->adjust)
            th->adjust = r.adjust;
        if (*r.scope && !*th->scope)
            memcpy(th->scope, r.scope, sizeof th->scope);
        first = false;
    }
}

/* Our Authentication-Results from what the checks found, and the forged ones (our
 * authserv-id, RFC 8601 section 5) for deletion. */
static void add_auth_results(scan_task *t)
{
    char *v = authres_build(t->pl->authserv_id, &t->auth, t->env);
    add_header(t, "Authentication-Results", arena_strdup(t->a, v));
    free(v);
    unsigned idx[MAX_REMOVED];
    size_t n = authres_find_ours(t->raw, t->len, t->pl->authserv_id, idx, MAX_REMOVED);
    for (size_t i = 0; i < n; i++) {
        Bulwark__HeaderRef *h = &t->removed[i];
        bulwark__header_ref__init(h);
        h->name = "Authentication-Results";
        h->index = idx[i];
        t->remv[i] = h;
    }
    t->result.remove_headers = t->remv;
    t->result.n_remove_headers = n;
    if (n)
        log_info("job=%s event=forged_authres count=%zu authserv_id=%s", t->job_id, n,
                 t->pl->authserv_id);
}

static void apply_policy(scan_task *t)
{
    pipeline *p = t->pl;
    Bulwark__ScanResult *r = &t->result;
    thresholds th;
    recipient_thresholds(t, &th);
    double total = th.adjust;
    for (size_t i = 0; i < r->n_symbols; i++)
        total += r->symbols[i]->score;
    /* Symbols sorted by weight so the most telling come first in headers and logs. */
    qsort(r->symbols, r->n_symbols, sizeof *r->symbols, by_weight);

    Bulwark__Action a = BULWARK__ACTION__ACTION_PASS;
    const char *reason = "";
    if (total >= th.reject) {
        a = BULWARK__ACTION__ACTION_REJECT;
        reason = p->reject_message;
    } else if (total >= th.quarantine) {
        a = BULWARK__ACTION__ACTION_QUARANTINE;
    } else if (total >= th.tag) {
        a = BULWARK__ACTION__ACTION_TAG;
    }
    /* A check's configured action is the administrator's policy for what it found:
     * it replaces the action of the score (GTUBE with action quarantine is
     * quarantined even though its weight alone reaches reject). */
    if (t->forced_reason) {
        a = t->forced;
        reason = t->forced_reason;
    }
    r->action = a;
    r->score = round(total * 1000) / 1000;
    r->reason = (char *)reason;
    r->config_version = p->version;
    r->job_id = (char *)t->job_id;
    r->subject_prefix = (char *)(a == BULWARK__ACTION__ACTION_TAG ? p->subject_prefix : "");

    buf_t sym = {0};
    for (size_t i = 0; i < r->n_symbols && i < 10; i++)
        buf_printf(&sym, "%s%s(%.2f)", i ? ", " : "", r->symbols[i]->name, r->symbols[i]->score);
    /* The thresholds that applied, and whose they were when not the global ones. */
    char scoped[200] = "";
    if (*th.scope)
        snprintf(scoped, sizeof scoped, " policy=%s adjust=%.2f", th.scope, th.adjust);
    add_header(t, "X-Bulwark-Status",
               arena_printf(t->a, "%s score=%.2f tag=%.2f quarantine=%.2f reject=%.2f%s",
                            action_name(a), r->score, th.tag, th.quarantine, th.reject, scoped));
    add_header(t, "X-Bulwark-Symbols", arena_strdup(t->a, sym.data ? sym.data : ""));
    add_header(t, "X-Bulwark-Id", (char *)t->job_id);
    t->policy_done = true;
    buf_free(&sym);
}

void scan_run(scan_task *t)
{
    uint64_t t0 = mono_us();
    t->result.symbols = t->symv;
    t->result.add_headers = t->hdrv;
    for (size_t i = 0; i < NCHECKS; i++) /* lookups of every check in flight together */
        if (t->pl->enabled[i] && registry[i]->start)
            registry[i]->start(t, t->pl->state[i]);
    for (size_t i = 0; i < NCHECKS; i++)
        if (t->pl->enabled[i])
            registry[i]->run(t, t->pl->state[i]);
    if (t->dropped_symbols)
        log_warn("job=%s event=symbols_dropped count=%zu", t->job_id, t->dropped_symbols);
    add_auth_results(t);
    apply_policy(t);
    for (size_t i = 0; i < NCHECKS; i++) /* Bayes autolearn reads the verdict */
        if (t->pl->enabled[i] && registry[i] == &check_bayes)
            check_bayes_autolearn(t, t->pl->state[i]);
    for (size_t i = 0; i < NCHECKS; i++)
        if (t->pl->enabled[i] && registry[i]->finish)
            registry[i]->finish(t, t->pl->state[i]);
    uint64_t us = mono_us() - t0;
    t->result.scan_us = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

const Bulwark__ScanResult *scan_result(const scan_task *t)
{
    return &t->result;
}
