/* test_tokens.c - unit tests for node/tokens.c (the Bayes tokenizer).
 *
 * Covered: the hash is stable (FNV-1a 64 + fmix64 known values: learned counts depend
 * on it); words are lower-cased Unicode letters/digits of 2..40 code points, pure
 * numbers and single letters skipped, long runs folded to LONG:len/prefix; single
 * words only with OSB window 0 or 1 (exact token list for a text); OSB pairs: the
 * count per window, the exact list, distance and order in the pair hash, its fixed
 * value, Subject pairs but no display-name pairs, a window above 5 taken as 5; the
 * result is sorted and distinct (repeated words count once); Subject words with
 * "S:", header features (F:, FN:, R:, M:, I:, L:, HN:, RH:, H:rcvd:, CT:, CS:), the
 * shapes IL:, D:, FL: and CTE:, TO: counts, URL registrable domains (U:), hosts
 * (UH:), scheme and path pieces (UP:) and attachment types (A:); the max_tokens
 * bound keeping the smallest hashes; a message with nothing in it; a huge text in
 * bounded size. */
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

static toks words(const char *s)
{
    toks t = {0};
    tok_words(s, strlen(s), "", 0, &t.v, &t.n, &t.cap);
    return t;
}

static toks words_osb(const char *s, unsigned window)
{
    toks t = {0};
    tok_words(s, strlen(s), "", window, &t.v, &t.n, &t.cap);
    return t;
}

static uint64_t *extract_osb(const char *raw, size_t max, unsigned window, size_t *n)
{
    msg_model *m = msg_parse((const uint8_t *)raw, strlen(raw));
    hdr_block *hb = hdr_parse(raw, strlen(raw));
    uint64_t *v = tok_extract(m, hb, max, window, n);
    hdr_destroy(&hb);
    msg_destroy(&m);
    return v;
}

static uint64_t *extract(const char *raw, size_t max, size_t *n)
{
    msg_model *m = msg_parse((const uint8_t *)raw, strlen(raw));
    hdr_block *hb = hdr_parse(raw, strlen(raw));
    uint64_t *v = tok_extract(m, hb, max, 0, n);
    hdr_destroy(&hb);
    msg_destroy(&m);
    return v;
}

static void test_hash(void **state)
{
    (void)state;
    assert_int_equal(h("viagra"), tok_hash("viagra", 6));
    assert_true(h("viagra") != h("Viagra"));
    /* Fixed values: a changed hash would silently orphan every learned count. */
    assert_true(h("viagra") == 0x133f6799f5817800ULL);
    assert_true(h("") == 0xefd01f60ba992926ULL);
}

static void test_words(void **state)
{
    (void)state;
    toks t = words("Hello, WORLD! a 12345 a1 x2y-z 3.14");
    /* hello world a1 x2y ; "a", "z", numbers skipped */
    assert_int_equal(t.n, 4);
    assert_true(has(t.v, t.n, h("hello")));
    assert_true(has(t.v, t.n, h("world")));
    assert_true(has(t.v, t.n, h("a1")));
    assert_true(has(t.v, t.n, h("x2y")));
    free(t.v);

    t = words("Grüße ΚΑΛΗΜΕΡΑ Москва 東京");
    assert_int_equal(t.n, 4);
    assert_true(has(t.v, t.n, h("grüße")));
    assert_true(has(t.v, t.n, h("καλημερα")));
    assert_true(has(t.v, t.n, h("москва")));
    assert_true(has(t.v, t.n, h("東京")));
    free(t.v);

    char longw[64];
    memset(longw, 'q', 50);
    longw[50] = '\0';
    t = words(longw);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.v[0], h("LONG:50/qqqqqq"));
    free(t.v);

    char w40[41];
    memset(w40, 'r', 40);
    w40[40] = '\0';
    t = words(w40);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.v[0], h(w40));
    free(t.v);

    t = words("\xff\xfe bad \xc3 utf8"); /* invalid bytes separate words */
    assert_true(has(t.v, t.n, h("bad")));
    assert_true(has(t.v, t.n, h("utf8")));
    free(t.v);

    t = (toks){0};
    tok_words("Cheap pills", 11, "S:", 0, &t.v, &t.n, &t.cap);
    assert_int_equal(t.n, 2);
    assert_true(has(t.v, t.n, h("S:cheap")));
    assert_true(has(t.v, t.n, h("S:pills")));
    free(t.v);
}

