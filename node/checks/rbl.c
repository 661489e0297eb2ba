/* rbl.c - the block list check: the client, Received hops, sender domains and URL hosts
 * looked up in the DNS block lists of the configuration (rbl.list.*, shared/rblconf.h).
 *
 * start gathers the message's subjects, makes one query per list and subject its `on`
 * asks for, takes what Redis already knows (one MGET) and submits the rest to the
 * task's DNS batch; the plan waits in task_slot. run adds the rdns names once the PTR
 * is in, collects the answers, stores the new ones in Redis and maps each listing
 * through the list's codes to symbols. DNS failures (RBL_TEMPERROR) and error codes
 * (RBL_LIST_ERROR, logged) are never listings. Trusted networks and authenticated
 * submitters are not asked about their connection (client, Received, HELO, rDNS). */
#include "rbl.h"
#include "checks.h"
#include "dmarc.h"
#include "log.h"
#include "netlist.h"
#include "rblconf.h"
#include "redisx.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RDNS_NAMES_MAX 2 /* PTR names of the client taken for rdns lists */
#define DETAIL_ITEMS_MAX 8 /* listings named in one symbol's detail */

typedef struct {
    rblconf_list *lists;
    size_t nlists;
    unsigned sources; /* every list's `on`, or'ed */
    netlist trusted;
    size_t max_url_hosts, max_received;
    unsigned cache_ttl_s;
    symbol_def *syms; /* the lists' symbols, {NULL}-terminated */
    size_t *owner; /* the list (index) each symbol belongs to */
    size_t nsyms;
} rblcheck_state;

static const symbol_def rbl_symbols[] = {
    {"RBL_TEMPERROR", 0.0,
     "A block list could not be asked (DNS timeout or server failure): no verdict from it"},
    {"RBL_LIST_ERROR", 0.0,
     "A block list answered with an error code (127.255.255.x: query refused, e.g. through "
     "a public resolver; a code mapped to ERROR; an address outside 127/8): not a listing"},
    {NULL, 0, NULL},
};

/* ---- configuration ------------------------------------------------------------------ */

static void rbl_free(void *state)
{
    rblcheck_state *s = state;
    if (!s)
        return;
    for (size_t i = 0; i < s->nsyms; i++) {
        free((char *)s->syms[i].name);
        free((char *)s->syms[i].desc);
    }
    free(s->syms);
    free(s->owner);
    free(s->lists);
    free(s);
}

/* Adds a list's symbol unless the same list already has it; refuses one that another
 * list uses, or the same list with two weights. */
static bool add_symbol(rblcheck_state *s, size_t list, const char *name, double weight,
                       const char *what, char *err, size_t errlen)
{
    const rblconf_list *l = &s->lists[list];
    for (size_t i = 0; i < s->nsyms; i++) {
        if (strcmp(s->syms[i].name, name) != 0)
            continue;
        if (s->owner[i] != list) {
            snprintf(err, errlen, "symbol %s is used by two block lists (rbl.list.%s and %s)", name,
                     s->lists[s->owner[i]].name, l->name);
            return false;
        }
        if (s->syms[i].score != weight) {
            snprintf(err, errlen,
                     "rbl.list.%s: symbol %s has two weights (%g in codes, %g as the default "
                     "symbol)",
                     l->name, name, s->syms[i].score, weight);
            return false;
        }
        return true;
    }
    s->owner[s->nsyms] = list;
    symbol_def *d = &s->syms[s->nsyms++];
    d->name = xstrdup(name);
    d->score = weight;
    d->desc = xasprintf("Listed in %s (rbl.list.%s, %s)", l->zone, l->name, what);
    return true;
}

