/* dkim.c - DKIM verification and signing (RFC 6376, RFC 8463, RFC 8301).
 *
 * The parsers turn a tag list into spans of the text, then into a dkim_sig or a
 * dkim_key with every syntax rule checked there, so later code only meets values it
 * can use. The body canonicaliser is a small state machine fed the raw body, holding
 * back line breaks and white space until it knows they are not trailing; its output
 * goes straight into a digest, so no canonical copy of the body is ever made. The
 * header data (the selected fields and the signature field with b= emptied) is built
 * in a buffer, then checked or signed with EVP: RSA over the data with its digest,
 * Ed25519 (PureEdDSA) over the SHA-256 of the data. The verifier owns its parsed
 * signatures, the key records it was given and one body hash per distinct
 * (canonicalisation, digest, l=); it borrows the message. */
#include "dkim.h"
#include "util.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SIG_BYTES 1024 /* an 8192-bit RSA signature */
#define MAX_KEY_BYTES 4096 /* the DER of an RSA key of more than 16384 bits */

static const char *const alg_names[] = {"rsa-sha256", "rsa-sha1", "ed25519-sha256"};

const char *dkim_alg_name(dkim_alg a)
{
    return alg_names[a];
}

bool dkim_alg_parse(const char *s, dkim_alg *a)
{
    for (size_t i = 0; i < sizeof alg_names / sizeof alg_names[0]; i++) {
        if (strcasecmp(s, alg_names[i]) == 0) {
            *a = (dkim_alg)i;
            return true;
        }
    }
    return false;
}

const char *dkim_canon_name(dkim_canon c)
{
    return c == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

static bool canon_word(const char *s, size_t n, dkim_canon *c)
{
    if (n == 6 && strncasecmp(s, "simple", 6) == 0)
        *c = DKIM_CANON_SIMPLE;
    else if (n == 7 && strncasecmp(s, "relaxed", 7) == 0)
        *c = DKIM_CANON_RELAXED;
    else
        return false;
    return true;
}

bool dkim_canon_parse(const char *s, dkim_canon *header, dkim_canon *body)
{
    const char *slash = strchr(s, '/');
    if (!slash) {
        *body = DKIM_CANON_SIMPLE;
        return canon_word(s, strlen(s), header);
    }
    return canon_word(s, (size_t)(slash - s), header) &&
           canon_word(slash + 1, strlen(slash + 1), body);
}

const char *dkim_res_name(dkim_res r)
{
    static const char *const names[] = {"pass", "fail", "temperror", "permerror"};
    return names[r];
}

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- base64 ----------------------------------------------------------------------- */

static int b64_value(unsigned char c)
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

static bool is_fws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Decodes base64 with folding white space anywhere (RFC 6376 2.4); padding is
 * optional but nothing may follow it. NULL output for an empty value. */
static bool b64_decode(const char *s, size_t n, size_t max, uint8_t **out, size_t *outlen)
{
    uint8_t *o = xmalloc(n / 4 * 3 + 3);
    size_t len = 0, chars = 0, pad = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_fws(c))
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad) {
            free(o);
            return false;
        }
        acc = acc << 6 | (uint32_t)v;
        if (++chars % 4 == 0) {
            o[len++] = (uint8_t)(acc >> 16);
            o[len++] = (uint8_t)(acc >> 8);
            o[len++] = (uint8_t)acc;
            acc = 0;
        }
    }
    size_t rest = chars % 4;
    if (rest == 1 || pad > 2 || (pad && (rest + pad) % 4 != 0)) {
        free(o);
        return false;
    }
    if (rest == 2) {
        o[len++] = (uint8_t)(acc >> 4);
    } else if (rest == 3) {
        o[len++] = (uint8_t)(acc >> 10);
        o[len++] = (uint8_t)(acc >> 2);
    }
    if (len > max) {
        free(o);
        return false;
    }
    if (!len) {
        free(o);
        o = NULL;
    }
    *out = o;
    *outlen = len;
    return true;
}

static char *b64_encode(const uint8_t *p, size_t n)
{
    char *s = xmalloc((n + 2) / 3 * 4 + 1);
    EVP_EncodeBlock((unsigned char *)s, p, (int)n);
    return s;
}

/* ---- tag lists ---------------------------------------------------------------------- */

static bool is_valchar(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != ';';
}

bool dkim_tags_parse(const char *s, size_t len, dkim_tag *tags, size_t max, size_t *n, char *err,
                     size_t errlen)
{
    size_t i = 0, count = 0;
    *n = 0;
    for (;;) {
        while (i < len && (is_fws((unsigned char)s[i]) || s[i] == ';'))
            i++; /* empty tag-specs (";;", a trailing ";") are tolerated */
        if (i >= len)
            break;
        size_t name = i;
        if (!isalpha((unsigned char)s[i])) {
            fail(err, errlen, "tag list: a tag name must start with a letter, not '%c'",
                 isprint((unsigned char)s[i]) ? s[i] : '?');
            return false;
        }
        while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_'))
            i++;
        size_t nlen = i - name;
        while (i < len && is_fws((unsigned char)s[i]))
            i++;
        if (i >= len || s[i] != '=') {
            fail(err, errlen, "tag list: tag '%.*s' has no '='", (int)(nlen > 32 ? 32 : nlen),
                 s + name);
            return false;
        }
        size_t eq = i++;
        while (i < len && is_fws((unsigned char)s[i]))
            i++;
        size_t vstart = i;
        while (i < len && s[i] != ';') {
            if (!is_valchar((unsigned char)s[i]) && !is_fws((unsigned char)s[i])) {
                fail(err, errlen, "tag list: byte 0x%02x in the value of tag '%.*s'",
                     (unsigned char)s[i], (int)(nlen > 32 ? 32 : nlen), s + name);
                return false;
            }
            i++;
        }
        size_t vend = i;
        while (vend > vstart && is_fws((unsigned char)s[vend - 1]))
            vend--;
        for (size_t k = 0; k < count; k++) {
            if (tags[k].nlen == nlen && memcmp(tags[k].name, s + name, nlen) == 0) {
                fail(err, errlen, "tag list: tag '%.*s' appears twice",
                     (int)(nlen > 32 ? 32 : nlen), s + name);
                return false;
            }
        }
        if (count >= max) {
            fail(err, errlen, "tag list: more than %zu tags", max);
            return false;
        }
        tags[count++] = (dkim_tag){s + name, nlen, s + vstart, vend - vstart, eq, i};
        if (i < len)
            i++; /* the ';' */
    }
    *n = count;
    return true;
}

const dkim_tag *dkim_tag_find(const dkim_tag *t, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (t[i].nlen == len && memcmp(t[i].name, name, len) == 0)
            return &t[i];
    return NULL;
}

static bool tag_is(const dkim_tag *t, const char *s)
{
    return t->vlen == strlen(s) && strncasecmp(t->value, s, t->vlen) == 0;
}

/* Splits a colon-separated tag value (h=, q=, s=, t=, key h=) into items with the
 * white space around them removed; calls fn for each; stops when it returns false. */
