/* arc.c - ARC chain validation (RFC 8617 5.2) on top of DKIM's verifier pieces.
 *
 * arc_verifier_new walks the header once, files every ARC field under its instance
 * and kind, and settles what needs no key: a missing, duplicate or out-of-range
 * instance, a seal or newest message signature that does not parse, the cv= rules.
 * When the chain assembles, it lists the key records to fetch (each seal's and the
 * newest message signature's). arc_verifier_run then checks the newest
 * ARC-Message-Signature like a DKIM signature (body hash, the h= fields bottom up, the
 * field itself with b= emptied) and each ARC-Seal from the newest down, over the ARC
 * sets 1..i in relaxed canonicalisation (AAR, AMS, AS per set; the seal itself last
 * without b= and without its CRLF, 5.1.1). The first definite failure decides; a key
 * that could not be looked up makes the result temperror only if nothing failed.
 * The verifier owns the parsed signatures and the key records; it borrows the message. */
#include "arc.h"
#include "authres.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SIG_BYTES 1024 /* an 8192-bit RSA signature */

static const char *const kind_names[] = {"ARC-Seal", "ARC-Message-Signature",
                                         "ARC-Authentication-Results"};

const char *arc_res_name(arc_res r)
{
    static const char *const names[] = {"none", "pass", "fail", "temperror"};
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

bool arc_field_kind(const char *name, size_t len, arc_kind *k)
{
    for (int i = 0; i < 3; i++) {
        if (len == strlen(kind_names[i]) && strncasecmp(name, kind_names[i], len) == 0) {
            *k = (arc_kind)i;
            return true;
        }
    }
    return false;
}

/* 1..ARC_MAX_SETS written with at most 3 digits ("001" is 1, as dkimpy reads it). */
static bool instance_value(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    if (!n || n > 3)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return v >= 1 && v <= ARC_MAX_SETS;
}

static bool is_fws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* "i" [FWS] "=" [FWS] digits [FWS] ";" at the start of an AAR value. */
static bool aar_instance(const char *s, size_t len, unsigned *instance, size_t *payload_off,
                         char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len && is_fws(s[i]))
        i++;
    if (i >= len || (s[i] != 'i' && s[i] != 'I')) {
        fail(err, errlen, "does not start with i=");
        return false;
    }
    for (i++; i < len && is_fws(s[i]); i++)
        ;
    if (i >= len || s[i] != '=') {
        fail(err, errlen, "does not start with i=");
        return false;
    }
    for (i++; i < len && is_fws(s[i]); i++)
        ;
    size_t d = i;
    while (i < len && isdigit((unsigned char)s[i]))
        i++;
    if (!instance_value(s + d, i - d, instance)) {
        fail(err, errlen, "i=%.*s is not an instance 1..%d", (int)(i - d > 8 ? 8 : i - d), s + d,
             ARC_MAX_SETS);
        return false;
    }
    while (i < len && is_fws(s[i]))
        i++;
    if (i >= len || s[i] != ';') {
        fail(err, errlen, "no ';' after i=%u", *instance);
        return false;
    }
    if (payload_off)
        *payload_off = i + 1;
    return true;
}

bool arc_instance(arc_kind k, const char *value, size_t len, unsigned *instance,
                  size_t *payload_off, char *err, size_t errlen)
{
    if (k == ARC_AAR)
        return aar_instance(value, len, instance, payload_off, err, errlen);
    dkim_tag tags[DKIM_MAX_TAGS];
    size_t n;
    if (!dkim_tags_parse(value, len, tags, DKIM_MAX_TAGS, &n, err, errlen))
        return false;
    const dkim_tag *i = dkim_tag_find(tags, n, "i");
    if (!i) {
        fail(err, errlen, "no i= tag");
        return false;
    }
    if (!instance_value(i->value, i->vlen, instance)) {
        fail(err, errlen, "i=%.*s is not an instance 1..%d", (int)(i->vlen > 8 ? 8 : i->vlen),
             i->value, ARC_MAX_SETS);
        return false;
    }
    if (payload_off)
        *payload_off = 0;
    return true;
}

