/* rbl.h - DNS block lists: the names they are asked, and their answers shared in Redis.
 *
 * The lists themselves are configuration (shared/rblconf.h: zone, type, sources, return
 * codes). This module turns what a message offers into the names a list is asked
 * (reversed addresses, normalised domains, a URL host's registrable domain), reads the
 * connecting address of a Received field, and keeps list answers in the cluster's
 * Redis (bw:rbl:<query name>, with an expiry) so that one node's lookup serves every
 * node: one MGET before a message's lookups, one pipelined batch of SETEX after. Pure
 * functions except the two cache calls; the check (node/checks/rbl.c) combines them. */
#ifndef BW_RBL_H
#define BW_RBL_H

#include "dns.h"
#include "spf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RBL_NAME_MAX 256 /* a query name: 253 characters and the NUL */
#define RBL_ADDRS_MAX 8 /* A records kept from one answer */

/* Something a list is asked about: a domain, or an address (IPv4 dotted quad or IPv6
 * text as inet_ntop writes it). */
typedef struct {
    char text[RBL_NAME_MAX];
    bool ip;
} rbl_subject;

/* A domain as lists want it: lower case, no trailing dot, an internationalised name as
 * its A-labels (xn--...). False when it cannot be a host name: empty, an empty or
 * overlong label, a byte other than letters, digits, '-' and '_', or an address. */
bool rbl_domain(const char *in, char *out, size_t outlen);
/* An address in canonical text (IPv4 dotted quad; IPv6 compressed, an IPv4-mapped one
 * as its IPv4), from any form a URL or header writes it in: "[2001:db8::1]",
 * "IPv6:...", browsers' decimal/hex/octal IPv4 ("0x7f.1", "3232235777"). False for
 * anything else. */
bool rbl_address(const char *in, char *out, size_t outlen);
/* The subjects of a URL host: an address literal is one address; a name gives its
 * registrable domain (libpsl) and, when it differs, the host itself. Returns how many
 * (0 when the host is unusable). */
size_t rbl_host_subjects(const char *host, rbl_subject out[2]);
/* The name a list in zone is asked for a subject: "4.3.2.1.zone" or IPv6 nibbles for an
 * address, "example.com.zone" for a domain. False when it would be over 253
 * characters or is not a name. */
bool rbl_query_name(const rbl_subject *s, const char *zone, char *out, size_t outlen);
/* The connecting address in the "from" clause of a Received field's value (unfolded):
 * the one the receiving MTA wrote in a comment ("(host [192.0.2.1])", Exim's
 * "([192.0.2.1] helo=...)", "(IPv6:2001:db8::1)"), else a bracketed one anywhere in
 * the clause. Canonical text (rbl_address). False when there is none. */
bool rbl_received_ip(const char *value, char *ip, size_t iplen);

/* A list's answer for one query name. */
typedef enum {
    RBL_UNKNOWN = 0, /* not answered yet (not in the cache) */
    RBL_NOT_LISTED, /* NXDOMAIN or NODATA */
    RBL_LISTED, /* A records, in addr[] (host byte order) */
    RBL_TEMPFAIL, /* a DNS timeout or server failure: never cached */
} rbl_state;

typedef struct {
    rbl_state state;
    size_t n;
    uint32_t addr[RBL_ADDRS_MAX];
    bool cached; /* came from Redis */
} rbl_answer;

/* What a DNS answer for a list query says (a bad name counts as not listed). */
void rbl_answer_from_dns(const dns_answer *d, rbl_answer *out);
/* The cache value of an answer: "-" (not listed) or addresses joined by ','; "" for
 * one that is not cached (unknown, tempfail). */
void rbl_cache_encode(const rbl_answer *a, char *out, size_t outlen);
/* False (out unknown) for a value that is not one rbl_cache_encode writes. */
bool rbl_cache_decode(const char *value, size_t len, rbl_answer *out);

/* One MGET of bw:rbl:<name> for each name (this thread's Redis connection, redisx.h):
 * answers found are filled in (cached set), others left RBL_UNKNOWN. False with the
 * reason when Redis is not configured or failed (then nothing is filled in). */
bool rbl_cache_get(const char *const *names, size_t n, rbl_answer *out, char *err, size_t errlen);
/* SETEX for every answer that is listed or not listed and did not come from the cache,
 * all sent before the replies are read. False with the reason on failure. */
bool rbl_cache_put(const char *const *names, const rbl_answer *a, size_t n, unsigned ttl_s,
                   char *err, size_t errlen);

#endif
