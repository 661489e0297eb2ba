/* tokens.c - the Bayes tokenizer: a message and its headers to a set of hashes.
 *
 * Words are runs of ICU letters/digits over the UTF-8 text, lower-cased, each hashed
 * once; header, structure and URL features are short prefixed strings hashed the same
 * way. All go into one growing array, sorted and made distinct at the end, then cut
 * to the limit (the smallest hashes: an unbiased sample, the same for learn and scan).
 * The text read is bounded (TOK_TEXT_MAX bytes, TOK_WORDS_MAX words). Word pairs
 * (OSB, check.bayes.osb_window) are off by default: combined from two word hashes and
 * the distance with a ring of the last word hashes, one walk (docs/bayes.md). */
#include "tokens.h"
#include "html.h"
#include "unicode.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#define TOK_TEXT_MAX (256 * 1024)
#define TOK_WORDS_MAX 20000

static uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

uint64_t tok_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return fmix64(h);
}

uint64_t tok_pair(uint64_t a, uint64_t b, unsigned dist)
{
    /* Asymmetric in a and b (a rotation), distinct per distance. */
    return fmix64(a * 0x9e3779b97f4a7c15ULL ^ ((b << 23) | (b >> 41)) ^ (0x5bd1e995ULL * dist));
}

static void push(uint64_t **v, size_t *n, size_t *cap, uint64_t t)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = t;
}

static void push_str(uint64_t **v, size_t *n, size_t *cap, const char *prefix, const char *s)
{
    char buf[512];
    int k = snprintf(buf, sizeof buf, "%s%s", prefix, s);
    if (k < 0)
        return;
    push(v, n, cap, tok_hash(buf, (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1));
}

void tok_words(const char *utf8, size_t len, const char *prefix, unsigned osb_window, uint64_t **v,
               size_t *n, size_t *cap)
{
    /* ring holds the last back_max word hashes, the newest at (seen - 1) % back_max. */
    uint64_t ring[TOK_OSB_MAX - 1];
    size_t back_max = osb_window < 2             ? 0
                      : osb_window > TOK_OSB_MAX ? TOK_OSB_MAX - 1
                                                 : osb_window - 1;
    size_t seen = 0;
    const uint8_t *s = (const uint8_t *)utf8;
    int32_t slen = len > TOK_TEXT_MAX ? TOK_TEXT_MAX : (int32_t)len;
    size_t plen = strlen(prefix);
    char word[TOK_WORD_MAX * 4 + 64]; /* prefix + up to 40 code points of 4 bytes */
    size_t words = 0;
    int32_t i = 0;
    while (i < slen && words < TOK_WORDS_MAX) {
        UChar32 c;
        U8_NEXT(s, i, slen, c);
        if (c < 0 || !u_isalnum(c))
            continue;
        /* A word: collect its code points, lower-cased. */
        memcpy(word, prefix, plen);
        size_t wl = plen, cps = 0, prefix_end = plen;
        bool digits = true;
        while (true) {
            if (cps < TOK_WORD_MAX) {
                UChar32 lc = u_tolower(c);
                UBool err = false;
                int32_t off = (int32_t)wl;
                U8_APPEND(word, off, (int32_t)sizeof word, lc, err);
                if (!err)
                    wl = (size_t)off;
                if (cps < 6)
                    prefix_end = wl;
            }
            if (!u_isdigit(c))
                digits = false;
            cps++;
            if (i >= slen)
                break;
            U8_NEXT(s, i, slen, c);
            if (c < 0 || !u_isalnum(c))
                break;
        }
        if (cps < TOK_WORD_MIN || digits)
            continue;
        uint64_t h;
        if (cps > TOK_WORD_MAX) {
            char lw[128];
            int k = snprintf(lw, sizeof lw, "%sLONG:%zu/%.*s", prefix, cps,
                             (int)(prefix_end - plen), word + plen);
            h = tok_hash(lw, (size_t)k < sizeof lw ? (size_t)k : sizeof lw - 1);
        } else {
            h = tok_hash(word, wl);
        }
        push(v, n, cap, h);
        words++;
        if (back_max) {
            size_t back = seen < back_max ? seen : back_max;
            for (size_t d = 1; d <= back; d++)
                push(v, n, cap, tok_pair(ring[(seen - d) % back_max], h, (unsigned)d));
            ring[seen % back_max] = h;
            seen++;
        }
    }
}

/* The domain of the first address in a header value, lower case; "" when none. */
static void addr_domain(const char *v, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *lt = strchr(v, '<');
    const char *at = strchr(lt ? lt : v, '@');
    if (!at)
        return;
    size_t k = 0;
    for (const char *p = at + 1; *p && k + 1 < outlen; p++) {
        if (*p == '>' || *p == ' ' || *p == ',' || *p == ';' || *p == ')' || *p == '"')
            break;
        out[k++] = (char)tolower((unsigned char)*p);
    }
    out[k] = '\0';
}

/* A header value folded to a stable shape: lower case, digits as '#', cut at 60. */
static void shape(const char *v, char *out, size_t outlen)
{
    size_t k = 0;
    for (; *v && k + 1 < outlen && k < 60; v++)
        out[k++] = isdigit((unsigned char)*v) ? '#' : (char)tolower((unsigned char)*v);
    out[k] = '\0';
}

/* What the first Received "from" host looks like: "ip" (a bracketed or bare IP,
 * "unknown"), "dyn" (digits in the host name: dynamic pools), "name", or "none". */
static const char *received_shape(const char *v)
{
    const char *p = v;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "from ", 5) != 0)
        return "none";
    p += 5;
    while (*p == ' ')
        p++;
    if (*p == '[' || strncasecmp(p, "unknown", 7) == 0)
        return "ip";
    size_t digits = 0, dots = 0, n = 0;
    for (; *p && *p != ' ' && *p != '(' && *p != ';'; p++, n++) {
        if (isdigit((unsigned char)*p))
            digits++;
        else if (*p == '.')
            dots++;
    }
    if (n && digits + dots == n)
        return "ip";
    if (digits >= 3)
        return "dyn";
    return dots ? "name" : "bare";
}

