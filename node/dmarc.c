/* dmarc.c - DMARC (RFC 7489): record parser, From domain, discovery, evaluation.
 *
 * The record is a tag list ("v=DMARC1; p=reject; rua=mailto:a@b"): v=DMARC1 must come
 * first; after it every tag is read on its own, and a bad value of an optional tag is
 * dropped in favour of its default (6.3) and noted for the detail. Only p= (and sp=
 * when present) can make the record unusable, with the fallback of 6.6.3: a valid rua=
 * turns it into p=none. The From field is read with a small RFC 5322 address-list
 * scanner (quotes, comments, angle brackets, groups) that only needs the domains.
 * Discovery and evaluation are plain functions over values; nothing here allocates
 * beyond the caller's structures, and every input length is bounded. */
#include "dmarc.h"
#include "html.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *dmarc_policy_name(dmarc_policy p)
{
    switch (p) {
    case DMARC_POLICY_NONE: return "none";
    case DMARC_POLICY_QUARANTINE: return "quarantine";
    case DMARC_POLICY_REJECT: return "reject";
    }
    return "none";
}

const char *dmarc_res_name(dmarc_res r)
{
    switch (r) {
    case DMARC_RES_NONE: return "none";
    case DMARC_RES_PASS: return "pass";
    case DMARC_RES_FAIL: return "fail";
    case DMARC_RES_TEMPERROR: return "temperror";
    case DMARC_RES_PERMERROR: return "permerror";
    }
    return "none";
}

static const char *const auth_names[] = {
    [DMARC_AUTH_NONE] = "none",           [DMARC_AUTH_PASS] = "pass",
    [DMARC_AUTH_FAIL] = "fail",           [DMARC_AUTH_SOFTFAIL] = "softfail",
    [DMARC_AUTH_NEUTRAL] = "neutral",     [DMARC_AUTH_POLICY] = "policy",
    [DMARC_AUTH_TEMPERROR] = "temperror", [DMARC_AUTH_PERMERROR] = "permerror",
};

const char *dmarc_auth_name(dmarc_auth a)
{
    return (unsigned)a < sizeof auth_names / sizeof auth_names[0] ? auth_names[a] : "none";
}

dmarc_auth dmarc_auth_parse(const char *s)
{
    for (size_t i = 0; s && i < sizeof auth_names / sizeof auth_names[0]; i++)
        if (strcasecmp(s, auth_names[i]) == 0)
            return (dmarc_auth)i;
    return DMARC_AUTH_NONE;
}

/* ---- names ------------------------------------------------------------------------ */

/* A domain as DMARC compares it: lower case, no trailing dot, labels of 1..63 letters,
 * digits, '-' or '_' (and bytes >= 0x80: an unencoded IDN is compared as it is), at
 * most 253 characters. False for anything else. */
static bool name_norm(const char *s, size_t n, char *out, size_t outlen)
{
    if (n && s[n - 1] == '.')
        n--;
    if (!n || n > 253 || n + 1 > outlen)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (!label)
                return false;
            label = 0;
        } else if (isalnum(c) || c == '-' || c == '_' || c >= 0x80) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
        out[i] = (char)tolower(c);
    }
    out[n] = '\0';
    return label > 0;
}

void dmarc_org_domain(const char *name, char *out, size_t outlen)
{
    url_base_domain(name, out, outlen);
}

bool dmarc_aligned(const char *auth_domain, const char *from_domain, bool strict)
{
    if (!auth_domain || !*auth_domain || !from_domain || !*from_domain)
        return false;
    if (strcasecmp(auth_domain, from_domain) == 0)
        return true;
    if (strict)
        return false;
    char a[DMARC_NAME_MAX], f[DMARC_NAME_MAX];
    dmarc_org_domain(auth_domain, a, sizeof a);
    dmarc_org_domain(from_domain, f, sizeof f);
    return strcasecmp(a, f) == 0;
}

