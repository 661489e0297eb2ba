/* test_message.c - unit tests for node/message.c (the GMime model), the mime check
 * and the attachments check that read it.
 *
 * Covered: leaf parts in order with depth and declared types; file names from
 * Content-Disposition filename, Content-Type name, RFC 2231 (charset and
 * continuations) and RFC 2047 encodings; a message with no MIME structure; bytes
 * that are not a message (one raw pseudo-part); decoded base64/QP bytes and their
 * true types; text in UTF-8 from declared, wrong and missing charsets (uchardet);
 * HTML parts to visible text and URLs; every MSG_ANOM_* flag; a 2,000-part message
 * in bounded time and the MSG_MAX_PARTS cap; parsing from several threads; the mime
 * check's symbols; the attachments check blocking by final extension (case,
 * trailing dots and spaces), letting other names through, a configured list and
 * action, and refusing an absurd extension in the configuration. */
#include "filetype.h"
#include "message.h"
#include "pipeline.h"
#include "util.h"

#include <glib.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    assert_int_equal(p[0].depth, 2);
    assert_true(p[0].is_text);
    assert_false(p[0].is_html);
    assert_string_equal(p[1].content_type, "text/html");
    assert_true(p[1].is_html);
    assert_int_equal(p[2].depth, 1);
    assert_false(p[2].is_text);
    assert_null(p[2].text);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(p[i].index, i);
    assert_int_equal(msg_anomalies(m), 0);
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
    assert_int_equal(p[0].depth, 0);
    assert_true(p[0].is_text);
    assert_non_null(strstr(p[0].text, "just text"));
    assert_string_equal(p[0].text_charset, "us-ascii");
    assert_int_equal(msg_anomalies(m), 0); /* pure ASCII without a charset is fine */
    size_t tl;
    assert_non_null(strstr(msg_text(m, &tl), "just text"));
    assert_int_equal(tl, strlen(msg_text(m, &tl)));
    msg_destroy(&m);

    static const uint8_t junk[] = {0, 1, 2, 0xff, 0xfe, '\n', '\n', 0x80};
    m = msg_parse(junk, sizeof junk);
    assert_true(msg_broken(m));
    assert_int_equal(msg_anomalies(m), MSG_ANOM_UNPARSABLE);
    assert_non_null(strstr(msg_anomaly_detail(m, MSG_ANOM_UNPARSABLE), "8 bytes"));
    assert_int_equal(msg_parts(m, &p), 1); /* the raw bytes, for ClamAV and true types */
    assert_int_equal(p[0].len, sizeof junk);
    assert_memory_equal(p[0].data, junk, sizeof junk);
    assert_string_equal(p[0].content_type, "application/octet-stream");
    assert_string_not_equal(p[0].detected_type, "");
    assert_false(p[0].is_text);
    assert_null(p[0].text);
    msg_destroy(&m);

    m = msg_parse((const uint8_t *)"", 0);
    assert_true(msg_broken(m));
    assert_int_equal(msg_parts(m, &p), 1);
    assert_int_equal(p[0].len, 0);
    assert_string_equal(p[0].detected_type, "");
    msg_destroy(&m);

    m = parse("this is not a header line\nnor this\n");
    assert_true(msg_broken(m));
    assert_int_equal(msg_parts(m, &p), 1);
    assert_string_equal(p[0].detected_type, "text/plain");
    msg_destroy(&m);
}

/* A PE executable, as far as libmagic is concerned. */
static const uint8_t pe[64] = {'M', 'Z', 0x90, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0xff, 0xff};

