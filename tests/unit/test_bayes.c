/* test_bayes.c - unit tests for the Bayes combiner (node/bayes.c), the learn digest
 * (node/learn.c) and the parts of the check that need no Redis.
 *
 * Covered: chi-square survival values against known numbers; Robinson's f(w) for
 * known counts (unseen token at x, one-sided counts pulled towards x by s); the
 * classifier on all-spammy, all-hammy, balanced and empty inputs; monotonicity in
 * spam evidence; the strength and hit filters; the K most significant tokens; SHA-256
 * test vectors; the digest ignoring Received lines and whitespace layout; scope
 * names; the check silent without Redis and refusing bad thresholds. Learning and
 * classifying through a real redis-server: tests/integration/test_bayes.py. */
#include "bayes.h"
#include "learn.h"
#include "params.h"
#include "pipeline.h"
#include "util.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static bayes_opts opts(void)
{
    bayes_opts o;
    bayes_opts_default(&o);
    return o;
}

static void test_chi2q(void **state)
{
    (void)state;
    assert_true(fabs(bayes_chi2q(0, 2) - 1.0) < 1e-12);
    assert_true(fabs(bayes_chi2q(2, 2) - exp(-1)) < 1e-12);
    /* Q(4 | 4) = e^-2 (1 + 2) */
    assert_true(fabs(bayes_chi2q(4, 4) - 3 * exp(-2)) < 1e-12);
    /* Q(10 | 10) = 0.4404932851 (tables) */
    assert_true(fabs(bayes_chi2q(10, 10) - 0.4404932851) < 1e-9);
    assert_true(bayes_chi2q(5000, 300) < 1e-100);
    assert_true(bayes_chi2q(1, 300) <= 1.0);
}

static void test_token_prob(void **state)
{
    (void)state;
    bayes_opts o = opts();
    assert_true(fabs(bayes_token_prob((bayes_count){0, 0}, 100, 100, &o) - 0.5) < 1e-12);
    /* 10 of 100 spam, never ham: p = 1, n = 10: f = (0.5 + 10) / 11 */
    assert_true(fabs(bayes_token_prob((bayes_count){10, 0}, 100, 100, &o) - 10.5 / 11) < 1e-12);
    assert_true(fabs(bayes_token_prob((bayes_count){0, 10}, 100, 100, &o) - 0.5 / 11) < 1e-12);
    /* Frequencies, not counts: 10/100 spam vs 10/1000 ham. p = 0.1/(0.1+0.01) */
    double p = 0.1 / 0.11, f = (0.5 + 20 * p) / 21;
    assert_true(fabs(bayes_token_prob((bayes_count){10, 10}, 100, 1000, &o) - f) < 1e-12);
}

static double classify(const bayes_count *c, size_t n, size_t *used)
{
    bayes_opts o = opts();
    return bayes_classify(c, n, 1000, 1000, &o, used);
}

static void test_classify(void **state)
{
    (void)state;
    bayes_count c[200] = {{0, 0}};
    size_t used;
    assert_true(fabs(classify(c, 0, &used) - 0.5) < 1e-12);
    assert_int_equal(used, 0);

    for (int i = 0; i < 20; i++)
        c[i] = (bayes_count){50, 1};
    double p = classify(c, 20, &used);
    assert_int_equal(used, 20);
    assert_true(p > 0.99);
    for (int i = 0; i < 20; i++)
        c[i] = (bayes_count){1, 50};
    assert_true(classify(c, 20, &used) < 0.01);
    for (int i = 0; i < 20; i++)
        c[i] = i % 2 ? (bayes_count){50, 1} : (bayes_count){1, 50};
    p = classify(c, 20, &used);
    assert_true(fabs(p - 0.5) < 0.05); /* strong evidence both ways: unsure */

    /* Known value: one token with f = 0.9: S = 1 - Q(-2 ln 0.1, 2) = 0.9,
     * H = 1 - Q(-2 ln 0.9, 2) = 0.1, I = (1 + 0.9 - 0.1) / 2 = 0.9. */
    bayes_opts o = opts();
    o.s = 0; /* f = p exactly */
    bayes_count one = {9, 1};
    p = bayes_classify(&one, 1, 1000, 1000, &o, &used);
    assert_true(fabs(p - 0.9) < 1e-9);

    /* Monotonic: more spammy tokens among neutral-ish ham ones raise p. */
    double last = 0;
    for (int k = 0; k <= 10; k++) {
        for (int i = 0; i < 10; i++)
            c[i] = i < k ? (bayes_count){30, 2} : (bayes_count){2, 30};
        p = classify(c, 10, &used);
        assert_true(p >= last);
        last = p;
    }
    assert_true(last > 0.99);

    /* Weak tokens (|f - 0.5| < 0.1) and unseen ones are ignored. */
    c[0] = (bayes_count){10, 10};
    c[1] = (bayes_count){0, 0};
    c[2] = (bayes_count){40, 1};
    classify(c, 3, &used);
    assert_int_equal(used, 1);

    /* At most max_used tokens, the strongest. */
    for (int i = 0; i < 200; i++)
        c[i] = i < 150 ? (bayes_count){100, 0} : (bayes_count){1, 3};
    p = classify(c, 200, &used);
    assert_int_equal(used, 150);
    assert_true(p > 0.999);

    /* min_hits */
    o = opts();
    o.min_hits = 5;
    c[0] = (bayes_count){3, 0};
    c[1] = (bayes_count){0, 8};
    p = bayes_classify(c, 2, 100, 100, &o, &used);
    assert_int_equal(used, 1);
    assert_true(p < 0.1);
    /* Nothing learned in one class: every token at x, no vote. */
    c[0] = (bayes_count){3, 0};
    p = bayes_classify(c, 1, 100, 0, &o, &used);
    assert_int_equal(used, 0);
}