static bool build_symbols(rblcheck_state *s, char *err, size_t errlen)
{
    size_t max = 1;
    for (size_t i = 0; i < s->nlists; i++)
        max += s->lists[i].ncodes + 1;
    s->syms = xcalloc(max, sizeof *s->syms);
    s->owner = xcalloc(max, sizeof *s->owner);
    for (size_t i = 0; i < s->nlists; i++) {
        const rblconf_list *l = &s->lists[i];
        for (size_t k = 0; k < l->ncodes; k++) {
            if (l->codes[k].error)
                continue;
            if (!add_symbol(s, i, l->codes[k].symbol, l->codes[k].weight, "a return code", err,
                            errlen))
                return false;
        }
        if (!add_symbol(s, i, l->symbol, l->weight,
                        l->ncodes ? "an answer no code names" : "any answer", err, errlen))
            return false;
    }
    return true;
}

static bool rbl_init(const params *cfg, void **state, char *err, size_t errlen)
{
    rblcheck_state *s = xcalloc(1, sizeof *s);
    bool ok = rblconf_lists(cfg, &s->lists, &s->nlists, err, errlen) &&
              netlist_param(cfg, "rbl.trusted_networks", &s->trusted, err, errlen) &&
              build_symbols(s, err, errlen);
    if (!ok) {
        rbl_free(s);
        return false;
    }
    for (size_t i = 0; i < s->nlists; i++)
        s->sources |= s->lists[i].on;
    s->max_url_hosts = (size_t)params_int(cfg, "rbl.max_url_hosts");
    s->max_received = (size_t)params_int(cfg, "rbl.max_received");
    s->cache_ttl_s = (unsigned)(params_int(cfg, "rbl.cache_ttl") / 1000);
    *state = s;
    return true;
}

static const symbol_def *rbl_dynamic(const void *state, size_t *n)
{
    const rblcheck_state *s = state;
    *n = s->nsyms;
    return s->syms;
}

/* ---- the plan of one message -------------------------------------------------------- */

_Static_assert(RBLCONF_LISTS_MAX <= 32, "subject.planned has one bit per list");

typedef struct {
    rbl_subject s;
    unsigned sources; /* RBLCONF_ON_* it came from */
    uint32_t planned; /* bit i: list i has its item (or cannot be asked it) */
} subject;

typedef struct {
    char name[RBL_NAME_MAX];
    rbl_answer a;
    dns_query *dq; /* submitted, not yet collected */
} query;

typedef struct {
    unsigned list;
    unsigned subj;
    unsigned q;
} item;

typedef struct {
    subject *subj;
    size_t nsubj, capsubj;
    query *q;
    size_t nq, capq;
    item *it;
    size_t nit, capit;
    bool connection; /* the client is not trusted nor authenticated */
    bool rdns_wanted; /* a list asks rdns: the client's PTR was submitted */
    char ptr[80]; /* the client's reverse name, for rdns */
    bool url_capped; /* the message had more URL names than rbl.max_url_hosts */
    bool redis_down; /* the MGET failed: no SETEX either (one warning per message) */
    size_t cached; /* answers that came from Redis */
} plan;

static void add_subject(plan *p, const rbl_subject *s, unsigned source)
{
    for (size_t i = 0; i < p->nsubj; i++) {
        if (p->subj[i].s.ip == s->ip && strcmp(p->subj[i].s.text, s->text) == 0) {
            p->subj[i].sources |= source;
            return;
        }
    }
    if (p->nsubj == p->capsubj)
        return; /* sized for every source's bound: cannot happen */
    p->subj[p->nsubj].s = *s;
    p->subj[p->nsubj++].sources = source;
}

static void add_address(plan *p, const char *ip, unsigned source)
{
    rbl_subject s = {.ip = true};
    if (rbl_address(ip, s.text, sizeof s.text))
        add_subject(p, &s, source);
}

/* A domain (HELO, rDNS, a sender's): the name and its registrable domain. */
static void add_domain(plan *p, const char *name, unsigned source)
{
    rbl_subject two[2];
    size_t n = name && *name ? rbl_host_subjects(name, two) : 0;
    for (size_t i = 0; i < n; i++)
        if (!two[i].ip)
            add_subject(p, &two[i], source);
}