/* ---- seals and message signatures -------------------------------------------------- */

static void lower_copy(char *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
}

void arc_sig_clear(arc_sig *s)
{
    free(s->b);
    strlist_free(&s->headers);
    memset(s, 0, sizeof *s);
}

static bool sig_common(const dkim_tag *tags, size_t n, arc_sig *s, char *err, size_t errlen)
{
    const dkim_tag *i = dkim_tag_find(tags, n, "i"), *a = dkim_tag_find(tags, n, "a"),
                   *d = dkim_tag_find(tags, n, "d"), *sel = dkim_tag_find(tags, n, "s"),
                   *b = dkim_tag_find(tags, n, "b");
    if (!instance_value(i->value, i->vlen, &s->instance)) {
        fail(err, errlen, "i= is not an instance 1..%d", ARC_MAX_SETS);
        return false;
    }
    char alg[24];
    snprintf(alg, sizeof alg, "%.*s", (int)(a->vlen < 23 ? a->vlen : 23), a->value);
    if (!dkim_alg_parse(alg, &s->alg)) {
        fail(err, errlen, "unknown algorithm a=%s", alg);
        return false;
    }
    if (s->alg == DKIM_ALG_RSA_SHA1) {
        fail(err, errlen, "rsa-sha1 is not accepted (RFC 8301)");
        return false;
    }
    if (!dkim_name_ok(d->value, d->vlen)) {
        fail(err, errlen, "d= is not a domain name");
        return false;
    }
    lower_copy(s->domain, d->value, d->vlen);
    if (!dkim_name_ok(sel->value, sel->vlen)) {
        fail(err, errlen, "s= is not a selector");
        return false;
    }
    lower_copy(s->selector, sel->value, sel->vlen);
    if (!dkim_b64_decode(b->value, b->vlen, MAX_SIG_BYTES, &s->b, &s->blen) || !s->blen) {
        fail(err, errlen, "b= is empty or not base64");
        return false;
    }
    s->b_from = b->eq + 1;
    s->b_to = b->end;
    return true;
}

static bool seal_tags(const dkim_tag *tags, size_t n, arc_sig *s, char *err, size_t errlen)
{
    static const char *const req[] = {"i", "a", "b", "cv", "d", "s", NULL};
    if (!dkim_tags_required(tags, n, req, err, errlen) || !sig_common(tags, n, s, err, errlen))
        return false;
    if (dkim_tag_find(tags, n, "h")) {
        fail(err, errlen, "an ARC-Seal must not have h= (RFC 8617 4.1.3)");
        return false;
    }
    const dkim_tag *cv = dkim_tag_find(tags, n, "cv");
    static const char *const cvs[] = {"none", "pass", "fail"};
    for (int k = 0; k < 3; k++) {
        if (cv->vlen == strlen(cvs[k]) && strncasecmp(cv->value, cvs[k], cv->vlen) == 0) {
            s->cv = (arc_cv)k;
            return true;
        }
    }
    fail(err, errlen, "cv=%.*s is not none, pass or fail", (int)(cv->vlen > 16 ? 16 : cv->vlen),
         cv->value);
    return false;
}

typedef struct {
    strlist *out;
    bool bad, from, seal;
} h_ctx;

static bool h_item(void *ctx, const char *item, size_t n)
{
    h_ctx *h = ctx;
    bool ok = n > 0 && h->out->n < DKIM_MAX_H;
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)item[i] >= 33 && (unsigned char)item[i] <= 126;
    char name[128];
    if (!ok || n >= sizeof name) {
        h->bad = true;
        return false;
    }
    lower_copy(name, item, n);
    h->from |= strcmp(name, "from") == 0;
    h->seal |= strcmp(name, "arc-seal") == 0;
    strlist_add(h->out, name);
    return true;
}

