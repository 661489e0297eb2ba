/* spf.c - SPF (RFC 7208): the record parser, the macro expander and check_host().
 *
 * The parser follows the ABNF of section 12 term by term: a record is split on
 * spaces, each term is a modifier (name "=" ...) or a directive, and every term is
 * checked before any is evaluated, so a syntax error anywhere is a permerror. The
 * expander writes into a fixed buffer; for names it keeps the right end when the
 * buffer fills, which is all the 253-character truncation of 7.3 can keep anyway.
 * check_host() walks the terms in order, counting the terms that query DNS and the
 * void answers across includes and redirects, and asks the explanation only for the
 * fail that decides the result. Everything an evaluation allocates is freed before
 * it returns; the DNS answers belong to the caller's batch. */
#include "spf.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(int c)
{
    return is_alpha(c) || is_digit(c);
}

const char *spf_result_name(spf_result r)
{
    switch (r) {
    case SPF_NONE: return "none";
    case SPF_NEUTRAL: return "neutral";
    case SPF_PASS: return "pass";
    case SPF_FAIL: return "fail";
    case SPF_SOFTFAIL: return "softfail";
    case SPF_TEMPERROR: return "temperror";
    case SPF_PERMERROR: return "permerror";
    }
    return "unknown";
}

/* ---- addresses ------------------------------------------------------------------ */

bool spf_ip_parse(const char *s, spf_ip *ip)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint8_t a6[16];
    memset(ip, 0, sizeof *ip);
    if (inet_pton(AF_INET, s, ip->a) == 1) {
        ip->family = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, a6) != 1)
        return false;
    if (memcmp(a6, mapped, sizeof mapped) == 0) {
        ip->family = 4;
        memcpy(ip->a, a6 + 12, 4);
    } else {
        ip->family = 6;
        memcpy(ip->a, a6, 16);
    }
    return true;
}

bool spf_cidr_parse(const char *s, spf_ip *net, unsigned *prefix)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof addr)
        return false;
    memcpy(addr, s, n);
    addr[n] = '\0';
    /* An IPv4-mapped network is an IPv4 one: its prefix counts from bit 96. */
    bool v6text = strchr(addr, ':') != NULL;
    if (!spf_ip_parse(addr, net))
        return false;
    unsigned bits = v6text ? 128 : 32, p = bits;
    if (slash) {
        const char *d = slash + 1;
        if (!*d || strlen(d) > 3)
            return false;
        p = 0;
        for (; *d; d++) {
            if (!is_digit(*d))
                return false;
            p = p * 10 + (unsigned)(*d - '0');
        }
        if (p > bits)
            return false;
    }
    if (v6text && net->family == 4)
        p = p >= 96 ? p - 96 : 0;
    *prefix = p;
    return true;
}

bool spf_ip_match(const spf_ip *ip, const spf_ip *net, unsigned prefix)
{
    if (ip->family != net->family)
        return false;
    unsigned bits = ip->family == 4 ? 32 : 128;
    if (prefix > bits)
        prefix = bits;
    size_t whole = prefix / 8;
    unsigned rest = prefix % 8;
    if (memcmp(ip->a, net->a, whole) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (ip->a[whole] & mask) == (net->a[whole] & mask);
}

void spf_ip_text(const spf_ip *ip, char *out, size_t outlen)
{
    char t[INET6_ADDRSTRLEN];
    if (!inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->a, t, sizeof t))
        t[0] = '\0';
    snprintf(out, outlen, "%s", t);
}

/* The dot format of %{i}: the dotted quad, or 32 nibbles for IPv6 (upper case, as
 * the RFC 7208 test suite's explanations expect; names compare without case). */
static void ip_dotted(const spf_ip *ip, char *out, size_t outlen)
{
    if (ip->family == 4) {
        snprintf(out, outlen, "%u.%u.%u.%u", ip->a[0], ip->a[1], ip->a[2], ip->a[3]);
        return;
    }
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    for (size_t i = 0; i < 16 && k + 4 < outlen; i++) {
        out[k++] = hex[ip->a[i] >> 4];
        out[k++] = '.';
        out[k++] = hex[ip->a[i] & 15];
        out[k++] = '.';
    }
    out[k ? k - 1 : 0] = '\0';
}

/* The reverse name of ip ("4.3.2.1.in-addr.arpa", nibbles under ip6.arpa). */
static void ip_reverse(const spf_ip *ip, char *out, size_t outlen)
{
    if (ip->family == 4) {
        snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa", ip->a[3], ip->a[2], ip->a[1], ip->a[0]);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (int i = 15; i >= 0 && k + 4 < outlen; i--) {
        out[k++] = hex[ip->a[i] & 15];
        out[k++] = '.';
        out[k++] = hex[ip->a[i] >> 4];
        out[k++] = '.';
    }
    snprintf(out + k, outlen - k, "ip6.arpa");
}

/* ---- macros ------------------------------------------------------------------------ */

/* Expansion output. Names keep their right end when the buffer fills (7.3 cuts labels
 * from the left); explanations are cut at the end. */