static void test_single_words(void **state)
{
    (void)state;
    /* OSB window 0 (the default) or 1: each word once, no pairs. */
    toks t = words("aa bb cc aa");
    assert_int_equal(t.n, 4);
    assert_true(t.v[0] == h("aa") && t.v[1] == h("bb") && t.v[2] == h("cc") && t.v[3] == h("aa"));
    free(t.v);
    t = words_osb("aa bb cc aa", 1);
    assert_int_equal(t.n, 4);
    free(t.v);
}

static void test_osb_pairs(void **state)
{
    (void)state;
    /* Five words: window w adds, for the k-th word, min(k, w-1) pairs. */
    const char *text = "aa bb cc dd ee";
    static const struct {
        unsigned window;
        size_t n;
    } want[] = {{0, 5},
                {1, 5},
                {2, 5 + 4},
                {3, 5 + 4 + 3},
                {4, 5 + 4 + 3 + 2},
                {5, 5 + 4 + 3 + 2 + 1},
                {9, 5 + 4 + 3 + 2 + 1}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        toks t = words_osb(text, want[i].window);
        assert_int_equal(t.n, want[i].n);
        free(t.v);
    }

    /* The exact list for window 3: each word, then its pairs with the two before. */
    uint64_t aa = h("aa"), bb = h("bb"), cc = h("cc");
    toks t = words_osb("aa bb cc", 3);
    assert_int_equal(t.n, 6);
    assert_true(t.v[0] == aa && t.v[1] == bb && t.v[2] == tok_pair(aa, bb, 1));
    assert_true(t.v[3] == cc && t.v[4] == tok_pair(bb, cc, 1) && t.v[5] == tok_pair(aa, cc, 2));
    free(t.v);

    /* The distance and the order are part of the pair: "aa xx bb" is not "aa bb". */
    assert_true(tok_pair(aa, bb, 1) != tok_pair(aa, bb, 2));
    assert_true(tok_pair(aa, bb, 1) != tok_pair(bb, aa, 1));
    t = words_osb("aa xx bb", 3);
    assert_true(has(t.v, t.n, tok_pair(aa, bb, 2)));
    assert_false(has(t.v, t.n, tok_pair(aa, bb, 1)));
    free(t.v);
    t = words_osb("aa bb", 3);
    assert_true(has(t.v, t.n, tok_pair(aa, bb, 1)));
    assert_false(has(t.v, t.n, tok_pair(aa, bb, 2)));
    free(t.v);
    /* Window 2 pairs neighbours only. */
    t = words_osb("aa xx bb", 2);
    assert_false(has(t.v, t.n, tok_pair(aa, bb, 2)));
    assert_int_equal(t.n, 5);
    free(t.v);
    /* Skipped runs (numbers, single letters) are not words: pairs jump them. */
    t = words_osb("aa 123 b bb", 2);
    assert_int_equal(t.n, 3);
    assert_true(t.v[2] == tok_pair(aa, bb, 1));
    free(t.v);

    /* Fixed value: learned pair counts depend on it (the same function as scheme 1). */
    assert_true(tok_pair(h("viagra"), h(""), 1) == 0xdb32e89a7d2a8da7ULL);

    /* A prefixed text pairs its prefixed words: Subject pairs differ from body pairs. */
    t = (toks){0};
    tok_words("Cheap pills", 11, "S:", 2, &t.v, &t.n, &t.cap);
    assert_int_equal(t.n, 3);
    assert_true(t.v[2] == tok_pair(h("S:cheap"), h("S:pills"), 1));
    free(t.v);
}

