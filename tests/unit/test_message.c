/* test_message.c - unit tests for node/message.c (the GMime model) and the
 * attachments check that reads it.
 *
 * Covered: leaf parts in order with declared types; file names from
 * Content-Disposition filename, Content-Type name, RFC 2231 (charset and
 * continuations) and RFC 2047 encodings; a message with no MIME structure; bytes
 * that are not a message; the check blocking by final extension (case, trailing dots
 * and spaces), letting other names through, a configured list and action, and
 * refusing an absurd extension in the configuration. */
#include "message.h"
#include "pipeline.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static msg_model *parse(const char *s)
{
    return msg_parse((const uint8_t *)s, strlen(s));
}

#define HDRS                                                                                       \
    "From: a@example.com\r\nTo: b@example.org\r\nSubject: t\r\n"                                   \
    "Date: Tue, 24 Nov 2026 08:00:00 +0000\r\nMessage-ID: <t@example.com>\r\n"                     \
    "MIME-Version: 1.0\r\n"

static const char *with_attachment(const char *part_headers)
{
    static char m[4096];
    snprintf(m, sizeof m,
             HDRS "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                  "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nhello\r\n"
                  "--b1\r\n%s\r\n\r\nQUFBQQ==\r\n--b1--\r\n",
             part_headers);
    return m;
}

static void test_parts_and_names(void **state)
{
    (void)state;
    msg_model *m = parse(
        HDRS "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
             "--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n"
             "--b2\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
             "--b2\r\nContent-Type: TEXT/HTML\r\n\r\n<p>html</p>\r\n--b2--\r\n"
             "--b1\r\nContent-Type: application/pdf; name=\"by-type.pdf\"\r\n\r\nx\r\n"
             "--b1\r\nContent-Type: application/octet-stream\r\n"
             "Content-Disposition: attachment; filename=\"by-disposition.bin\"\r\n\r\nx\r\n"
             "--b1\r\nContent-Type: application/octet-stream\r\n"
             "Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.docx\r\n\r\nx\r\n"
             "--b1\r\nContent-Type: application/octet-stream; "
             "name=\"=?UTF-8?B?aW52b2ljZS5leGU=?=\"\r\n\r\nx\r\n"
             "--b1--\r\n");
    assert_false(msg_broken(m));
    const msg_part *p;
    size_t n = msg_parts(m, &p);
    assert_int_equal(n, 6);
    assert_string_equal(p[0].content_type, "text/plain");
    assert_string_equal(p[0].filename, "");
    assert_false(p[0].attachment);
    assert_string_equal(p[1].content_type, "text/html");
    assert_string_equal(p[2].filename, "by-type.pdf");
    assert_string_equal(p[2].content_type, "application/pdf");
    assert_string_equal(p[3].filename, "by-disposition.bin");
    assert_true(p[3].attachment);
    assert_string_equal(p[4].filename, "r\xc3\xa9sum\xc3\xa9.docx");
    assert_string_equal(p[5].filename, "invoice.exe");
    msg_destroy(&m);
    assert_null(m);
    msg_destroy(&m); /* NULL: no-op */
}

static void test_simple_and_garbage(void **state)
{
    (void)state;
    msg_model *m = parse("Subject: no mime\r\n\r\njust text\r\n");
    const msg_part *p;
    assert_false(msg_broken(m));
    assert_int_equal(msg_parts(m, &p), 1);
    assert_string_equal(p[0].content_type, "text/plain");
    msg_destroy(&m);

    static const uint8_t junk[] = {0, 1, 2, 0xff, 0xfe, '\n', '\n', 0x80};
    m = msg_parse(junk, sizeof junk);
    (void)msg_parts(m, &p); /* whatever GMime makes of it, no crash and no leak */
    msg_destroy(&m);
    m = msg_parse((const uint8_t *)"", 0);
    msg_destroy(&m);
}

/* ---- the attachments check ------------------------------------------------------- */