/* The domain of an address "local@domain" (MAIL FROM, without brackets). */
static void add_mail_domain(plan *p, const char *addr, unsigned source)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    if (at && at[1] && at[1] != '[')
        add_domain(p, at + 1, source);
}

static void add_header_domain(plan *p, const hdr_block *h, const char *field, unsigned source)
{
    const char *v = hdr_get(h, field);
    char domain[256], why[128];
    if (v && dmarc_from_value(v, domain, sizeof domain, why, sizeof why))
        add_domain(p, domain, source);
}

/* Received hops below the client, topmost first, at most rbl.max_received; hops in
 * trusted networks (a relay of ours) are passed over. */
static void add_received(plan *p, const rblcheck_state *s, const hdr_block *h, const char *client)
{
    size_t taken = 0;
    for (size_t i = 0; i < h->n && taken < s->max_received; i++) {
        char ip[64];
        if (strcasecmp(h->f[i].name, "Received") != 0 ||
            !rbl_received_ip(h->f[i].value, ip, sizeof ip))
            continue;
        if ((client && strcmp(ip, client) == 0) || netlist_match(&s->trusted, ip))
            continue;
        add_address(p, ip, RBLCONF_ON_RECEIVED);
        taken++;
    }
}

/* URL names: registrable domains first (in the order the URLs come), then the hosts
 * that differ from theirs, at most rbl.max_url_hosts. */
static void add_urls(plan *p, const rblcheck_state *s, scan_task *t)
{
    const html_url *urls;
    size_t n = msg_urls(task_message(t), &urls), taken = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            if (urls[i].flags & (URL_BAD | URL_DATA | URL_JAVASCRIPT))
                continue;
            rbl_subject two[2];
            size_t k = rbl_host_subjects(urls[i].host, two);
            if (k <= (size_t)pass)
                continue;
            const rbl_subject *sub = &two[pass];
            if (sub->ip && netlist_match(&s->trusted, sub->text))
                continue;
            bool known = false;
            for (size_t j = 0; j < p->nsubj && !known; j++)
                known = p->subj[j].sources & RBLCONF_ON_URL && p->subj[j].s.ip == sub->ip &&
                        strcmp(p->subj[j].s.text, sub->text) == 0;
            if (known)
                continue;
            if (taken == s->max_url_hosts) {
                p->url_capped = true;
                return;
            }
            add_subject(p, sub, RBLCONF_ON_URL);
            taken++;
        }
    }
}

static size_t find_query(const plan *p, const char *name)
{
    for (size_t i = 0; i < p->nq; i++)
        if (strcmp(p->q[i].name, name) == 0)
            return i;
    return SIZE_MAX;
}

/* An item (and a query, unless another list asks the same name) for every list and
 * subject that one of the subject's sources asks for and that has none yet. */
static void plan_queries(plan *p, const rblcheck_state *s)
{
    for (size_t li = 0; li < s->nlists; li++) {
        const rblconf_list *l = &s->lists[li];
        for (size_t si = 0; si < p->nsubj; si++) {
            subject *sub = &p->subj[si];
            if (sub->planned & 1u << li || !(sub->sources & l->on) ||
                (l->type == RBLCONF_IP && !sub->s.ip))
                continue;
            sub->planned |= 1u << li;
            char name[RBL_NAME_MAX];
            if (!rbl_query_name(&sub->s, l->zone, name, sizeof name) || p->nit == p->capit)
                continue;
            size_t q = find_query(p, name);
            if (q == SIZE_MAX) {
                if (p->nq == p->capq)
                    continue;
                q = p->nq++;
                snprintf(p->q[q].name, sizeof p->q[q].name, "%s", name);
            }
            p->it[p->nit++] = (item){(unsigned)li, (unsigned)si, (unsigned)q};
        }
    }
}

