/* fuzzy.c - min-hash signatures of visible text, and their store in Redis.
 *
 * The text is read once: each word (a run of letters or digits, lower-cased by ICU,
 * digits folded to '0') is hashed with FNV-1a, every FUZZY_SHINGLE consecutive word
 * hashes are mixed into one shingle hash, and for each of the FUZZY_K positions the
 * minimum of splitmix64(shingle ^ seed[i]) is kept. Nothing is allocated per word.
 * In Redis a learned spam position is the key bw:fz:<i>:<16 hex> holding
 * "s:<campaign>", a learned ham position bw:fzh:<i>:<16 hex> holding "h:<campaign>",
 * both with an expiry; a lookup is a single MGET of the 2 * FUZZY_K keys. A message
 * closer to learned ham than to learned spam does not match, so a released false
 * positive stops matching while the campaign it resembled still does. */
#include "fuzzy.h"
#include "message.h"
#include "redisx.h"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define KEY_MAX 48

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

void fuzzy_opts_default(fuzzy_opts *o)
{
    o->min_words = 10;
    o->ttl_s = 30 * 86400;
}

void fuzzy_opts_from_params(const params *cfg, fuzzy_opts *o)
{
    o->min_words = (size_t)params_int(cfg, "check.fuzzy.min_words");
    o->ttl_s = params_int(cfg, "check.fuzzy.ttl") / 1000;
}

/* Calls word(ctx, bytes, n) for each normalised word; returns the count. */
typedef void (*word_fn)(void *ctx, const char *w, size_t n);

static size_t each_word(const char *text, size_t len, word_fn fn, void *ctx)
{
    char w[256];
    size_t wn = 0, chars = 0, words = 0;
    int32_t i = 0, n = (int32_t)(len < FUZZY_MAX_TEXT ? len : FUZZY_MAX_TEXT);
    const uint8_t *s = (const uint8_t *)text;
    while (i <= n) {
        UChar32 c = -1;
        if (i < n)
            U8_NEXT(s, i, n, c);
        else
            i++;
        if (c >= 0 && u_isalnum(c)) {
            c = u_isdigit(c) ? '0' : u_tolower(c);
            if (wn + U8_MAX_LENGTH <= sizeof w) { /* longer words are cut, still one word */
                U8_APPEND_UNSAFE(w, wn, c);
                chars++;
            }
            continue;
        }
        if (chars >= FUZZY_MIN_WORD) {
            fn(ctx, w, wn);
            words++;
        }
        wn = chars = 0;
    }
    return words;
}

static void word_to_buf(void *ctx, const char *w, size_t n)
{
    buf_t *b = ctx;
    if (b->len)
        buf_append(b, " ", 1);
    buf_append(b, w, n);
}

size_t fuzzy_normalize(const char *text, size_t len, buf_t *out)
{
    buf_t b = {0};
    size_t n = each_word(text, len, word_to_buf, &b);
    if (b.len) {
        if (out->len)
            buf_append(out, " ", 1);
        buf_append(out, b.data, b.len);
    }
    buf_free(&b);
    return n;
}

typedef struct {
    uint64_t last[FUZZY_SHINGLE];
    size_t words;
    uint64_t seed[FUZZY_K];
    fuzzy_sig sig;
} sig_ctx;

static void word_to_sig(void *ctx, const char *w, size_t n)
{
    sig_ctx *c = ctx;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)w[i]) * 0x100000001b3ULL;
    memmove(c->last, c->last + 1, (FUZZY_SHINGLE - 1) * sizeof c->last[0]);
    c->last[FUZZY_SHINGLE - 1] = h;
    if (++c->words < FUZZY_SHINGLE)
        return;
    uint64_t sh = 0;
    for (int j = 0; j < FUZZY_SHINGLE; j++)
        sh = mix64(sh ^ rotl(c->last[j], 17 * j + 1));
    for (int i = 0; i < FUZZY_K; i++) {
        uint64_t v = mix64(sh ^ c->seed[i]);
        if (v < c->sig.h[i])
            c->sig.h[i] = v;
    }
}

