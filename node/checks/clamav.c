/* clamav.c - (being written) */
#include "checks.h"

static const symbol_def clamav_symbols[] = {
    {NULL, 0, NULL},
};

static void clamav_run(scan_task *t, const void *state)
{
    (void)t;
    (void)state;
}

const check_def check_clamav = {
    .name = "clamav",
    .symbols = clamav_symbols,
    .run = clamav_run,
};
