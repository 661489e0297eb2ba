/* rspamd.c - the rspamd check: a second engine's opinion as one weighted symbol.
 *
 * When check.rspamd.url is set, the raw message goes to rspamd (node/rspamd.c) with
 * its envelope and the job id as Queue-Id. rspamd's score becomes RSPAMD_SCORE,
 * weighted check.rspamd.weight times rspamd's score (negative scores lower ours);
 * the detail is rspamd's action, score and heaviest symbols. rspamd's action is not
 * forced on us: its score takes part in our policy like any other symbol. Any failure
 * (connection refused, timeout, a reply that does not parse) is RSPAMD_UNAVAILABLE,
 * weight 0, and the scan goes on without it. An empty URL: the check does nothing. */
#include "rspamd.h"
#include "checks.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *url;
    int64_t timeout_ms;
    double weight;
} rspamd_state;

static const symbol_def rspamd_symbols[] = {
    {"RSPAMD_SCORE", 1.0,
     "rspamd's score, times check.rspamd.weight (the detail gives rspamd's action and "
     "heaviest symbols)"},
    {"RSPAMD_UNAVAILABLE", 0.0, "rspamd could not be asked (down, timed out or a bad reply)"},
    {NULL, 0, NULL},
};

static void rspamd_state_free(void *state)
{
    rspamd_state *s = state;
    if (!s)
        return;
    free(s->url);
    free(s);
}

static bool rspamd_init(const params *cfg, void **state, char *err, size_t errlen)
{
    const char *url = params_str(cfg, "check.rspamd.url");
    if (*url && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        snprintf(err, errlen, "check.rspamd.url must start with http:// or https://, not '%s'",
                 url);
        return false;
    }
    rspamd_state *s = xcalloc(1, sizeof *s);
    s->url = xstrdup(url);
    s->timeout_ms = params_int(cfg, "check.rspamd.timeout");
    s->weight = params_double(cfg, "check.rspamd.weight");
    *state = s;
    return true;
}

static void rspamd_run(scan_task *t, const void *state)
{
    const rspamd_state *s = state;
    if (!s->url[0])
        return;
    size_t len;
    const uint8_t *raw = task_raw(t, &len);
    rspamd_reply r;
    char err[512], detail[512];
    if (!rspamd_scan(s->url, s->timeout_ms, task_job_id(t), task_envelope(t), raw, len, &r, err,
                     sizeof err)) {
        task_symbol(t, "RSPAMD_UNAVAILABLE", "%s", err);
        log_warn("job=%s event=rspamd_unavailable error=\"%s\"", task_job_id(t), err);
        return;
    }
    rspamd_describe(&r, detail, sizeof detail);
    task_symbol_scaled(t, "RSPAMD_SCORE", s->weight * r.score, "%s", detail);
}

const check_def check_rspamd = {
    .name = "rspamd",
    .symbols = rspamd_symbols,
    .init = rspamd_init,
    .run = rspamd_run,
    .free = rspamd_state_free,
};
