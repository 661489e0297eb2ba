/* dmarc.c - the DMARC check: does the From domain's policy accept this message?
 *
 * start reads the From domain and submits the _dmarc TXT lookups (the From domain's and
 * its organisational domain's) so they are in flight with SPF's and DKIM's; run reads
 * the SPF and DKIM results the checks before it left in task_auth(t), discovers the
 * policy (node/dmarc.h), aligns, and adds one DMARC_* symbol whose detail says the From
 * domain, the policy domain, which policy applied (p= or sp=, pct) and the alignment.
 * A failing message gets the check.dmarc.*_action that matches the policy's request,
 * unless its From domain is exempt. The evaluation goes into the result for the
 * master's aggregate reports. Trusted networks, authenticated submitters, scans
 * without a client address or without a resolver are not checked (no symbol). A
 * failure is not enforced when a trusted ARC sealer (the arc check, which runs before)
 * recorded that the message passed DMARC, or aligned DKIM or SPF, for this From
 * domain before it was forwarded (RFC 7489 trusted_forwarder). The result goes to
 * task_auth(t) for the Authentication-Results field. */
#include "dmarc.h"
#include "checks.h"
#include "log.h"
#include "netlist.h"
#include "spf.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Bulwark__Action act[3]; /* by dmarc_policy: none, quarantine, reject */
    bool force[3];
    strlist exempt;
    netlist trusted;
    bool skip_auth;
} dmarc_state;

static const symbol_def dmarc_symbols[] = {
    {"DMARC_PASS", -0.3, "DMARC: an identifier aligned with the From domain passed SPF or DKIM"},
    {"DMARC_FAIL", 1.0,
     "DMARC: the From domain publishes a policy and no aligned identifier passed (the policy's "
     "disposition is the action of check.dmarc.*_action)"},
    {"DMARC_NONE", 0.0, "DMARC: the From domain publishes no (usable) DMARC policy"},
    {"DMARC_TEMPERROR", 0.0,
     "DMARC: the policy lookup, or an aligned SPF/DKIM check, failed for now (not enforced)"},
    {"DMARC_PERMERROR", 0.5,
     "DMARC: no single From domain to evaluate (no From, several From fields or domains)"},
    {NULL, 0, NULL},
};

static void dmarc_state_free(void *state)
{
    dmarc_state *s = state;
    if (!s)
        return;
    strlist_free(&s->exempt);
    free(s);
}

static bool dmarc_init(const params *cfg, void **state, char *err, size_t errlen)
{
    dmarc_state *s = xcalloc(1, sizeof *s);
    static const char *const keys[3] = {"check.dmarc.none_action", "check.dmarc.quarantine_action",
                                        "check.dmarc.reject_action"};
    for (int i = 0; i < 3; i++)
        s->force[i] = check_param_action(cfg, keys[i], &s->act[i]);
    check_param_list(cfg, "check.dmarc.exempt_domains", &s->exempt);
    s->skip_auth = params_bool(cfg, "check.dmarc.skip_authenticated");
    if (!netlist_param(cfg, "check.dmarc.trusted_networks", &s->trusted, err, errlen)) {
        dmarc_state_free(s);
        return false;
    }
    *state = s;
    return true;
}

/* Whether DMARC applies to this message at all. */
static bool applies(scan_task *t, const dmarc_state *s)
{
    const Bulwark__Envelope *env = task_envelope(t);
    if (!env || !env->client_ip || !*env->client_ip)
        return false; /* a file scanned without an envelope: nothing to align with */
    if (s->skip_auth && env->auth_user && *env->auth_user)
        return false;
    return !netlist_match(&s->trusted, env->client_ip); /* an unreadable address applies */
}

static void dmarc_start(scan_task *t, const void *state)
{
    const dmarc_state *s = state;
    dns_batch *b = task_dns(t);
    char from[DMARC_NAME_MAX], why[200], name[DMARC_NAME_MAX + 8], org[DMARC_NAME_MAX];
    if (!b || !applies(t, s) ||
        !dmarc_from_domain(task_headers(t), from, sizeof from, why, sizeof why))
        return;
    if (dmarc_query_name(from, name, sizeof name))
        dns_submit(b, name, DNS_T_TXT);
    /* Most From domains with no record of their own need the org domain's next: asked
     * now, it costs no extra round trip (and is cached when not needed). */
    dmarc_org_domain(from, org, sizeof org);
    if (strcmp(org, from) != 0 && dmarc_query_name(org, name, sizeof name))
        dns_submit(b, name, DNS_T_TXT);
}

static const dns_answer *lookup_txt(void *arg, const char *name)
{
    return dns_lookup(arg, name, DNS_T_TXT);
}

