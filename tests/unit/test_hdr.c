/* test_hdr.c - unit tests for shared/hdr.c.
 *
 * hdr_parse: fields and unfolded values with CRLF and LF line ends, folding,
 * the obsolete "Name :" form, where the body starts (body_off), and each damage
 * flag (no separator, bad lines, NUL, 8-bit, lines over 998 octets, too many
 * fields, no fields) raised by the header block only, never by the body.
 * hdr_get/hdr_count match names case-insensitively. hdr_parse_date: RFC 5322
 * dates, obsolete forms (2/3-digit years, named and military zones, comments)
 * checked against exact time_t values, and impossible dates refused. */
#include "hdr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static hdr_block *parse(const char *s)
{
    return hdr_parse(s, strlen(s));
}

static void assert_field(const hdr_block *h, size_t i, const char *name, const char *value)
{
    assert_true(i < h->n);
    assert_string_equal(h->f[i].name, name);
    assert_string_equal(h->f[i].value, value);
}

/* ---- hdr_parse ----------------------------------------------------------------- */

static void test_simple_crlf(void **state)
{
    const char *m = "From: a@example.com\r\nTo: c@example.org\r\nSubject: hi there\r\n\r\nbody\r\n";
    hdr_block *h = parse(m);
    assert_int_equal(h->n, 3);
    assert_field(h, 0, "From", "a@example.com");
    assert_field(h, 1, "To", "c@example.org");
    assert_field(h, 2, "Subject", "hi there");
    assert_int_equal(h->flags, 0);
    assert_int_equal(h->body_off, strstr(m, "body") - m);
    hdr_destroy(&h);
    assert_null(h);
    hdr_destroy(&h); /* NULL: no-op */
}

static void test_simple_lf(void **state)
{
    const char *m = "From: a@example.com\nSubject: hi\n\nbody\n";
    hdr_block *h = parse(m);
    assert_int_equal(h->n, 2);
    assert_field(h, 0, "From", "a@example.com");
    assert_field(h, 1, "Subject", "hi");
    assert_int_equal(h->flags, 0);
    assert_int_equal(h->body_off, 33);
    assert_string_equal(m + h->body_off, "body\n");
    hdr_destroy(&h);
}

static void test_mixed_line_ends(void **state)
{
    const char *m = "A: b\n\r\nbody";
    hdr_block *h = parse(m);
    assert_int_equal(h->n, 1);
    assert_field(h, 0, "A", "b");
    assert_int_equal(h->body_off, 7);
    assert_int_equal(h->flags, 0);
    hdr_destroy(&h);
}

static void test_folding(void **state)
{
    const char *m = "Subject: one\r\n two\r\n\tthree\r\nX-Other: y\r\n  z  \r\n\r\nB";
    hdr_block *h = parse(m);
    assert_int_equal(h->n, 2);
    /* CRLF removed, the whitespace that starts each continuation line kept. */
    assert_field(h, 0, "Subject", "one two\tthree");
    assert_field(h, 1, "X-Other", "y  z");
    assert_int_equal(h->flags, 0);
    assert_string_equal(m + h->body_off, "B");
    hdr_destroy(&h);

    /* LF-only folding, and a continuation of only whitespace. */
    h = parse("Subject: a\n b\n \nTo: t\n\n");
    assert_field(h, 0, "Subject", "a b");
    assert_field(h, 1, "To", "t");
    hdr_destroy(&h);
}

static void test_value_whitespace_and_forms(void **state)
{
    const char *m = "X-A:   spaced   \r\n"
                    "X-Empty:\r\n"
                    "X-Tab:\tv\t\r\n"
                    "Subject : obsolete form\r\n"
                    "X-Colons: a:b:c\r\n"
                    "X-Stray: b\rc\r\n"
                    "\r\n";
    hdr_block *h = parse(m);
    assert_int_equal(h->n, 6);
    assert_field(h, 0, "X-A", "spaced");
    assert_field(h, 1, "X-Empty", "");
    assert_field(h, 2, "X-Tab", "v");
    assert_field(h, 3, "Subject", "obsolete form");
    assert_field(h, 4, "X-Colons", "a:b:c");
    assert_field(h, 5, "X-Stray", "bc"); /* a bare CR inside a value is dropped */
    assert_int_equal(h->flags, 0);
    hdr_destroy(&h);
}