typedef struct {
    char *p;
    size_t cap, len;
    bool name;
} mout;

static void mout_putc(mout *o, char c)
{
    if (o->len + 1 >= o->cap) {
        if (!o->name)
            return;
        size_t keep = o->cap / 2;
        memmove(o->p, o->p + o->len - keep, keep);
        o->len = keep;
    }
    o->p[o->len++] = c;
}

static void mout_puts(mout *o, const char *s)
{
    for (; *s; s++)
        mout_putc(o, *s);
}

/* RFC 3986 unreserved characters pass; everything else becomes %XX (7.3, upper-case
 * macro letters). */
static void mout_escaped(mout *o, char c, bool escape)
{
    if (!escape || is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
        mout_putc(o, c);
        return;
    }
    static const char hex[] = "0123456789ABCDEF";
    mout_putc(o, '%');
    mout_putc(o, hex[(unsigned char)c >> 4]);
    mout_putc(o, hex[(unsigned char)c & 15]);
}

static const char *sender_local(const char *sender, char *buf, size_t buflen)
{
    const char *at = strrchr(sender, '@');
    if (!at)
        return "postmaster";
    snprintf(buf, buflen, "%.*s", (int)(at - sender), sender);
    return *buf ? buf : "postmaster";
}

static const char *sender_domain(const char *sender)
{
    const char *at = strrchr(sender, '@');
    return at ? at + 1 : sender;
}

/* The value of one macro letter (lower case), before transformers. */
static const char *macro_value(char letter, const spf_macro_env *env, char *buf, size_t buflen)
{
    switch (letter) {
    case 's': return env->sender ? env->sender : "";
    case 'l': return sender_local(env->sender ? env->sender : "", buf, buflen);
    case 'o': return sender_domain(env->sender ? env->sender : "");
    case 'd': return env->domain ? env->domain : "";
    case 'h': return env->helo ? env->helo : "";
    case 'i':
        if (!env->ip)
            return "";
        ip_dotted(env->ip, buf, buflen);
        return buf;
    case 'c':
        if (!env->ip)
            return "";
        spf_ip_text(env->ip, buf, buflen);
        return buf;
    case 'v': return env->ip && env->ip->family == 6 ? "ip6" : "in-addr";
    case 'p': {
        const char *p = env->ptr ? env->ptr(env->arg) : NULL;
        return p ? p : "unknown";
    }
    case 'r': return env->receiver ? env->receiver : "unknown";
    case 't': snprintf(buf, buflen, "%lld", (long long)env->now); return buf;
    }
    return "";
}

/* Writes value split on the delimiters, reversed if asked, its rightmost `keep` parts
 * (0: all), joined with dots (7.3). */
static void macro_transform(mout *o, const char *value, unsigned keep, bool reverse,
                            const char *delims, bool escape)
{
    size_t len = strlen(value), nparts = 1;
    for (size_t i = 0; i < len; i++)
        if (strchr(delims, value[i]))
            nparts++;
    size_t *start = xmalloc(nparts * sizeof *start), *end = xmalloc(nparts * sizeof *end);
    size_t k = 0;
    start[0] = 0;
    for (size_t i = 0; i < len; i++)
        if (strchr(delims, value[i])) {
            end[k++] = i;
            start[k] = i + 1;
        }
    end[k] = len;
    size_t first = keep && keep < nparts ? nparts - keep : 0;
    for (size_t j = first; j < nparts; j++) {
        size_t part = reverse ? nparts - 1 - j : j;
        if (j > first)
            mout_putc(o, '.');
        for (size_t i = start[part]; i < end[part]; i++)
            mout_escaped(o, value[i], escape);
    }
    free(start);
    free(end);
}

static bool letter_ok(char c, spf_macro_mode mode, bool any_letter)
{
    c = (char)tolower((unsigned char)c);
    if (!c)
        return false;
    if (strchr("slodiphv", c))
        return true;
    return (mode == SPF_MACRO_EXPLAIN || any_letter) && strchr("crt", c);
}

/* Scans (and, with env and o, expands) a macro-string. *tail gets the offset just
 * after the last macro-expand, for the domain-end rule. any_letter: an unknown
 * modifier's value, which is never expanded and may name any letter. */
