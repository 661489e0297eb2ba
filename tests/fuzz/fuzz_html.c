/* fuzz_html.c - node/html.c on arbitrary bytes: HTML, URLs in text, url_parse.
 *
 * The first byte picks a split point; the bytes after it are parsed as HTML whole
 * and the part before the split is also scanned as plain text. Invariants: the
 * visible text is valid UTF-8 of the length reported (no NUL inside) and never
 * starts or ends with whitespace; counts are bounded by the input; every URL has
 * its string, host and text, a known source, a host without upper case and a link
 * text of at most 256 bytes; url_parse gives the same flags and host again on
 * every URL found; text_find_urls reports spans inside the text, in order, never
 * empty; url_base_domain returns a suffix of the host. */
#include "fuzz.h"
#include "html.h"

#include <ctype.h>
#include <string.h>

static bool valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len = c < 0x80                   ? 1
                     : (c >= 0xC2 && c <= 0xDF) ? 2
                     : (c >= 0xE0 && c <= 0xEF) ? 3
                     : (c >= 0xF0 && c <= 0xF4) ? 4
                                                : 0;
        if (!len || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        if (c == 0xE0 && s[i + 1] < 0xA0)
            return false;
        if (c == 0xED && s[i + 1] >= 0xA0)
            return false;
        if (c == 0xF0 && s[i + 1] < 0x90)
            return false;
        if (c == 0xF4 && s[i + 1] >= 0x90)
            return false;
        i += len;
    }
    return true;
}

static void check_url(const char *url, unsigned want_flags, const char *want_host)
{
    char host[256];
    unsigned flags = url_parse(url, host, sizeof host);
    FUZZ_ASSERT(strlen(host) < sizeof host);
    if (want_host) {
        FUZZ_ASSERT(flags == want_flags);
        FUZZ_ASSERT(strcmp(host, want_host) == 0);
    }
    for (const char *p = host; *p; p++)
        FUZZ_ASSERT(!isupper((unsigned char)*p));
    if ((flags & (URL_DATA | URL_JAVASCRIPT | URL_MAILTO)))
        FUZZ_ASSERT(!*host);
    char base[256];
    url_base_domain(host, base, sizeof base);
    size_t hn = strlen(host), bn = strlen(base);
    FUZZ_ASSERT(bn <= hn);
    FUZZ_ASSERT(strcmp(host + hn - bn, base) == 0);
}

typedef struct {
    const char *text;
    size_t len;
    const char *last_end;
    size_t n;
} scan_ctx;

static bool on_url(const char *url, size_t n, void *arg)
{
    scan_ctx *c = arg;
    FUZZ_ASSERT(n > 0);
    FUZZ_ASSERT(url >= c->text && url + n <= c->text + c->len);
    FUZZ_ASSERT(url >= c->last_end);
    c->last_end = url + n;
    char buf[1024];
    size_t k = n < sizeof buf - 1 ? n : sizeof buf - 1;
    memcpy(buf, url, k);
    buf[k] = '\0';
    check_url(buf, 0, NULL);
    return ++c->n < 10000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = size > 1 ? (size_t)data[0] * (size - 1) / 255 : 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    html_doc *d = html_parse(body, len);
    size_t tn;
    const char *text = html_text(d, &tn);
    FUZZ_ASSERT(text && text[tn] == '\0' && strlen(text) == tn);
    FUZZ_ASSERT(valid_utf8((const unsigned char *)text, tn));
    if (tn) {
        FUZZ_ASSERT(!isspace((unsigned char)text[0]));
        FUZZ_ASSERT(!isspace((unsigned char)text[tn - 1]));
    }
    const html_stats *st = html_get_stats(d);
    FUZZ_ASSERT(st->text_len == tn);
    FUZZ_ASSERT(st->forms <= len && st->scripts <= len && st->images <= len);
    FUZZ_ASSERT(st->password_fields <= len && st->inputs <= len && st->iframes <= len);
    FUZZ_ASSERT(st->hidden_text <= len && st->tiny_text <= len);
    FUZZ_ASSERT(st->hidden_len <= 3 * len); /* an invalid byte becomes U+FFFD */
    FUZZ_ASSERT(st->event_handlers <= len && st->meta_refresh <= len && st->base_href <= len);

    const html_url *u;
    size_t nu = html_urls(d, &u);
    FUZZ_ASSERT(nu <= len);
    for (size_t i = 0; i < nu; i++) {
        FUZZ_ASSERT(u[i].url && u[i].host && u[i].text);
        FUZZ_ASSERT(*u[i].url);
        FUZZ_ASSERT(u[i].from == URL_FROM_HREF || u[i].from == URL_FROM_FORM ||
                    u[i].from == URL_FROM_IMG || u[i].from == URL_FROM_OTHER);
        FUZZ_ASSERT(strlen(u[i].text) <= 256);
        FUZZ_ASSERT(valid_utf8((const unsigned char *)u[i].text, strlen(u[i].text)));
        check_url(u[i].url, u[i].flags, u[i].host);
    }

    scan_ctx c = {.text = body, .len = split, .last_end = body};
    text_find_urls(body, split, on_url, &c);
    /* and over the visible text, as the message model does */
    c = (scan_ctx){.text = text, .len = tn, .last_end = text};
    text_find_urls(text, tn, on_url, &c);
    html_free(&d);
    FUZZ_ASSERT(d == NULL);
    return 0;
}
