/* html.c - HTML to visible text, links and phishing counts; URLs in plain text.
 *
 * html_parse() first re-tokenises the input (at most HTML_MAX_INPUT bytes and
 * HTML_MAX_TAGS tags) into a canonical form: valid UTF-8, every attribute quoted,
 * at most HTML_MAX_ATTRS per tag, no comments or doctypes, raw text kept to its end
 * tag. libxml2 then reads tags exactly as we cut them, so its quadratic paths (the
 * pairwise duplicate-attribute check, end-tag searches down the open-element stack)
 * stay bounded whatever the quoting tricks; its HTML parser runs in SAX mode (no
 * tree) and is stopped at HTML_MAX_DEPTH open elements. Any cut sets
 * stats.parse_error. A stack of frames mirrors the open elements and carries what
 * CSS would inherit: hidden (display, visibility, opacity, zero height, off-screen,
 * text colour equal to a background colour both given in attributes), tiny, skipped
 * (head, title, script, style, template: title is not shown in the body, so it is
 * not visible text), and the open link whose visible text is collected. Text is
 * collapsed as a browser shows it: whitespace runs to one space, blocks to newlines.
 *
 * text_find_urls() is one linear pass; url_parse() reads the authority the way
 * browsers do (last '@', backslashes, numeric IPv4 forms). url_base_domain() uses
 * libpsl (psl_latest: Debian's /usr/share/publicsuffix list, or the built-in one),
 * loaded once. Everything a doc returns lives until html_free(). */
#include "html.h"
#include "json.h"
#include "util.h"

#include <libpsl.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTML_MAX_INPUT (4u << 20) /* bytes of HTML read */
#define HTML_MAX_TAGS 100000 /* tags (start, end, comments) read */
#define HTML_MAX_ATTRS 64 /* attribute tokens per tag; more are blanked */
#define HTML_MAX_DEPTH 512 /* open elements; the parser stops beyond */
#define HTML_MAX_URLS 4096
#define HTML_MAX_URL_LEN 8192
#define HTML_LINK_TEXT 256 /* bytes of a link's visible text kept */
#define HTML_HOST_MAX 256
#define COLOR_MAX 24

/* ---- a text builder that collapses whitespace ---- */

typedef struct {
    buf_t b;
    bool space, nl; /* a separator is pending before the next visible byte */
    size_t limit; /* stop growing past this many bytes */
} tbuild;

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void tb_break(tbuild *t, bool newline)
{
    if (newline)
        t->nl = true;
    else
        t->space = true;
}

static void tb_add(tbuild *t, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && t->b.len < t->limit) {
        unsigned char c = (unsigned char)s[i];
        if (is_ws(c)) {
            t->space = true;
            i++;
            continue;
        }
        if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xA0) { /* no-break space */
            t->space = true;
            i += 2;
            continue;
        }
        size_t j = i + 1;
        while (j < n && !is_ws((unsigned char)s[j]) &&
               !((unsigned char)s[j] == 0xC2 && j + 1 < n && (unsigned char)s[j + 1] == 0xA0))
            j++;
        if (t->b.len)
            if (t->nl || t->space)
                buf_append(&t->b, t->nl ? "\n" : " ", 1);
        t->nl = t->space = false;
        buf_append(&t->b, s + i, j - i);
        i = j;
    }
}

/* ---- the document ---- */

struct html_doc {
    html_stats stats;
    char *text;
    size_t text_len;
    html_url *urls;
    char **mem; /* per URL: the block holding url and host */
    char **ltext; /* per URL: the link text, or NULL */
    size_t n_urls, cap;
};

/* ---- element table ---- */

enum {
    T_SKIP = 1u << 0, /* content is not visible text */
    T_BLOCK = 1u << 1, /* a newline before and after */
    T_CELL = 1u << 2, /* a space before and after */
    T_BR = 1u << 3,
};

typedef struct {
    const char *name;
    unsigned flags;
} tag_def;

/* Sorted by name for bsearch. */
static const tag_def tags[] = {
    {"address", T_BLOCK},    {"article", T_BLOCK},  {"aside", T_BLOCK},   {"blockquote", T_BLOCK},
    {"body", T_BLOCK},       {"br", T_BR},          {"caption", T_BLOCK}, {"center", T_BLOCK},
    {"dd", T_BLOCK},         {"details", T_BLOCK},  {"dialog", T_BLOCK},  {"dir", T_BLOCK},
    {"div", T_BLOCK},        {"dl", T_BLOCK},       {"dt", T_BLOCK},      {"fieldset", T_BLOCK},
    {"figcaption", T_BLOCK}, {"figure", T_BLOCK},   {"footer", T_BLOCK},  {"form", T_BLOCK},
    {"frameset", T_BLOCK},   {"h1", T_BLOCK},       {"h2", T_BLOCK},      {"h3", T_BLOCK},
    {"h4", T_BLOCK},         {"h5", T_BLOCK},       {"h6", T_BLOCK},      {"head", T_SKIP},
    {"header", T_BLOCK},     {"hr", T_BLOCK},       {"html", T_BLOCK},    {"iframe", T_SKIP},
    {"legend", T_BLOCK},     {"li", T_BLOCK},       {"main", T_BLOCK},    {"menu", T_BLOCK},
    {"nav", T_BLOCK},        {"noembed", T_SKIP},   {"noframes", T_SKIP}, {"object", T_SKIP},
    {"ol", T_BLOCK},         {"option", T_BLOCK},   {"p", T_BLOCK},       {"pre", T_BLOCK},
    {"script", T_SKIP},      {"section", T_BLOCK},  {"select", T_BLOCK},  {"style", T_SKIP},
    {"summary", T_BLOCK},    {"table", T_BLOCK},    {"tbody", T_BLOCK},   {"td", T_CELL},
    {"template", T_SKIP},    {"textarea", T_BLOCK}, {"tfoot", T_BLOCK},   {"th", T_CELL},
    {"thead", T_BLOCK},      {"title", T_SKIP},     {"tr", T_BLOCK},      {"ul", T_BLOCK},
};

static int tag_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const tag_def *)elem)->name);
}

static unsigned tag_flags(const char *name)
{
    const tag_def *t = bsearch(name, tags, sizeof tags / sizeof tags[0], sizeof tags[0], tag_cmp);
    return t ? t->flags : 0;
}

/* ---- parser state ---- */

typedef struct {
    const char *name; /* interned in the parser's dictionary */
    unsigned flags; /* T_* */
    bool hidden_fixed; /* display:none and the like: no descendant can undo it */
    bool vis_hidden; /* visibility:hidden (a descendant may say visible) */
    bool zero_font; /* font-size 0/1px (a descendant may set a size) */
    bool tiny;
    bool skip;
    bool counted; /* this frame is a hidden/tiny root already counted */
    int hroot, troot; /* frame that made the text hidden / tiny, -1 */
    int fg, bg; /* frame holding the text / background colour, -1 unknown */
    int link; /* frame that owns the open link, -1 */
    int url; /* this frame's link: index in the doc's URLs, -1 */
    char color[COLOR_MAX], bgcolor[COLOR_MAX];
    tbuild lt; /* link text, when this frame owns a link */
} frame;

