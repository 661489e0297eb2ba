/* fuzzy.c - (being written) */
#include "checks.h"

static const symbol_def fuzzy_symbols[] = {
    {NULL, 0, NULL},
};

static void fuzzy_run(scan_task *t, const void *state)
{
    (void)t;
    (void)state;
}

const check_def check_fuzzy = {
    .name = "fuzzy",
    .symbols = fuzzy_symbols,
    .run = fuzzy_run,
};
