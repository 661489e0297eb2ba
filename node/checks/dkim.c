/* dkim.c - the DKIM check: every signature of the message verified (node/dkim.h).
 *
 * start() reads the DKIM-Signature fields and submits the key lookups
 * (<s>._domainkey.<d> TXT) to the task's DNS batch; run() reads them again, waits
 * for the answers (the batch returns the same queries) and verifies. Each result
 * kind is one symbol whose detail lists the signatures that got it, so two passing
 * signatures do not count twice. A message without a signature gets DKIM_NONE.
 * Keys in test mode (t=y) are noted, and a result that only such keys gave weighs
 * nothing (RFC 6376 3.6.1: treat them like unsigned mail). Every signature's result
 * and d= go to task_auth(t) for DMARC. Without a resolver (no dns_* configuration,
 * no --dns) the check stays silent. */
#include "dkim.h"
#include "checks.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    dkim_opts o;
    Bulwark__Action action;
    bool force;
} dkim_state;

static const symbol_def dkim_symbols[] = {
    {"DKIM_PASS", -0.2, "A DKIM signature verified (the detail names d=, s= and a=)"},
    {"DKIM_FAIL", 1.0,
     "A DKIM signature did not verify: changed body or header, revoked or too short key, "
     "expired, rsa-sha1 (RFC 8301)"},
    {"DKIM_TEMPERROR", 0.0, "A DKIM key could not be looked up (DNS timeout or failure)"},
    {"DKIM_PERMERROR", 0.0,
     "A DKIM signature that cannot be checked: bad syntax, no key published, unusable key"},
    {"DKIM_NONE", 0.0, "The message has no DKIM signature"},
    {NULL, 0, NULL},
};

static bool dkim_init(const params *cfg, void **state, char *err, size_t errlen)
{
    dkim_state *s = xcalloc(1, sizeof *s);
    dkim_opts_default(&s->o);
    s->o.max_sigs = (size_t)params_int(cfg, "check.dkim.max_signatures");
    s->o.sha1_weak = strcmp(params_str(cfg, "check.dkim.rsa_sha1"), "weak") == 0;
    s->o.min_rsa_bits = (unsigned)params_int(cfg, "check.dkim.min_rsa_bits");
    s->o.future_s = params_int(cfg, "check.dkim.future_tolerance") / 1000;
    s->force = check_param_action(cfg, "check.dkim.action", &s->action);
    *state = s;
    return true;
}

static dkim_verifier *verifier(scan_task *t, const dkim_state *s)
{
    size_t len;
    const uint8_t *raw = task_raw(t, &len);
    dkim_opts o = s->o;
    o.now = task_time(t);
    return dkim_verifier_new(raw, len, &o);
}

static void dkim_start(scan_task *t, const void *state)
{
    dns_batch *b = task_dns(t);
    if (!b)
        return;
    dkim_verifier *v = verifier(t, state);
    dkim_verifier_submit(v, b);
    dkim_verifier_destroy(&v);
}

typedef struct {
    buf_t detail;
    size_t n, testing;
} group;

static void dkim_run(scan_task *t, const void *state)
{
    const dkim_state *s = state;
    dns_batch *b = task_dns(t);
    if (!b)
        return;
    dkim_verifier *v = verifier(t, s);
    size_t found = dkim_verifier_found(v), n = dkim_verifier_count(v);
    auth_results *auth = task_auth(t);
    auth->dkim_done = true;
    if (!found) {
        task_symbol(t, "DKIM_NONE", "no DKIM-Signature field");
        dkim_verifier_destroy(&v);
        return;
    }
    dkim_verifier_collect(v, b);
    dkim_verifier_run(v);
    group g[4] = {0};
    for (size_t i = 0; i < n; i++) {
        const dkim_result *r = dkim_verifier_result(v, i);
        char d[400];
        dkim_result_describe(r, d, sizeof d);
        buf_printf(&g[r->res].detail, "%s%s", g[r->res].n ? "; " : "", d);
        g[r->res].n++;
        g[r->res].testing += (r->flags & DKIM_F_TESTING) != 0;
        if (auth->ndkim < AUTH_DKIM_MAX) { /* for DMARC */
            auth->dkim[auth->ndkim].result = r->res;
            snprintf(auth->dkim[auth->ndkim].domain, sizeof auth->dkim[0].domain, "%s", r->domain);
            snprintf(auth->dkim[auth->ndkim].selector, sizeof auth->dkim[0].selector, "%s",
                     r->selector);
            auth->dkim[auth->ndkim++].testing = (r->flags & DKIM_F_TESTING) != 0;
        }
        log_debug("job=%s event=dkim result=%s %s", task_job_id(t), dkim_res_name(r->res), d);
    }
    static const char *const names[] = {"DKIM_PASS", "DKIM_FAIL", "DKIM_TEMPERROR",
                                        "DKIM_PERMERROR"};
    char more[96] = "";
    if (found > n)
        snprintf(more, sizeof more, "; %zu more signatures not verified (limit %zu)", found - n, n);
    for (int k = 0; k < 4; k++) {
        if (!g[k].n)
            continue;
        bool test_only = g[k].testing == g[k].n;
        task_symbol_scaled(t, names[k], test_only ? 0.0 : 1.0, "%s%s%s", g[k].detail.data,
                           test_only ? " (test mode key: no weight)" : "", more);
        buf_free(&g[k].detail);
    }
    if (s->force && g[DKIM_RES_FAIL].n > g[DKIM_RES_FAIL].testing && !g[DKIM_RES_PASS].n)
        task_force(t, s->action, "DKIM signature failed");
    dkim_verifier_destroy(&v);
}

const check_def check_dkim = {
    .name = "dkim",
    .symbols = dkim_symbols,
    .init = dkim_init,
    .start = dkim_start,
    .run = dkim_run,
    .free = free,
};
