/* rspamd.c - (being written) */
#include "checks.h"

static const symbol_def rspamd_symbols[] = {
    {NULL, 0, NULL},
};

static void rspamd_run(scan_task *t, const void *state)
{
    (void)t;
    (void)state;
}

const check_def check_rspamd = {
    .name = "rspamd",
    .symbols = rspamd_symbols,
    .run = rspamd_run,
};
