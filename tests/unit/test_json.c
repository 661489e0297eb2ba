/* test_json.c - unit tests for shared/json.c.
 *
 * Covers escaping of quotes, backslashes and every control character, valid
 * UTF-8 of each length passed through, each kind of invalid UTF-8 (stray
 * continuation bytes, truncated sequences, overlong forms, UTF-16 surrogates,
 * code points past U+10FFFF, bytes 0xF5-0xFF) turned into U+FFFD one byte at a
 * time, embedded NULs, and numbers (NaN and infinities written as 0). */
#include "json.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* json_str over n bytes of s, compared with the expected JSON text. */
static void str_is(const char *s, size_t n, const char *want)
{
    buf_t b = {0};
    json_str(&b, s, n);
    if (strcmp(b.data, want) != 0)
        fail_msg("json_str gave %s, expected %s", b.data, want);
    assert_int_equal(b.len, strlen(want));
    buf_free(&b);
}

#define STR_IS(lit, want) str_is(lit, sizeof(lit) - 1, want)

static void test_plain_and_empty(void **state)
{
    STR_IS("", "\"\"");
    STR_IS("hello world", "\"hello world\"");
    STR_IS("a/b~{}[]:,'", "\"a/b~{}[]:,'\"");
    STR_IS("\x7f", "\"\x7f\""); /* DEL needs no escape in JSON */
}

static void test_escapes(void **state)
{
    STR_IS("say \"hi\"", "\"say \\\"hi\\\"\"");
    STR_IS("C:\\dir\\", "\"C:\\\\dir\\\\\"");
    STR_IS("a\nb\rc\td", "\"a\\nb\\rc\\td\"");
    STR_IS("\x01\x08\x0b\x0c\x1f", "\"\\u0001\\u0008\\u000b\\u000c\\u001f\"");
    STR_IS("\x1b[0m", "\"\\u001b[0m\"");
    /* C1 controls and U+2028/U+2029 are line breaks to some readers (Python's
     * splitlines, JavaScript): escaped, so one result stays one line */
    STR_IS("a\xc2\x85"
           "b\xc2\x93"
           "c",
           "\"a\\u0085b\\u0093c\"");
    STR_IS("x\xe2\x80\xa8"
           "y\xe2\x80\xa9"
           "z",
           "\"x\\u2028y\\u2029z\"");
    STR_IS("\xc2\xa0\xe2\x80\x99", "\"\xc2\xa0\xe2\x80\x99\""); /* NBSP, quote: as is */
}

static void test_every_control_char(void **state)
{
    for (int c = 0; c < 0x20; c++) {
        char in = (char)c, want[16];
        if (c == '\n')
            snprintf(want, sizeof want, "\"\\n\"");
        else if (c == '\r')
            snprintf(want, sizeof want, "\"\\r\"");
        else if (c == '\t')
            snprintf(want, sizeof want, "\"\\t\"");
        else
            snprintf(want, sizeof want, "\"\\u%04x\"", c);
        str_is(&in, 1, want);
    }
}

static void test_embedded_nul(void **state)
{
    STR_IS("a\0b", "\"a\\u0000b\"");
}