bool dmarc_query_name(const char *domain, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "_dmarc.%s", domain);
    if (n < 0 || (size_t)n >= outlen || n > 253) {
        if (outlen)
            out[0] = '\0';
        return false;
    }
    return true;
}

/* ---- the record ---------------------------------------------------------------------- */

static bool is_wsp(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trims [*s, *s + *n) of white space at both ends. */
static void trim(const char **s, size_t *n)
{
    while (*n && is_wsp((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_wsp((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

static bool tok_eq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static void note(dmarc_record *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(dmarc_record *r, const char *fmt, ...)
{
    size_t used = strlen(r->notes);
    if (used + 4 >= sizeof r->notes)
        return;
    if (used)
        used += (size_t)snprintf(r->notes + used, sizeof r->notes - used, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->notes + used, sizeof r->notes - used, fmt, ap);
    va_end(ap);
}

static bool parse_policy(const char *v, size_t n, dmarc_policy *p)
{
    if (tok_eq(v, n, "none"))
        *p = DMARC_POLICY_NONE;
    else if (tok_eq(v, n, "quarantine"))
        *p = DMARC_POLICY_QUARANTINE;
    else if (tok_eq(v, n, "reject"))
        *p = DMARC_POLICY_REJECT;
    else
        return false;
    return true;
}

/* 1..max decimal digits, value <= lim. */
static bool parse_uint(const char *v, size_t n, size_t max, unsigned long lim, unsigned *out)
{
    if (!n || n > max)
        return false;
    unsigned long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)v[i]))
            return false;
        x = x * 10 + (unsigned long)(v[i] - '0');
        if (x > lim)
            return false;
    }
    *out = (unsigned)x;
    return true;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* One rua/ruf URI: "mailto:addr[?hfields][!size[kmgt]]". The address (percent-decoded,
 * domain lower case) into out; false for another scheme or a bad address. */
static bool parse_mailto(const char *u, size_t n, char *out, size_t outlen)
{
    /* A "!size" suffix: '!' is %-encoded inside the URI itself (6.2). */
    const char *bang = memchr(u, '!', n);
    if (bang) {
        size_t k = (size_t)(bang - u) + 1;
        if (k == n || !isdigit((unsigned char)u[k]))
            return false;
        while (k < n && isdigit((unsigned char)u[k]))
            k++;
        if (k < n && strchr("kmgtKMGT", u[k]))
            k++;
        if (k != n)
            return false;
        n = (size_t)(bang - u);
    }
    if (n < 7 || strncasecmp(u, "mailto:", 7) != 0)
        return false;
    u += 7;
    n -= 7;
    const char *q = memchr(u, '?', n);
    if (q)
        n = (size_t)(q - u);
    char addr[DMARC_ADDR_MAX];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)u[i];
        if (c == '%') {
            int h = i + 2 < n ? hexval(u[i + 1]) : -1, l = i + 2 < n ? hexval(u[i + 2]) : -1;
            if (h < 0 || l < 0)
                return false;
            c = h * 16 + l;
            i += 2;
        }
        if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || len + 1 >= sizeof addr)
            return false;
        addr[len++] = (char)c;
    }
    addr[len] = '\0';
    char *at = strrchr(addr, '@');
    if (!at || at == addr)
        return false;
    char dom[DMARC_NAME_MAX];
    if (!name_norm(at + 1, strlen(at + 1), dom, sizeof dom) || !strchr(dom, '.'))
        return false;
    *at = '\0';
    return (size_t)snprintf(out, outlen, "%s@%s", addr, dom) < outlen;
}

/* rua=: every mailto: URI kept (up to DMARC_RUA_MAX); true if at least one is valid. */
static bool parse_rua(dmarc_record *r, const char *v, size_t n)
{
    bool any = false;
    while (n) {
        const char *comma = memchr(v, ',', n);
        size_t k = comma ? (size_t)(comma - v) : n;
        const char *u = v;
        size_t un = k;
        trim(&u, &un);
        char addr[DMARC_ADDR_MAX];
        if (parse_mailto(u, un, addr, sizeof addr)) {
            any = true;
            bool dup = false;
            for (size_t i = 0; i < r->nrua; i++)
                dup |= strcasecmp(r->rua[i], addr) == 0;
            if (!dup && r->nrua < DMARC_RUA_MAX)
                snprintf(r->rua[r->nrua++], DMARC_ADDR_MAX, "%s", addr);
        } else if (un) {
            note(r, "rua URI '%.*s' ignored", (int)(un > 40 ? 40 : un), u);
        }
        v += k;
        n -= k;
        if (comma) {
            v++;
            n--;
        }
    }
    return any;
}

/* fo=: "0", "1", "d", "s" separated by ':'. */
static bool valid_fo(const char *v, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool opt = strchr("01dsDS", v[i]) != NULL && v[i];
        if (i % 2 == 0 ? !opt : v[i] != ':')
            return false;
    }
    return n % 2 == 1;
}

static size_t skip_wsp(const char *s, size_t n, size_t i)
{
    while (i < n && is_wsp((unsigned char)s[i]))
        i++;
    return i;
}

bool dmarc_is_record(const char *txt, size_t len)
{
    size_t i = skip_wsp(txt, len, 0);
    if (i >= len || (txt[i] != 'v' && txt[i] != 'V'))
        return false;
    i = skip_wsp(txt, len, i + 1);
    if (i >= len || txt[i] != '=')
        return false;
    i = skip_wsp(txt, len, i + 1);
    /* The value's letters are given as %x in the ABNF: "DMARC1" exactly. */
    if (len - i < 6 || memcmp(txt + i, "DMARC1", 6) != 0)
        return false;
    i = skip_wsp(txt, len, i + 6);
    return i == len || txt[i] == ';';
}

static void record_defaults(dmarc_record *r)
{
    memset(r, 0, sizeof *r);
    r->pct = 100;
    r->ri = 86400;
    snprintf(r->fo, sizeof r->fo, "0");
    snprintf(r->rf, sizeof r->rf, "afrf");
}

enum { T_P, T_SP, T_NP, T_ADKIM, T_ASPF, T_PCT, T_RI, T_FO, T_RF, T_RUA, T_RUF, T_N };
static const char *const tag_names[T_N] = {"p",  "sp", "np", "adkim", "aspf", "pct",
                                           "ri", "fo", "rf", "rua",   "ruf"};

/* One tag after v=. p= and sp= report whether they were valid (the caller decides
 * the fallback); rua= whether it held a usable URI. */
static void parse_tag(dmarc_record *r, int t, const char *v, size_t vn, bool *p_ok, bool *sp_ok,
                      bool *rua_ok)
{
    unsigned u;
    switch (t) {
    case T_P: *p_ok = parse_policy(v, vn, &r->p); break;
    case T_SP:
        *sp_ok = parse_policy(v, vn, &r->sp);
        r->sp_set = *sp_ok;
        break;
    case T_NP:
        if (parse_policy(v, vn, &r->np))
            r->np_set = true;
        else
            note(r, "np=%.*s ignored", (int)(vn > 20 ? 20 : vn), v);
        break;
    case T_ADKIM:
    case T_ASPF: {
        bool s = tok_eq(v, vn, "s");
        if (!s && !tok_eq(v, vn, "r")) {
            note(r, "%s=%.*s ignored", tag_names[t], (int)(vn > 20 ? 20 : vn), v);
            break;
        }
        if (t == T_ADKIM)
            r->adkim_strict = s;
        else
            r->aspf_strict = s;
        break;
    }
    case T_PCT:
        if (parse_uint(v, vn, 3, 100, &u))
            r->pct = u;
        else
            note(r, "pct=%.*s ignored", (int)(vn > 20 ? 20 : vn), v);
        break;
    case T_RI:
        if (parse_uint(v, vn, 10, 0xffffffffUL, &u))
            r->ri = u;
        else
            note(r, "ri=%.*s ignored", (int)(vn > 20 ? 20 : vn), v);
        break;
    case T_FO:
        if (valid_fo(v, vn) && vn < sizeof r->fo)
            snprintf(r->fo, sizeof r->fo, "%.*s", (int)vn, v);
        else
            note(r, "fo=%.*s ignored", (int)(vn > 20 ? 20 : vn), v);
        break;
    case T_RF:
        if (vn && vn < sizeof r->rf)
            snprintf(r->rf, sizeof r->rf, "%.*s", (int)vn, v);
        else
            note(r, "rf ignored");
        break;
    case T_RUA: *rua_ok = parse_rua(r, v, vn); break;
    case T_RUF: r->ruf = vn > 0; break;
    }
}

bool dmarc_record_parse(const char *txt, size_t len, dmarc_record *r, char *err, size_t errlen)
{
    record_defaults(r);
    if (len > DMARC_RECORD_MAX) {
        snprintf(err, errlen, "record longer than %d bytes", DMARC_RECORD_MAX);
        return false;
    }
    if (!dmarc_is_record(txt, len)) {
        snprintf(err, errlen, "not a DMARC record (v=DMARC1 must come first)");
        return false;
    }
    bool seen[T_N] = {false};
    bool p_ok = false, sp_ok = true, rua_ok = false;
    const char *s = memchr(txt, ';', len);
    size_t n = s ? len - (size_t)(s - txt) : 0;
    while (n) {
        s++; /* past ';' */
        n--;
        const char *semi = memchr(s, ';', n);
        size_t k = semi ? (size_t)(semi - s) : n;
        const char *t = s;
        size_t tn = k;
        s += k;
        n -= k;
        trim(&t, &tn);
        if (!tn)
            continue; /* "; ;" and a final ';' are fine */
        const char *eq = memchr(t, '=', tn);
        if (!eq) {
            note(r, "'%.*s' is not a tag", (int)(tn > 20 ? 20 : tn), t);
            continue;
        }
        const char *name = t, *v = eq + 1;
        size_t nn = (size_t)(eq - t), vn = tn - nn - 1;
        trim(&name, &nn);
        trim(&v, &vn);
        int tag = -1;
        for (int i = 0; i < T_N; i++)
            if (tok_eq(name, nn, tag_names[i]))
                tag = i;
        if (tag < 0)
            continue; /* unknown tags are ignored (6.3) */
        if (seen[tag]) {
            note(r, "second %s= ignored", tag_names[tag]);
            continue;
        }
        seen[tag] = true;
        parse_tag(r, tag, v, vn, &p_ok, &sp_ok, &rua_ok);
    }
    if (!r->sp_set)
        r->sp = r->p;
    if (!p_ok || !sp_ok) {
        const char *what = !seen[T_P] ? "p= missing" : !p_ok ? "p= invalid" : "sp= invalid";
        if (!rua_ok) {
            snprintf(err, errlen, "%s and no valid rua=: not usable", what);
            return false;
        }
        /* 6.6.3: as if "v=DMARC1; p=none" had been published, reports still wanted. */
        r->p = r->sp = DMARC_POLICY_NONE;
        r->sp_set = false;
        r->p_fallback = true;
        note(r, "%s: read as p=none (rua present)", what);
    }
    if (!r->np_set)
        r->np = r->sp;
    return true;
}

/* ---- the From field ---------------------------------------------------------------- */

typedef struct {
    char domain[DMARC_NAME_MAX];
    size_t mailboxes;
    bool literal, bad_name, mixed;
} from_scan;

/* Skips a comment starting at s[*i] == '(' (nested, with quoted-pairs). */
static void skip_comment(const char *s, size_t n, size_t *i)
{
    int depth = 0;
    for (; *i < n; (*i)++) {
        if (s[*i] == '\\' && *i + 1 < n)
            (*i)++;
        else if (s[*i] == '(')
            depth++;
        else if (s[*i] == ')' && --depth == 0)
            return;
    }
}

/* The domain of one addr-spec (comments and quoted local parts already handled by the
 * caller, which passes the text with comments blanked). */
static void take_mailbox(from_scan *fs, const char *a, size_t n)
{
    trim(&a, &n);
    const char *at = NULL;
    bool quoted = false;
    for (size_t i = 0; i < n; i++) {
        if (a[i] == '\\' && i + 1 < n)
            i++;
        else if (a[i] == '"')
            quoted = !quoted;
        else if (a[i] == '@' && !quoted)
            at = a + i;
    }
    if (!at || at == a)
        return; /* no address here: an empty group, a display name only */
    const char *d = at + 1;
    size_t dn = n - (size_t)(d - a);
    /* White space and comments may surround the dot-atoms (obs-domain). */
    char compact[DMARC_NAME_MAX + 8];
    size_t cn = 0;
    for (size_t i = 0; i < dn && cn + 1 < sizeof compact; i++)
        if (!is_wsp((unsigned char)d[i]))
            compact[cn++] = d[i];
    compact[cn] = '\0';
    fs->mailboxes++;
    if (cn && compact[0] == '[') {
        fs->literal = true;
        return;
    }
    char dom[DMARC_NAME_MAX];
    if (cn >= sizeof compact - 1 || !name_norm(compact, cn, dom, sizeof dom)) {
        fs->bad_name = true;
        return;
    }
    if (!fs->domain[0])
        snprintf(fs->domain, sizeof fs->domain, "%s", dom);
    else if (strcmp(fs->domain, dom) != 0)
        fs->mixed = true;
}

/* Walks an address list: mailboxes are separated by ',' (and ';' ending a group) outside
 * quotes, comments and angle brackets; "name <addr>" takes the addr inside the brackets,
 * "group: a, b;" the members. Comments are blanked so they cannot hold an '@'. */
static void scan_list(from_scan *fs, const char *v, size_t n)
{
    char *buf = xmalloc(n + 1);
    memcpy(buf, v, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\\' && i + 1 < n) {
            i++;
        } else if (buf[i] == '"') {
            for (i++; i < n && buf[i] != '"'; i++)
                if (buf[i] == '\\' && i + 1 < n)
                    i++;
        } else if (buf[i] == '(') {
            size_t start = i;
            skip_comment(buf, n, &i);
            memset(buf + start, ' ', (i < n ? i + 1 : n) - start);
        }
    }
    size_t start = 0;
    const char *angle = NULL;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? buf[i] : ',';
        if (c == '\\' && i + 1 < n) {
            i++;
            continue;
        }
        if (c == '"') {
            for (i++; i < n && buf[i] != '"'; i++)
                if (buf[i] == '\\' && i + 1 < n)
                    i++;
            continue;
        }
        if (c == '<') {
            angle = buf + i + 1;
            continue;
        }
        if (c == '>' && angle) {
            take_mailbox(fs, angle, (size_t)(buf + i - angle));
            /* Anything up to the next separator is ignored. */
            angle = NULL;
            start = i + 1;
            while (start < n && buf[start] != ',' && buf[start] != ';')
                start++;
            i = start < n ? start : n;
            start = i + 1;
            continue;
        }
        if (angle)
            continue;
        if (c == ':') { /* a group's display name ends here */
            start = i + 1;
            continue;
        }
        if (c == ',' || c == ';') {
            if (i > start)
                take_mailbox(fs, buf + start, i - start);
            start = i + 1;
        }
    }
    free(buf);
}

