/* unicode.c - lookalike detection over ICU's spoof checker, libidn2, and an RFC 2047
 * decoder, for the header check (node/checks/headers.c).
 *
 * The USpoofChecker is opened and configured once in uni_checker_new() and never
 * changed afterwards; uspoof.h documents the check and skeleton calls on a const
 * checker as thread safe, so the workers share it without a lock. Mixed scripts are
 * judged word by word (whole subjects legitimately mix "Re:" with Cyrillic or Arabic);
 * skeletons are taken of case-folded text so "PayPal" and "paypal" are one brand.
 * Encoded words are decoded here rather than by GMime so the header check can count
 * what was wrong with them (malformed, base64 of plain ASCII, hidden controls), and
 * their charsets are converted with ICU's converters (one opened per call). Buffers
 * are the caller's; nothing here keeps state between calls. */
#include "unicode.h"
#include "util.h"

#include <ctype.h>
#include <idn2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/uchar.h>
#include <unicode/ucnv.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

/* Longest text judged, in bytes: display names, subjects and hosts are far shorter. */
#define UNI_MAX_IN 2048

struct uni_checker {
    USpoofChecker *sc;
};

uni_checker *uni_checker_new(char *err, size_t errlen)
{
    UErrorCode st = U_ZERO_ERROR;
    USpoofChecker *sc = uspoof_open(&st);
    if (U_SUCCESS(st))
        uspoof_setChecks(sc, USPOOF_RESTRICTION_LEVEL | USPOOF_MIXED_SCRIPT_CONFUSABLE, &st);
    if (U_FAILURE(st)) {
        snprintf(err, errlen, "ICU spoof checker: %s", u_errorName(st));
        if (sc)
            uspoof_close(sc);
        return NULL;
    }
    uspoof_setRestrictionLevel(sc, USPOOF_MODERATELY_RESTRICTIVE);
    uni_checker *u = xcalloc(1, sizeof *u);
    u->sc = sc;
    return u;
}

void uni_checker_destroy(uni_checker **up)
{
    uni_checker *u = *up;
    if (!u)
        return;
    uspoof_close(u->sc);
    free(u);
    *up = NULL;
}

/* ---- mixed scripts ---------------------------------------------------------------- */

/* A word is a run of letters, digits and combining marks (with ZWNJ/ZWJ, which
 * Persian and Indic words hold). Everything else separates, '.' and '-' included:
 * Russian writes "PDF-файл" and "IT-специалист", and a lookalike host label
 * ("раураl" of "раураl.com") is mixed on its own. */
static bool is_separator(UChar32 c)
{
    if (c < 0)
        return true;
    if (u_isalnum(c) || c == 0x200c || c == 0x200d)
        return false;
    int8_t t = u_charType(c);
    return t != U_NON_SPACING_MARK && t != U_COMBINING_SPACING_MARK && t != U_ENCLOSING_MARK;
}

bool uni_mixed_script(const uni_checker *u, const char *utf8, char *word, size_t wordlen)
{
    int32_t len = (int32_t)strnlen(utf8, UNI_MAX_IN);
    int32_t i = 0;
    if (word && wordlen)
        word[0] = '\0';
    while (i < len) {
        int32_t start = i;
        UChar32 c;
        U8_NEXT(utf8, i, len, c);
        if (is_separator(c))
            continue;
        int32_t end = i;
        while (i < len) {
            U8_NEXT(utf8, i, len, c);
            if (is_separator(c))
                break;
            end = i;
        }
        UErrorCode st = U_ZERO_ERROR;
        int32_t r = uspoof_check2UTF8(u->sc, utf8 + start, end - start, NULL, &st);
        if (U_SUCCESS(st) && (r & (USPOOF_RESTRICTION_LEVEL | USPOOF_MIXED_SCRIPT_CONFUSABLE))) {
            if (word && wordlen)
                snprintf(word, wordlen, "%.*s", (int)(end - start), utf8 + start);
            return true;
        }
    }
    return false;
}

/* ---- skeletons -------------------------------------------------------------------- */

/* utf8 to case-folded UTF-16 in an allocated buffer; NULL on invalid UTF-8. */
static UChar *folded16(const char *utf8, int32_t *outlen)
{
    int32_t len = (int32_t)strnlen(utf8, UNI_MAX_IN + 1);
    if (len > UNI_MAX_IN)
        return NULL;
    UChar *raw = xmalloc(((size_t)len + 1) * sizeof *raw);
    UChar *fold = xmalloc(((size_t)len * 3 + 1) * sizeof *fold);
    UErrorCode st = U_ZERO_ERROR;
    int32_t n;
    u_strFromUTF8(raw, len + 1, &n, utf8, len, &st);
    if (U_SUCCESS(st))
        n = u_strFoldCase(fold, len * 3 + 1, raw, n, U_FOLD_CASE_DEFAULT, &st);
    free(raw);
    if (U_FAILURE(st)) {
        free(fold);
        return NULL;
    }
    *outlen = n;
    return fold;
}

