/* bayes.c - the Bayesian classifier check and its autolearn.
 *
 * Run: the message's tokens (node/tokens.h) are looked up in the most specific
 * scope that has learned enough of both classes (check.bayes.min_learned): the
 * recipient's own scope when every recipient is one address, else the recipients'
 * domain when they share one, else global. Two pipelined Redis round trips: the
 * scopes' learned counts, then the token counts. The probability (Robinson + Fisher,
 * node/bayes.h) above spam_threshold adds BAYES_SPAM, scaled from 0 at the threshold
 * to 1.0 at certainty; at or below ham_threshold BAYES_HAM, scaled from 0.5 to 1.0.
 * With no redis_server the check is silent; when Redis fails, or the only scope with
 * enough learned was learned with another token scheme or OSB window
 * (bayes_scheme_mark), it adds BAYES_UNAVAILABLE (0) and the scan goes on.
 *
 * Autolearn (check_bayes_autolearn, called by the pipeline after the policy): a
 * message whose score without the BAYES_* symbols reaches autolearn_spam is learned
 * as spam into the global scope; one at or below autolearn_ham whose action is pass
 * is learned as ham. Spam is learned whatever action a check forced (GTUBE, a
 * virus with a forced reject still scored that high); ham never when an action was
 * forced, so a blocked message never teaches "ham". Bayes never teaches itself. */
#include "bayes.h"
#include "checks.h"
#include "learn.h"
#include "log.h"
#include "redisx.h"
#include "tokens.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    bayes_opts opts;
    uint64_t min_learned;
    double spam_threshold, ham_threshold;
    size_t max_tokens;
    unsigned osb_window;
    bool autolearn;
    double autolearn_spam, autolearn_ham;
} bayes_state;

static const symbol_def bayes_symbols[] = {
    {"BAYES_SPAM", 6.0,
     "Bayesian classifier: spam probability above check.bayes.spam_threshold (weight scaled "
     "0..1 from the threshold to p = 1)"},
    {"BAYES_HAM", -2.0,
     "Bayesian classifier: spam probability below check.bayes.ham_threshold (weight scaled "
     "0.5..1 as the probability nears 0)"},
    {"BAYES_UNAVAILABLE", 0.0,
     "Bayesian classifier could not reach Redis, or its counts are of another token scheme or "
     "OSB window (no vote)"},
    {NULL, 0, NULL},
};

static bool bayes_init(const params *cfg, void **state, char *err, size_t errlen)
{
    bayes_state *s = xcalloc(1, sizeof *s);
    bayes_opts_default(&s->opts);
    s->opts.max_used = (unsigned)params_int(cfg, "check.bayes.max_used");
    s->opts.min_strength = params_double(cfg, "check.bayes.min_strength");
    s->opts.min_hits = (unsigned)params_int(cfg, "check.bayes.min_token_hits");
    s->min_learned = (uint64_t)params_int(cfg, "check.bayes.min_learned");
    s->spam_threshold = params_double(cfg, "check.bayes.spam_threshold");
    s->ham_threshold = params_double(cfg, "check.bayes.ham_threshold");
    s->max_tokens = (size_t)params_int(cfg, "check.bayes.max_tokens");
    s->osb_window = (unsigned)params_int(cfg, "check.bayes.osb_window");
    s->autolearn = params_bool(cfg, "check.bayes.autolearn");
    s->autolearn_spam = params_double(cfg, "check.bayes.autolearn_spam");
    s->autolearn_ham = params_double(cfg, "check.bayes.autolearn_ham");
    if (s->ham_threshold >= s->spam_threshold) {
        snprintf(err, errlen, "check.bayes.ham_threshold (%g) must be below spam_threshold (%g)",
                 s->ham_threshold, s->spam_threshold);
        free(s);
        return false;
    }
    if (s->autolearn_ham >= s->autolearn_spam) {
        snprintf(err, errlen, "check.bayes.autolearn_ham (%g) must be below autolearn_spam (%g)",
                 s->autolearn_ham, s->autolearn_spam);
        free(s);
        return false;
    }
    *state = s;
    return true;
}

/* Candidate scopes, most specific first; returns how many (global always last). */
static size_t candidate_scopes(const Bulwark__Envelope *env, char scopes[3][BAYES_SCOPE_MAX + 4])
{
    size_t n = 0;
    if (env && env->n_rcpt) {
        const char *first = env->rcpt[0];
        const char *at = first ? strrchr(first, '@') : NULL;
        bool same_addr = first != NULL, same_dom = at != NULL;
        for (size_t i = 1; i < env->n_rcpt; i++) {
            const char *r = env->rcpt[i];
            const char *rat = r ? strrchr(r, '@') : NULL;
            if (!r || strcasecmp(r, first) != 0)
                same_addr = false;
            if (!rat || !at || strcasecmp(rat, at) != 0)
                same_dom = false;
        }
        if (same_addr && bayes_scope_user(first, scopes[n], sizeof scopes[n]))
            n++;
        if (same_dom && bayes_scope_domain(at + 1, scopes[n], sizeof scopes[n]))
            n++;
    }
    snprintf(scopes[n++], sizeof scopes[0], "g");
    return n;
}