static void test_decoded_bytes(void **state)
{
    (void)state;
    gchar *pe64 = g_base64_encode(pe, sizeof pe);
    char *raw = xasprintf(
        HDRS "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
             "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8g\r\nd29ybGQ=\r\n"
             "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nsoft=3D\r\n"
             "--b1\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\n"
             "Content-Disposition: attachment\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n"
             "--b1--\r\n",
        pe64);
    g_free(pe64);
    msg_model *m = parse(raw);
    free(raw);
    const msg_part *p;
    assert_int_equal(msg_parts(m, &p), 3);
    assert_int_equal(p[0].len, 11);
    assert_memory_equal(p[0].data, "hello world", 11);
    assert_string_equal(p[0].text, "hello world");
    assert_string_equal(p[0].detected_type, "text/plain");
    assert_string_equal(p[1].text, "caf\xc3\xa9 soft=");
    assert_int_equal(p[1].text_len, strlen("caf\xc3\xa9 soft="));
    assert_string_equal(p[1].text_charset, "utf-8");
    assert_int_equal(p[2].len, sizeof pe);
    assert_memory_equal(p[2].data, pe, sizeof pe);
    assert_string_equal(p[2].content_type, "application/pdf");
    assert_true(p[2].attachment);
    assert_true(filetype_is_executable(p[2].detected_type));
    assert_false(p[2].is_text);
    assert_int_equal(msg_anomalies(m), 0);
    size_t tl;
    assert_string_equal(msg_text(m, &tl), "hello world\ncaf\xc3\xa9 soft=");
    msg_destroy(&m);
}

/* ---- charsets ---- */

#define RU_1251                                                                                    \
    "\xcf\xf0\xe8\xe2\xe5\xf2, \xfd\xf2\xee \xf2\xe5\xf1\xf2\xee\xe2\xee\xe5 "                     \
    "\xf1\xee\xee\xe1\xf9\xe5\xed\xe8\xe5 \xee \xe4\xee\xf1\xf2\xe0\xe2\xea\xe5 "                  \
    "\xe2\xe0\xf8\xe5\xe3\xee "                                                                    \
    "\xe7\xe0\xea\xe0\xe7\xe0. \xcf\xee\xe6\xe0\xeb\xf3\xe9\xf1\xf2\xe0, "                         \
    "\xef\xee\xe4\xf2\xe2\xe5\xf0\xe4\xe8\xf2\xe5 \xe0\xe4\xf0\xe5\xf1."
#define RU_UTF8 "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" /* the first word */
#define JA_SJIS                                                                                    \
    "\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd\x81"                                                 \
    "A\x82\xb1\x82\xea\x82\xcd\x83"                                                                \
    "e\x83X\x83g\x82\xcc"                                                                          \
    "\x83\x81\x83"                                                                                 \
    "b\x83Z\x81[\x83W\x82\xc5\x82\xb7\x81"                                                         \
    "B\x82\xb2\x92\x8d\x95\xb6\x82\xcc\x94z"                                                       \
    "\x91\x97\x82\xc9\x82\xc2\x82\xa2\x82\xc4\x82\xa8\x92m\x82\xe7\x82\xb9\x82\xb5\x82\xdc\x82"    \
    "\xb7\x81"                                                                                     \
    "B"
#define JA_UTF8                                                                                    \
    "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf" /* the first word               \
                                                                    */

/* One text/plain part with the given Content-Type parameters and body. */
static msg_model *text_msg(const char *ct_params, const char *body)
{
    char *raw = xasprintf(HDRS "Content-Type: text/plain%s\r\n"
                               "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n",
                          ct_params, body);
    msg_model *m = parse(raw);
    free(raw);
    return m;
}

static const msg_part *only_part(const msg_model *m)
{
    const msg_part *p;
    assert_int_equal(msg_parts(m, &p), 1);
    assert_non_null(p[0].text);
    assert_true(g_utf8_validate(p[0].text, (gssize)p[0].text_len, NULL));
    assert_int_equal(strlen(p[0].text), p[0].text_len);
    return p;
}

