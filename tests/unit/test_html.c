/* test_html.c - unit tests for node/html.c (HTML to text and links, URLs in text,
 * url_parse, registrable domains) and the html check (node/checks/html.c).
 *
 * Covered: visible text (head, title, script, style and comments left out, entities
 * decoded, whitespace collapsed, blocks on their own lines); text hidden by style
 * left out and counted, tiny text counted; every other count in html_stats; links
 * with their visible text (trimmed, capped), form actions, images, frames, scripts,
 * meta refresh, fragments skipped; how tags, comments, raw text and odd quoting are
 * read; invalid UTF-8 and NUL bytes; the input, tag, attribute and depth bounds in
 * bounded time, quoting tricks included; parsing from several threads;
 * text_find_urls on URLs and on text that only looks like them; url_parse's every
 * flag and host; url_base_domain (co.uk, IP literals); and the check through the
 * pipeline: a phishing mail's symbols, a deceptive link and its exceptions, a clean
 * newsletter scoring under 2. */
#include "html.h"
#include "params.h"
#include "pipeline.h"
#include "util.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static html_doc *parse(const char *s)
{
    return html_parse(s, strlen(s));
}

static const char *text_of(const html_doc *d)
{
    size_t n;
    const char *t = html_text(d, &n);
    assert_int_equal(n, strlen(t));
    return t;
}

/* The n-th URL of the document, checking there are at least n+1. */
static const html_url *url_at(const html_doc *d, size_t i)
{
    const html_url *u;
    size_t n = html_urls(d, &u);
    if (i >= n)
        fail_msg("want URL #%zu, have %zu", i, n);
    return &u[i];
}

static size_t n_urls(const html_doc *d)
{
    const html_url *u;
    return html_urls(d, &u);
}

/* ---- visible text ---- */

static void test_visible_text(void **state)
{
    (void)state;
    html_doc *d = parse("<html><head><title>The title</title><style>p{color:red}</style>"
                        "<script>var x = '<b>no</b>';</script></head><body>"
                        "<p>Hello,\n   <b>world</b>!</p><!-- a comment -->"
                        "<div>caf&eacute; &amp; &lt;tea&gt;&nbsp;&#x263A;</div>"
                        "<ul><li>one</li><li>two</li></ul>line<br>break"
                        "<table><tr><td>a</td><td>b</td></tr></table></body></html>");
    assert_string_equal(text_of(d), "Hello, world!\ncaf\xC3\xA9 & <tea> \xE2\x98\xBA\none\ntwo\n"
                                    "line\nbreak\na b");
    const html_stats *st = html_get_stats(d);
    assert_int_equal(st->text_len, strlen(text_of(d)));
    assert_false(st->parse_error);
    assert_int_equal(st->scripts, 1);
    html_free(&d);
    assert_null(d);

    /* Inline elements do not split words; no leading or trailing whitespace. */
    d = parse("  <span>Hel</span><i>lo</i>   ");
    assert_string_equal(text_of(d), "Hello");
    html_free(&d);

    d = parse("");
    assert_string_equal(text_of(d), "");
    assert_int_equal(n_urls(d), 0);
    html_free(&d);

    d = html_parse(NULL, 0);
    assert_string_equal(text_of(d), "");
    html_free(&d);
    html_free(&d); /* twice is fine */
}

static void test_hidden_text(void **state)
{
    (void)state;
    html_doc *d = parse("<body><p>seen</p>"
                        "<div style=\"display: none\">gone1</div>"
                        "<span style='visibility:hidden'>gone2</span>"
                        "<span style='font-size:0px'>gone3</span>"
                        "<span style='FONT-SIZE: 1px !important'>gone4</span>"
                        "<span style='opacity:0'>gone5</span>"
                        "<span style='color:#fff;background-color:#FFFFFF'>gone6</span>"
                        "<div hidden>gone7</div>"
                        "<div style='max-height:0;overflow:hidden'>gone8</div>"
                        "<div style='text-indent:-9999px'>gone9</div>"
                        "<div style='display:none'><p>nested <b>only once</b></p></div>"
                        "<div style='display:none'>   </div>"
                        "<p>end</p></body>");
    assert_string_equal(text_of(d), "seen\nend");
    const html_stats *st = html_get_stats(d);
    assert_int_equal(st->hidden_text, 10);
    assert_true(st->hidden_len >= strlen("gone1gone2gone3gone4gone5gone6gone7gone8gone9"));
    html_free(&d);

    /* Text colour equal to an ancestor's background; a class between them makes the
     * background unknown (a stylesheet may paint it). */
    d = parse("<body bgcolor=white><font color=\"#FFF\">white on white</font>"
              "<div class=btn><font color=white>maybe visible</font></div>"
              "<table bgcolor=#000><tr><td><font color=white>white on black</font></td></tr>"
              "</table></body>");
    assert_string_equal(text_of(d), "maybe visible\nwhite on black");
    assert_int_equal(html_get_stats(d)->hidden_text, 1);
    html_free(&d);

    /* What a descendant can undo: visibility and a zero font size (the inline-block
     * whitespace trick), but not display:none. */
    d = parse("<div style='visibility:hidden'><span style='visibility:visible'>back</span></div>"
              "<div style='font-size:0'><span style='font-size:14px'>sized</span></div>"
              "<div style='display:none'><span style='display:block'>still gone</span></div>");
    assert_string_equal(text_of(d), "back\nsized");
    assert_int_equal(html_get_stats(d)->hidden_text, 1);
    html_free(&d);
}