bool dkim_tag_items(const dkim_tag *t, bool (*fn)(void *ctx, const char *item, size_t n), void *ctx)
{
    size_t i = 0;
    while (i <= t->vlen) {
        size_t start = i;
        while (i < t->vlen && t->value[i] != ':')
            i++;
        size_t a = start, b = i;
        while (a < b && is_fws((unsigned char)t->value[a]))
            a++;
        while (b > a && is_fws((unsigned char)t->value[b - 1]))
            b--;
        if (!fn(ctx, t->value + a, b - a))
            return false;
        i++;
    }
    return true;
}

/* Digits only, at most `digits` of them, and no overflow of int64. */
bool dkim_tag_uint(const dkim_tag *t, size_t digits, uint64_t *out)
{
    uint64_t v = 0;
    if (!t->vlen || t->vlen > digits)
        return false;
    for (size_t i = 0; i < t->vlen; i++) {
        if (!isdigit((unsigned char)t->value[i]))
            return false;
        unsigned d = (unsigned)(t->value[i] - '0');
        if (v > (UINT64_C(0x7fffffffffffffff) - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* ---- DKIM-Signature ----------------------------------------------------------------- */

/* A domain or selector as a DNS name can hold it: letters, digits, '-', '_', dots
 * between non-empty labels. */
bool dkim_name_ok(const char *s, size_t n)
{
    if (!n || n > 253 || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-' || c == '_' || (c == '.' && s[i + 1] != '.')))
            return false;
    }
    return true;
}

static char *lower_dup(const char *s, size_t n)
{
    char *d = xstrndup(s, n);
    for (char *c = d; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return d;
}

/* A header field name: printable ASCII without a colon (RFC 5322 ftext). */
static bool field_name_ok(const char *s, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126 || s[i] == ':')
            return false;
    return true;
}

typedef struct {
    strlist *out;
    bool bad, from;
} h_ctx;

static bool h_item(void *ctx, const char *item, size_t n)
{
    h_ctx *h = ctx;
    if (!field_name_ok(item, n) || h->out->n >= DKIM_MAX_H) {
        h->bad = true;
        return false;
    }
    char *name = lower_dup(item, n);
    h->from |= strcmp(name, "from") == 0;
    strlist_add(h->out, name);
    free(name);
    return true;
}

static bool q_item(void *ctx, const char *item, size_t n)
{
    if (n == 7 && strncasecmp(item, "dns/txt", 7) == 0)
        *(bool *)ctx = true;
    return true;
}

/* The domain part of i= must be d= or below it (RFC 6376 3.5). */
static bool identity_in(const char *identity, const char *domain, bool strict)
{
    const char *at = strrchr(identity, '@');
    if (!at)
        return false;
    const char *idom = at + 1;
    size_t il = strlen(idom), dl = strlen(domain);
    if (il == dl)
        return strcasecmp(idom, domain) == 0;
    return !strict && il > dl && idom[il - dl - 1] == '.' &&
           strcasecmp(idom + il - dl, domain) == 0;
}

void dkim_sig_clear(dkim_sig *s)
{
    free(s->domain);
    free(s->selector);
    free(s->identity);
    free(s->b);
    strlist_free(&s->headers);
    memset(s, 0, sizeof *s);
}

bool dkim_tags_required(const dkim_tag *tags, size_t n, const char *const *names, char *err,
                        size_t errlen)
{
    for (; *names; names++) {
        if (!dkim_tag_find(tags, n, *names)) {
            fail(err, errlen, "required tag %s= is missing", *names);
            return false;
        }
    }
    return true;
}

/* d= and s= first, so a signature refused later still names its domain in details. */
static bool sig_names(const dkim_tag *tags, size_t n, dkim_sig *s, char *err, size_t errlen)
{
    const dkim_tag *d = dkim_tag_find(tags, n, "d"), *sel = dkim_tag_find(tags, n, "s");
    if (d) {
        if (!dkim_name_ok(d->value, d->vlen)) {
            fail(err, errlen, "d= is not a domain name");
            return false;
        }
        s->domain = lower_dup(d->value, d->vlen);
    }
    if (sel) {
        if (!dkim_name_ok(sel->value, sel->vlen)) {
            fail(err, errlen, "s= is not a selector");
            return false;
        }
        s->selector = lower_dup(sel->value, sel->vlen);
    }
    const dkim_tag *a = dkim_tag_find(tags, n, "a");
    if (a) {
        char alg[24];
        snprintf(alg, sizeof alg, "%.*s", (int)(a->vlen < 23 ? a->vlen : 23), a->value);
        if (!dkim_alg_parse(alg, &s->alg)) {
            fail(err, errlen, "unknown algorithm a=%s", alg);
            return false;
        }
        s->alg_ok = true;
    }
    static const char *const req[] = {"v", "a", "b", "bh", "d", "h", "s", NULL};
    return dkim_tags_required(tags, n, req, err, errlen);
}

static bool sig_hashes(const dkim_tag *tags, size_t n, dkim_sig *s, char *err, size_t errlen)
{
    const dkim_tag *b = dkim_tag_find(tags, n, "b"), *bh = dkim_tag_find(tags, n, "bh");
    if (!b64_decode(b->value, b->vlen, MAX_SIG_BYTES, &s->b, &s->blen) || !s->blen) {
        fail(err, errlen, "b= is %s", s->blen ? "not base64" : "empty or not base64");
        return false;
    }
    s->b_from = b->eq + 1;
    s->b_to = b->end;
    uint8_t *hash = NULL;
    size_t hlen = 0;
    size_t want = s->alg == DKIM_ALG_RSA_SHA1 ? 20 : 32;
    if (!b64_decode(bh->value, bh->vlen, 32, &hash, &hlen) || hlen != want) {
        free(hash);
        fail(err, errlen, "bh= is not a base64 %s digest", want == 20 ? "SHA-1" : "SHA-256");
        return false;
    }
    memcpy(s->bh, hash, hlen);
    s->bhlen = hlen;
    free(hash);
    return true;
}

static bool sig_times(const dkim_tag *tags, size_t n, dkim_sig *s, char *err, size_t errlen)
{
    const dkim_tag *l = dkim_tag_find(tags, n, "l"), *t = dkim_tag_find(tags, n, "t"),
                   *x = dkim_tag_find(tags, n, "x");
    uint64_t v;
    if (l) {
        if (!dkim_tag_uint(l, 76, &v)) {
            fail(err, errlen, "l= is not a byte count");
            return false;
        }
        s->has_length = true;
        s->length = v;
    }
    if (t) {
        if (!dkim_tag_uint(t, 12, &v)) {
            fail(err, errlen, "t= is not a timestamp");
            return false;
        }
        s->has_time = true;
        s->time = (int64_t)v;
    }
    if (x) {
        if (!dkim_tag_uint(x, 12, &v)) {
            fail(err, errlen, "x= is not a timestamp");
            return false;
        }
        s->has_expire = true;
        s->expire = (int64_t)v;
    }
    if (s->has_time && s->has_expire && s->expire < s->time) {
        fail(err, errlen, "x= is before t=");
        return false;
    }
    return true;
}

bool dkim_sig_parse(const char *value, size_t len, dkim_sig *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    dkim_tag tags[DKIM_MAX_TAGS];
    size_t n;
    if (!dkim_tags_parse(value, len, tags, DKIM_MAX_TAGS, &n, err, errlen))
        return false;
    if (!sig_names(tags, n, s, err, errlen))
        return false;
    if (!tag_is(dkim_tag_find(tags, n, "v"), "1")) {
        fail(err, errlen, "v= is not 1");
        return false;
    }
    const dkim_tag *c = dkim_tag_find(tags, n, "c");
    if (c) {
        char cv[24];
        snprintf(cv, sizeof cv, "%.*s", (int)(c->vlen < 23 ? c->vlen : 23), c->value);
        if (!dkim_canon_parse(cv, &s->hcanon, &s->bcanon)) {
            fail(err, errlen, "unknown canonicalisation c=%s", cv);
            return false;
        }
    }
    h_ctx h = {&s->headers, false, false};
    dkim_tag_items(dkim_tag_find(tags, n, "h"), h_item, &h);
    if (h.bad) {
        fail(err, errlen, "h= is not a list of at most %d header names", DKIM_MAX_H);
        return false;
    }
    if (!h.from) {
        fail(err, errlen, "h= does not include From");
        return false;
    }
    const dkim_tag *q = dkim_tag_find(tags, n, "q");
    bool dns = !q;
    if (q)
        dkim_tag_items(q, q_item, &dns);
    if (!dns) {
        fail(err, errlen, "q= does not include dns/txt");
        return false;
    }
    if (!sig_hashes(tags, n, s, err, errlen) || !sig_times(tags, n, s, err, errlen))
        return false;
    const dkim_tag *i = dkim_tag_find(tags, n, "i");
    s->identity = i ? xstrndup(i->value, i->vlen) : xasprintf("@%s", s->domain);
    if (!identity_in(s->identity, s->domain, false)) {
        fail(err, errlen, "i= is not within d=%s", s->domain);
        return false;
    }
    return true;
}

/* ---- key records ------------------------------------------------------------------- */

static bool key_h_item(void *ctx, const char *item, size_t n)
{
    dkim_key *k = ctx;
    if (n == 4 && strncasecmp(item, "sha1", 4) == 0)
        k->sha1 = true;
    else if (n == 6 && strncasecmp(item, "sha256", 6) == 0)
        k->sha256 = true;
    return true;
}

static bool key_s_item(void *ctx, const char *item, size_t n)
{
    if ((n == 1 && item[0] == '*') || (n == 5 && strncasecmp(item, "email", 5) == 0))
        *(bool *)ctx = true;
    return true;
}

static bool key_t_item(void *ctx, const char *item, size_t n)
{
    dkim_key *k = ctx;
    if (n == 1 && (item[0] == 'y' || item[0] == 'Y'))
        k->testing = true;
    else if (n == 1 && (item[0] == 's' || item[0] == 'S'))
        k->strict = true;
    return true;
}

void dkim_key_clear(dkim_key *k)
{
    free(k->p);
    memset(k, 0, sizeof *k);
}

bool dkim_key_parse(const char *txt, size_t len, dkim_key *k, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    dkim_tag tags[DKIM_MAX_TAGS];
    size_t n;
    if (!dkim_tags_parse(txt, len, tags, DKIM_MAX_TAGS, &n, err, errlen))
        return false;
    const dkim_tag *v = dkim_tag_find(tags, n, "v");
    if (v && !tag_is(v, "DKIM1")) {
        fail(err, errlen, "v= is not DKIM1");
        return false;
    }
    const dkim_tag *kt = dkim_tag_find(tags, n, "k");
    if (!kt || tag_is(kt, "rsa")) {
        k->type = DKIM_KEY_RSA;
    } else if (tag_is(kt, "ed25519")) {
        k->type = DKIM_KEY_ED25519;
    } else {
        fail(err, errlen, "unknown key type k=%.*s", (int)(kt->vlen < 20 ? kt->vlen : 20),
             kt->value);
        return false;
    }
    const dkim_tag *h = dkim_tag_find(tags, n, "h");
    if (h)
        dkim_tag_items(h, key_h_item, k);
    else
        k->sha1 = k->sha256 = true;
    const dkim_tag *st = dkim_tag_find(tags, n, "s");
    bool email = !st;
    if (st)
        dkim_tag_items(st, key_s_item, &email);
    if (!email) {
        fail(err, errlen, "the key's service types (s=) do not include email");
        return false;
    }
    const dkim_tag *t = dkim_tag_find(tags, n, "t");
    if (t)
        dkim_tag_items(t, key_t_item, k);
    const dkim_tag *p = dkim_tag_find(tags, n, "p");
    if (!p) {
        fail(err, errlen, "the key record has no p=");
        return false;
    }
    if (!b64_decode(p->value, p->vlen, MAX_KEY_BYTES, &k->p, &k->plen)) {
        fail(err, errlen, "p= is not base64");
        return false;
    }
    return true;
}

/* ---- canonicalisation ------------------------------------------------------------- */

static void out_flush(dkim_body_canon *c)
{
    if (c->n)
        c->sink(c->ctx, c->out, c->n);
    c->n = 0;
}

static void out_byte(dkim_body_canon *c, uint8_t b)
{
    if (c->n == sizeof c->out)
        out_flush(c);
    c->out[c->n++] = b;
}

void dkim_body_init(dkim_body_canon *c, dkim_canon canon, dkim_sink sink, void *ctx)
{
    memset(c, 0, sizeof *c);
    c->canon = canon;
    c->sink = sink;
    c->ctx = ctx;
}

/* A byte that is neither a line break nor (relaxed) held-back white space: the
 * line breaks and the white space before it are real, so they are written first. */
static void body_content(dkim_body_canon *c, uint8_t b)
{
    for (; c->crlfs; c->crlfs--) {
        out_byte(c, '\r');
        out_byte(c, '\n');
    }
    if (c->wsp)
        out_byte(c, ' ');
    c->wsp = false;
    out_byte(c, b);
    c->any = true;
}

static void body_byte(dkim_body_canon *c, uint8_t b)
{
    if (c->cr) {
        c->cr = false;
        if (b == '\n') {
            c->wsp = false; /* relaxed: white space at the end of a line goes */
            c->crlfs++;
            return;
        }
        body_content(c, '\r'); /* a CR alone is data */
    }
    if (b == '\r') {
        c->cr = true;
    } else if (b == '\n') { /* a bare LF ends a line as CRLF does */
        c->wsp = false;
        c->crlfs++;
    } else if (c->canon == DKIM_CANON_RELAXED && (b == ' ' || b == '\t')) {
        c->wsp = true;
    } else {
        body_content(c, b);
    }
}

void dkim_body_feed(dkim_body_canon *c, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        body_byte(c, p[i]);
}

/* Empty lines at the end go; a body with content ends with exactly one CRLF; an empty
 * body is CRLF in simple and nothing in relaxed (RFC 6376 3.4.3, 3.4.4). */
void dkim_body_finish(dkim_body_canon *c)
{
    if (c->cr) {
        c->cr = false;
        body_content(c, '\r');
    }
    if (c->any || c->canon == DKIM_CANON_SIMPLE) {
        out_byte(c, '\r');
        out_byte(c, '\n');
    }
    c->crlfs = 0;
    c->wsp = false;
    out_flush(c);
}

void dkim_header_canon(dkim_canon c, const char *field, size_t len, buf_t *out)
{
    if (c == DKIM_CANON_SIMPLE) {
        size_t from = 0;
        for (size_t i = 0; i < len; i++) {
            if (field[i] == '\n' && (i == 0 || field[i - 1] != '\r')) {
                buf_append(out, field + from, i - from);
                buf_append(out, "\r", 1);
                from = i;
            }
        }
        buf_append(out, field + from, len - from);
        buf_append(out, "\r\n", 2);
        return;
    }
    const char *colon = memchr(field, ':', len);
    size_t nend = colon ? (size_t)(colon - field) : len;
    while (nend && (field[nend - 1] == ' ' || field[nend - 1] == '\t'))
        nend--;
    for (size_t i = 0; i < nend; i++) {
        char ch = (char)tolower((unsigned char)field[i]);
        if (ch != '\r' && ch != '\n') /* only in fields without a usable name */
            buf_append(out, &ch, 1);
    }
    buf_append(out, ":", 1);
    bool wsp = false, any = false;
    for (size_t i = colon ? (size_t)(colon - field) + 1 : len; i < len; i++) {
        char ch = field[i];
        if (ch == '\r' || ch == '\n')
            continue; /* unfolding */
        if (ch == ' ' || ch == '\t') {
            wsp = true;
            continue;
        }
        if (wsp && any)
            buf_append(out, " ", 1);
        wsp = false;
        any = true;
        buf_append(out, &ch, 1);
    }
    buf_append(out, "\r\n", 2);
}

/* The field's name: printable bytes up to the colon, white space before it allowed. */
static size_t field_name_len(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len && p[i] >= 33 && p[i] <= 126 && p[i] != ':')
        i++;
    size_t nlen = i;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i < len && p[i] == ':' ? nlen : 0;
}

dkim_field *dkim_fields(const uint8_t *msg, size_t len, size_t *n, size_t *body_off)
{
    size_t i = 0, cap = 32;
    dkim_field *f = xmalloc(cap * sizeof *f);
    *n = 0;
    *body_off = len;
    while (i < len) {
        if (msg[i] == '\n' || (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')) {
            *body_off = i + (msg[i] == '\r' ? 2 : 1);
            break;
        }
        size_t start = i, end;
        for (;;) {
            const uint8_t *lf = memchr(msg + i, '\n', len - i);
            if (!lf) {
                end = i = len;
                break;
            }
            size_t next = (size_t)(lf - msg) + 1;
            if (next < len && (msg[next] == ' ' || msg[next] == '\t')) {
                i = next;
                continue;
            }
            end = next - 1;
            if (end > start && msg[end - 1] == '\r')
                end--;
            i = next;
            break;
        }
        if (*n == DKIM_MAX_FIELDS)
            continue;
        if (*n == cap)
            f = xrealloc(f, (cap *= 2) * sizeof *f);
        f[(*n)++] = (dkim_field){start, end - start, field_name_len(msg + start, end - start)};
    }
    return f;
}

static bool field_is(const uint8_t *msg, const dkim_field *f, const char *name, size_t nlen)
{
    return f->nlen == nlen && strncasecmp((const char *)msg + f->off, name, nlen) == 0;
}

/* The header data of RFC 6376 3.7: the fields h= names, each taken from the bottom
 * up (a name listed again takes the next one above; a name with none left adds
 * nothing, which is how over-signing works), then the signature field itself with
 * b='s value [b_from, b_to) of its value emptied, without its final CRLF. `own` is
 * the signature's own field (never selected), or SIZE_MAX when signing. */
static void header_data(const uint8_t *msg, const dkim_field *f, size_t nf, const strlist *h,
                        dkim_canon c, size_t own, const char *sig, size_t siglen, size_t b_from,
                        size_t b_to, buf_t *out)
{
    size_t *pos = xmalloc((h->n ? h->n : 1) * sizeof *pos);
    for (size_t k = 0; k < h->n; k++) {
        size_t nlen = strlen(h->v[k]);
        size_t from = nf; /* search upwards from here */
        for (size_t j = k; j-- > 0;) {
            if (strcmp(h->v[j], h->v[k]) == 0) {
                from = pos[j] == SIZE_MAX ? 0 : pos[j];
                break;
            }
        }
        pos[k] = SIZE_MAX;
        for (size_t j = from; j-- > 0;) {
            if (j != own && field_is(msg, &f[j], h->v[k], nlen)) {
                pos[k] = j;
                dkim_header_canon(c, (const char *)msg + f[j].off, f[j].len, out);
                break;
            }
        }
    }
    free(pos);
    buf_t s = {0};
    buf_append(&s, sig, b_from);
    buf_append(&s, sig + b_to, siglen - b_to);
    dkim_header_canon(c, s.data, s.len, out);
    out->len -= 2; /* the signature field is hashed without its CRLF */
    buf_free(&s);
}

/* ---- body hashes ------------------------------------------------------------------ */

typedef struct {
    EVP_MD_CTX *md;
    bool limited;
    uint64_t limit, total; /* bytes allowed by l=; canonical body bytes seen */
} body_hasher;

static void hash_sink(void *ctx, const uint8_t *p, size_t n)
{
    body_hasher *h = ctx;
    size_t take = n;
    if (h->limited)
        take = h->total >= h->limit      ? 0
               : h->limit - h->total < n ? (size_t)(h->limit - h->total)
                                         : n;
    if (take)
        EVP_DigestUpdate(h->md, p, take);
    h->total += n;
}

/* Hashes the canonical body; *total gets its full length (beyond l= too). */
static void body_hash(const uint8_t *body, size_t len, dkim_canon canon, const EVP_MD *md,
                      bool limited, uint64_t limit, uint8_t *out, unsigned *outlen, uint64_t *total)
{
    body_hasher h = {EVP_MD_CTX_new(), limited, limit, 0};
    if (!h.md || EVP_DigestInit_ex(h.md, md, NULL) != 1)
        abort(); /* only out of memory gets here */
    dkim_body_canon c;
    dkim_body_init(&c, canon, hash_sink, &h);
    dkim_body_feed(&c, body, len);
    dkim_body_finish(&c);
    EVP_DigestFinal_ex(h.md, out, outlen);
    EVP_MD_CTX_free(h.md);
    *total = h.total;
}

static const EVP_MD *alg_md(dkim_alg a)
{
    return a == DKIM_ALG_RSA_SHA1 ? EVP_sha1() : EVP_sha256();
}

/* ---- verification ---------------------------------------------------------------- */

void dkim_opts_default(dkim_opts *o)
{
    *o = (dkim_opts){.max_sigs = 5, .min_rsa_bits = 1024, .future_s = 300};
}

typedef struct {
    size_t field;
    bool parsed;
    dkim_sig sig;
    char *key_name;
    bool key_set;
    dkim_lookup lookup;
    char *txt;
    size_t txtlen;
    char why[64];
    dkim_result r;
} vsig;

typedef struct {
    dkim_canon canon;
    dkim_alg alg;
    bool limited;
    uint64_t limit, total;
    uint8_t hash[EVP_MAX_MD_SIZE];
    unsigned hlen;
} cached_hash;

struct dkim_verifier {
    const uint8_t *msg;
    size_t len;
    dkim_opts o;
    dkim_field *f;
    size_t nf, body_off;
    vsig *sigs;
    size_t nsigs, found;
    cached_hash *hashes;
    size_t nhashes;
};

dkim_verifier *dkim_verifier_new(const uint8_t *msg, size_t len, const dkim_opts *o)
{
    dkim_verifier *v = xcalloc(1, sizeof *v);
    v->msg = msg;
    v->len = len;
    v->o = *o;
    if (!v->o.max_sigs)
        v->o.max_sigs = 1;
    if (!v->o.now)
        v->o.now = time(NULL);
    v->f = dkim_fields(msg, len, &v->nf, &v->body_off);
    v->sigs = xcalloc(v->o.max_sigs, sizeof *v->sigs);
    v->hashes = xcalloc(v->o.max_sigs, sizeof *v->hashes);
    for (size_t i = 0; i < v->nf; i++) {
        if (!field_is(msg, &v->f[i], "dkim-signature", 14))
            continue;
        if (v->found++ >= v->o.max_sigs)
            continue;
        vsig *s = &v->sigs[v->nsigs++];
        s->field = i;
        const char *colon = memchr(msg + v->f[i].off, ':', v->f[i].len);
        size_t voff = (size_t)(colon - (const char *)msg) + 1;
        char err[200];
        s->parsed = dkim_sig_parse((const char *)msg + voff, v->f[i].off + v->f[i].len - voff,
                                   &s->sig, err, sizeof err);
        snprintf(s->r.domain, sizeof s->r.domain, "%s", s->sig.domain ? s->sig.domain : "");
        snprintf(s->r.selector, sizeof s->r.selector, "%s", s->sig.selector ? s->sig.selector : "");
        snprintf(s->r.identity, sizeof s->r.identity, "%s", s->sig.identity ? s->sig.identity : "");
        if (s->sig.alg_ok)
            snprintf(s->r.alg, sizeof s->r.alg, "%s", dkim_alg_name(s->sig.alg));
        if (!s->parsed) {
            s->r.res = DKIM_RES_PERMERROR;
            snprintf(s->r.reason, sizeof s->r.reason, "%s", err);
            continue;
        }
        if (s->sig.alg == DKIM_ALG_RSA_SHA1)
            s->r.flags |= DKIM_F_SHA1;
        if (s->sig.has_length) {
            s->r.flags |= DKIM_F_LENGTH;
            s->r.length = s->sig.length;
        }
        s->key_name = xasprintf("%s._domainkey.%s", s->sig.selector, s->sig.domain);
    }
    return v;
}

void dkim_verifier_destroy(dkim_verifier **vp)
{
    dkim_verifier *v = *vp;
    if (!v)
        return;
    for (size_t i = 0; i < v->nsigs; i++) {
        dkim_sig_clear(&v->sigs[i].sig);
        free(v->sigs[i].key_name);
        free(v->sigs[i].txt);
    }
    free(v->sigs);
    free(v->hashes);
    free(v->f);
    free(v);
    *vp = NULL;
}

size_t dkim_verifier_found(const dkim_verifier *v)
{
    return v->found;
}

size_t dkim_verifier_count(const dkim_verifier *v)
{
    return v->nsigs;
}

const char *dkim_verifier_key_name(const dkim_verifier *v, size_t i)
{
    return i < v->nsigs ? v->sigs[i].key_name : NULL;
}

void dkim_verifier_set_key(dkim_verifier *v, size_t i, dkim_lookup st, const char *txt, size_t len,
                           const char *why)
{
    if (i >= v->nsigs)
        return;
    vsig *s = &v->sigs[i];
    free(s->txt);
    s->txt = NULL;
    s->txtlen = 0;
    s->key_set = true;
    s->lookup = st;
    if (st == DKIM_LOOKUP_FOUND && txt) {
        s->txt = xstrndup(txt, len);
        s->txtlen = len;
    }
    snprintf(s->why, sizeof s->why, "%s", why ? why : "");
}

const dkim_result *dkim_verifier_result(const dkim_verifier *v, size_t i)
{
    return i < v->nsigs ? &v->sigs[i].r : NULL;
}

static dkim_res set_res(vsig *s, dkim_res r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static dkim_res set_res(vsig *s, dkim_res r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->r.reason, sizeof s->r.reason, fmt, ap);
    va_end(ap);
    s->r.res = r;
    return r;
}

/* The key's checks against the signature; the EVP key in *pk when it can be used. */
static bool use_key(const dkim_verifier *v, vsig *s, EVP_PKEY **pk)
{
    dkim_key k;
    char err[160];
    if (!dkim_key_parse(s->txt, s->txtlen, &k, err, sizeof err)) {
        set_res(s, DKIM_RES_PERMERROR, "key record %s: %s", s->key_name, err);
        return false;
    }
    bool ok = false;
    if (k.testing)
        s->r.flags |= DKIM_F_TESTING;
    bool ed = s->sig.alg == DKIM_ALG_ED25519_SHA256;
    if (!k.plen) {
        set_res(s, DKIM_RES_FAIL, "key revoked (empty p= at %s)", s->key_name);
    } else if ((k.type == DKIM_KEY_ED25519) != ed) {
        set_res(s, DKIM_RES_PERMERROR, "a=%s does not fit the key's k=%s",
                dkim_alg_name(s->sig.alg), ed ? "rsa" : "ed25519");
    } else if (s->sig.alg == DKIM_ALG_RSA_SHA1 ? !k.sha1 : !k.sha256) {
        set_res(s, DKIM_RES_PERMERROR, "the key's h= does not allow %s",
                s->sig.alg == DKIM_ALG_RSA_SHA1 ? "sha1" : "sha256");
    } else if (k.strict && !identity_in(s->sig.identity, s->sig.domain, true)) {
        set_res(s, DKIM_RES_PERMERROR, "the key has t=s and i=%s is below d=", s->sig.identity);
    } else if (ed) {
        *pk = k.plen == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k.p, 32) : NULL;
        ok = *pk != NULL;
        if (!ok)
            set_res(s, DKIM_RES_PERMERROR, "p= is not a 32-byte Ed25519 key");
    } else {
        const unsigned char *p = k.p;
        *pk = d2i_PUBKEY(NULL, &p, (long)k.plen);
        if (!*pk) { /* some publish the bare PKCS#1 RSAPublicKey */
            p = k.p;
            *pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)k.plen);
        }
        if (!*pk || EVP_PKEY_get_base_id(*pk) != EVP_PKEY_RSA) {
            set_res(s, DKIM_RES_PERMERROR, "p= is not an RSA public key");
        } else {
            s->r.key_bits = (unsigned)EVP_PKEY_get_bits(*pk);
            ok = s->r.key_bits >= v->o.min_rsa_bits;
            if (!ok)
                set_res(s, DKIM_RES_FAIL, "RSA key of %u bits, below %u (RFC 8301)", s->r.key_bits,
                        v->o.min_rsa_bits);
        }
        if (!ok) {
            EVP_PKEY_free(*pk);
            *pk = NULL;
        }
    }
    if (ed && ok)
        s->r.key_bits = 256;
    ERR_clear_error();
    dkim_key_clear(&k);
    return ok;
}

static const cached_hash *get_body_hash(dkim_verifier *v, const dkim_sig *sig)
{
    for (size_t i = 0; i < v->nhashes; i++) {
        const cached_hash *c = &v->hashes[i];
        if (c->canon == sig->bcanon &&
            (c->alg == DKIM_ALG_RSA_SHA1) == (sig->alg == DKIM_ALG_RSA_SHA1) &&
            c->limited == sig->has_length && (!c->limited || c->limit == sig->length))
            return c;
    }
    cached_hash *c = &v->hashes[v->nhashes++];
    c->canon = sig->bcanon;
    c->alg = sig->alg;
    c->limited = sig->has_length;
    c->limit = sig->length;
    body_hash(v->msg + v->body_off, v->len - v->body_off, sig->bcanon, alg_md(sig->alg),
              sig->has_length, sig->length, c->hash, &c->hlen, &c->total);
    return c;
}

static bool evp_verify(EVP_PKEY *pk, dkim_alg alg, const buf_t *data, const dkim_sig *sig)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok;
    if (alg == DKIM_ALG_ED25519_SHA256) {
        uint8_t h[32];
        unsigned hl = 0;
        ok = EVP_Digest(data->data, data->len, h, &hl, EVP_sha256(), NULL) == 1 &&
             EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
             EVP_DigestVerify(ctx, sig->b, sig->blen, h, hl) == 1;
    } else {
        ok = EVP_DigestVerifyInit(ctx, NULL, alg_md(alg), NULL, pk) == 1 &&
             EVP_DigestVerify(ctx, sig->b, sig->blen, (const uint8_t *)data->data, data->len) == 1;
    }
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static void verify_one(dkim_verifier *v, vsig *s)
{
    const dkim_sig *sig = &s->sig;
    if (sig->has_expire && sig->expire < (int64_t)v->o.now) {
        set_res(s, DKIM_RES_FAIL, "signature expired (x=%lld)", (long long)sig->expire);
        return;
    }
    if (sig->has_time && sig->time > (int64_t)v->o.now + v->o.future_s) {
        set_res(s, DKIM_RES_PERMERROR, "t=%lld is in the future", (long long)sig->time);
        return;
    }
    if (sig->alg == DKIM_ALG_RSA_SHA1 && !v->o.sha1_weak) {
        set_res(s, DKIM_RES_FAIL, "rsa-sha1 is not accepted (RFC 8301)");
        return;
    }
    if (!s->key_set) {
        set_res(s, DKIM_RES_TEMPERROR, "key %s not looked up", s->key_name);
        return;
    }
    if (s->lookup == DKIM_LOOKUP_TEMPFAIL) {
        set_res(s, DKIM_RES_TEMPERROR, "key lookup %s: %s", s->key_name, s->why);
        return;
    }
    if (s->lookup == DKIM_LOOKUP_MISSING) {
        set_res(s, DKIM_RES_PERMERROR, "no key at %s (%s)", s->key_name, s->why);
        return;
    }
    EVP_PKEY *pk = NULL;
    if (!use_key(v, s, &pk))
        return;
    const cached_hash *bh = get_body_hash(v, sig);
    if (sig->has_length && bh->total < sig->length) {
        set_res(s, DKIM_RES_FAIL, "l=%llu is longer than the body (%llu bytes)",
                (unsigned long long)sig->length, (unsigned long long)bh->total);
    } else if (bh->hlen != sig->bhlen || memcmp(bh->hash, sig->bh, bh->hlen) != 0) {
        set_res(s, DKIM_RES_FAIL, "body hash mismatch (the body was changed)");
    } else {
        if (sig->has_length && bh->total > sig->length)
            s->r.flags |= DKIM_F_LENGTH_PARTIAL;
        buf_t data = {0};
        const dkim_field *f = &v->f[s->field];
        const char *field = (const char *)v->msg + f->off;
        size_t voff = (size_t)((const char *)memchr(field, ':', f->len) - field) + 1;
        header_data(v->msg, v->f, v->nf, &sig->headers, sig->hcanon, s->field, field, f->len,
                    voff + sig->b_from, voff + sig->b_to, &data);
        if (evp_verify(pk, sig->alg, &data, sig))
            set_res(s, DKIM_RES_PASS, "%s", "");
        else
            set_res(s, DKIM_RES_FAIL, "signature does not verify (a signed header was changed)");
        buf_free(&data);
    }
    EVP_PKEY_free(pk);
}

void dkim_verifier_submit(const dkim_verifier *v, dns_batch *b)
{
    for (size_t i = 0; i < v->nsigs; i++)
        if (v->sigs[i].key_name)
            dns_submit(b, v->sigs[i].key_name, DNS_T_TXT);
}

void dkim_verifier_collect(dkim_verifier *v, dns_batch *b)
{
    for (size_t i = 0; i < v->nsigs; i++) {
        const char *name = v->sigs[i].key_name;
        if (!name)
            continue;
        const dns_answer *a = dns_wait(dns_submit(b, name, DNS_T_TXT));
        const char *why = dns_status_name(a->status);
        switch (a->status) {
        case DNS_OK:
            /* Several records at a key name are a publishing mistake that RFC 6376
             * 3.6.2.2 leaves open; the first is used. */
            dkim_verifier_set_key(v, i, DKIM_LOOKUP_FOUND, a->rr[0].u.txt.data, a->rr[0].u.txt.len,
                                  why);
            break;
        case DNS_NXDOMAIN:
        case DNS_NODATA:
        case DNS_BADNAME: dkim_verifier_set_key(v, i, DKIM_LOOKUP_MISSING, NULL, 0, why); break;
        default: dkim_verifier_set_key(v, i, DKIM_LOOKUP_TEMPFAIL, NULL, 0, why); break;
        }
    }
}

void dkim_verifier_run(dkim_verifier *v)
{
    for (size_t i = 0; i < v->nsigs; i++)
        if (v->sigs[i].parsed)
            verify_one(v, &v->sigs[i]);
}

void dkim_result_describe(const dkim_result *r, char *out, size_t outlen)
{
    buf_t b = {0};
    buf_printf(&b, "d=%s s=%s a=%s", *r->domain ? r->domain : "?", *r->selector ? r->selector : "?",
               *r->alg ? r->alg : "?");
    if (*r->reason)
        buf_printf(&b, " (%s)", r->reason);
    if (r->flags & DKIM_F_LENGTH)
        buf_printf(&b, " [l=%llu%s]", (unsigned long long)r->length,
                   r->flags & DKIM_F_LENGTH_PARTIAL ? ": unsigned data follows" : "");
    if (r->flags & DKIM_F_SHA1)
        buf_puts(&b, " [weak: rsa-sha1]");
    if (r->flags & DKIM_F_TESTING)
        buf_puts(&b, " [test key t=y]");
    snprintf(out, outlen, "%s", b.data);
    buf_free(&b);
}

/* ---- pieces for ARC --------------------------------------------------------------- */

bool dkim_b64_decode(const char *s, size_t n, size_t max, uint8_t **out, size_t *outlen)
{
    return b64_decode(s, n, max, out, outlen);
}

void dkim_body_digest(const uint8_t *body, size_t len, dkim_canon c, dkim_alg alg, bool limited,
                      uint64_t limit, uint8_t out[64], unsigned *outlen, uint64_t *total)
{
    body_hash(body, len, c, alg_md(alg), limited, limit, out, outlen, total);
}

void dkim_header_data(const uint8_t *msg, const dkim_field *f, size_t nf, const strlist *h,
                      dkim_canon c, size_t own, size_t b_from, size_t b_to, buf_t *out)
{
    header_data(msg, f, nf, h, c, own, (const char *)msg + f[own].off, f[own].len, b_from, b_to,
                out);
}

/* The EVP key of a parsed record that fits alg; NULL with the result and reason. */
static EVP_PKEY *key_for(const dkim_key *k, dkim_alg alg, unsigned min_rsa_bits, unsigned *bits,
                         dkim_res *res, char *reason, size_t reasonlen)
{
    bool ed = alg == DKIM_ALG_ED25519_SHA256;
    EVP_PKEY *pk = NULL;
    *res = DKIM_RES_PERMERROR;
    if (!k->plen) {
        *res = DKIM_RES_FAIL;
        fail(reason, reasonlen, "key revoked (empty p=)");
    } else if ((k->type == DKIM_KEY_ED25519) != ed) {
        fail(reason, reasonlen, "a=%s does not fit the key's k=%s", dkim_alg_name(alg),
             ed ? "rsa" : "ed25519");
    } else if (alg == DKIM_ALG_RSA_SHA1 ? !k->sha1 : !k->sha256) {
        fail(reason, reasonlen, "the key's h= does not allow %s",
             alg == DKIM_ALG_RSA_SHA1 ? "sha1" : "sha256");
    } else if (ed) {
        pk = k->plen == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->p, 32) : NULL;
        *bits = 256;
        if (!pk)
            fail(reason, reasonlen, "p= is not a 32-byte Ed25519 key");
    } else {
        const unsigned char *p = k->p;
        pk = d2i_PUBKEY(NULL, &p, (long)k->plen);
        if (!pk) {
            p = k->p;
            pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)k->plen);
        }
        if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
            fail(reason, reasonlen, "p= is not an RSA public key");
            EVP_PKEY_free(pk);
            pk = NULL;
        } else if ((*bits = (unsigned)EVP_PKEY_get_bits(pk)) < min_rsa_bits) {
            *res = DKIM_RES_FAIL;
            fail(reason, reasonlen, "RSA key of %u bits, below %u (RFC 8301)", *bits, min_rsa_bits);
            EVP_PKEY_free(pk);
            pk = NULL;
        }
    }
    ERR_clear_error();
    return pk;
}