static bool macro_run(const char *s, size_t len, spf_macro_mode mode, bool any_letter,
                      const spf_macro_env *env, mout *o, size_t *tail)
{
    *tail = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '%') {
            bool ok = (c >= 0x21 && c <= 0x7e) || (c == ' ' && mode == SPF_MACRO_EXPLAIN);
            if (!ok)
                return false;
            if (o)
                mout_putc(o, (char)c);
            continue;
        }
        if (++i >= len)
            return false;
        if (s[i] == '%' || s[i] == '_' || s[i] == '-') {
            if (o)
                mout_puts(o, s[i] == '%' ? "%" : s[i] == '_' ? " " : "%20");
            *tail = i + 1;
            continue;
        }
        if (s[i] != '{' || ++i >= len || !letter_ok(s[i], mode, any_letter))
            return false;
        char letter = s[i++];
        unsigned keep = 0;
        bool digits = false, reverse = false;
        while (i < len && is_digit(s[i])) {
            keep = keep * 10 + (unsigned)(s[i++] - '0');
            if (keep > 1000)
                keep = 1000; /* more parts than any name has */
            digits = true;
        }
        if (digits && keep == 0)
            return false; /* "If a DIGIT is specified, the value MUST be nonzero." */
        if (i < len && (s[i] == 'r' || s[i] == 'R')) {
            reverse = true;
            i++;
        }
        char delims[8] = "";
        size_t nd = 0;
        while (i < len && s[i] && strchr(".-+,/_=", s[i])) {
            if (!strchr(delims, s[i]) && nd < sizeof delims - 1)
                delims[nd++] = s[i];
            i++;
        }
        if (i >= len || s[i] != '}')
            return false;
        *tail = i + 1;
        if (!o)
            continue;
        char buf[SPF_NAME_MAX + 64];
        const char *v = macro_value((char)tolower((unsigned char)letter), env, buf, sizeof buf);
        macro_transform(o, v, keep, reverse, nd ? delims : ".",
                        isupper((unsigned char)letter) != 0);
    }
    return true;
}

bool spf_macro_valid(const char *s, size_t len, spf_macro_mode mode)
{
    size_t tail;
    return macro_run(s, len, mode, false, NULL, NULL, &tail);
}

/* Drops one trailing dot, then whole labels from the left while the name is longer
 * than 253 characters (7.3); "" when no label boundary allows it. */
static void name_fit(char *p, size_t len, char *out, size_t outlen)
{
    if (len && p[len - 1] == '.')
        len--;
    size_t from = 0;
    if (len > SPF_NAME_MAX - 1) {
        from = len;
        for (size_t j = len - SPF_NAME_MAX; j < len; j++)
            if (p[j] == '.') {
                from = j + 1;
                break;
            }
    }
    snprintf(out, outlen, "%.*s", (int)(len - from), p + from);
}

bool spf_expand(const char *s, size_t len, spf_macro_mode mode, const spf_macro_env *env, char *out,
                size_t outlen)
{
    char name[4 * SPF_NAME_MAX];
    bool is_name = mode == SPF_MACRO_DOMAIN;
    mout o = {is_name ? name : out, is_name ? sizeof name : outlen, 0, is_name};
    size_t tail;
    if (outlen)
        out[0] = '\0';
    if (!outlen || !macro_run(s, len, mode, false, env, &o, &tail)) {
        if (outlen)
            out[0] = '\0';
        return false;
    }
    if (is_name)
        name_fit(name, o.len, out, outlen);
    else
        out[o.len] = '\0';
    return true;
}

/* ---- the record parser ------------------------------------------------------------ */

bool spf_is_record(const char *txt, size_t len)
{
    return len >= 6 && strncasecmp(txt, "v=spf1", 6) == 0 && (len == 6 || txt[6] == ' ');
}

/* toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool toplabel_ok(const char *p, size_t n)
{
    bool alpha = false, dash = false;
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '-')
            dash = true;
        else if (is_alpha(p[i]))
            alpha = true;
        else if (!is_digit(p[i]))
            return false;
    }
    if (dash)
        return is_alnum(p[0]) && is_alnum(p[n - 1]);
    return alpha;
}

/* domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand */
static bool domain_spec_ok(const char *s, size_t len)
{
    size_t tail;
    if (!len || !macro_run(s, len, SPF_MACRO_DOMAIN, false, NULL, NULL, &tail))
        return false;
    if (tail == len)
        return true;
    size_t end = s[len - 1] == '.' ? len - 1 : len, i = end;
    while (i > tail && s[i - 1] != '.')
        i--;
    return i > tail && toplabel_ok(s + i, end - i);
}

/* "0" / %x31-39 0*2DIGIT, at most max. */
static bool cidr_num(const char *p, size_t n, unsigned max, unsigned *out)
{
    if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ], all of p..p+n. */
static bool dual_cidr(const char *p, size_t n, spf_term *t)
{
    if (n == 0)
        return true;
    if (p[0] != '/')
        return false;
    if (n >= 2 && p[1] == '/')
        return cidr_num(p + 2, n - 2, 128, &t->cidr6);
    size_t j = 1;
    while (j < n && p[j] != '/')
        j++;
    if (!cidr_num(p + 1, j - 1, 32, &t->cidr4))
        return false;
    if (j == n)
        return true;
    return n - j >= 2 && p[j + 1] == '/' && cidr_num(p + j + 2, n - j - 2, 128, &t->cidr6);
}

/* Where a dual-cidr-length at the end of "domain-spec dual-cidr" starts (n if none).
 * A name cannot end in "/digits" (its last label must be a toplabel or a macro), so
 * a suffix of that shape can only be the prefix lengths. */
