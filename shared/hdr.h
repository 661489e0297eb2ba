/* hdr.h - the header block of a raw RFC 5322 message, parsed defensively.
 *
 * This is the light model the pipeline uses before the full MIME tree: fields in
 * order with unfolded values, where the body starts, and flags for what was wrong.
 * It never fails: any input yields a (possibly empty) field list plus flags. */
#ifndef BW_HDR_H
#define BW_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum {
    HDR_NO_SEPARATOR = 1 << 0, /* no empty line: the message has no body part */
    HDR_BAD_LINE = 1 << 1, /* a header line with no colon or an empty name */
    HDR_NUL = 1 << 2, /* NUL byte in the header block */
    HDR_8BIT = 1 << 3, /* raw 8-bit bytes in the header block */
    HDR_LONG_LINE = 1 << 4, /* a line over 998 octets (RFC 5322 2.1.1) */
    HDR_TOO_MANY = 1 << 5, /* more fields than the limit; the rest were skipped */
    HDR_EMPTY = 1 << 6, /* no header fields at all */
};

#define HDR_MAX_FIELDS 4096

typedef struct {
    char *name; /* as written, NUL-terminated */
    char *value; /* unfolded (CRLF+WSP -> WSP), leading whitespace removed */
} hdr_field;

typedef struct {
    hdr_field *f;
    size_t n, cap;
    size_t body_off; /* offset of the first body byte (len if none) */
    unsigned flags;
} hdr_block;

hdr_block *hdr_parse(const char *raw, size_t len);
void hdr_destroy(hdr_block **h);
/* First field of that name (case-insensitive), or NULL. */
const char *hdr_get(const hdr_block *h, const char *name);
size_t hdr_count(const hdr_block *h, const char *name);

/* Parses an RFC 5322 date-time (with the obsolete zone names); false if it is not one. */
bool hdr_parse_date(const char *s, time_t *out);

#endif