/* Words of the display name before the address ("FN:" prefix). */
static void display_name_tokens(const char *v, uint64_t **out, size_t *n, size_t *cap)
{
    const char *lt = strchr(v, '<');
    if (!lt || lt == v)
        return;
    char *dec = xmalloc(1024);
    char *raw = xstrndup(v, (size_t)(lt - v));
    size_t dl = uni_decode_2047(raw, dec, 1024, NULL);
    tok_words(dec, dl, "FN:", 0, out, n, cap);
    free(raw);
    free(dec);
}

/* Registrable domains of the host names in one Received value ("RH:" prefix). */
static void received_hosts(const char *v, uint64_t **out, size_t *n, size_t *cap)
{
    char host[256], base[256];
    for (const char *p = v; *p;) {
        while (*p && !isalnum((unsigned char)*p))
            p++;
        size_t k = 0;
        bool dot = false, alpha = false;
        for (; *p && (isalnum((unsigned char)*p) || *p == '.' || *p == '-'); p++) {
            if (k + 1 < sizeof host)
                host[k++] = (char)tolower((unsigned char)*p);
            dot |= *p == '.';
            alpha |= isalpha((unsigned char)*p) != 0;
        }
        host[k] = '\0';
        if (!dot || !alpha || k < 4 || host[k - 1] == '.')
            continue;
        url_base_domain(host, base, sizeof base);
        if (strchr(base, '.'))
            push_str(out, n, cap, "RH:", base);
    }
}

/* A value's shape: digits as '#', letters as 'a', runs of either folded to one, other
 * bytes kept, cut at 60 ("<20021001123456.GA1234" is "<#.a#"): what program made a
 * Message-ID or Date, not the value itself. */
