/* dkim.c - the DKIM check: every signature verified (node/dkim.h), and signing.
 *
 * start() reads the DKIM-Signature fields and submits the key lookups
 * (<s>._domainkey.<d> TXT) to the task's DNS batch; run() reads them again, waits
 * for the answers (the batch returns the same queries) and verifies. Each result
 * kind is one symbol whose detail lists the signatures that got it, so two passing
 * signatures do not count twice. A message without a signature gets DKIM_NONE.
 * Keys in test mode (t=y) are noted, and a result that only such keys gave weighs
 * nothing (RFC 6376 3.6.1: treat them like unsigned mail). Every signature's result
 * and d= go to task_auth(t) for DMARC. Without a resolver (no dns_* configuration,
 * no --dns) verification stays silent.
 *
 * finish() signs, after the policy: mail from a SASL-authenticated submitter or a
 * check.dkim.sign_networks client, whose single From domain has keys in the
 * configuration (dkim.sign.DOMAIN.SELECTOR, sealed; node/dkimseal.h), gets one
 * DKIM-Signature per key (relaxed/relaxed, so the MTA's re-folding does not matter)
 * as a header for the milter to put on top. Mail the verdict holds back or whose
 * Subject the milter will change is not signed. The keys are opened once per
 * configuration generation; a key this node cannot open is reported on each message
 * it should have signed (DKIM_UNSIGNED), never refuses the configuration. */
#include "dkim.h"
#include "checks.h"
#include "dkimseal.h"
#include "dmarc.h"
#include "log.h"
#include "netlist.h"
#include "spf.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGN_KEYS_MAX 64

typedef struct {
    char domain[256], selector[64];
    dkim_signkey *key; /* NULL when it could not be opened: */
    char error[200]; /* why */
} sign_key;

typedef struct {
    dkim_opts o;
    Bulwark__Action action;
    bool force;
    sign_key keys[SIGN_KEYS_MAX];
    size_t nkeys;
    netlist sign_nets;
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
    {"DKIM_SIGNED", 0.0,
     "Bulwark signed the message (after the policy: the weight is not counted)"},
    {"DKIM_UNSIGNED", 0.0,
     "Mail that should have been signed was not: the key cannot be opened on this node, "
     "the verdict holds the message or changes its Subject, or From is not one address"},
    {NULL, 0, NULL},
};

static void dkim_state_free(void *state)
{
    dkim_state *s = state;
    if (!s)
        return;
    for (size_t i = 0; i < s->nkeys; i++)
        dkim_signkey_destroy(&s->keys[i].key);
    free(s);
}

/* Opens one dkim.sign.DOMAIN.SELECTOR value; a failure is kept as the key's error. */
static void open_key(sign_key *k, const char *value)
{
    const uint8_t *secret = dkimseal_process();
    char err[160];
    size_t len;
    char *pem = secret ? dkimseal_open(secret, value, &len, err, sizeof err) : NULL;
    if (!secret)
        snprintf(k->error, sizeof k->error, "this node has no dkim_key_file");
    else if (!pem)
        snprintf(k->error, sizeof k->error, "%s", err);
    else if (!(k->key = dkim_signkey_load(pem, len, err, sizeof err)))
        snprintf(k->error, sizeof k->error, "sealed key: %s", err);
    dkimseal_free(pem, pem ? len : 0);
    if (!k->key)
        log_warn("event=dkim_key_unusable key=dkim.sign.%s.%s error=\"%s\"", k->domain, k->selector,
                 k->error);
}

static void sign_keys(const params *cfg, dkim_state *s)
{
    const char *key, *value;
    for (size_t it = 0; params_next_set(cfg, &it, &key, &value);) {
        char domain[256];
        const char *sel = params_dkim_key(key, domain, sizeof domain);
        if (!sel || strlen(sel) >= sizeof s->keys[0].selector)
            continue;
        if (s->nkeys == SIGN_KEYS_MAX) {
            log_warn("event=dkim_keys_ignored reason=\"more than %d dkim.sign keys\" key=%s",
                     SIGN_KEYS_MAX, key);
            continue;
        }
        sign_key *k = &s->keys[s->nkeys++];
        snprintf(k->domain, sizeof k->domain, "%s", domain);
        snprintf(k->selector, sizeof k->selector, "%s", sel);
        open_key(k, value);
    }
}

