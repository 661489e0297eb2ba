/* bayes.c - Bayes token storage in Redis and the chi-square combiner.
 *
 * Storage: 65,536 small hashes per scope (listpack-encoded, ~11 bytes a field), keyed
 * by the token's top 16 bits, one field per token and class (6 raw bytes + 's'/'h').
 * A lookup is one HMGET per token written as RESP into one buffer, one round trip;
 * learning is one HINCRBY per token and class the same way. The :n hash records the
 * token scheme and OSB window: counts of another tokenizer are refused, not mixed.
 * Combiner: Robinson's f(w) = (s*x + n*p(w)) / (s + n), then Fisher's chi-square over
 * the K strongest tokens as SpamBayes does, I = (1 + S - H) / 2: honest "unsure"
 * values near 0.5 when evidence pulls both ways, which a naive product never gives. */
#include "bayes.h"
#include "util.h"

#include <ctype.h>
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

unsigned bayes_scheme_mark(unsigned osb_window)
{
    return osb_window < 2 ? BAYES_SCHEME : 100 * BAYES_SCHEME + osb_window;
}

void bayes_scheme_name(unsigned mark, char *out, size_t outlen)
{
    if (mark == BAYES_SCHEME)
        snprintf(out, outlen, "token scheme %u without word pairs", mark);
    else if (mark > 100)
        snprintf(out, outlen, "token scheme %u with OSB window %u (check.bayes.osb_window)",
                 mark / 100, mark % 100);
    else
        snprintf(out, outlen, "token scheme %u", mark);
}

