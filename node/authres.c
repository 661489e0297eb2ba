/* authres.c - reading and writing Authentication-Results (RFC 8601).
 *
 * The reader is a small recursive-descent parser over the field's bytes: a cursor
 * skips CFWS (white space, line breaks and nested comments), reads keywords, values
 * (a token or a quoted string) and the separators ';', '=', '.', '/'; each resinfo
 * becomes an authres_result with its properties copied out (cut at
 * AUTHRES_VALUE_MAX), so the caller keeps nothing pointing into the message. The
 * writer appends one resinfo per line; what it copies from the message or the
 * envelope (MAIL FROM, HELO, the client address) goes in only when it has the shape
 * of what it stands for, and the names from the checks (d=, s=, From domains) were
 * checked by their parsers. Owns nothing beyond the strings it returns. */
#include "authres.h"
#include "dkim.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the reader ------------------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t len, i;
    char *err;
    size_t errlen;
} cursor;

static bool cfail(cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool cfail(cursor *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return false;
}

static bool at_end(const cursor *c)
{
    return c->i >= c->len;
}

static char peek(const cursor *c)
{
    return at_end(c) ? '\0' : c->s[c->i];
}

/* White space, line breaks and comments (nested, with quoted-pairs); false for a
 * comment that never closes. */
static bool skip_cfws(cursor *c)
{
    while (!at_end(c)) {
        char ch = c->s[c->i];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
            c->i++;
            continue;
        }
        if (ch != '(')
            return true;
        size_t depth = 0;
        for (; !at_end(c); c->i++) {
            ch = c->s[c->i];
            if (ch == '\\') {
                c->i++;
            } else if (ch == '(') {
                depth++;
            } else if (ch == ')' && --depth == 0) {
                c->i++;
                break;
            }
        }
        if (depth)
            return cfail(c, "a comment is not closed");
    }
    return true;
}

static bool is_keychar(char ch)
{
    return isalnum((unsigned char)ch) || ch == '-' || ch == '_';
}

/* A Keyword (letters, digits, '-', '_'), lower-cased into out (cut to fit). */
static bool read_keyword(cursor *c, char *out, size_t outlen)
{
    size_t n = 0, start = c->i;
    while (!at_end(c) && is_keychar(c->s[c->i])) {
        if (n + 1 < outlen)
            out[n++] = (char)tolower((unsigned char)c->s[c->i]);
        c->i++;
    }
    out[n] = '\0';
    return c->i > start;
}

/* Bytes that end an unquoted value: white space, the separators and comments. */
static bool ends_value(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == ';' || ch == '(' ||
           ch == '"' || (unsigned char)ch < 0x20 || ch == 0x7f;
}

/* A value: a quoted string (unquoted into out) or a run of other bytes (a token, an
 * address, a base64 fragment). Cut to fit out. */
static bool read_value(cursor *c, char *out, size_t outlen)
{
    size_t n = 0;
    if (peek(c) == '"') {
        for (c->i++; !at_end(c) && c->s[c->i] != '"'; c->i++) {
            if (c->s[c->i] == '\\' && c->i + 1 < c->len)
                c->i++;
            char ch = c->s[c->i];
            if (ch != '\r' && ch != '\n' && n + 1 < outlen)
                out[n++] = ch;
        }
        out[n] = '\0';
        if (at_end(c))
            return cfail(c, "a quoted string is not closed");
        c->i++;
        if (peek(c) != '@') /* else a quoted local part: "a b"@example.org */
            return true;
    }
    size_t start = c->i;
    for (; !at_end(c) && !ends_value(c->s[c->i]); c->i++)
        if (n + 1 < outlen)
            out[n++] = c->s[c->i];
    out[n] = '\0';
    return c->i > start || cfail(c, "a value is missing");
}

static bool expect(cursor *c, char ch, const char *what)
{
    if (!skip_cfws(c))
        return false;
    if (peek(c) != ch)
        return cfail(c, "'%c' expected %s", ch, what);
    c->i++;
    return skip_cfws(c);
}

/* reason=value and ptype.property=value after a method's result, up to ';' or the
 * end. */
