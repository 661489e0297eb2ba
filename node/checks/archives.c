/* archives.c - (being written) */
#include "checks.h"

static const symbol_def archives_symbols[] = {
    {NULL, 0, NULL},
};

static void archives_run(scan_task *t, const void *state)
{
    (void)t;
    (void)state;
}

const check_def check_archives = {
    .name = "archives",
    .symbols = archives_symbols,
    .run = archives_run,
};
