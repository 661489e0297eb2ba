/* cli.h - small parsers and formatters for command-line tools (bulwarkctl).
 *
 * Times given on a command line (an ISO 8601 date or date-time in UTC, or an age
 * such as 30m, 2h, 7d before now) and CSV fields quoted per RFC 4180. Pure
 * functions over their arguments: unit-tested and fuzzed. */
#ifndef BW_CLI_H
#define BW_CLI_H

#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses a point in time into Unix milliseconds:
 *   2026-11-24               midnight UTC of that day
 *   2026-11-24T10:00[:00][Z] UTC (a space may replace the T; no other zones)
 *   30s 30m 2h 7d 2w         that long before now_ms
 * On refusal returns false with a sentence in err. */
bool cli_parse_time(const char *s, uint64_t now_ms, uint64_t *out_ms, char *err, size_t errlen);

/* Appends s as one CSV field (RFC 4180): quoted, with quotes doubled, when it
 * holds a comma, a quote, CR or LF, or starts or ends with a space. */
void cli_csv_field(buf_t *b, const char *s);

/* Parses a decimal integer in [min, max]; false for anything else. */
bool cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
