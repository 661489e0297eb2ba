/* spf.c - the SPF check: may the connecting host send for the envelope sender's domain?
 *
 * start submits the TXT lookup of the MAIL FROM domain (and of the HELO name), so it
 * is in flight with the other checks' lookups; run evaluates RFC 7208 check_host()
 * (node/spf.h) through the task's DNS batch and adds one SPF_* symbol for the MAIL FROM
 * identity (postmaster@HELO for the null sender), plus SPF_HELO_PASS/FAIL/SOFTFAIL
 * for the HELO identity when check.spf.helo is on. The MAIL FROM result also goes to
 * task_auth(t) for DMARC. Nothing is checked (no symbol) for authenticated submitters,
 * clients in check.spf.trusted_networks, a scan without a client IP or without a
 * resolver. A fail forces check.spf.fail_action when one is set; by default the score
 * and DMARC decide. */
#include "spf.h"
#include "checks.h"
#include "log.h"
#include "netlist.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    netlist trusted;
    bool helo;
    bool force_fail;
    Bulwark__Action fail_action;
} spf_state;

static const symbol_def spf_symbols[] = {
    {"SPF_PASS", -0.2, "SPF: the client may send for the MAIL FROM domain"},
    {"SPF_FAIL", 2.0, "SPF: the MAIL FROM domain says the client may not send for it (-)"},
    {"SPF_SOFTFAIL", 0.7, "SPF: the MAIL FROM domain says the client is probably not its (~)"},
    {"SPF_NEUTRAL", 0.0, "SPF: the MAIL FROM domain makes no assertion about the client (?)"},
    {"SPF_NONE", 0.0, "SPF: the MAIL FROM domain publishes no SPF record"},
    {"SPF_TEMPERROR", 0.0, "SPF: a DNS error or timeout; the result may differ later"},
    {"SPF_PERMERROR", 0.5, "SPF: the domain's record is broken (syntax, over the lookup limits)"},
    {"SPF_HELO_PASS", 0.0, "SPF: the client may send for its HELO name"},
    {"SPF_HELO_FAIL", 1.0, "SPF: the HELO name's domain says the client may not use it"},
    {"SPF_HELO_SOFTFAIL", 0.3, "SPF: the HELO name's domain says the client is probably not its"},
    {NULL, 0, NULL},
};

static bool spf_init(const params *cfg, void **state, char *err, size_t errlen)
{
    spf_state *s = xcalloc(1, sizeof *s);
    if (!netlist_param(cfg, "check.spf.trusted_networks", &s->trusted, err, errlen)) {
        free(s);
        return false;
    }
    s->helo = params_bool(cfg, "check.spf.helo");
    s->force_fail = check_param_action(cfg, "check.spf.fail_action", &s->fail_action);
    *state = s;
    return true;
}

/* Whether SPF applies to this message; *ip gets the client address. warn: say so when
 * the address is unreadable (once per message: run, not start). */
static bool applies(scan_task *t, const spf_state *s, spf_ip *ip, bool warn)
{
    const Bulwark__Envelope *env = task_envelope(t);
    if (!env || !env->client_ip || !*env->client_ip)
        return false;
    if (env->auth_user && *env->auth_user)
        return false; /* a submitter is authenticated by its login, not by its address */
    if (!spf_ip_parse(env->client_ip, ip)) {
        if (warn)
            log_warn("job=%s event=spf_skipped reason=\"client address '%s' unreadable\"",
                     task_job_id(t), env->client_ip);
        return false;
    }
    return !netlist_contains(&s->trusted, ip);
}

static void spf_start(scan_task *t, const void *state)
{
    const spf_state *s = state;
    spf_ip ip;
    if (!applies(t, s, &ip, false) || !task_dns(t))
        return;
    const Bulwark__Envelope *env = task_envelope(t);
    char domain[SPF_NAME_MAX];
    if (spf_identity_domain(SPF_ID_MAILFROM, env->helo, env->mail_from, domain, sizeof domain))
        dns_submit(task_dns(t), domain, DNS_T_TXT);
    if (s->helo && spf_identity_domain(SPF_ID_HELO, env->helo, NULL, domain, sizeof domain))
        dns_submit(task_dns(t), domain, DNS_T_TXT); /* one query if it is the same name */
}