bool dmarc_from_value(const char *value, char *out, size_t outlen, char *why, size_t whylen)
{
    from_scan fs = {{0}, 0, false, false, false};
    size_t n = value ? strlen(value) : 0;
    if (n > 16384)
        n = 16384; /* a From field is short; the rest of a huge one is not read */
    scan_list(&fs, value ? value : "", n);
    const char *bad = fs.mailboxes == 0 ? "From holds no address"
                      : fs.literal      ? "From has an address at a domain literal"
                      : fs.bad_name     ? "From has an address at a domain that is not a name"
                      : fs.mixed        ? "From holds addresses at different domains"
                                        : NULL;
    if (bad) {
        snprintf(why, whylen, "%s", bad);
        if (outlen)
            out[0] = '\0';
        return false;
    }
    snprintf(out, outlen, "%s", fs.domain);
    return true;
}

bool dmarc_from_domain(const hdr_block *h, char *out, size_t outlen, char *why, size_t whylen)
{
    size_t n = hdr_count(h, "From");
    if (n != 1) {
        snprintf(why, whylen, n ? "%zu From fields" : "no From field", n);
        if (outlen)
            out[0] = '\0';
        return false;
    }
    return dmarc_from_value(hdr_get(h, "From"), out, outlen, why, whylen);
}

