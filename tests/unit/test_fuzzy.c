/* test_fuzzy.c - normalisation, min-hash signatures and their store in Redis.
 *
 * The Redis cases start a private redis-server on a Unix socket in a temporary
 * directory (skipped when redis-server is not installed) and talk to it with a
 * hiredis connection of their own. */
#include "fuzzy.h"
#include "redisx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char campaign[] =
    "Dear John Smith,\n\n"
    "We are pleased to inform you that your account at Northwind Savings has been selected "
    "for our annual loyalty reward. To receive the payment of $1,250.00 you must confirm "
    "your banking details before 28 November 2026. Please visit "
    "https://northwind-rewards.example.com/claim?id=884213 and enter the reference code "
    "NW-77412 together with your date of birth. If you do not confirm your details within "
    "48 hours the reward will be transferred to another customer and your account may be "
    "suspended for security reasons. Thank you for banking with us.\n\n"
    "Customer Care Team\nNorthwind Savings";

static const char variant[] =
    "Dear Maria Garcia,\n\n"
    "We are pleased to inform you that your account at Northwind Savings has been selected "
    "for our annual loyalty reward. To receive the payment of $3,980.00 you must confirm "
    "your banking details before 2 December 2026. Please visit "
    "https://nw-loyalty.example.net/c/55931 and enter the reference code "
    "NW-10293 together with your date of birth. If you do not confirm your details within "
    "24 hours the reward will be transferred to another customer and your account may be "
    "suspended for security reasons. Thank you for banking with us.\n\n"
    "Customer Care Team\nNorthwind Savings";

static const char unrelated[] =
    "Hi team, the quarterly planning meeting moves to Thursday afternoon in the large "
    "conference room on the third floor. Please bring the draft roadmap, the hiring plan "
    "for the platform group and your notes on the customer interviews from last month. "
    "Lunch will be provided, so tell Karen about dietary needs by Wednesday. Thanks, Paul";

static fuzzy_sig sig_of(const char *text)
{
    fuzzy_sig s;
    assert_true(fuzzy_signature(text, strlen(text), 10, &s));
    return s;
}

static void test_normalize(void **state)
{
    (void)state;
    buf_t b = {0};
    const char *t = "Hello, WORLD! It's 2026: call 555-1234 now; Ünïcödé ÉTÉ a to of\xff"
                    "bytes";
    size_t n = fuzzy_normalize(t, strlen(t), &b);
    buf_append(&b, "", 1);
    assert_string_equal(b.data, "hello world 0000 call 000 0000 now ünïcödé été bytes");
    assert_int_equal(n, 10);
    buf_free(&b);
    assert_int_equal(fuzzy_normalize("", 0, &b), 0);
    assert_int_equal(fuzzy_normalize("a b c to be", 11, &b), 0);
    buf_free(&b);
}

