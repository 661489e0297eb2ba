/* size.c - message size limit.
 *
 * A message larger than check.size.max_bytes gets MSG_TOO_BIG and, whatever its
 * score, the action check.size.action (reject by default: 552 5.3.4 at the milter).
 * Postfix's message_size_limit should be the first line of defence; this one holds
 * when the MTA allows more than the policy does. */
#include "checks.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t max;
    Bulwark__Action action;
    bool force;
} size_state;

static const symbol_def size_symbols[] = {
    {"MSG_TOO_BIG", 0.0, "Message is larger than check.size.max_bytes"},
    {NULL, 0, NULL},
};

static bool size_init(const params *cfg, void **state, char *err, size_t errlen)
{
    size_state *s = xcalloc(1, sizeof *s);
    s->max = (size_t)params_int(cfg, "check.size.max_bytes");
    s->force = check_param_action(cfg, "check.size.action", &s->action);
    *state = s;
    return true;
}

static void size_run(scan_task *t, const void *state)
{
    const size_state *s = state;
    size_t len;
    task_raw(t, &len);
    if (len <= s->max)
        return;
    task_symbol(t, "MSG_TOO_BIG", "size %zu > limit %zu", len, s->max);
    if (s->force)
        task_force(t, s->action, "message too big");
}

const check_def check_size = {
    .name = "size",
    .symbols = size_symbols,
    .init = size_init,
    .run = size_run,
    .free = free,
};
