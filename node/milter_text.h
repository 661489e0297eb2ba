/* milter_text.h - the text bulwark-milter builds from untrusted bytes.
 *
 * Pure functions, no libmilter: rebuilding the raw message from the header
 * fields libmilter hands over, making a verdict's reason safe for an SMTP reply,
 * making a result's header value safe to add, and prefixing a Subject. They are
 * fuzzed (tests/fuzz/fuzz_milter.c) and unit-tested (tests/unit/test_milter_text.c). */
#ifndef BW_MILTER_TEXT_H
#define BW_MILTER_TEXT_H

#include "util.h"

#include <stdbool.h>
#include <stddef.h>

/* Longest reply text and header value the milter emits (bytes, before escaping). */
#define MILTER_REPLY_MAX 200
#define MILTER_VALUE_MAX 900

/* Appends "Name:value\r\n". `value` is as libmilter gives it (with SMFIP_HDR_LEADSPC
 * its leading space included); folded lines arrive separated by a bare LF, which
 * becomes CRLF, as does a bare CR. With leadspc false one space is put back after
 * the colon (the MTA removed it). CR and LF in `name` (never valid) are dropped. */
void milter_append_header(buf_t *b, const char *name, const char *value, bool leadspc);

/* Writes into out (outlen >= 2*MILTER_REPLY_MAX+1 holds any result) the first
 * MILTER_REPLY_MAX bytes of `in` made safe for smfi_setreply(): printable ASCII
 * only (anything else becomes '?', CR/LF/TAB a space), runs of spaces collapsed,
 * trimmed, and '%' doubled (libmilter formats the text). `fallback` when nothing
 * is left. Never overflows out; output is always NUL-terminated. */
void milter_reply_text(const char *in, const char *fallback, char *out, size_t outlen);

/* A new string: `in` as a header value: control characters and CR/LF become
 * spaces, other bytes are kept (UTF-8 stays), cut at MILTER_VALUE_MAX bytes
 * (never inside a UTF-8 sequence). `lead` puts one space in front (leadspc). */
char *milter_header_value(const char *in, bool lead);

/* Longest folded value accepted: a DKIM-Signature of an 8192-bit key is ~1,700 bytes. */
#define MILTER_FOLDED_MAX 8192

/* A new string: a folded header value (DKIM-Signature) as libmilter wants it: a line
 * break (CRLF, LF or CR) followed by white space becomes a bare LF (the MTA writes
 * CRLF), any other line break or control byte a space; white space in front goes and
 * `lead` puts one space back. NULL when longer than MILTER_FOLDED_MAX: a value cut
 * short would be a broken signature. */
char *milter_folded_value(const char *in, bool lead);

/* True if `name` is a valid header field name: 1-76 printable ASCII, no colon. */
bool milter_header_name_ok(const char *name);

/* The new Subject value for a tagged message: prefix + old subject, one leading
 * space if `lead`. NULL when the old subject already starts with the prefix (a
 * message tagged twice keeps one). old may be NULL (no Subject). */
char *milter_subject(const char *prefix, const char *old, bool lead);

/* Postfix names a milter socket inet:HOST:PORT (inet6:HOST:PORT, unix:PATH);
 * libmilter wants inet:PORT@HOST. Writes libmilter's form into out; false if the
 * text is not a socket name or does not fit. Names already in libmilter's form,
 * and unix:/local: paths, are copied unchanged. */
bool milter_conn_spec(const char *postfix_style, char *out, size_t outlen);

#endif