/* Skeleton of case-folded UTF-16, allocated; NULL on failure. */
static UChar *skeleton16(const uni_checker *u, const UChar *s, int32_t n, int32_t *outlen)
{
    int32_t cap = n * 4 + 16;
    UChar *sk = xmalloc((size_t)cap * sizeof *sk);
    UErrorCode st = U_ZERO_ERROR;
    int32_t k = uspoof_getSkeleton(u->sc, 0, s, n, sk, cap, &st);
    if (st == U_BUFFER_OVERFLOW_ERROR) {
        cap = k + 1;
        sk = xrealloc(sk, (size_t)cap * sizeof *sk);
        st = U_ZERO_ERROR;
        k = uspoof_getSkeleton(u->sc, 0, s, n, sk, cap, &st);
    }
    if (U_FAILURE(st)) {
        free(sk);
        return NULL;
    }
    *outlen = k;
    return sk;
}

bool uni_skeleton(const uni_checker *u, const char *utf8, char *out, size_t outlen)
{
    int32_t n, k;
    if (outlen)
        out[0] = '\0';
    UChar *f = folded16(utf8, &n);
    if (!f)
        return false;
    UChar *sk = skeleton16(u, f, n, &k);
    free(f);
    if (!sk)
        return false;
    UErrorCode st = U_ZERO_ERROR;
    int32_t w;
    u_strToUTF8(out, (int32_t)outlen, &w, sk, k, &st);
    free(sk);
    if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING || (size_t)w >= outlen) {
        if (outlen)
            out[0] = '\0';
        return false;
    }
    return true;
}

bool uni_confusable(const uni_checker *u, const char *a, const char *b)
{
    int32_t na, nb, ka, kb;
    UChar *fa = folded16(a, &na), *fb = folded16(b, &nb);
    bool res = false;
    if (fa && fb && !(na == nb && u_strCompare(fa, na, fb, nb, false) == 0)) {
        UChar *sa = skeleton16(u, fa, na, &ka), *sb = skeleton16(u, fb, nb, &kb);
        res = sa && sb && ka == kb && u_strCompare(sa, ka, sb, kb, false) == 0;
        free(sa);
        free(sb);
    }
    free(fa);
    free(fb);
    return res;
}

bool uni_whole_script_latin_lookalike(const uni_checker *u, const char *label)
{
    int32_t len = (int32_t)strnlen(label, 256), i = 0;
    bool non_ascii = false;
    while (i < len) {
        UChar32 c;
        U8_NEXT(label, i, len, c);
        if (c < 0)
            return false;
        if (c >= 0x80)
            non_ascii = true;
        else if (isalpha(c))
            return false; /* Latin letters mixed in: that is uni_mixed_script's case */
    }
    if (!non_ascii)
        return false;
    char sk[1024];
    if (!uni_skeleton(u, label, sk, sizeof sk))
        return false;
    for (const char *p = sk; *p; p++)
        if ((unsigned char)*p >= 0x80 || !(isalnum((unsigned char)*p) || *p == '-'))
            return false;
    return true;
}

/* ---- IDNA ------------------------------------------------------------------------- */

static bool has_ace_label(const char *host)
{
    for (const char *p = host; *p; p++)
        if ((p == host || p[-1] == '.') && strncasecmp(p, "xn--", 4) == 0)
            return true;
    return false;
}

bool uni_idna_to_unicode(const char *host, char *out, size_t outlen)
{
    if (!outlen)
        return false;
    snprintf(out, outlen, "%s", host);
    if (!has_ace_label(host))
        return true;
    char *u8 = NULL;
    if (idn2_to_unicode_8z8z(host, &u8, 0) != IDN2_OK) {
        idn2_free(u8);
        return false;
    }
    bool fits = strlen(u8) < outlen;
    if (fits)
        snprintf(out, outlen, "%s", u8);
    idn2_free(u8);
    return fits;
}

/* ---- RFC 2047 --------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap; /* cap excludes the NUL */
} outbuf;

static void out_put(outbuf *o, const char *s, size_t n)
{
    size_t room = o->cap - o->n;
    if (n > room)
        n = room;
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes the text of a B word into dst (room for n bytes); -1 if not base64.
 * Missing padding is tolerated, as every mail reader does. */
static long b64_decode(const char *s, size_t n, unsigned char *dst)
{
    uint32_t acc = 0;
    int bits = 0;
    long w = 0;
    size_t i = 0;
    for (; i < n && s[i] != '='; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[w++] = (unsigned char)(acc >> bits);
        }
    }
    for (; i < n; i++)
        if (s[i] != '=')
            return -1; /* data after the padding */
    return w;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static long q_decode(const char *s, size_t n, unsigned char *dst)
{
    long w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '_') {
            dst[w++] = ' ';
        } else if (s[i] == '=') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            dst[w++] = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else {
            dst[w++] = (unsigned char)s[i];
        }
    }
    return w;
}