static void test_sha256(void **state)
{
    (void)state;
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t d[32];
        char hex[65];
        learn_sha256(v[i].in, strlen(v[i].in), d);
        for (int k = 0; k < 32; k++)
            snprintf(hex + 2 * k, 3, "%02x", d[k]);
        assert_string_equal(hex, v[i].hex);
    }
    /* A million 'a' (multi-block updates). */
    char *m = xmalloc(1000000);
    memset(m, 'a', 1000000);
    uint8_t d[32];
    learn_sha256(m, 1000000, d);
    free(m);
    assert_int_equal(d[0], 0xcd);
    assert_int_equal(d[31], 0xd0);
}

static void digest_of(const char *raw, char *out)
{
    msg_model *m = msg_parse((const uint8_t *)raw, strlen(raw));
    hdr_block *h = hdr_parse(raw, strlen(raw));
    learn_digest(m, h, out);
    hdr_destroy(&h);
    msg_destroy(&m);
}

static void test_digest(void **state)
{
    (void)state;
    char a[65], b[65], c[65];
    digest_of("From: a@b.test\r\nSubject: hi there\r\n\r\nSome  text\r\nhere\r\n", a);
    digest_of("Received: from x by y\r\nFrom: a@b.test\r\nSubject: hi  there\r\n\r\n"
              "Some text here\r\n",
              b);
    digest_of("From: a@b.test\r\nSubject: hi there\r\n\r\nOther text\r\n", c);
    assert_int_equal(strlen(a), 64);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
}

static void test_scopes(void **state)
{
    (void)state;
    char s[BAYES_SCOPE_MAX + 4];
    assert_true(bayes_scope_domain("Example.COM", s, sizeof s));
    assert_string_equal(s, "d:example.com");
    assert_true(bayes_scope_user("Bob@Example.com", s, sizeof s));
    assert_string_equal(s, "u:bob@example.com");
    assert_false(bayes_scope_user("nobody", s, sizeof s));
    assert_false(bayes_scope_domain("", s, sizeof s));
    assert_false(bayes_scope_domain("a b", s, sizeof s));
    assert_string_equal(bayes_learn_result_name(BAYES_MOVED), "moved");
}

static void test_check_without_redis(void **state)
{
    (void)state;
    char err[256];
    params *p = params_new(&params_cluster);
    pipeline *pl = pipeline_new(p, 1, err, sizeof err);
    assert_non_null(pl);
    const char *raw = "From: a@b.test\r\nSubject: hi\r\n\r\nhello world\r\n";
    scan_task *t = scan_task_new(pl, "t1", NULL, (const uint8_t *)raw, strlen(raw));
    scan_run(t);
    const Bulwark__ScanResult *r = scan_result(t);
    for (size_t i = 0; i < r->n_symbols; i++)
        assert_true(strncmp(r->symbols[i]->name, "BAYES_", 6) != 0);
    scan_task_destroy(&t);
    pipeline_release(&pl);

    assert_true(params_set(p, "check.bayes.spam_threshold", "0.6", err, sizeof err));
    assert_true(params_set(p, "check.bayes.ham_threshold", "0.5", err, sizeof err));
    assert_true(params_set(p, "check.bayes.spam_threshold", "0.5", err, sizeof err));
    pl = pipeline_new(p, 2, err, sizeof err);
    assert_null(pl);
    assert_non_null(strstr(err, "ham_threshold"));
    params_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chi2q),
        cmocka_unit_test(test_token_prob),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_check_without_redis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