typedef struct {
    html_doc *doc;
    htmlParserCtxtPtr ctxt;
    frame *f;
    int depth, cap;
    bool stopped;
    tbuild text;
} parser;

static bool eff_hidden(const frame *f)
{
    return f->hidden_fixed || f->vis_hidden || f->zero_font;
}

static void stop(parser *p)
{
    if (p->stopped)
        return;
    p->stopped = true;
    p->doc->stats.parse_error = true;
    xmlStopParser(p->ctxt);
}

/* ---- URLs found in attributes ---- */

static const char *trim_span(const char *s, size_t *n)
{
    size_t len = strlen(s);
    while (len && (unsigned char)*s <= 0x20) {
        s++;
        len--;
    }
    while (len && (unsigned char)s[len - 1] <= 0x20)
        len--;
    *n = len;
    return s;
}

static int add_url(parser *p, const char *value, unsigned from)
{
    html_doc *d = p->doc;
    size_t n;
    const char *v = trim_span(value, &n);
    if (!n || *v == '#' || (n >= 4 && strncasecmp(v, "cid:", 4) == 0) ||
        (n >= 6 && strncasecmp(v, "about:", 6) == 0))
        return -1;
    if (d->n_urls >= HTML_MAX_URLS)
        return -1;
    if (n > HTML_MAX_URL_LEN)
        n = HTML_MAX_URL_LEN;
    if (d->n_urls == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->urls = xrealloc(d->urls, d->cap * sizeof *d->urls);
        d->mem = xrealloc(d->mem, d->cap * sizeof *d->mem);
        d->ltext = xrealloc(d->ltext, d->cap * sizeof *d->ltext);
    }
    char *m = xmalloc(n + 1 + HTML_HOST_MAX);
    memcpy(m, v, n);
    m[n] = '\0';
    char *host = m + n + 1;
    unsigned flags = url_parse(m, host, HTML_HOST_MAX);
    html_url *u = &d->urls[d->n_urls];
    *u = (html_url){.url = m, .host = host, .text = "", .from = from, .flags = flags};
    d->mem[d->n_urls] = m;
    d->ltext[d->n_urls] = NULL;
    return (int)d->n_urls++;
}

/* The URL in a meta refresh content="5; url=http://...". */
static void meta_refresh_url(parser *p, const char *content)
{
    for (const char *s = content; *s; s++) {
        if (strncasecmp(s, "url", 3) != 0)
            continue;
        const char *q = s + 3;
        while (is_ws((unsigned char)*q))
            q++;
        if (*q != '=')
            continue;
        q++;
        while (is_ws((unsigned char)*q))
            q++;
        char quote = (*q == '\'' || *q == '"') ? *q++ : 0;
        size_t n = strlen(q);
        if (quote && n && q[n - 1] == quote)
            n--;
        char *u = xstrndup(q, n);
        add_url(p, u, URL_FROM_OTHER);
        free(u);
        return;
    }
}

/* ---- inline style ---- */

/* A CSS length in px (pt, em, rem, % converted at 16px); false if none. */
static bool css_px(const char *v, double *px)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v)
        return false;
    while (is_ws((unsigned char)*end))
        end++;
    if (strncmp(end, "pt", 2) == 0)
        x = x * 4.0 / 3.0;
    else if (strncmp(end, "em", 2) == 0 || strncmp(end, "rem", 3) == 0)
        x *= 16.0;
    else if (*end == '%')
        x = x * 16.0 / 100.0;
    *px = x;
    return true;
}

/* A colour, normalised (lower case, #rrggbb for hex, rgb() and a few names) into
 * out; false when it is not one plain colour. */
static bool color_norm(const char *v, char *out)
{
    static const struct {
        const char *name, *hex;
    } names[] = {
        {"white", "#ffffff"},  {"black", "#000000"},  {"red", "#ff0000"},  {"green", "#008000"},
        {"blue", "#0000ff"},   {"yellow", "#ffff00"}, {"gray", "#808080"}, {"grey", "#808080"},
        {"silver", "#c0c0c0"}, {"navy", "#000080"},
    };
    char t[COLOR_MAX];
    size_t n = 0;
    for (; *v && n < sizeof t - 1; v++) {
        unsigned char c = (unsigned char)*v;
        if (is_ws(c))
            continue;
        t[n++] = (char)tolower(c);
    }
    if (*v || !n)
        return false;
    t[n] = '\0';
    if (t[0] == '#') {
        for (size_t i = 1; i < n; i++)
            if (!isxdigit((unsigned char)t[i]))
                return false;
        if (n == 4) {
            snprintf(out, COLOR_MAX, "#%c%c%c%c%c%c", t[1], t[1], t[2], t[2], t[3], t[3]);
            return true;
        }
        if (n != 7)
            return false;
        memcpy(out, t, n + 1);
        return true;
    }
    unsigned r, g, b;
    if (sscanf(t, "rgb(%u,%u,%u)", &r, &g, &b) == 3 && r < 256 && g < 256 && b < 256) {
        snprintf(out, COLOR_MAX, "#%02x%02x%02x", r, g, b);
        return true;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(t, names[i].name) == 0) {
            strcpy(out, names[i].hex);
            return true;
        }
    if (strcmp(t, "transparent") == 0 || strcmp(t, "inherit") == 0 || strchr(t, '('))
        return false;
    /* another name: compared as written */
    for (size_t i = 0; i < n; i++)
        if (!isalpha((unsigned char)t[i]))
            return false;
    memcpy(out, t, n + 1);
    return true;
}

typedef struct {
    bool hidden, vis_set, vis_hidden, font_set, zero_font, tiny;
    bool zero_h, ovh;
    bool bg_image; /* a background image: the background colour is unknown */
    char color[COLOR_MAX], bgcolor[COLOR_MAX];
} style_info;

