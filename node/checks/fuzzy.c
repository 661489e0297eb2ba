/* fuzzy.c - the fuzzy check: is this message a near-duplicate of learned spam?
 *
 * The visible text of the message (msg_text) is min-hashed (node/fuzzy.c) and its
 * FUZZY_K positions are looked up in the cluster's Redis in one MGET. When at least
 * check.fuzzy.threshold of them point to learned spam, FUZZY_SPAM is added with its
 * weight scaled by that fraction, unless the message is at least as close to learned
 * ham (a released false positive) as to spam. Without a
 * Redis address the check stays silent; with Redis down it says FUZZY_UNAVAILABLE
 * (weight 0) and the scan goes on. Too little text: nothing is looked up. */
#include "fuzzy.h"
#include "checks.h"
#include "log.h"
#include "redisx.h"
#include "util.h"

#include <stdlib.h>

typedef struct {
    fuzzy_opts opts;
    double threshold;
} fuzzy_state;

static const symbol_def fuzzy_symbols[] = {
    {"FUZZY_SPAM", 6.0,
     "The text is a near-duplicate of learned spam (weight scaled by the fraction of "
     "matching min-hash positions)"},
    {"FUZZY_UNAVAILABLE", 0.0, "Redis could not be asked for fuzzy hashes"},
    {NULL, 0, NULL},
};

static bool fuzzy_init(const params *cfg, void **state, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    fuzzy_state *s = xcalloc(1, sizeof *s);
    fuzzy_opts_from_params(cfg, &s->opts);
    s->threshold = params_double(cfg, "check.fuzzy.threshold");
    *state = s;
    return true;
}

static void fuzzy_free(void *state)
{
    free(state);
}

static void fuzzy_run(scan_task *t, const void *state)
{
    const fuzzy_state *s = state;
    if (!redisx_configured())
        return;
    size_t len;
    const char *text = msg_text(task_message(t), &len);
    fuzzy_match m;
    char err[256];
    switch (fuzzy_check(text, len, &s->opts, &m, err, sizeof err)) {
    case FUZZY_SKIPPED: return;
    case FUZZY_ERROR:
        task_symbol(t, "FUZZY_UNAVAILABLE", "%s", err);
        log_warn("job=%s event=fuzzy_unavailable error=\"%s\"", task_job_id(t), err);
        return;
    case FUZZY_OK: break;
    }
    if (!fuzzy_is_spam(&m, s->threshold))
        return;
    task_symbol_scaled(t, "FUZZY_SPAM", m.similarity,
                       "similarity %.2f (%u of %d positions match learned spam, campaign %s)",
                       m.similarity, m.spam, FUZZY_K, m.campaign);
}

const check_def check_fuzzy = {
    .name = "fuzzy",
    .symbols = fuzzy_symbols,
    .init = fuzzy_init,
    .run = fuzzy_run,
    .free = fuzzy_free,
};