static const Bulwark__ScanResult *scan_with(pipeline *pl, const char *msg, scan_task **t)
{
    *t = scan_task_new(pl, "job", NULL, (const uint8_t *)msg, strlen(msg));
    scan_run(*t);
    return scan_result(*t);
}

static pipeline *make(const char *k1, const char *v1, const char *k2, const char *v2)
{
    params *p = params_new(&params_cluster);
    char err[256];
    if (k1)
        assert_true(params_set(p, k1, v1, err, sizeof err));
    if (k2)
        assert_true(params_set(p, k2, v2, err, sizeof err));
    pipeline *pl = pipeline_new(p, 1, err, sizeof err);
    params_destroy(&p);
    assert_non_null(pl);
    return pl;
}

static bool has_symbol(const Bulwark__ScanResult *r, const char *name)
{
    for (size_t i = 0; i < r->n_symbols; i++)
        if (strcmp(r->symbols[i]->name, name) == 0)
            return true;
    return false;
}

static void expect(pipeline *pl, const char *part_headers, bool blocked, Bulwark__Action a)
{
    scan_task *t;
    const Bulwark__ScanResult *r = scan_with(pl, with_attachment(part_headers), &t);
    if (has_symbol(r, "ATTACHMENT_BLOCKED") != blocked)
        fail_msg("%s: ATTACHMENT_BLOCKED %s expected", part_headers, blocked ? "" : "not");
    assert_int_equal(r->action, a);
    scan_task_destroy(&t);
}

static void test_blocked_extensions(void **state)
{
    (void)state;
    pipeline *pl = make(NULL, NULL, NULL, NULL);
    const Bulwark__Action REJECT = BULWARK__ACTION__ACTION_REJECT,
                          PASS = BULWARK__ACTION__ACTION_PASS;
    expect(pl, "Content-Type: application/octet-stream; name=\"setup.exe\"", true, REJECT);
    expect(pl, "Content-Type: application/octet-stream; name=\"INVOICE.PDF.EXE\"", true, REJECT);
    expect(pl, "Content-Disposition: attachment; filename=\"run.bat. . .\"", true, REJECT);
    expect(pl, "Content-Disposition: attachment; filename=\"=?UTF-8?Q?x=2Ejs?=\"", true, REJECT);
    expect(pl, "Content-Type: application/pdf; name=\"report.pdf\"", false, PASS);
    expect(pl, "Content-Type: application/octet-stream; name=\"exe\"", false, PASS);
    expect(pl, "Content-Type: application/octet-stream; name=\"archive.exe.zip\"", false, PASS);
    scan_task *t;
    const Bulwark__ScanResult *r =
        scan_with(pl, with_attachment("Content-Type: application/x; name=\"a.scr\""), &t);
    assert_string_equal(r->reason, "blocked attachment: a.scr");
    scan_task_destroy(&t);
    pipeline_release(&pl);

    pl = make("check.attachments.block", ".PDF, docm", "check.attachments.action", "quarantine");
    expect(pl, "Content-Type: application/pdf; name=\"report.pdf\"", true,
           BULWARK__ACTION__ACTION_QUARANTINE);
    expect(pl, "Content-Type: application/octet-stream; name=\"setup.exe\"", false, PASS);
    pipeline_release(&pl);

    pl = make("check.attachments.action", "none", NULL, NULL);
    expect(pl, "Content-Type: application/octet-stream; name=\"setup.exe\"", true,
           BULWARK__ACTION__ACTION_TAG); /* weight 10 alone: tag at the default thresholds */
    pipeline_release(&pl);
}

static void test_bad_configuration(void **state)
{
    (void)state;
    params *p = params_new(&params_cluster);
    char err[256] = "";
    assert_true(params_set(p, "check.attachments.block",
                           "exe,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", err,
                           sizeof err));
    assert_null(pipeline_new(p, 1, err, sizeof err));
    assert_non_null(strstr(err, "too long"));
    params_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_and_names),
        cmocka_unit_test(test_simple_and_garbage),
        cmocka_unit_test(test_blocked_extensions),
        cmocka_unit_test(test_bad_configuration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
