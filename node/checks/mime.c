/* mime.c - (being written) */
#include "checks.h"

static const symbol_def mime_symbols[] = {
    {NULL, 0, NULL},
};

static void mime_run(scan_task *t, const void *state)
{
    (void)t;
    (void)state;
}

const check_def check_mime = {
    .name = "mime",
    .symbols = mime_symbols,
    .run = mime_run,
};
