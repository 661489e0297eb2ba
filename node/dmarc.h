/* dmarc.h - DMARC (RFC 7489): the record, policy discovery, alignment, the verdict.
 *
 * Four layers, each usable alone. The record parser (dmarc_record_parse) and the
 * From-field reader (dmarc_from_domain) take bytes and do no DNS: they are unit tested
 * and fuzzed alone. Policy discovery (dmarc_discover) asks for _dmarc.<From domain>,
 * then _dmarc.<organisational domain>, through a lookup function, so the check gives it
 * the task's resolver batch and a test gives it answers built in memory. The evaluation
 * (dmarc_evaluate) takes what SPF and DKIM found as plain values, aligns them with the
 * From domain and applies the published policy (p or sp, pct); it knows nothing of the
 * scan pipeline. The organisational domain is libpsl's registrable domain. */
#ifndef BW_DMARC_H
#define BW_DMARC_H

#include "dns.h"
#include "hdr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DMARC_NAME_MAX 254 /* a domain name, NUL included */
#define DMARC_RECORD_MAX 2048 /* a longer TXT record is not read as DMARC */
#define DMARC_RUA_MAX 4 /* rua= mailto: addresses kept; more are ignored */
#define DMARC_ADDR_MAX 256 /* one rua address, NUL included */
#define DMARC_DKIM_MAX 8 /* DKIM results an evaluation looks at */

typedef enum {
    DMARC_POLICY_NONE,
    DMARC_POLICY_QUARANTINE,
    DMARC_POLICY_REJECT,
} dmarc_policy;

/* One published record, every tag with its default filled in when absent or invalid
 * (RFC 7489 6.3: a bad value of an optional tag is ignored, not fatal). */
typedef struct {
    dmarc_policy p, sp, np; /* sp defaults to p, np to sp */
    bool sp_set, np_set; /* sp= / np= were published */
    bool adkim_strict, aspf_strict; /* adkim=s / aspf=s; relaxed by default */
    unsigned pct; /* 0..100, default 100 */
    unsigned ri; /* report interval in seconds, default 86400 */
    char fo[16]; /* failure report options as published, default "0" */
    char rf[16]; /* failure report format, default "afrf" */
    /* rua= mailto: addresses ("!size" and the scheme removed), in record order;
     * other schemes are not supported and skipped. */
    char rua[DMARC_RUA_MAX][DMARC_ADDR_MAX];
    size_t nrua;
    bool ruf; /* ruf= was published (failure reports are not sent) */
    bool p_fallback; /* p= missing or invalid, rua valid: read as p=none (6.6.3) */
    char notes[160]; /* tags ignored for bad values, for details ("pct=abc ignored") */
} dmarc_record;

/* Whether a TXT record is a DMARC record: the tag v=DMARC1 first (6.6.3 step 3). */
bool dmarc_is_record(const char *txt, size_t len);
/* Parses one record (the TXT strings joined). False with the reason when it cannot be
 * used: not v=DMARC1 first, over DMARC_RECORD_MAX, or p= (or a published sp=) missing
 * or invalid without a valid rua= (with one, p=none: r->p_fallback). Everything else
 * that is wrong (a piece without '=', a repeated tag, a bad optional value) is skipped
 * and said in r->notes; unknown tags are ignored. */
bool dmarc_record_parse(const char *txt, size_t len, dmarc_record *r, char *err, size_t errlen);
/* "none", "quarantine", "reject". */
const char *dmarc_policy_name(dmarc_policy p);

/* ---- the From domain (6.6.1) ---- */

/* The RFC5322.From domain: exactly one From field holding one mailbox, or several
 * mailboxes all at one domain. Written lower case without a trailing dot. False with
 * the reason (the DMARC result is then permerror): no From field, several From
 * fields, no address, addresses at different domains, a domain literal, a domain that
 * is not a name. */
bool dmarc_from_domain(const hdr_block *h, char *out, size_t outlen, char *why, size_t whylen);
/* The same for one From field's value (unfolded). */
bool dmarc_from_value(const char *value, char *out, size_t outlen, char *why, size_t whylen);

/* ---- organisational domains and alignment (3.1, 3.2) ---- */

/* The organisational domain: the public suffix list's registrable domain ("example.co.uk"
 * for "mail.example.co.uk"); the name itself when it is a public suffix or has no
 * known one. name must be lower case. */
