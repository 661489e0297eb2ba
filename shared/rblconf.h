/* rblconf.h - DNS block lists as the cluster configuration describes them.
 *
 * A list is the family of cluster keys rbl.list.<name>.<attribute>: zone, type, on,
 * codes and symbol. Each value is checked on its own when it is set (params_check, on
 * the master and in bulwarkctl), with the reason in words; rblconf_lists() builds the
 * lists of a whole configuration (the node, for each generation) and refuses an
 * incomplete one. Master and node share it: no DNS here, only text and the IPv4
 * return codes a list answers with. */
#ifndef BW_RBLCONF_H
#define BW_RBLCONF_H

#include "params.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RBLCONF_NAME_MAX 32 /* list name: a-z 0-9 _ - */
#define RBLCONF_SYMBOL_MAX 64
#define RBLCONF_ZONE_MAX 188 /* an IPv6 address's 64 nibble characters + zone <= 253 */
#define RBLCONF_CODES_MAX 32 /* entries in one list's codes */
#define RBLCONF_LISTS_MAX 32
#define RBLCONF_WEIGHT_MAX 1000.0

typedef enum {
    RBLCONF_IP, /* asked with reversed addresses: 4.3.2.1.zone, IPv6 nibbles */
    RBLCONF_DOMAIN, /* asked with names: example.com.zone */
    RBLCONF_URI, /* a domain list for the hosts of URLs (only its default `on` differs) */
} rblconf_type;

/* What a list is asked about (`on`). */
enum {
    RBLCONF_ON_CLIENT = 1u << 0, /* the connecting client's address (ip) */
    RBLCONF_ON_RECEIVED = 1u << 1, /* addresses of Received hops below the client (ip) */
    RBLCONF_ON_HELO = 1u << 2, /* the HELO name (domain) */
    RBLCONF_ON_RDNS = 1u << 3, /* the client's reverse DNS (PTR) name (domain) */
    RBLCONF_ON_ENVFROM = 1u << 4, /* the MAIL FROM domain (domain) */
    RBLCONF_ON_FROM = 1u << 5, /* the From header's domain (domain) */
    RBLCONF_ON_REPLYTO = 1u << 6, /* the Reply-To header's domain (domain) */
    RBLCONF_ON_URL = 1u << 7, /* the hosts of URLs in the message (domain) */
};
#define RBLCONF_ON_IP_SOURCES (RBLCONF_ON_CLIENT | RBLCONF_ON_RECEIVED)
#define RBLCONF_ON_DOMAIN_SOURCES                                                                  \
    (RBLCONF_ON_HELO | RBLCONF_ON_RDNS | RBLCONF_ON_ENVFROM | RBLCONF_ON_FROM |                    \
     RBLCONF_ON_REPLYTO | RBLCONF_ON_URL)

/* One entry of `codes`: which answers it matches and what they mean. */
typedef struct {
    uint32_t lo, hi; /* host byte order; an exact code has lo == hi; CIDR and ranges */
    uint8_t mask; /* nonzero: "&MASK", an answer in 127.0.0.0/24 whose last byte has one
                     of these bits */
    bool error; /* ":ERROR": the list's way of saying it failed, not a listing */
    char symbol[RBLCONF_SYMBOL_MAX + 1]; /* "" for an error entry */
    double weight;
} rblconf_code;

typedef struct {
    char name[RBLCONF_NAME_MAX + 1];
    char zone[RBLCONF_ZONE_MAX + 1]; /* lower case, no trailing dot */
    rblconf_type type;
    unsigned on; /* RBLCONF_ON_* */
    rblconf_code codes[RBLCONF_CODES_MAX];
    size_t ncodes;
    /* For any other listing answer (127.0.0.0/8) than the codes name. */
    char symbol[RBLCONF_SYMBOL_MAX + 1];
    double weight;
} rblconf_list;

/* Splits "rbl.list.<name>.<attribute>": the name is written into name (may be NULL)
 * and the attribute returned (a pointer into key). NULL when the key is not of that
 * shape or the attribute is not one of zone, type, on, codes, symbol. */
const char *rblconf_key(const char *key, char *name, size_t namelen);
/* Checks one rbl.list.* key and its value; false with a sentence in err (a key that
 * is not an rbl.list key at all is refused too). */
bool rblconf_check(const char *key, const char *value, char *err, size_t errlen);

/* The value parsers (err gets the reason; nothing is written on failure). */
bool rblconf_parse_zone(const char *value, char *zone, size_t zonelen, char *err, size_t errlen);
bool rblconf_parse_type(const char *value, rblconf_type *type, char *err, size_t errlen);
bool rblconf_parse_on(const char *value, unsigned *on, char *err, size_t errlen);
/* "SYMBOL[:WEIGHT]"; a missing weight is 1. */
bool rblconf_parse_symbol(const char *value, char *symbol, size_t symlen, double *weight, char *err,
                          size_t errlen);
/* "MATCH:SYMBOL[:WEIGHT], ..." where MATCH is an address (127.0.0.2), a range
 * (127.0.0.10-127.0.0.11), a CIDR network (127.0.1.0/24) or a bit mask of the last
 * byte (&4, &0x04), all in 127.0.0.0/8; ":ERROR" instead of a symbol marks the list's
 * error codes. A symbol given twice must have one weight (a missing one is 1, or the
 * weight given elsewhere). Empty: no codes. */
bool rblconf_parse_codes(const char *value, rblconf_code *codes, size_t max, size_t *n, char *err,
                         size_t errlen);
/* "ip", "domain", "uri". */
const char *rblconf_type_name(rblconf_type t);
/* One source's name ("client", "helo"...), for details. */
const char *rblconf_source_name(unsigned on_bit);
/* The default symbol of a list: RBL_ and the name in upper case, '-' as '_'. */
void rblconf_default_symbol(const char *name, char *out, size_t outlen);

/* Every list of a cluster configuration, sorted by name, into *lists (owned by the
 * caller, free()). False with the reason when a list has no zone, more than
 * RBLCONF_LISTS_MAX lists are configured, or a list's `on` names a source its type
 * cannot look up. Values were checked when they were set. */
bool rblconf_lists(const params *cfg, rblconf_list **lists, size_t *n, char *err, size_t errlen);

/* What one answer address (host byte order) means for a list. */
typedef enum {
    RBLCONF_LISTED, /* a listing: the codes it matched are in hits (none: the list's
                       default symbol) */
    RBLCONF_ERROR, /* the list refused or failed: 127.255.255.0/24, or an ERROR code */
    RBLCONF_FOREIGN, /* not in 127.0.0.0/8: no block list answer at all (a wildcard, a
                        resolver that rewrites NXDOMAIN) */
} rblconf_verdict;
/* hits must have room for RBLCONF_CODES_MAX entries. */
rblconf_verdict rblconf_match(const rblconf_list *l, uint32_t addr, const rblconf_code **hits,
                              size_t *nhits);

#endif
