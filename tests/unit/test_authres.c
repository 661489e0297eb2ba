/* test_authres.c - Authentication-Results: reading (RFC 8601 grammar and the shapes
 * real servers write), writing ours from the task's auth results (the exact text, and
 * what happens to sender-supplied bytes), and finding fields that claim our
 * authserv-id in a raw message. The RFC 8601 Appendix B examples are read as
 * written there. */
#include "authres.h"
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static authres *parse_ok(const char *s)
{
    authres *a = xmalloc(sizeof *a);
    char err[200];
    if (!authres_parse(s, strlen(s), a, err, sizeof err))
        fail_msg("'%s': %s", s, err);
    return a;
}

static void test_parse_rfc_examples(void **state)
{
    (void)state;
    authres *a = parse_ok(" example.org 1; none");
    assert_string_equal(a->authserv_id, "example.org");
    assert_int_equal(a->n, 0);
    free(a);
    /* B.4, folded, with a comment in the middle */
    a = parse_ok(" example.com;\r\n          spf=pass smtp.mailfrom=example.net\r\n"
                 "   (note) ;\r\n   sender-id=pass header.from=example.net");
    assert_string_equal(a->authserv_id, "example.com");
    assert_int_equal(a->n, 2);
    assert_string_equal(a->r[0].method, "spf");
    assert_string_equal(a->r[0].result, "pass");
    assert_string_equal(authres_prop_get(&a->r[0], "smtp", "mailfrom"), "example.net");
    assert_string_equal(a->r[1].method, "sender-id");
    assert_string_equal(authres_prop_get(&a->r[1], "HEADER", "From"), "example.net");
    assert_null(authres_prop_get(&a->r[1], "smtp", "mailfrom"));
    free(a);
    /* B.5-style: method versions, reason, a quoted value, nested comments */
    a = parse_ok("example.com; auth=pass (cram-md5 (really)) smtp.auth=sender@example.net;\r\n"
                 " spf/1=FAIL reason=\"bad (not really)\" smtp.mailfrom=\"a;b\"@example.org;\r\n"
                 " dkim = pass header . d = example.net header.b=\"abcd+/=\"");
    assert_int_equal(a->n, 3);
    assert_string_equal(a->r[0].method, "auth");
    assert_string_equal(authres_prop_get(&a->r[0], "smtp", "auth"), "sender@example.net");
    assert_string_equal(a->r[1].method, "spf");
    assert_string_equal(a->r[1].result, "fail");
    assert_string_equal(authres_prop_get(&a->r[1], "smtp", "mailfrom"), "a;b@example.org");
    assert_string_equal(a->r[2].method, "dkim");
    assert_string_equal(authres_prop_get(&a->r[2], "header", "d"), "example.net");
    assert_string_equal(authres_prop_get(&a->r[2], "header", "b"), "abcd+/=");
    free(a);
    /* a quoted authserv-id, a trailing ';' */
    a = parse_ok("\"mx example\"; arc=pass header.oldest-pass=0;");
    assert_string_equal(a->authserv_id, "mx example");
    assert_string_equal(authres_prop_get(&a->r[0], "header", "oldest-pass"), "0");
    free(a);
}

static void test_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"", "no authserv-id"},
        {"; spf=pass", "no authserv-id"},
        {"example.com; spf", "no result"},
        {"example.com; spf=pass smtp", "'.' expected"},
        {"example.com; spf=pass smtp.mailfrom", "'=' expected"},
        {"example.com; spf=pass (open", "comment is not closed"},
        {"example.com; spf=pass smtp.mailfrom=\"open", "quoted string is not closed"},
        {"example.com spf=pass", "';' expected"},
        {"example.com; =pass", "method name"},
    };
    authres *a = xmalloc(sizeof *a);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[200];
        assert_false(authres_parse(bad[i].in, strlen(bad[i].in), a, err, sizeof err));
        if (!strstr(err, bad[i].why))
            fail_msg("'%s': '%s' does not say '%s'", bad[i].in, err, bad[i].why);
    }
    /* what came before the fault is kept */
    char err[200];
    const char *s = "mx.example; dkim=pass header.d=a.example; dmarc";
    assert_false(authres_parse(s, strlen(s), a, err, sizeof err));
    assert_string_equal(a->authserv_id, "mx.example");
    assert_int_equal(a->n, 1);
    /* more results than kept are counted */
    buf_t b = {0};
    buf_puts(&b, "mx.example");
    for (int i = 0; i < AUTHRES_MAX_RESULTS + 3; i++)
        buf_puts(&b, "; dkim=pass header.d=x.example");
    assert_true(authres_parse(b.data, b.len, a, err, sizeof err));
    assert_int_equal(a->n, AUTHRES_MAX_RESULTS);
    assert_int_equal(a->dropped, 3);
    buf_free(&b);
    free(a);
}

static void test_authserv_id(void **state)
{
    (void)state;
    char id[64];
    assert_true(authres_authserv_id(" (c) mx.Example.org; spf=pass", 29, id, sizeof id));
    assert_string_equal(id, "mx.Example.org");
    assert_true(authres_authserv_id("\"mx.example.org\";", 17, id, sizeof id));
    assert_string_equal(id, "mx.example.org");
    assert_false(authres_authserv_id("  ; spf=pass", 12, id, sizeof id));
    assert_false(authres_authserv_id(" (open", 6, id, sizeof id));
    assert_true(authres_id_ok("mx-1.example.org"));
    assert_false(authres_id_ok("mx example"));
    assert_false(authres_id_ok("mx;example"));
    assert_false(authres_id_ok(""));
}

