/* gtube.c - the GTUBE test string (Generic Test for Unsolicited Bulk Email).
 *
 * Lets an administrator prove end to end that spam is caught without sending
 * spam. The string is searched for in the body only (after the header block), as
 * SpamAssassin and rspamd do, so quoting it in a Subject does not trigger it. */
#include "checks.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

typedef struct {
    Bulwark__Action action;
    bool force;
} gtube_state;

static const symbol_def gtube_symbols[] = {
    {"GTUBE", 1000.0, "Message contains the GTUBE test string"},
    {NULL, 0, NULL},
};

static bool gtube_init(const params *cfg, void **state, char *err, size_t errlen)
{
    gtube_state *s = xcalloc(1, sizeof *s);
    s->force = check_param_action(cfg, "check.gtube.action", &s->action);
    *state = s;
    return true;
}

static void gtube_run(scan_task *t, const void *state)
{
    const gtube_state *s = state;
    size_t len;
    const uint8_t *raw = task_raw(t, &len);
    size_t off = task_headers(t)->body_off;
    if (off >= len || !memmem(raw + off, len - off, GTUBE, sizeof GTUBE - 1))
        return;
    task_symbol(t, "GTUBE", "GTUBE test string in body");
    if (s->force)
        task_force(t, s->action, "GTUBE test message");
}

const check_def check_gtube = {
    .name = "gtube",
    .symbols = gtube_symbols,
    .init = gtube_init,
    .run = gtube_run,
    .free = free,
};