dkim_res dkim_key_verify(const char *txt, size_t txtlen, dkim_alg alg, const uint8_t *data,
                         size_t dlen, const uint8_t *sig, size_t siglen, unsigned min_rsa_bits,
                         unsigned *bits, char *reason, size_t reasonlen)
{
    dkim_key k;
    char err[160];
    *bits = 0;
    fail(reason, reasonlen, "%s", "");
    if (!dkim_key_parse(txt, txtlen, &k, err, sizeof err)) {
        fail(reason, reasonlen, "key record: %s", err);
        return DKIM_RES_PERMERROR;
    }
    dkim_res res;
    EVP_PKEY *pk = key_for(&k, alg, min_rsa_bits, bits, &res, reason, reasonlen);
    dkim_key_clear(&k);
    if (!pk)
        return res;
    dkim_sig s = {.b = (uint8_t *)sig, .blen = siglen};
    buf_t b = {.data = (char *)data, .len = dlen};
    bool ok = evp_verify(pk, alg, &b, &s);
    EVP_PKEY_free(pk);
    if (!ok)
        fail(reason, reasonlen, "signature does not verify");
    return ok ? DKIM_RES_PASS : DKIM_RES_FAIL;
}

/* ---- signing ----------------------------------------------------------------------- */

struct dkim_signkey {
    EVP_PKEY *pk;
    dkim_keytype type;
    unsigned bits;
};