void dmarc_org_domain(const char *name, char *out, size_t outlen);
/* Whether an authenticated domain is aligned with the From domain: equal (strict), or
 * with the same organisational domain (relaxed). Both lower case. */
bool dmarc_aligned(const char *auth_domain, const char *from_domain, bool strict);

/* ---- policy discovery (6.6.3) ---- */

/* The TXT answer for a name (NULL: a lookup that could not be made, a temperror). */
typedef const dns_answer *(*dmarc_lookup_fn)(void *arg, const char *name);

typedef enum {
    DMARC_DISC_FOUND, /* one usable record */
    DMARC_DISC_NONE, /* no record (or several, or none usable): no DMARC */
    DMARC_DISC_TEMPFAIL, /* SERVFAIL or timeout: temperror */
} dmarc_disc;

typedef struct {
    dmarc_disc status;
    dmarc_record rec;
    char domain[DMARC_NAME_MAX]; /* the policy domain: where the record was found */
    bool at_org; /* found at the organisational domain, the From domain below it */
    char why[200]; /* for NONE and TEMPFAIL: what was found instead */
} dmarc_found;

/* The name asked first: "_dmarc.<from_domain>" (for submitting it early). False when
 * it would be too long. */
bool dmarc_query_name(const char *domain, char *out, size_t outlen);
/* Looks for the policy of from_domain (lower case): _dmarc.<from_domain>, and when it
 * has none _dmarc.<organisational domain>. Several DMARC records at one name, or one
 * that does not parse, count as none there (6.6.3). */
void dmarc_discover(const char *from_domain, dmarc_lookup_fn lookup, void *arg, dmarc_found *out);

/* ---- evaluation (6.6.2, 6.6.4) ---- */

/* Authentication results as RFC 8601 names them. */
typedef enum {
    DMARC_AUTH_NONE,
    DMARC_AUTH_PASS,
    DMARC_AUTH_FAIL,
    DMARC_AUTH_SOFTFAIL,
    DMARC_AUTH_NEUTRAL,
    DMARC_AUTH_POLICY,
    DMARC_AUTH_TEMPERROR,
    DMARC_AUTH_PERMERROR,
} dmarc_auth;

const char *dmarc_auth_name(dmarc_auth a);
/* The reverse ("pass" -> DMARC_AUTH_PASS; unknown -> NONE). */
dmarc_auth dmarc_auth_parse(const char *s);

typedef struct {
    const char *domain; /* d=, lower case */
    const char *selector; /* s=, may be NULL */
    dmarc_auth result;
} dmarc_dkim;

typedef struct {
    const char *from_domain; /* dmarc_from_domain's */
    /* The domain SPF checked (MAIL FROM's, or HELO's for the null sender) and its
     * result; NULL or "" when SPF did not run. */
    const char *spf_domain;
    dmarc_auth spf;
    bool spf_helo; /* spf_domain is the HELO identity */
    const dmarc_dkim *dkim; /* one per signature; the first DMARC_DKIM_MAX count */
    size_t ndkim;
    const char *job_id; /* pct sampling is a hash of it: the same job, the same draw */
} dmarc_input;

typedef enum {
    DMARC_RES_NONE, /* no policy published, or not usable */
    DMARC_RES_PASS,
    DMARC_RES_FAIL,
    DMARC_RES_TEMPERROR, /* the policy lookup, or an aligned identifier, failed for now */
    DMARC_RES_PERMERROR, /* no single From domain */
} dmarc_res;

typedef struct {
    dmarc_res result;
    bool spf_aligned, dkim_aligned; /* an aligned identifier passed */
    char dkim_domain[DMARC_NAME_MAX]; /* the aligned passing d= ("" none) */
    bool used_sp; /* the From domain is below the policy domain: sp= applied */
    dmarc_policy requested; /* p= or sp= as published */
    unsigned sample; /* 0..99; the policy applies when sample < pct */
    bool sampled_out; /* failed, but not selected by pct: the next milder policy */
    dmarc_policy disposition; /* what the policy asks for this message */
    char reason[200]; /* for the detail: why this result */
} dmarc_outcome;

/* The evaluation of one message with the discovered policy. */
void dmarc_evaluate(const dmarc_input *in, const dmarc_found *f, dmarc_outcome *out);
/* 0..99 from the job id (FNV-1a), the pct draw. */
unsigned dmarc_sample(const char *job_id);
/* "none", "pass", "fail", "temperror", "permerror". */
const char *dmarc_res_name(dmarc_res r);

#endif
