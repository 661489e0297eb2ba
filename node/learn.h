/* learn.h - teaching the Bayes classifier one message as spam or ham.
 *
 * Used by `bulwarkctl learn` (raw files) and by autolearn inside a scan (the task's
 * parsed model and headers). The message's identity is its digest: SHA-256 over
 * the From header, the Subject and the visible text (msg_text) with runs of
 * whitespace folded to one space, so the same message relayed with other Received
 * lines or another MIME layout is one message. Needs redisx configured. */
#ifndef BW_LEARN_H
#define BW_LEARN_H

#include "bayes.h"
#include "hdr.h"
#include "message.h"
#include "pipeline.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The message digest as 64 lower-case hex digits (out: at least 65 bytes). */
void learn_digest(const msg_model *m, const hdr_block *h, char *out);
/* SHA-256 of data (for the digest and the tests). */
void learn_sha256(const void *data, size_t len, uint8_t out[32]);

/* Learns an already-parsed message into scope ("g", "d:DOMAIN", "u:ADDRESS", see
 * bayes.h) with at most max_tokens tokens (0: the default) and the OSB pairs of
 * osb_window (0: none), the check.bayes parameters the scans use. False with the
 * reason in err on a Redis error (the connection is then reset) or when the scope
 * was learned with another token scheme or window. */
bool learn_model(const msg_model *m, const hdr_block *h, bool spam, const char *scope,
                 size_t max_tokens, unsigned osb_window, bayes_learn_result *res, char *err,
                 size_t errlen);
/* Same from the raw bytes. */
bool learn_raw(const uint8_t *raw, size_t len, bool spam, const char *scope, size_t max_tokens,
               unsigned osb_window, bayes_learn_result *res, char *err, size_t errlen);

/* "global", "domain:DOMAIN" or "user:ADDRESS" (an operator's words; "" is global) to
 * the storage scope ("g", "d:...", "u:..."). False for anything else. */
bool learn_scope_parse(const char *arg, char *out, size_t outlen);

/* A learn job (ScanJob.learn set): learns its message in its scope with the
 * check.bayes.max_tokens and osb_window of cfg (the node's current configuration;
 * NULL: the defaults). True with what
 * happened in detail ("ham into g: learned"); false with the reason in detail when it
 * must be retried (Redis down or not configured); false with *bad set for a job that
 * can never work (unknown scope). */
bool learn_job(const Bulwark__ScanJob *job, const params *cfg, bool *bad, char *detail,
               size_t dlen);

/* Autolearn, defined with the check (node/checks/bayes.c): scan_run() calls it after
 * the policy with the bayes check's state when the check is enabled. Learns into the
 * global scope; Redis errors are logged, never fail the scan. */
void check_bayes_autolearn(scan_task *t, const void *state);

#endif
