/* dkim.h - DKIM signatures (RFC 6376, RFC 8463 Ed25519, RFC 8301 crypto rules).
 *
 * Three layers, each usable on its own. The parsers (tag lists, DKIM-Signature
 * values, key records) take bytes and never touch crypto or DNS, so they can be
 * fuzzed. The canonicalisers stream over the raw message (bare LF counts as CRLF)
 * into a sink. The verifier and the signer put them together with OpenSSL's EVP
 * interface: a verifier reads every DKIM-Signature of a message, says which key
 * records it needs, is given what DNS answered (by the caller, or from a DNS batch
 * with dkim_verifier_submit/collect), and reports one result per signature. */
#ifndef BW_DKIM_H
#define BW_DKIM_H

#include "dns.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef enum {
    DKIM_ALG_RSA_SHA256,
    DKIM_ALG_RSA_SHA1,
    DKIM_ALG_ED25519_SHA256,
} dkim_alg;

typedef enum {
    DKIM_CANON_SIMPLE,
    DKIM_CANON_RELAXED,
} dkim_canon;

typedef enum {
    DKIM_KEY_RSA,
    DKIM_KEY_ED25519,
} dkim_keytype;

/* "rsa-sha256"...; parsing ignores case. */
const char *dkim_alg_name(dkim_alg a);
bool dkim_alg_parse(const char *s, dkim_alg *a);
/* "simple"/"relaxed", alone (the body is then simple) or as "header/body". */
bool dkim_canon_parse(const char *s, dkim_canon *header, dkim_canon *body);
const char *dkim_canon_name(dkim_canon c);

/* ---- tag lists (RFC 6376 3.2) ---------------------------------------------------- */

#define DKIM_MAX_TAGS 64

typedef struct {
    const char *name; /* points into the parsed text */
    size_t nlen;
    const char *value; /* without the white space around it; folding inside kept */
    size_t vlen;
    size_t eq; /* offset of the '=' in the text */
    size_t end; /* offset of the ';' ending the tag-spec, or the text's length */
} dkim_tag;

/* Splits "a=1; b = x y ;" into tags. False with a reason for a syntax error, a
 * duplicate tag name or more than max tags. */
bool dkim_tags_parse(const char *s, size_t len, dkim_tag *tags, size_t max, size_t *n, char *err,
                     size_t errlen);
/* The tag called name (case matters), or NULL. */
const dkim_tag *dkim_tag_find(const dkim_tag *t, size_t n, const char *name);
/* Whether every tag of the NULL-terminated names is there; false with the first
 * missing one named in err. */
bool dkim_tags_required(const dkim_tag *tags, size_t n, const char *const *names, char *err,
                        size_t errlen);
/* Splits a colon-separated tag value (h=, q=, ...) into items with the white space
 * around them removed; calls fn for each; stops (false) when fn returns false. */
bool dkim_tag_items(const dkim_tag *t, bool (*fn)(void *ctx, const char *item, size_t n),
                    void *ctx);
/* Digits only, at most `digits` of them, and no overflow of int64. */
bool dkim_tag_uint(const dkim_tag *t, size_t digits, uint64_t *out);
/* A domain or selector as a DNS name can hold it: at most 253 letters, digits, '-',
 * '_', dots between non-empty labels. */
bool dkim_name_ok(const char *s, size_t n);

/* ---- DKIM-Signature values (RFC 6376 3.5, 6.1.1) --------------------------------- */

#define DKIM_MAX_H 256 /* names in h= */

typedef struct {
    dkim_alg alg;
    dkim_canon hcanon, bcanon;
    char *domain; /* d=, lower case */
    char *selector; /* s=, lower case */
    char *identity; /* i=, or "@" d= when absent */
    strlist headers; /* h=, lower case, in order (repeats kept) */
    uint8_t *b; /* the signature, decoded */
    size_t blen;
    uint8_t bh[32]; /* the body hash, decoded */
    size_t bhlen;
    bool alg_ok; /* a= was understood (alg is set), even if a later tag was not */
    bool has_length, has_time, has_expire;
    uint64_t length; /* l= */
    int64_t time; /* t= */
    int64_t expire; /* x= */
    size_t b_from, b_to; /* b='s value in the parsed text: emptied for the hash */
} dkim_sig;

/* Parses the value of one DKIM-Signature field (folding included) and checks what
 * needs neither the key nor the clock: v=1, the required tags, a known algorithm
 * and canonicalisation, from in h=, i= within d=, q=dns/txt, x= not before t=,
 * base64 that decodes. False with the reason (a PERMERROR). Clears *s first. */
bool dkim_sig_parse(const char *value, size_t len, dkim_sig *s, char *err, size_t errlen);
void dkim_sig_clear(dkim_sig *s);

/* ---- key records (RFC 6376 3.6.1) ------------------------------------------------ */