/* Adds sym with the detail "mailfrom example.com: fail by '-all' for 192.0.2.1: <the
 * explanation of a fail, else the reason>". */
static void add(scan_task *t, const char *sym, const char *identity, const spf_outcome *o,
                const char *ip)
{
    const char *why = o->result == SPF_FAIL ? o->explanation : o->reason;
    task_symbol(t, sym, "%s %s: %s%s%s%s for %s%s%s", identity,
                o->domain[0] ? o->domain : "(no domain)", spf_result_name(o->result),
                o->mechanism[0] ? " by '" : "", o->mechanism, o->mechanism[0] ? "'" : "", ip,
                why[0] ? ": " : "", why);
}

static const char *mailfrom_symbol(spf_result r)
{
    switch (r) {
    case SPF_PASS: return "SPF_PASS";
    case SPF_FAIL: return "SPF_FAIL";
    case SPF_SOFTFAIL: return "SPF_SOFTFAIL";
    case SPF_NEUTRAL: return "SPF_NEUTRAL";
    case SPF_NONE: return "SPF_NONE";
    case SPF_TEMPERROR: return "SPF_TEMPERROR";
    case SPF_PERMERROR: return "SPF_PERMERROR";
    }
    return "SPF_PERMERROR";
}

static void check_helo(scan_task *t, const spf_opts *opts, const spf_ip *ip, const char *ipstr)
{
    const Bulwark__Envelope *env = task_envelope(t);
    char domain[SPF_NAME_MAX];
    if (!spf_identity_domain(SPF_ID_HELO, env->helo, NULL, domain, sizeof domain))
        return;
    spf_outcome o;
    spf_check(task_dns(t), opts, SPF_ID_HELO, ip, env->helo, NULL, &o);
    const char *sym = o.result == SPF_PASS       ? "SPF_HELO_PASS"
                      : o.result == SPF_FAIL     ? "SPF_HELO_FAIL"
                      : o.result == SPF_SOFTFAIL ? "SPF_HELO_SOFTFAIL"
                                                 : NULL;
    if (!sym)
        return;
    add(t, sym, "helo", &o, ipstr);
}

static void spf_run(scan_task *t, const void *state)
{
    const spf_state *s = state;
    spf_ip ip;
    if (!applies(t, s, &ip, true))
        return;
    if (!task_dns(t)) {
        log_debug("job=%s event=spf_skipped reason=\"no resolver\"", task_job_id(t));
        return;
    }
    const Bulwark__Envelope *env = task_envelope(t);
    spf_opts opts = {.now = task_time(t)};
    spf_outcome o;
    char ipstr[64];
    spf_ip_text(&ip, ipstr, sizeof ipstr);
    spf_check(task_dns(t), &opts, SPF_ID_MAILFROM, &ip, env->helo, env->mail_from, &o);
    add(t, mailfrom_symbol(o.result), "mailfrom", &o, ipstr);
    log_debug("job=%s event=spf identity=mailfrom domain=%s result=%s lookups=%u queries=%u",
              task_job_id(t), o.domain, spf_result_name(o.result), o.lookups, o.queries);

    auth_results *auth = task_auth(t);
    auth->spf_done = true;
    auth->spf = o.result;
    snprintf(auth->spf_domain, sizeof auth->spf_domain, "%s", o.domain);

    /* A null sender's MAIL FROM identity is the HELO one: checked once. */
    bool null_sender = !env->mail_from || !*env->mail_from;
    if (s->helo && !null_sender)
        check_helo(t, &opts, &ip, ipstr);
    if (o.result == SPF_FAIL && s->force_fail)
        task_force(t, s->fail_action, "SPF fail");
}

const check_def check_spf = {
    .name = "spf",
    .symbols = spf_symbols,
    .init = spf_init,
    .start = spf_start,
    .run = spf_run,
    .free = free,
};