bool fuzzy_signature(const char *text, size_t len, size_t min_words, fuzzy_sig *out)
{
    sig_ctx c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < FUZZY_K; i++) {
        c.seed[i] = mix64(0x42756c7761726bULL + (uint64_t)i * 0x9e3779b97f4a7c15ULL);
        c.sig.h[i] = UINT64_MAX;
    }
    size_t n = each_word(text, len, word_to_sig, &c);
    if (n < min_words || n < FUZZY_SHINGLE)
        return false;
    c.sig.words = n;
    *out = c.sig;
    return true;
}

double fuzzy_similarity(const fuzzy_sig *a, const fuzzy_sig *b)
{
    unsigned same = 0;
    for (int i = 0; i < FUZZY_K; i++)
        same += a->h[i] == b->h[i];
    return (double)same / FUZZY_K;
}

void fuzzy_sig_id(const fuzzy_sig *s, char out[17])
{
    uint64_t h = 0;
    for (int i = 0; i < FUZZY_K; i++)
        h = mix64(h ^ s->h[i]);
    snprintf(out, 17, "%016" PRIx64, h);
}

static void pos_key(const fuzzy_sig *s, int i, fuzzy_class cls, char key[KEY_MAX])
{
    snprintf(key, KEY_MAX, "bw:fz%s:%d:%016" PRIx64, cls == FUZZY_HAM ? "h" : "", i, s->h[i]);
}

static bool redis_failed(redisContext *rc, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "redis %s: %s", what, rc->errstr[0] ? rc->errstr : "connection lost");
    return false;
}

bool fuzzy_store(redisContext *rc, const fuzzy_sig *s, fuzzy_class cls, int64_t ttl_s, char *err,
                 size_t errlen)
{
    char id[17], val[20], key[KEY_MAX];
    fuzzy_sig_id(s, id);
    snprintf(val, sizeof val, "%c:%s", cls == FUZZY_SPAM ? 's' : 'h', id);
    if (ttl_s < 1)
        ttl_s = 1;
    int sent = 0;
    for (int i = 0; i < FUZZY_K; i++) {
        pos_key(s, i, cls, key);
        if (redisAppendCommand(rc, "SET %s %s EX %lld", key, val, (long long)ttl_s) != REDIS_OK)
            return redis_failed(rc, "SET", err, errlen);
        sent++;
        if (cls == FUZZY_HAM)
            continue;
        /* Learned as spam again: this message's own ham marks go. */
        pos_key(s, i, FUZZY_HAM, key);
        if (redisAppendCommand(rc, "DEL %s", key) != REDIS_OK)
            return redis_failed(rc, "DEL", err, errlen);
        sent++;
    }
    bool ok = true;
    for (int i = 0; i < sent; i++) { /* read every reply even after a bad one */
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK)
            return redis_failed(rc, "SET", err, errlen);
        if (ok && r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "redis SET: %s", r->str);
            ok = false;
        }
        freeReplyObject(r);
    }
    return ok;
}