const char dkim_default_headers[] =
    "from:to:cc:subject:date:message-id:in-reply-to:references:reply-to:sender:mime-version:"
    "content-type:content-transfer-encoding:content-disposition:content-id:list-id:"
    "list-unsubscribe:list-unsubscribe-post";

static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1; /* never prompt on a terminal: an encrypted PEM is refused */
}

static dkim_signkey *wrap_key(EVP_PKEY *pk, char *err, size_t errlen)
{
    int id = EVP_PKEY_get_base_id(pk);
    if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
        fail(err, errlen, "the key is neither RSA nor Ed25519");
        EVP_PKEY_free(pk);
        return NULL;
    }
    dkim_signkey *k = xcalloc(1, sizeof *k);
    k->pk = pk;
    k->type = id == EVP_PKEY_RSA ? DKIM_KEY_RSA : DKIM_KEY_ED25519;
    k->bits = (unsigned)EVP_PKEY_get_bits(pk);
    if (k->type == DKIM_KEY_RSA && k->bits < 1024) {
        fail(err, errlen, "RSA key of %u bits: DKIM needs at least 1024 (RFC 8301)", k->bits);
        dkim_signkey_destroy(&k);
        return NULL;
    }
    return k;
}

dkim_signkey *dkim_signkey_load(const char *pem, size_t len, char *err, size_t errlen)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    if (!pk) {
        fail(err, errlen, "not a PEM private key (or an encrypted one)");
        return NULL;
    }
    return wrap_key(pk, err, errlen);
}