static dmarc_auth from_spf(spf_result r)
{
    switch (r) {
    case SPF_PASS: return DMARC_AUTH_PASS;
    case SPF_FAIL: return DMARC_AUTH_FAIL;
    case SPF_SOFTFAIL: return DMARC_AUTH_SOFTFAIL;
    case SPF_NEUTRAL: return DMARC_AUTH_NEUTRAL;
    case SPF_TEMPERROR: return DMARC_AUTH_TEMPERROR;
    case SPF_PERMERROR: return DMARC_AUTH_PERMERROR;
    case SPF_NONE: return DMARC_AUTH_NONE;
    }
    return DMARC_AUTH_NONE;
}

static dmarc_auth from_dkim(dkim_res r, bool testing)
{
    switch (r) {
    case DKIM_RES_PASS:
        /* RFC 6376 3.6.1: a key in test mode is no different from no signature, so its
         * pass cannot carry DMARC; "policy" (RFC 8601) says passed but not accepted. */
        return testing ? DMARC_AUTH_POLICY : DMARC_AUTH_PASS;
    case DKIM_RES_FAIL: return DMARC_AUTH_FAIL;
    case DKIM_RES_TEMPERROR: return DMARC_AUTH_TEMPERROR;
    case DKIM_RES_PERMERROR: return DMARC_AUTH_PERMERROR;
    }
    return DMARC_AUTH_NONE;
}

/* The DKIM check's per-signature results (task_auth), those with a d= to align. */
static size_t dkim_results(const auth_results *a, dmarc_dkim *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < a->ndkim && i < AUTH_DKIM_MAX && n < max; i++) {
        if (!a->dkim[i].domain[0])
            continue;
        out[n].domain = a->dkim[i].domain;
        out[n].selector = a->dkim[i].selector;
        out[n].result = from_dkim(a->dkim[i].result, a->dkim[i].testing);
        n++;
    }
    return n;
}

static bool exempt(const dmarc_state *s, const char *from)
{
    size_t fl = strlen(from);
    for (size_t i = 0; i < s->exempt.n; i++) {
        const char *e = s->exempt.v[i];
        size_t el = strlen(e);
        if (strcmp(from, e) == 0 ||
            (fl > el && from[fl - el - 1] == '.' && strcmp(from + fl - el, e) == 0))
            return true;
    }
    return false;
}

/* 7.1: a rua address outside the policy domain's organisation is used only when its
 * domain publishes <policy domain>._report._dmarc.<its domain> with v=DMARC1. */
static bool rua_allowed(dns_batch *b, const char *policy_domain, const char *addr)
{
    const char *at = strrchr(addr, '@');
    if (!at)
        return false;
    if (dmarc_aligned(at + 1, policy_domain, false))
        return true;
    char name[600];
    int n = snprintf(name, sizeof name, "%s._report._dmarc.%s", policy_domain, at + 1);
    if (n < 0 || n > 253)
        return false;
    const dns_answer *a = dns_lookup(b, name, DNS_T_TXT);
    for (size_t i = 0; a && a->status == DNS_OK && i < a->n; i++)
        if (a->rr[i].type == DNS_T_TXT && dmarc_is_record(a->rr[i].u.txt.data, a->rr[i].u.txt.len))
            return true;
    return false;
}

/* Whether the results a trusted ARC sealer recorded explain this failure: it saw
 * DMARC pass for this From domain, or DKIM or SPF pass for a domain aligned with it
 * (under this record's adkim/aspf). *why says which. */
static bool arc_override(const auth_results *a, const char *from, const dmarc_record *r, char *why,
                         size_t whylen)
{
    if (!a->arc_trusted)
        return false;
    const arc_aar *x = &a->arc_aar;
    if (strcmp(x->dmarc, "pass") == 0 && strcmp(x->dmarc_from, from) == 0) {
        snprintf(why, whylen, "dmarc=pass header.from=%s", x->dmarc_from);
        return true;
    }
    for (size_t i = 0; i < x->ndkim && i < ARC_AAR_DKIM_MAX; i++) {
        if (strcmp(x->dkim[i].result, "pass") == 0 && x->dkim[i].domain[0] &&
            dmarc_aligned(x->dkim[i].domain, from, r->adkim_strict)) {
            snprintf(why, whylen, "dkim=pass header.d=%s (aligned)", x->dkim[i].domain);
            return true;
        }
    }
    if (strcmp(x->spf, "pass") == 0 && x->spf_domain[0] &&
        dmarc_aligned(x->spf_domain, from, r->aspf_strict)) {
        snprintf(why, whylen, "spf=pass smtp.mailfrom=%s (aligned)", x->spf_domain);
        return true;
    }
    return false;
}

/* The result for our Authentication-Results field. */
static void note_auth(scan_task *t, const char *result, const char *from)
{
    auth_results *a = task_auth(t);
    a->dmarc_done = true;
    snprintf(a->dmarc, sizeof a->dmarc, "%s", result);
    snprintf(a->dmarc_from, sizeof a->dmarc_from, "%s", from);
}

