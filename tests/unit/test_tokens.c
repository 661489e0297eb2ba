/* test_tokens.c - unit tests for node/tokens.c (the Bayes tokenizer).
 *
 * Covered: the hash is stable (FNV-1a 64 + fmix64 known value) and pairs are
 * asymmetric and distance-aware; words are lower-cased Unicode letters/digits of
 * 2..40 code points, pure numbers and single letters skipped, long runs folded to
 * LONG:len/prefix; OSB pairs over a window of 5 (exact token list for three words,
 * count for a long run); the result is sorted and distinct (repeated words count
 * once); Subject words with "S:", header features (F:, FN:, R:, M:, I:, L:, HN:,
 * RH:, H:rcvd:, CT:), URL
 * registrable domains (U:) and attachment types (A:); the max_tokens bound; a
 * message with nothing in it; a huge text in bounded size. */
#include "hdr.h"
#include "message.h"
#include "tokens.h"
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static uint64_t h(const char *s)
{
    return tok_hash(s, strlen(s));
}

static bool has(const uint64_t *v, size_t n, uint64_t t)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == t)
            return true;
    return false;
}

typedef struct {
    uint64_t *v;
    size_t n, cap;
} toks;

static toks words(const char *s, bool osb)
{
    toks t = {0};
    tok_words(s, strlen(s), "", osb, &t.v, &t.n, &t.cap);
    return t;
}

static uint64_t *extract(const char *raw, size_t max, size_t *n)
{
    msg_model *m = msg_parse((const uint8_t *)raw, strlen(raw));
    hdr_block *hb = hdr_parse(raw, strlen(raw));
    uint64_t *v = tok_extract(m, hb, max, n);
    hdr_destroy(&hb);
    msg_destroy(&m);
    return v;
}

static void test_hash(void **state)
{
    (void)state;
    assert_int_equal(h("viagra"), tok_hash("viagra", 6));
    assert_true(h("viagra") != h("Viagra"));
    assert_true(h("") != 0);
    uint64_t a = h("free"), b = h("money");
    assert_true(tok_pair(a, b, 1) != tok_pair(b, a, 1));
    assert_true(tok_pair(a, b, 1) != tok_pair(a, b, 2));
    assert_int_equal(tok_pair(a, b, 3), tok_pair(a, b, 3));
}

static void test_words(void **state)
{
    (void)state;
    toks t = words("Hello, WORLD! a 12345 a1 x2y-z 3.14", false);
    /* hello world a1 x2y ; "a", "z", numbers skipped */
    assert_int_equal(t.n, 4);
    assert_true(has(t.v, t.n, h("hello")));
    assert_true(has(t.v, t.n, h("world")));
    assert_true(has(t.v, t.n, h("a1")));
    assert_true(has(t.v, t.n, h("x2y")));
    free(t.v);

    t = words("Grüße ΚΑΛΗΜΕΡΑ Москва 東京", false);
    assert_int_equal(t.n, 4);
    assert_true(has(t.v, t.n, h("grüße")));
    assert_true(has(t.v, t.n, h("καλημερα")));
    assert_true(has(t.v, t.n, h("москва")));
    assert_true(has(t.v, t.n, h("東京")));
    free(t.v);

    char longw[64];
    memset(longw, 'q', 50);
    longw[50] = '\0';
    t = words(longw, false);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.v[0], h("LONG:50/qqqqqq"));
    free(t.v);

    char w40[41];
    memset(w40, 'r', 40);
    w40[40] = '\0';
    t = words(w40, false);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.v[0], h(w40));
    free(t.v);

    t = words("\xff\xfe bad \xc3 utf8", false); /* invalid bytes separate words */
    assert_true(has(t.v, t.n, h("bad")));
    assert_true(has(t.v, t.n, h("utf8")));
    free(t.v);

    t = (toks){0};
    tok_words("Cheap pills", 11, "S:", false, &t.v, &t.n, &t.cap);
    assert_int_equal(t.n, 2);
    assert_true(has(t.v, t.n, h("S:cheap")));
    assert_true(has(t.v, t.n, h("S:pills")));
    free(t.v);
}

