/* json.h - writing JSON text (bulwarkctl --json, logs, reports), and reading back
 * the one JSON shape Bulwark stores: the symbol list of a message log row. */
#ifndef BW_JSON_H
#define BW_JSON_H

#include "bulwark.pb-c.h"
#include "util.h"

/* Appends s[0..n) as a quoted JSON string. Bytes that are not valid UTF-8 become
 * U+FFFD, so the output is always valid JSON whatever the message contained. */
void json_str(buf_t *b, const char *s, size_t n);
void json_cstr(buf_t *b, const char *s);
/* Replaces, in place, every byte that is not part of a valid UTF-8 sequence with
 * '?': protobuf `string` fields must hold UTF-8, and message text often does not. */
void utf8_scrub(char *s);
/* Length of the valid UTF-8 sequence at s (n > 0 bytes left): 1-4, or 0 when it is
 * not one (overlong forms, surrogates and code points above U+10FFFF are not). */
size_t utf8_len(const unsigned char *s, size_t n);
/* Appends a finite number (NaN/inf become 0) with up to 6 significant decimals. */
void json_num(buf_t *b, double d);

/* A bounded pull reader over JSON text that may be cut or hostile (rspamd's replies,
 * stored symbol lists): it never reads past the end, nests at most JSON_MAX_DEPTH,
 * and each call returns false on anything unexpected. Whitespace is skipped before
 * every token. */
#define JSON_MAX_DEPTH 32
typedef struct {
    const char *p, *e;
    int depth;
} json_reader;
void json_rd_init(json_reader *r, const char *text, size_t len);
/* Consumes the character ch (false, nothing consumed, if it is not next). */
bool json_rd_lit(json_reader *r, char ch);
/* Whether ch is next, without consuming it. */
bool json_rd_peek(json_reader *r, char ch);
/* Only whitespace is left. */
bool json_rd_end(json_reader *r);
/* A string, escapes decoded to UTF-8, into *out (owned, NUL-terminated; an escaped
 * NUL ends it early); out NULL skips it. */
bool json_rd_string(json_reader *r, char **out);
/* The same into a fixed buffer, truncated to outlen-1 bytes. */
bool json_rd_string_into(json_reader *r, char *out, size_t outlen);
/* A finite number. */
bool json_rd_number(json_reader *r, double *out);
/* Any value. */
bool json_rd_skip(json_reader *r);
/* An object: member() is called for each key with the reader on its value, and
 * must consume it; NULL skips every value. */
typedef bool (*json_member_fn)(json_reader *r, const char *key, void *ctx);
bool json_rd_object(json_reader *r, json_member_fn member, void *ctx);

/* A symbol as stored in the message log: {"name":..,"score":..,"detail":..}. */
typedef struct {
    char *name, *detail;
    double score;
} json_symbol;

/* Appends the symbols as a JSON array of objects. */
void json_symbols_write(buf_t *b, const json_symbol *s, size_t n);
/* The same from the protocol's Symbols (a ScanResult's or a Record's). */
void json_symbols_write_pb(buf_t *b, Bulwark__Symbol *const *s, size_t n);
/* Parses such an array (any whitespace, keys in any order, a missing key reads as
 * empty or 0, unknown keys with string or number values are skipped). False for
 * anything else. *out (owned, free with json_symbols_free) holds *n symbols. */
bool json_symbols_parse(const char *text, size_t len, json_symbol **out, size_t *n);
void json_symbols_free(json_symbol **s, size_t n);

#endif