static void test_charsets(void **state)
{
    (void)state;
    msg_model *m = text_msg("; charset=\"ISO-8859-1\"", "caf\xe9");
    const msg_part *p = only_part(m);
    assert_string_equal(p->charset, "iso-8859-1");
    assert_string_equal(p->text_charset, "iso-8859-1");
    assert_string_equal(p->text, "caf\xc3\xa9\r\n");
    assert_int_equal(msg_anomalies(m), 0);
    msg_destroy(&m);

    m = text_msg("; charset=utf-8", RU_UTF8);
    p = only_part(m);
    assert_non_null(strstr(p->text, RU_UTF8));
    assert_int_equal(msg_anomalies(m), 0);
    msg_destroy(&m);

    /* declared wrong: the bytes are not UTF-8, uchardet names them */
    m = text_msg("; charset=utf-8", RU_1251);
    p = only_part(m);
    assert_int_equal(msg_anomalies(m), MSG_ANOM_BAD_CHARSET);
    assert_string_equal(p->text_charset, "windows-1251");
    assert_non_null(strstr(p->text, RU_UTF8));
    assert_non_null(strstr(msg_anomaly_detail(m, MSG_ANOM_BAD_CHARSET), "'utf-8'"));
    msg_destroy(&m);

    /* declared unknown */
    m = text_msg("; charset=x-no-such-charset", "caf\xe9 au lait, cr\xe8me br\xfbl\xe9"
                                                "e");
    p = only_part(m);
    assert_true(msg_anomalies(m) & MSG_ANOM_BAD_CHARSET);
    assert_non_null(strstr(msg_anomaly_detail(m, MSG_ANOM_BAD_CHARSET), "unknown"));
    assert_non_null(strstr(p->text, "caf\xc3\xa9"));
    msg_destroy(&m);

    /* missing, 8-bit windows-1251 */
    m = text_msg("", RU_1251);
    p = only_part(m);
    assert_int_equal(msg_anomalies(m), MSG_ANOM_NO_CHARSET);
    assert_string_equal(p->charset, "");
    assert_string_equal(p->text_charset, "windows-1251");
    assert_non_null(strstr(p->text, RU_UTF8));
    assert_non_null(strstr(msg_anomaly_detail(m, MSG_ANOM_NO_CHARSET), "windows-1251"));
    msg_destroy(&m);

    /* missing, Shift_JIS */
    m = text_msg("", JA_SJIS);
    p = only_part(m);
    assert_int_equal(msg_anomalies(m), MSG_ANOM_NO_CHARSET);
    assert_string_equal(p->text_charset, "shift_jis");
    assert_non_null(strstr(p->text, JA_UTF8));
    msg_destroy(&m);

    /* NUL bytes never cut the text */
    m = msg_parse((const uint8_t *)HDRS "Content-Type: text/plain\r\n\r\na\0b\r\n",
                  sizeof HDRS "Content-Type: text/plain\r\n\r\na\0b\r\n" - 1);
    p = only_part(m);
    assert_string_equal(p->text, "a b\r\n");
    msg_destroy(&m);
}

/* ---- HTML and URLs ---- */

static const html_url *find_url(const msg_model *m, const char *url, unsigned from, size_t *at)
{
    const html_url *u;
    size_t n = msg_urls(m, &u);
    const html_url *hit = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(u[i].url, url) != 0 || u[i].from != from)
            continue;
        assert_null(hit); /* listed once */
        hit = &u[i];
        *at = i;
    }
    return hit;
}

static void test_html_and_urls(void **state)
{
    (void)state;
    msg_model *m = parse(HDRS "Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n"
                              "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
                              "<html><body><p>Hello <b>there</b></p>"
                              "<a href=\"http://html.example/x\">click</a></body></html>\r\n"
                              "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                              "Go to http://text.example/a now, or http://text.example/a again.\r\n"
                              "--b--\r\n");
    const msg_part *p;
    assert_int_equal(msg_parts(m, &p), 2);
    assert_true(p[0].is_html);
    assert_non_null(strstr(p[0].text, "Hello"));
    assert_non_null(strstr(p[0].text, "there"));
    assert_null(strstr(p[0].text, "<b>"));
    assert_null(strstr(p[0].text, "href"));
    size_t ht, tt;
    const html_url *h = find_url(m, "http://html.example/x", URL_FROM_HREF, &ht);
    const html_url *t = find_url(m, "http://text.example/a", URL_FROM_TEXT, &tt);
    assert_non_null(h);
    assert_non_null(t);
    assert_true(tt < ht); /* text URLs first */
    assert_int_equal(h->part, 0);
    assert_int_equal(t->part, 1);
    assert_string_equal(t->host, "text.example");
    assert_string_equal(t->text, "");
    size_t len;
    const char *all = msg_text(m, &len);
    assert_non_null(strstr(all, "Hello"));
    assert_non_null(strstr(all, "\nGo to"));
    assert_true(msg_html(m)->text_len > 0);
    msg_destroy(&m);

    /* <meta> charset of an HTML part without one in its Content-Type */
    m = parse(HDRS "Content-Type: text/html\r\n\r\n"
                   "<html><head><meta charset=\"iso-8859-1\"></head><body>caf\xe9</body></html>");
    assert_int_equal(msg_parts(m, &p), 1);
    assert_string_equal(p[0].text_charset, "iso-8859-1");
    assert_non_null(strstr(p[0].text, "caf\xc3\xa9"));
    assert_int_equal(msg_anomalies(m), 0);
    msg_destroy(&m);
}

