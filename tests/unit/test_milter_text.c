/* test_milter_text.c - unit tests for node/milter_text.c.
 *
 * Header reconstruction (leading space kept, folded lines and bare CR/LF turned
 * into CRLF, the space put back without SMFIP_HDR_LEADSPC), reply sanitising
 * (control bytes, CR/LF injection, '%' doubling, length cap, fallback, tiny
 * buffers), header values (control bytes, UTF-8-safe cut), header names,
 * Subject prefixing, and the Postfix-to-libmilter socket notation. */
#include "milter_text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_append_header(void **state)
{
    buf_t b = {0};
    milter_append_header(&b, "Subject", " hello", true);
    milter_append_header(&b, "X-Folded", " a\n\tb\r\n c", true);
    milter_append_header(&b, "X-Tight", "v", true);
    milter_append_header(&b, "X-Cr", " a\rb", true);
    assert_string_equal(b.data, "Subject: hello\r\nX-Folded: a\r\n\tb\r\n c\r\nX-Tight:v\r\n"
                                "X-Cr: a\r\nb\r\n");
    buf_free(&b);
    milter_append_header(&b, "Subject", "hello", false);
    assert_string_equal(b.data, "Subject: hello\r\n");
    buf_free(&b);
}

static void test_reply_text(void **state)
{
    char out[2 * MILTER_REPLY_MAX + 1];
    milter_reply_text("  spam\r\n250 ok\ttoo  ", "x", out, sizeof out);
    assert_string_equal(out, "spam 250 ok too");
    milter_reply_text("100% sure\x01\xff", "x", out, sizeof out);
    assert_string_equal(out, "100%% sure??");
    milter_reply_text("", "fallback text", out, sizeof out);
    assert_string_equal(out, "fallback text");
    milter_reply_text(NULL, "fb", out, sizeof out);
    assert_string_equal(out, "fb");
    char big[1000];
    memset(big, '%', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    milter_reply_text(big, NULL, out, sizeof out);
    assert_int_equal(strlen(out), 2 * MILTER_REPLY_MAX);
    char tiny[4];
    milter_reply_text("%%%%", NULL, tiny, sizeof tiny);
    assert_string_equal(tiny, "%%"); /* never half an escape */
    milter_reply_text("abcdef", NULL, tiny, sizeof tiny);
    assert_string_equal(tiny, "abc");
}

static void test_header_value(void **state)
{
    char *v = milter_header_value("a\r\nX-Evil: 1\tb\x7f", true);
    assert_string_equal(v, " a  X-Evil: 1 b ");
    free(v);
    char big[MILTER_VALUE_MAX + 10];
    memset(big, 'a', sizeof big);
    memcpy(big + MILTER_VALUE_MAX - 1, "\xc3\xa9", 2); /* é across the cut */
    big[sizeof big - 1] = '\0';
    v = milter_header_value(big, false);
    assert_int_equal(strlen(v), MILTER_VALUE_MAX - 1);
    free(v);
    assert_true(milter_header_name_ok("X-Bulwark-Id"));
    assert_false(milter_header_name_ok(""));
    assert_false(milter_header_name_ok("X Bad"));
    assert_false(milter_header_name_ok("X:Bad"));
}

/* DKIM-Signature keeps its folding (bare LF + white space, as libmilter wants it);
 * a line break that is not folding cannot start a new header field. */
static void test_folded_value(void **state)
{
    char *v = milter_folded_value(" v=1; a=rsa-sha256;\r\n\tb=abc\r\n def", false);
    assert_string_equal(v, "v=1; a=rsa-sha256;\n\tb=abc\n def");
    free(v);
    v = milter_folded_value("v=1;\r\nX-Evil: 1\n\tok\r\x01", true);
    assert_string_equal(v, " v=1; X-Evil: 1\n\tok  ");
    free(v);
    char big[MILTER_FOLDED_MAX + 2];
    memset(big, 'a', sizeof big);
    big[sizeof big - 1] = '\0';
    assert_null(milter_folded_value(big, false));
    big[MILTER_FOLDED_MAX] = '\0';
    v = milter_folded_value(big, false);
    assert_int_equal(strlen(v), MILTER_FOLDED_MAX);
    free(v);
}

static void test_subject(void **state)
{
    char *v = milter_subject("[SPAM] ", " cheap watches", true);
    assert_string_equal(v, " [SPAM] cheap watches");
    free(v);
    v = milter_subject("[SPAM]", "cheap", false);
    assert_string_equal(v, "[SPAM] cheap");
    free(v);
    v = milter_subject("[SPAM] ", NULL, true);
    assert_string_equal(v, " [SPAM] ");
    free(v);
    assert_null(milter_subject("[SPAM] ", " [SPAM] again", true));
    assert_null(milter_subject("", " x", true));
}

static void test_conn_spec(void **state)
{
    char out[128];
    assert_true(milter_conn_spec("inet:127.0.0.1:7410", out, sizeof out));
    assert_string_equal(out, "inet:7410@127.0.0.1");
    assert_true(milter_conn_spec("inet6:::1:7410", out, sizeof out));
    assert_string_equal(out, "inet6:7410@::1");
    assert_true(milter_conn_spec("unix:/run/bulwark/milter.sock", out, sizeof out));
    assert_string_equal(out, "unix:/run/bulwark/milter.sock");
    assert_true(milter_conn_spec("inet:7410@localhost", out, sizeof out));
    assert_string_equal(out, "inet:7410@localhost");
    assert_false(milter_conn_spec("inet:7410", out, sizeof out));
    assert_false(milter_conn_spec("inet:host:", out, sizeof out));
    assert_false(milter_conn_spec("nonsense", out, sizeof out));
    assert_false(milter_conn_spec("unix:", out, sizeof out));
    assert_false(milter_conn_spec("inet:127.0.0.1:7410", out, 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_header), cmocka_unit_test(test_reply_text),
        cmocka_unit_test(test_header_value),  cmocka_unit_test(test_subject),
        cmocka_unit_test(test_conn_spec),     cmocka_unit_test(test_folded_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