static size_t cidr_suffix(const char *d, size_t n)
{
    size_t end = n, i = n;
    while (i > 0 && is_digit(d[i - 1]))
        i--;
    if (i < end && i >= 2 && d[i - 1] == '/' && d[i - 2] == '/') {
        end = i - 2;
        i = end;
        while (i > 0 && is_digit(d[i - 1]))
            i--;
    }
    if (i < end && i >= 1 && d[i - 1] == '/' && !(i >= 2 && d[i - 2] == '/'))
        end = i - 1;
    return end;
}

static bool ip4_network(const char *p, size_t n, spf_ip *ip)
{
    char buf[16];
    /* qnum has no leading zeros; inet_pton refuses them, and short forms, too */
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    memset(ip, 0, sizeof *ip);
    ip->family = 4;
    return inet_pton(AF_INET, buf, ip->a) == 1;
}

static bool ip6_network(const char *p, size_t n, spf_ip *ip)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    memset(ip, 0, sizeof *ip);
    ip->family = 6; /* an ip6: network never matches an IPv4 (or mapped) client */
    return inet_pton(AF_INET6, buf, ip->a) == 1;
}

static const struct {
    const char *name;
    spf_mech mech;
} mechs[] = {
    {"all", SPF_ALL}, {"include", SPF_INCLUDE}, {"a", SPF_A},     {"mx", SPF_MX},
    {"ptr", SPF_PTR}, {"ip4", SPF_IP4},         {"ip6", SPF_IP6}, {"exists", SPF_EXISTS},
};

/* A directive's arguments after the mechanism name: rest is "" or starts with ':' or '/'. */
static bool directive_args(spf_term *t, const char *rest, size_t n)
{
    bool colon = n && rest[0] == ':';
    const char *v = rest + 1;
    size_t vn = n ? n - 1 : 0;
    switch (t->mech) {
    case SPF_ALL: return n == 0;
    case SPF_INCLUDE:
    case SPF_EXISTS:
        if (!colon || !domain_spec_ok(v, vn))
            return false;
        t->domain = xstrndup(v, vn);
        return true;
    case SPF_PTR:
        if (n == 0)
            return true;
        if (!colon || !domain_spec_ok(v, vn))
            return false;
        t->domain = xstrndup(v, vn);
        return true;
    case SPF_A:
    case SPF_MX: {
        if (!colon)
            return dual_cidr(rest, n, t);
        size_t dn = cidr_suffix(v, vn);
        if (!dual_cidr(v + dn, vn - dn, t) || !domain_spec_ok(v, dn))
            return false;
        t->domain = xstrndup(v, dn);
        return true;
    }
    case SPF_IP4:
    case SPF_IP6: {
        if (!colon)
            return false;
        size_t slash = 0;
        while (slash < vn && v[slash] != '/')
            slash++;
        bool four = t->mech == SPF_IP4;
        if (!(four ? ip4_network(v, slash, &t->net) : ip6_network(v, slash, &t->net)))
            return false;
        if (slash == vn)
            return true;
        return cidr_num(v + slash + 1, vn - slash - 1, four ? 32 : 128,
                        four ? &t->cidr4 : &t->cidr6);
    }
    }
    return false;
}

static void term_quote(const char *t, size_t n, char *out, size_t outlen)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < outlen; i++) {
        unsigned char c = (unsigned char)t[i];
        if (i == 60) {
            memcpy(out + k, "...", 3);
            k += 3;
            break;
        }
        out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[k] = '\0';
}

static bool term_error(char *err, size_t errlen, const char *t, size_t n, const char *why)
{
    char q[80];
    term_quote(t, n, q, sizeof q);
    snprintf(err, errlen, "'%s': %s", q, why);
    return false;
}

static bool parse_modifier(spf_record *r, const char *t, size_t n, size_t eq, char *err,
                           size_t errlen)
{
    const char *v = t + eq + 1;
    size_t vn = n - eq - 1;
    char **slot = NULL;
    if (eq == 8 && strncasecmp(t, "redirect", 8) == 0)
        slot = &r->redirect;
    else if (eq == 3 && strncasecmp(t, "exp", 3) == 0)
        slot = &r->exp;
    if (!slot) { /* unknown-modifier = name "=" macro-string: checked, then ignored */
        size_t tail;
        if (!macro_run(v, vn, SPF_MACRO_DOMAIN, true, NULL, NULL, &tail))
            return term_error(err, errlen, t, n, "bad macro-string in a modifier");
        return true;
    }
    if (*slot)
        return term_error(err, errlen, t, n, "redirect and exp may appear once each");
    if (!domain_spec_ok(v, vn))
        return term_error(err, errlen, t, n, "not a valid domain-spec");
    *slot = xstrndup(v, vn);
    return true;
}

