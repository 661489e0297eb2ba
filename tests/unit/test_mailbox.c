/* test_mailbox.c - unit tests for shared/mailbox.c.
 *
 * Covered: a posted pointer reaches the thread's end and comes back by answer;
 * the count of what is out, its bound (a post beyond max_out is refused and sends
 * nothing), unasked notifications counted until collected, the NULL stop outside
 * the bound, and take's timeout when nothing waits. */
#include "mailbox.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include <cmocka.h>

static void test_post_take_answer_collect(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    mailbox *mb = mailbox_new(ctx, "test-a", 2);
    int a = 1, b = 2, c = 3;
    assert_null(mailbox_collect(mb));
    assert_true(mailbox_post(mb, &a));
    assert_true(mailbox_post(mb, &b));
    assert_false(mailbox_post(mb, &c)); /* two out: the third is refused */
    assert_int_equal(mailbox_out(mb), 2);

    void *p = NULL;
    assert_true(mailbox_take(mb, 1000, &p));
    assert_ptr_equal(p, &a);
    assert_true(mailbox_take(mb, 0, &p));
    assert_ptr_equal(p, &b);
    assert_false(mailbox_take(mb, 50, &p)); /* &c was never sent */

    mailbox_answer(mb, &b);
    assert_ptr_equal(mailbox_collect(mb), &b);
    assert_int_equal(mailbox_out(mb), 1);
    assert_true(mailbox_post(mb, &c)); /* room again */
    assert_true(mailbox_take(mb, 1000, &p));
    assert_ptr_equal(p, &c);

    mailbox_notify(mb, &a); /* unasked: counted until collected, even over the bound */
    assert_int_equal(mailbox_out(mb), 3);
    assert_ptr_equal(mailbox_collect(mb), &a);
    assert_int_equal(mailbox_out(mb), 2);

    mailbox_stop(mb); /* outside the bound */
    assert_true(mailbox_take(mb, 1000, &p));
    assert_null(p);
    assert_int_equal(mailbox_out(mb), 2);

    mailbox_destroy(&mb);
    assert_null(mb);
    mailbox_destroy(&mb);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_take_answer_collect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