static void test_no_separator(void **state)
{
    const char *m = "A: b\r\nC: d\r\n";
    hdr_block *h = parse(m);
    assert_int_equal(h->n, 2);
    assert_int_equal(h->flags, HDR_NO_SEPARATOR);
    assert_int_equal(h->body_off, strlen(m));
    hdr_destroy(&h);

    /* Last line without any line end. */
    h = parse("A: b\r\nC: d");
    assert_int_equal(h->n, 2);
    assert_field(h, 1, "C", "d");
    assert_int_equal(h->flags, HDR_NO_SEPARATOR);
    assert_int_equal(h->body_off, 10);
    hdr_destroy(&h);
}

static void test_separator_at_end(void **state)
{
    hdr_block *h = parse("A: b\r\n\r\n");
    assert_int_equal(h->flags, 0);
    assert_int_equal(h->body_off, 8);
    hdr_destroy(&h);
    /* A final CR with no LF is still an empty line. */
    h = parse("A: b\r\n\r");
    assert_int_equal(h->flags, 0);
    assert_int_equal(h->body_off, 7);
    hdr_destroy(&h);
}

static void test_bad_lines(void **state)
{
    hdr_block *h = parse("A: b\r\nnot a header\r\nC: d\r\n\r\n");
    assert_int_equal(h->n, 2);
    assert_field(h, 0, "A", "b");
    assert_field(h, 1, "C", "d");
    assert_int_equal(h->flags, HDR_BAD_LINE);
    hdr_destroy(&h);

    /* A continuation before any field. */
    h = parse(" orphan\r\nA: b\r\n\r\n");
    assert_int_equal(h->n, 1);
    assert_int_equal(h->flags, HDR_BAD_LINE);
    hdr_destroy(&h);

    /* Empty name, space inside the name, control character in the name. */
    static const char *bad[] = {": novalue\r\n\r\n", "Bad Name: x\r\n\r\n", "Bad\x01: x\r\n\r\n"};
    for (size_t i = 0; i < 3; i++) {
        h = parse(bad[i]);
        assert_int_equal(h->n, 0);
        assert_int_equal(h->flags, HDR_BAD_LINE | HDR_EMPTY);
        hdr_destroy(&h);
    }

    /* A continuation after a bad line belongs to nothing: not glued to the field
     * before the bad line. */
    h = parse("A: b\r\nbad\r\n cont\r\n\r\n");
    assert_int_equal(h->n, 1);
    assert_field(h, 0, "A", "b");
    assert_int_equal(h->flags, HDR_BAD_LINE);
    hdr_destroy(&h);
}

static void test_nul(void **state)
{
    static const char m[] = "A: b\0c\r\nD: e\r\n\r\nbody";
    hdr_block *h = hdr_parse(m, sizeof m - 1);
    assert_int_equal(h->n, 2);
    assert_field(h, 0, "A", "b"); /* the C string stops at the NUL */
    assert_field(h, 1, "D", "e");
    assert_int_equal(h->flags, HDR_NUL);
    assert_int_equal(h->body_off, 16);
    hdr_destroy(&h);

    /* NUL in the body only: the header block is clean. */
    static const char m2[] = "A: b\r\n\r\nbo\0dy";
    h = hdr_parse(m2, sizeof m2 - 1);
    assert_int_equal(h->flags, 0);
    hdr_destroy(&h);

    /* A NUL in the name makes the line a bad one too. */
    static const char m3[] = "A\0B: c\r\n\r\n";
    h = hdr_parse(m3, sizeof m3 - 1);
    assert_int_equal(h->n, 0);
    assert_int_equal(h->flags, HDR_NUL | HDR_BAD_LINE | HDR_EMPTY);
    hdr_destroy(&h);
}

static void test_8bit(void **state)
{
    hdr_block *h = parse("Subject: caf\xc3\xa9\r\n\r\nbody");
    assert_int_equal(h->flags, HDR_8BIT);
    assert_field(h, 0, "Subject", "caf\xc3\xa9"); /* bytes kept as they were */
    hdr_destroy(&h);

    h = parse("Subject: plain\r\n\r\nb\xff\xfe");
    assert_int_equal(h->flags, 0);
    hdr_destroy(&h);

    h = parse("Sub\xe9ject: x\r\n\r\n");
    assert_int_equal(h->n, 0);
    assert_int_equal(h->flags, HDR_8BIT | HDR_BAD_LINE | HDR_EMPTY);
    hdr_destroy(&h);
}