static void test_identical(void **state)
{
    (void)state;
    fuzzy_sig a = sig_of(campaign), b = sig_of(campaign);
    assert_true(fuzzy_similarity(&a, &b) == 1.0);
    /* Case, spacing and punctuation do not matter. */
    char *up = strdup(campaign);
    for (char *p = up; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
        else if (*p == ' ')
            *p = '\n';
    fuzzy_sig c = sig_of(up);
    assert_true(fuzzy_similarity(&a, &c) == 1.0);
    free(up);
    char id1[17], id2[17];
    fuzzy_sig_id(&a, id1);
    fuzzy_sig_id(&b, id2);
    assert_string_equal(id1, id2);
    assert_int_equal(strlen(id1), 16);
}

static void test_variant_and_unrelated(void **state)
{
    (void)state;
    fuzzy_sig a = sig_of(campaign), v = sig_of(variant), u = sig_of(unrelated);
    double sv = fuzzy_similarity(&a, &v), su = fuzzy_similarity(&a, &u);
    print_message("variant %.3f unrelated %.3f\n", sv, su);
    assert_true(sv >= 0.5);
    assert_true(su <= 0.1);
    /* A small edit: one word changed. */
    char *edit = strdup(campaign);
    memcpy(strstr(edit, "annual"), "yearly", 6);
    fuzzy_sig e = sig_of(edit);
    assert_true(fuzzy_similarity(&a, &e) >= 0.75);
    free(edit);
}

static void test_short_text(void **state)
{
    (void)state;
    fuzzy_sig s;
    const char *t = "Click here to claim your prize now";
    assert_false(fuzzy_signature(t, strlen(t), 10, &s));
    assert_true(fuzzy_signature(t, strlen(t), 3, &s));
    assert_int_equal(s.words, 6);
    assert_false(fuzzy_signature("one two", 7, 1, &s)); /* fewer words than a shingle */
    assert_false(fuzzy_signature("", 0, 10, &s));
    /* Invalid UTF-8 and NUL bytes are separators, never a crash. */
    const char junk[] = "abc\0def\xc3ghi\xf0\x9f\x98jkl\xed\xa0\x80mno pqr";
    assert_true(fuzzy_signature(junk, sizeof junk - 1, 3, &s));
}

/* ---- Redis ---- */

typedef struct {
    pid_t pid;
    char dir[64], sock[96];
    redisContext *rc;
} redis_fixture;

static int redis_setup(void **state)
{
    if (access("/usr/bin/redis-server", X_OK) != 0) {
        *state = NULL;
        return 0;
    }
    redis_fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_fuzzy.XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->sock, sizeof f->sock, "%s/redis.sock", f->dir);
    f->pid = fork();
    if (f->pid == 0) {
        execl("/usr/bin/redis-server", "redis-server", "--port", "0", "--unixsocket", f->sock,
              "--save", "", "--appendonly", "no", "--dir", f->dir, "--loglevel", "warning",
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && !f->rc; i++) {
        redisContext *c = redisConnectUnix(f->sock);
        if (c && !c->err)
            f->rc = c;
        else {
            redisFree(c);
            usleep(20000);
        }
    }
    *state = f;
    return f->rc ? 0 : -1;
}

static int redis_teardown(void **state)
{
    redis_fixture *f = *state;
    if (!f)
        return 0;
    redisFree(f->rc);
    kill(f->pid, SIGTERM);
    waitpid(f->pid, NULL, 0);
    unlink(f->sock);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void test_redis_learn_lookup(void **state)
{
    redis_fixture *f = *state;
    if (!f)
        skip();
    char err[256];
    fuzzy_sig a = sig_of(campaign), v = sig_of(variant), u = sig_of(unrelated);
    fuzzy_match m;
    assert_true(fuzzy_lookup(f->rc, &v, &m, err, sizeof err));
    assert_int_equal(m.spam, 0);
    assert_string_equal(m.campaign, "");

    assert_true(fuzzy_store(f->rc, &a, FUZZY_SPAM, 3600, err, sizeof err));
    assert_true(fuzzy_lookup(f->rc, &a, &m, err, sizeof err));
    assert_int_equal(m.spam, FUZZY_K);
    assert_true(m.similarity == 1.0);
    char id[17];
    fuzzy_sig_id(&a, id);
    assert_string_equal(m.campaign, id);
    assert_true(fuzzy_lookup(f->rc, &v, &m, err, sizeof err));
    assert_true(m.similarity >= 0.5);
    assert_true(fuzzy_lookup(f->rc, &u, &m, err, sizeof err));
    assert_true(m.similarity <= 0.1);

    /* Learned with an expiry. */
    redisReply *r = redisCommand(f->rc, "TTL bw:fz:0:%016llx", (unsigned long long)a.h[0]);
    assert_non_null(r);
    assert_true(r->type == REDIS_REPLY_INTEGER && r->integer > 3500 && r->integer <= 3600);
    freeReplyObject(r);

    /* The variant released as ham: it stops matching. */
    assert_true(fuzzy_store(f->rc, &v, FUZZY_HAM, 3600, err, sizeof err));
    assert_true(fuzzy_lookup(f->rc, &v, &m, err, sizeof err));
    assert_int_equal(m.ham, FUZZY_K);
    assert_true(m.spam < FUZZY_K);
    assert_false(fuzzy_is_spam(&m, 0.5));
    /* ... while the campaign it resembled still matches. */
    assert_true(fuzzy_lookup(f->rc, &a, &m, err, sizeof err));
    assert_int_equal(m.spam, FUZZY_K);
    assert_true(m.ham < FUZZY_K);
    assert_true(fuzzy_is_spam(&m, 0.5));
    /* Learned as spam again: its own ham marks go. */
    assert_true(fuzzy_store(f->rc, &v, FUZZY_SPAM, 3600, err, sizeof err));
    assert_true(fuzzy_lookup(f->rc, &v, &m, err, sizeof err));
    assert_int_equal(m.spam, FUZZY_K);
    assert_int_equal(m.ham, 0);
    assert_true(fuzzy_is_spam(&m, 1.0));
}

/* The same through the process's Redis (redisx.h), from a raw message. */
static void test_redisx_learn_message(void **state)
{
    redis_fixture *f = *state;
    if (!f)
        skip();
    char err[256];
    assert_true(redisx_configure(f->sock, 1000, err, sizeof err));
    buf_t raw = {0};
    buf_printf(&raw,
               "From: a@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>%s</p></body></html>",
               unrelated);
    fuzzy_opts o;
    fuzzy_opts_default(&o);
    fuzzy_match m;
    assert_int_equal(fuzzy_check(unrelated, strlen(unrelated), &o, &m, err, sizeof err), FUZZY_OK);
    assert_int_equal(m.spam, 0);
    assert_int_equal(
        fuzzy_learn_message((const uint8_t *)raw.data, raw.len, FUZZY_SPAM, &o, err, sizeof err),
        FUZZY_OK);
    assert_int_equal(fuzzy_check(unrelated, strlen(unrelated), &o, &m, err, sizeof err), FUZZY_OK);
    assert_true(fuzzy_is_spam(&m, 0.9));
    const char *short_text = "Free prize inside, click now";
    assert_int_equal(fuzzy_learn(short_text, strlen(short_text), FUZZY_SPAM, err, sizeof err),
                     FUZZY_SKIPPED);
    assert_int_equal(fuzzy_check(short_text, strlen(short_text), NULL, &m, err, sizeof err),
                     FUZZY_SKIPPED);
    buf_free(&raw);
    redisx_thread_done();
    assert_true(redisx_configure("/nonexistent/redis.sock", 200, err, sizeof err));
    assert_int_equal(fuzzy_check(unrelated, strlen(unrelated), &o, &m, err, sizeof err),
                     FUZZY_ERROR);
    assert_int_equal(fuzzy_learn(unrelated, strlen(unrelated), FUZZY_HAM, err, sizeof err),
                     FUZZY_ERROR);
    redisx_thread_done();
    assert_true(redisx_configure("", 200, err, sizeof err));
}

static void test_redis_down(void **state)
{
    (void)state;
    redisContext *c = redisConnectUnix("/nonexistent/redis.sock");
    assert_non_null(c);
    fuzzy_sig a = sig_of(campaign);
    fuzzy_match m;
    char err[256];
    assert_false(fuzzy_lookup(c, &a, &m, err, sizeof err));
    assert_true(strncmp(err, "redis MGET", 10) == 0);
    assert_false(fuzzy_store(c, &a, FUZZY_SPAM, 10, err, sizeof err));
    redisFree(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_identical),
        cmocka_unit_test(test_variant_and_unrelated),
        cmocka_unit_test(test_short_text),
        cmocka_unit_test(test_redis_learn_lookup),
        cmocka_unit_test(test_redisx_learn_message),
        cmocka_unit_test(test_redis_down),
    };
    return cmocka_run_group_tests(tests, redis_setup, redis_teardown);
}