static void fold_shape(const char *v, size_t len, char *out, size_t outlen)
{
    size_t k = 0;
    char last = 0;
    for (size_t i = 0; i < len && v[i] && k + 1 < outlen && k < 60; i++) {
        unsigned char ch = (unsigned char)v[i];
        char o = isdigit(ch) ? '#' : isalpha(ch) ? 'a' : (char)ch;
        if ((o == '#' || o == 'a') && o == last)
            continue;
        out[k++] = o;
        last = o;
    }
    out[k] = '\0';
}

/* Shapes of the Message-ID local part ("IL:"), the Date ("D:"), the From local part
 * ("FL:"); the top-level Content-Transfer-Encoding ("CTE:"); the number of To
 * addresses ("TO:0", "TO:1", "TO:2-5", "TO:many"). Mail programs leave these traits
 * whatever the text says. */
static void shape_tokens(const hdr_block *h, uint64_t **v, size_t *n, size_t *cap)
{
    char buf[128];
    const char *s;
    if ((s = hdr_get(h, "Message-ID"))) {
        const char *at = strchr(s, '@');
        fold_shape(s, at ? (size_t)(at - s) : strlen(s), buf, sizeof buf);
        push_str(v, n, cap, "IL:", buf);
    }
    if ((s = hdr_get(h, "Date"))) {
        fold_shape(s, strlen(s), buf, sizeof buf);
        push_str(v, n, cap, "D:", buf);
    } else {
        push_str(v, n, cap, "D:", "(none)");
    }
    if ((s = hdr_get(h, "From"))) {
        const char *lt = strchr(s, '<');
        const char *local = lt ? lt + 1 : s;
        const char *at = strchr(local, '@');
        if (at) {
            fold_shape(local, (size_t)(at - local), buf, sizeof buf);
            push_str(v, n, cap, "FL:", buf);
        }
    }
    if ((s = hdr_get(h, "Content-Transfer-Encoding"))) {
        shape(s, buf, sizeof buf);
        push_str(v, n, cap, "CTE:", buf);
    }
    size_t to = 0;
    if ((s = hdr_get(h, "To")))
        for (to = 1; *s; s++)
            to += *s == ',';
    push_str(v, n, cap, "TO:", to == 0 ? "0" : to == 1 ? "1" : to <= 5 ? "2-5" : "many");
}

/* One URL beyond its registrable domain ("U:"): the whole host ("UH:"), the scheme
 * ("UP:proto:http") and up to 20 alphanumeric pieces of what follows the host, 2..20
 * characters, lower case, digits as '#' ("UP:cgi", "UP:remove", "UP:id#"). */
static void url_tokens(const html_url *u, uint64_t **v, size_t *n, size_t *cap)
{
    char buf[64];
    push_str(v, n, cap, "UH:", u->host);
    const char *p = strstr(u->url, "://");
    if (p) {
        size_t k = (size_t)(p - u->url);
        if (k <= 10) {
            int w = snprintf(buf, sizeof buf, "UP:proto:");
            for (size_t i = 0; i < k; i++)
                buf[w++] = (char)tolower((unsigned char)u->url[i]);
            push(v, n, cap, tok_hash(buf, (size_t)w));
        }
        p += 3;
    } else {
        p = u->url;
    }
    const char *q = strchr(p, '/');
    for (int pieces = 0; q && *q && pieces < 20;) {
        while (*q && !isalnum((unsigned char)*q))
            q++;
        const char *st = q;
        while (isalnum((unsigned char)*q))
            q++;
        size_t wl = (size_t)(q - st);
        if (wl < 2 || wl > 20)
            continue;
        int w = snprintf(buf, sizeof buf, "UP:");
        for (size_t i = 0; i < wl; i++)
            buf[w++] = (char)(isdigit((unsigned char)st[i]) ? '#' : tolower((unsigned char)st[i]));
        push(v, n, cap, tok_hash(buf, (size_t)w));
        pieces++;
    }
}