static void test_long_lines(void **state)
{
    char m[1100];
    /* "X: " + 995 = 998 octets before CRLF: the limit, allowed. */
    snprintf(m, sizeof m, "X: %s\r\n\r\n", "");
    memset(m + 3, 'a', 995);
    memcpy(m + 998, "\r\n\r\n", 5);
    hdr_block *h = parse(m);
    assert_int_equal(h->flags, 0);
    assert_int_equal(strlen(h->f[0].value), 995);
    hdr_destroy(&h);

    /* 999 octets. */
    memset(m + 3, 'a', 996);
    memcpy(m + 999, "\r\n\r\n", 5);
    h = parse(m);
    assert_int_equal(h->flags, HDR_LONG_LINE);
    assert_int_equal(h->n, 1);
    assert_int_equal(strlen(h->f[0].value), 996);
    hdr_destroy(&h);

    /* 998 octets with a bare LF is fine too (the CR is not counted either way). */
    memset(m + 3, 'a', 995);
    memcpy(m + 998, "\n\n", 3);
    h = parse(m);
    assert_int_equal(h->flags, 0);
    hdr_destroy(&h);

    /* A long line in the body is not a header problem. */
    char *body = malloc(5000);
    assert_non_null(body);
    memcpy(body, "A: b\r\n\r\n", 8);
    memset(body + 8, 'z', 4000);
    body[4008] = '\0';
    h = parse(body);
    assert_int_equal(h->flags, 0);
    hdr_destroy(&h);
    free(body);
}

static char *many_fields(size_t n)
{
    char *m = malloc(n * 8 + 16);
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += (size_t)sprintf(m + off, "X: %zu\n", i % 1000);
    strcpy(m + off, "\nbody");
    return m;
}

static void test_too_many_fields(void **state)
{
    char *m = many_fields(HDR_MAX_FIELDS);
    hdr_block *h = parse(m);
    assert_int_equal(h->n, HDR_MAX_FIELDS);
    assert_int_equal(h->flags, 0);
    hdr_destroy(&h);
    free(m);

    m = many_fields(HDR_MAX_FIELDS + 10);
    h = parse(m);
    assert_int_equal(h->n, HDR_MAX_FIELDS); /* the rest skipped */
    assert_int_equal(h->flags, HDR_TOO_MANY);
    assert_int_equal(hdr_count(h, "x"), HDR_MAX_FIELDS);
    assert_string_equal(m + h->body_off, "body"); /* but the body is still found */
    hdr_destroy(&h);
    free(m);
}

static void test_empty(void **state)
{
    hdr_block *h = hdr_parse("", 0);
    assert_int_equal(h->n, 0);
    assert_int_equal(h->flags, HDR_NO_SEPARATOR | HDR_EMPTY);
    assert_int_equal(h->body_off, 0);
    assert_null(hdr_get(h, "From"));
    assert_int_equal(hdr_count(h, "From"), 0);
    hdr_destroy(&h);

    /* Body only: separator first. */
    h = parse("\r\nbody");
    assert_int_equal(h->n, 0);
    assert_int_equal(h->flags, HDR_EMPTY);
    assert_int_equal(h->body_off, 2);
    hdr_destroy(&h);

    h = parse("\nbody");
    assert_int_equal(h->flags, HDR_EMPTY);
    assert_int_equal(h->body_off, 1);
    hdr_destroy(&h);

    /* Only a bad line. */
    h = parse("hello world");
    assert_int_equal(h->flags, HDR_NO_SEPARATOR | HDR_BAD_LINE | HDR_EMPTY);
    assert_int_equal(h->body_off, 11);
    hdr_destroy(&h);
}

