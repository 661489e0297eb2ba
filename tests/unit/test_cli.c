/* test_cli.c - unit tests for shared/cli.c: command-line times, CSV fields, numbers.
 *
 * Times: every accepted absolute form against known Unix times, relative ages
 * against a fixed "now", and the calendar and syntax errors that must be refused
 * with a sentence. CSV: which fields get quoted and how quotes are doubled, checked
 * against RFC 4180's rules. Numbers: bounds and junk. */
#include "cli.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NOW 1795500000000ull /* 2026-11-24T...Z, any fixed instant */

static uint64_t t_ok(const char *s)
{
    char err[256] = "";
    uint64_t ms = 1;
    if (!cli_parse_time(s, NOW, &ms, err, sizeof err))
        fail_msg("'%s' refused: %s", s, err);
    return ms;
}

static void t_bad(const char *s)
{
    char err[256] = "";
    uint64_t ms = 7;
    if (cli_parse_time(s, NOW, &ms, err, sizeof err))
        fail_msg("'%s' accepted as %llu", s, (unsigned long long)ms);
    assert_int_equal(ms, 7);
    assert_non_null(strstr(err, "is not a time"));
}

static void test_absolute_times(void **state)
{
    assert_int_equal(t_ok("1970-01-01"), 0);
    assert_int_equal(t_ok("2026-11-24"), 1795478400000ull);
    assert_int_equal(t_ok("2026-11-24T10:00:00Z"), 1795478400000ull + 36000000);
    assert_int_equal(t_ok("2026-11-24T10:00:00"), 1795478400000ull + 36000000);
    assert_int_equal(t_ok("2026-11-24 10:00"), 1795478400000ull + 36000000);
    assert_int_equal(t_ok("2026-11-24T23:59:59Z"), 1795478400000ull + 86399000);
    assert_int_equal(t_ok("2024-02-29"), 1709164800000ull); /* leap day */
    assert_int_equal(t_ok("2000-02-29"), 951782400000ull); /* divisible by 400 */
}

static void test_relative_times(void **state)
{
    assert_int_equal(t_ok("30s"), NOW - 30000);
    assert_int_equal(t_ok("30m"), NOW - 1800000);
    assert_int_equal(t_ok("2h"), NOW - 7200000);
    assert_int_equal(t_ok("7d"), NOW - 7 * 86400000ull);
    assert_int_equal(t_ok("2w"), NOW - 14 * 86400000ull);
    assert_int_equal(t_ok("0m"), NOW);
    assert_int_equal(t_ok("1000000000d"), 0); /* before the epoch: clamped */
}

static void test_bad_times(void **state)
{
    const char *bad[] = {"",
                         "yesterday",
                         "7",
                         "7x",
                         "7dd",
                         "-7d",
                         " 7d",
                         "d",
                         "99999999999h",
                         "2026-02-29",
                         "2023-02-29",
                         "1900-02-29",
                         "2026-13-01",
                         "2026-00-10",
                         "2026-04-31",
                         "2026-11-24T24:00",
                         "2026-11-24T10:60",
                         "2026-11-24T10:00:60",
                         "2026-11-24T10",
                         "2026-11-24T10:00+01:00",
                         "2026-11-24X",
                         "2026-11-24Z",
                         "26-11-24",
                         "2026/11/24",
                         "1969-12-31",
                         "2026-1-24"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        t_bad(bad[i]);
    char err[256];
    uint64_t ms;
    assert_false(cli_parse_time(NULL, NOW, &ms, err, sizeof err));
}

static void csv_is(const char *in, const char *want)
{
    buf_t b = {0};
    buf_puts(&b, "");
    cli_csv_field(&b, in);
    assert_string_equal(b.data, want);
    buf_free(&b);
}

static void test_csv_fields(void **state)
{
    csv_is("plain", "plain");
    csv_is("", "");
    csv_is(NULL, "");
    csv_is("a,b", "\"a,b\"");
    csv_is("say \"hi\"", "\"say \"\"hi\"\"\"");
    csv_is("\"", "\"\"\"\"");
    csv_is("two\nlines", "\"two\nlines\"");
    csv_is("cr\rhere", "\"cr\rhere\"");
    csv_is(" padded", "\" padded\"");
    csv_is("padded ", "\"padded \"");
    csv_is("in side", "in side");
    csv_is("gr\xc3\xbc\xc3\x9f", "gr\xc3\xbc\xc3\x9f");
}

static void test_uint(void **state)
{
    uint64_t v = 0;
    assert_true(cli_parse_uint("1", 1, 10, &v) && v == 1);
    assert_true(cli_parse_uint("10000", 1, 10000, &v) && v == 10000);
    assert_false(cli_parse_uint("0", 1, 10, &v));
    assert_false(cli_parse_uint("11", 1, 10, &v));
    assert_false(cli_parse_uint("", 0, 10, &v));
    assert_false(cli_parse_uint(NULL, 0, 10, &v));
    assert_false(cli_parse_uint("-1", 0, 10, &v));
    assert_false(cli_parse_uint("1x", 0, 10, &v));
    assert_false(cli_parse_uint(" 1", 0, 10, &v));
    assert_false(cli_parse_uint("99999999999999999999999", 0, UINT64_MAX, &v));
    assert_true(cli_parse_uint("18446744073709551609", 0, UINT64_MAX, &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absolute_times), cmocka_unit_test(test_relative_times),
        cmocka_unit_test(test_bad_times),      cmocka_unit_test(test_csv_fields),
        cmocka_unit_test(test_uint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