/* Answers from Redis for queries [from, nq), then DNS for the others. */
static void ask(scan_task *t, plan *p, const rblcheck_state *s, size_t from)
{
    size_t n = p->nq - from;
    if (!n)
        return;
    if (s->cache_ttl_s && redisx_configured() && !p->redis_down) {
        const char **names = task_alloc(t, n * sizeof *names);
        rbl_answer *a = task_alloc(t, n * sizeof *a);
        for (size_t i = 0; i < n; i++)
            names[i] = p->q[from + i].name;
        char err[256];
        if (rbl_cache_get(names, n, a, err, sizeof err)) {
            for (size_t i = 0; i < n; i++)
                if (a[i].cached) {
                    p->q[from + i].a = a[i];
                    p->cached++;
                }
        } else {
            log_warn("job=%s event=rbl_cache_unavailable error=\"%s\"", task_job_id(t), err);
            p->redis_down = true;
        }
    }
    for (size_t i = from; i < p->nq; i++)
        if (!p->q[i].a.cached)
            p->q[i].dq = dns_submit(task_dns(t), p->q[i].name, DNS_T_A);
}

static void rbl_start(scan_task *t, const void *state)
{
    const rblcheck_state *s = state;
    if (!s->nlists || !task_dns(t))
        return;
    const Bulwark__Envelope *env = task_envelope(t);
    const hdr_block *h = task_headers(t);
    const char *client = env && env->client_ip && *env->client_ip ? env->client_ip : NULL;
    char client_ip[64] = "";
    if (client && !rbl_address(client, client_ip, sizeof client_ip))
        client = NULL;
    else if (client)
        client = client_ip;
    bool authenticated = env && env->auth_user && *env->auth_user;

    plan *p = task_alloc(t, sizeof *p);
    p->connection = client && !authenticated && !netlist_match(&s->trusted, client);
    /* Bounds: 1 client, max_received hops, HELO/rDNS/envfrom/From/Reply-To two names
     * each (a name and its registrable domain), max_url_hosts URL names. */
    p->capsubj = 1 + s->max_received + 2 * (4 + RDNS_NAMES_MAX) + s->max_url_hosts;
    p->subj = task_alloc(t, p->capsubj * sizeof *p->subj);
    p->capit = p->capq = s->nlists * p->capsubj;
    p->it = task_alloc(t, p->capit * sizeof *p->it);
    p->q = task_alloc(t, p->capq * sizeof *p->q);

    if (p->connection && s->sources & RBLCONF_ON_CLIENT)
        add_address(p, client, RBLCONF_ON_CLIENT);
    /* Behind a trusted relay, the hops below it are where the mail came from. */
    if (!authenticated && s->sources & RBLCONF_ON_RECEIVED)
        add_received(p, s, h, client);
    if (p->connection && s->sources & RBLCONF_ON_HELO)
        add_domain(p, env->helo, RBLCONF_ON_HELO);
    if (s->sources & RBLCONF_ON_ENVFROM)
        add_mail_domain(p, env ? env->mail_from : NULL, RBLCONF_ON_ENVFROM);
    if (s->sources & RBLCONF_ON_FROM)
        add_header_domain(p, h, "From", RBLCONF_ON_FROM);
    if (s->sources & RBLCONF_ON_REPLYTO)
        add_header_domain(p, h, "Reply-To", RBLCONF_ON_REPLYTO);
    if (s->sources & RBLCONF_ON_URL)
        add_urls(p, s, t);
    if (p->connection && s->sources & RBLCONF_ON_RDNS &&
        dns_reverse_name(client, NULL, p->ptr, sizeof p->ptr)) {
        dns_submit(task_dns(t), p->ptr, DNS_T_PTR); /* the dnscheck check's too: one query */
        p->rdns_wanted = true;
    }
    plan_queries(p, s);
    ask(t, p, s, 0);
    *task_slot(t, &check_rbl) = p;
}