static bool ams_tags(const dkim_tag *tags, size_t n, arc_sig *s, char *err, size_t errlen)
{
    static const char *const req[] = {"i", "a", "b", "bh", "d", "h", "s", NULL};
    if (!dkim_tags_required(tags, n, req, err, errlen) || !sig_common(tags, n, s, err, errlen))
        return false;
    const dkim_tag *c = dkim_tag_find(tags, n, "c");
    if (c) {
        char cv[24];
        snprintf(cv, sizeof cv, "%.*s", (int)(c->vlen < 23 ? c->vlen : 23), c->value);
        if (!dkim_canon_parse(cv, &s->hcanon, &s->bcanon)) {
            fail(err, errlen, "unknown canonicalisation c=%s", cv);
            return false;
        }
    }
    h_ctx h = {&s->headers, false, false, false};
    dkim_tag_items(dkim_tag_find(tags, n, "h"), h_item, &h);
    if (h.bad || !h.from || h.seal) {
        fail(err, errlen, "%s",
             h.bad    ? "h= is not a list of header names"
             : h.seal ? "h= includes ARC-Seal (RFC 8617 4.1.2)"
                      : "h= does not include From");
        return false;
    }
    const dkim_tag *bh = dkim_tag_find(tags, n, "bh");
    uint8_t *hash = NULL;
    size_t hlen = 0;
    if (!dkim_b64_decode(bh->value, bh->vlen, 32, &hash, &hlen) || hlen != 32) {
        free(hash);
        fail(err, errlen, "bh= is not a base64 SHA-256 digest");
        return false;
    }
    memcpy(s->bh, hash, 32);
    free(hash);
    const dkim_tag *l = dkim_tag_find(tags, n, "l"), *t = dkim_tag_find(tags, n, "t");
    uint64_t v;
    if (l && !dkim_tag_uint(l, 18, &s->length)) {
        fail(err, errlen, "l= is not a byte count");
        return false;
    }
    s->has_length = l != NULL;
    if (t && !dkim_tag_uint(t, 12, &v)) {
        fail(err, errlen, "t= is not a timestamp");
        return false;
    }
    return true;
}

bool arc_sig_parse(arc_kind k, const char *value, size_t len, arc_sig *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (k == ARC_AAR) {
        fail(err, errlen, "not a signature");
        return false;
    }
    dkim_tag tags[DKIM_MAX_TAGS];
    size_t n;
    if (!dkim_tags_parse(value, len, tags, DKIM_MAX_TAGS, &n, err, errlen))
        return false;
    bool ok =
        k == ARC_SEAL ? seal_tags(tags, n, s, err, errlen) : ams_tags(tags, n, s, err, errlen);
    if (!ok) {
        free(s->b);
        s->b = NULL;
        strlist_free(&s->headers);
    }
    return ok;
}

/* ---- what an AAR says ---------------------------------------------------------------- */

/* The domain of an address or a bare domain, lower case, if it looks like one. */
static void domain_of(const char *v, char *out, size_t outlen)
{
    const char *at = strrchr(v, '@');
    const char *d = at ? at + 1 : v;
    size_t n = strlen(d);
    out[0] = '\0';
    if (n < outlen && dkim_name_ok(d, n))
        lower_copy(out, d, n);
}

bool arc_aar_read(const char *payload, size_t len, arc_aar *out)
{
    memset(out, 0, sizeof *out);
    authres *ar = xmalloc(sizeof *ar);
    char err[160];
    bool ok = authres_parse(payload, len, ar, err, sizeof err);
    snprintf(out->authserv_id, sizeof out->authserv_id, "%.253s", ar->authserv_id);
    for (size_t i = 0; i < ar->n; i++) {
        const authres_result *r = &ar->r[i];
        const char *v;
        if (strcmp(r->method, "spf") == 0 && !out->spf[0]) {
            snprintf(out->spf, sizeof out->spf, "%s", r->result);
            if ((v = authres_prop_get(r, "smtp", "mailfrom")) ||
                (v = authres_prop_get(r, "smtp", "helo")))
                domain_of(v, out->spf_domain, sizeof out->spf_domain);
        } else if (strcmp(r->method, "dmarc") == 0 && !out->dmarc[0]) {
            snprintf(out->dmarc, sizeof out->dmarc, "%s", r->result);
            if ((v = authres_prop_get(r, "header", "from")))
                domain_of(v, out->dmarc_from, sizeof out->dmarc_from);
        } else if (strcmp(r->method, "dkim") == 0 && out->ndkim < ARC_AAR_DKIM_MAX) {
            snprintf(out->dkim[out->ndkim].result, sizeof out->dkim[0].result, "%s", r->result);
            if ((v = authres_prop_get(r, "header", "d")) ||
                (v = authres_prop_get(r, "header", "i")))
                domain_of(v, out->dkim[out->ndkim].domain, sizeof out->dkim[0].domain);
            out->ndkim++;
        }
    }
    free(ar);
    return ok;
}