static const char *action_word(Bulwark__Action a)
{
    return a == BULWARK__ACTION__ACTION_REJECT       ? "reject"
           : a == BULWARK__ACTION__ACTION_QUARANTINE ? "quarantine"
                                                     : "none";
}

typedef struct {
    const dmarc_found *f;
    const dmarc_outcome *o;
    const dmarc_input *in;
    const char *disposition, *override, *override_comment;
} report_in;

/* The result for the aggregate reports (ScanResult.dmarc). */
static void set_result(scan_task *t, dns_batch *b, const report_in *ri)
{
    const dmarc_record *r = &ri->f->rec;
    Bulwark__DmarcResult d = BULWARK__DMARC_RESULT__INIT;
    char *rua[DMARC_RUA_MAX];
    for (size_t i = 0; i < r->nrua; i++)
        if (rua_allowed(b, ri->f->domain, r->rua[i]))
            rua[d.n_rua++] = (char *)r->rua[i];
        else
            log_info("job=%s event=dmarc_rua_refused domain=%s rua=%s reason=\"no "
                     "_report._dmarc authorisation\"",
                     task_job_id(t), ri->f->domain, r->rua[i]);
    d.rua = rua;
    d.from_domain = (char *)ri->in->from_domain;
    d.policy_domain = (char *)ri->f->domain;
    d.adkim = r->adkim_strict ? "s" : "r";
    d.aspf = r->aspf_strict ? "s" : "r";
    d.p = (char *)dmarc_policy_name(r->p);
    d.sp = (char *)dmarc_policy_name(r->sp);
    d.pct = r->pct;
    d.fo = (char *)r->fo;
    d.result = (char *)dmarc_res_name(ri->o->result);
    d.disposition = (char *)ri->disposition;
    d.dkim_aligned = ri->o->dkim_aligned;
    d.spf_aligned = ri->o->spf_aligned;
    d.override = (char *)ri->override;
    d.override_comment = (char *)ri->override_comment;
    d.spf_domain = (char *)(ri->in->spf_domain ? ri->in->spf_domain : "");
    d.spf_scope = ri->in->spf_helo ? "helo" : "mfrom";
    d.spf_result = (char *)dmarc_auth_name(ri->in->spf);
    Bulwark__DmarcDkim k[DMARC_DKIM_MAX], *kv[DMARC_DKIM_MAX];
    for (size_t i = 0; i < ri->in->ndkim && i < DMARC_DKIM_MAX; i++) {
        bulwark__dmarc_dkim__init(&k[i]);
        k[i].domain = (char *)ri->in->dkim[i].domain;
        k[i].selector = (char *)(ri->in->dkim[i].selector ? ri->in->dkim[i].selector : "");
        k[i].result = (char *)dmarc_auth_name(ri->in->dkim[i].result);
        kv[d.n_dkim++] = &k[i];
    }
    d.dkim = kv;
    task_set_dmarc(t, &d);
}

/* "SPF x.example pass (aligned), DKIM d=y.example pass (not aligned)" */
static void describe_auth(const dmarc_input *in, const dmarc_record *r, buf_t *b)
{
    if (in->spf_domain && *in->spf_domain) {
        bool aligned = dmarc_aligned(in->spf_domain, in->from_domain, r->aspf_strict);
        buf_printf(b, "SPF %s %s (%s)", in->spf_domain, dmarc_auth_name(in->spf),
                   aligned ? "aligned" : "not aligned");
    } else {
        buf_puts(b, "SPF not evaluated");
    }
    if (!in->ndkim)
        buf_puts(b, ", no DKIM signature");
    for (size_t i = 0; i < in->ndkim && i < DMARC_DKIM_MAX; i++) {
        bool aligned = dmarc_aligned(in->dkim[i].domain, in->from_domain, r->adkim_strict);
        buf_printf(b, ", DKIM d=%s %s (%s)", in->dkim[i].domain,
                   dmarc_auth_name(in->dkim[i].result), aligned ? "aligned" : "not aligned");
    }
}