/* ---- anomalies ---- */

static void expect_anomaly(const char *raw, unsigned flag, const char *detail)
{
    msg_model *m = parse(raw);
    if (!(msg_anomalies(m) & flag))
        fail_msg("anomaly %#x expected, got %#x for:\n%s", flag, msg_anomalies(m), raw);
    if (detail && !strstr(msg_anomaly_detail(m, flag), detail))
        fail_msg("detail '%s' lacks '%s'", msg_anomaly_detail(m, flag), detail);
    assert_false(msg_broken(m));
    msg_destroy(&m);
}

/* An attached HTML file (login page) counts like body HTML; a non-HTML attachment with
 * an .html name but binary content does not. */
static void test_html_attachment(void **state)
{
    (void)state;
    msg_model *m = parse(
        HDRS "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
             "--b1\r\nContent-Type: text/plain\r\n\r\nSee the attached page.\r\n"
             "--b1\r\nContent-Type: application/octet-stream\r\n"
             "Content-Disposition: attachment; filename=\"Login.HTML\"\r\n\r\n"
             "<html><body><form action=\"http://collect.example.net/p.php\">"
             "<input type=password name=p></form></body></html>\r\n"
             "--b1\r\nContent-Type: application/octet-stream\r\n"
             "Content-Disposition: attachment; filename=\"x.html\"\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQoLDA0ODw==\r\n--b1--\r\n");
    const msg_part *parts;
    assert_int_equal(msg_parts(m, &parts), 3);
    assert_true(parts[1].is_html);
    assert_false(parts[1].is_text);
    assert_non_null(parts[1].text);
    assert_false(parts[2].is_html);
    assert_null(parts[2].text);
    assert_int_equal(msg_html(m)->forms, 1);
    assert_int_equal(msg_html(m)->password_fields, 1);
    const html_url *u;
    size_t n = msg_urls(m, &u), forms = 0;
    for (size_t i = 0; i < n; i++)
        if ((u[i].from & URL_FROM_FORM) && strcmp(u[i].host, "collect.example.net") == 0)
            forms++;
    assert_int_equal(forms, 1);
    msg_destroy(&m);
}

