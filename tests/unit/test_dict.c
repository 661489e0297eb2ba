/* test_dict.c - unit tests for shared/dict.c.
 *
 * Covers set/get/replace/del and the size count, that keys are copied, growth
 * past many doublings with every key still found, iteration visiting each entry
 * exactly once, deleting the current entry while iterating (the documented
 * exception) without skipping any other, and destroy calling free_value. */
#include "dict.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_set_get_replace_del(void **state)
{
    dict *d = dict_new();
    int a = 1, b = 2, c = 3;
    assert_int_equal(dict_size(d), 0);
    assert_null(dict_get(d, "a"));
    assert_null(dict_set(d, "a", &a));
    assert_null(dict_set(d, "b", &b));
    assert_int_equal(dict_size(d), 2);
    assert_ptr_equal(dict_get(d, "a"), &a);
    assert_ptr_equal(dict_xget(d, "b"), &b);
    /* Replacing returns the old value and does not change the size. */
    assert_ptr_equal(dict_set(d, "a", &c), &a);
    assert_ptr_equal(dict_get(d, "a"), &c);
    assert_int_equal(dict_size(d), 2);
    /* Keys are case-sensitive and exact. */
    assert_null(dict_get(d, "A"));
    assert_null(dict_get(d, "a "));
    assert_null(dict_get(d, ""));
    assert_ptr_equal(dict_del(d, "a"), &c);
    assert_null(dict_get(d, "a"));
    assert_null(dict_del(d, "a"));
    assert_int_equal(dict_size(d), 1);
    dict_destroy(&d, NULL);
    assert_null(d);
}

static void test_keys_are_copied(void **state)
{
    dict *d = dict_new();
    char key[16];
    int v = 7;
    snprintf(key, sizeof key, "job-1");
    dict_set(d, key, &v);
    snprintf(key, sizeof key, "job-2"); /* the caller reuses its buffer */
    assert_ptr_equal(dict_get(d, "job-1"), &v);
    assert_null(dict_get(d, "job-2"));
    dict_set(d, "", &v); /* the empty string is a key like any other */
    assert_ptr_equal(dict_get(d, ""), &v);
    dict_destroy(&d, NULL);
}

#define MANY 5000

static void test_growth(void **state)
{
    dict *d = dict_new();
    static int vals[MANY];
    char key[32];
    for (int i = 0; i < MANY; i++) {
        vals[i] = i;
        snprintf(key, sizeof key, "key%d", i);
        assert_null(dict_set(d, key, &vals[i]));
    }
    assert_int_equal(dict_size(d), MANY);
    for (int i = 0; i < MANY; i++) {
        snprintf(key, sizeof key, "key%d", i);
        int *p = dict_get(d, key);
        assert_non_null(p);
        assert_int_equal(*p, i);
    }
    dict_destroy(&d, NULL);
}

static void test_iterate_each_once(void **state)
{
    dict *d = dict_new();
    static int vals[300];
    static int seen[300];
    char key[32];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 300; i++) {
        vals[i] = i;
        snprintf(key, sizeof key, "k%d", i);
        dict_set(d, key, &vals[i]);
    }
    size_t it = 0, n = 0;
    const char *k;
    int *v;
    while ((v = dict_next(d, &it, &k))) {
        char want[32];
        snprintf(want, sizeof want, "k%d", *v);
        assert_string_equal(k, want);
        seen[*v]++;
        n++;
    }
    assert_int_equal(n, 300);
    for (int i = 0; i < 300; i++)
        assert_int_equal(seen[i], 1);
    /* An exhausted cursor stays exhausted. */
    assert_null(dict_next(d, &it, &k));
    dict_destroy(&d, NULL);

    d = dict_new();
    it = 0;
    assert_null(dict_next(d, &it, NULL));
    dict_destroy(&d, NULL);
}

static void test_delete_current_while_iterating(void **state)
{
    /* 60 keys in 64 buckets: several chains hold two or more entries, which is
     * where deleting the current entry can make a cursor skip its successor. */
    dict *d = dict_new();
    static int vals[60];
    static int seen[60];
    char key[32];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 60; i++) {
        vals[i] = i;
        snprintf(key, sizeof key, "id-%d", i);
        dict_set(d, key, &vals[i]);
    }
    size_t it = 0, n = 0;
    const char *k;
    int *v;
    while ((v = dict_next(d, &it, &k))) {
        seen[*v]++;
        n++;
        if (*v % 3 != 0) { /* delete two thirds, keep the rest */
            char copy[32];
            snprintf(copy, sizeof copy, "%s", k);
            assert_ptr_equal(dict_del(d, copy), v);
        }
    }
    assert_int_equal(n, 60);
    for (int i = 0; i < 60; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(dict_size(d), 20);
    for (int i = 0; i < 60; i++) {
        snprintf(key, sizeof key, "id-%d", i);
        if (i % 3 == 0)
            assert_ptr_equal(dict_get(d, key), &vals[i]);
        else
            assert_null(dict_get(d, key));
    }

    /* Deleting every entry as it is visited empties the table in one pass. */
    it = 0;
    n = 0;
    while ((v = dict_next(d, &it, &k))) {
        char copy[32];
        snprintf(copy, sizeof copy, "%s", k);
        dict_del(d, copy);
        n++;
    }
    assert_int_equal(n, 20);
    assert_int_equal(dict_size(d), 0);
    dict_destroy(&d, NULL);
}

static int freed;

static void count_free(void *p)
{
    freed++;
    free(p);
}

static void test_destroy_frees_values(void **state)
{
    dict *d = dict_new();
    char key[16];
    freed = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "%d", i);
        dict_set(d, key, malloc(8));
    }
    free(dict_del(d, "5")); /* removed values are the caller's again */
    dict_destroy(&d, count_free);
    assert_int_equal(freed, 99);
    assert_null(d);
    dict_destroy(&d, count_free); /* NULL: no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_replace_del),
        cmocka_unit_test(test_keys_are_copied),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_iterate_each_once),
        cmocka_unit_test(test_delete_current_while_iterating),
        cmocka_unit_test(test_destroy_frees_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
