/* spf.h - Sender Policy Framework (RFC 7208): may this host send mail for this domain?
 *
 * Three layers, each usable alone. The record parser (spf_record_parse) turns a
 * "v=spf1" TXT record into terms and finds every syntax error before anything is
 * evaluated. The macro expander (spf_expand) implements section 7. check_host()
 * (spf_check) fetches records and addresses through node/dns.h, one dns_batch per
 * evaluation. The parser and the expander do no DNS: they are unit tested and fuzzed
 * alone. Everything is bounded: record length, terms per record, the 10 terms that
 * query DNS and the 2 void lookups of one evaluation, 10 MX or PTR names per term,
 * 253-character names after expansion, the length of an explanation. */
#ifndef BW_SPF_H
#define BW_SPF_H

#include "dns.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SPF_RECORD_MAX 4096 /* a longer v=spf1 record is a permerror */
#define SPF_TERMS_MAX 256 /* more terms in one record is a permerror */
#define SPF_LOOKUPS_MAX 10 /* include, a, mx, ptr, exists, redirect (4.6.4) */
#define SPF_VOID_MAX 2 /* lookups answered NXDOMAIN or no records (4.6.4) */
#define SPF_NAMES_MAX 10 /* MX names (more: permerror), PTR names (more: ignored) */
#define SPF_NAME_MAX 254 /* a domain name after expansion, NUL included */
#define SPF_EXP_MAX 512 /* an explanation is cut at this many bytes, NUL included */

typedef enum {
    SPF_NONE,
    SPF_NEUTRAL,
    SPF_PASS,
    SPF_FAIL,
    SPF_SOFTFAIL,
    SPF_TEMPERROR,
    SPF_PERMERROR,
} spf_result;

typedef enum {
    SPF_ALL,
    SPF_INCLUDE,
    SPF_A,
    SPF_MX,
    SPF_PTR,
    SPF_IP4,
    SPF_IP6,
    SPF_EXISTS
} spf_mech;

/* An address. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is IPv4 (RFC 7208 5/9). */
typedef struct {
    int family; /* 4 or 6 */
    uint8_t a[16]; /* network order; IPv4 in the first 4 bytes */
} spf_ip;

typedef struct {
    spf_mech mech;
    char qualifier; /* '+', '-', '~' or '?' */
    char *domain; /* domain-spec (a macro-string); NULL: the current domain */
    spf_ip net; /* ip4: and ip6: */
    unsigned cidr4, cidr6; /* prefix lengths; 32 and 128 unless the term gives them */
    char *text; /* the term as written */
} spf_term;

typedef struct {
    spf_term *terms; /* the directives, in record order */
    size_t nterms;
    char *redirect, *exp; /* the modifiers' domain-specs; NULL when absent */
} spf_record;

/* Whether a TXT record is an SPF record: "v=spf1" in any case, then a space or the end
 * (RFC 7208 4.5). Records that are not are ignored, whatever else they hold. */
bool spf_is_record(const char *txt, size_t len);
/* Parses a whole record (the TXT record's strings joined). NULL with the reason in err
 * for any syntax error anywhere in it, which makes check_host() a permerror. */
spf_record *spf_record_parse(const char *txt, size_t len, char *err, size_t errlen);
void spf_record_destroy(spf_record **r);

/* ---- macros (section 7) ---- */

typedef enum {
    SPF_MACRO_DOMAIN, /* a domain-spec: letters c, r, t refused; the result is a name */
    SPF_MACRO_EXPLAIN, /* explanation text: spaces and c, r, t allowed */
} spf_macro_mode;

typedef struct {
    const char *sender; /* local-part@domain (postmaster@HELO for the HELO identity) */
    const char *domain; /* the current domain, %{d} */
    const char *helo; /* %{h} */
    const spf_ip *ip; /* %{i}, %{c}, %{v} */
    const char *receiver; /* %{r}; NULL: "unknown" */
    time_t now; /* %{t} */
    /* %{p}: the validated name of ip, asked only when a string uses it; NULL (or a
     * NULL answer): "unknown". */
    const char *(*ptr)(void *arg);
    void *arg;
} spf_macro_env;

/* Whether s is a valid macro-string in that mode (nothing is expanded). */
bool spf_macro_valid(const char *s, size_t len, spf_macro_mode mode);
/* Expands a macro-string into out. SPF_MACRO_DOMAIN: one trailing dot is dropped and a
 * name over 253 characters loses labels on the left until it fits (7.3); out must hold
 * SPF_NAME_MAX bytes, and "" means no name could be made. SPF_MACRO_EXPLAIN: the text
 * is cut to fit outlen. False on a syntax error (out is then ""). */
bool spf_expand(const char *s, size_t len, spf_macro_mode mode, const spf_macro_env *env, char *out,
                size_t outlen);

/* ---- addresses ---- */

/* An IPv4 or IPv6 address in text; false for anything else. */
bool spf_ip_parse(const char *s, spf_ip *ip);
/* "A.B.C.D/N", "X::/N" or a bare address (a whole-address prefix). */
bool spf_cidr_parse(const char *s, spf_ip *net, unsigned *prefix);
/* Whether ip is within net/prefix (never across families). */
bool spf_ip_match(const spf_ip *ip, const spf_ip *net, unsigned prefix);
/* "1.2.3.4" or "2001:db8::1" (lower case, compressed). */
void spf_ip_text(const spf_ip *ip, char *out, size_t outlen);

/* ---- check_host() ---- */

typedef enum {
    SPF_ID_MAILFROM, /* the MAIL FROM identity (postmaster@HELO for the null sender) */
    SPF_ID_HELO, /* the HELO identity (RFC 7208 2.3) */
} spf_identity;

typedef struct {
    const char *receiver; /* this host's name for %{r}; NULL: "unknown" */
    const char *default_exp; /* explanation of a fail without exp= (a macro-string in
                              * explanation mode); NULL: SPF_DEFAULT_EXP */
    time_t now; /* %{t}; 0: the current time */
} spf_opts;

#define SPF_DEFAULT_EXP "%{o} does not designate %{c} as a permitted sender"

typedef struct {
    spf_result result;
    char domain[SPF_NAME_MAX]; /* the domain checked (lower case): MAIL FROM's or HELO's */
    char mechanism[128]; /* the directive that decided ("-all", "include:_spf.x.org"),
                          * "redirect=..." is followed into; "" when none matched */
    char explanation[SPF_EXP_MAX]; /* fail only: the exp= text, else the default */
    char reason[256]; /* why: none, neutral by default, temperror, permerror */
    unsigned lookups; /* terms that queried DNS (the limit of 10) */
    unsigned void_lookups;
    unsigned queries; /* DNS lookups made, explanation included */
} spf_outcome;

/* The domain check_host() starts from for an identity (lower case, no trailing dot),
 * so its TXT lookup can be submitted early; false when the identity has none that
 * can be checked (the result is then none). */
bool spf_identity_domain(spf_identity id, const char *helo, const char *mail_from, char *out,
                         size_t outlen);
/* Evaluates one identity for the client ip. helo and mail_from may be NULL or "" (a
 * null reverse-path is checked as postmaster@helo). Lookups go through b (dns_lookup),
 * so its deadline bounds the evaluation; a timeout is a temperror. */
void spf_check(dns_batch *b, const spf_opts *o, spf_identity id, const spf_ip *ip, const char *helo,
               const char *mail_from, spf_outcome *out);

/* "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror". */
const char *spf_result_name(spf_result r);

#endif