/* rdns lists: the client's PTR names become subjects once the answer is in (a name
 * already asked for another source, the HELO say, just gains the rdns source). */
static void plan_rdns(scan_task *t, plan *p, const rblcheck_state *s)
{
    const dns_answer *a = dns_lookup(task_dns(t), p->ptr, DNS_T_PTR);
    size_t fromq = p->nq;
    for (size_t i = 0; a->status == DNS_OK && i < a->n && i < RDNS_NAMES_MAX; i++)
        add_domain(p, a->rr[i].u.name, RBLCONF_ON_RDNS);
    plan_queries(p, s);
    ask(t, p, s, fromq);
}

/* ---- verdicts ----------------------------------------------------------------------- */

/* What one symbol's detail collects over the items that add it. */
typedef struct {
    const char *symbol;
    buf_t detail;
    size_t count;
    bool url;
} finding;

static finding *finding_for(finding *f, size_t *n, size_t max, const char *symbol)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(f[i].symbol, symbol) == 0)
            return &f[i];
    if (*n == max)
        return NULL;
    f[*n] = (finding){.symbol = symbol};
    return &f[(*n)++];
}

/* The sources an item's subject came from that its list asks for: "helo/rdns". */
static void item_sources(const subject *sub, const rblconf_list *l, char *out, size_t outlen)
{
    unsigned both = sub->sources & l->on;
    size_t o = 0;
    out[0] = '\0';
    for (unsigned bit = 1; bit <= RBLCONF_ON_URL && o < outlen; bit <<= 1)
        if (both & bit)
            o += (size_t)snprintf(out + o, outlen - o, "%s%s", o ? "/" : "",
                                  rblconf_source_name(bit));
}

static void note(finding *f, const char *source, const subject *sub, const rblconf_list *l,
                 const char *codes)
{
    f->url |= (sub->sources & l->on) == RBLCONF_ON_URL;
    if (f->count++ >= DETAIL_ITEMS_MAX)
        return;
    buf_printf(&f->detail, "%s%s %s in %s (%s)", f->detail.len ? "; " : "", source, sub->s.text,
               l->zone, codes);
}

static void addr_text(uint32_t a, char *out, size_t outlen)
{
    snprintf(out, outlen, "%u.%u.%u.%u", a >> 24, a >> 16 & 0xff, a >> 8 & 0xff, a & 0xff);
}

/* The answer's addresses as "127.0.0.2,127.0.0.4". */
static void answer_text(const rbl_answer *a, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < a->n && o < outlen; i++) {
        char one[16];
        addr_text(a->addr[i], one, sizeof one);
        o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? "," : "", one);
    }
}

static void judge_item(scan_task *t, const rblcheck_state *s, const plan *p, const item *it,
                       finding *f, size_t *nf, size_t maxf, buf_t *temp, buf_t *errors)
{
    const rblconf_list *l = &s->lists[it->list];
    const subject *sub = &p->subj[it->subj];
    const rbl_answer *a = &p->q[it->q].a;
    char source[80];
    item_sources(sub, l, source, sizeof source);
    if (a->state == RBL_TEMPFAIL) {
        buf_printf(temp, "%s%s (%s %s)", temp->len ? "; " : "", l->zone, source, sub->s.text);
        return;
    }
    if (a->state != RBL_LISTED)
        return;
    char codes[RBL_ADDRS_MAX * 16];
    answer_text(a, codes, sizeof codes);
    const rblconf_code *hits[RBLCONF_CODES_MAX * RBL_ADDRS_MAX];
    size_t nhits = 0;
    for (size_t i = 0; i < a->n; i++) {
        size_t nh;
        rblconf_verdict v = rblconf_match(l, a->addr[i], hits + nhits, &nh);
        if (v != RBLCONF_LISTED) {
            /* Never a listing: a refused query says nothing about the sender. */
            buf_printf(errors, "%s%s answered %s for %s %s", errors->len ? "; " : "", l->zone,
                       codes, source, sub->s.text);
            log_warn("job=%s event=rbl_list_error list=%s zone=%s query=%s answer=%s "
                     "reason=\"%s\"",
                     task_job_id(t), l->name, l->zone, p->q[it->q].name, codes,
                     v == RBLCONF_FOREIGN ? "not a 127.0.0.0/8 address" : "an error code");
            return;
        }
        nhits += nh;
    }
    bool any = false;
    for (size_t i = 0; i < nhits; i++) {
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++)
            dup = strcmp(hits[k]->symbol, hits[i]->symbol) == 0;
        finding *fi = dup ? NULL : finding_for(f, nf, maxf, hits[i]->symbol);
        if (fi)
            note(fi, source, sub, l, codes);
        any = true;
    }
    finding *fd = any ? NULL : finding_for(f, nf, maxf, l->symbol);
    if (fd)
        note(fd, source, sub, l, codes);
}