static void test_tiny_text(void **state)
{
    (void)state;
    html_doc *d = parse("<p><font size=1>small print</font></p><p style='font-size:2px'>tiny</p>"
                        "<p><font size=\"1\"><font size=3>normal</font></font></p>"
                        "<p style='font-size:12px'>normal too</p>");
    assert_string_equal(text_of(d), "small print\ntiny\nnormal\nnormal too");
    assert_int_equal(html_get_stats(d)->tiny_text, 2);
    assert_int_equal(html_get_stats(d)->hidden_text, 0);
    html_free(&d);
}

static void test_stats(void **state)
{
    (void)state;
    html_doc *d = parse(
        "<html><head><meta http-equiv=\"Refresh\" content=\"0; URL='http://evil.example/x'\">"
        "<base href=\"http://base.example/\"><script src=\"http://cdn.example/a.js\"></script>"
        "</head><body onload=\"go()\"><form action=\"https://collect.example/post\" method=post>"
        "<input type=text name=user><input type=PASSWORD name=pw><input type=hidden name=h>"
        "<textarea></textarea><button onclick='x()' onmouseover='y()'>Go</button></form>"
        "<iframe src=\"http://frame.example/\"></iframe><object data=\"x.swf\"></object>"
        "<embed src=\"y.swf\"><img src=\"http://img.example/1.png\"><img src=\"cid:part1\">"
        "<script>alert(1)</script></body></html>");
    const html_stats *st = html_get_stats(d);
    assert_int_equal(st->forms, 1);
    assert_int_equal(st->password_fields, 1);
    assert_int_equal(st->inputs, 3);
    assert_int_equal(st->scripts, 2);
    assert_int_equal(st->event_handlers, 3);
    assert_int_equal(st->iframes, 3);
    assert_int_equal(st->meta_refresh, 1);
    assert_int_equal(st->base_href, 1);
    assert_int_equal(st->images, 2);
    assert_int_equal(st->hidden_text, 0);
    assert_string_equal(text_of(d), "Go");

    const html_url *u;
    size_t n = html_urls(d, &u);
    /* meta refresh, base, script src, form action, iframe, object, embed, img (the cid:
     * image is an internal reference, not a URL) */
    assert_int_equal(n, 8);
    assert_string_equal(u[0].url, "http://evil.example/x");
    assert_int_equal(u[0].from, URL_FROM_OTHER);
    assert_string_equal(u[0].host, "evil.example");
    assert_string_equal(u[1].url, "http://base.example/");
    assert_string_equal(u[2].host, "cdn.example");
    assert_int_equal(u[2].from, URL_FROM_OTHER);
    assert_string_equal(u[3].url, "https://collect.example/post");
    assert_int_equal(u[3].from, URL_FROM_FORM);
    assert_string_equal(u[4].host, "frame.example");
    assert_string_equal(u[5].url, "x.swf");
    assert_string_equal(u[5].host, "");
    assert_int_equal(u[5].flags, 0);
    assert_int_equal(u[7].from, URL_FROM_IMG);
    assert_string_equal(u[7].host, "img.example");
    html_free(&d);
}

static void test_links(void **state)
{
    (void)state;
    char big[2000];
    strcpy(big, "<a href='http://long.example/'>");
    for (int i = 0; i < 100; i++)
        strcat(big, "word ");
    strcat(big, "</a>");
    html_doc *d = parse(big);
    const html_url *u = url_at(d, 0);
    assert_true(strlen(u->text) <= 256);
    assert_true(strlen(u->text) >= 250);
    assert_memory_equal(u->text, "word word", 9);
    html_free(&d);

    d = parse("<p>Go to <a href=\"  https://www.PayPal.com/signin?x=1&amp;y=2 \">\n"
              "  <b>www.paypal.com</b>\n</a> now.</p>"
              "<a href=\"#top\">top</a><a name=anchor>no link</a>"
              "<a href=\"http://x.example/\"><img src=\"http://x.example/b.png\"></a>"
              "<map><area href=\"http://area.example/\" alt=x></map>"
              "<a href='mailto:info@example.com'>Mail <i>us</i></a>"
              "<a href=\"javascript:alert(1)\">click</a>"
              "<a href='http://a.example/'>first<a href='http://b.example/'>second</a></a>");
    assert_string_equal(text_of(d), "Go to www.paypal.com now.\ntopno linkMail usclickfirstsecond");
    u = url_at(d, 0);
    assert_string_equal(u->url, "https://www.PayPal.com/signin?x=1&y=2");
    assert_string_equal(u->host, "www.paypal.com");
    assert_string_equal(u->text, "www.paypal.com");
    assert_int_equal(u->from, URL_FROM_HREF);
    assert_int_equal(u->flags, 0);
    u = url_at(d, 1);
    assert_string_equal(u->url, "http://x.example/");
    assert_string_equal(u->text, "");
    assert_int_equal(url_at(d, 2)->from, URL_FROM_IMG);
    u = url_at(d, 3);
    assert_string_equal(u->url, "http://area.example/");
    assert_int_equal(u->from, URL_FROM_HREF);
    u = url_at(d, 4);
    assert_int_equal(u->flags, URL_MAILTO);
    assert_string_equal(u->text, "Mail us");
    u = url_at(d, 5);
    assert_int_equal(u->flags, URL_JAVASCRIPT);
    assert_string_equal(u->text, "click");
    assert_string_equal(url_at(d, 6)->text, "first");
    assert_string_equal(url_at(d, 7)->text, "second");
    assert_int_equal(n_urls(d), 8);
    html_free(&d);
}

