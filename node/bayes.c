/* bayes.c - Bayes token storage in Redis and the chi-square combiner.
 *
 * Storage: token counts live in 65,536 small hashes per scope, bucketed by the
 * token's top 16 bits, with one field per token and class ("<12 hex>s", "<12 hex>h").
 * Small hashes stay in Redis's compact listpack encoding, which costs a few tens of
 * bytes per field instead of a key per token. A lookup is one HMGET per token, all
 * appended with redisAppendCommand and read back in one round trip; learning is one
 * HINCRBY per token and class the same way.
 *
 * Combiner: Gary Robinson's f(w) = (s*x + n*p(w)) / (s + n) with p(w) from the
 * per-class frequencies, then Fisher's method over the K most significant tokens as
 * SpamBayes does: S = 1 - Q(-2 sum ln(1-f), 2K), H = 1 - Q(-2 sum ln f, 2K),
 * I = (1 + S - H) / 2. It gives honest "unsure" values near 0.5 when evidence pulls
 * both ways, which a naive product never does. */
#include "bayes.h"
#include "util.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bayes_opts_default(bayes_opts *o)
{
    o->s = 1.0;
    o->x = 0.5;
    o->min_strength = 0.1;
    o->min_hits = 1;
    o->max_used = 150;
}

double bayes_token_prob(bayes_count c, uint64_t nspam, uint64_t nham, const bayes_opts *o)
{
    double n = (double)c.spam + (double)c.ham;
    if (n <= 0 || !nspam || !nham)
        return o->x;
    double sr = (double)c.spam / (double)nspam, hr = (double)c.ham / (double)nham;
    if (sr > 1)
        sr = 1;
    if (hr > 1)
        hr = 1;
    double p = sr / (sr + hr);
    return (o->s * o->x + n * p) / (o->s + n);
}

double bayes_chi2q(double x2, unsigned v)
{
    /* Even v: Q = exp(-m) * sum_{i < v/2} m^i / i!, summed in the linear domain. */
    double m = x2 / 2.0, term = exp(-m), sum = term;
    for (unsigned i = 1; i < v / 2; i++) {
        term *= m / i;
        sum += term;
    }
    return sum < 1.0 ? sum : 1.0;
}

typedef struct {
    double f, strength;
} scored;

static int by_strength(const void *a, const void *b)
{
    double x = ((const scored *)a)->strength, y = ((const scored *)b)->strength;
    if (x != y)
        return x < y ? 1 : -1;
    double fa = ((const scored *)a)->f, fb = ((const scored *)b)->f;
    return fa < fb ? -1 : fa > fb;
}

double bayes_classify(const bayes_count *c, size_t n, uint64_t nspam, uint64_t nham,
                      const bayes_opts *o, size_t *used)
{
    scored *v = n ? xmalloc(n * sizeof *v) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if ((uint64_t)c[i].spam + c[i].ham < o->min_hits || (!c[i].spam && !c[i].ham))
            continue;
        double f = bayes_token_prob(c[i], nspam, nham, o);
        double st = fabs(f - 0.5);
        if (st < o->min_strength)
            continue;
        /* Keep f away from 0 and 1 so the logarithms stay finite. */
        if (f < 1e-6)
            f = 1e-6;
        if (f > 1 - 1e-6)
            f = 1 - 1e-6;
        v[k++] = (scored){f, st};
    }
    if (k > o->max_used) {
        qsort(v, k, sizeof *v, by_strength);
        k = o->max_used;
    }
    *used = k;
    if (!k) {
        free(v);
        return 0.5;
    }
    double lns = 0, lnh = 0;
    for (size_t i = 0; i < k; i++) {
        lnh += log(v[i].f);
        lns += log(1.0 - v[i].f);
    }
    free(v);
    double S = 1.0 - bayes_chi2q(-2.0 * lns, 2 * (unsigned)k);
    double H = 1.0 - bayes_chi2q(-2.0 * lnh, 2 * (unsigned)k);
    return (1.0 + S - H) / 2.0;
}

static bool scope_name(const char *kind, const char *value, char *out, size_t outlen)
{
    if (!value || !*value || strlen(value) + 3 >= outlen || strlen(value) + 3 > BAYES_SCOPE_MAX)
        return false;
    size_t k = (size_t)snprintf(out, outlen, "%s:", kind);
    for (const char *p = value; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= ' ')
            return false;
        out[k++] = (char)tolower(ch);
    }
    out[k] = '\0';
    return true;
}

bool bayes_scope_domain(const char *domain, char *out, size_t outlen)
{
    return scope_name("d", domain, out, outlen);
}

bool bayes_scope_user(const char *address, char *out, size_t outlen)
{
    return strchr(address, '@') && scope_name("u", address, out, outlen);
}

/* ---- Redis ------------------------------------------------------------------- */

static void token_key(const char *scope, uint64_t t, char *key, size_t keylen, char *field,
                      size_t fieldlen)
{
    snprintf(key, keylen, "bw:b:%s:t:%04x", scope, (unsigned)(t >> 48));
    snprintf(field, fieldlen, "%012" PRIx64, t & (uint64_t)0xffffffffffff);
}

static bool reply_error(redisContext *c, redisReply *r, const char *what, char *err, size_t errlen)
{
    if (!r) {
        snprintf(err, errlen, "redis %s: %s", what, c->errstr[0] ? c->errstr : "no reply");
        return true;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis %s: %s", what, r->str);
        return true;
    }
    return false;
}