static void test_valid_utf8(void **state)
{
    STR_IS("caf\xc3\xa9", "\"caf\xc3\xa9\""); /* U+00E9, 2 bytes */
    STR_IS("\xc2\xa0", "\"\xc2\xa0\""); /* U+00A0, the first after the C1 controls */
    STR_IS("\xc2\x80", "\"\\u0080\""); /* U+0080, smallest 2: a C1 control, escaped */
    STR_IS("\xdf\xbf", "\"\xdf\xbf\""); /* U+07FF */
    STR_IS("\xe0\xa0\x80", "\"\xe0\xa0\x80\""); /* U+0800, smallest 3 */
    STR_IS("\xe2\x82\xac", "\"\xe2\x82\xac\""); /* U+20AC euro */
    STR_IS("\xed\x9f\xbf", "\"\xed\x9f\xbf\""); /* U+D7FF, before surrogates */
    STR_IS("\xee\x80\x80", "\"\xee\x80\x80\""); /* U+E000, after them */
    STR_IS("\xef\xbf\xbf", "\"\xef\xbf\xbf\""); /* U+FFFF */
    STR_IS("\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\""); /* U+10000, smallest 4 */
    STR_IS("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""); /* U+1F600 */
    STR_IS("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF, the last */
    STR_IS("\"\xc3\xa9\"\n", "\"\\\"\xc3\xa9\\\"\\n\"");
}

static void test_invalid_utf8(void **state)
{
    /* A lone continuation byte, and several. */
    STR_IS("\x80", "\"\\ufffd\"");
    STR_IS("a\xbf\xbf"
           "b",
           "\"a\\ufffd\\ufffdb\"");
    /* Lead bytes that never start a sequence. */
    STR_IS("\xc0\xaf", "\"\\ufffd\\ufffd\""); /* C0: always overlong */
    STR_IS("\xc1\xbf", "\"\\ufffd\\ufffd\"");
    STR_IS("\xf5\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    STR_IS("\xfe", "\"\\ufffd\"");
    STR_IS("\xff", "\"\\ufffd\"");
    /* Truncated: the sequence ends before its last byte, at the end or before ASCII. */
    STR_IS("\xe2\x82", "\"\\ufffd\\ufffd\"");
    STR_IS("\xe2\x82z", "\"\\ufffd\\ufffdz\"");
    STR_IS("\xf0\x9f\x98", "\"\\ufffd\\ufffd\\ufffd\"");
    STR_IS("\xc3", "\"\\ufffd\"");
    /* A lead byte followed by another lead byte: the second is read afresh. */
    STR_IS("\xc3\xc3\xa9", "\"\\ufffd\xc3\xa9\"");
}

static void test_overlong_and_out_of_range(void **state)
{
    /* Overlong forms of '/' and of U+07FF, U+FFFF. */
    STR_IS("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");
    STR_IS("\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    STR_IS("\xe0\x9f\xbf", "\"\\ufffd\\ufffd\\ufffd\"");
    STR_IS("\xf0\x8f\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    /* UTF-16 surrogates encoded as UTF-8 (CESU-8): U+D800, U+DBFF, U+DFFF. */
    STR_IS("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
    STR_IS("\xed\xaf\xbf", "\"\\ufffd\\ufffd\\ufffd\"");
    STR_IS("\xed\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\"");
    /* Past U+10FFFF. */
    STR_IS("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

static void test_length_not_terminator(void **state)
{
    /* Only n bytes are read, whatever follows. */
    str_is("abcdef", 3, "\"abc\"");
    /* A multi-byte sequence cut by n is invalid even though the bytes exist. */
    str_is("\xc3\xa9", 1, "\"\\ufffd\"");
}

static void test_cstr_and_append(void **state)
{
    buf_t b = {0};
    buf_puts(&b, "{\"k\":");
    json_cstr(&b, "v\"1");
    buf_puts(&b, ",\"n\":");
    json_cstr(&b, NULL); /* NULL is written as the empty string */
    buf_puts(&b, "}");
    assert_string_equal(b.data, "{\"k\":\"v\\\"1\",\"n\":\"\"}");
    buf_free(&b);
}

static void num_is(double d, const char *want)
{
    buf_t b = {0};
    json_num(&b, d);
    if (strcmp(b.data, want) != 0)
        fail_msg("json_num(%.17g) gave %s, expected %s", d, b.data, want);
    buf_free(&b);
}

static void test_numbers(void **state)
{
    num_is(0, "0");
    num_is(1, "1");
    num_is(-2.5, "-2.5");
    num_is(15, "15");
    num_is(0.1, "0.1");
    num_is(1.0 / 3.0, "0.333333");
    num_is(123456, "123456");
    num_is(1234567, "1.23457e+06");
    num_is(1e-7, "1e-07");
    num_is(NAN, "0");
    num_is(-NAN, "0");
    num_is(INFINITY, "0");
    num_is(-INFINITY, "0");
}

static void test_utf8_scrub(void **state)
{
    (void)state;
    char ok[] = "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80";
    char copy[sizeof ok];
    memcpy(copy, ok, sizeof ok);
    utf8_scrub(copy);
    assert_string_equal(copy, ok); /* valid text is left alone */
    char bad[] = "a\xff"
                 "b\xc3(c\xe2\x82"
                 "d\xed\xa0\x80"
                 "e\xc0\xafz\xc3";
    utf8_scrub(bad);
    assert_string_equal(bad, "a?b?(c??d???e??z?");
}

/* ---- the stored symbol list ---- */

static json_symbol *parse_ok(const char *text, size_t *n)
{
    json_symbol *v = NULL;
    if (!json_symbols_parse(text, strlen(text), &v, n))
        fail_msg("refused: %s", text);
    return v;
}

static void test_symbols_round_trip(void **state)
{
    json_symbol in[] = {
        {"GTUBE", "GTUBE test string in body", 12},
        {"ODD", "quote \" back\\slash\n\x01 gr\xc3\xbc\xc3\x9f \xf0\x9f\x98\x80", -0.5},
        {"", "", 0}};
    buf_t b = {0};
    json_symbols_write(&b, in, 3);
    size_t n;
    json_symbol *out = parse_ok(b.data, &n);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(out[i].name, in[i].name);
        assert_string_equal(out[i].detail, in[i].detail);
        assert_true(out[i].score == in[i].score);
    }
    json_symbols_free(&out, n);
    assert_null(out);
    buf_free(&b);
    buf_puts(&b, "");
    json_symbols_write(&b, NULL, 0);
    assert_string_equal(b.data, "[]");
    out = parse_ok(b.data, &n);
    assert_int_equal(n, 0);
    json_symbols_free(&out, n);
    buf_free(&b);
}

static void test_symbols_lenient_shape(void **state)
{
    size_t n;
    json_symbol *v = parse_ok(" [ {\"score\" : 1e1 , \"extra\": \"x\", \"n\": 3,"
                              " \"name\":\"A\\u00e9\\ud83d\\ude00\\/\"} ,{}]\n",
                              &n);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "A\xc3\xa9\xf0\x9f\x98\x80/");
    assert_string_equal(v[0].detail, "");
    assert_true(v[0].score == 10);
    assert_string_equal(v[1].name, "");
    json_symbols_free(&v, n);
    v = parse_ok("[{\"name\":\"lone \\ud800 surrogate\"}]", &n);
    assert_string_equal(v[0].name, "lone \xef\xbf\xbd surrogate");
    json_symbols_free(&v, n);
}

static void test_symbols_refused(void **state)
{
    const char *bad[] = {"",
                         "[",
                         "]",
                         "{}",
                         "[{]",
                         "[{}",
                         "[{},]",
                         "[,{}]",
                         "[{}] x",
                         "[{\"name\":1}]",
                         "[{\"score\":\"1\"}]",
                         "[{\"score\":}]",
                         "[{\"score\":1e999}]",
                         "[{\"score\":nan}]",
                         "[{\"name\":\"a}]",
                         "[{\"name\":\"\\q\"}]",
                         "[{\"name\":\"\\u12\"}]",
                         "[{\"name\":\"tab\there\"}]",
                         "[{\"name\" \"a\"}]",
                         "[{\"extra\":[1]}]",
                         "[{\"extra\":true}]",
                         "[{name:\"a\"}]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_symbol *v = (json_symbol *)1;
        size_t n = 9;
        if (json_symbols_parse(bad[i], strlen(bad[i]), &v, &n))
            fail_msg("accepted: %s", bad[i]);
        assert_null(v);
        assert_int_equal(n, 0);
    }
    /* The length is the end, not a NUL. */
    json_symbol *v;
    size_t n;
    assert_false(json_symbols_parse("[{}]", 3, &v, &n));
    assert_true(json_symbols_parse("[{}]xyz", 4, &v, &n));
    json_symbols_free(&v, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_empty),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_every_control_char),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_valid_utf8),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_overlong_and_out_of_range),
        cmocka_unit_test(test_length_not_terminator),
        cmocka_unit_test(test_cstr_and_append),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_utf8_scrub),
        cmocka_unit_test(test_symbols_round_trip),
        cmocka_unit_test(test_symbols_lenient_shape),
        cmocka_unit_test(test_symbols_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