static void test_tokens(void **state)
{
    (void)state;
    /* comments, doctypes, processing instructions and CDATA are not text; script
     * and style run to their own end tag; title and textarea hold no tags */
    html_doc *d = parse("<!DOCTYPE html><?xml version=1?><p>a<!-- <a href=http://c.example/>"
                        "--> b<!--[if mso]>outlook<![endif]--> <![CDATA[x]]>c</p>"
                        "<script>if (a<b && c>d) x = '</p><a href=http://s.example/>';</script>"
                        "<style>p > a { color: red }</style>"
                        "<title><a href='http://t.example/'>t</a></title>"
                        "<textarea><b>raw</b></textarea><p>1 < 2 > 0 &amp; x</p>"
                        "<P CLASS=X ONCLICK=go() data-x = 'y z' checked>up</P>"
                        "<a href=http://u.example/?a=1&b=2 title='it\"s'>unquoted</a>"
                        "<a href=\"http://v.example/\"title=\"no space\">v</a><p <=x>bad</p>");
    assert_string_equal(text_of(d), "a b c\n<b>raw</b>\n1 < 2 > 0 & x\nup\nunquotedv\nbad");
    assert_int_equal(html_get_stats(d)->event_handlers, 1);
    assert_int_equal(html_get_stats(d)->scripts, 1);
    assert_int_equal(n_urls(d), 2);
    assert_string_equal(url_at(d, 0)->url, "http://u.example/?a=1&b=2");
    assert_string_equal(url_at(d, 0)->text, "unquoted");
    assert_string_equal(url_at(d, 1)->url, "http://v.example/");
    html_free(&d);

    /* an unterminated comment or script hides the rest, as in a browser */
    d = parse("<p>x</p><!-- <p>y</p>");
    assert_string_equal(text_of(d), "x");
    html_free(&d);
    d = parse("<p>x</p><script> <p>y</p>");
    assert_string_equal(text_of(d), "x");
    html_free(&d);
}

static void test_bad_bytes(void **state)
{
    (void)state;
    static const char in[] = "<p>a\xff\xfe"
                             "b\0c \xC3\xA9 \xED\xA0\x80 \xF0\x9F\x98\x80</p><p>\xC3</p>";
    html_doc *d = html_parse(in, sizeof in - 1);
    size_t n;
    const char *t = html_text(d, &n);
    assert_string_equal(t, "a\xEF\xBF\xBD\xEF\xBF\xBD"
                           "b c \xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD \xF0\x9F\x98\x80\n"
                           "\xEF\xBF\xBD");
    html_free(&d);
    /* a UTF-16 byte order mark is not obeyed */
    d = html_parse("\xFF\xFEh\0i\0", 6);
    assert_non_null(strstr(text_of(d), "h i"));
    html_free(&d);
    /* a meta charset does not re-decode the UTF-8 the message model gives */
    d = parse("<meta charset=iso-8859-1><p>caf\xC3\xA9</p>");
    assert_string_equal(text_of(d), "caf\xC3\xA9");
    html_free(&d);
}

static double elapsed_since(uint64_t t0)
{
    return (double)(mono_ms() - t0) / 1000.0;
}

static void test_bounds(void **state)
{
    (void)state;
    /* 100,000 nested elements: the parser stops at its depth, in bounded time. */
    buf_t b = {0};
    for (int i = 0; i < 100000; i++)
        buf_puts(&b, "<div>");
    buf_puts(&b, "deep");
    uint64_t t0 = mono_ms();
    html_doc *d = html_parse(b.data, b.len);
    assert_true(html_get_stats(d)->parse_error);
    html_free(&d);
    buf_free(&b);

    /* Unclosed inline elements then many end tags that match none. */
    for (int i = 0; i < 400; i++)
        buf_puts(&b, "<b>");
    for (int i = 0; i < 90000; i++)
        buf_puts(&b, "</x>");
    buf_puts(&b, "<p>after</p>");
    d = html_parse(b.data, b.len);
    assert_non_null(strstr(text_of(d), "after"));
    html_free(&d);
    buf_free(&b);

    /* One tag with 200,000 attributes (libxml2 checks duplicates pairwise). */
    buf_puts(&b, "<p ");
    for (int i = 0; i < 200000; i++)
        buf_printf(&b, "a%d=\"x y\" ", i);
    buf_puts(&b, "onclick=x>text</p>");
    d = html_parse(b.data, b.len);
    assert_string_equal(text_of(d), "text");
    assert_int_equal(html_get_stats(d)->event_handlers, 0); /* past the bound */
    html_free(&d);
    buf_free(&b);

    /* Quoting tricks that would make a tag carry unbounded attributes into libxml2
     * if the bound were applied by guessing where libxml2's tags end. */
    buf_puts(&b, "<p ");
    for (int i = 0; i < 300000; i++)
        buf_printf(&b, "a%d=\"\"", i);
    buf_puts(&b, ">one</p><p \"a=\"> <p ");
    for (int i = 0; i < 300000; i++)
        buf_printf(&b, "b%d=1 ", i);
    buf_puts(&b, ">two</p>");
    d = html_parse(b.data, b.len);
    /* as in a browser: the value that opens at a="> runs to the next quote (none) */
    assert_string_equal(text_of(d), "one");
    html_free(&d);
    buf_free(&b);

    /* More than 4 MiB: cut, marked. */
    buf_puts(&b, "<p>start</p>");
    while (b.len < (5u << 20))
        buf_puts(&b, "<a href=\"http://many.example/\">link</a> ");
    d = html_parse(b.data, b.len);
    assert_true(html_get_stats(d)->parse_error);
    assert_true(n_urls(d) <= 4096);
    assert_true(n_urls(d) > 1000);
    assert_memory_equal(text_of(d), "start", 5);
    html_free(&d);
    buf_free(&b);
    assert_true(elapsed_since(t0) < 20.0);
}