dkim_signkey *dkim_signkey_generate(dkim_keytype t, unsigned bits, char *err, size_t errlen)
{
    if (t == DKIM_KEY_RSA && (bits < 1024 || bits > 8192)) {
        fail(err, errlen, "RSA keys are 1024 to 8192 bits, not %u", bits);
        return NULL;
    }
    EVP_PKEY *pk = t == DKIM_KEY_RSA ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits)
                                     : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!pk) {
        fail(err, errlen, "key generation failed");
        ERR_clear_error();
        return NULL;
    }
    return wrap_key(pk, err, errlen);
}

void dkim_signkey_destroy(dkim_signkey **kp)
{
    if (!*kp)
        return;
    EVP_PKEY_free((*kp)->pk);
    free(*kp);
    *kp = NULL;
}

dkim_keytype dkim_signkey_type(const dkim_signkey *k)
{
    return k->type;
}

unsigned dkim_signkey_bits(const dkim_signkey *k)
{
    return k->bits;
}

char *dkim_signkey_pem(const dkim_signkey *k)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || PEM_write_bio_PrivateKey(bio, k->pk, NULL, NULL, 0, NULL, NULL) != 1)
        abort(); /* memory BIOs fail only without memory */
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    char *s = xstrndup(p, (size_t)n);
    BIO_free(bio);
    return s;
}

