/* test_util.c - unit tests for shared/util.c.
 *
 * Covers the growable buffer (append across the first growth, printf of long
 * text, embedded NULs, free resets), str_trim and str_iprefix on edge cases,
 * file_read (contents with NULs, empty file, missing file and its errno), and
 * the x* allocators' zero-size and copy behaviour. Files live in a mkdtemp dir. */
#include "util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void test_buf_append_grows(void **state)
{
    buf_t b = {0};
    char chunk[100];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 30; i++) /* 3000 bytes: several doublings from 256 */
        buf_append(&b, chunk, sizeof chunk);
    assert_int_equal(b.len, 3000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(strspn(b.data, "x"), 3000);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void test_buf_append_binary(void **state)
{
    buf_t b = {0};
    buf_append(&b, "a\0b", 3);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 4); /* keeps the NUL, terminated after */
    buf_append(&b, "", 0);
    assert_int_equal(b.len, 3);
    buf_free(&b);
}

static void test_buf_empty_append_allocates(void **state)
{
    buf_t b = {0};
    buf_append(&b, "", 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    buf_free(&b);
    buf_free(&b); /* second free of a reset buffer is harmless */
}

static void test_buf_puts_printf(void **state)
{
    buf_t b = {0};
    buf_puts(&b, "n=");
    buf_printf(&b, "%d;%s", 42, "ok");
    assert_string_equal(b.data, "n=42;ok");
    assert_int_equal(b.len, 7);

    /* A formatted piece far larger than the current capacity. */
    char big[5000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_printf(&b, "[%s]", big);
    assert_int_equal(b.len, 7 + 2 + 4999);
    assert_int_equal(b.data[7], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(strlen(b.data), b.len);
    buf_free(&b);
}

static void test_buf_printf_into_empty(void **state)
{
    buf_t b = {0};
    buf_printf(&b, "%s", "");
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    buf_printf(&b, "%05.1f", 3.14159);
    assert_string_equal(b.data, "003.1");
    buf_free(&b);
}

static void test_str_trim(void **state)
{
    char a[] = "  \t hello world \r\n";
    assert_string_equal(str_trim(a), "hello world");
    char b[] = "";
    assert_string_equal(str_trim(b), "");
    char c[] = " \t\r\n ";
    assert_string_equal(str_trim(c), "");
    char d[] = "x";
    assert_ptr_equal(str_trim(d), d);
    assert_string_equal(d, "x");
    char e[] = "a b";
    assert_string_equal(str_trim(e), "a b"); /* inner whitespace kept */
    char f[] = "\xe9t\xe9 "; /* 8-bit bytes are not whitespace */
    assert_string_equal(str_trim(f), "\xe9t\xe9");
}

static void test_str_iprefix(void **state)
{
    assert_true(str_iprefix("Content-Type: text", "content-type:"));
    assert_true(str_iprefix("SUBJECT", "subject"));
    assert_true(str_iprefix("anything", ""));
    assert_true(str_iprefix("abc", "ABC"));
    assert_false(str_iprefix("ab", "abc")); /* shorter than the prefix */
    assert_false(str_iprefix("", "a"));
    assert_false(str_iprefix("Content", "Contenu"));
}

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bw-util-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    char path[128];
    const char *names[] = {"data", "empty"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    return rmdir(tmpdir);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_file_read(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "%s/data", tmpdir);
    /* 100000 bytes with NULs: more than one 64 KiB read chunk. */
    size_t n = 100000;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7);
    write_file(path, data, n);

    size_t len = 0;
    char *got = file_read(path, &len);
    assert_non_null(got);
    assert_int_equal(len, n);
    assert_memory_equal(got, data, n);
    assert_int_equal(got[len], '\0');
    free(got);
    free(data);
}

static void test_file_read_empty(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "%s/empty", tmpdir);
    write_file(path, "", 0);
    size_t len = 99;
    char *got = file_read(path, &len);
    assert_non_null(got);
    assert_int_equal(len, 0);
    assert_string_equal(got, "");
    free(got);
}

static void test_file_read_missing(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "%s/does-not-exist", tmpdir);
    size_t len = 99;
    errno = 0;
    assert_null(file_read(path, &len));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(len, 99); /* untouched on failure */
}

static void test_xalloc(void **state)
{
    char *s = xstrndup("hello world", 5);
    assert_string_equal(s, "hello");
    free(s);
    s = xstrdup("");
    assert_string_equal(s, "");
    free(s);
    s = xasprintf("%s-%03d", "job", 7);
    assert_string_equal(s, "job-007");
    free(s);
    void *p = xmalloc(0); /* zero size still gives a pointer that can be freed */
    assert_non_null(p);
    free(p);
    int *z = xcalloc(16, sizeof *z);
    for (int i = 0; i < 16; i++)
        assert_int_equal(z[i], 0);
    z = xrealloc(z, 0);
    assert_non_null(z);
    free(z);
}

static void test_clocks(void **state)
{
    uint64_t a = mono_us(), m = mono_ms();
    usleep(2000);
    uint64_t b = mono_us();
    assert_true(b >= a + 2000);
    assert_true(mono_ms() >= m + 2);
    /* Wall clock is after 2020-01-01 and in milliseconds. */
    assert_true(now_ms() > 1577836800000ULL);
}

static void test_strlist(void **state)
{
    (void)state;
    strlist l = {0};
    char word[8] = "alpha";
    strlist_add(&l, word);
    word[0] = 'A'; /* the list holds copies */
    strlist_add(&l, "beta");
    strlist_add(&l, "");
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0], "alpha");
    assert_string_equal(l.v[1], "beta");
    assert_string_equal(l.v[2], "");
    strlist_free(&l);
    assert_null(l.v);
    assert_int_equal(l.n, 0);
    strlist_add(&l, "again"); /* usable after free */
    assert_int_equal(l.n, 1);
    strlist_free(&l);
    strlist_free(&l);
}

static void test_time_text(void **state)
{
    (void)state;
    char out[32];
    time_text(0, out, sizeof out);
    assert_string_equal(out, "1970-01-01 00:00:00Z");
    time_text(1795510800123ull, out, sizeof out); /* 2026-11-24 09:00:00.123 UTC */
    assert_string_equal(out, "2026-11-24 09:00:00Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strlist),
        cmocka_unit_test(test_time_text),
        cmocka_unit_test(test_buf_append_grows),
        cmocka_unit_test(test_buf_append_binary),
        cmocka_unit_test(test_buf_empty_append_allocates),
        cmocka_unit_test(test_buf_puts_printf),
        cmocka_unit_test(test_buf_printf_into_empty),
        cmocka_unit_test(test_str_trim),
        cmocka_unit_test(test_str_iprefix),
        cmocka_unit_test(test_file_read),
        cmocka_unit_test(test_file_read_empty),
        cmocka_unit_test(test_file_read_missing),
        cmocka_unit_test(test_xalloc),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