static bool read_props(cursor *c, authres_result *r)
{
    for (;;) {
        if (!skip_cfws(c))
            return false;
        if (at_end(c) || peek(c) == ';')
            return true;
        char name[16], prop[32], value[AUTHRES_VALUE_MAX];
        if (!read_keyword(c, name, sizeof name))
            return cfail(c, "a property name is expected after %s=%s", r->method, r->result);
        if (!skip_cfws(c))
            return false;
        if (peek(c) == '=' && strcmp(name, "reason") == 0) {
            if (!expect(c, '=', "after reason") || !read_value(c, value, sizeof value))
                return false;
            continue;
        }
        if (!expect(c, '.', "between a property's type and name"))
            return false;
        if (!read_keyword(c, prop, sizeof prop))
            return cfail(c, "property %s. has no name", name);
        if (!expect(c, '=', "after a property name") || !read_value(c, value, sizeof value))
            return false;
        if (r->nprops == AUTHRES_MAX_PROPS)
            continue;
        authres_prop *p = &r->props[r->nprops++];
        snprintf(p->ptype, sizeof p->ptype, "%s", name);
        snprintf(p->property, sizeof p->property, "%s", prop);
        snprintf(p->value, sizeof p->value, "%s", value);
    }
}

/* One resinfo after its ';': method[/version]=result and its properties; "none"
 * alone says there are no results. */
static bool read_resinfo(cursor *c, authres *out)
{
    authres_result r = {0};
    if (!read_keyword(c, r.method, sizeof r.method))
        return cfail(c, "a method name is expected after ';'");
    if (!skip_cfws(c))
        return false;
    if (strcmp(r.method, "none") == 0 && (at_end(c) || peek(c) == ';'))
        return true;
    if (peek(c) == '/') {
        char version[16];
        c->i++;
        if (!skip_cfws(c) || !read_keyword(c, version, sizeof version))
            return cfail(c, "method %s/ has no version", r.method);
    }
    if (!expect(c, '=', "after a method name") || !read_keyword(c, r.result, sizeof r.result))
        return cfail(c, "method %s has no result", r.method);
    if (!read_props(c, &r))
        return false;
    if (out->n == AUTHRES_MAX_RESULTS)
        out->dropped++;
    else
        out->r[out->n++] = r;
    return true;
}

bool authres_parse(const char *s, size_t len, authres *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    cursor c = {s, len, 0, err, errlen};
    if (errlen)
        err[0] = '\0';
    if (!skip_cfws(&c))
        return false;
    if (at_end(&c) || peek(&c) == ';')
        return cfail(&c, "no authserv-id");
    if (!read_value(&c, out->authserv_id, sizeof out->authserv_id) || !skip_cfws(&c))
        return false;
    if (isdigit((unsigned char)peek(&c))) { /* authres-version */
        while (isdigit((unsigned char)peek(&c)))
            c.i++;
        if (!skip_cfws(&c))
            return false;
    }
    while (!at_end(&c)) {
        if (peek(&c) != ';')
            return cfail(&c, "';' expected after the authserv-id or a result");
        c.i++;
        if (!skip_cfws(&c))
            return false;
        if (at_end(&c))
            break; /* a trailing ';' is common enough to tolerate */
        if (!read_resinfo(&c, out))
            return false;
    }
    return true;
}

const char *authres_prop_get(const authres_result *r, const char *ptype, const char *property)
{
    for (size_t i = 0; i < r->nprops; i++)
        if (strcasecmp(r->props[i].ptype, ptype) == 0 &&
            strcasecmp(r->props[i].property, property) == 0)
            return r->props[i].value;
    return NULL;
}

bool authres_authserv_id(const char *s, size_t len, char *out, size_t outlen)
{
    char err[8];
    cursor c = {s, len, 0, err, sizeof err};
    out[0] = '\0';
    return skip_cfws(&c) && !at_end(&c) && peek(&c) != ';' && read_value(&c, out, outlen) && *out;
}

bool authres_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
            return false;
    return true;
}

/* ---- the writer --------------------------------------------------------------------- */

/* A domain as the checks and DNS write it: letters, digits, '-', '_', dots. */
static bool domain_ok(const char *s)
{
    if (!*s || strlen(s) > 253)
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return false;
    return true;
}