/* Replaces control characters and bidi overrides in UTF-8 with '?' (in place);
 * returns how many. */
static unsigned scrub_controls(char *s, int32_t *len)
{
    unsigned n = 0;
    int32_t i = 0, w = 0;
    while (i < *len) {
        int32_t at = i;
        UChar32 c;
        U8_NEXT(s, i, *len, c);
        bool bad = (c >= 0 && c < 0x20 && c != '\t') || (c >= 0x7f && c <= 0x9f) ||
                   (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
        if (bad) {
            s[w++] = '?';
            n++;
        } else {
            memmove(s + w, s + at, (size_t)(i - at));
            w += i - at;
        }
    }
    *len = w;
    return n;
}

enum { W_NOT, W_OK, W_BAD };

/* One encoded word at p ("=?"). W_OK: decoded UTF-8 in *dec (allocated), *end past
 * "?=". W_BAD: *end past what was taken for the word. W_NOT: literal text. */
static int parse_word(const char *p, const char **end, char **dec, int32_t *declen,
                      uni_2047_info *info)
{
    const char *cs = p + 2, *q = cs;
    while (*q && *q != '?' && (unsigned char)*q > ' ' && (unsigned char)*q < 0x7f && q - cs < 64)
        q++;
    if (*q != '?' || q == cs || !isalpha((unsigned char)q[1]) || q[2] != '?')
        return W_NOT;
    size_t cslen = (size_t)(q - cs);
    char enc = (char)toupper((unsigned char)q[1]);
    const char *text = q + 3, *t = text;
    while (*t && !(t[0] == '?' && t[1] == '=') && (unsigned char)*t > ' ' &&
           (unsigned char)*t != 0x7f)
        t++;
    if (!(t[0] == '?' && t[1] == '=')) {
        *end = t;
        return W_BAD; /* no closing "?=" before white space or the end */
    }
    *end = t + 2;
    size_t n = (size_t)(t - text);
    unsigned char *raw = xmalloc(n + 1);
    long rn = enc == 'B' ? b64_decode(text, n, raw) : enc == 'Q' ? q_decode(text, n, raw) : -1;
    if (rn < 0) {
        free(raw);
        return W_BAD;
    }
    if (enc == 'B' && rn > 0) {
        bool ascii = true;
        for (long i = 0; i < rn; i++)
            ascii = ascii && raw[i] >= 0x20 && raw[i] < 0x7f;
        info->b64_ascii += ascii;
    }
    char charset[72];
    snprintf(charset, sizeof charset, "%.*s", (int)cslen, cs);
    charset[strcspn(charset, "*")] = '\0'; /* RFC 2231 language: utf-8*en */
    int32_t cap = (int32_t)rn * 4 + 4;
    char *u8 = xmalloc((size_t)cap);
    UErrorCode st = U_ZERO_ERROR;
    int32_t k = ucnv_convert("UTF-8", charset, u8, cap, (const char *)raw, (int32_t)rn, &st);
    free(raw);
    if (U_FAILURE(st) || !charset[0]) {
        free(u8);
        return W_BAD;
    }
    info->controls += scrub_controls(u8, &k);
    u8[k] = '\0';
    *dec = u8;
    *declen = k;
    return W_OK;
}

size_t uni_decode_2047(const char *in, char *out, size_t outlen, uni_2047_info *info)
{
    uni_2047_info dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    if (!outlen)
        return 0;
    outbuf o = {out, 0, outlen - 1};
    out[0] = '\0';
    bool after_word = false;
    const char *p = in;
    while (*p) {
        if (p[0] == '=' && p[1] == '?') {
            const char *end;
            char *dec = NULL;
            int32_t n = 0;
            int r = parse_word(p, &end, &dec, &n, info);
            if (r == W_OK) {
                out_put(&o, dec, (size_t)n);
                free(dec);
                info->words++;
                after_word = true;
                p = end;
                continue;
            }
            if (r == W_BAD) {
                if (!info->malformed++)
                    snprintf(info->bad, sizeof info->bad, "%.*s", (int)(end - p), p);
                out_put(&o, p, (size_t)(end - p));
                after_word = false;
                p = end;
                continue;
            }
        }
        if (*p == ' ' || *p == '\t') {
            size_t ws = strspn(p, " \t");
            const char *next = p + ws, *end;
            char *dec = NULL;
            int32_t n;
            uni_2047_info probe = {0};
            bool joins = after_word && next[0] == '=' && next[1] == '?' &&
                         parse_word(next, &end, &dec, &n, &probe) == W_OK;
            free(dec);
            if (!joins)
                out_put(&o, p, ws); /* between two encoded words, white space goes */
            p = next;
            continue;
        }
        out_put(&o, p, 1);
        after_word = false;
        p++;
    }
    return o.n;
}
