/* json.c - JSON string escaping with UTF-8 validation, and number formatting.
 *
 * Strings are validated as UTF-8 (RFC 3629: no overlongs, no surrogates, max
 * U+10FFFF); each invalid byte becomes U+FFFD. Control characters are escaped.
 * The only reader is for the message log's symbol list: a small recursive-descent
 * parser of one fixed shape (an array of flat objects), strict about everything
 * else, so a damaged row reads as an error rather than as wrong symbols. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    unsigned cp = c & (0xff >> (need + 1));
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

void utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len(p + i, n - i);
        if (l == 0) {
            p[i++] = '?';
            continue;
        }
        i += l;
    }
}

void json_str(buf_t *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    buf_append(b, "\"", 1);
    while (p < e) {
        const unsigned char *run = p;
        while (p < e && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run)
            buf_append(b, run, (size_t)(p - run));
        if (p >= e)
            break;
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_append(b, esc, 2);
            p++;
        } else if (c < 0x20) {
            const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (named)
                buf_puts(b, named);
            else
                buf_printf(b, "\\u%04x", c);
            p++;
        } else {
            size_t l = utf8_len(p, (size_t)(e - p));
            if (l == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
                /* C1 controls (U+0085 is a line break to many readers) escaped */
                buf_printf(b, "\\u%04x", p[1]);
                p += l;
            } else if (l == 3 && p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
                /* U+2028/U+2029, line and paragraph separators */
                buf_printf(b, "\\u%04x", 0x2000 + (p[2] - 0x80));
                p += l;
            } else if (l) {
                buf_append(b, p, l);
                p += l;
            } else {
                buf_puts(b, "\\ufffd");
                p++;
            }
        }
    }
    buf_append(b, "\"", 1);
}

void json_cstr(buf_t *b, const char *s)
{
    json_str(b, s ? s : "", s ? strlen(s) : 0);
}

void json_num(buf_t *b, double d)
{
    if (!isfinite(d))
        d = 0;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.6g", d);
    buf_puts(b, tmp);
}

/* ---- the symbol list: writing and reading back ------------------------------------ */

static void symbol_out(buf_t *b, bool first, const char *name, double score, const char *detail)
{
    buf_puts(b, first ? "{\"name\":" : ",{\"name\":");
    json_cstr(b, name);
    buf_puts(b, ",\"score\":");
    json_num(b, score);
    buf_puts(b, ",\"detail\":");
    json_cstr(b, detail);
    buf_puts(b, "}");
}

void json_symbols_write(buf_t *b, const json_symbol *s, size_t n)
{
    buf_puts(b, "[");
    for (size_t i = 0; i < n; i++)
        symbol_out(b, i == 0, s[i].name, s[i].score, s[i].detail);
    buf_puts(b, "]");
}

void json_symbols_write_pb(buf_t *b, Bulwark__Symbol *const *s, size_t n)
{
    buf_puts(b, "[");
    for (size_t i = 0; i < n; i++)
        symbol_out(b, i == 0, s[i]->name, s[i]->score, s[i]->detail);
    buf_puts(b, "]");
}

/* ---- reading --------------------------------------------------------------------- */

void json_rd_init(json_reader *r, const char *text, size_t len)
{
    r->p = text;
    r->e = text + len;
    r->depth = 0;
}

