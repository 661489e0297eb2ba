/* html.c - phishing signals in HTML and URLs.
 *
 * Reads what the message model (node/message.c) took from the HTML parts (counts of
 * forms, password fields, scripts, hidden text: node/html.h) and every URL it found
 * with url_parse()'s flags. Each kind of signal adds its symbol once per message;
 * the detail quotes the first URL or host (capped, control bytes replaced) and says
 * how many there were. The strongest signal is URL_DECEPTIVE_LINK: a link whose
 * visible text shows a URL or host name of another registrable domain (libpsl) than
 * the one it goes to, unless it goes through a click-tracking service listed in
 * check.html.redirectors. Punycode hosts are decoded (libidn2) for the detail and
 * their labels checked for mixed scripts (ICU). */
#include "html.h"
#include "checks.h"
#include "message.h"
#include "util.h"

#include <idn2.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTE_MAX 120
#define HIDDEN_STUFFING 200 /* bytes of hidden text past what a preheader uses */

typedef struct {
    strlist shorteners;
    strlist redirectors;
} html_state;

static const symbol_def html_symbols[] = {
    {"HTML_FORM", 1.0, "The HTML holds a form"},
    {"HTML_PASSWORD_FIELD", 3.0, "The HTML holds a password field"},
    {"HTML_FORM_EXTERNAL_ACTION", 1.5, "An HTML form submits to a web address"},
    {"HTML_SCRIPT", 1.5, "The HTML holds scripts"},
    {"HTML_EVENT_HANDLER", 1.0, "The HTML has event handler attributes (onclick, onload...)"},
    {"HTML_IFRAME", 1.0, "The HTML embeds frames or objects"},
    {"HTML_HIDDEN_TEXT", 1.0, "The HTML hides text from the reader with style"},
    {"HTML_TINY_TEXT", 0.5, "The HTML has text in a tiny font"},
    {"HTML_META_REFRESH", 1.5, "The HTML redirects with a meta refresh"},
    {"HTML_BASE_HREF", 0.5, "The HTML sets a base URL for its links"},
    {"HTML_TOO_COMPLEX", 1.0, "The HTML is too large or too deeply nested to read in full"},
    {"HTML_ONLY", 0.3, "HTML without a plain text alternative"},
    {"URL_DECEPTIVE_LINK", 4.0, "A link's text shows another domain than the one it goes to"},
    {"URL_IP_HOST", 2.0, "A URL's host is a numeric IP address"},
    {"URL_USERINFO", 3.0, "A URL has a user name before its host (user@host)"},
    {"URL_PUNYCODE", 1.5, "A URL's host is an internationalised (punycode) name"},
    {"URL_PUNYCODE_MIXED_SCRIPT", 3.0, "A punycode host label mixes scripts (look-alike letters)"},
    {"URL_DATA_URI", 2.0, "A link or frame is a data: URI"},
    {"URL_JAVASCRIPT", 3.0, "A link is a javascript: or vbscript: URI"},
    {"URL_SHORTENER", 0.5, "A URL goes through a URL shortener"},
    {"URL_NONSTD_PORT", 0.5, "A URL has an explicit port other than 80 or 443"},
    {"URL_OBFUSCATED", 2.0,
     "A URL's host is obfuscated (percent-encoding, backslashes, "
     "numeric forms)"},
    {NULL, 0, NULL},
};

static void html_state_free(void *state)
{
    html_state *s = state;
    if (!s)
        return;
    strlist_free(&s->shorteners);
    strlist_free(&s->redirectors);
    free(s);
}

static bool html_init(const params *cfg, void **state, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    html_state *s = xcalloc(1, sizeof *s);
    check_param_list(cfg, "check.html.shorteners", &s->shorteners);
    check_param_list(cfg, "check.html.redirectors", &s->redirectors);
    *state = s;
    return true;
}

