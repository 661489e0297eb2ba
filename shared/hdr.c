/* hdr.c - splits a raw message into header fields and body, noting damage.
 *
 * One pass over the bytes: a line starting with space or tab continues the
 * previous field; a line with a colon starts a new one; an empty line ends the
 * block. Lines end at LF (a CR before it is dropped). Nothing is trusted: field
 * count, line length and bytes are checked and reported as flags, not errors. */
#include "hdr.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void add_field(hdr_block *h, const char *name, size_t nlen, const char *val, size_t vlen)
{
    if (h->n >= HDR_MAX_FIELDS) {
        h->flags |= HDR_TOO_MANY;
        return;
    }
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->f = xrealloc(h->f, h->cap * sizeof *h->f);
    }
    /* Unfold: drop CR and LF, keep the whitespace that follows. */
    char *v = xmalloc(vlen + 1), *o = v;
    const char *p = val, *e = val + vlen;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    for (; p < e; p++)
        if (*p != '\r' && *p != '\n')
            *o++ = *p;
    while (o > v && (o[-1] == ' ' || o[-1] == '\t'))
        o--;
    *o = '\0';
    h->f[h->n].name = xstrndup(name, nlen);
    h->f[h->n].value = v;
    h->n++;
}

hdr_block *hdr_parse(const char *raw, size_t len)
{
    hdr_block *h = xcalloc(1, sizeof *h);
    const char *p = raw, *end = raw + len;
    const char *fname = NULL, *fval = NULL;
    size_t fnlen = 0;
    h->body_off = len;
    h->flags = HDR_NO_SEPARATOR;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end; /* line end (exclusive of LF) */
        const char *next = nl ? nl + 1 : end;
        size_t llen = (size_t)(le - p);
        if (llen && le[-1] == '\r')
            llen--;
        if (llen > 998)
            h->flags |= HDR_LONG_LINE;
        for (const char *q = p; q < p + llen; q++) {
            if (*q == '\0')
                h->flags |= HDR_NUL;
            else if ((unsigned char)*q >= 0x80)
                h->flags |= HDR_8BIT;
        }
        if (llen == 0) {
            /* end of header block */
            h->flags &= ~(unsigned)HDR_NO_SEPARATOR;
            h->body_off = (size_t)(next - raw);
            break;
        }
        if (*p == ' ' || *p == '\t') {
            if (!fname)
                h->flags |= HDR_BAD_LINE;
            p = next;
            continue;
        }
        if (fname)
            add_field(h, fname, fnlen, fval, (size_t)(p - fval));
        fname = NULL;
        const char *colon = memchr(p, ':', llen);
        size_t nlen = colon ? (size_t)(colon - p) : 0;
        while (nlen && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
            nlen--; /* obsolete "Name :" form */
        bool name_ok = colon && nlen > 0;
        for (size_t i = 0; name_ok && i < nlen; i++)
            if (p[i] < 33 || p[i] > 126)
                name_ok = false;
        if (!name_ok) {
            h->flags |= HDR_BAD_LINE;
            p = next;
            continue;
        }
        fname = p;
        fnlen = nlen;
        fval = colon + 1;
        p = next;
    }
    if (fname)
        add_field(h, fname, fnlen, fval, (size_t)(p - fval));
    if (h->n == 0)
        h->flags |= HDR_EMPTY;
    return h;
}

void hdr_destroy(hdr_block **hp)
{
    hdr_block *h = *hp;
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++) {
        free(h->f[i].name);
        free(h->f[i].value);
    }
    free(h->f);
    free(h);
    *hp = NULL;
}

const char *hdr_get(const hdr_block *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->f[i].name, name) == 0)
            return h->f[i].value;
    return NULL;
}

size_t hdr_count(const hdr_block *h, const char *name)
{
    size_t c = 0;
    for (size_t i = 0; i < h->n; i++)
        c += strcasecmp(h->f[i].name, name) == 0;
    return c;
}

