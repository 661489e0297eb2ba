/* office.c - (being written) */
#include "checks.h"

static const symbol_def office_symbols[] = {
    {NULL, 0, NULL},
};

static void office_run(scan_task *t, const void *state)
{
    (void)t;
    (void)state;
}

const check_def check_office = {
    .name = "office",
    .symbols = office_symbols,
    .run = office_run,
};