/* ---- the verifier -------------------------------------------------------------------- */

void arc_opts_default(arc_opts *o)
{
    *o = (arc_opts){.min_rsa_bits = 1024};
}

#define NO_FIELD SIZE_MAX

typedef struct {
    size_t field[3]; /* by arc_kind: index into the fields, NO_FIELD when absent */
    size_t aar_off, aar_len; /* the AAR's results payload in the message */
    arc_sig seal, ams; /* ams: parsed for the newest set only */
    size_t seal_key, ams_key; /* index into keys */
} arc_set;

typedef struct {
    char *name;
    bool set;
    dkim_lookup st;
    char *txt;
    size_t len;
    char why[64];
} arc_key;

struct arc_verifier {
    const uint8_t *msg;
    size_t len;
    arc_opts o;
    dkim_field *f;
    size_t nf, body_off;
    bool found;
    bool decided; /* the result is known without keys */
    unsigned n;
    arc_set sets[ARC_MAX_SETS + 1]; /* by instance; [0] unused */
    arc_key keys[ARC_MAX_SETS + 1];
    size_t nkeys;
    arc_result r;
};

static void decide(arc_verifier *v, arc_res res, unsigned instance, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void decide(arc_verifier *v, arc_res res, unsigned instance, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->r.reason, sizeof v->r.reason, fmt, ap);
    va_end(ap);
    v->r.res = res;
    v->r.instance = instance;
    v->decided = true;
}

/* The value of field i: [*voff, end of field) in the message. */
static const char *field_value(const arc_verifier *v, size_t i, size_t *vlen, size_t *voff)
{
    const dkim_field *f = &v->f[i];
    const char *field = (const char *)v->msg + f->off;
    size_t colon = (size_t)((const char *)memchr(field, ':', f->len) - field);
    *voff = colon + 1;
    *vlen = f->len - *voff;
    return field + *voff;
}

/* Files every ARC field by instance; false when the chain fails on its form. */
static bool collect_fields(arc_verifier *v)
{
    for (size_t i = 0; i < v->nf; i++) {
        arc_kind k;
        if (!v->f[i].nlen || !arc_field_kind((const char *)v->msg + v->f[i].off, v->f[i].nlen, &k))
            continue;
        v->found = true;
        size_t vlen, voff, poff;
        const char *val = field_value(v, i, &vlen, &voff);
        unsigned inst;
        char err[160];
        if (!arc_instance(k, val, vlen, &inst, &poff, err, sizeof err)) {
            decide(v, ARC_RES_FAIL, 0, "%s: %s", kind_names[k], err);
            return false;
        }
        arc_set *s = &v->sets[inst];
        if (s->field[k] != NO_FIELD) {
            decide(v, ARC_RES_FAIL, inst, "two %s fields with i=%u", kind_names[k], inst);
            return false;
        }
        s->field[k] = i;
        if (k == ARC_AAR) {
            s->aar_off = v->f[i].off + voff + poff;
            s->aar_len = vlen - poff;
        }
        if (inst > v->n)
            v->n = inst;
    }
    for (unsigned i = 1; i <= v->n; i++) {
        for (int k = 0; k < 3; k++) {
            if (v->sets[i].field[k] == NO_FIELD) {
                decide(v, ARC_RES_FAIL, i, "ARC set i=%u has no %s (sets must be 1..%u)", i,
                       kind_names[k], v->n);
                return false;
            }
        }
    }
    return true;
}