char *dkim_signkey_record(const dkim_signkey *k)
{
    uint8_t raw[32], *der = NULL;
    size_t n = sizeof raw;
    char *b64;
    if (k->type == DKIM_KEY_ED25519) {
        if (EVP_PKEY_get_raw_public_key(k->pk, raw, &n) != 1)
            abort();
        b64 = b64_encode(raw, n);
    } else {
        int len = i2d_PUBKEY(k->pk, &der);
        if (len <= 0)
            abort();
        b64 = b64_encode(der, (size_t)len);
        OPENSSL_free(der);
    }
    char *rec = xasprintf("v=DKIM1; k=%s; p=%s", k->type == DKIM_KEY_RSA ? "rsa" : "ed25519", b64);
    free(b64);
    return rec;
}

/* Appends one token to a field being folded at 78 columns: after a space on the
 * same line, or on a new line (CRLF TAB) when it would not fit. */
typedef struct {
    buf_t b;
    size_t col;
} folder;

static void fold_add(folder *f, const char *tok, size_t n, bool space)
{
    if (f->col + (space ? 1 : 0) + n > 78 && f->col > 1) {
        buf_puts(&f->b, "\r\n\t");
        f->col = 1;
    } else if (space) {
        buf_puts(&f->b, " ");
        f->col++;
    }
    buf_append(&f->b, tok, n);
    f->col += n;
}