/* ---- discovery ----------------------------------------------------------------------- */

typedef enum { AT_FOUND, AT_NONE, AT_TEMPFAIL } at_result;

/* The DMARC record at one name: exactly one TXT record that is a DMARC record. */
static at_result lookup_at(const char *domain, dmarc_lookup_fn lookup, void *arg, dmarc_record *rec,
                           char *why, size_t whylen)
{
    char qname[DMARC_NAME_MAX + 8];
    if (!dmarc_query_name(domain, qname, sizeof qname)) {
        snprintf(why, whylen, "_dmarc.%.120s is too long a name", domain);
        return AT_NONE;
    }
    const dns_answer *a = lookup(arg, qname);
    if (!a) {
        snprintf(why, whylen, "%.120s: lookup failed", qname);
        return AT_TEMPFAIL;
    }
    switch (a->status) {
    case DNS_OK: break;
    case DNS_SERVFAIL:
    case DNS_TIMEOUT:
        snprintf(why, whylen, "%.120s: %s", qname,
                 a->status == DNS_TIMEOUT ? "timeout" : "servfail");
        return AT_TEMPFAIL;
    default: snprintf(why, whylen, "%.120s: no record", qname); return AT_NONE;
    }
    const dns_rr *found = NULL;
    size_t count = 0;
    for (size_t i = 0; i < a->n; i++) {
        const dns_rr *rr = &a->rr[i];
        if (rr->type == DNS_T_TXT && dmarc_is_record(rr->u.txt.data, rr->u.txt.len)) {
            found = rr;
            count++;
        }
    }
    if (count == 0) {
        snprintf(why, whylen, "%.120s: no DMARC record", qname);
        return AT_NONE;
    }
    if (count > 1) {
        snprintf(why, whylen, "%.120s: %zu DMARC records (none applies)", qname, count);
        return AT_NONE;
    }
    char err[160];
    if (memchr(found->u.txt.data, '\0', found->u.txt.len) ||
        !dmarc_record_parse(found->u.txt.data, found->u.txt.len, rec, err, sizeof err)) {
        snprintf(why, whylen, "%.120s: %.70s", qname,
                 memchr(found->u.txt.data, '\0', found->u.txt.len) ? "record holds a NUL byte"
                                                                   : err);
        return AT_NONE;
    }
    return AT_FOUND;
}