typedef struct {
    dkim_keytype type; /* k=, rsa when absent */
    uint8_t *p; /* p=, decoded (DER for RSA, 32 raw bytes for Ed25519) */
    size_t plen; /* 0: the key was revoked (empty p=) */
    bool sha1, sha256; /* allowed by h= (both when absent) */
    bool testing; /* t=y */
    bool strict; /* t=s: i= must be in d= itself, not a subdomain */
} dkim_key;

/* Parses a key record (the TXT strings concatenated). False with a reason for a bad
 * v=, an unknown k=, a service type (s=) without email or *, a missing p=, or base64
 * that does not decode. Clears *k first. */
bool dkim_key_parse(const char *txt, size_t len, dkim_key *k, char *err, size_t errlen);
void dkim_key_clear(dkim_key *k);

/* ---- canonicalisation (RFC 6376 3.4) --------------------------------------------- */

typedef void (*dkim_sink)(void *ctx, const uint8_t *p, size_t n);

/* Body canonicaliser: feed the body in pieces of any size, then finish. */
typedef struct {
    dkim_canon canon;
    dkim_sink sink;
    void *ctx;
    uint64_t crlfs; /* line breaks held back: written only if content follows */
    bool wsp; /* relaxed: white space held back since the last content byte */
    bool cr; /* the previous byte was a CR */
    bool any; /* content was written */
    size_t n;
    uint8_t out[2048];
} dkim_body_canon;

void dkim_body_init(dkim_body_canon *c, dkim_canon canon, dkim_sink sink, void *ctx);
void dkim_body_feed(dkim_body_canon *c, const uint8_t *p, size_t n);
void dkim_body_finish(dkim_body_canon *c);

/* One header field as written (name to the end of its value, folding included, no
 * final line break), canonicalised and appended to out with a final CRLF. */
void dkim_header_canon(dkim_canon c, const char *field, size_t len, buf_t *out);

/* A header field of a raw message: [off, off + len) excludes the final line break. */
typedef struct {
    size_t off, len;
    size_t nlen; /* the name, without white space before the colon; 0 without colon */
} dkim_field;

#define DKIM_MAX_FIELDS 4096 /* fields looked at; later ones are ignored */

/* Splits the header block into *n fields (an array owned by the caller). *body_off is
 * where the body starts (len when there is none). */
dkim_field *dkim_fields(const uint8_t *msg, size_t len, size_t *n, size_t *body_off);

/* ---- verification ----------------------------------------------------------------- */

typedef enum {
    DKIM_RES_PASS,
    DKIM_RES_FAIL,
    DKIM_RES_TEMPERROR,
    DKIM_RES_PERMERROR,
} dkim_res;

enum {
    DKIM_F_LENGTH = 1 << 0, /* l= in use: bytes after it are not signed */
    DKIM_F_LENGTH_PARTIAL = 1 << 1, /* ... and the body does go on after l= bytes */
    DKIM_F_SHA1 = 1 << 2, /* rsa-sha1: weak (RFC 8301) */
    DKIM_F_TESTING = 1 << 3, /* the key says t=y */
};

typedef struct {
    dkim_res res;
    char domain[256]; /* d= ("" when it did not parse) */
    char selector[128];
    char identity[320];
    char alg[24]; /* "rsa-sha256"... ("" when it did not parse) */
    char reason[200]; /* why it failed, or "" */
    unsigned flags;
    uint64_t length; /* l= when DKIM_F_LENGTH */
    unsigned key_bits;
} dkim_result;

typedef struct {
    size_t max_sigs; /* signatures verified; later ones are counted only (default 5) */
    bool sha1_weak; /* rsa-sha1 checked and passed with DKIM_F_SHA1; default: FAIL */
    unsigned min_rsa_bits; /* smaller RSA keys FAIL (default 1024, RFC 8301) */
    int64_t future_s; /* t= allowed ahead of now (default 300) */
    time_t now; /* 0: time(NULL) */
} dkim_opts;

void dkim_opts_default(dkim_opts *o);

typedef enum {
    DKIM_LOOKUP_FOUND, /* txt holds the first TXT record at the name */
    DKIM_LOOKUP_MISSING, /* NXDOMAIN or no TXT record: PERMERROR (no key) */
    DKIM_LOOKUP_TEMPFAIL, /* SERVFAIL, timeout: TEMPERROR */
} dkim_lookup;

typedef struct dkim_verifier dkim_verifier;

/* Reads the message's DKIM-Signature fields, topmost first. msg is borrowed and must
 * outlive the verifier. */
dkim_verifier *dkim_verifier_new(const uint8_t *msg, size_t len, const dkim_opts *o);
void dkim_verifier_destroy(dkim_verifier **v);
/* DKIM-Signature fields in the message, and how many of them are verified. */
size_t dkim_verifier_found(const dkim_verifier *v);
size_t dkim_verifier_count(const dkim_verifier *v);
/* "<s>._domainkey.<d>" for signature i, or NULL when it needs no key (it did not
 * parse, so its result is already known). */
const char *dkim_verifier_key_name(const dkim_verifier *v, size_t i);
/* What the lookup of signature i's key gave; why names the DNS failure for the detail. */
void dkim_verifier_set_key(dkim_verifier *v, size_t i, dkim_lookup st, const char *txt, size_t len,
                           const char *why);
