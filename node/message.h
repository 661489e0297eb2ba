/* message.h - the MIME model of a message, built with GMime 3.
 *
 * Parsed once per scan, on first use by a check (task_message()), and freed with the
 * task. It never fails: a message GMime cannot make sense of yields a model with
 * `broken` set and one pseudo-part holding the raw bytes, so the checks still see
 * them. What the model holds:
 *   - the leaf parts in document order, each with its declared type, the type its
 *     decoded bytes really are (libmagic, node/filetype.h), its decoded bytes and,
 *     for text parts, its text in UTF-8 (charset from the headers, or detected with
 *     uchardet when missing or wrong);
 *   - for HTML parts, the visible text, the links with their displayed text, and
 *     counts of what phishing pages use (forms, password fields, scripts, hidden
 *     text), from libxml2's HTML parser (node/html.h);
 *   - every URL, from the text parts and from the HTML;
 *   - what was wrong with the MIME structure, as MSG_ANOM_* flags (scored by the
 *     mime check, never fatal). */
#ifndef BW_MESSAGE_H
#define BW_MESSAGE_H

#include "html.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct msg_model msg_model;

/* Anomalies of the MIME structure (msg_anomalies()). */
enum {
    MSG_ANOM_UNPARSABLE = 1u << 0, /* GMime built no message: scanned as raw bytes */
    MSG_ANOM_NO_BOUNDARY = 1u << 1, /* multipart without a boundary parameter */
    MSG_ANOM_MISSING_END = 1u << 2, /* a multipart's closing boundary is missing */
    MSG_ANOM_BAD_CTE = 1u << 3, /* unknown Content-Transfer-Encoding, or bad base64/QP */
    MSG_ANOM_BAD_CHARSET = 1u << 4, /* declared charset unknown or wrong for the bytes */
    MSG_ANOM_NO_CHARSET = 1u << 5, /* 8-bit text without a declared charset */
    MSG_ANOM_TOO_MANY_PARTS = 1u << 6, /* more leaf parts than MSG_MAX_PARTS */
    MSG_ANOM_TOO_DEEP = 1u << 7, /* multipart nesting deeper than MSG_MAX_DEPTH */
    MSG_ANOM_BAD_CONTENT_TYPE = 1u << 8, /* Content-Type that does not parse */
    MSG_ANOM_NO_MIME_VERSION = 1u << 9, /* MIME structure without MIME-Version */
    MSG_ANOM_EMPTY_MULTIPART = 1u << 10, /* multipart with no parts */
    MSG_ANOM_PREAMBLE_TEXT = 1u << 11, /* text hidden before the first boundary */
};

typedef struct {
    unsigned index; /* position in msg_parts(), from 0 */
    unsigned depth; /* multipart nesting: 0 for a single-part message's body */
    const char *filename; /* decoded (RFC 2231, RFC 2047); "" when the part has none */
    const char *content_type; /* declared, lower case "type/subtype" */
    const char *charset; /* declared charset parameter, lower case; "" when none */
    const char *detected_type; /* libmagic MIME type of `data`; "" for empty data */
    bool attachment; /* Content-Disposition: attachment */
    bool is_text; /* text/plain (or no type) or text/html, not an attachment */
    bool is_html; /* text/html, or an attached .htm/.html file with text content */
    const uint8_t *data; /* the decoded bytes (transfer encoding removed) */
    size_t len;
    /* Text parts and HTML attachments: the text in UTF-8 (for HTML, the visible text),
     * NUL-terminated. NULL for other parts. `text_charset` says what the bytes were
     * decoded from (the declared charset, or the one uchardet found). */
    const char *text;
    size_t text_len;
    const char *text_charset;
} msg_part;

/* The raw message is copied; the model owns everything it returns. */
msg_model *msg_parse(const uint8_t *raw, size_t len);
void msg_destroy(msg_model **m);
/* Leaf parts in document order (multipart containers are walked, not listed). */
size_t msg_parts(const msg_model *m, const msg_part **parts);
/* GMime could not parse a message at all (then msg_parts gives one raw part). */
bool msg_broken(const msg_model *m);
/* MSG_ANOM_* flags. */
unsigned msg_anomalies(const msg_model *m);
/* Every URL in the message: text parts first, then HTML links, in document order,
 * at most MSG_MAX_URLS (deduplicated by URL text and source). */
size_t msg_urls(const msg_model *m, const html_url **urls);
/* What the HTML parts held, summed over all of them. */
const html_stats *msg_html(const msg_model *m);
/* All visible text (text parts, HTML visible text) joined with newlines, UTF-8. */
const char *msg_text(const msg_model *m, size_t *len);
/* What an administrator reads about one MSG_ANOM_* flag (its first occurrence: which
 * part, boundary or charset), printable ASCII; "" when the flag is not set. */
const char *msg_anomaly_detail(const msg_model *m, unsigned flag);
/* Leaf parts found, counting those beyond MSG_MAX_PARTS that msg_parts() leaves out. */
size_t msg_leaf_count(const msg_model *m);

/* Bounds: a 2,000-part bomb costs a bounded walk. */
#define MSG_MAX_PARTS 4096
#define MSG_MAX_DEPTH 32
#define MSG_MAX_URLS 1024
/* Non-blank bytes before a multipart's first boundary that make MSG_ANOM_PREAMBLE_TEXT
 * ("This is a multi-part message in MIME format." and the like stay below). */
#define MSG_PREAMBLE_MAX 200

#endif