void dmarc_discover(const char *from_domain, dmarc_lookup_fn lookup, void *arg, dmarc_found *out)
{
    memset(out, 0, sizeof *out);
    char why[200];
    at_result r = lookup_at(from_domain, lookup, arg, &out->rec, why, sizeof why);
    if (r == AT_FOUND) {
        out->status = DMARC_DISC_FOUND;
        snprintf(out->domain, sizeof out->domain, "%s", from_domain);
        return;
    }
    if (r == AT_TEMPFAIL) {
        out->status = DMARC_DISC_TEMPFAIL;
        snprintf(out->why, sizeof out->why, "%s", why);
        return;
    }
    char org[DMARC_NAME_MAX];
    dmarc_org_domain(from_domain, org, sizeof org);
    if (strcmp(org, from_domain) == 0) {
        out->status = DMARC_DISC_NONE;
        snprintf(out->why, sizeof out->why, "%s", why);
        return;
    }
    char why2[200];
    r = lookup_at(org, lookup, arg, &out->rec, why2, sizeof why2);
    if (r == AT_FOUND) {
        out->status = DMARC_DISC_FOUND;
        out->at_org = true;
        snprintf(out->domain, sizeof out->domain, "%s", org);
        return;
    }
    out->status = r == AT_TEMPFAIL ? DMARC_DISC_TEMPFAIL : DMARC_DISC_NONE;
    snprintf(out->why, sizeof out->why, "%.95s; %.95s", why, why2);
}