static bool parse_sig(arc_verifier *v, unsigned i, arc_kind k)
{
    size_t vlen, voff;
    const char *val = field_value(v, v->sets[i].field[k], &vlen, &voff);
    char err[160];
    arc_sig *s = k == ARC_SEAL ? &v->sets[i].seal : &v->sets[i].ams;
    if (!arc_sig_parse(k, val, vlen, s, err, sizeof err)) {
        decide(v, ARC_RES_FAIL, i, "%s i=%u: %s", kind_names[k], i, err);
        return false;
    }
    return true;
}

/* The seals' cv= (5.2 steps 3-4) and the signatures that must parse. */
static bool check_structure(arc_verifier *v)
{
    for (unsigned i = v->n; i >= 1; i--)
        if (!parse_sig(v, i, ARC_SEAL))
            return false;
    if (v->sets[v->n].seal.cv == ARC_CV_FAIL) {
        decide(v, ARC_RES_FAIL, v->n, "the newest ARC-Seal (i=%u) says cv=fail", v->n);
        return false;
    }
    static const char *const cvs[] = {"none", "pass", "fail"};
    for (unsigned i = 1; i <= v->n; i++) {
        arc_cv cv = v->sets[i].seal.cv;
        if (i == 1 ? cv != ARC_CV_NONE : cv != ARC_CV_PASS) {
            decide(v, ARC_RES_FAIL, i, "ARC-Seal i=%u has cv=%s (must be %s)", i, cvs[cv],
                   i == 1 ? "none" : "pass");
            return false;
        }
    }
    return parse_sig(v, v->n, ARC_AMS);
}

static size_t add_key(arc_verifier *v, const arc_sig *s)
{
    char *name = xasprintf("%s._domainkey.%s", s->selector, s->domain);
    for (size_t k = 0; k < v->nkeys; k++) {
        if (strcmp(v->keys[k].name, name) == 0) {
            free(name);
            return k;
        }
    }
    v->keys[v->nkeys].name = name;
    return v->nkeys++;
}

arc_verifier *arc_verifier_new(const uint8_t *msg, size_t len, const arc_opts *o)
{
    arc_verifier *v = xcalloc(1, sizeof *v);
    v->msg = msg;
    v->len = len;
    v->o = *o;
    for (unsigned i = 0; i <= ARC_MAX_SETS; i++)
        for (int k = 0; k < 3; k++)
            v->sets[i].field[k] = NO_FIELD;
    v->f = dkim_fields(msg, len, &v->nf, &v->body_off);
    if (!collect_fields(v) || !v->found) {
        v->decided = true; /* none, or a form failure */
        v->r.sets = v->n;
        return v;
    }
    v->r.sets = v->n;
    if (!check_structure(v))
        return v;
    v->sets[v->n].ams_key = add_key(v, &v->sets[v->n].ams);
    for (unsigned i = v->n; i >= 1; i--)
        v->sets[i].seal_key = add_key(v, &v->sets[i].seal);
    return v;
}

void arc_verifier_destroy(arc_verifier **vp)
{
    arc_verifier *v = *vp;
    if (!v)
        return;
    for (unsigned i = 0; i <= ARC_MAX_SETS; i++) {
        arc_sig_clear(&v->sets[i].seal);
        arc_sig_clear(&v->sets[i].ams);
    }
    for (size_t k = 0; k < v->nkeys; k++) {
        free(v->keys[k].name);
        free(v->keys[k].txt);
    }
    free(v->f);
    free(v);
    *vp = NULL;
}

bool arc_verifier_found(const arc_verifier *v)
{
    return v->found;
}

size_t arc_verifier_key_count(const arc_verifier *v)
{
    return v->nkeys;
}

const char *arc_verifier_key_name(const arc_verifier *v, size_t k)
{
    return k < v->nkeys ? v->keys[k].name : NULL;
}