static void dmarc_run(scan_task *t, const void *state)
{
    const dmarc_state *s = state;
    dns_batch *b = task_dns(t);
    if (!b) {
        log_debug("job=%s event=dmarc_skipped reason=\"no resolver\"", task_job_id(t));
        return;
    }
    if (!applies(t, s))
        return;
    char from[DMARC_NAME_MAX], why[200];
    if (!dmarc_from_domain(task_headers(t), from, sizeof from, why, sizeof why)) {
        task_symbol(t, "DMARC_PERMERROR", "%s", why);
        note_auth(t, "permerror", "");
        return;
    }
    dmarc_found f;
    dmarc_discover(from, lookup_txt, b, &f);

    const Bulwark__Envelope *env = task_envelope(t);
    const auth_results *auth = task_auth(t);
    dmarc_dkim dk[DMARC_DKIM_MAX];
    dmarc_input in = {
        .from_domain = from,
        .spf_domain = auth->spf_done ? auth->spf_domain : NULL,
        .spf = auth->spf_done ? from_spf(auth->spf) : DMARC_AUTH_NONE,
        .spf_helo = !env->mail_from || !*env->mail_from,
        .dkim = dk,
        .ndkim = dkim_results(auth, dk, DMARC_DKIM_MAX),
        .job_id = task_job_id(t),
    };
    dmarc_outcome o;
    dmarc_evaluate(&in, &f, &o);
    note_auth(t, dmarc_res_name(o.result), from);

    if (o.result == DMARC_RES_NONE) {
        task_symbol(t, "DMARC_NONE", "From %s: %s", from, f.why);
        return;
    }
    if (o.result == DMARC_RES_TEMPERROR && f.status != DMARC_DISC_FOUND) {
        task_symbol(t, "DMARC_TEMPERROR", "From %s: %s", from, o.reason);
        return;
    }
    const dmarc_record *r = &f.rec;
    buf_t d = {0};
    buf_printf(&d, "From %s: %s; policy %s %s=%s pct=%u adkim=%c aspf=%c%s%s; ", from, o.reason,
               f.domain, o.used_sp ? "sp" : "p", dmarc_policy_name(o.requested), r->pct,
               r->adkim_strict ? 's' : 'r', r->aspf_strict ? 's' : 'r', *r->notes ? " (" : "",
               r->notes);
    describe_auth(&in, r, &d);

    const char *disposition = "none", *override = "", *comment = "";
    char local[300] = "", arc_why[300] = "";
    bool by_arc = false;
    if (o.result == DMARC_RES_FAIL) {
        bool is_exempt = exempt(s, from);
        by_arc = !is_exempt && arc_override(auth, from, r, arc_why, sizeof arc_why);
        Bulwark__Action a = s->act[o.disposition];
        bool force = s->force[o.disposition] && !is_exempt && !by_arc;
        disposition = force ? action_word(a) : "none";
        if (o.sampled_out) {
            override = "sampled_out";
            buf_printf(&d, "; pct=%u: sampled out (draw %u), next milder policy %s", r->pct,
                       o.sample, dmarc_policy_name(o.disposition));
        }
        if (is_exempt) {
            override = "local_policy";
            comment = "From domain in check.dmarc.exempt_domains";
            buf_printf(&d, "; From domain exempt (check.dmarc.exempt_domains): not enforced");
        } else if (by_arc) {
            override = "trusted_forwarder";
            snprintf(local, sizeof local, "ARC override by %s", auth->arc_aar.sealer);
            comment = local;
            buf_printf(&d,
                       "; ARC override by %s: ARC set i=%u recorded %s; not enforced, no weight",
                       auth->arc_aar.sealer, auth->arc_aar.instance, arc_why);
        } else if (strcmp(disposition, dmarc_policy_name(o.disposition)) != 0) {
            override = "local_policy";
            snprintf(local, sizeof local, "check.dmarc.%s_action is %s",
                     dmarc_policy_name(o.disposition), force ? action_name(a) : "none");
            comment = local;
        }
        buf_printf(&d, "; disposition %s", disposition);
        if (force) {
            char reason[300];
            snprintf(reason, sizeof reason, "DMARC policy of %s: %s", f.domain,
                     dmarc_policy_name(o.disposition));
            task_force(t, a, reason);
        }
    }
    static const char *const names[] = {
        [DMARC_RES_NONE] = "DMARC_NONE",           [DMARC_RES_PASS] = "DMARC_PASS",
        [DMARC_RES_FAIL] = "DMARC_FAIL",           [DMARC_RES_TEMPERROR] = "DMARC_TEMPERROR",
        [DMARC_RES_PERMERROR] = "DMARC_PERMERROR",
    };
    /* A failure a trusted forwarder explains is its doing, not the sender's. */
    task_symbol_scaled(t, names[o.result], by_arc ? 0.0 : 1.0, "%s", d.data);
    log_debug("job=%s event=dmarc from=%s policy_domain=%s result=%s disposition=%s",
              task_job_id(t), from, f.domain, dmarc_res_name(o.result), disposition);
    report_in ri = {&f, &o, &in, disposition, override, comment};
    set_result(t, b, &ri);
    buf_free(&d);
}

const check_def check_dmarc = {
    .name = "dmarc",
    .symbols = dmarc_symbols,
    .init = dmarc_init,
    .run = dmarc_run,
    .free = dmarc_state_free,
    .start = dmarc_start,
};