static void style_decl(style_info *st, const char *prop, const char *val)
{
    double px;
    if (strcmp(prop, "display") == 0) {
        if (strcmp(val, "none") == 0)
            st->hidden = true;
    } else if (strcmp(prop, "visibility") == 0) {
        st->vis_set = true;
        st->vis_hidden = strcmp(val, "hidden") == 0 || strcmp(val, "collapse") == 0;
    } else if (strcmp(prop, "opacity") == 0) {
        char *end;
        double o = strtod(val, &end);
        if (end != val && (*end == '%' ? o / 100.0 : o) <= 0.05)
            st->hidden = true;
    } else if (strcmp(prop, "font-size") == 0) {
        if (css_px(val, &px)) {
            st->font_set = true;
            st->zero_font = px <= 1.0;
            st->tiny = px > 1.0 && px <= 2.0;
        }
    } else if (strcmp(prop, "max-height") == 0 || strcmp(prop, "height") == 0 ||
               strcmp(prop, "max-width") == 0 || strcmp(prop, "width") == 0) {
        if (css_px(val, &px) && px <= 0.0)
            st->zero_h = true;
    } else if (strcmp(prop, "overflow") == 0) {
        st->ovh = strcmp(val, "hidden") == 0;
    } else if (strcmp(prop, "text-indent") == 0 || strcmp(prop, "left") == 0 ||
               strcmp(prop, "top") == 0 || strcmp(prop, "margin-left") == 0) {
        if (css_px(val, &px) && px <= -500.0)
            st->hidden = true;
    } else if (strcmp(prop, "color") == 0) {
        color_norm(val, st->color);
    } else if (strcmp(prop, "background-color") == 0) {
        if (!color_norm(val, st->bgcolor))
            st->bgcolor[0] = '\0';
    } else if (strcmp(prop, "background") == 0 || strcmp(prop, "background-image") == 0) {
        if (strstr(val, "url(") || strstr(val, "gradient"))
            st->bg_image = true;
        else if (strcmp(prop, "background") == 0 && !color_norm(val, st->bgcolor))
            st->bgcolor[0] = '\0';
    }
}

/* Reads `prop: value; ...` (lower-cased, !important dropped). */
static void style_parse(const char *style, style_info *st)
{
    char prop[32], val[256];
    const char *s = style;
    while (*s) {
        const char *semi = strchr(s, ';');
        size_t n = semi ? (size_t)(semi - s) : strlen(s);
        const char *colon = memchr(s, ':', n);
        if (colon) {
            size_t pn = 0, vn = 0;
            for (const char *q = s; q < colon && pn < sizeof prop - 1; q++)
                if (!is_ws((unsigned char)*q))
                    prop[pn++] = (char)tolower((unsigned char)*q);
            prop[pn] = '\0';
            const char *q = colon + 1;
            while (q < s + n && is_ws((unsigned char)*q))
                q++;
            for (; q < s + n && vn < sizeof val - 1; q++)
                val[vn++] = (char)tolower((unsigned char)*q);
            val[vn] = '\0';
            char *imp = strstr(val, "!important");
            if (imp)
                *imp = '\0';
            vn = strlen(val);
            while (vn && is_ws((unsigned char)val[vn - 1]))
                val[--vn] = '\0';
            style_decl(st, prop, val);
        }
        s += n;
        if (*s == ';')
            s++;
    }
    if (st->zero_h && st->ovh)
        st->hidden = true;
}

/* ---- SAX callbacks ---- */

static void frame_close(parser *p, frame *f)
{
    if (f->url >= 0) {
        html_doc *d = p->doc;
        tbuild *lt = &f->lt;
        size_t n = lt->b.len;
        if (n) {
            if (n > HTML_LINK_TEXT) {
                n = HTML_LINK_TEXT;
                while (n && ((unsigned char)lt->b.data[n] & 0xC0) == 0x80)
                    n--;
            }
            char *t = xstrndup(lt->b.data, n);
            d->ltext[f->url] = t;
            d->urls[f->url].text = t;
        }
        buf_free(&lt->b);
        f->url = -1;
    }
    if (f->flags & (T_BLOCK | T_CELL))
        tb_break(&p->text, (f->flags & T_BLOCK) != 0);
    if (f->link >= 0 && &p->f[f->link] != f)
        tb_break(&p->f[f->link].lt, false);
}

static const char *attr(const xmlChar **atts, const char *name)
{
    for (size_t i = 0; atts && atts[i]; i += 2)
        if (strcmp((const char *)atts[i], name) == 0)
            return atts[i + 1] ? (const char *)atts[i + 1] : "";
    return NULL;
}

static bool is_event_attr(const char *a)
{
    if (a[0] != 'o' || a[1] != 'n' || !a[2])
        return false;
    for (const char *q = a + 2; *q; q++)
        if (!islower((unsigned char)*q))
            return false;
    return true;
}

/* Counts and URLs of one element. */
static void element_stats(parser *p, const char *name, const xmlChar **atts, int self)
{
    html_stats *st = &p->doc->stats;
    const char *v;
    frame *f = &p->f[self];
    if (strcmp(name, "a") == 0 || strcmp(name, "area") == 0) {
        if ((v = attr(atts, "href"))) {
            int u = add_url(p, v, URL_FROM_HREF);
            if (u >= 0 && name[1] == '\0') {
                f->url = u;
                f->link = self;
                f->lt = (tbuild){.limit = 4 * HTML_LINK_TEXT};
            }
        }
    } else if (strcmp(name, "form") == 0) {
        st->forms++;
        if ((v = attr(atts, "action")))
            add_url(p, v, URL_FROM_FORM);
    } else if (strcmp(name, "input") == 0) {
        const char *type = attr(atts, "type");
        if (type && strcasecmp(type, "password") == 0)
            st->password_fields++;
        else
            st->inputs++;
        if (type && strcasecmp(type, "image") == 0 && (v = attr(atts, "src")))
            add_url(p, v, URL_FROM_IMG);
        if ((v = attr(atts, "formaction")))
            add_url(p, v, URL_FROM_FORM);
    } else if (strcmp(name, "button") == 0) {
        if ((v = attr(atts, "formaction")))
            add_url(p, v, URL_FROM_FORM);
    } else if (strcmp(name, "textarea") == 0 || strcmp(name, "select") == 0) {
        st->inputs++;
    } else if (strcmp(name, "script") == 0) {
        st->scripts++;
        if ((v = attr(atts, "src")))
            add_url(p, v, URL_FROM_OTHER);
    } else if (strcmp(name, "iframe") == 0 || strcmp(name, "frame") == 0 ||
               strcmp(name, "embed") == 0 || strcmp(name, "object") == 0) {
        st->iframes++;
        if ((v = attr(atts, name[0] == 'o' ? "data" : "src")))
            add_url(p, v, URL_FROM_OTHER);
    } else if (strcmp(name, "img") == 0) {
        st->images++;
        if ((v = attr(atts, "src")))
            add_url(p, v, URL_FROM_IMG);
    } else if (strcmp(name, "meta") == 0) {
        const char *he = attr(atts, "http-equiv");
        if (he && strcasecmp(he, "refresh") == 0) {
            st->meta_refresh++;
            if ((v = attr(atts, "content")))
                meta_refresh_url(p, v);
        }
    } else if (strcmp(name, "base") == 0) {
        if ((v = attr(atts, "href"))) {
            st->base_href++;
            add_url(p, v, URL_FROM_OTHER);
        }
    } else if (strcmp(name, "link") == 0 || strcmp(name, "source") == 0 ||
               strcmp(name, "audio") == 0 || strcmp(name, "track") == 0) {
        if ((v = attr(atts, name[0] == 'l' ? "href" : "src")))
            add_url(p, v, URL_FROM_OTHER);
    } else if (strcmp(name, "video") == 0) {
        if ((v = attr(atts, "poster")))
            add_url(p, v, URL_FROM_IMG);
        if ((v = attr(atts, "src")))
            add_url(p, v, URL_FROM_OTHER);
    }
    if ((v = attr(atts, "background")) && *v)
        add_url(p, v, URL_FROM_IMG);
}

