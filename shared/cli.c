/* cli.c - command-line time values and CSV quoting for bulwarkctl.
 *
 * Times: a relative age is a number and one unit letter (s, m, h, d, w) counted
 * back from the caller's "now"; an absolute time is parsed field by field with
 * fixed widths (no sscanf/strptime leniency) and checked against the calendar
 * before timegm() turns it into seconds. CSV: RFC 4180 quoting, so a field with
 * commas, quotes or line breaks (a Subject can hold any of them) stays one field. */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* n decimal digits at s; false if any is not a digit. */
static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

static bool parse_relative(const char *s, uint64_t now_ms, uint64_t *out)
{
    uint64_t n = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (uint64_t)(*p - '0');
        if (n > 1000000000ull) /* 31 years in seconds: larger ages are typos */
            return false;
    }
    uint64_t unit;
    switch (*p) {
    case 's': unit = 1000; break;
    case 'm': unit = 60000; break;
    case 'h': unit = 3600000; break;
    case 'd': unit = 86400000; break;
    case 'w': unit = 7 * 86400000ull; break;
    default: return false;
    }
    if (p[1])
        return false;
    uint64_t age = n * unit;
    *out = age > now_ms ? 0 : now_ms - age;
    return true;
}

/* YYYY-MM-DD[(T| )HH:MM[:SS][Z]] */
static bool parse_absolute(const char *s, uint64_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    size_t n = strlen(s);
    if (n < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return false;
    const char *p = s + 10;
    if (*p == 'T' || *p == ' ') {
        if (strlen(p) < 6 || !digits(p + 1, 2, &h) || p[3] != ':' || !digits(p + 4, 2, &mi))
            return false;
        p += 6;
        if (*p == ':') {
            if (!digits(p + 1, 2, &sec))
                return false;
            p += 3;
        }
        if (*p == 'Z')
            p++;
    }
    if (*p || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
        mi > 59 || sec > 59)
        return false;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t < 0)
        return false;
    *out = (uint64_t)t * 1000;
    return true;
}

bool cli_parse_time(const char *s, uint64_t now_ms, uint64_t *out_ms, char *err, size_t errlen)
{
    if (s && (parse_relative(s, now_ms, out_ms) || parse_absolute(s, out_ms)))
        return true;
    snprintf(err, errlen,
             "'%s' is not a time: use 2026-11-24, 2026-11-24T10:00:00Z (UTC) or an age such as "
             "30m, 2h, 7d",
             s ? s : "");
    return false;
}

void cli_csv_field(buf_t *b, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    bool quote = strpbrk(s, ",\"\r\n") != NULL || (n && (s[0] == ' ' || s[n - 1] == ' '));
    if (!quote) {
        buf_append(b, s, n);
        return;
    }
    buf_append(b, "\"", 1);
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        buf_append(b, s, (size_t)(q - s));
        buf_append(b, "\"\"", 2);
    }
    buf_puts(b, s);
    buf_append(b, "\"", 1);
}

bool cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}