static void skip_ws(json_reader *c)
{
    while (c->p < c->e && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

bool json_rd_lit(json_reader *c, char ch)
{
    skip_ws(c);
    if (c->p < c->e && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

bool json_rd_peek(json_reader *c, char ch)
{
    skip_ws(c);
    return c->p < c->e && *c->p == ch;
}

bool json_rd_end(json_reader *c)
{
    skip_ws(c);
    return c->p == c->e;
}

static bool hex4(json_reader *c, unsigned *out)
{
    if (c->e - c->p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char h = c->p[i];
        int d = h >= '0' && h <= '9'   ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                       : -1;
        if (d < 0)
            return false;
        v = v << 4 | (unsigned)d;
    }
    c->p += 4;
    *out = v;
    return true;
}

static void put_utf8(buf_t *b, unsigned cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        o[0] = (char)(0xf0 | cp >> 18);
        o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_append(b, o, n);
}

/* \uXXXX, with a following \uXXXX when it is a high surrogate; lone surrogates
 * become U+FFFD (the writer never produces them). */
static bool unicode_escape(json_reader *c, buf_t *b)
{
    unsigned cp;
    if (!hex4(c, &cp))
        return false;
    if (cp >= 0xd800 && cp <= 0xdbff && c->e - c->p >= 6 && c->p[0] == '\\' && c->p[1] == 'u') {
        json_reader save = *c;
        unsigned lo;
        c->p += 2;
        if (hex4(c, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
            put_utf8(b, 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00));
            return true;
        }
        *c = save;
    }
    put_utf8(b, cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp);
    return true;
}

bool json_rd_string(json_reader *c, char **out)
{
    if (!json_rd_lit(c, '"'))
        return false;
    buf_t b = {0};
    buf_puts(&b, "");
    while (c->p < c->e && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch < 0x20)
            goto bad;
        if (ch != '\\') {
            buf_append(&b, &ch, 1);
            continue;
        }
        if (c->p >= c->e)
            goto bad;
        char esc = *c->p++;
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *k = esc ? strchr(from, esc) : NULL;
        if (k)
            buf_append(&b, to + (k - from), 1);
        else if (esc != 'u' || !unicode_escape(c, &b))
            goto bad;
    }
    if (c->p >= c->e)
        goto bad;
    c->p++;
    if (out)
        *out = b.data;
    else
        buf_free(&b);
    return true;
bad:
    buf_free(&b);
    return false;
}

bool json_rd_string_into(json_reader *c, char *out, size_t outlen)
{
    char *s;
    if (!json_rd_string(c, &s))
        return false;
    if (out && outlen)
        snprintf(out, outlen, "%s", s);
    free(s);
    return true;
}

bool json_rd_number(json_reader *c, double *out)
{
    skip_ws(c);
    char tmp[64];
    size_t n = 0;
    while (c->p + n < c->e && n < sizeof tmp - 1 && c->p[n] && strchr("+-0123456789.eE", c->p[n]))
        n++;
    if (n == 0 || n == sizeof tmp - 1)
        return false;
    memcpy(tmp, c->p, n);
    tmp[n] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (*end || !isfinite(d))
        return false;
    c->p += n;
    *out = d;
    return true;
}

static bool word(json_reader *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->e - c->p) < n || memcmp(c->p, w, n) != 0)
        return false;
    c->p += n;
    return true;
}

bool json_rd_object(json_reader *c, json_member_fn member, void *ctx)
{
    if (!json_rd_lit(c, '{') || ++c->depth > JSON_MAX_DEPTH)
        return false;
    if (!json_rd_lit(c, '}')) {
        do {
            char *key = NULL;
            if (!json_rd_string(c, &key) || !json_rd_lit(c, ':')) {
                free(key);
                return false;
            }
            bool ok = member ? member(c, key, ctx) : json_rd_skip(c);
            free(key);
            if (!ok)
                return false;
        } while (json_rd_lit(c, ','));
        if (!json_rd_lit(c, '}'))
            return false;
    }
    c->depth--;
    return true;
}

bool json_rd_skip(json_reader *c)
{
    skip_ws(c);
    if (c->p >= c->e)
        return false;
    double d;
    switch (*c->p) {
    case '{': return json_rd_object(c, NULL, NULL);
    case '[':
        c->p++;
        if (++c->depth > JSON_MAX_DEPTH)
            return false;
        if (!json_rd_lit(c, ']')) {
            do {
                if (!json_rd_skip(c))
                    return false;
            } while (json_rd_lit(c, ','));
            if (!json_rd_lit(c, ']'))
                return false;
        }
        c->depth--;
        return true;
    case '"': return json_rd_string(c, NULL);
    case 't': return word(c, "true");
    case 'f': return word(c, "false");
    case 'n': return word(c, "null");
    default: return json_rd_number(c, &d);
    }
}

/* ---- the stored symbol list ------------------------------------------------------ */

static bool symbol_member(json_reader *c, const char *key, void *ctx)
{
    json_symbol *s = ctx;
    if (strcmp(key, "score") == 0)
        return json_rd_number(c, &s->score);
    if (strcmp(key, "name") == 0 || strcmp(key, "detail") == 0) {
        char **dst = key[0] == 'n' ? &s->name : &s->detail;
        free(*dst);
        *dst = NULL;
        return json_rd_string(c, dst);
    }
    /* unknown keys: string or number values only */
    if (json_rd_peek(c, '"'))
        return json_rd_string(c, NULL);
    double skip;
    return json_rd_number(c, &skip);
}

bool json_symbols_parse(const char *text, size_t len, json_symbol **out, size_t *n)
{
    json_reader c;
    json_rd_init(&c, text, len);
    size_t cap = 8, k = 0;
    json_symbol *v = xcalloc(cap, sizeof *v);
    bool ok = json_rd_lit(&c, '[');
    if (ok && !json_rd_lit(&c, ']')) {
        do {
            if (k == cap) {
                v = xrealloc(v, (cap *= 2) * sizeof *v);
                memset(v + k, 0, (cap - k) * sizeof *v);
            }
            ok = json_rd_object(&c, symbol_member, &v[k]);
            k++;
        } while (ok && json_rd_lit(&c, ','));
        ok = ok && json_rd_lit(&c, ']');
    }
    ok = ok && json_rd_end(&c);
    for (size_t i = 0; ok && i < k; i++) {
        if (!v[i].name)
            v[i].name = xstrdup("");
        if (!v[i].detail)
            v[i].detail = xstrdup("");
    }
    if (!ok) {
        json_symbols_free(&v, k);
        k = 0;
    }
    *out = v;
    *n = k;
    return ok;
}

void json_symbols_free(json_symbol **s, size_t n)
{
    if (!*s)
        return;
    for (size_t i = 0; i < n; i++) {
        free((*s)[i].name);
        free((*s)[i].detail);
    }
    free(*s);
    *s = NULL;
}
