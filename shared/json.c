/* json.c - JSON string escaping with UTF-8 validation, and number formatting.
 *
 * Strings are validated as UTF-8 (RFC 3629: no overlongs, no surrogates, max
 * U+10FFFF); each invalid byte becomes U+FFFD. Control characters are escaped. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static size_t utf8_len(const unsigned char *s, size_t n)
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
            if (l) {
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
