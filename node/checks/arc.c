/* arc.c - the ARC check: does the message's chain of custody (RFC 8617) hold?
 *
 * start reads the ARC sets and submits the key lookups of every seal and of the
 * newest message signature, so they are in flight with SPF's and DKIM's; run reads
 * them again, collects the answers and validates the chain (node/arc.h). One symbol
 * says the result (ARC_PASS, ARC_FAIL with the set that failed, ARC_TEMPERROR,
 * ARC_NONE); the weights are small, since anyone can seal a message. Trust comes
 * from configuration: when the chain passes and its newest sealer (the one that
 * handed the message on; a domain covers its subdomains) is in
 * check.arc.trusted_sealers, ARC_TRUSTED is added and task_auth(t) carries the
 * results the trusted run of sealers recorded, which the DMARC check may use to
 * forgive a failure the forwarder caused. Without a resolver the check is silent. */
#include "arc.h"
#include "checks.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    arc_opts o;
    strlist trusted; /* lower case, no leading dot */
} arc_state;

static const symbol_def arc_symbols[] = {
    {"ARC_PASS", -0.1,
     "ARC: the chain of custody verifies (the detail names the sealers and what the first "
     "recorded)"},
    {"ARC_FAIL", 0.3,
     "ARC: the chain is broken: missing or repeated sets, wrong cv=, a signature that does "
     "not verify (the detail names the set)"},
    {"ARC_NONE", 0.0, "ARC: the message has no ARC header fields"},
    {"ARC_TEMPERROR", 0.0, "ARC: a sealer's key could not be looked up (DNS timeout or failure)"},
    {"ARC_TRUSTED", -0.5,
     "ARC: the chain verifies and its newest sealer is in check.arc.trusted_sealers (DMARC "
     "failures the trusted forwarders explain are not enforced)"},
    {NULL, 0, NULL},
};

static void arc_state_free(void *state)
{
    arc_state *s = state;
    if (!s)
        return;
    strlist_free(&s->trusted);
    free(s);
}

static bool arc_init(const params *cfg, void **state, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    arc_state *s = xcalloc(1, sizeof *s);
    arc_opts_default(&s->o);
    check_param_list(cfg, "check.arc.trusted_sealers", &s->trusted);
    *state = s;
    return true;
}

static arc_verifier *verifier(scan_task *t, const arc_state *s)
{
    size_t len;
    const uint8_t *raw = task_raw(t, &len);
    return arc_verifier_new(raw, len, &s->o);
}

static void arc_start(scan_task *t, const void *state)
{
    dns_batch *b = task_dns(t);
    if (!b)
        return;
    arc_verifier *v = verifier(t, state);
    arc_verifier_submit(v, b);
    arc_verifier_destroy(&v);
}

static bool trusted(const arc_state *s, const char *domain)
{
    size_t dl = strlen(domain);
    for (size_t i = 0; domain[0] && i < s->trusted.n; i++) {
        const char *e = s->trusted.v[i];
        size_t el = strlen(e);
        if (strcmp(domain, e) == 0 ||
            (dl > el && domain[dl - el - 1] == '.' && strcmp(domain + dl - el, e) == 0))
            return true;
    }
    return false;
}

/* "spf=pass (sender.example) dkim=pass (sender.example) dmarc=pass (sender.example)" */
static void describe_aar(const arc_aar *a, buf_t *b)
{
    buf_printf(b, "i=%u %s recorded", a->instance, a->authserv_id[0] ? a->authserv_id : "(no id)");
    size_t start = b->len;
    if (a->spf[0])
        buf_printf(b, " spf=%s%s%s%s", a->spf, a->spf_domain[0] ? " (" : "", a->spf_domain,
                   a->spf_domain[0] ? ")" : "");
    for (size_t i = 0; i < a->ndkim; i++)
        buf_printf(b, " dkim=%s%s%s%s", a->dkim[i].result, a->dkim[i].domain[0] ? " (" : "",
                   a->dkim[i].domain, a->dkim[i].domain[0] ? ")" : "");
    if (a->dmarc[0])
        buf_printf(b, " dmarc=%s%s%s%s", a->dmarc, a->dmarc_from[0] ? " (" : "", a->dmarc_from,
                   a->dmarc_from[0] ? ")" : "");
    if (b->len == start)
        buf_puts(b, " no spf, dkim or dmarc result");
}

