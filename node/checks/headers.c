/* headers.c - header sanity: the fields RFC 5322 requires, and damage.
 *
 * Reads the light header model (shared/hdr.c). Missing Date/From, Message-ID,
 * duplicated singleton fields, a Date far in the future or past, and broken
 * header syntax each add a symbol; none of them alone should block mail, so the
 * default weights are small and an administrator tunes them with score.NAME. */
#include "checks.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t max_future_s, max_past_s;
} headers_state;

static const symbol_def header_symbols[] = {
    {"MISSING_DATE", 1.0, "No Date header"},
    {"MISSING_FROM", 2.0, "No From header"},
    {"MISSING_MESSAGE_ID", 0.5, "No Message-ID header"},
    {"MISSING_SUBJECT", 0.3, "No Subject header"},
    {"DUPLICATE_HEADER", 1.5,
     "A field that may appear once (From, Date, Subject, ...) appears more often"},
    {"INVALID_DATE", 1.0, "Date header is not an RFC 5322 date"},
    {"DATE_IN_FUTURE", 1.5, "Date is further ahead than check.headers.max_future"},
    {"DATE_IN_PAST", 0.5, "Date is further back than check.headers.max_past"},
    {"HEADER_BROKEN", 2.0, "Header block has lines that are not fields"},
    {"HEADER_NUL", 2.0, "NUL byte in the header block"},
    {"HEADER_8BIT", 0.5, "Unencoded 8-bit bytes in headers (RFC 2047 not used)"},
    {"HEADER_LONG_LINE", 0.5, "Header line longer than 998 octets"},
    {"HEADER_TOO_MANY", 2.0, "More header fields than the parser keeps"},
    {"NO_BODY_SEPARATOR", 1.0, "No empty line between header and body"},
    {"NO_HEADERS", 3.0, "Message has no header fields"},
    {NULL, 0, NULL},
};

static bool headers_init(const params *cfg, void **state, char *err, size_t errlen)
{
    headers_state *s = xcalloc(1, sizeof *s);
    s->max_future_s = params_int(cfg, "check.headers.max_future") / 1000;
    s->max_past_s = params_int(cfg, "check.headers.max_past") / 1000;
    *state = s;
    return true;
}

static void headers_run(scan_task *t, const void *state)
{
    const headers_state *s = state;
    const hdr_block *h = task_headers(t);
    static const char *once[] = {"From",   "Date", "Subject", "Message-ID",
                                 "Sender", "To",   "Reply-To"};

    if (h->flags & HDR_EMPTY) {
        task_symbol(t, "NO_HEADERS", "no header fields");
        return;
    }
    if (h->flags & HDR_BAD_LINE)
        task_symbol(t, "HEADER_BROKEN", "line without 'name:' in header block");
    if (h->flags & HDR_NUL)
        task_symbol(t, "HEADER_NUL", "NUL byte in header block");
    if (h->flags & HDR_8BIT)
        task_symbol(t, "HEADER_8BIT", "raw 8-bit bytes in header block");
    if (h->flags & HDR_LONG_LINE)
        task_symbol(t, "HEADER_LONG_LINE", "header line over 998 octets");
    if (h->flags & HDR_TOO_MANY)
        task_symbol(t, "HEADER_TOO_MANY", "more than %d header fields", HDR_MAX_FIELDS);
    if (h->flags & HDR_NO_SEPARATOR)
        task_symbol(t, "NO_BODY_SEPARATOR", "no empty line after the header block");

    if (!hdr_get(h, "From"))
        task_symbol(t, "MISSING_FROM", "no From field");
    if (!hdr_get(h, "Message-ID"))
        task_symbol(t, "MISSING_MESSAGE_ID", "no Message-ID field");
    if (!hdr_get(h, "Subject"))
        task_symbol(t, "MISSING_SUBJECT", "no Subject field");
    for (size_t i = 0; i < sizeof once / sizeof once[0]; i++) {
        size_t c = hdr_count(h, once[i]);
        if (c > 1) {
            task_symbol(t, "DUPLICATE_HEADER", "%s appears %zu times", once[i], c);
            break;
        }
    }

    const char *date = hdr_get(h, "Date");
    time_t when;
    if (!date) {
        task_symbol(t, "MISSING_DATE", "no Date field");
    } else if (!hdr_parse_date(date, &when)) {
        task_symbol(t, "INVALID_DATE", "Date '%.80s' does not parse", date);
    } else if (when - task_time(t) > s->max_future_s) {
        task_symbol(t, "DATE_IN_FUTURE", "Date is %lld s ahead", (long long)(when - task_time(t)));
    } else if (task_time(t) - when > s->max_past_s) {
        task_symbol(t, "DATE_IN_PAST", "Date is %lld days old",
                    (long long)((task_time(t) - when) / 86400));
    }
}

const check_def check_headers = {
    .name = "headers",
    .symbols = header_symbols,
    .init = headers_init,
    .run = headers_run,
    .free = free,
};
