/* test_rspamd.c - reading rspamd's /checkv2 replies, and failing softly over HTTP.
 *
 * Replies are samples of what rspamd 3.4 answers (GTUBE, a clean message, an error),
 * then cut, garbled and hostile variants: each must parse or be refused, never crash
 * or read past its buffer (ASan). The HTTP cases use closed local ports only. */
#include "rspamd.h"
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testnet.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char gtube_reply[] =
    "{\"is_skipped\":true,\"score\":15.0,\"required_score\":15.0,\"action\":\"reject\","
    "\"symbols\":{\"GTUBE\":{\"name\":\"GTUBE\",\"score\":0.0,\"metric_score\":0.0}},"
    "\"messages\":{\"smtp_message\":\"Gtube pattern\"},\"message-id\":\"x1@example.com\","
    "\"time_real\":0.074517,\"milter\":{\"remove_headers\":{\"X-Spam\":0}}}";

static const char clean_reply[] =
    "{\n  \"is_skipped\": false, \"score\": 2.4, \"required_score\": 15.0,\n"
    "  \"action\": \"no action\",\n"
    "  \"symbols\": {\n"
    "    \"FROM_NO_DN\": {\"name\": \"FROM_NO_DN\", \"score\": 0.0, \"metric_score\": 0.0,\n"
    "                   \"description\": \"From header does not have a display name\"},\n"
    "    \"MIME_GOOD\": {\"name\": \"MIME_GOOD\", \"score\": -0.1, \"metric_score\": -0.1,\n"
    "                  \"options\": [\"text/plain\"]},\n"
    "    \"R_SPF_NA\": {\"score\": 0, \"options\": []},\n"
    "    \"HFILTER_HOSTNAME_UNKNOWN\": {\"name\": \"HFILTER_HOSTNAME_UNKNOWN\", \"score\": 2.5,\n"
    "       \"description\": \"Unknown client hostname (PTR or \\\"FCrDNS\\\" \\u00e9)\"},\n"
    "    \"BAYES_HAM\": {\"score\": -1e-1, \"options\": [\"99.00%\", {\"nested\": [1, true, "
    "null]}]},\n"
    "    \"ONE\": {\"score\": 0.3}, \"TWO\": {\"score\": 0.2}, \"THREE\": {\"score\": 1.1}\n"
    "  },\n"
    "  \"messages\": {}, \"message-id\": \"x2@example.com\", \"scan_time\": 0.0\n}\n";

static void test_parse_gtube(void **state)
{
    (void)state;
    rspamd_reply r;
    char err[256], d[512];
    assert_true(rspamd_parse(gtube_reply, strlen(gtube_reply), &r, err, sizeof err));
    assert_true(r.score == 15.0);
    assert_true(r.required == 15.0);
    assert_string_equal(r.action, "reject");
    assert_int_equal(r.nsymbols, 1);
    assert_int_equal(r.ntop, 1);
    assert_string_equal(r.top[0].name, "GTUBE");
    rspamd_describe(&r, d, sizeof d);
    assert_string_equal(d, "reject, score 15.00/15.00: GTUBE(0.00)");
}

static void test_parse_clean(void **state)
{
    (void)state;
    rspamd_reply r;
    char err[256], d[512];
    assert_true(rspamd_parse(clean_reply, strlen(clean_reply), &r, err, sizeof err));
    assert_true(r.score > 2.39 && r.score < 2.41);
    assert_string_equal(r.action, "no action");
    assert_int_equal(r.nsymbols, 8);
    assert_int_equal(r.ntop, RSPAMD_TOP);
    assert_string_equal(r.top[0].name, "HFILTER_HOSTNAME_UNKNOWN");
    assert_string_equal(r.top[1].name, "THREE");
    assert_string_equal(r.top[2].name, "ONE");
    rspamd_describe(&r, d, sizeof d);
    assert_non_null(strstr(d, "no action, score 2.40/15.00: HFILTER_HOSTNAME_UNKNOWN(2.50), "
                              "THREE(1.10), ONE(0.30)"));
    assert_non_null(strstr(d, " and 3 more"));
    /* A tiny buffer is cut, not overrun. */
    char small[12];
    rspamd_describe(&r, small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
}

static void test_parse_refused(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "null",
        "[]",
        "{}",
        "{\"score\": 3}",
        "{\"action\": \"reject\"}",
        "{\"score\": \"high\", \"action\": \"reject\"}",
        "{\"score\": 1, \"action\": \"reject\"",
        "{\"score\": 1, \"action\": \"reject\"} trailing",
        "{\"score\": 1, \"action\": \"rej",
        "{\"score\": 1e999, \"action\": \"reject\"}",
        "{\"score\": 1, \"action\": \"x\", \"symbols\": {\"A\": {\"score\": }}}",
        "{\"score\": 1, \"action\": \"x\", \"symbols\": {\"A\": [1, 2}}",
        "{\"score\": 1, \"action\": \"a\\q\"}",
        "{\"score\": 1, \"action\": \"a\\u12\"}",
        "{\"error\": \"Message has been truncated\"}",
        "<html><body>502 Bad Gateway</body></html>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rspamd_reply r;
        char err[256] = "";
        assert_false(rspamd_parse(bad[i], strlen(bad[i]), &r, err, sizeof err));
        assert_true(err[0] != '\0');
    }
    rspamd_reply r;
    char err[256];
    const char *e = "{\"error\": \"Message has been truncated\"}";
    assert_false(rspamd_parse(e, strlen(e), &r, err, sizeof err));
    assert_string_equal(err, "rspamd: Message has been truncated");
    assert_false(rspamd_parse(NULL, 0, &r, err, sizeof err));
}