/* What the element's attributes say about how its text is shown. */
static void element_style(parser *p, const char *name, const xmlChar **atts, int self)
{
    frame *f = &p->f[self];
    style_info st = {0};
    const char *v;
    bool has_class = false, bg_attr_image = false;
    char bgattr[COLOR_MAX] = "", fgattr[COLOR_MAX] = "";
    for (size_t i = 0; atts && atts[i]; i += 2) {
        const char *a = (const char *)atts[i];
        v = atts[i + 1] ? (const char *)atts[i + 1] : "";
        if (is_event_attr(a))
            p->doc->stats.event_handlers++;
        else if (strcmp(a, "style") == 0)
            style_parse(v, &st);
        else if (strcmp(a, "hidden") == 0)
            st.hidden = true;
        else if (strcmp(a, "class") == 0 || strcmp(a, "id") == 0)
            has_class = true;
        else if (strcmp(a, "bgcolor") == 0)
            color_norm(v, bgattr);
        else if (strcmp(a, "background") == 0)
            bg_attr_image = true;
        else if (strcmp(a, "color") == 0 && strcmp(name, "font") == 0)
            color_norm(v, fgattr);
    }
    if (strcmp(name, "font") == 0 && (v = attr(atts, "size"))) {
        long sz = strtol(v, NULL, 10);
        bool rel = *v == '-' || *v == '+';
        if (rel ? sz <= -2 : (sz <= 1 && isdigit((unsigned char)*v)))
            f->tiny = true;
        else if (!rel || sz > 0)
            f->tiny = false;
    }
    if (st.hidden)
        f->hidden_fixed = true;
    if (st.vis_set)
        f->vis_hidden = st.vis_hidden;
    if (st.font_set) {
        f->zero_font = st.zero_font;
        f->tiny = st.tiny;
    }
    /* Colours: a background image or a class (a stylesheet may paint it) makes the
     * background unknown; an equal text and background colour hides the text. */
    const char *bg = st.bgcolor[0] ? st.bgcolor : bgattr;
    if (st.bg_image || bg_attr_image)
        f->bg = -1;
    else if (*bg) {
        strcpy(f->bgcolor, bg);
        f->bg = self;
    } else if (has_class)
        f->bg = -1;
    const char *fg = st.color[0] ? st.color : fgattr;
    if (*fg) {
        strcpy(f->color, fg);
        f->fg = self;
    }
    if ((*fg || *bg) && f->fg >= 0 && f->bg >= 0 &&
        strcmp(p->f[f->fg].color, p->f[f->bg].bgcolor) == 0)
        f->hidden_fixed = true;
}

static void sax_start(void *ctx, const xmlChar *xname, const xmlChar **atts)
{
    parser *p = ctx;
    if (p->stopped)
        return;
    if (p->depth >= HTML_MAX_DEPTH) {
        stop(p);
        return;
    }
    if (p->depth == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->f = xrealloc(p->f, (size_t)p->cap * sizeof *p->f);
    }
    const char *name = (const char *)xname;
    int self = p->depth++;
    frame *f = &p->f[self];
    if (self > 0) {
        const frame *par = &p->f[self - 1];
        *f = (frame){.hidden_fixed = par->hidden_fixed,
                     .vis_hidden = par->vis_hidden,
                     .zero_font = par->zero_font,
                     .tiny = par->tiny,
                     .skip = par->skip,
                     .hroot = par->hroot,
                     .troot = par->troot,
                     .fg = par->fg,
                     .bg = par->bg,
                     .link = par->link};
    } else {
        *f = (frame){.hroot = -1, .troot = -1, .fg = -1, .bg = -1, .link = -1};
    }
    f->name = name;
    f->url = -1;
    f->flags = tag_flags(name);
    if (f->flags & T_SKIP)
        f->skip = true;

    bool was_hidden = eff_hidden(f), was_tiny = f->tiny;
    element_style(p, name, atts, self);
    element_stats(p, name, atts, self);
    f = &p->f[self];
    if (eff_hidden(f) && !was_hidden) {
        f->hroot = self;
        f->counted = false;
    } else if (!eff_hidden(f)) {
        f->hroot = -1;
    }
    if (f->tiny && !was_tiny)
        f->troot = self;
    else if (!f->tiny)
        f->troot = -1;

    if (f->flags & (T_BLOCK | T_BR))
        tb_break(&p->text, true);
    else if (f->flags & T_CELL)
        tb_break(&p->text, false);
    if (f->link >= 0 && f->link != self && (f->flags & (T_BLOCK | T_BR | T_CELL)))
        tb_break(&p->f[f->link].lt, false);
}

static void sax_end(void *ctx, const xmlChar *xname)
{
    parser *p = ctx;
    if (p->stopped)
        return;
    const char *name = (const char *)xname;
    int i = p->depth - 1;
    while (i >= 0 && strcmp(p->f[i].name, name) != 0)
        i--;
    if (i < 0)
        return;
    while (p->depth > i) {
        frame_close(p, &p->f[p->depth - 1]);
        p->depth--;
    }
}

static bool has_visible(const xmlChar *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!is_ws(s[i]) && !(s[i] == 0xC2 && i + 1 < n && s[i + 1] == 0xA0) &&
            !(s[i] == 0xA0 && i > 0 && s[i - 1] == 0xC2))
            return true;
    return false;
}

static void sax_text(void *ctx, const xmlChar *s, int n)
{
    parser *p = ctx;
    if (p->stopped || n <= 0)
        return;
    frame *f = p->depth ? &p->f[p->depth - 1] : NULL;
    if (f && f->skip)
        return;
    if (f && eff_hidden(f)) {
        p->doc->stats.hidden_len += (size_t)n;
        if (f->hroot >= 0 && !p->f[f->hroot].counted && has_visible(s, n)) {
            p->f[f->hroot].counted = true;
            p->doc->stats.hidden_text++;
        }
        return;
    }
    if (f && f->tiny && f->troot >= 0 && !p->f[f->troot].counted && has_visible(s, n)) {
        p->f[f->troot].counted = true;
        p->doc->stats.tiny_text++;
    }
    tb_add(&p->text, (const char *)s, (size_t)n);
    if (f && f->link >= 0)
        tb_add(&p->f[f->link].lt, (const char *)s, (size_t)n);
}