static void header_tokens(const hdr_block *h, unsigned osb_window, uint64_t **v, size_t *n,
                          size_t *cap)
{
    char buf[512], dom[256];
    const char *s = hdr_get(h, "Subject");
    if (s) {
        char *dec = xmalloc(4096);
        size_t dl = uni_decode_2047(s, dec, 4096, NULL);
        tok_words(dec, dl, "S:", osb_window, v, n, cap);
        free(dec);
    }
    if ((s = hdr_get(h, "From"))) {
        addr_domain(s, dom, sizeof dom);
        push_str(v, n, cap, "F:", dom[0] ? dom : "(none)");
    }
    if ((s = hdr_get(h, "Reply-To"))) {
        addr_domain(s, dom, sizeof dom);
        push_str(v, n, cap, "R:", dom[0] ? dom : "(none)");
    }
    if ((s = hdr_get(h, "X-Mailer")) || (s = hdr_get(h, "User-Agent"))) {
        shape(s, buf, sizeof buf);
        push_str(v, n, cap, "M:", buf);
    } else {
        push_str(v, n, cap, "M:", "(none)");
    }
    if ((s = hdr_get(h, "Message-ID"))) {
        addr_domain(s, dom, sizeof dom);
        shape(dom, buf, sizeof buf);
        push_str(v, n, cap, "I:", buf[0] ? buf : "(none)");
    } else {
        push_str(v, n, cap, "I:", "(missing)");
    }
    if (hdr_get(h, "List-Id"))
        push_str(v, n, cap, "L:", "list");
    if ((s = hdr_get(h, "Received")))
        push_str(v, n, cap, "H:rcvd:", received_shape(s));
    if ((s = hdr_get(h, "From")))
        display_name_tokens(s, v, n, cap);
    /* Which header fields are present (names only: "x-mailer", "x-msmail-priority"),
     * and every host domain in the Received chain. */
    for (size_t i = 0; i < h->n && i < 200; i++) {
        shape(h->f[i].name, buf, sizeof buf);
        push_str(v, n, cap, "HN:", buf);
        if (strcasecmp(h->f[i].name, "Received") == 0)
            received_hosts(h->f[i].value, v, n, cap);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t *tok_extract(const msg_model *m, const hdr_block *h, size_t max, unsigned osb_window,
                      size_t *n)
{
    uint64_t *v = NULL;
    size_t cnt = 0, cap = 0;
    if (!max)
        max = TOK_MAX_DEFAULT;
    if (h) {
        header_tokens(h, osb_window, &v, &cnt, &cap);
        shape_tokens(h, &v, &cnt, &cap);
    }
    if (m) {
        size_t tl;
        const char *text = msg_text(m, &tl);
        if (text)
            tok_words(text, tl, "", osb_window, &v, &cnt, &cap);
        const msg_part *parts;
        size_t np = msg_parts(m, &parts);
        for (size_t i = 0; i < np; i++) {
            push_str(&v, &cnt, &cap, "CT:", parts[i].content_type);
            if (!parts[i].is_text && parts[i].detected_type[0])
                push_str(&v, &cnt, &cap, "A:", parts[i].detected_type);
            if (parts[i].charset[0])
                push_str(&v, &cnt, &cap, "CS:", parts[i].charset);
        }
        const html_url *urls;
        size_t nu = msg_urls(m, &urls);
        for (size_t i = 0; i < nu; i++) {
            if (!urls[i].host || !urls[i].host[0])
                continue;
            char base[256];
            url_base_domain(urls[i].host, base, sizeof base);
            push_str(&v, &cnt, &cap, "U:", base);
            url_tokens(&urls[i], &v, &cnt, &cap);
        }
    }
    if (!cnt) {
        free(v);
        *n = 0;
        return NULL;
    }
    qsort(v, cnt, sizeof *v, cmp_u64);
    size_t k = 1;
    for (size_t i = 1; i < cnt; i++)
        if (v[i] != v[k - 1])
            v[k++] = v[i];
    *n = k < max ? k : max;
    return v;
}