static void *thread_parse(void *arg)
{
    const char *html = arg;
    for (int i = 0; i < 200; i++) {
        html_doc *d = parse(html);
        if (strcmp(text_of(d), "Hi there\nlink") != 0 || n_urls(d) != 1)
            return (void *)1;
        char base[64];
        url_base_domain("www.example.co.uk", base, sizeof base);
        if (strcmp(base, "example.co.uk") != 0)
            return (void *)1;
        html_free(&d);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    static const char html[] = "<p>Hi <b>there</b></p><p onclick=x><a href=//x.example/>link</a>"
                               "</p><p";
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_parse, (void *)html), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        assert_int_equal(pthread_join(th[i], &r), 0);
        assert_null(r);
    }
}

/* ---- URLs in text ---- */

typedef struct {
    char found[16][128];
    size_t n;
    size_t stop_after;
} found_urls;

static bool collect(const char *url, size_t n, void *ctx)
{
    found_urls *f = ctx;
    if (f->n < 16)
        snprintf(f->found[f->n++], sizeof f->found[0], "%.*s", (int)n, url);
    return !f->stop_after || f->n < f->stop_after;
}

static found_urls find(const char *text)
{
    found_urls f = {0};
    text_find_urls(text, strlen(text), collect, &f);
    return f;
}

static void expect_urls_v(const char *text, const char *const *want)
{
    found_urls f = find(text);
    size_t i = 0;
    for (; want[i]; i++) {
        if (i >= f.n)
            fail_msg("'%s': want '%s' as URL #%zu, found %zu", text, want[i], i, f.n);
        if (strcmp(f.found[i], want[i]) != 0)
            fail_msg("'%s': URL #%zu is '%s', want '%s'", text, i, f.found[i], want[i]);
    }
    if (f.n != i)
        fail_msg("'%s': found %zu URLs, want %zu (extra: '%s')", text, f.n, i, f.found[i]);
}

/* expect_urls(text, url..., NULL): the URLs text_find_urls finds, in order. */
#define expect_urls(text, ...) expect_urls_v(text, (const char *const[]){__VA_ARGS__})

static void test_text_find_urls(void **state)
{
    (void)state;
    expect_urls("see http://example.com/a?b=c#d now", "http://example.com/a?b=c#d", NULL);
    expect_urls("HTTPS://Example.COM/x.", "HTTPS://Example.COM/x", NULL);
    expect_urls("ftp://files.example.org/pub, and more", "ftp://files.example.org/pub", NULL);
    expect_urls("(see http://en.wikipedia.org/wiki/Foo_(bar)) ok",
                "http://en.wikipedia.org/wiki/Foo_(bar)", NULL);
    expect_urls("(http://example.com/x)", "http://example.com/x", NULL);
    expect_urls("<http://example.com/a.b.>", "http://example.com/a.b.", NULL);
    expect_urls("<URL:http://example.com/>", "http://example.com/", NULL);
    expect_urls("visit www.example.com!", "www.example.com", NULL);
    expect_urls("visit www.example.co.uk/path?q=1; thanks", "www.example.co.uk/path?q=1", NULL);
    expect_urls("go to paypal.com/login.", "paypal.com/login", NULL);
    expect_urls("Login at secure-bank.co.uk:8443/x now", "secure-bank.co.uk:8443/x", NULL);
    expect_urls("Site: example.org. Call us", "example.org", NULL);
    expect_urls("\"http://q.example/\"", "http://q.example/", NULL);
    expect_urls("a http://a.example b https://b.example/\tc www.c.example", "http://a.example",
                "https://b.example/", "www.c.example", NULL);
    expect_urls("\xE2\x80\x9Chttp://quoted.example/\xE2\x80\x9D", "http://quoted.example/", NULL);
    expect_urls("http://[::1]:8080/x", "http://[::1]:8080/x", NULL);
    expect_urls("x http://192.168.1.1/login y", "http://192.168.1.1/login", NULL);

    /* Not URLs. */
    expect_urls("invoice.pdf and report.docx, setup.exe, README.md, app.py", NULL);
    expect_urls("version 1.2.3 or 10.0.0.1 and v2.5", NULL);
    expect_urls("e.g. this, i.e. that, a.m. and U.S. too", NULL);
    expect_urls("mail john.doe@example.com or x@www.example.com", NULL);
    expect_urls("http:// and https:/broken and www. alone and www.nodot", NULL);
    expect_urls("example.notatld and .com alone and com.", NULL);
    expect_urls("foo_bar.com and -.com", NULL);
    expect_urls("", NULL);

    found_urls f = {.stop_after = 1};
    const char *two = "http://one.example http://two.example";
    text_find_urls(two, strlen(two), collect, &f);
    assert_int_equal(f.n, 1);

    /* Linear: a megabyte of near-misses in well under a second. */
    buf_t b = {0};
    for (int i = 0; i < 20000; i++)
        buf_puts(&b, "a.b.c.d.e.f.g..http:/x www.ww.");
    for (int i = 0; i < 100000; i++)
        buf_puts(&b, "((((");
    buf_puts(&b, "http://x.example/");
    for (int i = 0; i < 100000; i++)
        buf_puts(&b, ").,;");
    uint64_t t0 = mono_ms();
    f = (found_urls){0};
    text_find_urls(b.data, b.len, collect, &f);
    assert_true(elapsed_since(t0) < 2.0);
    assert_int_equal(f.n, 1);
    buf_free(&b);
}