static bool parse_term(spf_record *r, const char *t, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
            return term_error(err, errlen, t, n, "character outside printable ASCII");
    if (is_alpha(t[0])) {
        size_t i = 1;
        while (i < n && (is_alnum(t[i]) || t[i] == '-' || t[i] == '_' || t[i] == '.'))
            i++;
        if (i < n && t[i] == '=')
            return parse_modifier(r, t, n, i, err, errlen);
    }
    spf_term term = {.qualifier = '+', .cidr4 = 32, .cidr6 = 128};
    size_t i = 0;
    if (strchr("+-~?", t[0])) {
        term.qualifier = t[0];
        i = 1;
    }
    size_t name = i;
    while (i < n && is_alnum(t[i]))
        i++;
    size_t k = 0, nk = sizeof mechs / sizeof mechs[0];
    while (k < nk && !(strlen(mechs[k].name) == i - name &&
                       strncasecmp(mechs[k].name, t + name, i - name) == 0))
        k++;
    if (k == nk || (i < n && t[i] != ':' && t[i] != '/'))
        return term_error(err, errlen, t, n, "unknown mechanism");
    term.mech = mechs[k].mech;
    if (!directive_args(&term, t + i, n - i)) {
        free(term.domain);
        return term_error(err, errlen, t, n, "bad arguments");
    }
    term.text = xstrndup(t, n);
    r->terms[r->nterms++] = term;
    return true;
}

void spf_record_destroy(spf_record **rp)
{
    spf_record *r = *rp;
    if (!r)
        return;
    for (size_t i = 0; i < r->nterms; i++) {
        free(r->terms[i].domain);
        free(r->terms[i].text);
    }
    free(r->terms);
    free(r->redirect);
    free(r->exp);
    free(r);
    *rp = NULL;
}

spf_record *spf_record_parse(const char *txt, size_t len, char *err, size_t errlen)
{
    if (len > SPF_RECORD_MAX) {
        snprintf(err, errlen, "record of %zu bytes (limit %d)", len, SPF_RECORD_MAX);
        return NULL;
    }
    if (!spf_is_record(txt, len)) {
        snprintf(err, errlen, "not a v=spf1 record");
        return NULL;
    }
    size_t count = 0;
    for (size_t i = 6; i < len; i++)
        if (txt[i] != ' ' && (i == 6 || txt[i - 1] == ' '))
            count++;
    if (count > SPF_TERMS_MAX) {
        snprintf(err, errlen, "%zu terms (limit %d)", count, SPF_TERMS_MAX);
        return NULL;
    }
    spf_record *r = xcalloc(1, sizeof *r);
    r->terms = xcalloc(count ? count : 1, sizeof *r->terms);
    for (size_t i = 6; i < len;) {
        if (txt[i] == ' ') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && txt[j] != ' ')
            j++;
        if (!parse_term(r, txt + i, j - i, err, errlen)) {
            spf_record_destroy(&r);
            return NULL;
        }
        i = j;
    }
    return r;
}

/* ---- check_host() ------------------------------------------------------------------- */

typedef enum { NOMATCH, MATCH, ERR_TEMP, ERR_PERM } match;

typedef struct {
    dns_batch *b;
    const spf_opts *o;
    spf_ip ip;
    char ipdot[80];
    const char *sender, *helo;
    time_t now;
    unsigned depth;
    const char *p_domain; /* the current domain while a %{p} is expanded */
    char p_name[SPF_NAME_MAX];
    spf_outcome *out;
} spf_eval;

static void note(spf_eval *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(spf_eval *e, const char *fmt, ...)
{
    if (e->out->reason[0])
        return; /* the first error is the one that ended the evaluation */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->out->reason, sizeof e->out->reason, fmt, ap);
    va_end(ap);
}

static const dns_answer *ask(spf_eval *e, const char *name, uint16_t type)
{
    e->out->queries++;
    return dns_lookup(e->b, name, type);
}

static bool dns_failed(const dns_answer *a)
{
    return a->status == DNS_TIMEOUT || a->status == DNS_SERVFAIL;
}

static const char *type_name(uint16_t type)
{
    switch (type) {
    case DNS_T_A: return "A";
    case DNS_T_AAAA: return "AAAA";
    case DNS_T_MX: return "MX";
    case DNS_T_PTR: return "PTR";
    case DNS_T_TXT: return "TXT";
    }
    return "?";
}

static match temp(spf_eval *e, const char *name, uint16_t type, const dns_answer *a)
{
    note(e, "DNS %s %s: %s", type_name(type), name, dns_status_name(a->status));
    return ERR_TEMP;
}

/* A term's own lookup came back empty (NXDOMAIN or no records): 4.6.4's void lookup. */
static match void_lookup(spf_eval *e, const char *name)
{
    if (++e->out->void_lookups > SPF_VOID_MAX) {
        note(e, "more than %d void lookups (the last: %s)", SPF_VOID_MAX, name);
        return ERR_PERM;
    }
    return NOMATCH;
}

/* A name DNS can be asked: labels of 1 to 63 characters, 253 in all. */
static bool name_ok(const char *n)
{
    size_t len = strlen(n), label = 0;
    if (len == 0 || len > SPF_NAME_MAX - 1)
        return false;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || n[i] == '.') {
            if (label == 0 || label > 63)
                return false;
            label = 0;
        } else {
            label++;
        }
    }
    return true;
}

/* 4.3: a domain check_host() can start from: a valid multi-label name, not an address
 * literal, whose last label is not all digits. */