static void test_parse_cut_everywhere(void **state)
{
    (void)state;
    /* Every prefix of a good reply (in its own allocation, so ASan sees any overread)
     * is refused; only the whole reply parses. */
    size_t n = strlen(clean_reply);
    for (size_t i = 0; i < n; i++) {
        char *p = malloc(i ? i : 1);
        memcpy(p, clean_reply, i);
        rspamd_reply r;
        char err[256];
        bool ok = rspamd_parse(p, i, &r, err, sizeof err);
        /* Cut inside the trailing whitespace the object is already complete. */
        assert_true(!ok || i >= n - 1);
        free(p);
    }
}

static void test_parse_deep(void **state)
{
    (void)state;
    buf_t b = {0};
    buf_puts(&b, "{\"score\": 1, \"action\": \"x\", \"deep\": ");
    for (int i = 0; i < 100000; i++)
        buf_puts(&b, "[");
    rspamd_reply r;
    char err[256];
    assert_false(rspamd_parse(b.data, b.len, &r, err, sizeof err));
    buf_free(&b);
    /* Long keys and names are cut. */
    char big[600];
    memset(big, 'A', sizeof big);
    buf_t c = {0};
    buf_printf(&c, "{\"score\": 1, \"action\": \"%.*s\", \"symbols\": {\"%.*s\": {\"score\": 2}}}",
               (int)sizeof big, big, (int)sizeof big, big);
    assert_true(rspamd_parse(c.data, c.len, &r, err, sizeof err));
    assert_int_equal(strlen(r.action), sizeof r.action - 1);
    assert_int_equal(strlen(r.top[0].name), sizeof r.top[0].name - 1);
    buf_free(&c);
}

static void test_scan_unreachable(void **state)
{
    (void)state;
    char url[64], err[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", testnet_closed_port(SOCK_STREAM));
    rspamd_reply r;
    const char msg[] = "Subject: x\r\n\r\nhello\r\n";
    for (int i = 0; i < 2; i++) { /* the thread's handle is reused */
        assert_false(rspamd_scan(url, 2000, "job-1", NULL, (const uint8_t *)msg, sizeof msg - 1, &r,
                                 err, sizeof err));
        assert_non_null(strstr(err, "/checkv2"));
    }
    rspamd_thread_done();
}

static void test_scan_timeout(void **state)
{
    (void)state;
    /* A listener that never answers: the timeout is kept. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    char url[64], err[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    rspamd_reply r;
    const char msg[] = "Subject: x\r\n\r\nhello\r\n";
    char *rcpt[] = {"a@example.org", "bad\r\nheader@example.org"};
    Bulwark__Envelope env = BULWARK__ENVELOPE__INIT;
    env.client_ip = "192.0.2.1";
    env.helo = "mx.example.com";
    env.mail_from = "x@example.com";
    env.n_rcpt = 2;
    env.rcpt = rcpt;
    assert_false(rspamd_scan(url, 300, "job-2", &env, (const uint8_t *)msg, sizeof msg - 1, &r, err,
                             sizeof err));
    assert_non_null(strstr(err, "imeout"));
    close(fd);
    rspamd_thread_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_gtube),   cmocka_unit_test(test_parse_clean),
        cmocka_unit_test(test_parse_refused), cmocka_unit_test(test_parse_cut_everywhere),
        cmocka_unit_test(test_parse_deep),    cmocka_unit_test(test_scan_unreachable),
        cmocka_unit_test(test_scan_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