/* ---- url_parse ---- */

static void expect_parse(const char *url, unsigned flags, const char *host)
{
    char h[256];
    memset(h, 'Z', sizeof h);
    unsigned got = url_parse(url, h, sizeof h);
    if (got != flags)
        fail_msg("url_parse('%s') = 0x%x, want 0x%x (host '%s')", url, got, flags, h);
    if (strcmp(h, host) != 0)
        fail_msg("url_parse('%s') host '%s', want '%s'", url, h, host);
}

static void test_url_parse(void **state)
{
    (void)state;
    expect_parse("http://www.Example.COM/path", 0, "www.example.com");
    expect_parse("https://example.com:443/", 0, "example.com");
    expect_parse("HTTPS://example.com.:80", 0, "example.com");
    expect_parse("//cdn.example.net/x.js", 0, "cdn.example.net");
    expect_parse("www.example.com/x", 0, "www.example.com");
    expect_parse("paypal.com/login", 0, "paypal.com");
    expect_parse("example.com:8080/x", URL_NONSTD_PORT, "example.com");
    expect_parse("images/logo.png", 0, "");
    expect_parse("/relative/path", 0, "");
    expect_parse("index.html", 0, "");
    expect_parse("tel:+15551234", 0, "");
    expect_parse(" \t\nhttp://ex\nample.com/", 0, "example.com");

    expect_parse("data:text/html;base64,PHNjcmlwdD4=", URL_DATA, "");
    expect_parse("DATA:image/png;base64,AA", URL_DATA, "");
    expect_parse("javascript:alert(1)", URL_JAVASCRIPT, "");
    expect_parse(" java\tscript:alert(1)", URL_JAVASCRIPT, "");
    expect_parse("VBScript:msgbox", URL_JAVASCRIPT, "");
    expect_parse("mailto:someone@example.com", URL_MAILTO, "");

    expect_parse("http://user:pass@evil.example/", URL_USERINFO, "evil.example");
    expect_parse("http://www.paypal.com@evil.example/", URL_USERINFO, "evil.example");
    expect_parse("http://a@b@evil.example/", URL_USERINFO, "evil.example");
    expect_parse("http://www.paypal.com%40evil.example/", URL_OBFUSCATED | URL_BAD,
                 "www.paypal.com@evil.example");

    expect_parse("http://192.168.0.1/login", URL_IP_HOST, "192.168.0.1");
    expect_parse("http://3232235777/", URL_IP_HOST | URL_OBFUSCATED, "3232235777");
    expect_parse("http://0xC0A80001/", URL_IP_HOST | URL_OBFUSCATED, "0xc0a80001");
    expect_parse("http://0300.0250.0.01/", URL_IP_HOST | URL_OBFUSCATED, "0300.0250.0.01");
    expect_parse("http://192.168.1/", URL_IP_HOST | URL_OBFUSCATED, "192.168.1");
    expect_parse("http://[2001:db8::1]:8080/", URL_IP_HOST | URL_NONSTD_PORT, "2001:db8::1");
    expect_parse("http://[::1]/", URL_IP_HOST, "::1");
    expect_parse("http://256.1.1.1/", 0, "256.1.1.1");
    expect_parse("http://1.2.3.4.5/", 0, "1.2.3.4.5");
    expect_parse("http://4294967296/", 0, "4294967296");

    expect_parse("http://xn--pypal-4ve.com/", URL_PUNYCODE, "xn--pypal-4ve.com");
    expect_parse("http://www.XN--80ak6aa92e.com/", URL_PUNYCODE, "www.xn--80ak6aa92e.com");
    expect_parse("http://axn--b.com/", 0, "axn--b.com");
    expect_parse("http://p\xD0\xB0ypal.com/", URL_PUNYCODE, "p\xD0\xB0ypal.com");

    expect_parse("http://example.com:8080/", URL_NONSTD_PORT, "example.com");
    expect_parse("ftp://example.com:21/", 0, "example.com");
    expect_parse("http://example.com:/", 0, "example.com");

    expect_parse("http://%65vil.example/", URL_OBFUSCATED, "evil.example");
    expect_parse("http:\\\\evil.example\\path", URL_OBFUSCATED, "evil.example");
    expect_parse("http:/\\evil.example/", URL_OBFUSCATED, "evil.example");
    expect_parse("\\\\evil.example/x", URL_OBFUSCATED, "evil.example");

    expect_parse("http://", URL_BAD, "");
    expect_parse("http:///path", 0, "path"); /* as browsers read it */
    expect_parse("https://user@/", URL_USERINFO | URL_BAD, "");
    expect_parse("http://exa mple.com/", URL_BAD, "exa mple.com");
    expect_parse("http://example.com:99999/", URL_BAD, "example.com");
    expect_parse("http://example.com:80x/", URL_BAD, "example.com");
    expect_parse("http://[::1/", URL_BAD, "");
    expect_parse("file:///etc/passwd", 0, "");

    /* a host longer than the caller's buffer is not written half */
    char small[8];
    assert_true(url_parse("http://longer-than-eight.example/", small, sizeof small) & URL_BAD);
    assert_string_equal(small, "");
    assert_int_equal(url_parse(NULL, small, sizeof small), URL_BAD);
}

