/* rules.c - (being written) */
#include "checks.h"

static const symbol_def rules_symbols[] = {
    {NULL, 0, NULL},
};

static void rules_run(scan_task *t, const void *state)
{
    (void)t;
    (void)state;
}

const check_def check_rules = {
    .name = "rules",
    .symbols = rules_symbols,
    .run = rules_run,
};