const char *bayes_scheme_hint(unsigned was, unsigned now)
{
    bool pairs = was / 100 == BAYES_SCHEME || now / 100 == BAYES_SCHEME;
    return pairs ? "learn and scan with the same check.bayes.osb_window, or " : "";
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

/* Commands are written as RESP straight into one buffer (one append to hiredis's
 * output buffer for the whole message) instead of a format string per token: with
 * hundreds of tokens per message, redisAppendCommand's format parsing was a third of
 * the client's cost. */
typedef struct {
    char *p;
    size_t n, cap;
} resp_buf;

static void rb_put(resp_buf *b, const void *data, size_t len)
{
    if (b->n + len > b->cap) {
        b->cap = (b->n + len) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
}

static void rb_len(resp_buf *b, char kind, size_t v)
{
    char tmp[24];
    size_t k = sizeof tmp;
    tmp[--k] = '\n';
    tmp[--k] = '\r';
    do {
        tmp[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    tmp[--k] = kind;
    rb_put(b, tmp + k, sizeof tmp - k);
}

static void rb_bulk(resp_buf *b, const void *data, size_t len)
{
    rb_len(b, '$', len);
    rb_put(b, data, len);
    rb_put(b, "\r\n", 2);
}

/* The token's hash key: "bw:b:<scope>:t:" (prefix, plen bytes) and its top 16 bits
 * in hex, written over the 4 bytes after the prefix in key. */
static void token_bucket(char *key, size_t plen, uint64_t t)
{
    static const char hex[] = "0123456789abcdef";
    unsigned top = (unsigned)(t >> 48);
    for (int i = 3; i >= 0; i--, top >>= 4)
        key[plen + (size_t)i] = hex[top & 15];
}

/* The field: the token's other 48 bits as 6 raw bytes (big-endian), then the class. */
static void token_field(char *field, uint64_t t, char cls)
{
    for (int i = 0; i < BAYES_FIELD_LEN - 1; i++)
        field[i] = (char)(t >> (8 * (BAYES_FIELD_LEN - 2 - i)));
    field[BAYES_FIELD_LEN - 1] = cls;
}

static size_t token_prefix(const char *scope, char *key, size_t keylen)
{
    int k = snprintf(key, keylen, "bw:b:%s:t:", scope);
    return k > 0 && (size_t)k + 4 < keylen ? (size_t)k : 0;
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

/* The scheme a scope's counts were made with: the "scheme" field of its :n hash;
 * counts without it predate the field (scheme 1); no counts at all: 0 (empty). */
static unsigned scope_scheme(const redisReply *r)
{
    uint64_t spam = reply_u64(r->element[0]), ham = reply_u64(r->element[1]);
    uint64_t v = reply_u64(r->element[2]);
    if (v)
        return v > 1000 ? 1000 : (unsigned)v;
    return spam || ham ? 1 : 0;
}

bool bayes_scope_counts(redisContext *c, const char *const *scopes, size_t n, uint64_t *spam,
                        uint64_t *ham, unsigned *scheme, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        redisAppendCommand(c, "HMGET bw:b:%s:n spam ham scheme", scopes[i]);
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            snprintf(err, errlen, "redis counts: %s", c->errstr);
            return false;
        }
        spam[i] = ham[i] = 0;
        if (scheme)
            scheme[i] = 0;
        if (ok && reply_error(c, r, "counts", err, errlen))
            ok = false;
        else if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
            spam[i] = reply_u64(r->element[0]);
            ham[i] = reply_u64(r->element[1]);
            if (scheme)
                scheme[i] = scope_scheme(r);
        }
        freeReplyObject(r);
    }
    return ok;
}

bool bayes_fetch(redisContext *c, const char *scope, const uint64_t *tok, size_t n,
                 bayes_count *out, char *err, size_t errlen)
{
    char key[BAYES_SCOPE_MAX + 32], fs[BAYES_FIELD_LEN], fh[BAYES_FIELD_LEN];
    size_t plen = token_prefix(scope, key, sizeof key);
    if (!plen) {
        snprintf(err, errlen, "bad scope '%.60s'", scope);
        return false;
    }
    resp_buf b = {NULL, 0, 0};
    for (size_t i = 0; i < n; i++) {
        token_bucket(key, plen, tok[i]);
        token_field(fs, tok[i], 's');
        token_field(fh, tok[i], 'h');
        rb_put(&b, "*4\r\n$5\r\nHMGET\r\n", 15);
        rb_bulk(&b, key, plen + 4);
        rb_bulk(&b, fs, sizeof fs);
        rb_bulk(&b, fh, sizeof fh);
    }
    int rc = n ? redisAppendFormattedCommand(c, b.p, b.n) : REDIS_OK;
    free(b.p);
    if (rc != REDIS_OK) {
        snprintf(err, errlen, "redis fetch: %s", c->errstr);
        return false;
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

/* Appends HINCRBY of every token of one class to b (delta is "1" or "-1"). */
static void append_tokens(resp_buf *b, const char *key_prefix, size_t plen, const uint64_t *tok,
                          size_t n, char cls, const char *delta)
{
    char key[BAYES_SCOPE_MAX + 32], field[BAYES_FIELD_LEN];
    memcpy(key, key_prefix, plen);
    for (size_t i = 0; i < n; i++) {
        token_bucket(key, plen, tok[i]);
        token_field(field, tok[i], cls);
        rb_put(b, "*4\r\n$7\r\nHINCRBY\r\n", 17);
        rb_bulk(b, key, plen + 4);
        rb_bulk(b, field, sizeof field);
        rb_bulk(b, delta, strlen(delta));
    }
}

/* Refuses a scope whose counts were made with another token scheme or OSB window:
 * adding new tokens to old ones would give a model that matches neither. */
static bool check_scheme(redisContext *c, const char *scope, unsigned mark, char *err,
                         size_t errlen)
{
    unsigned scheme;
    uint64_t spam, ham;
    if (!bayes_scope_counts(c, &scope, 1, &spam, &ham, &scheme, err, errlen))
        return false;
    if (scheme && scheme != mark) {
        char was[96], now[96];
        bayes_scheme_name(scheme, was, sizeof was);
        bayes_scheme_name(mark, now, sizeof now);
        snprintf(err, errlen,
                 "scope %s was learned with %s, this learner uses %s: %sdelete its keys "
                 "(bw:b:%s:*) and learn again (docs/bayes.md)",
                 scope, was, now, bayes_scheme_hint(scheme, mark), scope);
        return false;
    }
    return true;
}

bool bayes_store(redisContext *c, const char *scope, const char *digest_hex, bool spam,
                 const uint64_t *tok, size_t n, unsigned mark, bayes_learn_result *res, char *err,
                 size_t errlen)
{
    const char cls = spam ? 's' : 'h', *cls_s = spam ? "s" : "h";
    char key[BAYES_SCOPE_MAX + 32];
    size_t plen = token_prefix(scope, key, sizeof key);
    if (!plen) {
        snprintf(err, errlen, "bad scope '%.60s'", scope);
        return false;
    }
    if (!check_scheme(c, scope, mark, err, errlen))
        return false;
    /* Claim the digest: HSETNX settles a race between two learners of one message;
     * HGET tells what it was learned as when the claim fails. */
    redisAppendCommand(c, "HSETNX bw:b:%s:learned %s %s", scope, digest_hex, cls_s);
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
    if (!claimed && was == cls) {
        *res = BAYES_ALREADY;
        return true;
    }
    size_t cmds = 2;
    redisAppendCommand(c, "HSET bw:b:%s:n scheme %u", scope, mark);
    redisAppendCommand(c, "HINCRBY bw:b:%s:n %s 1", scope, spam ? "spam" : "ham");
    resp_buf b = {NULL, 0, 0};
    if (claimed) {
        *res = BAYES_LEARNED;
    } else {
        *res = BAYES_MOVED;
        redisAppendCommand(c, "HSET bw:b:%s:learned %s %s", scope, digest_hex, cls_s);
        redisAppendCommand(c, "HINCRBY bw:b:%s:n %s -1", scope, spam ? "ham" : "spam");
        cmds += 2 + n;
        append_tokens(&b, key, plen, tok, n, spam ? 'h' : 's', "-1");
    }
    cmds += n;
    append_tokens(&b, key, plen, tok, n, cls, "1");
    int rc = b.n ? redisAppendFormattedCommand(c, b.p, b.n) : REDIS_OK;
    free(b.p);
    if (rc != REDIS_OK) {
        snprintf(err, errlen, "redis learn: %s", c->errstr);
        return false;
    }
    return drain(c, cmds, "learn", err, errlen);
}