static void sax_ignore(void *ctx, const xmlChar *s, int n)
{
    (void)ctx;
    (void)s;
    (void)n;
}

static void xml_silent(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void xml_silent_structured(void *ctx, xmlErrorPtr e)
{
    (void)ctx;
    (void)e;
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

/* ---- the input libxml2 reads ---- */

/* Appends n bytes with invalid UTF-8 as U+FFFD and NUL as a space; `esc` is the
 * one ASCII byte to write as an entity ('"' in attribute values, '<' in text). */
static void put_bytes(buf_t *out, const unsigned char *s, size_t n, unsigned char esc)
{
    size_t i = 0, run = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t l = utf8_len(s + i, n - i);
        if (l > 1 || (l == 1 && c && c != esc)) {
            i += l;
            continue;
        }
        buf_append(out, s + run, i - run);
        if (!l)
            buf_append(out, "\xEF\xBF\xBD", 3);
        else if (!c)
            buf_append(out, " ", 1);
        else
            buf_puts(out, c == '"' ? "&quot;" : "&lt;");
        run = ++i;
    }
    buf_append(out, s + run, n - run);
}

static bool name_start(unsigned char c)
{
    return isalpha(c);
}

static bool tag_end_char(unsigned char c)
{
    return is_ws(c) || c == '/' || c == '>';
}

/* Case-insensitive search for "</name" from i; len when absent. */
static size_t find_close(const unsigned char *s, size_t i, size_t len, const char *name)
{
    size_t n = strlen(name);
    for (; i + 2 + n <= len; i++)
        if (s[i] == '<' && s[i + 1] == '/' && strncasecmp((const char *)s + i + 2, name, n) == 0)
            return i;
    return len;
}

/* One start tag at s[i] == '<' (a letter follows): writes it as <name a="v" ...>
 * with at most HTML_MAX_ATTRS attributes, and returns the index after it. The tag
 * name (lower case) goes to name. */
static size_t canon_start_tag(const unsigned char *s, size_t i, size_t len, buf_t *out, char *name,
                              size_t namelen)
{
    size_t j = i + 1, k = 0;
    bool valid = true;
    while (j < len && !tag_end_char(s[j])) {
        unsigned char c = s[j++];
        if (!isalnum(c) && c != '-' && c != '_' && c != ':' && c != '.')
            valid = false;
        if (k < namelen - 1)
            name[k++] = (char)tolower(c);
        else
            valid = false;
    }
    name[k] = '\0';
    if (valid) {
        buf_append(out, "<", 1);
        buf_puts(out, name);
    }
    unsigned nattrs = 0;
    for (;;) {
        while (j < len && (is_ws(s[j]) || s[j] == '/'))
            j++;
        if (j >= len)
            break;
        if (s[j] == '>') {
            j++;
            break;
        }
        /* an attribute name runs to a blank, '/', '>' or '=' (a leading '=' is part of it) */
        size_t ns = j++;
        while (j < len && !tag_end_char(s[j]) && s[j] != '=')
            j++;
        size_t ne = j;
        while (j < len && is_ws(s[j]))
            j++;
        size_t vs = 0, ve = 0;
        bool has_value = false;
        if (j < len && s[j] == '=') {
            j++;
            while (j < len && is_ws(s[j]))
                j++;
            has_value = true;
            if (j < len && (s[j] == '"' || s[j] == '\'')) {
                unsigned char q = s[j++];
                vs = j;
                while (j < len && s[j] != q)
                    j++;
                ve = j;
                if (j < len)
                    j++;
            } else {
                vs = j;
                while (j < len && !is_ws(s[j]) && s[j] != '>')
                    j++;
                ve = j;
            }
        }
        bool ok = valid && nattrs < HTML_MAX_ATTRS && name_start(s[ns]);
        for (size_t q = ns; ok && q < ne; q++)
            ok = isalnum(s[q]) || s[q] == '-' || s[q] == '_' || s[q] == ':' || s[q] == '.';
        if (!ok)
            continue;
        nattrs++;
        buf_append(out, " ", 1);
        for (size_t q = ns; q < ne; q++) {
            char c = (char)tolower(s[q]);
            buf_append(out, &c, 1);
        }
        if (has_value) {
            buf_append(out, "=\"", 2);
            put_bytes(out, s + vs, ve - vs, '"');
            buf_append(out, "\"", 1);
        }
    }
    if (valid)
        buf_append(out, ">", 1);
    else
        name[0] = '\0';
    return j;
}

/* Rewrites the input as HTML libxml2 cannot read two ways (see the top of the
 * file): text and attribute values as valid UTF-8, every attribute quoted, at most
 * HTML_MAX_ATTRS per tag, comments, doctypes and processing instructions dropped,
 * raw text (script, style) kept verbatim up to its end tag and RCDATA (title,
 * textarea...) escaped. Sets *cut when the input or tag bound was reached. */
static void canonicalise(const char *in, size_t len, buf_t *out, bool *cut)
{
    const unsigned char *s = (const unsigned char *)in;
    if (len > HTML_MAX_INPUT) {
        len = HTML_MAX_INPUT;
        *cut = true;
    }
    size_t ntags = 0, i = 0;
    while (i < len) {
        size_t lt = i;
        while (lt < len && s[lt] != '<')
            lt++;
        put_bytes(out, s + i, lt - i, '<');
        i = lt;
        if (i >= len)
            break;
        if (++ntags > HTML_MAX_TAGS) {
            *cut = true;
            break;
        }
        unsigned char nx = i + 1 < len ? s[i + 1] : 0;
        if (name_start(nx)) {
            char name[32];
            i = canon_start_tag(s, i, len, out, name, sizeof name);
            bool raw = strcmp(name, "script") == 0 || strcmp(name, "style") == 0;
            bool rcdata = strcmp(name, "title") == 0 || strcmp(name, "textarea") == 0 ||
                          strcmp(name, "xmp") == 0 || strcmp(name, "iframe") == 0 ||
                          strcmp(name, "noembed") == 0 || strcmp(name, "noframes") == 0;
            if (raw || rcdata) {
                size_t e = find_close(s, i, len, name);
                put_bytes(out, s + i, e - i, raw ? 0 : '<');
                i = e;
            }
        } else if (nx == '/' && i + 2 < len && name_start(s[i + 2])) {
            size_t j = i + 2;
            buf_append(out, "</", 2);
            while (j < len && !tag_end_char(s[j])) {
                char c = (char)tolower(s[j++]);
                if (isalnum((unsigned char)c) || c == '-' || c == '_' || c == ':' || c == '.')
                    buf_append(out, &c, 1);
            }
            buf_append(out, ">", 1);
            while (j < len && s[j] != '>')
                j++;
            i = j < len ? j + 1 : len;
        } else if (nx == '!' && len - i >= 4 && s[i + 2] == '-' && s[i + 3] == '-') {
            size_t j = i + 4;
            while (j + 2 < len && !(s[j] == '-' && s[j + 1] == '-' && s[j + 2] == '>'))
                j++;
            i = j + 2 < len ? j + 3 : len;
        } else if (nx == '!' || nx == '?' || nx == '/') {
            size_t j = i + 2;
            while (j < len && s[j] != '>')
                j++;
            i = j < len ? j + 1 : len;
        } else {
            buf_puts(out, "&lt;");
            i++;
        }
    }
}

/* ---- the public functions ---- */

html_doc *html_parse(const char *html, size_t len)
{
    pthread_once(&xml_once, xml_init);
    html_doc *d = xcalloc(1, sizeof *d);
    parser p = {.doc = d, .text = {.limit = HTML_MAX_INPUT}};
    buf_t in = {0};
    bool cut = false;
    if (html && len)
        canonicalise(html, len, &in, &cut);
    d->stats.parse_error = cut;
    if (in.len) {
        xmlSetGenericErrorFunc(NULL, xml_silent);
        xmlSetStructuredErrorFunc(NULL, xml_silent_structured);
        htmlParserCtxtPtr ctxt = htmlCreateMemoryParserCtxt(in.data, (int)in.len);
        if (ctxt) {
            htmlCtxtUseOptions(ctxt, HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
                                         HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
                                         HTML_PARSE_IGNORE_ENC);
            xmlSwitchEncoding(ctxt, XML_CHAR_ENCODING_UTF8);
            xmlSAXHandler *sax = ctxt->sax;
            memset(sax, 0, sizeof *sax);
            sax->initialized = 1;
            sax->startElement = sax_start;
            sax->endElement = sax_end;
            sax->characters = sax_text;
            sax->ignorableWhitespace = sax_text;
            sax->cdataBlock = sax_ignore;
            sax->warning = xml_silent;
            sax->error = xml_silent;
            sax->fatalError = xml_silent;
            ctxt->userData = &p;
            p.ctxt = ctxt;
            htmlParseDocument(ctxt);
            htmlFreeParserCtxt(ctxt);
        } else {
            d->stats.parse_error = true;
        }
    }
    while (p.depth > 0) {
        frame_close(&p, &p.f[p.depth - 1]);
        p.depth--;
    }
    free(p.f);
    buf_free(&in);
    d->text_len = p.text.b.len;
    buf_append(&p.text.b, "", 1);
    d->text = p.text.b.data;
    d->stats.text_len = d->text_len;
    return d;
}

void html_free(html_doc **dp)
{
    html_doc *d = *dp;
    if (!d)
        return;
    for (size_t i = 0; i < d->n_urls; i++) {
        free(d->mem[i]);
        free(d->ltext[i]);
    }
    free(d->mem);
    free(d->ltext);
    free(d->urls);
    free(d->text);
    free(d);
    *dp = NULL;
}

const char *html_text(const html_doc *d, size_t *len)
{
    if (len)
        *len = d->text_len;
    return d->text;
}

size_t html_urls(const html_doc *d, const html_url **urls)
{
    *urls = d->urls;
    return d->n_urls;
}

const html_stats *html_get_stats(const html_doc *d)
{
    return &d->stats;
}

/* ---- top-level domains for schemeless URLs ---- */

/* Common TLDs, sorted. Left out on purpose: those that are also common file
 * extensions (zip, mov, md, py, sh, so, ps, cc, cab, ms, pl is kept: Poland). */
static const char *const known_tlds[] = {
    "ac",       "academy", "ad",      "ae",      "ag",      "agency",  "ai",      "al",
    "am",       "app",     "ar",      "art",     "asia",    "at",      "au",      "az",
    "ba",       "bank",    "bar",     "bd",      "be",      "best",    "bg",      "bid",
    "biz",      "blog",    "bo",      "br",      "buzz",    "by",      "bz",      "ca",
    "cam",      "cat",     "center",  "cf",      "ch",      "cl",      "click",   "cloud",
    "club",     "cm",      "cn",      "co",      "com",     "company", "cx",      "cy",
    "cyou",     "cz",      "date",    "de",      "dev",     "digital", "dk",      "do",
    "download", "dz",      "ec",      "edu",     "ee",      "eg",      "email",   "es",
    "eu",       "fi",      "finance", "fm",      "fr",      "fun",     "ga",      "gd",
    "ge",       "gg",      "gl",      "gov",     "gq",      "gr",      "gt",      "hk",
    "hn",       "host",    "hr",      "ht",      "hu",      "icu",     "id",      "ie",
    "il",       "im",      "in",      "info",    "int",     "io",      "iq",      "ir",
    "is",       "it",      "je",      "jo",      "jp",      "ke",      "kg",      "kr",
    "kz",       "la",      "lat",     "li",      "life",    "link",    "live",    "lk",
    "loan",     "lt",      "ltd",     "lu",      "lv",      "ly",      "ma",      "me",
    "mil",      "mk",      "ml",      "mn",      "mobi",    "monster", "mu",      "mx",
    "my",       "name",    "net",     "network", "news",    "ng",      "ni",      "nl",
    "no",       "np",      "nu",      "nz",      "om",      "one",     "online",  "org",
    "pa",       "page",    "party",   "pe",      "ph",      "pk",      "pl",      "press",
    "pro",      "pt",      "pw",      "qa",      "quest",   "re",      "review",  "ro",
    "rs",       "ru",      "rw",      "sa",      "sbs",     "sc",      "science", "se",
    "services", "sg",      "shop",    "si",      "site",    "sk",      "sn",      "solutions",
    "space",    "store",   "stream",  "su",      "support", "sv",      "tech",    "th",
    "tk",       "tm",      "tn",      "to",      "today",   "top",     "tr",      "tt",
    "tv",       "tw",      "tz",      "ua",      "ug",      "uk",      "us",      "uy",
    "uz",       "vc",      "ve",      "vg",      "vip",     "vn",      "website", "win",
    "work",     "world",   "ws",      "xyz",     "za",      "zm",      "zw",
};

static int tld_cmp(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

static bool known_tld(const char *s, size_t n)
{
    char t[16];
    if (n < 2 || n >= sizeof t)
        return false;
    for (size_t i = 0; i < n; i++)
        t[i] = (char)tolower((unsigned char)s[i]);
    t[n] = '\0';
    return bsearch(t, known_tlds, sizeof known_tlds / sizeof known_tlds[0], sizeof known_tlds[0],
                   tld_cmp) != NULL;
}

/* s[0..n) is a dotted host name of at least two labels (alnum and inner hyphens);
 * with a known TLD when `tld` is set, else an alphabetic one. */
static bool host_shape(const char *s, size_t n, bool tld)
{
    size_t labels = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            unsigned char c = (unsigned char)s[i];
            if (!isalnum(c) && c != '-')
                return false;
            continue;
        }
        size_t ln = i - start;
        if (!ln || ln > 63 || s[start] == '-' || s[i - 1] == '-')
            return false;
        labels++;
        if (i == n) {
            if (labels < 2)
                return false;
            if (tld)
                return known_tld(s + start, ln);
            for (size_t k = start; k < n; k++)
                if (!isalpha((unsigned char)s[k]))
                    return false;
            return ln >= 2;
        }
        start = i + 1;
    }
    return false;
}