static void test_osb(void **state)
{
    (void)state;
    toks t = words("aa bb cc", true);
    uint64_t a = h("aa"), b = h("bb"), c = h("cc");
    assert_int_equal(t.n, 6);
    assert_true(has(t.v, t.n, a));
    assert_true(has(t.v, t.n, b));
    assert_true(has(t.v, t.n, c));
    assert_true(has(t.v, t.n, tok_pair(a, b, 1)));
    assert_true(has(t.v, t.n, tok_pair(b, c, 1)));
    assert_true(has(t.v, t.n, tok_pair(a, c, 2)));
    assert_false(has(t.v, t.n, tok_pair(b, a, 1)));
    free(t.v);

    /* 10 words: 10 unigrams + pairs 0+1+2+3+4*6 = 30 */
    t = words("w0 w1 w2 w3 w4 w5 w6 w7 w8 w9", true);
    assert_int_equal(t.n, 40);
    assert_true(has(t.v, t.n, tok_pair(h("w2"), h("w6"), 4)));
    assert_false(has(t.v, t.n, tok_pair(h("w1"), h("w6"), 5)));
    free(t.v);
}

static void test_extract(void **state)
{
    (void)state;
    const char *raw = "Received: from mx.sender.example.net (mx.sender.example.net "
                      "[192.0.2.1]) by mail.example.org\r\n"
                      "From: Alice <alice@Mail.Example.COM>\r\n"
                      "Reply-To: bob@other.example.org\r\n"
                      "To: x@y.test\r\n"
                      "Subject: =?UTF-8?B?R3LDvMOfZQ==?= offer\r\n"
                      "X-Mailer: Mailer 4.2\r\n"
                      "List-Id: <news.example.com>\r\n"
                      "Message-ID: <123@mx.example.com>\r\n"
                      "MIME-Version: 1.0\r\n"
                      "Content-Type: multipart/mixed; boundary=b\r\n"
                      "\r\n"
                      "--b\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n"
                      "\r\n"
                      "Visit http://www.shop.example.co.uk/x now now now\r\n"
                      "--b\r\n"
                      "Content-Type: application/octet-stream\r\n"
                      "Content-Disposition: attachment; filename=a.zip\r\n"
                      "Content-Transfer-Encoding: base64\r\n"
                      "\r\n"
                      "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==\r\n"
                      "--b--\r\n";
    size_t n;
    uint64_t *v = extract(raw, 0, &n);
    assert_non_null(v);
    for (size_t i = 1; i < n; i++)
        assert_true(v[i - 1] < v[i]); /* sorted, distinct */
    assert_true(has(v, n, h("S:grüße")));
    assert_true(has(v, n, h("S:offer")));
    assert_true(has(v, n, h("F:mail.example.com")));
    assert_true(has(v, n, h("R:other.example.org")));
    assert_true(has(v, n, h("M:mailer #.#")));
    assert_true(has(v, n, h("I:mx.example.com")));
    assert_true(has(v, n, h("L:list")));
    assert_true(has(v, n, h("FN:alice")));
    assert_true(has(v, n, h("HN:x-mailer")));
    assert_true(has(v, n, h("HN:received")));
    assert_true(has(v, n, h("RH:example.net")));
    assert_true(has(v, n, h("RH:example.org")));
    assert_true(has(v, n, h("H:rcvd:name")));
    assert_true(has(v, n, h("CT:text/plain")));
    assert_true(has(v, n, h("U:example.co.uk")));
    assert_true(has(v, n, h("A:application/zip")));
    assert_true(has(v, n, h("visit")));
    assert_true(has(v, n, h("now")));
    assert_true(has(v, n, tok_pair(h("now"), h("now"), 1)));
    free(v);

    v = extract(raw, 5, &n);
    assert_int_equal(n, 5);
    free(v);
}

static void test_empty_and_huge(void **state)
{
    (void)state;
    size_t n = 99;
    uint64_t *v = tok_extract(NULL, NULL, 0, &n);
    assert_null(v);
    assert_int_equal(n, 0);

    buf_t b = {0};
    buf_puts(&b, "Subject: big\r\n\r\n");
    for (int i = 0; i < 200000; i++)
        buf_printf(&b, "word%d ", i);
    buf_append(&b, "", 1);
    v = extract(b.data, 0, &n);
    assert_true(n <= TOK_MAX_DEFAULT);
    assert_true(n > 1000);
    free(v);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_osb),
        cmocka_unit_test(test_extract),
        cmocka_unit_test(test_empty_and_huge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
