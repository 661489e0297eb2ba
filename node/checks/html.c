/* html.c - (being written) */
#include "checks.h"

static const symbol_def html_symbols[] = {
    {NULL, 0, NULL},
};

static void html_run(scan_task *t, const void *state)
{
    (void)t;
    (void)state;
}

const check_def check_html = {
    .name = "html",
    .symbols = html_symbols,
    .run = html_run,
};