/* ---- URLs in plain text ---- */

static bool host_char(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_';
}

/* Bytes at s[i] that end a URL in text: whitespace, controls, quotes, brackets,
 * and the Unicode spaces and quotation marks text uses around URLs. */
static size_t url_stop(const unsigned char *s, size_t i, size_t len)
{
    unsigned char c = s[i];
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' || c == '`')
        return 1;
    if (c == 0xC2 && i + 1 < len && (s[i + 1] == 0xA0 || s[i + 1] == 0xAB || s[i + 1] == 0xBB))
        return 1;
    if (c == 0xE2 && i + 2 < len && s[i + 1] == 0x80 &&
        (s[i + 2] == 0x98 || s[i + 2] == 0x99 || s[i + 2] == 0x9C || s[i + 2] == 0x9D ||
         s[i + 2] == 0xA8 || s[i + 2] == 0xA9 || s[i + 2] == 0x8B))
        return 1;
    if (c == 0xE3 && i + 2 < len && s[i + 1] == 0x80 && s[i + 2] <= 0x82)
        return 1;
    if (c == 0xEF && i + 2 < len && s[i + 1] == 0xBC && (s[i + 2] == 0x8C || s[i + 2] == 0x89))
        return 1;
    return 0;
}

static size_t url_end(const unsigned char *s, size_t i, size_t len)
{
    while (i < len && !url_stop(s, i, len))
        i++;
    return i;
}

/* Drops trailing punctuation and unbalanced closing brackets from [start, end). */
static size_t url_trim(const unsigned char *s, size_t start, size_t end)
{
    long paren = 0, square = 0;
    for (size_t i = start; i < end; i++) {
        if (s[i] == '(')
            paren++;
        else if (s[i] == ')')
            paren--;
        else if (s[i] == '[')
            square++;
        else if (s[i] == ']')
            square--;
    }
    while (end > start) {
        unsigned char c = s[end - 1];
        if (strchr(".,;:!?'*", c) && c)
            end--;
        else if (c == ')' && paren < 0) {
            paren++;
            end--;
        } else if (c == ']' && square < 0) {
            square++;
            end--;
        } else
            break;
    }
    return end;
}

static size_t scheme_at(const unsigned char *s, size_t i, size_t len)
{
    static const char *const schemes[] = {"https://", "http://", "ftp://"};
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(schemes[k]);
        if (len - i >= n && strncasecmp((const char *)s + i, schemes[k], n) == 0)
            return n;
    }
    return 0;
}

void text_find_urls(const char *text, size_t len, bool (*cb)(const char *url, size_t n, void *ctx),
                    void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        if (!isalnum(s[i])) {
            i++;
            continue;
        }
        unsigned char prev = i ? s[i - 1] : ' ';
        size_t start = i, end;
        size_t sl = scheme_at(s, i, len);
        if (sl) {
            end = url_end(s, i + sl, len);
            if (end == i + sl) {
                i += sl;
                continue;
            }
        } else {
            size_t j = i;
            while (j < len && host_char(s[j]))
                j++;
            size_t h = j;
            while (h > i && (s[h - 1] == '.' || s[h - 1] == '-'))
                h--;
            bool www = h - i > 4 && strncasecmp((const char *)s + i, "www.", 4) == 0;
            if (prev == '@' || (j < len && s[j] == '@') || h == i ||
                !(www ? host_shape((const char *)s + i + 4, h - i - 4, false)
                      : host_shape((const char *)s + i, h - i, true))) {
                i = j;
                continue;
            }
            end = h;
            if (h < len && (s[h] == '/' || s[h] == '?' || s[h] == '#' ||
                            (s[h] == ':' && h + 1 < len && isdigit(s[h + 1]))))
                end = url_end(s, h, len);
        }
        if (!(prev == '<' && end < len && s[end] == '>'))
            end = url_trim(s, start, end);
        if (end <= start) {
            i = start + 1;
            continue;
        }
        if (!cb(text + start, end - start, ctx))
            return;
        i = end;
    }
}

/* ---- url_parse ---- */

/* A numeric IPv4 host as browsers read it: 1-4 parts, each decimal, 0x hex or
 * 0-prefixed octal, the last filling the remaining bytes. *odd when it is not a
 * plain dotted quad. */
static bool ipv4_host(const char *h, bool *odd)
{
    unsigned long long part[4];
    size_t np = 0;
    *odd = false;
    const char *s = h;
    for (;;) {
        if (np == 4)
            return false;
        int base = 10;
        const char *d = s;
        if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
            base = 16;
            d += 2;
            *odd = true;
        } else if (d[0] == '0' && d[1] && d[1] != '.') {
            base = 8;
            d++;
            *odd = true;
        }
        unsigned long long v = 0;
        const char *q = d;
        for (; *q && *q != '.'; q++) {
            int dig;
            if (isdigit((unsigned char)*q))
                dig = *q - '0';
            else if (base == 16 && isxdigit((unsigned char)*q))
                dig = tolower((unsigned char)*q) - 'a' + 10;
            else
                return false;
            if (dig >= base)
                return false;
            v = v * (unsigned)base + (unsigned)dig;
            if (v > 0xFFFFFFFFull)
                return false;
        }
        if (q == s || (q == d && base != 16 && base != 8))
            return false;
        part[np++] = v;
        if (!*q)
            break;
        s = q + 1;
        if (!*s)
            break; /* one trailing dot */
    }
    if (np != 4)
        *odd = true;
    for (size_t k = 0; k + 1 < np; k++)
        if (part[k] > 255)
            return false;
    unsigned long long lim = 1ull << (8 * (5 - np));
    return part[np - 1] < lim;
}

static int hexval(int c)
{
    if (isdigit(c))
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The authority at a (ends at / ? # and, for special schemes, \). */
static unsigned parse_authority(const char *a, bool special, bool need_host, int defport,
                                char *host, size_t hostlen)
{
    unsigned flags = 0;
    size_t end = strcspn(a, special ? "/?#\\" : "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < end; i++)
        if (a[i] == '@')
            at = a + i;
    for (size_t i = 0; i + 2 < end; i++)
        if (a[i] == '%' && a[i + 1] == '4' && a[i + 2] == '0')
            flags |= URL_OBFUSCATED;
    const char *hs = a, *he = a + end;
    if (at) {
        flags |= URL_USERINFO;
        hs = at + 1;
    }
    const char *port = NULL;
    if (*hs == '[') {
        const char *rb = memchr(hs, ']', (size_t)(he - hs));
        if (!rb)
            return flags | URL_BAD;
        flags |= URL_IP_HOST;
        if (rb + 1 < he) {
            if (rb[1] != ':')
                flags |= URL_BAD;
            port = rb + 2;
        }
        hs++;
        he = rb;
    } else {
        const char *colon = memchr(hs, ':', (size_t)(he - hs));
        if (colon) {
            port = colon + 1;
            he = colon;
        }
    }
    if (port) {
        const char *pe = a + end;
        unsigned long pv = 0;
        bool digits = true;
        for (const char *q = port; q < pe; q++) {
            if (!isdigit((unsigned char)*q)) {
                digits = false;
                break;
            }
            if (pv < 100000)
                pv = pv * 10 + (unsigned long)(*q - '0');
        }
        if (!digits || pv > 65535)
            flags |= URL_BAD;
        else if (pe > port && pv != 80 && pv != 443 && pv != (unsigned long)defport)
            flags |= URL_NONSTD_PORT;
    }
    char h[HTML_HOST_MAX];
    size_t n = 0;
    bool bad_char = false;
    for (const char *q = hs; q < he; q++) {
        int c = (unsigned char)*q;
        if (c == '%' && he - q >= 3 && hexval((unsigned char)q[1]) >= 0 &&
            hexval((unsigned char)q[2]) >= 0) {
            c = hexval((unsigned char)q[1]) * 16 + hexval((unsigned char)q[2]);
            q += 2;
            flags |= URL_OBFUSCATED;
        } else if (c == '%') {
            flags |= URL_OBFUSCATED;
        }
        if (n >= sizeof h - 1) {
            flags |= URL_BAD;
            break;
        }
        c = tolower(c);
        if (c < 0x80 && !isalnum(c) && c != '-' && c != '.' && c != '_' &&
            !((flags & URL_IP_HOST) && c == ':'))
            bad_char = true;
        h[n++] = (char)c;
    }
    while (n && h[n - 1] == '.')
        n--;
    h[n] = '\0';
    if (!n) {
        if (need_host)
            flags |= URL_BAD;
        return flags;
    }
    if (bad_char)
        flags |= URL_BAD;
    bool odd;
    if (!(flags & URL_IP_HOST) && ipv4_host(h, &odd)) {
        flags |= URL_IP_HOST;
        if (odd)
            flags |= URL_OBFUSCATED;
    }
    for (size_t i = 0; i < n; i++)
        if (((i == 0 || h[i - 1] == '.') && strncmp(h + i, "xn--", 4) == 0) ||
            (unsigned char)h[i] >= 0x80) /* a browser sends a Unicode name as xn-- */
            flags |= URL_PUNYCODE;
    if (hostlen) {
        if (n >= hostlen) {
            flags |= URL_BAD;
            n = 0;
        }
        memcpy(host, h, n);
        host[n] = '\0';
    }
    return flags;
}

unsigned url_parse(const char *url, char *host, size_t hostlen)
{
    if (hostlen)
        host[0] = '\0';
    if (!url)
        return URL_BAD;
    /* Browsers drop leading controls and spaces, and tabs and newlines anywhere. */
    char w[2048];
    size_t n = 0;
    const char *s = url;
    while (*s && (unsigned char)*s <= 0x20)
        s++;
    for (; *s && n < sizeof w - 1; s++)
        if (*s != '\t' && *s != '\n' && *s != '\r')
            w[n++] = *s;
    w[n] = '\0';

    size_t sl = 0;
    if (isalpha((unsigned char)w[0])) {
        size_t i = 1;
        while (isalnum((unsigned char)w[i]) || w[i] == '+' || w[i] == '-' || w[i] == '.')
            i++;
        if (w[i] == ':' && !(memchr(w, '.', i) && isdigit((unsigned char)w[i + 1])))
            sl = i;
    }
    if (sl) {
        char sch[16];
        if (sl >= sizeof sch)
            return 0;
        for (size_t i = 0; i < sl; i++)
            sch[i] = (char)tolower((unsigned char)w[i]);
        sch[sl] = '\0';
        if (strcmp(sch, "data") == 0)
            return URL_DATA;
        if (strcmp(sch, "javascript") == 0 || strcmp(sch, "vbscript") == 0 ||
            strcmp(sch, "livescript") == 0)
            return URL_JAVASCRIPT;
        if (strcmp(sch, "mailto") == 0)
            return URL_MAILTO;
        static const struct {
            const char *name;
            int port;
        } special[] = {{"http", 80}, {"https", 443}, {"ftp", 21}, {"ws", 80}, {"wss", 443}};
        const char *rest = w + sl + 1;
        for (size_t k = 0; k < sizeof special / sizeof special[0]; k++) {
            if (strcmp(sch, special[k].name) != 0)
                continue;
            unsigned flags = 0;
            while (*rest == '/' || *rest == '\\') {
                if (*rest == '\\')
                    flags |= URL_OBFUSCATED;
                rest++;
            }
            return flags | parse_authority(rest, true, true, special[k].port, host, hostlen);
        }
        if (rest[0] == '/' && rest[1] == '/')
            return parse_authority(rest + 2, false, false, 0, host, hostlen);
        return 0;
    }
    if ((w[0] == '/' || w[0] == '\\') && (w[1] == '/' || w[1] == '\\')) {
        unsigned flags = (w[0] == '\\' || w[1] == '\\') ? URL_OBFUSCATED : 0;
        return flags | parse_authority(w + 2, true, true, 0, host, hostlen);
    }
    /* Schemeless: www.host or host.tld[/...]; anything else is a relative link. */
    size_t hn = strcspn(w, "/?#\\:");
    bool www = hn > 4 && strncasecmp(w, "www.", 4) == 0;
    if (www || host_shape(w, hn, true))
        return parse_authority(w, true, true, 0, host, hostlen);
    return 0;
}

/* ---- registrable domain ---- */

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static psl_ctx_t *psl_loaded;
static const psl_ctx_t *psl;

static void psl_init(void)
{
    psl_loaded = psl_latest(NULL);
    psl = psl_loaded ? psl_loaded : psl_builtin();
}

void url_base_domain(const char *host, char *out, size_t outlen)
{
    if (!outlen)
        return;
    out[0] = '\0';
    if (!host || !*host)
        return;
    pthread_once(&psl_once, psl_init);
    bool odd;
    const char *r = NULL;
    if (!strchr(host, ':') && !ipv4_host(host, &odd) && psl)
        r = psl_registrable_domain(psl, host);
    snprintf(out, outlen, "%s", r ? r : host);
}