static auth_results sample(void)
{
    auth_results a = {0};
    a.spf_done = true;
    a.spf = SPF_PASS;
    snprintf(a.spf_domain, sizeof a.spf_domain, "sender.example");
    a.dkim_done = true;
    a.ndkim = 2;
    a.dkim[0].result = DKIM_RES_PASS;
    snprintf(a.dkim[0].domain, sizeof a.dkim[0].domain, "sender.example");
    snprintf(a.dkim[0].selector, sizeof a.dkim[0].selector, "sel1");
    a.dkim[1].result = DKIM_RES_FAIL;
    a.dkim[1].testing = true;
    snprintf(a.dkim[1].domain, sizeof a.dkim[1].domain, "esp.example");
    snprintf(a.dkim[1].selector, sizeof a.dkim[1].selector, "s2");
    a.dmarc_done = true;
    snprintf(a.dmarc, sizeof a.dmarc, "pass");
    snprintf(a.dmarc_from, sizeof a.dmarc_from, "sender.example");
    a.arc_done = true;
    a.arc = ARC_RES_PASS;
    a.arc_sets = 2;
    snprintf(a.arc_sealer, sizeof a.arc_sealer, "lists.example");
    return a;
}

static void test_build(void **state)
{
    (void)state;
    auth_results a = sample();
    Bulwark__Envelope env = BULWARK__ENVELOPE__INIT;
    env.mail_from = "alice@sender.example";
    env.helo = "mx.sender.example";
    env.client_ip = "192.0.2.10";
    char *v = authres_build("mx.example.org", &a, &env);
    assert_string_equal(v, "mx.example.org;\r\n"
                           "\tspf=pass smtp.mailfrom=alice@sender.example;\r\n"
                           "\tdkim=pass header.d=sender.example header.s=sel1;\r\n"
                           "\tdkim=fail (test mode key) header.d=esp.example header.s=s2;\r\n"
                           "\tdmarc=pass header.from=sender.example;\r\n"
                           "\tarc=pass (i=2 d=lists.example) smtp.remote-ip=192.0.2.10");
    /* what we write reads back */
    authres *r = parse_ok(v);
    assert_string_equal(r->authserv_id, "mx.example.org");
    assert_int_equal(r->n, 5);
    assert_string_equal(authres_prop_get(&r->r[4], "smtp", "remote-ip"), "192.0.2.10");
    free(r);
    free(v);

    /* a sender's bytes go in only when harmless */
    env.mail_from = "\"odd user\"@sender.example";
    env.client_ip = "192.0.2.10\r\nX-Injected: 1";
    v = authres_build("mx.example.org", &a, &env);
    assert_non_null(strstr(v, "spf=pass smtp.mailfrom=sender.example;"));
    assert_null(strstr(v, "Injected"));
    assert_non_null(strstr(v, "arc=pass (i=2 d=lists.example)"));
    free(v);
    env.mail_from = "";
    env.helo = "evil\r\nX-Injected: 1";
    a.dkim_done = a.dmarc_done = a.arc_done = false;
    v = authres_build("mx.example.org", &a, &env);
    /* the null sender: HELO's domain from the SPF check instead of the raw HELO */
    assert_string_equal(v, "mx.example.org;\r\n\tspf=pass smtp.helo=sender.example");
    free(v);
    env.helo = "[192.0.2.1]";
    v = authres_build("mx.example.org", &a, &env);
    assert_string_equal(v, "mx.example.org;\r\n\tspf=pass smtp.helo=[192.0.2.1]");
    free(v);

    auth_results none = {0};
    v = authres_build("mx.example.org", &none, NULL);
    assert_string_equal(v, "mx.example.org; none");
    free(v);
    none.dkim_done = true; /* checked, no signature */
    none.arc_done = true; /* checked, no ARC */
    v = authres_build("mx.example.org", &none, NULL);
    assert_string_equal(v, "mx.example.org;\r\n\tdkim=none;\r\n\tarc=none");
    free(v);
}

static void test_find_ours(void **state)
{
    (void)state;
    const char *m = "Authentication-Results: mx.example.org; spf=pass\r\n"
                    "Received: by relay\r\n"
                    "authentication-results: other.example; dkim=pass\r\n"
                    "Authentication-Results:\r\n (forged) MX.Example.Org;\r\n dmarc=pass\r\n"
                    "Authentication-Results: mx.example.org.evil; dmarc=pass\r\n"
                    "Subject: Authentication-Results: mx.example.org;\r\n"
                    "\r\n"
                    "Authentication-Results: mx.example.org; in the body\r\n";
    unsigned idx[4];
    size_t n = authres_find_ours((const uint8_t *)m, strlen(m), "mx.example.org", idx, 4);
    assert_int_equal(n, 2);
    assert_int_equal(idx[0], 1);
    assert_int_equal(idx[1], 3);
    assert_int_equal(authres_find_ours((const uint8_t *)m, strlen(m), "mx.example.org", idx, 1), 1);
    assert_int_equal(authres_find_ours((const uint8_t *)m, strlen(m), "none.example", idx, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_rfc_examples), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_authserv_id),        cmocka_unit_test(test_build),
        cmocka_unit_test(test_find_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