/* host is one of the listed domains or a subdomain of one. */
static bool host_in(const strlist *l, const char *host)
{
    size_t hn = strlen(host);
    for (size_t i = 0; i < l->n; i++) {
        size_t en = strlen(l->v[i]);
        if (hn == en && strcmp(host, l->v[i]) == 0)
            return true;
        if (hn > en && host[hn - en - 1] == '.' && strcmp(host + hn - en, l->v[i]) == 0)
            return true;
    }
    return false;
}

/* s for a detail: at most QUOTE_MAX bytes (cut on a UTF-8 boundary, "..." added),
 * control bytes as '?'. */
static const char *quote(const char *s, char *out, size_t outlen)
{
    size_t n = 0, max = outlen - 4 < QUOTE_MAX ? outlen - 4 : QUOTE_MAX;
    for (; n < max && s[n]; n++)
        out[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
    if (s[n]) {
        while (n && ((unsigned char)out[n] & 0xC0) == 0x80)
            n--;
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

/* ---- deceptive links ---- */

typedef struct {
    const char *url;
    size_t n;
} first_url;

static bool take_first(const char *url, size_t n, void *ctx)
{
    first_url *f = ctx;
    f->url = url;
    f->n = n;
    return false;
}

/* The host a link's text shows, when the text reads as a URL or host name. */
static bool text_host(const char *text, char *host, size_t hostlen)
{
    first_url f = {0};
    text_find_urls(text, strlen(text), take_first, &f);
    if (!f.url)
        return false;
    char buf[1024];
    size_t n = f.n < sizeof buf - 1 ? f.n : sizeof buf - 1;
    memcpy(buf, f.url, n);
    buf[n] = '\0';
    unsigned flags = url_parse(buf, host, hostlen);
    return *host && !(flags & URL_BAD);
}

/* Text and target of the link are on different registrable domains. */
static bool deceptive(const html_url *u, const html_state *s, char *shown, size_t shownlen)
{
    if (!(u->from & URL_FROM_HREF) || !*u->text || !*u->host ||
        (u->flags & (URL_MAILTO | URL_DATA | URL_JAVASCRIPT | URL_BAD)))
        return false;
    if (!text_host(u->text, shown, shownlen))
        return false;
    char a[256], b[256];
    url_base_domain(shown, a, sizeof a);
    url_base_domain(u->host, b, sizeof b);
    if (strcmp(a, b) == 0)
        return false;
    return !host_in(&s->redirectors, u->host);
}

/* ---- punycode ---- */

/* A label of the decoded host mixes scripts (Latin with Cyrillic, Greek...);
 * Latin with the Han, Kana, Hangul and Bopomofo of CJK names is allowed. */
static bool mixed_script(const char *utf8)
{
    const uint8_t *s = (const uint8_t *)utf8;
    int32_t len = (int32_t)strlen(utf8), i = 0;
    int seen[8], nseen = 0;
    while (i <= len) {
        if (i == len || s[i] == '.') {
            bool latin = false, cjk = false;
            for (int k = 0; k < nseen; k++) {
                latin |= seen[k] == USCRIPT_LATIN;
                cjk |= seen[k] == USCRIPT_HAN;
            }
            if (nseen > 2 || (nseen == 2 && !(latin && cjk)))
                return true;
            nseen = 0;
            i++;
            continue;
        }
        UChar32 c;
        U8_NEXT(s, i, len, c);
        if (c < 0)
            continue;
        UErrorCode err = U_ZERO_ERROR;
        int sc = uscript_getScript(c, &err);
        if (U_FAILURE(err) || sc == USCRIPT_COMMON || sc == USCRIPT_INHERITED ||
            sc == USCRIPT_UNKNOWN)
            continue;
        if (sc == USCRIPT_HIRAGANA || sc == USCRIPT_KATAKANA || sc == USCRIPT_HANGUL ||
            sc == USCRIPT_BOPOMOFO)
            sc = USCRIPT_HAN;
        bool have = false;
        for (int k = 0; k < nseen; k++)
            have |= seen[k] == sc;
        if (!have && nseen < 8)
            seen[nseen++] = sc;
    }
    return false;
}

/* ---- the run ---- */

typedef struct {
    const char *first;
    const char *extra; /* e.g. the decoded host */
    size_t n;
} finding;

enum {
    F_IP,
    F_USERINFO,
    F_PUNY,
    F_PUNY_MIXED,
    F_DATA,
    F_JS,
    F_SHORT,
    F_PORT,
    F_OBF,
    F_DECEPTIVE,
    F_FORM_EXT,
    F_COUNT
};

static void note(finding *f, const char *what)
{
    if (!f->n++)
        f->first = what;
}

static bool html_only(const msg_model *m)
{
    const msg_part *parts;
    size_t n = msg_parts(m, &parts);
    bool html = false;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].attachment || !parts[i].is_text)
            continue;
        if (!parts[i].is_html && parts[i].text_len)
            return false;
        html |= parts[i].is_html;
    }
    return html;
}

