/* arc.h - ARC chain validation (RFC 8617 section 5.2).
 *
 * A verifier reads the message's ARC header fields (ARC-Seal, ARC-Message-Signature,
 * ARC-Authentication-Results), groups them into sets by instance (i=1..N) and checks
 * the chain's form; then, like node/dkim.h's verifier, it says which key records it
 * needs (every ARC-Seal's and the newest ARC-Message-Signature's), is given what DNS
 * answered (by the caller, or from a DNS batch with arc_verifier_submit/collect), and
 * gives one result for the chain: none, pass, fail (with the reason and the instance
 * that failed) or temperror (a key could not be looked up and nothing failed). The
 * signatures are checked with DKIM's code (node/dkim.h); the parsers take bytes and do
 * no DNS or crypto, so they can be fuzzed. */
#ifndef BW_ARC_H
#define BW_ARC_H

#include "dkim.h"
#include "dns.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARC_MAX_SETS 50 /* RFC 8617 4.2.1: i= is 1..50 */
#define ARC_NAME_MAX 254 /* a domain name, NUL included */

typedef enum {
    ARC_RES_NONE, /* no ARC header field */
    ARC_RES_PASS,
    ARC_RES_FAIL,
    ARC_RES_TEMPERROR, /* a key lookup failed for now and nothing else failed */
} arc_res;

/* "none", "pass", "fail", "temperror". */
const char *arc_res_name(arc_res r);

/* ---- parsers (no DNS, no crypto) ---------------------------------------------------- */

typedef enum {
    ARC_SEAL, /* ARC-Seal */
    ARC_AMS, /* ARC-Message-Signature */
    ARC_AAR, /* ARC-Authentication-Results */
} arc_kind;

/* Which ARC field a header field name is (case does not matter); false for others. */
bool arc_field_kind(const char *name, size_t len, arc_kind *k);
/* The instance of an ARC field's value: the i= tag of a seal or message signature,
 * the leading "i=N;" of authentication results. False with the reason when there is
 * none or it is not 1..ARC_MAX_SETS. For ARC_AAR, *payload_off gets where the results
 * start (after the ';'); it may be NULL. */
bool arc_instance(arc_kind k, const char *value, size_t len, unsigned *instance,
                  size_t *payload_off, char *err, size_t errlen);

typedef enum {
    ARC_CV_NONE,
    ARC_CV_PASS,
    ARC_CV_FAIL,
} arc_cv;

/* A parsed ARC-Seal or ARC-Message-Signature value. */
typedef struct {
    unsigned instance; /* i= */
    dkim_alg alg; /* a=: rsa-sha256 or ed25519-sha256 */
    char domain[ARC_NAME_MAX]; /* d=, lower case */
    char selector[ARC_NAME_MAX]; /* s=, lower case */
    uint8_t *b; /* the signature, decoded */
    size_t blen;
    size_t b_from, b_to; /* b='s value in the parsed text, emptied for the hash */
    /* ARC-Seal only */
    arc_cv cv;
    /* ARC-Message-Signature only */
    dkim_canon hcanon, bcanon; /* c=, simple/simple when absent (as DKIM) */
    strlist headers; /* h=, lower case */
    uint8_t bh[32];
    bool has_length;
    uint64_t length; /* l= */
} arc_sig;

/* Parses an ARC-Seal (ARC_SEAL) or ARC-Message-Signature (ARC_AMS) value, checking
 * what needs no key: the required tags, i= in range, a known algorithm (rsa-sha1 is
 * refused, RFC 8301), d= and s= as DNS names, base64 that decodes, cv= none/pass/fail
 * and no h= in a seal, From and no ARC-Seal in h= of a message signature. False with
 * the reason (the chain then fails). Clears *s first. */
bool arc_sig_parse(arc_kind k, const char *value, size_t len, arc_sig *s, char *err, size_t errlen);
void arc_sig_clear(arc_sig *s);

/* What one ARC-Authentication-Results payload says (the results after "i=N;"),
 * as RFC 8601 result words ("" where the method is absent). */
#define ARC_AAR_DKIM_MAX 4
typedef struct {
    unsigned instance; /* the set it came from; 0: none was read */
    char sealer[ARC_NAME_MAX]; /* d= of that set's ARC-Seal */
    char authserv_id[ARC_NAME_MAX];
    char spf[16];
    char spf_domain[ARC_NAME_MAX]; /* smtp.mailfrom's domain, else smtp.helo */
    char dmarc[16];
    char dmarc_from[ARC_NAME_MAX]; /* header.from */
    size_t ndkim;
    struct {
        char result[16];
        char domain[ARC_NAME_MAX]; /* header.d, else the domain of header.i */
    } dkim[ARC_AAR_DKIM_MAX];
} arc_aar;

/* Reads an AAR payload (node/authres.h's parser) into *out, cleared first (instance
 * and sealer are the caller's to fill); false when it does not parse (what was read
 * before the error is kept). Domains and results lower case. */
bool arc_aar_read(const char *payload, size_t len, arc_aar *out);

/* ---- verification ------------------------------------------------------------------- */

typedef struct {
    unsigned min_rsa_bits; /* smaller RSA keys fail (default 1024, RFC 8301) */
} arc_opts;

void arc_opts_default(arc_opts *o);

typedef struct {
    arc_res res;
    unsigned sets; /* N, the newest instance (0 when the chain did not assemble) */
    unsigned instance; /* the set that failed (0: the chain as a whole, or none) */
    char reason[240]; /* why it did not pass, or "" */
} arc_result;

typedef struct arc_verifier arc_verifier;

/* Reads the ARC fields and assembles the chain: sets 1..N each with exactly one of
 * each field, N <= 50, the cv= rules (i=1 none, later pass, a newest cv=fail ends the
 * chain). A chain that fails here needs no key. msg is borrowed and must outlive the
 * verifier. */
arc_verifier *arc_verifier_new(const uint8_t *msg, size_t len, const arc_opts *o);
void arc_verifier_destroy(arc_verifier **v);
/* Whether the message has any ARC field at all. */
bool arc_verifier_found(const arc_verifier *v);
/* The key records the chain needs ("<s>._domainkey.<d>", each name once). */
size_t arc_verifier_key_count(const arc_verifier *v);
const char *arc_verifier_key_name(const arc_verifier *v, size_t k);
/* What the lookup of a key name gave (names compared without case); why names a DNS
 * failure for the reason. A name the chain does not need is ignored. */
void arc_verifier_set_key(arc_verifier *v, const char *name, dkim_lookup st, const char *txt,
                          size_t len, const char *why);
/* The same through node/dns.h (TXT lookups; the first record is used). NXDOMAIN,
 * NODATA and a bad name are a missing key, SERVFAIL and timeouts a temporary one. */
void arc_verifier_submit(const arc_verifier *v, dns_batch *b);
void arc_verifier_collect(arc_verifier *v, dns_batch *b);
/* Verifies the newest ARC-Message-Signature, then every ARC-Seal from the newest to
 * the oldest (a key that was not set is a temporary failure). */
void arc_verifier_run(arc_verifier *v);
const arc_result *arc_verifier_result(const arc_verifier *v);
/* d= of the ARC-Seal of set i (1..N), or NULL (not assembled, out of range). */
const char *arc_verifier_sealer(const arc_verifier *v, unsigned i);
/* The results payload of set i's ARC-Authentication-Results (after "i=N;"), or NULL. */
const char *arc_verifier_aar(const arc_verifier *v, unsigned i, size_t *len);

#endif