static void test_base_domain(void **state)
{
    (void)state;
    char b[256];
    url_base_domain("www.example.co.uk", b, sizeof b);
    assert_string_equal(b, "example.co.uk");
    url_base_domain("a.b.example.com", b, sizeof b);
    assert_string_equal(b, "example.com");
    url_base_domain("example.com", b, sizeof b);
    assert_string_equal(b, "example.com");
    url_base_domain("user.github.io", b, sizeof b);
    assert_string_equal(b, "user.github.io");
    url_base_domain("192.168.0.1", b, sizeof b);
    assert_string_equal(b, "192.168.0.1");
    url_base_domain("2001:db8::1", b, sizeof b);
    assert_string_equal(b, "2001:db8::1");
    url_base_domain("localhost", b, sizeof b);
    assert_string_equal(b, "localhost");
    url_base_domain("", b, sizeof b);
    assert_string_equal(b, "");
    char tiny[5];
    url_base_domain("www.example.com", tiny, sizeof tiny);
    assert_string_equal(tiny, "exam");
}

/* ---- the check through the pipeline ---- */

static pipeline *make(const char *const *kv)
{
    params *cfg = params_new(&params_cluster);
    char err[512] = "";
    for (size_t i = 0; kv && kv[i]; i += 2)
        if (!params_set(cfg, kv[i], kv[i + 1], err, sizeof err))
            fail_msg("params_set %s: %s", kv[i], err);
    pipeline *p = pipeline_new(cfg, 1, err, sizeof err);
    if (!p)
        fail_msg("pipeline_new: %s", err);
    params_destroy(&cfg);
    return p;
}

#define HDRS                                                                                       \
    "From: news@shop.example\r\nTo: b@example.org\r\nSubject: t\r\n"                               \
    "Date: Tue, 24 Nov 2026 08:00:00 +0000\r\nMessage-ID: <t@shop.example>\r\n"                    \
    "MIME-Version: 1.0\r\n"

static char *html_mail(const char *html)
{
    return xasprintf(HDRS "Content-Type: text/html; charset=utf-8\r\n\r\n%s\r\n", html);
}

static char *alternative_mail(const char *text, const char *html)
{
    return xasprintf(HDRS "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
                          "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"
                          "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n"
                          "--b1--\r\n",
                     text, html);
}

typedef struct {
    scan_task *t;
    const Bulwark__ScanResult *r;
} scanned;

static scanned scan(pipeline *p, char *msg)
{
    scanned s;
    s.t = scan_task_new(p, "job-html", NULL, (const uint8_t *)msg, strlen(msg));
    scan_run(s.t);
    s.r = scan_result(s.t);
    return s;
}

static const Bulwark__Symbol *sym(const Bulwark__ScanResult *r, const char *name)
{
    for (size_t i = 0; i < r->n_symbols; i++)
        if (strcmp(r->symbols[i]->name, name) == 0)
            return r->symbols[i];
    return NULL;
}

/* The sum of the html check's symbols (HTML_* and URL_*). */
static double html_score(const Bulwark__ScanResult *r)
{
    double s = 0;
    for (size_t i = 0; i < r->n_symbols; i++)
        if (strncmp(r->symbols[i]->name, "HTML_", 5) == 0 ||
            strncmp(r->symbols[i]->name, "URL_", 4) == 0)
            s += r->symbols[i]->score;
    return s;
}

static void dump(const Bulwark__ScanResult *r)
{
    for (size_t i = 0; i < r->n_symbols; i++)
        print_message("  %s %.2f %s\n", r->symbols[i]->name, r->symbols[i]->score,
                      r->symbols[i]->detail ? r->symbols[i]->detail : "");
}

static void expect_sym(const Bulwark__ScanResult *r, const char *name, double score,
                       const char *detail_part)
{
    const Bulwark__Symbol *s = sym(r, name);
    if (!s) {
        dump(r);
        fail_msg("symbol %s missing", name);
    }
    if (fabs(s->score - score) > 1e-9)
        fail_msg("%s scored %g, want %g", name, s->score, score);
    if (detail_part && !strstr(s->detail, detail_part))
        fail_msg("%s detail '%s' lacks '%s'", name, s->detail, detail_part);
}