static void test_anomalies(void **state)
{
    (void)state;
    expect_anomaly(HDRS "Content-Type: multipart/mixed\r\n\r\n"
                        "--x\r\nContent-Type: text/plain\r\n\r\nhidden\r\n--x--\r\n",
                   MSG_ANOM_NO_BOUNDARY, "multipart/mixed");
    expect_anomaly(HDRS "Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
                        "--zz\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
                        "--zz\r\nContent-Type: text/plain\r\n\r\nworld\r\n",
                   MSG_ANOM_MISSING_END, "--zz--");
    expect_anomaly(HDRS "Content-Type: multipart/mixed; boundary=out\r\n\r\n"
                        "--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n"
                        "--in\r\nContent-Type: text/plain\r\n\r\nx\r\n"
                        "--out\r\nContent-Type: text/plain\r\n\r\ny\r\n--out--\r\n",
                   MSG_ANOM_MISSING_END, "'--in--'");
    expect_anomaly(HDRS "Content-Type: text/plain\r\nContent-Transfer-Encoding: x-weird\r\n\r\n"
                        "body\r\n",
                   MSG_ANOM_BAD_CTE, "x-weird");
    expect_anomaly(HDRS "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                        "aGVsbG8*gd29ybGQ=!!\r\n",
                   MSG_ANOM_BAD_CTE, "base64");
    expect_anomaly(HDRS "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                        "aGVsbG8gd\r\n",
                   MSG_ANOM_BAD_CTE, "base64");
    expect_anomaly(HDRS "Content-Type: text/plain\r\n"
                        "Content-Transfer-Encoding: quoted-printable\r\n\r\nbad =ZZ escape\r\n",
                   MSG_ANOM_BAD_CTE, "quoted-printable");
    expect_anomaly(HDRS "Content-Type: text/plain; charset=klingon-8\r\n\r\n\xe9t\xe9\r\n",
                   MSG_ANOM_BAD_CHARSET, "klingon-8");
    expect_anomaly(HDRS "Content-Type: text/plain\r\n\r\n" RU_1251 "\r\n", MSG_ANOM_NO_CHARSET,
                   "part 0");
    expect_anomaly(HDRS "Content-Type: foo\r\n\r\nbody\r\n", MSG_ANOM_BAD_CONTENT_TYPE, "'foo'");
    expect_anomaly("From: a@example.com\r\nSubject: t\r\n"
                   "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                   "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n",
                   MSG_ANOM_NO_MIME_VERSION, "multipart/mixed");
    expect_anomaly(HDRS "Content-Type: multipart/mixed; boundary=e\r\n\r\npre\r\n--e--\r\n",
                   MSG_ANOM_EMPTY_MULTIPART, "'e'");
    char pre[400];
    memset(pre, 'w', sizeof pre - 1);
    pre[sizeof pre - 1] = '\0';
    char *raw = xasprintf(HDRS "Content-Type: multipart/mixed; boundary=b\r\n\r\n%s\r\n"
                               "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n",
                          pre);
    expect_anomaly(raw, MSG_ANOM_PREAMBLE_TEXT, "before the first boundary");
    free(raw);

    /* the usual one-line preamble is not an anomaly, nor anything in a clean message */
    msg_model *m = parse(HDRS "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                              "This is a multi-part message in MIME format.\r\n"
                              "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n");
    assert_int_equal(msg_anomalies(m), 0);
    assert_string_equal(msg_anomaly_detail(m, MSG_ANOM_PREAMBLE_TEXT), "");
    msg_destroy(&m);

    /* the content of a multipart without a boundary is still there to scan */
    m = parse(HDRS "Content-Type: multipart/mixed\r\n\r\nEICAR-LIKE-PAYLOAD\r\n");
    const msg_part *p;
    assert_int_equal(msg_parts(m, &p), 1);
    assert_non_null(memmem(p[0].data, p[0].len, "EICAR-LIKE-PAYLOAD", 18));
    msg_destroy(&m);
}

static void test_too_deep(void **state)
{
    (void)state;
    buf_t b = {0};
    buf_puts(&b, HDRS "Content-Type: multipart/mixed; boundary=b0\r\n\r\n");
    const int levels = MSG_MAX_DEPTH + 8;
    for (int i = 1; i < levels; i++)
        buf_printf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i - 1, i);
    buf_printf(&b, "--b%d\r\nContent-Type: text/plain\r\n\r\ndeep\r\n", levels - 1);
    for (int i = levels - 1; i >= 0; i--)
        buf_printf(&b, "--b%d--\r\n", i);
    msg_model *m = parse(b.data);
    buf_free(&b);
    assert_true(msg_anomalies(m) & MSG_ANOM_TOO_DEEP);
    assert_non_null(strstr(msg_anomaly_detail(m, MSG_ANOM_TOO_DEEP), "deeper than"));
    const msg_part *p;
    size_t n = msg_parts(m, &p);
    for (size_t i = 0; i < n; i++)
        assert_true(p[i].depth <= MSG_MAX_DEPTH);
    msg_destroy(&m);
}

static char *many_parts(int n)
{
    buf_t b = {0};
    buf_puts(&b, HDRS "Content-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n");
    for (int i = 0; i < n; i++)
        buf_printf(&b, "--sep\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\npart %d\r\n", i);
    buf_puts(&b, "--sep--\r\n");
    return b.data;
}