/* ---- dates --------------------------------------------------------------------- */

static const char *skip_cfws(const char *s)
{
    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s != '(')
            return s;
        int depth = 0;
        do {
            if (*s == '(')
                depth++;
            else if (*s == ')')
                depth--;
            else if (*s == '\\' && s[1])
                s++;
            s++;
        } while (*s && depth > 0);
    }
}

static bool read_int(const char **s, int min_digits, int max_digits, int *out)
{
    const char *p = *s;
    int v = 0, n = 0;
    while (isdigit((unsigned char)*p) && n < max_digits) {
        v = v * 10 + (*p - '0');
        p++;
        n++;
    }
    if (n < min_digits || isdigit((unsigned char)*p))
        return false;
    *s = p;
    *out = v;
    return true;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's algorithm: days since 1970-01-01. */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

bool hdr_parse_date(const char *s, time_t *out)
{
    static const char *months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                   "jul", "aug", "sep", "oct", "nov", "dec"};
    static const struct {
        const char *name;
        int off;
    } zones[] = {{"UT", 0},     {"GMT", 0},    {"Z", 0},      {"EST", -500},
                 {"EDT", -400}, {"CST", -600}, {"CDT", -500}, {"MST", -700},
                 {"MDT", -600}, {"PST", -800}, {"PDT", -700}};
    int day, year, hh, mm, ss = 0, mon = -1;

    s = skip_cfws(s);
    if (isalpha((unsigned char)*s)) { /* day-of-week */
        while (isalpha((unsigned char)*s))
            s++;
        s = skip_cfws(s);
        if (*s != ',')
            return false;
        s = skip_cfws(s + 1);
    }
    if (!read_int(&s, 1, 2, &day))
        return false;
    s = skip_cfws(s);
    for (int i = 0; i < 12; i++)
        if (strncasecmp(s, months[i], 3) == 0 && !isalpha((unsigned char)s[3]))
            mon = i;
    if (mon < 0)
        return false;
    s = skip_cfws(s + 3);
    if (!read_int(&s, 2, 4, &year))
        return false;
    if (year < 50)
        year += 2000;
    else if (year < 1000)
        year += 1900;
    s = skip_cfws(s);
    if (!read_int(&s, 1, 2, &hh) || *s != ':')
        return false;
    s = skip_cfws(s + 1);
    if (!read_int(&s, 2, 2, &mm))
        return false;
    s = skip_cfws(s);
    if (*s == ':') {
        s = skip_cfws(s + 1);
        if (!read_int(&s, 2, 2, &ss))
            return false;
    }
    s = skip_cfws(s);
    int off = 0;
    if (*s == '+' || *s == '-') {
        int z;
        const char *p = s + 1;
        if (!read_int(&p, 4, 4, &z))
            return false;
        off = *s == '-' ? -z : z;
        s = p;
    } else if (*s) {
        bool found = false;
        for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
            size_t n = strlen(zones[i].name);
            if (strncasecmp(s, zones[i].name, n) == 0 && !isalpha((unsigned char)s[n])) {
                off = zones[i].off;
                s += n;
                found = true;
            }
        }
        if (!found && isalpha((unsigned char)*s) && !isalpha((unsigned char)s[1]))
            s++; /* military zone: treated as -0000 (RFC 5322 4.3) */
        else if (!found)
            return false;
    }
    if (*skip_cfws(s))
        return false;
    if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year > 9999 || (off % 100) > 59 ||
        (-off % 100) > 59)
        return false;
    /* 31 Feb is not a date: refuse it rather than roll over into March. */
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[mon] || (mon == 1 && day == 29 && !leap))
        return false;
    int64_t t =
        days_from_civil(year, (unsigned)mon + 1, (unsigned)day) * 86400 + hh * 3600 + mm * 60 + ss;
    t -= (off / 100) * 3600 + (off % 100) * 60;
    *out = (time_t)t;
    return true;
}
