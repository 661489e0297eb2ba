/* test_arena.c - unit tests for shared/arena.c.
 *
 * Covers 16-byte alignment of every allocation, that allocations never overlap
 * (each is filled and re-checked), large requests in their own chunk without
 * disturbing the current one, strdup/strndup/printf copies, deferred destructors
 * run last-registered first at destroy, and destroy setting the pointer to NULL.
 * Leaks are caught by ASan's leak checker when the suite runs sanitized. */
#include "arena.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_alignment_and_no_overlap(void **state)
{
    arena *a = arena_new(1024);
    unsigned char *p[200];
    size_t sz[200];
    for (int i = 0; i < 200; i++) {
        sz[i] = (size_t)(i % 37) + 1; /* 1..37 bytes, mixed */
        if (i % 50 == 7)
            sz[i] = 600; /* over a quarter chunk: gets its own chunk */
        p[i] = arena_alloc(a, sz[i]);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 16, 0);
        memset(p[i], i & 0xff, sz[i]);
    }
    for (int i = 0; i < 200; i++)
        for (size_t k = 0; k < sz[i]; k++)
            assert_int_equal(p[i][k], i & 0xff);
    arena_destroy(&a);
    assert_null(a);
}

static void test_large_does_not_waste_current_chunk(void **state)
{
    arena *a = arena_new(1024);
    char *s1 = arena_alloc(a, 16);
    char *big = arena_alloc(a, 100000); /* own chunk */
    char *s2 = arena_alloc(a, 16);
    /* The small allocation after the big one continues the first chunk. */
    assert_ptr_equal(s2, s1 + 16);
    memset(big, 0xab, 100000);
    assert_int_equal((unsigned char)big[99999], 0xab);
    arena_destroy(&a);
}

static void test_zero_and_default_chunk(void **state)
{
    arena *a = arena_new(0); /* 0 means the default chunk size */
    char *x = arena_alloc(a, 0);
    char *y = arena_alloc(a, 0);
    assert_non_null(x);
    assert_non_null(y);
    /* Many small allocations across several default chunks. */
    for (int i = 0; i < 5000; i++) {
        char *q = arena_alloc(a, 24);
        q[0] = q[23] = 'z';
    }
    arena_destroy(&a);
}

static void test_strings(void **state)
{
    arena *a = arena_new(256);
    const char *src = "hello, arena";
    char *d = arena_strdup(a, src);
    assert_string_equal(d, src);
    assert_ptr_not_equal(d, src);
    char *n = arena_strndup(a, src, 5);
    assert_string_equal(n, "hello");
    char *e = arena_strndup(a, "", 0);
    assert_string_equal(e, "");
    char *f = arena_printf(a, "job=%s n=%d", "abc", -3);
    assert_string_equal(f, "job=abc n=-3");
    char longtext[3000];
    memset(longtext, 'q', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    char *g = arena_printf(a, "<%s>", longtext); /* bigger than the chunk */
    assert_int_equal(strlen(g), 3001);
    assert_int_equal(g[0], '<');
    assert_int_equal(g[3000], '>');
    assert_string_equal(d, src); /* earlier copies intact */
    arena_destroy(&a);
}

static int order[8];
static int norder;

static void record(void *arg)
{
    order[norder++] = *(int *)arg;
}

static void test_defer_order(void **state)
{
    static int v[3] = {1, 2, 3};
    norder = 0;
    arena *a = arena_new(128);
    for (int i = 0; i < 3; i++)
        arena_defer(a, record, &v[i]);
    assert_int_equal(norder, 0); /* nothing runs before destroy */
    arena_destroy(&a);
    assert_int_equal(norder, 3);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 1);
}

static void test_defer_frees_foreign(void **state)
{
    arena *a = arena_new(64);
    /* A malloc'ed resource owned through the arena: the leak checker fails the
     * run if the destructor is not called. */
    arena_defer(a, free, malloc(100));
    arena_defer(a, free, malloc(10));
    arena_destroy(&a);
    arena_destroy(&a); /* NULL: no-op */
    assert_null(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_no_overlap),
        cmocka_unit_test(test_large_does_not_waste_current_chunk),
        cmocka_unit_test(test_zero_and_default_chunk),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_defer_order),
        cmocka_unit_test(test_defer_frees_foreign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