static bool domain_ok(const char *d)
{
    if (!name_ok(d) || d[0] == '[' || !strchr(d, '.'))
        return false;
    const char *last = strrchr(d, '.') + 1;
    for (const char *c = last; *c; c++)
        if (!is_digit(*c))
            return true;
    return false;
}

static bool subdomain_of(const char *name, const char *domain)
{
    size_t n = strlen(name), d = strlen(domain);
    if (n < d || strcasecmp(name + n - d, domain) != 0)
        return false;
    return n == d || name[n - d - 1] == '.';
}

/* Whether one of name's addresses (of the client's family) is the client's. */
static bool validated(spf_eval *e, const char *name)
{
    uint16_t type = e->ip.family == 4 ? DNS_T_A : DNS_T_AAAA;
    if (!name_ok(name))
        return false;
    const dns_answer *a = ask(e, name, type);
    if (a->status != DNS_OK)
        return false; /* 5.5: a name whose lookup fails is skipped */
    for (size_t i = 0; i < a->n; i++) {
        spf_ip x = {.family = e->ip.family};
        memcpy(x.a, e->ip.family == 4 ? a->rr[i].u.a : a->rr[i].u.aaaa, e->ip.family == 4 ? 4 : 16);
        if (spf_ip_match(&e->ip, &x, e->ip.family == 4 ? 32 : 128))
            return true;
    }
    return false;
}

/* %{p}: a validated name of the client, one under the current domain when there is
 * one (7.3), else any; NULL ("unknown") when none validates. */
static const char *ptr_name(void *arg)
{
    spf_eval *e = arg;
    char rev[80];
    ip_reverse(&e->ip, rev, sizeof rev);
    const dns_answer *a = ask(e, rev, DNS_T_PTR);
    if (a->status != DNS_OK)
        return NULL;
    size_t n = a->n < SPF_NAMES_MAX ? a->n : SPF_NAMES_MAX;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            const char *name = a->rr[i].u.name;
            bool under = e->p_domain && subdomain_of(name, e->p_domain);
            if (under == (pass == 0) && validated(e, name)) {
                snprintf(e->p_name, sizeof e->p_name, "%s", name);
                return e->p_name;
            }
        }
    return NULL;
}

static void env_for(spf_eval *e, const char *domain, spf_macro_env *env)
{
    *env = (spf_macro_env){
        .sender = e->sender,
        .domain = domain,
        .helo = e->helo,
        .ip = &e->ip,
        .receiver = e->o->receiver,
        .now = e->now,
        .ptr = ptr_name,
        .arg = e,
    };
    e->p_domain = domain;
}

/* The name a term points at: its expanded domain-spec, or the current domain. False
 * when the expansion is no name DNS could be asked (the term then does not match). */
static bool target(spf_eval *e, const char *spec, const char *domain, char *out)
{
    if (!spec) {
        snprintf(out, SPF_NAME_MAX, "%s", domain);
        return true;
    }
    spf_macro_env env;
    env_for(e, domain, &env);
    return spf_expand(spec, strlen(spec), SPF_MACRO_DOMAIN, &env, out, SPF_NAME_MAX) &&
           name_ok(out);
}

/* The addresses of name (of the client's family) against the term's prefix. primary:
 * the term's own lookup, which counts as void when empty. */
static match addr_match(spf_eval *e, const char *name, const spf_term *t, bool primary)
{
    uint16_t type = e->ip.family == 4 ? DNS_T_A : DNS_T_AAAA;
    const dns_answer *a = ask(e, name, type);
    if (dns_failed(a))
        return temp(e, name, type, a);
    if (a->status != DNS_OK)
        return primary && a->status != DNS_BADNAME ? void_lookup(e, name) : NOMATCH;
    unsigned prefix = e->ip.family == 4 ? t->cidr4 : t->cidr6;
    for (size_t i = 0; i < a->n; i++) {
        spf_ip x = {.family = e->ip.family};
        memcpy(x.a, e->ip.family == 4 ? a->rr[i].u.a : a->rr[i].u.aaaa, e->ip.family == 4 ? 4 : 16);
        if (spf_ip_match(&e->ip, &x, prefix))
            return MATCH;
    }
    return NOMATCH;
}

static match mech_mx(spf_eval *e, const char *name, const spf_term *t)
{
    const dns_answer *a = ask(e, name, DNS_T_MX);
    if (dns_failed(a))
        return temp(e, name, DNS_T_MX, a);
    if (a->status != DNS_OK)
        return a->status == DNS_BADNAME ? NOMATCH : void_lookup(e, name);
    if (a->n > SPF_NAMES_MAX) {
        note(e, "%s has %zu MX records (limit %d)", name, a->n, SPF_NAMES_MAX);
        return ERR_PERM;
    }
    for (size_t i = 0; i < a->n; i++) {
        const char *host = a->rr[i].u.mx.host;
        if (!host[0] || !name_ok(host)) /* a null MX (RFC 7505) has no address */
            continue;
        match m = addr_match(e, host, t, false);
        if (m != NOMATCH)
            return m;
    }
    return NOMATCH;
}