static void test_many_parts(void **state)
{
    (void)state;
    char *raw = many_parts(2000);
    /* CPU time of this thread, not wall time: a loaded CI machine must not fail it. */
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    msg_model *m = parse(raw);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    uint64_t us =
        (uint64_t)(c1.tv_sec - c0.tv_sec) * 1000000u + (uint64_t)((c1.tv_nsec - c0.tv_nsec) / 1000);
    free(raw);
    const msg_part *p;
    assert_int_equal(msg_parts(m, &p), 2000);
    assert_int_equal(msg_leaf_count(m), 2000);
    assert_string_equal(p[1999].text, "part 1999");
    assert_int_equal(msg_anomalies(m), 0);
    if (us > 2000000) /* sanitizer builds included */
        fail_msg("2,000 parts took %llu us of CPU", (unsigned long long)us);
    msg_destroy(&m);

    raw = many_parts(MSG_MAX_PARTS + 10);
    m = parse(raw);
    free(raw);
    assert_int_equal(msg_parts(m, &p), MSG_MAX_PARTS);
    assert_int_equal(msg_leaf_count(m), MSG_MAX_PARTS + 10);
    assert_true(msg_anomalies(m) & MSG_ANOM_TOO_MANY_PARTS);
    msg_destroy(&m);
}

/* Several threads parse at once (GMime, iconv, uchardet, libmagic per thread). */
static void *parse_loop(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        msg_model *m = text_msg("", RU_1251);
        const msg_part *p;
        if (msg_parts(m, &p) != 1 || strcmp(p[0].text_charset, "windows-1251") != 0)
            return (void *)1;
        msg_destroy(&m);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, parse_loop, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        assert_null(rc);
    }
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

static void test_mime_check(void **state)
{
    (void)state;
    pipeline *pl = make(NULL, NULL, NULL, NULL);
    scan_task *t;
    const Bulwark__ScanResult *r =
        scan_with(pl,
                  HDRS "Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
                       "--zz\r\nContent-Type: text/plain\r\n\r\nhello\r\n",
                  &t);
    assert_true(has_symbol(r, "MIME_MISSING_END"));
    assert_false(has_symbol(r, "MIME_UNPARSABLE"));
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_PASS);
    scan_task_destroy(&t);

    r = scan_with(pl, with_attachment("Content-Type: application/pdf; name=\"report.pdf\""), &t);
    for (size_t i = 0; i < r->n_symbols; i++)
        if (strncmp(r->symbols[i]->name, "MIME_", 5) == 0)
            fail_msg("clean message got %s", r->symbols[i]->name);
    scan_task_destroy(&t);

    r = scan_with(pl, "\x01\x02 not a message", &t);
    assert_true(has_symbol(r, "MIME_UNPARSABLE"));
    scan_task_destroy(&t);
    pipeline_release(&pl);

    pl = make("check.mime.max_parts", "3", NULL, NULL);
    char *raw = many_parts(4);
    r = scan_with(pl, raw, &t);
    assert_true(has_symbol(r, "MIME_TOO_MANY_PARTS"));
    scan_task_destroy(&t);
    free(raw);
    raw = many_parts(3);
    r = scan_with(pl, raw, &t);
    assert_false(has_symbol(r, "MIME_TOO_MANY_PARTS"));
    scan_task_destroy(&t);
    free(raw);
    pipeline_release(&pl);

    pl = make("check.mime.enabled", "no", NULL, NULL);
    r = scan_with(pl, "\x01\x02 not a message", &t);
    assert_false(has_symbol(r, "MIME_UNPARSABLE"));
    scan_task_destroy(&t);
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
        cmocka_unit_test(test_parts_and_names),   cmocka_unit_test(test_simple_and_garbage),
        cmocka_unit_test(test_decoded_bytes),     cmocka_unit_test(test_charsets),
        cmocka_unit_test(test_html_and_urls),     cmocka_unit_test(test_html_attachment),
        cmocka_unit_test(test_anomalies),         cmocka_unit_test(test_too_deep),
        cmocka_unit_test(test_many_parts),        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_mime_check),        cmocka_unit_test(test_blocked_extensions),
        cmocka_unit_test(test_bad_configuration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