/* What the AAR of set i says. */
static void read_aar(const arc_verifier *v, unsigned i, arc_aar *out)
{
    size_t len;
    const char *p = arc_verifier_aar(v, i, &len);
    memset(out, 0, sizeof *out);
    if (p)
        arc_aar_read(p, len, out);
    out->instance = i;
    const char *sealer = arc_verifier_sealer(v, i);
    snprintf(out->sealer, sizeof out->sealer, "%s", sealer ? sealer : "");
}

static void passed(scan_task *t, const arc_state *s, const arc_verifier *v, auth_results *auth)
{
    unsigned n = arc_verifier_result(v)->sets;
    const char *newest = arc_verifier_sealer(v, n);
    snprintf(auth->arc_sealer, sizeof auth->arc_sealer, "%s", newest);
    buf_t d = {0};
    buf_printf(&d, "%u set%s sealed by", n, n == 1 ? "" : "s");
    for (unsigned i = 1; i <= n; i++)
        buf_printf(&d, "%s %s (i=%u)", i > 1 ? "," : "", arc_verifier_sealer(v, i), i);
    buf_puts(&d, "; ");
    arc_aar oldest;
    read_aar(v, 1, &oldest);
    describe_aar(&oldest, &d);
    /* Only a trusted sealer's record is believed, and only when every sealer after it
     * is trusted too: an untrusted later hop could have sealed a changed message on
     * top of a genuine older set (a replay of it with new content). */
    unsigned from = n;
    auth->arc_trusted = trusted(s, newest);
    while (auth->arc_trusted && from > 1 && trusted(s, arc_verifier_sealer(v, from - 1)))
        from--;
    auth->arc_aar = oldest;
    if (auth->arc_trusted && from != 1)
        read_aar(v, from, &auth->arc_aar);
    task_symbol(t, "ARC_PASS", "%s", d.data);
    if (auth->arc_trusted) {
        buf_t tr = {0};
        buf_printf(&tr, "newest sealer %s is trusted; ", newest);
        describe_aar(&auth->arc_aar, &tr);
        task_symbol(t, "ARC_TRUSTED", "%s", tr.data);
        buf_free(&tr);
    }
    buf_free(&d);
}

static void arc_run(scan_task *t, const void *state)
{
    const arc_state *s = state;
    dns_batch *b = task_dns(t);
    if (!b)
        return;
    arc_verifier *v = verifier(t, s);
    auth_results *auth = task_auth(t);
    auth->arc_done = true;
    if (!arc_verifier_found(v)) {
        task_symbol(t, "ARC_NONE", "no ARC header field");
        arc_verifier_destroy(&v);
        return;
    }
    arc_verifier_collect(v, b);
    arc_verifier_run(v);
    const arc_result *r = arc_verifier_result(v);
    auth->arc = r->res;
    auth->arc_sets = r->sets;
    switch (r->res) {
    case ARC_RES_PASS: passed(t, s, v, auth); break;
    case ARC_RES_FAIL:
        task_symbol(t, "ARC_FAIL", "%u set%s: %s", r->sets, r->sets == 1 ? "" : "s", r->reason);
        break;
    case ARC_RES_TEMPERROR: task_symbol(t, "ARC_TEMPERROR", "%s", r->reason); break;
    case ARC_RES_NONE: task_symbol(t, "ARC_NONE", "no ARC set"); break;
    }
    log_debug("job=%s event=arc result=%s sets=%u instance=%u trusted=%s reason=\"%s\"",
              task_job_id(t), arc_res_name(r->res), r->sets, r->instance,
              auth->arc_trusted ? "yes" : "no", r->reason);
    arc_verifier_destroy(&v);
}

const check_def check_arc = {
    .name = "arc",
    .symbols = arc_symbols,
    .init = arc_init,
    .start = arc_start,
    .run = arc_run,
    .free = arc_state_free,
};
