/* milter_text.c - header reconstruction and reply/header sanitising for the milter.
 *
 * Everything here reads bytes that came from outside (the SMTP client's headers
 * via Postfix, or a verdict's texts via the cluster) and writes text that goes
 * back to Postfix, so every output is bounded and checked for CR/LF. The rules
 * are in milter_text.h; none of these functions can fail. */
#include "milter_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void milter_append_header(buf_t *b, const char *name, const char *value, bool leadspc)
{
    for (const char *s = name; *s; s++) /* a name never holds a line break: drop one */
        if (*s != '\r' && *s != '\n')
            buf_append(b, s, 1);
    buf_puts(b, leadspc ? ":" : ": ");
    for (const char *s = value; *s; s++) {
        if (*s == '\r' && s[1] == '\n') {
            buf_append(b, "\r\n", 2);
            s++;
        } else if (*s == '\r' || *s == '\n') {
            buf_append(b, "\r\n", 2);
        } else {
            buf_append(b, s, 1);
        }
    }
    buf_append(b, "\r\n", 2);
}

static void put(char *out, size_t outlen, size_t *n, char c)
{
    if (*n + 1 < outlen)
        out[(*n)++] = c;
}

void milter_reply_text(const char *in, const char *fallback, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    size_t n = 0;
    bool space = true; /* at the start: drop leading spaces */
    for (size_t i = 0; in && in[i] && i < MILTER_REPLY_MAX; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (!space)
                put(out, outlen, &n, ' ');
            space = true;
            continue;
        }
        space = false;
        if (c == '%') {
            if (n + 2 < outlen) { /* never half an escape */
                out[n++] = '%';
                out[n++] = '%';
            }
            continue;
        }
        put(out, outlen, &n, c > 32 && c < 127 ? (char)c : '?');
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    if (n == 0 && fallback && fallback != in)
        milter_reply_text(fallback, NULL, out, outlen);
}

/* Length of the longest prefix of s (at most max bytes) that does not end inside
 * a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

char *milter_folded_value(const char *in, bool lead)
{
    size_t n = strlen(in);
    if (n > MILTER_FOLDED_MAX)
        return NULL;
    while (*in == ' ' || *in == '\t')
        in++;
    char *v = xmalloc(n + 2), *o = v;
    if (lead)
        *o++ = ' ';
    for (const char *p = in; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\r' || c == '\n') {
            if (c == '\r' && p[1] == '\n')
                p++;
            *o++ = p[1] == ' ' || p[1] == '\t' ? '\n' : ' ';
            continue;
        }
        *o++ = (c < 32 && c != '\t') || c == 127 ? ' ' : (char)c;
    }
    *o = '\0';
    return v;
}

char *milter_header_value(const char *in, bool lead)
{
    size_t len = utf8_cut(in, strlen(in), MILTER_VALUE_MAX);
    char *v = xmalloc(len + 2), *o = v;
    if (lead)
        *o++ = ' ';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        *o++ = c < 32 || c == 127 ? ' ' : (char)c;
    }
    *o = '\0';
    return v;
}

bool milter_header_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 76)
        return false;
    for (size_t i = 0; i < n; i++)
        if (name[i] <= 32 || name[i] >= 127 || name[i] == ':')
            return false;
    return true;
}

char *milter_subject(const char *prefix, const char *old, bool lead)
{
    char *p = milter_header_value(prefix, false);
    const char *o = old ? old : "";
    while (*o == ' ' || *o == '\t')
        o++;
    if (!*p || strncmp(o, p, strlen(p)) == 0) {
        free(p);
        return NULL;
    }
    /* "[SPAM]" and "[SPAM] " both read as "[SPAM] Subject". */
    bool gap = *o && p[strlen(p) - 1] != ' ';
    char *v = xasprintf("%s%s%s%s", lead ? " " : "", p, gap ? " " : "", o);
    free(p);
    return v;
}

bool milter_conn_spec(const char *postfix_style, char *out, size_t outlen)
{
    const char *colon = strchr(postfix_style, ':');
    if (!colon || strchr(postfix_style, '@') ||
        (strncmp(postfix_style, "inet:", 5) != 0 && strncmp(postfix_style, "inet6:", 6) != 0)) {
        /* unix:PATH, local:PATH, or already libmilter's inet:PORT@HOST */
        return snprintf(out, outlen, "%s", postfix_style) < (int)outlen && colon && colon[1];
    }
    const char *last = strrchr(colon + 1, ':');
    if (!last || last == colon + 1 || !last[1])
        return false;
    int n = snprintf(out, outlen, "%.*s:%s@%.*s", (int)(colon - postfix_style), postfix_style,
                     last + 1, (int)(last - colon - 1), colon + 1);
    return n > 0 && (size_t)n < outlen;
}