static void test_check_phishing(void **state)
{
    (void)state;
    pipeline *p = make(NULL);
    char *m = html_mail(
        "<html><head><meta http-equiv=refresh content='30;url=http://evil.example/'></head>"
        "<body onload='init()'><p>Dear customer, verify your account at "
        "<a href='http://192.168.10.5/paypal/login.php'>https://www.paypal.com/signin</a></p>"
        "<form action='http://collect.evil.example/post.php'><input name=email>"
        "<input type=password name=pw></form><script>track()</script>"
        "<iframe src='http://frame.evil.example/'></iframe>"
        "<div style='display:none'>good words</div><div style='display:none'>more</div>"
        "<span style='font-size:0'>and more</span><font size=1>tiny</font>"
        "<a href='http://www.paypal.com@evil.example/'>account</a>"
        "<a href='http://xn--pypal-gra.com/'>pay</a> <a href='https://bit.ly/abc'>short</a>"
        "<a href='http://evil.example:8080/'>port</a> <a href='http://%65vil.example/'>enc</a>"
        "<a href='data:text/html;base64,PHNjcmlwdD4='>doc</a>"
        "<a href='javascript:run()'>run</a><base href='http://evil.example/'></body></html>");
    scanned s = scan(p, m);
    expect_sym(s.r, "URL_DECEPTIVE_LINK", 4.0, "text shows 'www.paypal.com'");
    expect_sym(s.r, "URL_DECEPTIVE_LINK", 4.0, "goes to 'http://192.168.10.5/paypal/login.php'");
    expect_sym(s.r, "URL_IP_HOST", 2.0, "'http://192.168.10.5/paypal/login.php': 1 ");
    expect_sym(s.r, "URL_USERINFO", 3.0, "www.paypal.com@evil.example");
    expect_sym(s.r, "URL_PUNYCODE", 1.5, "'xn--pypal-gra.com' (p\xC3\xA4ypal.com)");
    expect_sym(s.r, "URL_SHORTENER", 0.5, "https://bit.ly/abc");
    expect_sym(s.r, "URL_NONSTD_PORT", 0.5, "evil.example:8080");
    expect_sym(s.r, "URL_OBFUSCATED", 2.0, "%65vil");
    expect_sym(s.r, "URL_DATA_URI", 2.0, "data:text/html");
    expect_sym(s.r, "URL_JAVASCRIPT", 3.0, "javascript:run()");
    expect_sym(s.r, "HTML_FORM", 1.0, "1 form(s), 2 input field(s)");
    expect_sym(s.r, "HTML_PASSWORD_FIELD", 3.0, "1 password field");
    expect_sym(s.r, "HTML_FORM_EXTERNAL_ACTION", 1.5, "http://collect.evil.example/post.php");
    expect_sym(s.r, "HTML_SCRIPT", 1.5, "1 <script>");
    expect_sym(s.r, "HTML_EVENT_HANDLER", 1.0, "1 on*");
    expect_sym(s.r, "HTML_IFRAME", 1.0, NULL);
    expect_sym(s.r, "HTML_HIDDEN_TEXT", 1.0, "3 element(s)");
    expect_sym(s.r, "HTML_TINY_TEXT", 0.5, NULL);
    expect_sym(s.r, "HTML_META_REFRESH", 1.5, NULL);
    expect_sym(s.r, "HTML_BASE_HREF", 0.5, NULL);
    expect_sym(s.r, "HTML_ONLY", 0.3, NULL);
    assert_null(sym(s.r, "URL_PUNYCODE_MIXED_SCRIPT")); /* p\u00e4ypal is all Latin */
    assert_null(sym(s.r, "HTML_TOO_COMPLEX"));
    assert_true(s.r->score >= 15.0);
    scan_task_destroy(&s.t);
    free(m);

    /* A Cyrillic 'а' in a Latin label; weights from score.NAME. */
    pipeline_release(&p);
    const char *kv[] = {"score.URL_PUNYCODE_MIXED_SCRIPT", "5", NULL};
    p = make(kv);
    m = html_mail("<a href='https://xn--pypal-4ve.com/'>Pay</a>");
    s = scan(p, m);
    expect_sym(s.r, "URL_PUNYCODE_MIXED_SCRIPT", 5.0, "xn--pypal-4ve.com");
    expect_sym(s.r, "URL_PUNYCODE", 1.5, "(p\xD0\xB0ypal.com)");
    scan_task_destroy(&s.t);
    free(m);
    /* the same host written in Unicode */
    m = html_mail("<a href='https://p\xD0\xB0ypal.com/'>Pay</a>");
    s = scan(p, m);
    expect_sym(s.r, "URL_PUNYCODE_MIXED_SCRIPT", 5.0, "p\xD0\xB0ypal.com");
    scan_task_destroy(&s.t);
    free(m);
    pipeline_release(&p);
}

