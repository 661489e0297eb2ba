/* learn.c - learn one message as spam or ham: digest, tokens, Redis.
 *
 * The digest identifies the message across relays (see learn.h): SHA-256 from
 * GLib's GChecksum (GLib comes with GMime). The tokens come from tok_extract() exactly as the scan
 * computes them, and bayes_store() applies the learned-once rule: same class again is a no-op, the
 * other class moves the counts. A message learned into the global scope (new or moved) is also
 * given to the fuzzy hashes (node/fuzzy.h), which are cluster-wide; their failure is logged and
 * does not fail the Bayes lesson. */
#include "learn.h"
#include "fuzzy.h"
#include "log.h"
#include "redisx.h"
#include "tokens.h"
#include "util.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- SHA-256 (GLib's GChecksum; GLib comes with GMime) --------------------------- */

void learn_sha256(const void *data, size_t len, uint8_t out[32])
{
    GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(c, data, (gssize)len);
    gsize n = 32;
    g_checksum_get_digest(c, out, &n);
    g_checksum_free(c);
}

/* ---- learning -------------------------------------------------------------------- */

/* Feeds s with whitespace runs folded to one space and the ends trimmed. */
static void update_folded(GChecksum *c, const char *s, size_t len)
{
    char buf[4096];
    size_t k = 0;
    bool space = false, any = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' || ch == '\v') {
            space = any;
            continue;
        }
        if (space)
            buf[k++] = ' ';
        space = false;
        any = true;
        buf[k++] = (char)ch;
        if (k >= sizeof buf - 2) {
            g_checksum_update(c, (const guchar *)buf, (gssize)k);
            k = 0;
        }
    }
    g_checksum_update(c, (const guchar *)buf, (gssize)k);
}

void learn_digest(const msg_model *m, const hdr_block *h, char *out)
{
    GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
    const char *from = h ? hdr_get(h, "From") : NULL;
    const char *subj = h ? hdr_get(h, "Subject") : NULL;
    if (from)
        update_folded(c, from, strlen(from));
    g_checksum_update(c, (const guchar *)"\n", 1);
    if (subj)
        update_folded(c, subj, strlen(subj));
    g_checksum_update(c, (const guchar *)"\n", 1);
    size_t tl = 0;
    const char *text = m ? msg_text(m, &tl) : NULL;
    if (text)
        update_folded(c, text, tl);
    memcpy(out, g_checksum_get_string(c), 65); /* 64 lower-case hex digits and NUL */
    g_checksum_free(c);
}

bool learn_model(const msg_model *m, const hdr_block *h, bool spam, const char *scope,
                 size_t max_tokens, unsigned osb_window, bayes_learn_result *res, char *err,
                 size_t errlen)
{
    redisContext *c = redisx_get(err, errlen);
    if (!c)
        return false;
    char digest[65];
    learn_digest(m, h, digest);
    size_t n;
    uint64_t *tok = tok_extract(m, h, max_tokens, osb_window, &n);
    bool ok = bayes_store(c, scope, digest, spam, tok, n, bayes_scheme_mark(osb_window), res, err,
                          errlen);
    free(tok);
    if (!ok && c->err)
        redisx_reset();
    if (ok && *res != BAYES_ALREADY && strcmp(scope, "g") == 0 && m) {
        size_t tl;
        const char *text = msg_text(m, &tl);
        char ferr[256];
        if (text &&
            fuzzy_learn(text, tl, spam ? FUZZY_SPAM : FUZZY_HAM, ferr, sizeof ferr) == FUZZY_ERROR)
            log_warn("event=fuzzy_learn_failed digest=%.16s reason=\"%s\"", digest, ferr);
    }
    return ok;
}

bool learn_raw(const uint8_t *raw, size_t len, bool spam, const char *scope, size_t max_tokens,
               unsigned osb_window, bayes_learn_result *res, char *err, size_t errlen)
{
    msg_model *m = msg_parse(raw, len);
    hdr_block *h = hdr_parse((const char *)raw, len);
    bool ok = learn_model(m, h, spam, scope, max_tokens, osb_window, res, err, errlen);
    hdr_destroy(&h);
    msg_destroy(&m);
    return ok;
}

bool learn_scope_parse(const char *arg, char *out, size_t outlen)
{
    if (!*arg || strcmp(arg, "global") == 0) {
        snprintf(out, outlen, "g");
        return true;
    }
    if (strncmp(arg, "domain:", 7) == 0)
        return bayes_scope_domain(arg + 7, out, outlen);
    if (strncmp(arg, "user:", 5) == 0)
        return bayes_scope_user(arg + 5, out, outlen);
    return false;
}

bool learn_job(const Bulwark__ScanJob *job, const params *cfg, bool *bad, char *detail, size_t dlen)
{
    bool spam = job->learn == BULWARK__LEARN_AS__LEARN_SPAM;
    char scope[BAYES_SCOPE_MAX + 4];
    *bad = false;
    if (!learn_scope_parse(job->learn_scope, scope, sizeof scope)) {
        *bad = true;
        snprintf(detail, dlen, "bad learn scope '%.100s'", job->learn_scope);
        return false;
    }
    if (!redisx_configured()) {
        snprintf(detail, dlen, "this node has no redis_server to learn into");
        return false;
    }
    char err[768];
    bayes_learn_result res;
    size_t max_tokens = cfg ? (size_t)params_int(cfg, "check.bayes.max_tokens") : 0;
    unsigned window = cfg ? (unsigned)params_int(cfg, "check.bayes.osb_window") : 0;
    if (!learn_raw(job->message.data, job->message.len, spam, scope, max_tokens, window, &res, err,
                   sizeof err)) {
        snprintf(detail, dlen, "learning failed: %s", err);
        return false;
    }
    snprintf(detail, dlen, "%s into %s: %s", spam ? "spam" : "ham", scope,
             bayes_learn_result_name(res));
    return true;
}