static void html_stats_symbols(scan_task *t, const html_stats *st, const finding *fx)
{
    char q[QUOTE_MAX + 4];
    if (st->password_fields)
        task_symbol(t, "HTML_PASSWORD_FIELD", "%u password field(s) in %u form(s)",
                    st->password_fields, st->forms);
    if (st->forms)
        task_symbol(t, "HTML_FORM", "%u form(s), %u input field(s)", st->forms,
                    st->inputs + st->password_fields);
    if (fx->n)
        task_symbol(t, "HTML_FORM_EXTERNAL_ACTION", "form submits to '%s'%s",
                    quote(fx->first, q, sizeof q), fx->n > 1 ? " (and others)" : "");
    if (st->scripts)
        task_symbol(t, "HTML_SCRIPT", "%u <script> element(s)", st->scripts);
    if (st->event_handlers)
        task_symbol(t, "HTML_EVENT_HANDLER", "%u on* attribute(s)", st->event_handlers);
    if (st->iframes)
        task_symbol(t, "HTML_IFRAME", "%u iframe/frame/object/embed element(s)", st->iframes);
    /* One hidden preheader is what newsletters do; more, or much text, is stuffing. */
    if (st->hidden_text >= 3 || (st->hidden_text && st->hidden_len >= HIDDEN_STUFFING))
        task_symbol(t, "HTML_HIDDEN_TEXT", "%u element(s) with hidden text (%zu bytes)",
                    st->hidden_text, st->hidden_len);
    if (st->tiny_text)
        task_symbol(t, "HTML_TINY_TEXT", "%u element(s) with tiny text", st->tiny_text);
    if (st->meta_refresh)
        task_symbol(t, "HTML_META_REFRESH", "%u <meta http-equiv=refresh>", st->meta_refresh);
    if (st->base_href)
        task_symbol(t, "HTML_BASE_HREF", "%u <base href>", st->base_href);
    if (st->parse_error)
        task_symbol(t, "HTML_TOO_COMPLEX",
                    "HTML cut at the parser's limits; the rest was not "
                    "checked");
}

static void url_symbol(scan_task *t, const char *name, const finding *f, const char *what)
{
    if (!f->n)
        return;
    char q[QUOTE_MAX + 4], x[QUOTE_MAX + 4];
    if (f->extra)
        task_symbol(t, name, "'%s' (%s): %zu %s", quote(f->first, q, sizeof q),
                    quote(f->extra, x, sizeof x), f->n, what);
    else
        task_symbol(t, name, "'%s': %zu %s", quote(f->first, q, sizeof q), f->n, what);
}