static void unavailable(scan_task *t, redisContext *c, const char *why)
{
    if (c && c->err)
        redisx_reset();
    log_warn("job=%s event=bayes_unavailable reason=\"%s\"", task_job_id(t), why);
    task_symbol(t, "BAYES_UNAVAILABLE", "%s", why);
}

static void bayes_run(scan_task *t, const void *state)
{
    const bayes_state *s = state;
    if (!redisx_configured())
        return;
    char err[768];
    redisContext *c = redisx_get(err, sizeof err);
    if (!c) {
        task_symbol(t, "BAYES_UNAVAILABLE", "%s", err);
        return;
    }
    char scopes[3][BAYES_SCOPE_MAX + 4];
    size_t ns = candidate_scopes(task_envelope(t), scopes);
    const char *names[3];
    uint64_t spam[3], ham[3];
    unsigned scheme[3];
    for (size_t i = 0; i < ns; i++)
        names[i] = scopes[i];
    if (!bayes_scope_counts(c, names, ns, spam, ham, scheme, err, sizeof err)) {
        unavailable(t, c, err);
        return;
    }
    unsigned mark = bayes_scheme_mark(s->osb_window);
    size_t pick = ns, stale = ns;
    for (size_t i = 0; i < ns && pick == ns; i++) {
        if (spam[i] < s->min_learned || ham[i] < s->min_learned)
            continue;
        if (scheme[i] == mark)
            pick = i;
        else if (stale == ns)
            stale = i;
    }
    if (pick == ns && stale != ns) {
        /* Counts of another tokenizer or window match few of this one's tokens:
         * say so rather than vote on them. */
        char was[96], now[96];
        bayes_scheme_name(scheme[stale], was, sizeof was);
        bayes_scheme_name(mark, now, sizeof now);
        snprintf(err, sizeof err,
                 "scope %s was learned with %s, this node uses %s: %sdelete "
                 "bw:b:%s:* and learn again",
                 names[stale], was, now, bayes_scheme_hint(scheme[stale], mark), names[stale]);
        unavailable(t, NULL, err);
        return;
    }
    if (pick == ns)
        return; /* not enough learned anywhere: no vote */

    size_t n;
    uint64_t *tok = tok_extract(task_message(t), task_headers(t), s->max_tokens, s->osb_window, &n);
    bayes_count *cnt = n ? xmalloc(n * sizeof *cnt) : NULL;
    if (n && !bayes_fetch(c, names[pick], tok, n, cnt, err, sizeof err)) {
        free(tok);
        free(cnt);
        unavailable(t, c, err);
        return;
    }
    size_t used;
    double p = bayes_classify(cnt, n, spam[pick], ham[pick], &s->opts, &used);
    free(tok);
    free(cnt);
    if (p > s->spam_threshold) {
        /* From nothing at the threshold to the full weight at 1: "unsure" messages
         * get a little, not a jump (5-fold CV on TRAIN, docs/bayes.md). */
        double f = (p - s->spam_threshold) / (1.0 - s->spam_threshold);
        task_symbol_scaled(t, "BAYES_SPAM", f > 1 ? 1 : f, "p=%.4f scope=%s tokens=%zu/%zu", p,
                           names[pick], used, n);
    } else if (p <= s->ham_threshold) {
        double f = s->ham_threshold > 0 ? 0.5 + 0.5 * (s->ham_threshold - p) / s->ham_threshold : 1;
        task_symbol_scaled(t, "BAYES_HAM", f > 1 ? 1 : f, "p=%.4f scope=%s tokens=%zu/%zu", p,
                           names[pick], used, n);
    }
}

void check_bayes_autolearn(scan_task *t, const void *state)
{
    const bayes_state *s = state;
    if (!s || !s->autolearn || !redisx_configured())
        return;
    const Bulwark__ScanResult *r = scan_result(t);
    double score = 0;
    for (size_t i = 0; i < r->n_symbols; i++)
        if (strncmp(r->symbols[i]->name, "BAYES_", 6) != 0)
            score += r->symbols[i]->score;
    bool spam;
    if (score >= s->autolearn_spam)
        spam = true;
    else if (score <= s->autolearn_ham && r->action == BULWARK__ACTION__ACTION_PASS)
        spam = false;
    else
        return;
    char err[256];
    bayes_learn_result res;
    if (!learn_model(task_message(t), task_headers(t), spam, "g", s->max_tokens, s->osb_window,
                     &res, err, sizeof err)) {
        log_warn("job=%s event=bayes_autolearn_failed reason=\"%s\"", task_job_id(t), err);
        return;
    }
    log_info("job=%s event=bayes_autolearn class=%s score=%.2f result=\"%s\"", task_job_id(t),
             spam ? "spam" : "ham", score, bayes_learn_result_name(res));
}

const check_def check_bayes = {
    .name = "bayes",
    .symbols = bayes_symbols,
    .init = bayes_init,
    .run = bayes_run,
    .free = free,
};
