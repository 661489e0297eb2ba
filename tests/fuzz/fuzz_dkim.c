/* fuzz_dkim.c - DKIM tag lists, signature values, key records, canonicalisation and
 * the verifier over a whole message (node/dkim.h), without DNS.
 *
 * The same bytes are a tag list, a DKIM-Signature value, a key record, a body and a
 * raw message. Accepted signatures and keys must hold what later code relies on
 * (lower-case d=, From in h=, digest sizes, spans inside the text). Canonical bodies
 * must not depend on how the input is cut, must be idempotent, use CRLF only, and in
 * relaxed have no white-space runs or white space before a line break. The verifier
 * is given the RFC 8463 example keys for every signature it finds, so a seed signed
 * with them reaches the body hash, the header selection and EVP. */
#include "dkim.h"
#include "fuzz.h"
#include "util.h"

#include <ctype.h>
#include <string.h>

static const char ed_key[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rsa_key[] =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5"
    "qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4"
    "hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

static void sink(void *ctx, const uint8_t *p, size_t n)
{
    buf_append(ctx, p, n);
}

static buf_t canon(const uint8_t *p, size_t n, dkim_canon c, size_t step)
{
    buf_t b = {0};
    buf_append(&b, "", 0);
    dkim_body_canon bc;
    dkim_body_init(&bc, c, sink, &b);
    for (size_t i = 0; i < n; i += step)
        dkim_body_feed(&bc, p + i, n - i < step ? n - i : step);
    dkim_body_finish(&bc);
    return b;
}

static void check_body(const uint8_t *data, size_t size, dkim_canon c)
{
    buf_t whole = canon(data, size, c, size ? size : 1);
    buf_t cut = canon(data, size, c, 7);
    FUZZ_ASSERT(whole.len == cut.len && memcmp(whole.data, cut.data, whole.len) == 0);
    buf_t again = canon((const uint8_t *)whole.data, whole.len, c, whole.len ? whole.len : 1);
    FUZZ_ASSERT(again.len == whole.len && memcmp(again.data, whole.data, whole.len) == 0);
    const char *o = whole.data;
    size_t n = whole.len;
    if (c == DKIM_CANON_SIMPLE)
        FUZZ_ASSERT(n >= 2);
    if (n)
        FUZZ_ASSERT(n >= 2 && o[n - 2] == '\r' && o[n - 1] == '\n');
    FUZZ_ASSERT(!(n >= 4 && memcmp(o + n - 4, "\r\n\r\n", 4) == 0) || n == 2);
    for (size_t i = 0; i < n; i++) {
        if (o[i] == '\n')
            FUZZ_ASSERT(i > 0 && o[i - 1] == '\r');
        if (c == DKIM_CANON_RELAXED) {
            FUZZ_ASSERT(o[i] != '\t');
            if (o[i] == ' ') /* a CR alone is data, so " \r" may be there, " \r\n" not */
                FUZZ_ASSERT(i + 2 < n && o[i + 1] != ' ' &&
                            !(o[i + 1] == '\r' && o[i + 2] == '\n'));
        }
    }
    buf_free(&whole);
    buf_free(&cut);
    buf_free(&again);
}

static void check_sig(const uint8_t *data, size_t size)
{
    dkim_sig s;
    char err[256];
    if (dkim_sig_parse((const char *)data, size, &s, err, sizeof err)) {
        FUZZ_ASSERT(s.domain && *s.domain && s.selector && *s.selector && s.identity);
        for (const char *c = s.domain; *c; c++)
            FUZZ_ASSERT(!isupper((unsigned char)*c));
        bool from = false;
        for (size_t i = 0; i < s.headers.n; i++)
            from |= strcmp(s.headers.v[i], "from") == 0;
        FUZZ_ASSERT(from && s.headers.n <= DKIM_MAX_H);
        FUZZ_ASSERT(s.bhlen == (s.alg == DKIM_ALG_RSA_SHA1 ? 20u : 32u));
        FUZZ_ASSERT(s.blen > 0 && s.b && s.b_from <= s.b_to && s.b_to <= size);
        FUZZ_ASSERT(strrchr(s.identity, '@') != NULL);
    } else {
        FUZZ_ASSERT(strlen(err) > 0);
    }
    dkim_sig_clear(&s);
    FUZZ_ASSERT(s.domain == NULL && s.b == NULL);
}

static void check_key(const uint8_t *data, size_t size)
{
    dkim_key k;
    char err[256];
    if (dkim_key_parse((const char *)data, size, &k, err, sizeof err))
        FUZZ_ASSERT((k.p == NULL) == (k.plen == 0) && k.plen <= 4096);
    dkim_key_clear(&k);
}

static void check_message(const uint8_t *data, size_t size)
{
    size_t n, body;
    dkim_field *f = dkim_fields(data, size, &n, &body);
    FUZZ_ASSERT(body <= size && n <= DKIM_MAX_FIELDS);
    buf_t b = {0};
    for (size_t i = 0; i < n && i < 64; i++) {
        FUZZ_ASSERT(f[i].off + f[i].len <= body && f[i].nlen <= f[i].len);
        b.len = 0;
        dkim_header_canon(DKIM_CANON_RELAXED, (const char *)data + f[i].off, f[i].len, &b);
        FUZZ_ASSERT(b.len >= 3 && memcmp(b.data + b.len - 2, "\r\n", 2) == 0);
        FUZZ_ASSERT(!memchr(b.data, '\n', b.len - 1));
        b.len = 0;
        dkim_header_canon(DKIM_CANON_SIMPLE, (const char *)data + f[i].off, f[i].len, &b);
        FUZZ_ASSERT(b.len >= f[i].len + 2);
    }
    buf_free(&b);
    free(f);

    dkim_opts o;
    dkim_opts_default(&o);
    o.now = 1530000000;
    o.sha1_weak = size & 1;
    dkim_verifier *v = dkim_verifier_new(data, size, &o);
    FUZZ_ASSERT(dkim_verifier_count(v) <= 5 && dkim_verifier_count(v) <= dkim_verifier_found(v));
    for (size_t i = 0; i < dkim_verifier_count(v); i++) {
        if (!dkim_verifier_key_name(v, i))
            continue;
        const char *k =
            strcmp(dkim_verifier_result(v, i)->alg, "ed25519-sha256") == 0 ? ed_key : rsa_key;
        dkim_verifier_set_key(v, i, DKIM_LOOKUP_FOUND, k, strlen(k), "");
    }
    dkim_verifier_run(v);
    for (size_t i = 0; i < dkim_verifier_count(v); i++) {
        const dkim_result *r = dkim_verifier_result(v, i);
        FUZZ_ASSERT(r->res <= DKIM_RES_PERMERROR);
        FUZZ_ASSERT(r->res == DKIM_RES_PASS || *r->reason);
        char d[400];
        dkim_result_describe(r, d, sizeof d);
    }
    dkim_verifier_destroy(&v);
    FUZZ_ASSERT(v == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dkim_tag tags[DKIM_MAX_TAGS];
    size_t n;
    char err[256];
    if (dkim_tags_parse((const char *)data, size, tags, DKIM_MAX_TAGS, &n, err, sizeof err))
        for (size_t i = 0; i < n; i++)
            FUZZ_ASSERT(tags[i].nlen > 0 && tags[i].eq < tags[i].end && tags[i].end <= size);
    check_sig(data, size);
    check_key(data, size);
    check_body(data, size, DKIM_CANON_SIMPLE);
    check_body(data, size, DKIM_CANON_RELAXED);
    check_message(data, size);
    return 0;
}