void arc_verifier_set_key(arc_verifier *v, const char *name, dkim_lookup st, const char *txt,
                          size_t len, const char *why)
{
    for (size_t k = 0; k < v->nkeys; k++) {
        arc_key *key = &v->keys[k];
        if (strcasecmp(key->name, name) != 0)
            continue;
        free(key->txt);
        key->txt = st == DKIM_LOOKUP_FOUND && txt ? xstrndup(txt, len) : NULL;
        key->len = key->txt ? len : 0;
        key->set = true;
        key->st = st;
        snprintf(key->why, sizeof key->why, "%s", why ? why : "");
    }
}

void arc_verifier_submit(const arc_verifier *v, dns_batch *b)
{
    for (size_t k = 0; k < v->nkeys; k++)
        dns_submit(b, v->keys[k].name, DNS_T_TXT);
}

void arc_verifier_collect(arc_verifier *v, dns_batch *b)
{
    for (size_t k = 0; k < v->nkeys; k++) {
        const char *name = v->keys[k].name;
        const dns_answer *a = dns_wait(dns_submit(b, name, DNS_T_TXT));
        const char *why = dns_status_name(a->status);
        switch (a->status) {
        case DNS_OK:
            arc_verifier_set_key(v, name, DKIM_LOOKUP_FOUND, a->rr[0].u.txt.data,
                                 a->rr[0].u.txt.len, why);
            break;
        case DNS_NXDOMAIN:
        case DNS_NODATA:
        case DNS_BADNAME: arc_verifier_set_key(v, name, DKIM_LOOKUP_MISSING, NULL, 0, why); break;
        default: arc_verifier_set_key(v, name, DKIM_LOOKUP_TEMPFAIL, NULL, 0, why); break;
        }
    }
}

typedef enum { CHECK_PASS, CHECK_FAIL, CHECK_TEMP } check_res;

/* Verifies data with the signature's key: CHECK_FAIL with the chain decided, CHECK_TEMP
 * with *temp set to the key's trouble (when it is the first). */
static check_res verify_with(arc_verifier *v, unsigned i, arc_kind k, const arc_sig *s, size_t key,
                             const buf_t *data, char *temp, size_t templen)
{
    const arc_key *kk = &v->keys[key];
    if (!kk->set || kk->st == DKIM_LOOKUP_TEMPFAIL) {
        if (!*temp)
            snprintf(temp, templen, "%s i=%u: key lookup %s: %s", kind_names[k], i, kk->name,
                     kk->set ? kk->why : "not done");
        return CHECK_TEMP;
    }
    if (kk->st == DKIM_LOOKUP_MISSING) {
        decide(v, ARC_RES_FAIL, i, "%s i=%u d=%s: no key at %s (%s)", kind_names[k], i, s->domain,
               kk->name, kk->why);
        return CHECK_FAIL;
    }
    char reason[200];
    unsigned bits;
    dkim_res r = dkim_key_verify(kk->txt, kk->len, s->alg, (const uint8_t *)data->data, data->len,
                                 s->b, s->blen, v->o.min_rsa_bits, &bits, reason, sizeof reason);
    if (r == DKIM_RES_PASS)
        return CHECK_PASS;
    decide(v, ARC_RES_FAIL, i, "%s i=%u d=%s: %s", kind_names[k], i, s->domain, reason);
    return CHECK_FAIL;
}

