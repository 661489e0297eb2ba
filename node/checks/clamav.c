/* clamav.c - the ClamAV check: the whole raw message through libclamav, once.
 *
 * The engine belongs to the process (node/clam.c), not to the generation: the
 * state built here only holds the actions and the heuristics switch. The raw
 * message is scanned as one buffer, as clamd/clamav-milter do: libclamav decodes
 * the MIME parts and opens the archives itself, with its own limits, so its mail
 * and phishing signatures see the message as a whole. A signature match is
 * CLAM_VIRUS (forced check.clamav.action); a heuristic (encrypted archive, macros,
 * phishing, broken executable) is CLAM_HEURISTIC, a modest weight and no forced
 * action, because the archive and office checks carry the policy for those; a
 * message libclamav could not scan in full is CLAM_LIMITS (forced
 * check.clamav.limits_action: fail-closed); a failed scan is CLAM_ERROR and a
 * tempfail, so the message is retried rather than passed unscanned; no engine in
 * the process is CLAM_UNAVAILABLE, weight 0, said once per message. */
#include "checks.h"
#include "clam.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Bulwark__Action action, limits_action;
    bool force, force_limits;
    bool heuristics;
} clam_state;

static const symbol_def clamav_symbols[] = {
    {"CLAM_VIRUS", 20.0, "ClamAV found a virus (the detail is the signature's name)"},
    {"CLAM_HEURISTIC", 3.0,
     "A ClamAV heuristic matched: encrypted archive or document, macros, phishing, broken "
     "executable"},
    {"CLAM_LIMITS", 1.0,
     "ClamAV could not scan the whole message: a size, file, depth or time "
     "limit was reached"},
    {"CLAM_ERROR", 0.0, "The ClamAV scan failed; the message is tempfailed to be retried"},
    {"CLAM_UNAVAILABLE", 0.0,
     "check.clamav is enabled but this node has no ClamAV engine "
     "(clamav_db_dir is empty)"},
    {NULL, 0, NULL},
};

static bool clamav_init(const params *cfg, void **state, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    clam_state *s = xcalloc(1, sizeof *s);
    s->force = check_param_action(cfg, "check.clamav.action", &s->action);
    s->force_limits = check_param_action(cfg, "check.clamav.limits_action", &s->limits_action);
    s->heuristics = params_bool(cfg, "check.clamav.heuristics");
    *state = s;
    return true;
}

static void clamav_free(void *state)
{
    free(state);
}

static void clamav_run(scan_task *t, const void *state)
{
    const clam_state *s = state;
    size_t len;
    const uint8_t *raw = task_raw(t, &len);
    clam_result r;
    clam_scan(raw, len, task_job_id(t), s->heuristics, &r);
    char reason[300];
    switch (r.status) {
    case CLAM_CLEAN: return;
    case CLAM_VIRUS:
        task_symbol(t, "CLAM_VIRUS", "%s", r.name);
        if (s->force) {
            snprintf(reason, sizeof reason, "virus: %s", r.name);
            task_force(t, s->action, reason);
        }
        log_info("job=%s event=clamav_virus name=\"%s\" engine=%u", task_job_id(t), r.name,
                 r.engine);
        return;
    case CLAM_HEURISTIC: task_symbol(t, "CLAM_HEURISTIC", "%s", r.name); return;
    case CLAM_LIMITS:
        task_symbol(t, "CLAM_LIMITS", "not scanned in full: %s", r.name);
        if (s->force_limits) {
            snprintf(reason, sizeof reason, "ClamAV could not scan it in full: %s", r.name);
            task_force(t, s->limits_action, reason);
        }
        return;
    case CLAM_ERROR:
        task_symbol(t, "CLAM_ERROR", "%s", r.name);
        snprintf(reason, sizeof reason, "ClamAV scan failed: %s", r.name);
        task_force(t, BULWARK__ACTION__ACTION_TEMPFAIL, reason);
        log_warn("job=%s event=clamav_error error=\"%s\"", task_job_id(t), r.name);
        return;
    case CLAM_UNAVAILABLE: task_symbol(t, "CLAM_UNAVAILABLE", "%s", r.name); return;
    }
}

const check_def check_clamav = {
    .name = "clamav",
    .symbols = clamav_symbols,
    .init = clamav_init,
    .run = clamav_run,
    .free = clamav_free,
};