static match mech_ptr(spf_eval *e, const char *name)
{
    char rev[80];
    ip_reverse(&e->ip, rev, sizeof rev);
    const dns_answer *a = ask(e, rev, DNS_T_PTR);
    if (dns_failed(a) || a->status == DNS_BADNAME)
        return NOMATCH; /* 5.5: a PTR lookup error is no match, not an error */
    if (a->status != DNS_OK)
        return void_lookup(e, rev);
    size_t n = a->n < SPF_NAMES_MAX ? a->n : SPF_NAMES_MAX; /* 4.6.4: the rest ignored */
    for (size_t i = 0; i < n; i++)
        if (subdomain_of(a->rr[i].u.name, name) && validated(e, a->rr[i].u.name))
            return MATCH;
    return NOMATCH;
}

static match mech_exists(spf_eval *e, const char *name)
{
    const dns_answer *a = ask(e, name, DNS_T_A); /* A even for an IPv6 client (5.7) */
    if (dns_failed(a))
        return temp(e, name, DNS_T_A, a);
    if (a->status != DNS_OK)
        return a->status == DNS_BADNAME ? NOMATCH : void_lookup(e, name);
    return MATCH;
}

static spf_result check_host(spf_eval *e, const char *domain, bool decides);

static match mech_include(spf_eval *e, const char *name)
{
    switch (check_host(e, name, false)) {
    case SPF_PASS: return MATCH;
    case SPF_FAIL:
    case SPF_SOFTFAIL:
    case SPF_NEUTRAL: return NOMATCH;
    case SPF_TEMPERROR: return ERR_TEMP;
    case SPF_NONE: note(e, "include:%s has no SPF record", name); return ERR_PERM;
    case SPF_PERMERROR: return ERR_PERM;
    }
    return ERR_PERM;
}

static match term_match(spf_eval *e, const spf_term *t, const char *domain)
{
    char name[SPF_NAME_MAX];
    switch (t->mech) {
    case SPF_ALL: return MATCH;
    case SPF_IP4:
    case SPF_IP6:
        return spf_ip_match(&e->ip, &t->net, t->mech == SPF_IP4 ? t->cidr4 : t->cidr6) ? MATCH
                                                                                       : NOMATCH;
    default: break;
    }
    if (e->out->lookups == SPF_LOOKUPS_MAX) { /* this term would be the 11th */
        note(e, "more than %d DNS-querying terms (at '%s' in %s)", SPF_LOOKUPS_MAX, t->text,
             domain);
        return ERR_PERM;
    }
    e->out->lookups++;
    bool ok = target(e, t->domain, domain, name);
    switch (t->mech) {
    case SPF_INCLUDE:
        if (!ok)
            name[0] = '\0'; /* check_host() of no name: none, so a permerror */
        return mech_include(e, name);
    case SPF_A: return ok ? addr_match(e, name, t, true) : NOMATCH;
    case SPF_MX: return ok ? mech_mx(e, name, t) : NOMATCH;
    case SPF_PTR: return ok ? mech_ptr(e, name) : NOMATCH;
    case SPF_EXISTS: return ok ? mech_exists(e, name) : NOMATCH;
    default: return NOMATCH;
    }
}

static spf_result qualified(char q)
{
    switch (q) {
    case '-': return SPF_FAIL;
    case '~': return SPF_SOFTFAIL;
    case '?': return SPF_NEUTRAL;
    default: return SPF_PASS;
    }
}

/* The explanation of a fail (6.2): the exp= target's one TXT record, expanded; any
 * problem with it falls back to the default. Not counted against the limits. */
static void explain(spf_eval *e, const spf_record *r, const char *domain)
{
    spf_outcome *out = e->out;
    spf_macro_env env;
    char name[SPF_NAME_MAX];
    if (r->exp && target(e, r->exp, domain, name)) {
        const dns_answer *a = ask(e, name, DNS_T_TXT);
        bool ascii = a->status == DNS_OK && a->n == 1;
        for (size_t i = 0; ascii && i < a->rr[0].u.txt.len; i++) {
            unsigned char c = (unsigned char)a->rr[0].u.txt.data[i];
            ascii = c >= 0x20 && c < 0x7f; /* 6.2: explanations are ASCII text */
        }
        env_for(e, domain, &env);
        if (ascii && spf_expand(a->rr[0].u.txt.data, a->rr[0].u.txt.len, SPF_MACRO_EXPLAIN, &env,
                                out->explanation, sizeof out->explanation))
            return;
    }
    const char *def = e->o->default_exp ? e->o->default_exp : SPF_DEFAULT_EXP;
    env_for(e, domain, &env);
    if (!spf_expand(def, strlen(def), SPF_MACRO_EXPLAIN, &env, out->explanation,
                    sizeof out->explanation))
        snprintf(out->explanation, sizeof out->explanation, "%s", def);
}

/* Evaluates a parsed record for domain. decides: this record's match is the final
 * result (the identity's record, or a redirect from it), not an include's. */
