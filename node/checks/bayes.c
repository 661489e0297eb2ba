/* bayes.c - (being written) */
#include "checks.h"

static const symbol_def bayes_symbols[] = {
    {NULL, 0, NULL},
};

static void bayes_run(scan_task *t, const void *state)
{
    (void)t;
    (void)state;
}

const check_def check_bayes = {
    .name = "bayes",
    .symbols = bayes_symbols,
    .run = bayes_run,
};