static uint64_t reply_u64(const redisReply *r)
{
    if (!r)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer > 0 ? (uint64_t)r->integer : 0;
    if (r->type == REDIS_REPLY_STRING) {
        long long v = strtoll(r->str, NULL, 10);
        return v > 0 ? (uint64_t)v : 0;
    }
    return 0;
}

/* Reads n replies; the first error is reported, all are consumed. */
static bool drain(redisContext *c, size_t n, const char *what, char *err, size_t errlen)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            snprintf(err, errlen, "redis %s: %s", what, c->errstr);
            return false;
        }
        if (ok && reply_error(c, r, what, err, errlen))
            ok = false;
        freeReplyObject(r);
    }
    return ok;
}

bool bayes_scope_counts(redisContext *c, const char *const *scopes, size_t n, uint64_t *spam,
                        uint64_t *ham, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        redisAppendCommand(c, "HMGET bw:b:%s:n spam ham", scopes[i]);
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            snprintf(err, errlen, "redis counts: %s", c->errstr);
            return false;
        }
        spam[i] = ham[i] = 0;
        if (ok && reply_error(c, r, "counts", err, errlen))
            ok = false;
        else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            spam[i] = reply_u64(r->element[0]);
            ham[i] = reply_u64(r->element[1]);
        }
        freeReplyObject(r);
    }
    return ok;
}

bool bayes_fetch(redisContext *c, const char *scope, const uint64_t *tok, size_t n,
                 bayes_count *out, char *err, size_t errlen)
{
    char key[BAYES_SCOPE_MAX + 32], field[16];
    for (size_t i = 0; i < n; i++) {
        token_key(scope, tok[i], key, sizeof key, field, sizeof field);
        redisAppendCommand(c, "HMGET %s %ss %sh", key, field, field);
    }
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            snprintf(err, errlen, "redis fetch: %s", c->errstr);
            return false;
        }
        out[i].spam = out[i].ham = 0;
        if (ok && reply_error(c, r, "fetch", err, errlen))
            ok = false;
        else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            uint64_t s = reply_u64(r->element[0]), h = reply_u64(r->element[1]);
            out[i].spam = s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
            out[i].ham = h > UINT32_MAX ? UINT32_MAX : (uint32_t)h;
        }
        freeReplyObject(r);
    }
    return ok;
}

const char *bayes_learn_result_name(bayes_learn_result r)
{
    switch (r) {
    case BAYES_LEARNED: return "learned";
    case BAYES_ALREADY: return "already learned";
    case BAYES_MOVED: return "moved";
    }
    return "?";
}

/* Appends HINCRBY of every token of one class; returns the number of commands. */
static size_t append_tokens(redisContext *c, const char *scope, const uint64_t *tok, size_t n,
                            const char *cls, int delta)
{
    char key[BAYES_SCOPE_MAX + 32], field[16];
    for (size_t i = 0; i < n; i++) {
        token_key(scope, tok[i], key, sizeof key, field, sizeof field);
        redisAppendCommand(c, "HINCRBY %s %s%s %d", key, field, cls, delta);
    }
    return n;
}

bool bayes_store(redisContext *c, const char *scope, const char *digest_hex, bool spam,
                 const uint64_t *tok, size_t n, bayes_learn_result *res, char *err, size_t errlen)
{
    const char *cls = spam ? "s" : "h";
    /* Claim the digest: HSETNX settles a race between two learners of one message;
     * HGET tells what it was learned as when the claim fails. */
    redisAppendCommand(c, "HSETNX bw:b:%s:learned %s %s", scope, digest_hex, cls);
    redisAppendCommand(c, "HGET bw:b:%s:learned %s", scope, digest_hex);
    redisReply *r1 = NULL, *r2 = NULL;
    if (redisGetReply(c, (void **)&r1) != REDIS_OK || redisGetReply(c, (void **)&r2) != REDIS_OK) {
        snprintf(err, errlen, "redis learn: %s", c->errstr);
        freeReplyObject(r1);
        return false;
    }
    bool bad = reply_error(c, r1, "learn", err, errlen) || reply_error(c, r2, "learn", err, errlen);
    bool claimed = !bad && r1->type == REDIS_REPLY_INTEGER && r1->integer == 1;
    char was = !bad && r2->type == REDIS_REPLY_STRING && r2->len ? r2->str[0] : 0;
    freeReplyObject(r1);
    freeReplyObject(r2);
    if (bad)
        return false;
    size_t cmds = 0;
    if (claimed) {
        *res = BAYES_LEARNED;
        redisAppendCommand(c, "HINCRBY bw:b:%s:n %s 1", scope, spam ? "spam" : "ham");
        cmds = 1 + append_tokens(c, scope, tok, n, cls, 1);
    } else if (was == cls[0]) {
        *res = BAYES_ALREADY;
        return true;
    } else {
        *res = BAYES_MOVED;
        const char *old = spam ? "h" : "s";
        redisAppendCommand(c, "HSET bw:b:%s:learned %s %s", scope, digest_hex, cls);
        redisAppendCommand(c, "HINCRBY bw:b:%s:n %s 1", scope, spam ? "spam" : "ham");
        redisAppendCommand(c, "HINCRBY bw:b:%s:n %s -1", scope, spam ? "ham" : "spam");
        cmds = 3 + append_tokens(c, scope, tok, n, old, -1);
        cmds += append_tokens(c, scope, tok, n, cls, 1);
    }
    return drain(c, cmds, "learn", err, errlen);
}