/* 5.2 step 5: the newest ARC-Message-Signature, as a DKIM signature. */
static check_res verify_ams(arc_verifier *v, char *temp, size_t templen)
{
    const arc_set *set = &v->sets[v->n];
    const arc_sig *s = &set->ams;
    const arc_key *kk = &v->keys[set->ams_key];
    if (kk->set && kk->st == DKIM_LOOKUP_FOUND) { /* the body first: it needs no key */
        uint8_t bh[64];
        unsigned bhlen;
        uint64_t total;
        dkim_body_digest(v->msg + v->body_off, v->len - v->body_off, s->bcanon, s->alg,
                         s->has_length, s->length, bh, &bhlen, &total);
        if (s->has_length && total < s->length) {
            decide(v, ARC_RES_FAIL, v->n,
                   "ARC-Message-Signature i=%u d=%s: l=%llu is longer than the body", v->n,
                   s->domain, (unsigned long long)s->length);
            return CHECK_FAIL;
        }
        if (bhlen != 32 || memcmp(bh, s->bh, 32) != 0) {
            decide(v, ARC_RES_FAIL, v->n,
                   "ARC-Message-Signature i=%u d=%s: body hash mismatch (the body was changed "
                   "after it was sealed)",
                   v->n, s->domain);
            return CHECK_FAIL;
        }
    }
    size_t vlen, voff;
    size_t fi = set->field[ARC_AMS];
    field_value(v, fi, &vlen, &voff);
    buf_t data = {0};
    dkim_header_data(v->msg, v->f, v->nf, &s->headers, s->hcanon, fi, voff + s->b_from,
                     voff + s->b_to, &data);
    check_res r = verify_with(v, v->n, ARC_AMS, s, set->ams_key, &data, temp, templen);
    buf_free(&data);
    return r;
}

/* Appends field fi canonicalised (relaxed); for the seal being checked (own), with
 * own's b= emptied and no final CRLF. */
static void seal_field(const arc_verifier *v, size_t fi, const arc_sig *own, buf_t *out)
{
    const dkim_field *f = &v->f[fi];
    const char *field = (const char *)v->msg + f->off;
    if (!own) {
        dkim_header_canon(DKIM_CANON_RELAXED, field, f->len, out);
        return;
    }
    size_t vlen, voff;
    field_value(v, fi, &vlen, &voff);
    buf_t t = {0};
    buf_append(&t, field, voff + own->b_from);
    buf_append(&t, field + voff + own->b_to, f->len - voff - own->b_to);
    dkim_header_canon(DKIM_CANON_RELAXED, t.data, t.len, out);
    out->len -= 2;
    buf_free(&t);
}

/* 5.2 step 6: ARC-Seal i over the sets 1..i (RFC 8617 5.1.1). */
static check_res verify_seal(arc_verifier *v, unsigned i, char *temp, size_t templen)
{
    buf_t data = {0};
    for (unsigned j = 1; j <= i; j++) {
        const arc_set *s = &v->sets[j];
        seal_field(v, s->field[ARC_AAR], NULL, &data);
        seal_field(v, s->field[ARC_AMS], NULL, &data);
        seal_field(v, s->field[ARC_SEAL], j == i ? &s->seal : NULL, &data);
    }
    check_res r =
        verify_with(v, i, ARC_SEAL, &v->sets[i].seal, v->sets[i].seal_key, &data, temp, templen);
    buf_free(&data);
    return r;
}

void arc_verifier_run(arc_verifier *v)
{
    if (v->decided)
        return;
    char temp[sizeof v->r.reason] = "";
    unsigned temp_at = 0;
    check_res r = verify_ams(v, temp, sizeof temp);
    if (r == CHECK_FAIL)
        return;
    if (r == CHECK_TEMP)
        temp_at = v->n;
    for (unsigned i = v->n; i >= 1; i--) {
        r = verify_seal(v, i, temp, sizeof temp);
        if (r == CHECK_FAIL)
            return;
        if (r == CHECK_TEMP && !temp_at)
            temp_at = i;
    }
    if (temp_at)
        decide(v, ARC_RES_TEMPERROR, temp_at, "%s", temp);
    else
        decide(v, ARC_RES_PASS, 0, "%s", "");
}

const arc_result *arc_verifier_result(const arc_verifier *v)
{
    return &v->r;
}

const char *arc_verifier_sealer(const arc_verifier *v, unsigned i)
{
    if (i < 1 || i > v->n || !v->sets[i].seal.domain[0])
        return NULL;
    return v->sets[i].seal.domain;
}

const char *arc_verifier_aar(const arc_verifier *v, unsigned i, size_t *len)
{
    if (i < 1 || i > v->n || v->sets[i].field[ARC_AAR] == NO_FIELD)
        return NULL;
    *len = v->sets[i].aar_len;
    return (const char *)v->msg + v->sets[i].aar_off;
}
