/* test_dkim.c - DKIM tag lists, key records, canonicalisation, verification, signing.
 *
 * Vectors: the RFC 6376 3.4.5 canonicalisation example, and the RFC 8463 Appendix A
 * message (Ed25519 and RSA signatures, simple/simple and relaxed/relaxed) with its
 * published keys, verified at a fixed time. Keys are handed to the verifier as DNS
 * would give them; the DNS path itself is tested in tests/integration/test_dkim.py.
 * Round trips sign with freshly generated RSA and Ed25519 keys, then change the body,
 * a signed header or add a second From, and expect the matching failure. Sealing
 * (node/dkimseal.h) round-trips a key and refuses another cluster key or a change. */
#include "dkim.h"
#include "dkimseal.h"
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- vectors ------------------------------------------------------------------------ */

#define RFC_NOW 1530000000 /* after the RFC 8463 examples' t= */

static const char ed_key[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rsa_key[] =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5"
    "qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4"
    "hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

#define RFC_BODY                                                                                   \
    "From: Joe SixPack <joe@football.example.com>\r\n"                                             \
    "To: Suzie Q <suzie@shopping.example.net>\r\n"                                                 \
    "Subject: Is dinner ready?\r\n"                                                                \
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"                                              \
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"                             \
    "\r\n"                                                                                         \
    "Hi.\r\n"                                                                                      \
    "\r\n"                                                                                         \
    "We lost the game.  Are you hungry yet?\r\n"                                                   \
    "\r\n"                                                                                         \
    "Joe.\r\n"

/* RFC 8463 A.3 as signed (simple/simple: note the space before each line break) */
static const char rfc8463_simple[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=simple/simple; \r\n"
    " d=football.example.com; i=@football.example.com; \r\n"
    " q=dns/txt; s=brisbane; t=1518460054; h=from : to : \r\n"
    " subject : date : message-id : from : subject : date; \r\n"
    " bh=4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=; \r\n"
    " b=9/dsDChY0YMTtD5Eyw3wx7x22BlSJP7M5ECbJ7GWrR45nXlTCGb8l0YB\r\n"
    " o0wBLR++X5LqmsxXaOYLLJe46l10AQ==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; \r\n"
    " d=football.example.com; i=@football.example.com; \r\n"
    " q=dns/txt; s=test; t=1527915362; h=from : to : subject : \r\n"
    " date : message-id : from : subject : date; \r\n"
    " bh=4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=; \r\n"
    " b=icKcLSEZYXJ95flvWE8FT6hl5iqd8MC/LEKYH0QjsqYy6MO/4pgVNCZH\r\n"
    " l/RAXAuADxE/40Fg7uTlxwwD1hjN2Ple6J//cJfslBdDOq6zTVbne1dqtl\r\n"
    " NOat7iamJ1AfRqyG+ja7a2AZsrpUuJ7VA6O+0zRYPqpwMEkEFIzI9i/Xk=\r\n" RFC_BODY;

/* RFC 8463 A.3 errata version, relaxed/relaxed (as published by the stalwart tests) */
static const char rfc8463_relaxed[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n" RFC_BODY;

/* ---- helpers --------------------------------------------------------------------- */

typedef struct {
    const char *name;
    dkim_lookup st;
    const char *txt;
} fake_key;

/* Runs the verifier with keys from a table (as DNS would answer); a name missing
 * from the table is NXDOMAIN. */
static dkim_verifier *verify_with(const char *msg, size_t len, const fake_key *keys,
                                  const dkim_opts *o)
{
    dkim_verifier *v = dkim_verifier_new((const uint8_t *)msg, len, o);
    for (size_t i = 0; i < dkim_verifier_count(v); i++) {
        const char *name = dkim_verifier_key_name(v, i);
        if (!name)
            continue;
        const fake_key *k = keys;
        while (k->name && strcmp(k->name, name) != 0)
            k++;
        if (k->name)
            dkim_verifier_set_key(v, i, k->st, k->txt, k->txt ? strlen(k->txt) : 0,
                                  k->st == DKIM_LOOKUP_TEMPFAIL ? "timeout" : "");
        else
            dkim_verifier_set_key(v, i, DKIM_LOOKUP_MISSING, NULL, 0, "nxdomain");
    }
    dkim_verifier_run(v);
    return v;
}

static const fake_key rfc_keys[] = {
    {"brisbane._domainkey.football.example.com", DKIM_LOOKUP_FOUND, ed_key},
    {"test._domainkey.football.example.com", DKIM_LOOKUP_FOUND, rsa_key},
    {NULL, 0, NULL},
};

static dkim_opts at(time_t now)
{
    dkim_opts o;
    dkim_opts_default(&o);
    o.now = now;
    return o;
}

static void sink_buf(void *ctx, const uint8_t *p, size_t n)
{
    buf_append(ctx, p, n);
}

/* The canonical body, fed in pieces of `step` bytes. */
static char *canon_body(const char *body, dkim_canon c, size_t step, size_t *outlen)
{
    buf_t b = {0};
    buf_append(&b, "", 0);
    dkim_body_canon bc;
    dkim_body_init(&bc, c, sink_buf, &b);
    size_t n = strlen(body);
    for (size_t i = 0; i < n; i += step)
        dkim_body_feed(&bc, (const uint8_t *)body + i, n - i < step ? n - i : step);
    dkim_body_finish(&bc);
    buf_append(&b, "", 1);
    *outlen = b.len - 1;
    return b.data;
}

static void assert_body(const char *body, dkim_canon c, const char *want)
{
    for (size_t step = 1; step <= 7; step += 3) {
        size_t n;
        char *got = canon_body(body, c, step, &n);
        assert_int_equal(n, strlen(want));
        assert_memory_equal(got, want, n);
        free(got);
    }
}

/* ---- tag lists ---------------------------------------------------------------------- */

static void test_tags(void **state)
{
    (void)state;
    dkim_tag t[8];
    size_t n;
    char err[200];
    const char *s = " v=1; a = rsa-sha256 ;\r\n\th=from : to;  b=ab\r\n cd ;";
    assert_true(dkim_tags_parse(s, strlen(s), t, 8, &n, err, sizeof err));
    assert_int_equal(n, 4);
    assert_int_equal(t[1].vlen, 10);
    assert_memory_equal(t[1].value, "rsa-sha256", 10);
    assert_int_equal(t[2].vlen, 9);
    assert_memory_equal(t[2].value, "from : to", 9);
    assert_int_equal(t[3].vlen, 7); /* folding inside the value is kept */
    assert_memory_equal(t[3].value, "ab\r\n cd", 7);
    assert_int_equal(s[t[3].end], ';');
    /* empty values and an empty list */
    assert_true(dkim_tags_parse("p=", 2, t, 8, &n, err, sizeof err));
    assert_int_equal(n, 1);
    assert_int_equal(t[0].vlen, 0);
    assert_true(dkim_tags_parse(" ; ", 3, t, 8, &n, err, sizeof err));
    assert_int_equal(n, 0);

    static const struct {
        const char *text, *why;
    } bad[] = {
        {"v=1; v=1", "twice"},    {"v=1; a", "no '='"},           {"1v=1", "start with a letter"},
        {"a=b\x01", "byte 0x01"}, {"a=caf\xc3\xa9", "byte 0xc3"}, {"a-b=1", "no '='"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(dkim_tags_parse(bad[i].text, strlen(bad[i].text), t, 8, &n, err, sizeof err));
        assert_non_null(strstr(err, bad[i].why));
    }
    assert_false(dkim_tags_parse("a=1;b=2;c=3", 11, t, 2, &n, err, sizeof err));
    assert_non_null(strstr(err, "more than 2"));
}

/* ---- signatures ---------------------------------------------------------------------- */

#define GOOD_SIG                                                                                   \
    "v=1; a=rsa-sha256; c=relaxed; d=Example.COM; s=Sel1; i=joe@mail.example.com;\r\n"             \
    " h=From:To:from; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; l=12; t=100; x=200;\r\n"    \
    " b=AAAA BBBB"

static void test_sig_parse(void **state)
{
    (void)state;
    dkim_sig s;
    char err[200];
    assert_true(dkim_sig_parse(GOOD_SIG, strlen(GOOD_SIG), &s, err, sizeof err));
    assert_int_equal(s.alg, DKIM_ALG_RSA_SHA256);
    assert_int_equal(s.hcanon, DKIM_CANON_RELAXED);
    assert_int_equal(s.bcanon, DKIM_CANON_SIMPLE);
    assert_string_equal(s.domain, "example.com");
    assert_string_equal(s.selector, "sel1");
    assert_string_equal(s.identity, "joe@mail.example.com");
    assert_int_equal(s.headers.n, 3);
    assert_string_equal(s.headers.v[0], "from");
    assert_string_equal(s.headers.v[2], "from");
    assert_int_equal(s.bhlen, 32);
    assert_int_equal(s.blen, 6);
    assert_true(s.has_length && s.length == 12);
    assert_true(s.has_time && s.time == 100 && s.has_expire && s.expire == 200);
    assert_string_equal(GOOD_SIG + s.b_from, "AAAA BBBB");
    dkim_sig_clear(&s);

    /* i= defaults to @d= */
    const char *min = "v=1; a=ed25519-sha256; d=x.org; s=s; h=from; bh=" /* 32 zero bytes */
                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=AAAA";
    assert_true(dkim_sig_parse(min, strlen(min), &s, err, sizeof err));
    assert_string_equal(s.identity, "@x.org");
    assert_int_equal(s.alg, DKIM_ALG_ED25519_SHA256);
    dkim_sig_clear(&s);

    static const struct {
        const char *from, *to, *why;
    } bad[] = {
        {"v=1;", "v=2;", "v= is not 1"},
        {"a=rsa-sha256;", "a=rsa-md5;", "unknown algorithm a=rsa-md5"},
        {"a=rsa-sha256;", "", "required tag a="},
        {" s=Sel1;", "", "required tag s="},
        {"h=From:To:from;", "h=To:Subject;", "does not include From"},
        {"h=From:To:from;", "h=From::To;", "h= is not"},
        {"i=joe@mail.example.com", "i=joe@example.org", "not within d="},
        {"i=joe@mail.example.com", "i=joe@badexample.com", "not within d="},
        {"i=joe@mail.example.com", "i=joe", "not within d="},
        {"x=200", "x=50", "x= is before t="},
        {"l=12", "l=1x", "l= is not"},
        {"t=100", "t=-100", "t= is not"},
        {"c=relaxed", "c=relaxed/fancy", "unknown canonicalisation"},
        {"b=AAAA BBBB", "b=AA!A", "b= is"},
        {"b=AAAA BBBB", "b=", "b= is"},
        {"bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=", "bh=AAAA", "bh= is not"},
        {"d=Example.COM", "d=exa mple.com", "d= is not"},
        {"d=Example.COM", "d=.example.com", "d= is not"},
        {"s=Sel1", "s=a..b", "s= is not"},
        {"v=1;", "v=1; v=1;", "twice"},
        {"v=1;", "v=1; q=http/well-known;", "q= does not"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        const char *at = strstr(GOOD_SIG, bad[i].from);
        assert_non_null(at);
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - GOOD_SIG), GOOD_SIG, bad[i].to,
                 at + strlen(bad[i].from));
        err[0] = '\0';
        bool ok = dkim_sig_parse(text, strlen(text), &s, err, sizeof err);
        if (ok || !strstr(err, bad[i].why))
            fail_msg("case %zu: '%s' gave '%s'", i, text, ok ? "ok" : err);
        dkim_sig_clear(&s);
    }
    const char *q = "v=1; a=rsa-sha256; d=x.org; s=s; h=from; q=dns/txt:x/y; bh="
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=AAAA";
    assert_true(dkim_sig_parse(q, strlen(q), &s, err, sizeof err));
    dkim_sig_clear(&s);
}

/* ---- key records --------------------------------------------------------------------- */

static void test_key_parse(void **state)
{
    (void)state;
    dkim_key k;
    char err[200];
    assert_true(dkim_key_parse(rsa_key, strlen(rsa_key), &k, err, sizeof err));
    assert_int_equal(k.type, DKIM_KEY_RSA);
    assert_int_equal(k.plen, 162);
    assert_true(k.sha1 && k.sha256 && !k.testing && !k.strict);
    dkim_key_clear(&k);
    assert_true(dkim_key_parse(ed_key, strlen(ed_key), &k, err, sizeof err));
    assert_int_equal(k.type, DKIM_KEY_ED25519);
    assert_int_equal(k.plen, 32);
    dkim_key_clear(&k);

    const char *r = "v=DKIM1; p=";
    assert_true(dkim_key_parse(r, strlen(r), &k, err, sizeof err));
    assert_int_equal(k.plen, 0); /* revoked */
    dkim_key_clear(&k);
    r = "k=rsa; h=sha1; s=email:*; t=y:s:x; n=notes here; p=AAAA";
    assert_true(dkim_key_parse(r, strlen(r), &k, err, sizeof err));
    assert_true(k.sha1 && !k.sha256 && k.testing && k.strict);
    dkim_key_clear(&k);

    static const struct {
        const char *text, *why;
    } bad[] = {
        {"v=DKIM2; p=AAAA", "v= is not DKIM1"},
        {"v=DKIM1: g=*; k=rsa; p=AAAA", "v= is not DKIM1"}, /* dkimpy badversion.txt */
        {"v=DKIM1; k=ed25519-sha256; p=AAAA", "unknown key type"}, /* dkimpy badk.txt */
        {"v=DKIM1; k=rsa", "no p="},
        {"v=DKIM1; s=tlsrpt; p=AAAA", "service types"},
        {"v=DKIM1; p=AA*A", "not base64"},
        {"v=DKIM1; p=AAAA; p=AAAA", "twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool ok = dkim_key_parse(bad[i].text, strlen(bad[i].text), &k, err, sizeof err);
        if (ok || !strstr(err, bad[i].why))
            fail_msg("case %zu: '%s' gave '%s'", i, bad[i].text, ok ? "ok" : err);
        dkim_key_clear(&k);
    }
}

/* ---- canonicalisation ------------------------------------------------------------ */

static void header_canon_all(const char *hdrs, dkim_canon c, buf_t *out)
{
    size_t n, body;
    dkim_field *f = dkim_fields((const uint8_t *)hdrs, strlen(hdrs), &n, &body);
    for (size_t i = 0; i < n; i++)
        dkim_header_canon(c, hdrs + f[i].off, f[i].len, out);
    buf_append(out, "", 1);
    free(f);
}

/* RFC 6376 3.4.5, with CRLF and with bare LF. */
static void test_canon_rfc_example(void **state)
{
    (void)state;
    static const char *const hdrs[] = {"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n",
                                       "A: X\nB : Y\t\n\tZ  \n\n"};
    for (int i = 0; i < 2; i++) {
        buf_t b = {0};
        header_canon_all(hdrs[i], DKIM_CANON_RELAXED, &b);
        assert_string_equal(b.data, "a:X\r\nb:Y Z\r\n");
        b.len = 0;
        header_canon_all(hdrs[i], DKIM_CANON_SIMPLE, &b);
        assert_string_equal(b.data, "A: X\r\nB : Y\t\r\n\tZ  \r\n");
        buf_free(&b);
    }
    assert_body(" C \r\nD \t E\r\n\r\n\r\n", DKIM_CANON_RELAXED, " C\r\nD E\r\n");
    assert_body(" C \r\nD \t E\r\n\r\n\r\n", DKIM_CANON_SIMPLE, " C \r\nD \t E\r\n");
    assert_body(" C \nD \t E\n\n\n", DKIM_CANON_RELAXED, " C\r\nD E\r\n");
    assert_body(" C \nD \t E\n\n\n", DKIM_CANON_SIMPLE, " C \r\nD \t E\r\n");
}

static void test_canon_body_edges(void **state)
{
    (void)state;
    assert_body("", DKIM_CANON_SIMPLE, "\r\n");
    assert_body("", DKIM_CANON_RELAXED, "");
    assert_body("\r\n\r\n", DKIM_CANON_SIMPLE, "\r\n");
    assert_body(" \t\r\n \r\n", DKIM_CANON_RELAXED, "");
    assert_body("abc", DKIM_CANON_SIMPLE, "abc\r\n");
    assert_body("abc  ", DKIM_CANON_RELAXED, "abc\r\n");
    assert_body("\r\n\r\nx\r\n", DKIM_CANON_RELAXED, "\r\n\r\nx\r\n");
    assert_body("a\rb\r", DKIM_CANON_SIMPLE, "a\rb\r\r\n"); /* a lone CR is data */
    assert_body("a \r b", DKIM_CANON_RELAXED, "a \r b\r\n");
    assert_body("a\r\n \r\nb\r\n", DKIM_CANON_SIMPLE, "a\r\n \r\nb\r\n");
}

static void test_fields(void **state)
{
    (void)state;
    const char *m = "From: a\r\n b\r\nbroken line\r\nTo : c\r\n\r\nbody\r\n";
    size_t n, body;
    dkim_field *f = dkim_fields((const uint8_t *)m, strlen(m), &n, &body);
    assert_int_equal(n, 3);
    assert_int_equal(f[0].len, strlen("From: a\r\n b"));
    assert_int_equal(f[0].nlen, 4);
    assert_int_equal(f[1].nlen, 0);
    assert_int_equal(f[2].nlen, 2);
    assert_string_equal(m + body, "body\r\n");
    free(f);
    f = dkim_fields((const uint8_t *)"Subject: x", 10, &n, &body);
    assert_int_equal(n, 1);
    assert_int_equal(f[0].len, 10);
    assert_int_equal(body, 10);
    free(f);
}

/* ---- verification of the RFC 8463 examples ----------------------------------------------- */

static void test_rfc8463_verifies(void **state)
{
    (void)state;
    static const char *const msgs[] = {rfc8463_simple, rfc8463_relaxed};
    for (int m = 0; m < 2; m++) {
        dkim_opts o = at(RFC_NOW);
        dkim_verifier *v = verify_with(msgs[m], strlen(msgs[m]), rfc_keys, &o);
        assert_int_equal(dkim_verifier_found(v), 2);
        assert_int_equal(dkim_verifier_count(v), 2);
        const dkim_result *ed = dkim_verifier_result(v, 0), *rsa = dkim_verifier_result(v, 1);
        if (ed->res != DKIM_RES_PASS || rsa->res != DKIM_RES_PASS)
            fail_msg("message %d: ed25519 %s (%s), rsa %s (%s)", m, dkim_res_name(ed->res),
                     ed->reason, dkim_res_name(rsa->res), rsa->reason);
        assert_string_equal(ed->alg, "ed25519-sha256");
        assert_string_equal(ed->domain, "football.example.com");
        assert_string_equal(ed->selector, "brisbane");
        assert_int_equal(ed->key_bits, 256);
        assert_int_equal(rsa->key_bits, 1024);
        dkim_verifier_destroy(&v);
        assert_null(v);
    }
}

/* The same message with bare LF line ends verifies the same way. */
static void test_rfc8463_lf_only(void **state)
{
    (void)state;
    char *lf = xstrdup(rfc8463_relaxed);
    char *w = lf;
    for (const char *r = rfc8463_relaxed; *r; r++)
        if (*r != '\r')
            *w++ = *r;
    *w = '\0';
    dkim_opts o = at(RFC_NOW);
    dkim_verifier *v = verify_with(lf, strlen(lf), rfc_keys, &o);
    assert_int_equal(dkim_verifier_result(v, 0)->res, DKIM_RES_PASS);
    assert_int_equal(dkim_verifier_result(v, 1)->res, DKIM_RES_PASS);
    dkim_verifier_destroy(&v);
    free(lf);
}

/* Body hashes of the RFC 8463 message, straight from the canonicaliser. */
static void test_body_hash(void **state)
{
    (void)state;
    const char *body = strstr(rfc8463_simple, "\r\n\r\n") + 4;
    static const struct {
        dkim_canon c;
        const char *bh;
    } want[] = {
        {DKIM_CANON_SIMPLE, "4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ="},
        {DKIM_CANON_RELAXED, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8="},
    };
    for (int i = 0; i < 2; i++) {
        size_t n;
        char *canon = canon_body(body, want[i].c, 4096, &n);
        uint8_t h[32];
        unsigned hl;
        EVP_Digest(canon, n, h, &hl, EVP_sha256(), NULL);
        char b64[64];
        EVP_EncodeBlock((unsigned char *)b64, h, 32);
        assert_string_equal(b64, want[i].bh);
        free(canon);
    }
}

/* Change one byte, get the matching failure; a second From after signing fails
 * because From is over-signed (h= names it twice). */
static void test_rfc8463_tampered(void **state)
{
    (void)state;
    dkim_opts o = at(RFC_NOW);
    char *m = xstrdup(rfc8463_relaxed);
    *strstr(m, "hungry") = 'H';
    dkim_verifier *v = verify_with(m, strlen(m), rfc_keys, &o);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(dkim_verifier_result(v, i)->res, DKIM_RES_FAIL);
        assert_non_null(strstr(dkim_verifier_result(v, i)->reason, "body hash"));
    }
    dkim_verifier_destroy(&v);
    free(m);

    m = xstrdup(rfc8463_relaxed);
    memcpy(strstr(m, "Is dinner"), "No dinner", 9);
    v = verify_with(m, strlen(m), rfc_keys, &o);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(dkim_verifier_result(v, i)->res, DKIM_RES_FAIL);
        assert_non_null(strstr(dkim_verifier_result(v, i)->reason, "does not verify"));
    }
    dkim_verifier_destroy(&v);
    free(m);
}

/* ---- verification outcomes ------------------------------------------------------------ */

static void test_key_outcomes(void **state)
{
    (void)state;
    dkim_opts o = at(RFC_NOW);
    static const struct {
        fake_key key;
        dkim_res want;
        const char *why;
    } cases[] = {
        {{"x", DKIM_LOOKUP_FOUND, ""}, DKIM_RES_PERMERROR, "no key at"}, /* not in table */
        {{"test._domainkey.football.example.com", DKIM_LOOKUP_TEMPFAIL, NULL},
         DKIM_RES_TEMPERROR,
         "timeout"},
        {{"test._domainkey.football.example.com", DKIM_LOOKUP_MISSING, NULL},
         DKIM_RES_PERMERROR,
         "no key at test._domainkey.football.example.com"},
        {{"test._domainkey.football.example.com", DKIM_LOOKUP_FOUND, "v=DKIM1; k=rsa; p="},
         DKIM_RES_FAIL,
         "revoked"},
        {{"test._domainkey.football.example.com", DKIM_LOOKUP_FOUND,
          "v=DKIM1; k=rsa; h=sha1; p=AA"},
         DKIM_RES_PERMERROR,
         "does not allow sha256"},
        {{"test._domainkey.football.example.com", DKIM_LOOKUP_FOUND, ed_key},
         DKIM_RES_PERMERROR,
         "does not fit"},
        {{"test._domainkey.football.example.com", DKIM_LOOKUP_FOUND, "v=DKIM1; k=rsa; p=AAAA"},
         DKIM_RES_PERMERROR,
         "not an RSA public key"},
        {{"test._domainkey.football.example.com", DKIM_LOOKUP_FOUND, "garbage"},
         DKIM_RES_PERMERROR,
         "key record"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_key keys[2] = {cases[i].key, {NULL, 0, NULL}};
        dkim_verifier *v = verify_with(rfc8463_simple, strlen(rfc8463_simple), keys, &o);
        const dkim_result *r = dkim_verifier_result(v, 1); /* the RSA one */
        if (r->res != cases[i].want || !strstr(r->reason, cases[i].why))
            fail_msg("case %zu: %s (%s)", i, dkim_res_name(r->res), r->reason);
        dkim_verifier_destroy(&v);
    }
    /* no key given at all */
    dkim_verifier *v =
        dkim_verifier_new((const uint8_t *)rfc8463_simple, strlen(rfc8463_simple), &o);
    dkim_verifier_run(v);
    assert_int_equal(dkim_verifier_result(v, 0)->res, DKIM_RES_TEMPERROR);
    dkim_verifier_destroy(&v);

    /* the RSA key is 1024 bits: fine by default, refused when 2048 are required */
    o.min_rsa_bits = 2048;
    v = verify_with(rfc8463_simple, strlen(rfc8463_simple), rfc_keys, &o);
    assert_int_equal(dkim_verifier_result(v, 0)->res, DKIM_RES_PASS);
    assert_int_equal(dkim_verifier_result(v, 1)->res, DKIM_RES_FAIL);
    assert_non_null(strstr(dkim_verifier_result(v, 1)->reason, "1024 bits, below 2048"));
    dkim_verifier_destroy(&v);

    /* testing keys still pass, with the flag */
    fake_key testing[] = {
        {"test._domainkey.football.example.com", DKIM_LOOKUP_FOUND,
         "v=DKIM1; t=y; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk"
         "08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvq"
         "MKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"},
        {NULL, 0, NULL},
    };
    o = at(RFC_NOW);
    v = verify_with(rfc8463_simple, strlen(rfc8463_simple), testing, &o);
    const dkim_result *r = dkim_verifier_result(v, 1);
    assert_int_equal(r->res, DKIM_RES_PASS);
    assert_true(r->flags & DKIM_F_TESTING);
    char d[300];
    dkim_result_describe(r, d, sizeof d);
    assert_string_equal(d, "d=football.example.com s=test a=rsa-sha256 [test key t=y]");
    dkim_verifier_destroy(&v);
}

static void test_times(void **state)
{
    (void)state;
    /* t=1527915362 on the RSA signature: 10 minutes earlier is "in the future" */
    dkim_opts o = at(1527915362 - 600);
    dkim_verifier *v = verify_with(rfc8463_simple, strlen(rfc8463_simple), rfc_keys, &o);
    assert_int_equal(dkim_verifier_result(v, 1)->res, DKIM_RES_PERMERROR);
    assert_non_null(strstr(dkim_verifier_result(v, 1)->reason, "in the future"));
    dkim_verifier_destroy(&v);
    o.future_s = 3600;
    v = verify_with(rfc8463_simple, strlen(rfc8463_simple), rfc_keys, &o);
    assert_int_equal(dkim_verifier_result(v, 1)->res, DKIM_RES_PASS);
    dkim_verifier_destroy(&v);
}

/* More signatures than max_sigs: only the first are verified, all are counted;
 * a signature that does not parse is a PERMERROR that names what it could read. */
static void test_many_and_broken(void **state)
{
    (void)state;
    buf_t m = {0};
    for (int i = 0; i < 7; i++)
        buf_puts(&m, "DKIM-Signature: v=1; a=rsa-sha256; d=broken.example; s=x; h=to\r\n");
    buf_puts(&m, rfc8463_simple);
    dkim_opts o = at(RFC_NOW);
    dkim_verifier *v = verify_with(m.data, m.len, rfc_keys, &o);
    assert_int_equal(dkim_verifier_found(v), 9);
    assert_int_equal(dkim_verifier_count(v), 5);
    const dkim_result *r = dkim_verifier_result(v, 0);
    assert_int_equal(r->res, DKIM_RES_PERMERROR);
    assert_string_equal(r->domain, "broken.example");
    assert_string_equal(r->alg, "rsa-sha256");
    assert_non_null(strstr(r->reason, "required tag b="));
    assert_null(dkim_verifier_key_name(v, 0));
    assert_null(dkim_verifier_result(v, 5));
    dkim_verifier_destroy(&v);
    buf_free(&m);

    /* no signature at all, no header at all */
    v = verify_with("Subject: x\r\n\r\nhi\r\n", 19, rfc_keys, &o);
    assert_int_equal(dkim_verifier_found(v), 0);
    dkim_verifier_destroy(&v);
    v = verify_with("", 0, rfc_keys, &o);
    assert_int_equal(dkim_verifier_found(v), 0);
    dkim_verifier_destroy(&v);
}

/* ---- signing ---------------------------------------------------------------------------- */

static const char plain_msg[] =
    "Received: from mx.example.org by mx.example.net; Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    "From: Alice <alice@example.org>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: Quarterly figures\r\n"
    "Date: Mon, 23 Nov 2026 09:59:58 +0000\r\n"
    "Message-ID: <q4@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "  the figures   are attached.  \r\n"
    "\r\n"
    "\r\n";

static char *sign_msg(const dkim_signkey *k, dkim_alg alg, dkim_canon hc, dkim_canon bc,
                      const char *msg)
{
    dkim_sign_opts so = {.domain = "example.org",
                         .selector = "sel",
                         .alg = alg,
                         .hcanon = hc,
                         .bcanon = bc,
                         .now = RFC_NOW};
    char err[200];
    char *h = dkim_sign(k, &so, (const uint8_t *)msg, strlen(msg), err, sizeof err);
    if (!h)
        fail_msg("sign: %s", err);
    char *signed_msg = xasprintf("%s\r\n%s", h, msg);
    free(h);
    return signed_msg;
}

static dkim_res verify_signed(const char *msg, const char *record, char *reason, size_t n)
{
    fake_key keys[] = {{"sel._domainkey.example.org", DKIM_LOOKUP_FOUND, record}, {NULL, 0, NULL}};
    dkim_opts o = at(RFC_NOW);
    dkim_verifier *v = verify_with(msg, strlen(msg), keys, &o);
    assert_int_equal(dkim_verifier_count(v), 1);
    dkim_res r = dkim_verifier_result(v, 0)->res;
    snprintf(reason, n, "%s", dkim_verifier_result(v, 0)->reason);
    dkim_verifier_destroy(&v);
    return r;
}

static void round_trip(dkim_keytype type, dkim_alg alg)
{
    char err[200], why[200];
    dkim_signkey *k = dkim_signkey_generate(type, 1024, err, sizeof err);
    assert_non_null(k);
    char *record = dkim_signkey_record(k);
    for (int hc = 0; hc < 2; hc++) {
        for (int bc = 0; bc < 2; bc++) {
            char *m = sign_msg(k, alg, (dkim_canon)hc, (dkim_canon)bc, plain_msg);
            if (verify_signed(m, record, why, sizeof why) != DKIM_RES_PASS)
                fail_msg("%s %d/%d: %s", dkim_alg_name(alg), hc, bc, why);
            char *unfolded = xstrdup(m), *w = unfolded;
            for (const char *r = m; *r; r++)
                if (*r != '\r' && *r != '\n' && *r != '\t')
                    *w++ = *r;
            *w = '\0';
            assert_non_null(strstr(unfolded, "h=from:from:to:subject:date:message-id:mime-version:"
                                             "content-type;"));
            free(unfolded);
            /* folded: no line of the signature field is over 78 characters */
            const char *line = m, *end = strstr(m, "\r\nReceived:");
            for (const char *e; line < end; line = e + 2) {
                e = strstr(line, "\r\n");
                assert_true(e - line <= 78);
            }
            /* the body changed */
            char *t = xstrdup(m);
            *strstr(t, "figures   are") = 'F';
            assert_int_equal(verify_signed(t, record, why, sizeof why), DKIM_RES_FAIL);
            assert_non_null(strstr(why, "body hash"));
            free(t);
            /* a signed header changed */
            t = xstrdup(m);
            *strstr(t, "Quarterly") = 'q';
            assert_int_equal(verify_signed(t, record, why, sizeof why), DKIM_RES_FAIL);
            assert_non_null(strstr(why, "does not verify"));
            free(t);
            /* a From added on top: over-signing catches it */
            t = xasprintf("From: mallory@example.org\r\n%s", m);
            assert_int_equal(verify_signed(t, record, why, sizeof why), DKIM_RES_FAIL);
            free(t);
            /* an unsigned header added: still passes */
            t = xasprintf("X-Extra: yes\r\n%s", m);
            assert_int_equal(verify_signed(t, record, why, sizeof why), DKIM_RES_PASS);
            free(t);
            free(m);
        }
    }
    /* relaxed survives re-folding and white space changes in headers and body */
    char *m = sign_msg(k, alg, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, plain_msg);
    char *t = xstrdup(m);
    memcpy(strstr(t, "Subject: Quarterly"), "subject:\tQuarterly", 18);
    memcpy(strstr(t, "figures   are"), "figures\t  are", 13);
    assert_int_equal(verify_signed(t, record, why, sizeof why), DKIM_RES_PASS);
    free(t);
    free(m);
    free(record);
    dkim_signkey_destroy(&k);
    assert_null(k);
}

static void test_sign_rsa(void **state)
{
    (void)state;
    round_trip(DKIM_KEY_RSA, DKIM_ALG_RSA_SHA256);
}

static void test_sign_ed25519(void **state)
{
    (void)state;
    round_trip(DKIM_KEY_ED25519, DKIM_ALG_ED25519_SHA256);
}

/* PEM out and back in; a key pair that does not fit the algorithm; sha1 policy. */
static void test_sign_keys(void **state)
{
    (void)state;
    char err[200], why[200];
    dkim_signkey *k = dkim_signkey_generate(DKIM_KEY_RSA, 1024, err, sizeof err);
    char *pem = dkim_signkey_pem(k);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    dkim_signkey *k2 = dkim_signkey_load(pem, strlen(pem), err, sizeof err);
    assert_non_null(k2);
    assert_int_equal(dkim_signkey_type(k2), DKIM_KEY_RSA);
    assert_int_equal(dkim_signkey_bits(k2), 1024);
    char *r1 = dkim_signkey_record(k), *r2 = dkim_signkey_record(k2);
    assert_string_equal(r1, r2);
    assert_true(strncmp(r1, "v=DKIM1; k=rsa; p=MIGfMA0G", 26) == 0);
    free(r2);
    free(pem);
    dkim_signkey_destroy(&k2);

    assert_null(dkim_signkey_load("junk", 4, err, sizeof err));
    assert_non_null(strstr(err, "not a PEM private key"));
    assert_null(dkim_signkey_generate(DKIM_KEY_RSA, 512, err, sizeof err));

    dkim_sign_opts so = {
        .domain = "example.org", .selector = "sel", .alg = DKIM_ALG_ED25519_SHA256};
    assert_null(dkim_sign(k, &so, (const uint8_t *)plain_msg, strlen(plain_msg), err, sizeof err));
    assert_non_null(strstr(err, "needs an Ed25519 key"));
    so.alg = DKIM_ALG_RSA_SHA256;
    so.domain = "bad domain";
    assert_null(dkim_sign(k, &so, (const uint8_t *)plain_msg, strlen(plain_msg), err, sizeof err));
    so.domain = "example.org";
    so.headers = "to:subject";
    assert_null(dkim_sign(k, &so, (const uint8_t *)plain_msg, strlen(plain_msg), err, sizeof err));
    assert_non_null(strstr(err, "including From"));
    so.headers = NULL;
    assert_null(dkim_sign(k, &so, (const uint8_t *)"To: x\r\n\r\n", 9, err, sizeof err));
    assert_non_null(strstr(err, "no From"));
    so.identity = "@other.org";
    assert_null(dkim_sign(k, &so, (const uint8_t *)plain_msg, strlen(plain_msg), err, sizeof err));

    /* rsa-sha1: FAIL by default (RFC 8301), PASS flagged weak when allowed */
    so = (dkim_sign_opts){.domain = "example.org",
                          .selector = "sel",
                          .identity = "news@mail.example.org",
                          .alg = DKIM_ALG_RSA_SHA1,
                          .hcanon = DKIM_CANON_RELAXED,
                          .bcanon = DKIM_CANON_RELAXED,
                          .headers = "from:subject",
                          .now = RFC_NOW,
                          .expire_s = 3600};
    char *h = dkim_sign(k, &so, (const uint8_t *)plain_msg, strlen(plain_msg), err, sizeof err);
    assert_non_null(h);
    assert_non_null(strstr(h, "a=rsa-sha1;"));
    assert_non_null(strstr(h, "i=news@mail.example.org;"));
    assert_non_null(strstr(h, "h=from:subject;"));
    assert_non_null(strstr(h, "x=1530003600;"));
    char *m = xasprintf("%s\r\n%s", h, plain_msg);
    assert_int_equal(verify_signed(m, r1, why, sizeof why), DKIM_RES_FAIL);
    assert_non_null(strstr(why, "RFC 8301"));
    fake_key keys[] = {{"sel._domainkey.example.org", DKIM_LOOKUP_FOUND, r1}, {NULL, 0, NULL}};
    dkim_opts o = at(RFC_NOW);
    o.sha1_weak = true;
    dkim_verifier *v = verify_with(m, strlen(m), keys, &o);
    assert_int_equal(dkim_verifier_result(v, 0)->res, DKIM_RES_PASS);
    assert_true(dkim_verifier_result(v, 0)->flags & DKIM_F_SHA1);
    dkim_verifier_destroy(&v);
    /* ... and expired an hour later */
    o.now = RFC_NOW + 7200;
    v = verify_with(m, strlen(m), keys, &o);
    assert_int_equal(dkim_verifier_result(v, 0)->res, DKIM_RES_FAIL);
    assert_non_null(strstr(dkim_verifier_result(v, 0)->reason, "expired"));
    dkim_verifier_destroy(&v);
    free(m);
    free(h);
    free(r1);
    dkim_signkey_destroy(&k);
}

/* l=: the signature covers the body as signed; text appended later leaves it
 * passing, flagged, and a body cut below l= fails. */
static void test_length(void **state)
{
    (void)state;
    char err[200], why[200];
    dkim_signkey *k = dkim_signkey_generate(DKIM_KEY_ED25519, 0, err, sizeof err);
    char *record = dkim_signkey_record(k);
    dkim_sign_opts so = {.domain = "example.org",
                         .selector = "sel",
                         .alg = DKIM_ALG_ED25519_SHA256,
                         .hcanon = DKIM_CANON_RELAXED,
                         .now = RFC_NOW,
                         .body_length = true};
    char *h = dkim_sign(k, &so, (const uint8_t *)plain_msg, strlen(plain_msg), err, sizeof err);
    assert_non_null(h);
    assert_non_null(strstr(h, " l=45;")); /* "Hello Bob,\r\n" + 2nd line + CRLF */
    char *m = xasprintf("%s\r\n%s", h, plain_msg);
    assert_int_equal(verify_signed(m, record, why, sizeof why), DKIM_RES_PASS);
    char *tail = xasprintf("%sClick here: http://phish.example/\r\n", m);
    fake_key keys[] = {{"sel._domainkey.example.org", DKIM_LOOKUP_FOUND, record}, {NULL, 0, NULL}};
    dkim_opts o = at(RFC_NOW);
    dkim_verifier *v = verify_with(tail, strlen(tail), keys, &o);
    const dkim_result *r = dkim_verifier_result(v, 0);
    assert_int_equal(r->res, DKIM_RES_PASS);
    assert_true((r->flags & DKIM_F_LENGTH) && (r->flags & DKIM_F_LENGTH_PARTIAL));
    char d[300];
    dkim_result_describe(r, d, sizeof d);
    assert_non_null(strstr(d, "[l=45: unsigned data follows]"));
    dkim_verifier_destroy(&v);
    char *cut = xstrdup(m);
    *strstr(cut, "the figures") = '\0';
    assert_int_equal(verify_signed(cut, record, why, sizeof why), DKIM_RES_FAIL);
    assert_non_null(strstr(why, "longer than the body"));
    free(cut);
    free(tail);
    free(m);
    free(h);
    free(record);
    dkim_signkey_destroy(&k);
}

/* ---- keys sealed for the configuration ------------------------------------------------ */

static void test_seal(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_dkim_XXXXXX", path[64], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/cluster.key", dir);
    char *text = dkimseal_new_key_text();
    assert_int_equal(strlen(text), 45); /* 44 base64 characters and a newline */
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    free(text);
    uint8_t key[DKIMSEAL_KEY_BYTES], other[DKIMSEAL_KEY_BYTES];
    chmod(path, 0644);
    assert_false(dkimseal_load(path, key, err, sizeof err));
    assert_non_null(strstr(err, "open to all users"));
    chmod(path, 0600);
    assert_true(dkimseal_load(path, key, err, sizeof err));

    dkim_signkey *k = dkim_signkey_generate(DKIM_KEY_ED25519, 0, err, sizeof err);
    char *pem = dkim_signkey_pem(k);
    char *sealed = dkimseal_seal(key, pem, strlen(pem));
    assert_true(dkimseal_is_sealed(sealed));
    assert_null(strstr(sealed, "PRIVATE")); /* nothing of the PEM shows */
    char *again = dkimseal_seal(key, pem, strlen(pem));
    assert_string_not_equal(sealed, again); /* a fresh nonce each time */
    free(again);
    size_t len;
    char *opened = dkimseal_open(key, sealed, &len, err, sizeof err);
    assert_non_null(opened);
    assert_int_equal(len, strlen(pem));
    assert_string_equal(opened, pem);
    dkimseal_free(opened, len);

    memcpy(other, key, sizeof other);
    other[0] ^= 1;
    assert_null(dkimseal_open(other, sealed, &len, err, sizeof err));
    assert_non_null(strstr(err, "does not open"));
    sealed[20] = sealed[20] == 'A' ? 'B' : 'A'; /* changed in the database */
    assert_null(dkimseal_open(key, sealed, &len, err, sizeof err));
    assert_null(dkimseal_open(key, "-----BEGIN PRIVATE KEY-----", &len, err, sizeof err));
    assert_non_null(strstr(err, "not a sealed key"));
    assert_null(dkimseal_open(key, "enc:AAAA", &len, err, sizeof err));

    f = fopen(path, "w");
    fputs("not a key\n", f);
    fclose(f);
    assert_false(dkimseal_load(path, key, err, sizeof err));
    assert_non_null(strstr(err, "not a DKIM cluster key"));
    unlink(path);
    assert_false(dkimseal_load(path, key, err, sizeof err));
    rmdir(dir);
    free(sealed);
    free(pem);
    dkim_signkey_destroy(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_sig_parse),
        cmocka_unit_test(test_key_parse),
        cmocka_unit_test(test_canon_rfc_example),
        cmocka_unit_test(test_canon_body_edges),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_rfc8463_verifies),
        cmocka_unit_test(test_rfc8463_lf_only),
        cmocka_unit_test(test_body_hash),
        cmocka_unit_test(test_rfc8463_tampered),
        cmocka_unit_test(test_key_outcomes),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_many_and_broken),
        cmocka_unit_test(test_sign_rsa),
        cmocka_unit_test(test_sign_ed25519),
        cmocka_unit_test(test_sign_keys),
        cmocka_unit_test(test_length),
        cmocka_unit_test(test_seal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