static void html_run(scan_task *t, const void *state)
{
    const html_state *s = state;
    const msg_model *m = task_message(t);
    const html_url *u;
    size_t n = msg_urls(m, &u);
    finding f[F_COUNT] = {{0}};
    char shown[256], deceptive_text[600] = "";
    char *puny_unicode = NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned fl = u[i].flags;
        if (fl & URL_IP_HOST)
            note(&f[F_IP], u[i].url);
        if (fl & URL_USERINFO)
            note(&f[F_USERINFO], u[i].url);
        if (fl & URL_OBFUSCATED)
            note(&f[F_OBF], u[i].url);
        if (fl & URL_NONSTD_PORT)
            note(&f[F_PORT], u[i].url);
        if ((fl & URL_DATA) && !(u[i].from & URL_FROM_IMG))
            note(&f[F_DATA], u[i].url);
        if (fl & URL_JAVASCRIPT)
            note(&f[F_JS], u[i].url);
        if (*u[i].host && host_in(&s->shorteners, u[i].host))
            note(&f[F_SHORT], u[i].url);
        if ((u[i].from & URL_FROM_FORM) && *u[i].host)
            note(&f[F_FORM_EXT], u[i].url);
        if (fl & URL_PUNYCODE) {
            bool unicode = false; /* written in Unicode already, not as xn-- */
            for (const char *c = u[i].host; *c && !unicode; c++)
                unicode = (unsigned char)*c >= 0x80;
            char *idn = NULL;
            bool ok = unicode || (idn2_to_unicode_8z8z(u[i].host, &idn, 0) == IDN2_OK && idn);
            const char *dec = unicode ? u[i].host : idn;
            if (ok && mixed_script(dec))
                note(&f[F_PUNY_MIXED], u[i].host);
            if (!f[F_PUNY].n && ok)
                puny_unicode = xstrdup(dec);
            note(&f[F_PUNY], u[i].host);
            idn2_free(idn);
        }
        if (deceptive(&u[i], s, shown, sizeof shown)) {
            if (!f[F_DECEPTIVE].n) {
                char a[QUOTE_MAX + 4], b[QUOTE_MAX + 4];
                snprintf(deceptive_text, sizeof deceptive_text, "text shows '%s', goes to '%s'",
                         quote(shown, a, sizeof a), quote(u[i].url, b, sizeof b));
            }
            note(&f[F_DECEPTIVE], u[i].url);
        }
    }
    if (f[F_DECEPTIVE].n)
        task_symbol(t, "URL_DECEPTIVE_LINK", "%s: %zu link(s)", deceptive_text, f[F_DECEPTIVE].n);
    f[F_PUNY].extra = puny_unicode;
    url_symbol(t, "URL_IP_HOST", &f[F_IP], "URL(s) with an IP host");
    url_symbol(t, "URL_USERINFO", &f[F_USERINFO], "URL(s) with user@ before the host");
    url_symbol(t, "URL_PUNYCODE", &f[F_PUNY], "punycode host(s)");
    url_symbol(t, "URL_PUNYCODE_MIXED_SCRIPT", &f[F_PUNY_MIXED], "host(s) mixing scripts");
    url_symbol(t, "URL_DATA_URI", &f[F_DATA], "data: link(s)");
    url_symbol(t, "URL_JAVASCRIPT", &f[F_JS], "script link(s)");
    url_symbol(t, "URL_SHORTENER", &f[F_SHORT], "shortened URL(s)");
    url_symbol(t, "URL_NONSTD_PORT", &f[F_PORT], "URL(s) with an unusual port");
    url_symbol(t, "URL_OBFUSCATED", &f[F_OBF], "obfuscated URL(s)");
    free(puny_unicode);

    html_stats_symbols(t, msg_html(m), &f[F_FORM_EXT]);
    if (html_only(m))
        task_symbol(t, "HTML_ONLY", "text/html without a text/plain part");
}

const check_def check_html = {
    .name = "html",
    .symbols = html_symbols,
    .init = html_init,
    .run = html_run,
    .free = html_state_free,
};