static void test_check_deceptive(void **state)
{
    (void)state;
    pipeline *p = make(NULL);
    static const struct {
        const char *html;
        bool deceptive;
    } cases[] = {
        {"<a href='http://evil.example/x'>www.mybank.com</a>", true},
        {"<a href='http://evil.example/x'>Log in at mybank.com/login now</a>", true},
        {"<a href='https://login.mybank.com/x'>www.mybank.com</a>", false},
        {"<a href='https://www.example.co.uk/'>shop.example.co.uk</a>", false},
        {"<a href='https://other.co.uk/'>example.co.uk</a>", true},
        {"<a href='http://evil.example/x'>Click here</a>", false},
        {"<a href='http://evil.example/x'>invoice.pdf</a>", false},
        {"<a href='mailto:x@evil.example'>www.mybank.com</a>", false},
        {"<a href='http://evil.example/x'>support@mybank.com</a>", false},
        {"<a href='https://click.list-manage.com/track?u=1'>www.mybank.com</a>", false},
        {"<a href='https://eur01.safelinks.protection.outlook.com/?url=x'>www.mybank.com</a>",
         false},
        {"<a href='http://evil.example/x'><span style='display:none'>www.mybank.com</span>"
         "Pay</a>",
         false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *m = alternative_mail("plain", cases[i].html);
        scanned s = scan(p, m);
        if ((sym(s.r, "URL_DECEPTIVE_LINK") != NULL) != cases[i].deceptive) {
            dump(s.r);
            fail_msg("case %zu (%s): deceptive should be %d", i, cases[i].html, cases[i].deceptive);
        }
        assert_null(sym(s.r, "HTML_ONLY"));
        scan_task_destroy(&s.t);
        free(m);
    }
    pipeline_release(&p);

    /* The redirector list is configurable. */
    const char *kv[] = {"check.html.redirectors", "evil.example", NULL};
    p = make(kv);
    char *m = html_mail("<a href='http://t.evil.example/x'>www.mybank.com</a>");
    scanned s = scan(p, m);
    assert_null(sym(s.r, "URL_DECEPTIVE_LINK"));
    scan_task_destroy(&s.t);
    free(m);
    pipeline_release(&p);
}

static void test_check_newsletter(void **state)
{
    (void)state;
    pipeline *p = make(NULL);
    char *m = alternative_mail(
        "Spring sale at Shop Example: 20% off everything. https://www.shop.example/sale\r\n"
        "Unsubscribe: https://t.mailer-esp.example/u/abc123",
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Spring sale</title>"
        "<style>.btn{background:#e60023;color:#fff}</style></head>"
        "<body style='margin:0;background-color:#f4f4f4' bgcolor='#f4f4f4'>"
        "<div style='display:none;max-height:0;overflow:hidden;mso-hide:all'>"
        "20% off everything this weekend only</div>"
        "<table width='100%' cellpadding=0 cellspacing=0 border=0 bgcolor='#f4f4f4'><tr><td>"
        "<table width=600 align=center bgcolor='#ffffff'>"
        "<tr><td><a href='https://t.mailer-esp.example/c/aaa1'><img src='https://img.mailer-esp"
        ".example/logo.png' alt='Shop Example' width=200></a></td></tr>"
        "<tr><td style='font-family:Arial;font-size:16px;color:#333333'>"
        "<h1>Spring sale</h1><p>Everything is 20% off until Sunday.</p>"
        "<a class=btn href='https://t.mailer-esp.example/c/aaa2' style='color:#ffffff;"
        "background-color:#e60023;padding:10px'>Shop now</a></td></tr>"
        "<tr><td><a href='https://t.mailer-esp.example/c/aaa3'><img src='https://img.mailer-esp"
        ".example/p1.jpg' width=280></a><a href='https://t.mailer-esp.example/c/aaa4'>"
        "<img src='https://img.mailer-esp.example/p2.jpg' width=280></a></td></tr>"
        "<tr><td style='font-size:12px;color:#999999'><font size=1>You receive this because "
        "you subscribed at Shop Example, 1 Main St.</font><br>"
        "<a href='https://t.mailer-esp.example/u/abc123' style='color:#999999'>Unsubscribe</a>"
        " | <a href='https://t.mailer-esp.example/c/aaa5'>View in browser</a></td></tr>"
        "</table></td></tr></table>"
        "<img src='https://t.mailer-esp.example/o/open.gif' width=1 height=1 alt=''>"
        "</body></html>");
    scanned s = scan(p, m);
    double score = html_score(s.r);
    if (score >= 2.0) {
        dump(s.r);
        fail_msg("newsletter scored %g in the html check", score);
    }
    assert_null(sym(s.r, "URL_DECEPTIVE_LINK"));
    assert_null(sym(s.r, "HTML_HIDDEN_TEXT"));
    assert_null(sym(s.r, "HTML_ONLY"));
    scan_task_destroy(&s.t);
    free(m);
    pipeline_release(&p);
}

static void test_check_disabled(void **state)
{
    (void)state;
    const char *kv[] = {"check.html.enabled", "no", NULL};
    pipeline *p = make(kv);
    char *m = html_mail("<form><input type=password></form><script>x()</script>");
    scanned s = scan(p, m);
    assert_int_equal(html_score(s.r), 0);
    assert_null(sym(s.r, "HTML_PASSWORD_FIELD"));
    scan_task_destroy(&s.t);
    pipeline_release(&p);
    p = make(NULL);
    s = scan(p, m);
    expect_sym(s.r, "HTML_PASSWORD_FIELD", 3.0, NULL);
    scan_task_destroy(&s.t);
    free(m);
    pipeline_release(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_visible_text),
        cmocka_unit_test(test_hidden_text),
        cmocka_unit_test(test_tiny_text),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_links),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_text_find_urls),
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_base_domain),
        cmocka_unit_test(test_check_phishing),
        cmocka_unit_test(test_check_deceptive),
        cmocka_unit_test(test_check_newsletter),
        cmocka_unit_test(test_check_disabled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