static bool dkim_init(const params *cfg, void **state, char *err, size_t errlen)
{
    dkim_state *s = xcalloc(1, sizeof *s);
    dkim_opts_default(&s->o);
    s->o.max_sigs = (size_t)params_int(cfg, "check.dkim.max_signatures");
    s->o.sha1_weak = strcmp(params_str(cfg, "check.dkim.rsa_sha1"), "weak") == 0;
    s->o.min_rsa_bits = (unsigned)params_int(cfg, "check.dkim.min_rsa_bits");
    s->o.future_s = params_int(cfg, "check.dkim.future_tolerance") / 1000;
    s->force = check_param_action(cfg, "check.dkim.action", &s->action);
    if (!netlist_param(cfg, "check.dkim.sign_networks", &s->sign_nets, err, errlen)) {
        dkim_state_free(s);
        return false;
    }
    sign_keys(cfg, s);
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

/* ---- signing ---------------------------------------------------------------------- */

/* Whether the sender may have its mail signed: logged in, or a listed client. */
static bool may_sign(const dkim_state *s, const Bulwark__Envelope *env)
{
    if (!env)
        return false;
    if (env->auth_user && *env->auth_user)
        return true;
    return env->client_ip && netlist_match(&s->sign_nets, env->client_ip);
}

static void dkim_finish(scan_task *t, const void *state)
{
    const dkim_state *s = state;
    if (!s->nkeys || !may_sign(s, task_envelope(t)))
        return;
    const hdr_block *h = task_headers(t);
    char domain[256], why[128];
    if (!dmarc_from_domain(h, domain, sizeof domain, why, sizeof why)) { /* DMARC's reading */
        if (hdr_count(h, "From") != 0)
            log_debug("job=%s event=dkim_not_signed reason=\"%s\"", task_job_id(t), why);
        return;
    }
    const Bulwark__ScanResult *r = scan_result(t);
    const char *held = NULL;
    if (r->action != BULWARK__ACTION__ACTION_PASS && r->action != BULWARK__ACTION__ACTION_TAG)
        held = action_name(r->action);
    else if (r->subject_prefix && *r->subject_prefix)
        held = "tag (the Subject gets the prefix)";
    size_t len;
    const uint8_t *raw = task_raw(t, &len);
    for (size_t i = 0; i < s->nkeys; i++) {
        const sign_key *k = &s->keys[i];
        if (strcmp(k->domain, domain) != 0)
            continue;
        if (held || !k->key) {
            task_symbol(t, "DKIM_UNSIGNED", "d=%s s=%s: %s%s", k->domain, k->selector,
                        held ? "verdict " : "", held ? held : k->error);
            continue;
        }
        dkim_sign_opts so = {.domain = k->domain,
                             .selector = k->selector,
                             .alg = dkim_signkey_type(k->key) == DKIM_KEY_ED25519
                                        ? DKIM_ALG_ED25519_SHA256
                                        : DKIM_ALG_RSA_SHA256,
                             .hcanon = DKIM_CANON_RELAXED,
                             .bcanon = DKIM_CANON_RELAXED,
                             .now = task_time(t)};
        char err[200];
        char *field = dkim_sign(k->key, &so, raw, len, err, sizeof err);
        if (!field) {
            task_symbol(t, "DKIM_UNSIGNED", "d=%s s=%s: %s", k->domain, k->selector, err);
        } else if (!task_add_header(t, "DKIM-Signature", field + strlen("DKIM-Signature:"))) {
            task_symbol(t, "DKIM_UNSIGNED", "d=%s s=%s: too many header fields to add", k->domain,
                        k->selector);
        } else {
            task_symbol(t, "DKIM_SIGNED", "d=%s s=%s a=%s", k->domain, k->selector,
                        dkim_alg_name(so.alg));
        }
        free(field);
    }
}

const check_def check_dkim = {
    .name = "dkim",
    .symbols = dkim_symbols,
    .init = dkim_init,
    .start = dkim_start,
    .run = dkim_run,
    .finish = dkim_finish,
    .free = dkim_state_free,
};