/* The same through node/dns.h: submit starts every key lookup (TXT), collect waits
 * for them and sets the keys (the batch answers a repeated submit from the same
 * query, so a verifier made again over the same message can collect what an earlier
 * one submitted). NXDOMAIN, NODATA and a bad name are a missing key; SERVFAIL and
 * timeouts a temporary failure; of several TXT records the first is used. */
void dkim_verifier_submit(const dkim_verifier *v, dns_batch *b);
void dkim_verifier_collect(dkim_verifier *v, dns_batch *b);
/* Verifies every signature (a signature whose key was not set is a TEMPERROR). */
void dkim_verifier_run(dkim_verifier *v);
const dkim_result *dkim_verifier_result(const dkim_verifier *v, size_t i);

/* "pass", "fail", "temperror", "permerror" (RFC 8601 words). */
const char *dkim_res_name(dkim_res r);
/* "d=example.com s=sel a=rsa-sha256 (reason) [flags]" for details and logs. */
void dkim_result_describe(const dkim_result *r, char *out, size_t outlen);

/* ---- pieces for other DKIM-style signatures (ARC, RFC 8617) ---------------------- */

/* Base64 as a tag value holds it (folding white space anywhere, optional padding).
 * False when it does not decode or is longer than max bytes; *out is owned by the
 * caller, NULL for an empty value. */
bool dkim_b64_decode(const char *s, size_t n, size_t max, uint8_t **out, size_t *outlen);
/* The digest of the canonical body (SHA-1 for rsa-sha1, else SHA-256), of its first
 * `limit` bytes when limited; *total gets the canonical body's full length. */
void dkim_body_digest(const uint8_t *body, size_t len, dkim_canon c, dkim_alg alg, bool limited,
                      uint64_t limit, uint8_t out[64], unsigned *outlen, uint64_t *total);
/* The header data of RFC 6376 3.7 for the signature field f[own]: the fields h= names,
 * each taken from the bottom up (over-signing adds nothing), then f[own] itself with
 * [b_from, b_to) of the field emptied, without its final CRLF. */
void dkim_header_data(const uint8_t *msg, const dkim_field *f, size_t nf, const strlist *h,
                      dkim_canon c, size_t own, size_t b_from, size_t b_to, buf_t *out);
/* Checks signature sig of data with the key record txt as DNS gave it: the record must
 * parse and fit alg (k= and h=); an empty p= (revoked) or an RSA key under min_rsa_bits
 * FAILs, an unusable record is a PERMERROR; *bits gets the key size. The reason says
 * why it did not PASS. */
dkim_res dkim_key_verify(const char *txt, size_t txtlen, dkim_alg alg, const uint8_t *data,
                         size_t dlen, const uint8_t *sig, size_t siglen, unsigned min_rsa_bits,
                         unsigned *bits, char *reason, size_t reasonlen);

/* ---- signing ----------------------------------------------------------------------- */

typedef struct dkim_signkey dkim_signkey;

/* A private key in PEM (PKCS#8 or PKCS#1 RSA, or Ed25519). NULL with a reason. */
dkim_signkey *dkim_signkey_load(const char *pem, size_t len, char *err, size_t errlen);
/* A new key: RSA of `bits` (1024..8192) or Ed25519 (bits ignored). */
dkim_signkey *dkim_signkey_generate(dkim_keytype t, unsigned bits, char *err, size_t errlen);
void dkim_signkey_destroy(dkim_signkey **k);
dkim_keytype dkim_signkey_type(const dkim_signkey *k);
unsigned dkim_signkey_bits(const dkim_signkey *k);
/* The private key as PKCS#8 PEM (owned by the caller). */
char *dkim_signkey_pem(const dkim_signkey *k);
/* The key record to publish: "v=DKIM1; k=rsa; p=..." (owned by the caller). */
char *dkim_signkey_record(const dkim_signkey *k);

/* From (over-signed), To, Cc, Subject, Date, Message-ID, the reply and MIME headers. */
extern const char dkim_default_headers[];

typedef struct {
    const char *domain, *selector;
    const char *identity; /* i=; NULL to leave it out */
    dkim_alg alg; /* must fit the key */
    dkim_canon hcanon, bcanon;
    /* NULL: each of dkim_default_headers as often as the message has it, From once
     * more (over-signed, so a second From cannot be added). Else a colon-separated
     * list used as h= as it is. */
    const char *headers;
    time_t now; /* t=; 0: time(NULL) */
    int64_t expire_s; /* x= = t= + this; 0: no x= */
    bool body_length; /* l= with the body's length (text appended later stays unsigned) */
} dkim_sign_opts;

/* Signs msg: returns the whole field "DKIM-Signature: v=1; ..." folded with
 * "\r\n\t" and no final line break (owned by the caller), or NULL with a reason. */
char *dkim_sign(const dkim_signkey *k, const dkim_sign_opts *o, const uint8_t *msg, size_t len,
                char *err, size_t errlen);

#endif