bool fuzzy_lookup(redisContext *rc, const fuzzy_sig *s, fuzzy_match *m, char *err, size_t errlen)
{
    char keys[2 * FUZZY_K][KEY_MAX];
    const char *argv[2 * FUZZY_K + 1];
    size_t argl[2 * FUZZY_K + 1];
    argv[0] = "MGET";
    argl[0] = 4;
    for (int i = 0; i < 2 * FUZZY_K; i++) {
        pos_key(s, i % FUZZY_K, i < FUZZY_K ? FUZZY_SPAM : FUZZY_HAM, keys[i]);
        argv[i + 1] = keys[i];
        argl[i + 1] = strlen(keys[i]);
    }
    memset(m, 0, sizeof *m);
    redisReply *r = redisCommandArgv(rc, 2 * FUZZY_K + 1, argv, argl);
    if (!r)
        return redis_failed(rc, "MGET", err, errlen);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 * FUZZY_K) {
        snprintf(err, errlen, "redis MGET: unexpected reply%s%s",
                 r->type == REDIS_REPLY_ERROR ? ": " : "",
                 r->type == REDIS_REPLY_ERROR ? r->str : "");
        freeReplyObject(r);
        return false;
    }
    /* The campaign: the spam id most positions point to (a few candidates at most). */
    const char *ids[FUZZY_K];
    unsigned votes[FUZZY_K] = {0}, nids = 0, best = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || e->len < 2 || e->str[1] != ':')
            continue;
        if (i >= FUZZY_K) {
            m->ham += e->str[0] == 'h';
            continue;
        }
        if (e->str[0] != 's')
            continue;
        m->spam++;
        unsigned j = 0;
        while (j < nids && strcmp(ids[j], e->str + 2) != 0)
            j++;
        if (j == nids)
            ids[nids++] = e->str + 2;
        if (++votes[j] > votes[best])
            best = j;
    }
    if (nids)
        snprintf(m->campaign, sizeof m->campaign, "%.16s", ids[best]);
    m->similarity = (double)m->spam / FUZZY_K;
    freeReplyObject(r);
    return true;
}

bool fuzzy_is_spam(const fuzzy_match *m, double threshold)
{
    return m->spam > 0 && m->spam > m->ham && m->similarity + 1e-9 >= threshold;
}

fuzzy_status fuzzy_learn_opts(const char *text, size_t len, fuzzy_class cls, const fuzzy_opts *o,
                              char *err, size_t errlen)
{
    fuzzy_opts d;
    if (!o) {
        fuzzy_opts_default(&d);
        o = &d;
    }
    fuzzy_sig s;
    if (!fuzzy_signature(text, len, o->min_words, &s)) {
        snprintf(err, errlen, "too little text to hash (fewer than %zu words)", o->min_words);
        return FUZZY_SKIPPED;
    }
    redisContext *rc = redisx_get(err, errlen);
    if (!rc)
        return FUZZY_ERROR;
    if (!fuzzy_store(rc, &s, cls, o->ttl_s, err, errlen)) {
        redisx_reset();
        return FUZZY_ERROR;
    }
    return FUZZY_OK;
}

fuzzy_status fuzzy_learn(const char *text, size_t len, fuzzy_class cls, char *err, size_t errlen)
{
    return fuzzy_learn_opts(text, len, cls, NULL, err, errlen);
}

fuzzy_status fuzzy_learn_message(const uint8_t *raw, size_t len, fuzzy_class cls,
                                 const fuzzy_opts *o, char *err, size_t errlen)
{
    msg_model *m = msg_parse(raw, len);
    size_t tlen;
    const char *text = msg_text(m, &tlen);
    fuzzy_status st = fuzzy_learn_opts(text, tlen, cls, o, err, errlen);
    msg_destroy(&m);
    return st;
}

fuzzy_status fuzzy_check(const char *text, size_t len, const fuzzy_opts *o, fuzzy_match *m,
                         char *err, size_t errlen)
{
    fuzzy_opts d;
    if (!o) {
        fuzzy_opts_default(&d);
        o = &d;
    }
    memset(m, 0, sizeof *m);
    fuzzy_sig s;
    if (!fuzzy_signature(text, len, o->min_words, &s)) {
        snprintf(err, errlen, "too little text to hash");
        return FUZZY_SKIPPED;
    }
    redisContext *rc = redisx_get(err, errlen);
    if (!rc)
        return FUZZY_ERROR;
    if (!fuzzy_lookup(rc, &s, m, err, errlen)) {
        redisx_reset();
        return FUZZY_ERROR;
    }
    return FUZZY_OK;
}