static spf_result eval_record(spf_eval *e, const spf_record *r, const char *domain, bool decides)
{
    for (size_t i = 0; i < r->nterms; i++) {
        const spf_term *t = &r->terms[i];
        match m = term_match(e, t, domain);
        if (m == ERR_TEMP)
            return SPF_TEMPERROR;
        if (m == ERR_PERM)
            return SPF_PERMERROR;
        if (m == NOMATCH)
            continue;
        spf_result res = qualified(t->qualifier);
        if (decides) {
            snprintf(e->out->mechanism, sizeof e->out->mechanism, "%s", t->text);
            if (res == SPF_FAIL)
                explain(e, r, domain);
        }
        return res;
    }
    if (!r->redirect) {
        if (decides)
            note(e, "no mechanism matched in %s", domain);
        return SPF_NEUTRAL;
    }
    if (e->out->lookups == SPF_LOOKUPS_MAX) {
        note(e, "more than %d DNS-querying terms (at redirect=%s in %s)", SPF_LOOKUPS_MAX,
             r->redirect, domain);
        return SPF_PERMERROR;
    }
    e->out->lookups++;
    char name[SPF_NAME_MAX];
    if (!target(e, r->redirect, domain, name))
        name[0] = '\0';
    spf_result res = check_host(e, name, decides);
    if (res == SPF_NONE) {
        note(e, "redirect=%s: no SPF record at '%s'", r->redirect, name);
        return SPF_PERMERROR;
    }
    return res;
}

static spf_result check_host(spf_eval *e, const char *domain, bool decides)
{
    if (!domain_ok(domain)) {
        note(e, "'%s' is not a domain name SPF can check", domain);
        return SPF_NONE;
    }
    if (e->depth > SPF_LOOKUPS_MAX) { /* the lookup limit ends loops first; a guard */
        note(e, "includes nested too deep at %s", domain);
        return SPF_PERMERROR;
    }
    const dns_answer *a = ask(e, domain, DNS_T_TXT);
    if (dns_failed(a)) {
        temp(e, domain, DNS_T_TXT, a);
        return SPF_TEMPERROR;
    }
    const dns_rr *rec = NULL;
    size_t found = 0;
    for (size_t i = 0; a->status == DNS_OK && i < a->n; i++)
        if (spf_is_record(a->rr[i].u.txt.data, a->rr[i].u.txt.len) && found++ == 0)
            rec = &a->rr[i];
    if (found > 1) {
        note(e, "%zu SPF records at %s", found, domain);
        return SPF_PERMERROR;
    }
    if (!rec) {
        note(e, "no SPF record at %s", domain);
        return SPF_NONE;
    }
    char err[200];
    spf_record *r = spf_record_parse(rec->u.txt.data, rec->u.txt.len, err, sizeof err);
    if (!r) {
        note(e, "syntax error at %s: %s", domain, err);
        return SPF_PERMERROR;
    }
    e->depth++;
    spf_result res = eval_record(e, r, domain, decides);
    e->depth--;
    spf_record_destroy(&r);
    return res;
}

/* The sender and domain of an identity: domain gets the name check_host() starts from. */
static bool identity(spf_identity id, const char *helo, const char *mail_from, char *sender,
                     size_t senderlen, char *domain)
{
    helo = helo ? helo : "";
    const char *at = mail_from ? strrchr(mail_from, '@') : NULL;
    if (id == SPF_ID_HELO || !mail_from || !*mail_from) {
        snprintf(sender, senderlen, "postmaster@%s", helo);
        snprintf(domain, SPF_NAME_MAX, "%s", helo);
    } else if (!at) {
        snprintf(sender, senderlen, "%s", mail_from);
        domain[0] = '\0';
    } else {
        /* 4.3: a sender without a local-part is postmaster at its domain */
        snprintf(sender, senderlen, "%s%s", at == mail_from ? "postmaster" : "", mail_from);
        snprintf(domain, SPF_NAME_MAX, "%s", at + 1);
    }
    size_t n = strlen(domain);
    if (n && domain[n - 1] == '.')
        domain[n - 1] = '\0';
    for (char *c = domain; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return domain_ok(domain);
}

bool spf_identity_domain(spf_identity id, const char *helo, const char *mail_from, char *out,
                         size_t outlen)
{
    char sender[600], domain[SPF_NAME_MAX];
    bool ok = identity(id, helo, mail_from, sender, sizeof sender, domain);
    snprintf(out, outlen, "%s", ok ? domain : "");
    return ok;
}

void spf_check(dns_batch *b, const spf_opts *o, spf_identity id, const spf_ip *ip, const char *helo,
               const char *mail_from, spf_outcome *out)
{
    memset(out, 0, sizeof *out);
    char sender[600];
    spf_eval e = {.b = b, .o = o, .ip = *ip, .helo = helo ? helo : "", .out = out};
    e.sender = sender;
    e.now = o->now ? o->now : time(NULL);
    if (!identity(id, helo, mail_from, sender, sizeof sender, out->domain)) {
        note(&e, "'%s' is not a domain name SPF can check",
             out->domain[0] ? out->domain : (mail_from && *mail_from ? mail_from : e.helo));
        out->result = SPF_NONE;
        return;
    }
    out->result = check_host(&e, out->domain, true);
}