/* RFC 5322 atext and dots: a local part that needs no quoting. */
static bool local_ok(const char *s, size_t n)
{
    if (!n || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+-/=?^_`{|}~.", s[i]))
            return false;
    return true;
}

/* smtp.mailfrom: the address when it needs no quoting, else its domain, else nothing
 * (a sender's bytes never reach the header unchecked). */
static void put_mailfrom(buf_t *b, const char *addr)
{
    const char *at = strrchr(addr, '@');
    if (!at || !domain_ok(at + 1))
        return;
    if (local_ok(addr, (size_t)(at - addr)))
        buf_printf(b, " smtp.mailfrom=%s", addr);
    else
        buf_printf(b, " smtp.mailfrom=%s", at + 1);
}

/* An address literal ([192.0.2.1], [IPv6:...]) or a name. */
static bool helo_ok(const char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        for (size_t i = 1; i + 1 < n; i++)
            if (!isxdigit((unsigned char)s[i]) && !strchr(".:IPvV6", s[i]))
                return false;
        return n > 2;
    }
    return domain_ok(s);
}

static bool ip_ok(const char *s)
{
    if (!*s || strlen(s) > 45)
        return false;
    for (const char *p = s; *p; p++)
        if (!isxdigit((unsigned char)*p) && *p != '.' && *p != ':')
            return false;
    return true;
}

static void put_spf(buf_t *b, const auth_results *a, const Bulwark__Envelope *env)
{
    buf_printf(b, ";\r\n\tspf=%s", spf_result_name(a->spf));
    const char *from = env && env->mail_from ? env->mail_from : "";
    if (*from)
        put_mailfrom(b, from);
    else if (env && env->helo && helo_ok(env->helo))
        buf_printf(b, " smtp.helo=%s", env->helo);
    else if (domain_ok(a->spf_domain))
        buf_printf(b, " smtp.helo=%s", a->spf_domain);
}

static void put_dkim(buf_t *b, const auth_results *a)
{
    if (!a->ndkim) {
        buf_puts(b, ";\r\n\tdkim=none");
        return;
    }
    for (size_t i = 0; i < a->ndkim && i < AUTH_DKIM_MAX; i++) {
        buf_printf(b, ";\r\n\tdkim=%s", dkim_res_name(a->dkim[i].result));
        if (a->dkim[i].testing)
            buf_puts(b, " (test mode key)");
        if (domain_ok(a->dkim[i].domain))
            buf_printf(b, " header.d=%s", a->dkim[i].domain);
        if (domain_ok(a->dkim[i].selector))
            buf_printf(b, " header.s=%s", a->dkim[i].selector);
    }
}

static void put_arc(buf_t *b, const auth_results *a, const Bulwark__Envelope *env)
{
    buf_printf(b, ";\r\n\tarc=%s", arc_res_name(a->arc));
    if (a->arc_sets) {
        buf_printf(b, " (i=%u", a->arc_sets);
        if (a->arc == ARC_RES_PASS && domain_ok(a->arc_sealer))
            buf_printf(b, " d=%s", a->arc_sealer);
        buf_puts(b, ")");
    }
    if (a->arc != ARC_RES_NONE && env && env->client_ip && ip_ok(env->client_ip))
        buf_printf(b, " smtp.remote-ip=%s", env->client_ip); /* RFC 8617 10.1 */
}

char *authres_build(const char *authserv_id, const auth_results *a, const Bulwark__Envelope *env)
{
    buf_t b = {0};
    buf_puts(&b, authserv_id);
    size_t start = b.len;
    if (a->spf_done)
        put_spf(&b, a, env);
    if (a->dkim_done)
        put_dkim(&b, a);
    if (a->dmarc_done) {
        buf_printf(&b, ";\r\n\tdmarc=%s", a->dmarc);
        if (domain_ok(a->dmarc_from))
            buf_printf(&b, " header.from=%s", a->dmarc_from);
    }
    if (a->arc_done)
        put_arc(&b, a, env);
    if (b.len == start)
        buf_puts(&b, "; none");
    return b.data;
}

size_t authres_find_ours(const uint8_t *msg, size_t len, const char *id, unsigned *idx, size_t max)
{
    size_t nf, body, n = 0;
    dkim_field *f = dkim_fields(msg, len, &nf, &body);
    static const char name[] = "authentication-results";
    unsigned seen = 0;
    for (size_t i = 0; i < nf; i++) {
        if (f[i].nlen != sizeof name - 1 ||
            strncasecmp((const char *)msg + f[i].off, name, sizeof name - 1) != 0)
            continue;
        seen++;
        const char *v = memchr(msg + f[i].off, ':', f[i].len);
        size_t vlen = f[i].len - (size_t)(v + 1 - (const char *)msg - f[i].off);
        char got[AUTHRES_VALUE_MAX];
        if (n < max && authres_authserv_id(v + 1, vlen, got, sizeof got) &&
            strcasecmp(got, id) == 0)
            idx[n++] = seen;
    }
    free(f);
    return n;
}
