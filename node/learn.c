/* learn.c - learn one message as spam or ham: digest, tokens, Redis.
 *
 * The digest identifies the message across relays (see learn.h); SHA-256 is
 * implemented here (FIPS 180-4) because nothing else in the pipeline links a crypto
 * library. The tokens come from tok_extract() exactly as the scan computes them,
 * and bayes_store() applies the learned-once rule: same class again is a no-op,
 * the other class moves the counts. A message learned into the global scope (new or
 * moved) is also given to the fuzzy hashes (node/fuzzy.h), which are cluster-wide;
 * their failure is logged and does not fail the Bayes lesson. */
#include "learn.h"
#include "fuzzy.h"
#include "log.h"
#include "redisx.h"
#include "tokens.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- SHA-256 --------------------------------------------------------------------- */

typedef struct {
    uint32_t h[8];
    uint8_t buf[64];
    size_t used;
    uint64_t total;
} sha256_ctx;

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(sha256_ctx *c, const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4], f = c->h[5],
             g = c->h[6], h = c->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 =
            h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = cc;
        cc = b;
        b = a;
        a = t1 + t2;
    }
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
    c->h[5] += f;
    c->h[6] += g;
    c->h[7] += h;
}

static void sha256_init(sha256_ctx *c)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, iv, sizeof iv);
    c->used = 0;
    c->total = 0;
}

static void sha256_update(sha256_ctx *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    c->total += len;
    while (len) {
        size_t k = 64 - c->used < len ? 64 - c->used : len;
        memcpy(c->buf + c->used, p, k);
        c->used += k;
        p += k;
        len -= k;
        if (c->used == 64) {
            sha256_block(c, c->buf);
            c->used = 0;
        }
    }
}

static void sha256_final(sha256_ctx *c, uint8_t out[32])
{
    uint64_t bits = c->total * 8;
    uint8_t pad = 0x80, zero = 0;
    sha256_update(c, &pad, 1);
    while (c->used != 56)
        sha256_update(c, &zero, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(c, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

void learn_sha256(const void *data, size_t len, uint8_t out[32])
{
    sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, data, len);
    sha256_final(&c, out);
}

/* ---- learning -------------------------------------------------------------------- */

/* Feeds s with whitespace runs folded to one space and the ends trimmed. */
static void update_folded(sha256_ctx *c, const char *s, size_t len)
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
            sha256_update(c, buf, k);
            k = 0;
        }
    }
    sha256_update(c, buf, k);
}

void learn_digest(const msg_model *m, const hdr_block *h, char *out)
{
    sha256_ctx c;
    sha256_init(&c);
    const char *from = h ? hdr_get(h, "From") : NULL;
    const char *subj = h ? hdr_get(h, "Subject") : NULL;
    if (from)
        update_folded(&c, from, strlen(from));
    sha256_update(&c, "\n", 1);
    if (subj)
        update_folded(&c, subj, strlen(subj));
    sha256_update(&c, "\n", 1);
    size_t tl = 0;
    const char *text = m ? msg_text(m, &tl) : NULL;
    if (text)
        update_folded(&c, text, tl);
    uint8_t d[32];
    sha256_final(&c, d);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

bool learn_model(const msg_model *m, const hdr_block *h, bool spam, const char *scope,
                 size_t max_tokens, bayes_learn_result *res, char *err, size_t errlen)
{
    redisContext *c = redisx_get(err, errlen);
    if (!c)
        return false;
    char digest[65];
    learn_digest(m, h, digest);
    size_t n;
    uint64_t *tok = tok_extract(m, h, max_tokens, &n);
    bool ok = bayes_store(c, scope, digest, spam, tok, n, res, err, errlen);
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
               bayes_learn_result *res, char *err, size_t errlen)
{
    msg_model *m = msg_parse(raw, len);
    hdr_block *h = hdr_parse((const char *)raw, len);
    bool ok = learn_model(m, h, spam, scope, max_tokens, res, err, errlen);
    hdr_destroy(&h);
    msg_destroy(&m);
    return ok;
}
