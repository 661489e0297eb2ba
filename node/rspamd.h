/* rspamd.h - rspamd as an optional second engine: its verdict on a message over HTTP.
 *
 * The raw message is POSTed to rspamd's normal worker (URL/checkv2) with the envelope
 * in rspamd's request headers (IP, Helo, From, Rcpt, Queue-Id), and its JSON reply is
 * read for the score, the required score, the action and the symbols. Each thread keeps
 * one libcurl handle, so connections to rspamd are reused (keep-alive). */
#ifndef BW_RSPAMD_H
#define BW_RSPAMD_H

#include "bulwark.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RSPAMD_TOP 5 /* symbols kept for the detail, the heaviest first */
#define RSPAMD_REPLY_MAX (4 * 1024 * 1024) /* a longer reply is refused */

typedef struct {
    char name[64];
    double score;
} rspamd_symbol;

typedef struct {
    double score, required;
    char action[32]; /* "no action", "add header", "reject", ... */
    rspamd_symbol top[RSPAMD_TOP]; /* by |score|, then in reply order */
    size_t ntop;
    size_t nsymbols; /* symbols in the reply */
} rspamd_reply;

/* Reads a /checkv2 reply. False with the reason in err for anything that is not a
 * JSON object with a numeric score and a string action (an {"error": ...} reply
 * gives rspamd's error text). Never reads past len; nesting is bounded. */
bool rspamd_parse(const char *json, size_t len, rspamd_reply *r, char *err, size_t errlen);
/* "reject, score 15.00/15.00: GTUBE(0.00), ..." for a symbol's detail. */
void rspamd_describe(const rspamd_reply *r, char *out, size_t outlen);

/* Asks rspamd at url (e.g. "http://127.0.0.1:11333") about one message within
 * timeout_ms. env may be NULL. False with the reason in err when rspamd cannot be
 * reached, times out, answers other than 200 or with a reply rspamd_parse refuses. */
bool rspamd_scan(const char *url, int64_t timeout_ms, const char *job_id,
                 const Bulwark__Envelope *env, const uint8_t *raw, size_t len, rspamd_reply *r,
                 char *err, size_t errlen);
/* Frees this thread's HTTP handle (also done when a thread exits). */
void rspamd_thread_done(void);

#endif