static void test_get_and_count(void **state)
{
    hdr_block *h = parse("Received: 1\r\nreceived: 2\r\nFrom: f\r\nRECEIVED: 3\r\n\r\n");
    assert_int_equal(hdr_count(h, "Received"), 3);
    assert_int_equal(hdr_count(h, "rEcEiVeD"), 3);
    assert_string_equal(hdr_get(h, "RECEIVED"), "1"); /* the first one */
    assert_string_equal(hdr_get(h, "from"), "f");
    assert_null(hdr_get(h, "Fro"));
    assert_null(hdr_get(h, "From "));
    assert_int_equal(hdr_count(h, "To"), 0);
    hdr_destroy(&h);
}

/* ---- hdr_parse_date -------------------------------------------------------------- */

static void date_is(const char *s, long long want)
{
    time_t t = 0;
    if (!hdr_parse_date(s, &t))
        fail_msg("'%s' did not parse", s);
    if ((long long)t != want)
        fail_msg("'%s' -> %lld, expected %lld", s, (long long)t, want);
}

static void date_bad(const char *s)
{
    time_t t = 12345;
    if (hdr_parse_date(s, &t))
        fail_msg("'%s' parsed as %lld, expected refusal", s, (long long)t);
    assert_int_equal(t, 12345); /* untouched on failure */
}

static void test_dates_rfc5322(void **state)
{
    /* The examples of RFC 5322 appendix A. */
    date_is("Fri, 21 Nov 1997 09:55:06 -0600", 880127706);
    date_is("Tue, 1 Jul 2003 10:52:37 +0200", 1057049557);
    date_is("Thu, 13 Feb 1969 23:32:54 -0330", -27723426);
    date_is("Thu, 01 Jan 1970 00:00:00 +0000", 0);
    date_is("1 Jan 1970 00:00:00 -0000", 0);
    date_is("Thu, 29 Feb 2024 12:00:00 +0000", 1709208000);
    date_is("29 Feb 2000 00:00:00 +0000", 951782400); /* divisible by 400: leap */
    /* No day of week, no seconds, lower-case month. */
    date_is("21 nov 1997 09:55 +0000", 880106100);
    date_is("1 jan 2000 00:00:00 +0000", 946684800);
    /* Leap second. */
    date_is("31 Dec 2016 23:59:60 +0000", 1483228800);
    /* Extra whitespace and a trailing comment. */
    date_is("  Fri,  21   Nov  1997  09:55:06   -0600  (CST)  ", 880127706);
    date_is("Fri, 21 Nov 1997 09:55:06 -0600 (a (nested) comment)", 880127706);
    date_is("(lead) Fri, 21 Nov 1997 09:55:06 -0600", 880127706);
    /* No zone at all: taken as UTC. */
    date_is("21 Nov 1997 09:55:06", 880106106);
}

static void test_dates_obsolete(void **state)
{
    long long utc = 880106106; /* 21 Nov 1997 09:55:06 UTC */
    date_is("Fri, 21 Nov 1997 09:55:06 GMT", utc);
    date_is("Fri, 21 Nov 1997 09:55:06 UT", utc);
    date_is("Fri, 21 Nov 1997 09:55:06 Z", utc);
    date_is("Fri, 21 Nov 1997 09:55:06 gmt", utc);
    date_is("Fri, 21 Nov 1997 09:55:06 EST", utc + 5 * 3600);
    date_is("Fri, 21 Nov 1997 09:55:06 EDT", utc + 4 * 3600);
    date_is("Fri, 21 Nov 1997 09:55:06 CST", utc + 6 * 3600);
    date_is("Fri, 21 Nov 1997 09:55:06 CDT", utc + 5 * 3600);
    date_is("Fri, 21 Nov 1997 09:55:06 MST", utc + 7 * 3600);
    date_is("Fri, 21 Nov 1997 09:55:06 MDT", utc + 6 * 3600);
    date_is("Fri, 21 Nov 1997 09:55:06 PST", utc + 8 * 3600);
    date_is("Fri, 21 Nov 1997 09:55:06 PDT", utc + 7 * 3600);
    /* Military zones are treated as -0000 (RFC 5322 4.3). */
    date_is("Fri, 21 Nov 1997 09:55:06 A", utc);
    date_is("Fri, 21 Nov 1997 09:55:06 y", utc);
    /* Two-digit years: < 50 is 20xx, otherwise 19xx; three digits add 1900. */
    date_is("Fri, 21 Nov 97 09:55:06 GMT", utc);
    date_is("1 Jan 49 00:00 +0000", 2493072000LL);
    date_is("1 Jan 50 00:00 +0000", -631152000LL);
    date_is("1 Jan 00 00:00 +0000", 946684800);
    date_is("1 Jan 100 00:00 +0000", 946684800);
    /* A one-digit hour. */
    date_is("21 Nov 1997 9:55:06 +0000", utc);
    /* Zone offsets with minutes. */
    date_is("21 Nov 1997 09:55:06 +0545", utc - 5 * 3600 - 45 * 60);
    date_is("21 Nov 1997 09:55:06 -0959", utc + 9 * 3600 + 59 * 60);
}