/* ---- evaluation -------------------------------------------------------------------- */

unsigned dmarc_sample(const char *job_id)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)(job_id ? job_id : ""); *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h % 100;
}

static dmarc_policy milder(dmarc_policy p)
{
    return p == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
}

void dmarc_evaluate(const dmarc_input *in, const dmarc_found *f, dmarc_outcome *out)
{
    memset(out, 0, sizeof *out);
    out->sample = dmarc_sample(in->job_id);
    if (f->status == DMARC_DISC_TEMPFAIL) {
        out->result = DMARC_RES_TEMPERROR;
        snprintf(out->reason, sizeof out->reason, "policy lookup failed: %.170s", f->why);
        return;
    }
    if (f->status != DMARC_DISC_FOUND) {
        out->result = DMARC_RES_NONE;
        snprintf(out->reason, sizeof out->reason, "no policy: %.180s", f->why);
        return;
    }
    const dmarc_record *r = &f->rec;
    /* The record at the From domain itself gives p=; one found at the organisational
     * domain for a From domain below it gives sp= (which defaults to p=). */
    out->used_sp = f->at_org;
    out->requested = f->at_org ? r->sp : r->p;

    bool spf_temp = false, dkim_temp = false;
    if (in->spf_domain && *in->spf_domain &&
        dmarc_aligned(in->spf_domain, in->from_domain, r->aspf_strict)) {
        out->spf_aligned = in->spf == DMARC_AUTH_PASS;
        spf_temp = in->spf == DMARC_AUTH_TEMPERROR;
    }
    for (size_t i = 0; i < in->ndkim && i < DMARC_DKIM_MAX; i++) {
        const dmarc_dkim *d = &in->dkim[i];
        if (!dmarc_aligned(d->domain, in->from_domain, r->adkim_strict))
            continue;
        if (d->result == DMARC_AUTH_PASS && !out->dkim_aligned) {
            out->dkim_aligned = true;
            snprintf(out->dkim_domain, sizeof out->dkim_domain, "%s", d->domain);
        }
        dkim_temp |= d->result == DMARC_AUTH_TEMPERROR;
    }
    if (out->spf_aligned || out->dkim_aligned) {
        out->result = DMARC_RES_PASS;
        out->disposition = DMARC_POLICY_NONE;
        snprintf(out->reason, sizeof out->reason, "aligned %s passed",
                 out->dkim_aligned && out->spf_aligned ? "DKIM and SPF"
                 : out->dkim_aligned                   ? "DKIM"
                                                       : "SPF");
        return;
    }
    if (spf_temp || dkim_temp) {
        /* An aligned identifier might pass on a retry: enforcing now could turn away
         * legitimate mail because of a DNS hiccup. */
        out->result = DMARC_RES_TEMPERROR;
        snprintf(out->reason, sizeof out->reason, "aligned %s had a temporary error",
                 spf_temp ? "SPF" : "DKIM");
        return;
    }
    out->result = DMARC_RES_FAIL;
    out->disposition = out->requested;
    if (out->sample >= r->pct && out->requested != DMARC_POLICY_NONE) {
        /* 6.6.4: a message pct does not select gets the next milder policy. */
        out->sampled_out = true;
        out->disposition = milder(out->requested);
    }
    snprintf(out->reason, sizeof out->reason, "no aligned identifier passed");
}