static void rbl_run(scan_task *t, const void *state)
{
    const rblcheck_state *s = state;
    plan *p = s->nlists ? *task_slot(t, &check_rbl) : NULL;
    if (!p)
        return;
    if (p->rdns_wanted)
        plan_rdns(t, p, s);
    size_t asked = 0;
    for (size_t i = 0; i < p->nq; i++) {
        if (!p->q[i].dq)
            continue;
        rbl_answer_from_dns(dns_wait(p->q[i].dq), &p->q[i].a);
        p->q[i].dq = NULL;
        asked++;
    }
    if (s->cache_ttl_s && redisx_configured() && !p->redis_down && asked) {
        const char **names = task_alloc(t, p->nq * sizeof *names);
        rbl_answer *a = task_alloc(t, p->nq * sizeof *a);
        for (size_t i = 0; i < p->nq; i++) {
            names[i] = p->q[i].name;
            a[i] = p->q[i].a;
        }
        char err[256];
        if (!rbl_cache_put(names, a, p->nq, s->cache_ttl_s, err, sizeof err))
            log_warn("job=%s event=rbl_cache_unavailable error=\"%s\"", task_job_id(t), err);
    }

    size_t maxf = s->nsyms;
    finding *f = task_alloc(t, (maxf ? maxf : 1) * sizeof *f);
    size_t nf = 0;
    buf_t temp = {0}, errors = {0};
    for (size_t i = 0; i < p->nit; i++)
        judge_item(t, s, p, &p->it[i], f, &nf, maxf, &temp, &errors);
    for (size_t i = 0; i < nf; i++) {
        if (f[i].count > DETAIL_ITEMS_MAX)
            buf_printf(&f[i].detail, "; %zu more", f[i].count - DETAIL_ITEMS_MAX);
        if (f[i].url && p->url_capped)
            buf_printf(&f[i].detail,
                       " (the first %zu URL names were looked up: "
                       "rbl.max_url_hosts)",
                       s->max_url_hosts);
        task_symbol(t, f[i].symbol, "%s", f[i].detail.data);
        buf_free(&f[i].detail);
    }
    if (temp.len)
        task_symbol(t, "RBL_TEMPERROR", "no answer from %s", temp.data);
    if (errors.len)
        task_symbol(t, "RBL_LIST_ERROR", "%s: an error code, not a listing", errors.data);
    log_debug("job=%s event=rbl queries=%zu cached=%zu asked=%zu listed_symbols=%zu "
              "url_capped=%s",
              task_job_id(t), p->nq, p->cached, asked, nf, p->url_capped ? "yes" : "no");
    buf_free(&temp);
    buf_free(&errors);
}

const check_def check_rbl = {
    .name = "rbl",
    .symbols = rbl_symbols,
    .init = rbl_init,
    .start = rbl_start,
    .run = rbl_run,
    .free = rbl_free,
    .dynamic_symbols = rbl_dynamic,
};