static void test_dates_invalid(void **state)
{
    date_bad("");
    date_bad("   ");
    date_bad("garbage");
    date_bad("Fri 21 Nov 1997 09:55:06 -0600"); /* day of week without comma */
    date_bad("Fri, Nov 1997 09:55:06 -0600"); /* no day */
    date_bad("0 Nov 1997 09:55:06 -0600"); /* day 0 */
    date_bad("32 Nov 1997 09:55:06 -0600"); /* day 32 */
    date_bad("123 Nov 1997 09:55:06 -0600"); /* three-digit day */
    date_bad("21 Foo 1997 09:55:06 -0600"); /* no such month */
    date_bad("21 November 1997 09:55:06 -0600"); /* full month name */
    date_bad("21 Nov 1 09:55:06 -0600"); /* one-digit year */
    date_bad("21 Nov 19970 09:55:06 -0600"); /* five-digit year */
    date_bad("21 Nov 1997"); /* no time */
    date_bad("21 Nov 1997 09"); /* no minutes */
    date_bad("21 Nov 1997 09:5 +0000"); /* one-digit minutes */
    date_bad("21 Nov 1997 24:00:00 +0000"); /* hour 24 */
    date_bad("21 Nov 1997 09:60:00 +0000"); /* minute 60 */
    date_bad("21 Nov 1997 09:55:61 +0000"); /* second 61 */
    date_bad("21 Nov 1997 09:55:06 +0060"); /* zone minutes 60 */
    date_bad("21 Nov 1997 09:55:06 -0099");
    date_bad("21 Nov 1997 09:55:06 +060"); /* three-digit zone */
    date_bad("21 Nov 1997 09:55:06 +00000"); /* five-digit zone */
    date_bad("21 Nov 1997 09:55:06 UTC"); /* not an RFC 5322 zone */
    date_bad("21 Nov 1997 09:55:06 CEST");
    date_bad("21 Nov 1997 09:55:06 -0600 trailing"); /* text after the zone */
    date_bad("2024-02-29T12:00:00Z"); /* ISO 8601 is not RFC 5322 */
}

static void test_dates_impossible_day_of_month(void **state)
{
    /* Day numbers the month does not have are not dates, not silently the next
     * month's. */
    date_bad("31 Feb 2020 10:00:00 +0000");
    date_bad("30 Feb 2024 10:00:00 +0000");
    date_bad("29 Feb 2023 10:00:00 +0000"); /* not a leap year */
    date_bad("29 Feb 1900 10:00:00 +0000"); /* century: not a leap year */
    date_bad("31 Apr 2020 10:00:00 +0000");
    date_bad("31 Jun 2020 10:00:00 +0000");
    date_bad("31 Sep 2020 10:00:00 +0000");
    date_bad("31 Nov 2020 10:00:00 +0000");
    date_is("31 Dec 2020 00:00:00 +0000", 1609372800);
    date_is("30 Apr 2020 00:00:00 +0000", 1588204800);
    date_is("28 Feb 2023 00:00:00 +0000", 1677542400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_crlf),
        cmocka_unit_test(test_simple_lf),
        cmocka_unit_test(test_mixed_line_ends),
        cmocka_unit_test(test_folding),
        cmocka_unit_test(test_value_whitespace_and_forms),
        cmocka_unit_test(test_no_separator),
        cmocka_unit_test(test_separator_at_end),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_8bit),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_too_many_fields),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_get_and_count),
        cmocka_unit_test(test_dates_rfc5322),
        cmocka_unit_test(test_dates_obsolete),
        cmocka_unit_test(test_dates_invalid),
        cmocka_unit_test(test_dates_impossible_day_of_month),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