static void test_extract_osb(void **state)
{
    (void)state;
    const char *raw = "From: Cheap Pills <a@b.test>\r\n"
                      "Subject: Buy cheap pills\r\n"
                      "\r\n"
                      "cheap pills here today\r\n";
    size_t n0, n2, n5, n9;
    uint64_t *v0 = extract_osb(raw, 0, 0, &n0);
    uint64_t *v2 = extract_osb(raw, 0, 2, &n2);
    uint64_t *v5 = extract_osb(raw, 0, 5, &n5);
    uint64_t *v9 = extract_osb(raw, 0, 9, &n9);
    /* Off: no pair at all. */
    assert_false(has(v0, n0, tok_pair(h("cheap"), h("pills"), 1)));
    assert_false(has(v0, n0, tok_pair(h("S:cheap"), h("S:pills"), 1)));
    /* Window 2: body pairs (3) and Subject pairs (2) on top of every single token;
     * no display-name pairs. */
    assert_int_equal(n2, n0 + 3 + 2);
    for (size_t i = 0; i < n0; i++)
        assert_true(has(v2, n2, v0[i]));
    assert_true(has(v2, n2, tok_pair(h("cheap"), h("pills"), 1)));
    assert_true(has(v2, n2, tok_pair(h("here"), h("today"), 1)));
    assert_true(has(v2, n2, tok_pair(h("S:buy"), h("S:cheap"), 1)));
    assert_false(has(v2, n2, tok_pair(h("FN:cheap"), h("FN:pills"), 1)));
    assert_false(has(v2, n2, tok_pair(h("cheap"), h("here"), 2)));
    /* Window 5: body 3+2+1, Subject 2+1; a wider window is taken as 5. */
    assert_int_equal(n5, n0 + 6 + 3);
    assert_true(has(v5, n5, tok_pair(h("cheap"), h("today"), 3)));
    assert_int_equal(n9, n5);
    assert_memory_equal(v9, v5, n5 * sizeof *v5);
    /* Deterministic, and the cap keeps the smallest hashes with pairs too. */
    size_t again, cut;
    uint64_t *va = extract_osb(raw, 0, 2, &again);
    uint64_t *vc = extract_osb(raw, 4, 2, &cut);
    assert_int_equal(again, n2);
    assert_memory_equal(va, v2, n2 * sizeof *v2);
    assert_int_equal(cut, 4);
    assert_memory_equal(vc, v2, 4 * sizeof *v2);
    free(v0);
    free(v2);
    free(v5);
    free(v9);
    free(va);
    free(vc);
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
                      "Message-ID: <20021001123456.GA1234@mx.example.com>\r\n"
                      "Date: Tue, 01 Oct 2002 12:34:56 +0100\r\n"
                      "MIME-Version: 1.0\r\n"
                      "Content-Type: multipart/mixed; boundary=b\r\n"
                      "\r\n"
                      "--b\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n"
                      "\r\n"
                      "Visit http://www.shop.example.co.uk/x/Remove.cgi?id=42 now now now\r\n"
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
    assert_true(has(v, n, h("CS:utf-8")));
    assert_true(has(v, n, h("IL:<#.a#")));
    assert_true(has(v, n, h("D:a, # a # #:#:# +#")));
    assert_true(has(v, n, h("FL:a")));
    assert_true(has(v, n, h("TO:1")));
    assert_false(has(v, n, h("D:(none)")));
    assert_true(has(v, n, h("UH:www.shop.example.co.uk")));
    assert_true(has(v, n, h("UP:proto:http")));
    assert_true(has(v, n, h("UP:remove")));
    assert_true(has(v, n, h("UP:cgi")));
    assert_true(has(v, n, h("UP:##")));
    assert_false(has(v, n, h("UP:x"))); /* pieces of one character are skipped */
    /* no pair tokens: every body token is a word of the text or a prefixed feature */
    size_t full = n;
    uint64_t first5[5];
    memcpy(first5, v, sizeof first5);
    free(v);

    /* The cap keeps the smallest hashes, so learning and scanning keep the same. */
    v = extract(raw, 5, &n);
    assert_int_equal(n, 5);
    assert_true(full > 5);
    assert_memory_equal(v, first5, sizeof first5);
    free(v);

    /* Without Date, Message-ID or To: the absence is a token. */
    v = extract("From: x@y.test\r\nSubject: s\r\n\r\nbody\r\n", 0, &n);
    assert_true(has(v, n, h("D:(none)")));
    assert_true(has(v, n, h("I:(missing)")));
    assert_true(has(v, n, h("TO:0")));
    assert_true(has(v, n, h("body")));
    free(v);
}

static void test_empty_and_huge(void **state)
{
    (void)state;
    size_t n = 99;
    uint64_t *v = tok_extract(NULL, NULL, 0, 0, &n);
    assert_null(v);
    assert_int_equal(n, 0);

    buf_t b = {0};
    buf_puts(&b, "Subject: big\r\n\r\n");
    for (int i = 0; i < 200000; i++)
        buf_printf(&b, "word%d ", i);
    buf_append(&b, "", 1);
    v = extract(b.data, 0, &n);
    assert_int_equal(n, TOK_MAX_DEFAULT);
    free(v);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),           cmocka_unit_test(test_words),
        cmocka_unit_test(test_single_words),   cmocka_unit_test(test_osb_pairs),
        cmocka_unit_test(test_extract_osb),    cmocka_unit_test(test_extract),
        cmocka_unit_test(test_empty_and_huge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
