/* authres.h - Authentication-Results header fields (RFC 8601): read and written.
 *
 * The reader takes a field's value (or an ARC-Authentication-Results payload after
 * its "i=N;") and gives the authserv-id and each method's result with its properties,
 * comments dropped and quoted strings unquoted; it is fuzzed. The writer builds the
 * field the pipeline adds to every scanned message from the task's sender
 * authentication results (SPF, DKIM, DMARC, ARC), every value it copies from the
 * message or the envelope checked or left out, so a sender cannot inject text. A
 * third function finds the fields that claim our own authserv-id (RFC 8601 section 5:
 * they are forged and must go before the message is delivered). */
#ifndef BW_AUTHRES_H
#define BW_AUTHRES_H

#include "pipeline.h"

#include <stdbool.h>
#include <stddef.h>

#define AUTHRES_MAX_RESULTS 16 /* results read per field; more are counted */
#define AUTHRES_MAX_PROPS 6 /* properties read per result; more are skipped */
#define AUTHRES_VALUE_MAX 256 /* longer values are cut */

typedef struct {
    char ptype[16]; /* "smtp", "header", "body", "policy": lower case */
    char property[32]; /* "mailfrom", "d", "from"...: lower case */
    char value[AUTHRES_VALUE_MAX]; /* as written, unquoted */
} authres_prop;

typedef struct {
    char method[32]; /* "spf", "dkim", "dmarc", "arc"...: lower case, no version */
    char result[32]; /* "pass", "fail"...: lower case */
    authres_prop props[AUTHRES_MAX_PROPS];
    size_t nprops;
} authres_result;

typedef struct {
    char authserv_id[AUTHRES_VALUE_MAX];
    authres_result r[AUTHRES_MAX_RESULTS];
    size_t n;
    size_t dropped; /* results beyond AUTHRES_MAX_RESULTS */
} authres;

/* Parses a field value. False with the reason at the first syntax error (unbalanced
 * comment or quote, a result without "=", a property without "ptype.name="); what
 * was read before it (the authserv-id, earlier results) is kept. "id; none" and a
 * lone authserv-id are valid with no results. */
bool authres_parse(const char *s, size_t len, authres *out, char *err, size_t errlen);
/* The value of ptype.property of a result (names without case), or NULL. */
const char *authres_prop_get(const authres_result *r, const char *ptype, const char *property);
/* The authserv-id alone, as a reader of the field takes it (the first token or quoted
 * string after any comments); false when there is none. */
bool authres_authserv_id(const char *s, size_t len, char *out, size_t outlen);
/* Whether s can be an authserv-id we write: 1..255 letters, digits, '.', '-', '_'. */
bool authres_id_ok(const char *s);

/* The value of our Authentication-Results field (owned by the caller): the
 * authserv-id, then "spf=... smtp.mailfrom=...", one "dkim=... header.d= header.s=
 * header.a=" per verified signature, "dmarc=... header.from=...", "arc=..." for each
 * check that ran, folded one result per line with CRLF TAB; "<id>; none" when none
 * ran. env may be NULL. */
char *authres_build(const char *authserv_id, const auth_results *a, const Bulwark__Envelope *env);

/* The Authentication-Results fields of a raw message whose authserv-id is `id`
 * (without case): their occurrence numbers among the message's Authentication-Results
 * fields (1 for the topmost), ascending, at most max; returns how many. */
size_t authres_find_ours(const uint8_t *msg, size_t len, const char *id, unsigned *idx, size_t max);

#endif