static void fold_tag(folder *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fold_tag(folder *f, const char *fmt, ...)
{
    char tok[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tok, sizeof tok, fmt, ap);
    va_end(ap);
    fold_add(f, tok, n < (int)sizeof tok ? (size_t)n : sizeof tok - 1, true);
}

/* The h= list for the default: each name as often as the message has it, From once
 * more. False when the message has no From. */
static bool default_h(const uint8_t *msg, const dkim_field *f, size_t nf, strlist *h)
{
    bool from = false;
    char *names = xstrdup(dkim_default_headers), *save = NULL;
    for (char *nm = strtok_r(names, ":", &save); nm; nm = strtok_r(NULL, ":", &save)) {
        size_t count = 0, nlen = strlen(nm);
        for (size_t i = 0; i < nf; i++)
            count += field_is(msg, &f[i], nm, nlen);
        if (strcmp(nm, "from") == 0) {
            from = count > 0;
            count++;
        }
        for (size_t i = 0; i < count; i++)
            strlist_add(h, nm);
    }
    free(names);
    return from;
}

static bool sign_data(const dkim_signkey *k, dkim_alg alg, const buf_t *data, uint8_t **sig,
                      size_t *siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const uint8_t *in = (const uint8_t *)data->data;
    size_t inlen = data->len;
    uint8_t h[32];
    unsigned hl = 0;
    bool ok;
    if (alg == DKIM_ALG_ED25519_SHA256) {
        ok = EVP_Digest(data->data, data->len, h, &hl, EVP_sha256(), NULL) == 1 &&
             EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pk) == 1;
        in = h;
        inlen = hl;
    } else {
        ok = EVP_DigestSignInit(ctx, NULL, alg_md(alg), NULL, k->pk) == 1;
    }
    *sig = NULL;
    ok = ok && EVP_DigestSign(ctx, NULL, siglen, in, inlen) == 1;
    if (ok) {
        *sig = xmalloc(*siglen);
        ok = EVP_DigestSign(ctx, *sig, siglen, in, inlen) == 1;
    }
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static bool sign_checks(const dkim_signkey *k, const dkim_sign_opts *o, char *err, size_t errlen)
{
    if (!o->domain || !dkim_name_ok(o->domain, strlen(o->domain))) {
        fail(err, errlen, "the domain '%s' is not a domain name", o->domain ? o->domain : "");
        return false;
    }
    if (!o->selector || !dkim_name_ok(o->selector, strlen(o->selector))) {
        fail(err, errlen, "the selector '%s' is not a DNS label", o->selector ? o->selector : "");
        return false;
    }
    if ((o->alg == DKIM_ALG_ED25519_SHA256) != (k->type == DKIM_KEY_ED25519)) {
        fail(err, errlen, "%s needs an %s key", dkim_alg_name(o->alg),
             o->alg == DKIM_ALG_ED25519_SHA256 ? "Ed25519" : "RSA");
        return false;
    }
    if (o->identity &&
        (!identity_in(o->identity, o->domain, false) || strpbrk(o->identity, "; \t\r\n"))) {
        fail(err, errlen, "the identity '%s' is not an address within %s", o->identity, o->domain);
        return false;
    }
    return true;
}

char *dkim_sign(const dkim_signkey *k, const dkim_sign_opts *o, const uint8_t *msg, size_t len,
                char *err, size_t errlen)
{
    if (!sign_checks(k, o, err, errlen))
        return NULL;
    size_t body_off, nf;
    dkim_field *f = dkim_fields(msg, len, &nf, &body_off);
    strlist h = {0};
    if (o->headers) {
        dkim_tag t = {"h", 1, o->headers, strlen(o->headers), 0, 0};
        h_ctx hc = {&h, false, false};
        dkim_tag_items(&t, h_item, &hc);
        if (hc.bad || !hc.from) {
            fail(err, errlen, "the header list must be names separated by ':' including From");
            strlist_free(&h);
            free(f);
            return NULL;
        }
    } else {
        if (!default_h(msg, f, nf, &h)) {
            fail(err, errlen, "the message has no From header field");
            strlist_free(&h);
            free(f);
            return NULL;
        }
    }
    uint8_t bh[EVP_MAX_MD_SIZE];
    unsigned bhlen;
    uint64_t total;
    body_hash(msg + body_off, len - body_off, o->bcanon, alg_md(o->alg), false, 0, bh, &bhlen,
              &total);
    char *bh64 = b64_encode(bh, bhlen);
    int64_t now = o->now ? (int64_t)o->now : (int64_t)time(NULL);

    folder fo = {{0}, 15};
    buf_puts(&fo.b, "DKIM-Signature:");
    fold_tag(&fo, "v=1;");
    fold_tag(&fo, "a=%s;", dkim_alg_name(o->alg));
    fold_tag(&fo, "c=%s/%s;", dkim_canon_name(o->hcanon), dkim_canon_name(o->bcanon));
    fold_tag(&fo, "d=%s;", o->domain);
    fold_tag(&fo, "s=%s;", o->selector);
    if (o->identity)
        fold_tag(&fo, "i=%s;", o->identity);
    fold_tag(&fo, "t=%lld;", (long long)now);
    if (o->expire_s > 0)
        fold_tag(&fo, "x=%lld;", (long long)(now + o->expire_s));
    if (o->body_length)
        fold_tag(&fo, "l=%llu;", (unsigned long long)total);
    for (size_t i = 0; i < h.n; i++) {
        char tok[300];
        snprintf(tok, sizeof tok, "%s%s%s", i ? "" : "h=", h.v[i], i + 1 < h.n ? ":" : ";");
        fold_add(&fo, tok, strlen(tok), i == 0);
    }
    fold_tag(&fo, "bh=%s;", bh64);
    fold_tag(&fo, "b=");
    free(bh64);

    buf_t data = {0}; /* the field ends with "b=": its value is empty already */
    header_data(msg, f, nf, &h, o->hcanon, SIZE_MAX, fo.b.data, fo.b.len, fo.b.len, fo.b.len,
                &data);
    uint8_t *sig;
    size_t siglen;
    bool ok = sign_data(k, o->alg, &data, &sig, &siglen);
    buf_free(&data);
    strlist_free(&h);
    free(f);
    if (!ok) {
        fail(err, errlen, "signing failed");
        free(sig);
        buf_free(&fo.b);
        return NULL;
    }
    char *b64 = b64_encode(sig, siglen);
    free(sig);
    for (size_t i = 0, n = strlen(b64); i < n;) {
        size_t room = fo.col < 77 ? 77 - fo.col : 0;
        if (!room) {
            buf_puts(&fo.b, "\r\n\t");
            fo.col = 1;
            continue;
        }
        size_t take = n - i < room ? n - i : room;
        buf_append(&fo.b, b64 + i, take);
        fo.col += take;
        i += take;
    }
    free(b64);
    return fo.b.data;
}
