/* json.h - writing JSON text (output only: bulwarkctl --json, logs, reports). */
#ifndef BW_JSON_H
#define BW_JSON_H

#include "util.h"

/* Appends s[0..n) as a quoted JSON string. Bytes that are not valid UTF-8 become
 * U+FFFD, so the output is always valid JSON whatever the message contained. */
void json_str(buf_t *b, const char *s, size_t n);
void json_cstr(buf_t *b, const char *s);
/* Replaces, in place, every byte that is not part of a valid UTF-8 sequence with
 * '?': protobuf `string` fields must hold UTF-8, and message text often does not. */
void utf8_scrub(char *s);
/* Appends a finite number (NaN/inf become 0) with up to 6 significant decimals. */
void json_num(buf_t *b, double d);

#endif
