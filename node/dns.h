/* dns.h - the node's resolver: asynchronous, caching, bounded in time.
 *
 * One resolver per process (libunbound underneath: its cache honours TTLs and caches
 * negative answers), shared by every worker thread. A scan task owns one batch: the
 * checks submit the lookups they will need when the task starts (dns_submit), and
 * collect them when they run (dns_wait), so the lookups of one message are in flight
 * together. Lookups that depend on an earlier answer (SPF includes, DMARC after the
 * From domain) use dns_lookup, which is submit + wait. No call waits longer than the
 * per-query timeout or the batch deadline: a server that never answers becomes
 * DNS_TIMEOUT, which checks report as their TEMPERROR symbol, never a stuck worker. */
#ifndef BW_DNS_H
#define BW_DNS_H

#include "arena.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RR types, numbered as on the wire. */
enum {
    DNS_T_A = 1,
    DNS_T_NS = 2,
    DNS_T_CNAME = 5,
    DNS_T_PTR = 12,
    DNS_T_MX = 15,
    DNS_T_TXT = 16,
    DNS_T_AAAA = 28,
};

typedef enum {
    DNS_OK = 0, /* at least one record of the type (after CNAMEs) */
    DNS_NXDOMAIN, /* the name does not exist */
    DNS_NODATA, /* the name exists, no record of the type */
    DNS_SERVFAIL, /* the servers failed or refused: a temporary error */
    DNS_TIMEOUT, /* no answer within the query timeout or the batch deadline */
    DNS_BADNAME, /* not a name that can be asked (too long, empty label...) */
} dns_status;

typedef struct {
    uint16_t type;
    uint32_t ttl;
    union {
        uint8_t a[4]; /* DNS_T_A, network order */
        uint8_t aaaa[16]; /* DNS_T_AAAA */
        struct {
            uint16_t pref;
            char *host; /* lower case, no trailing dot; "" for a null MX (RFC 7505) */
        } mx;
        char *name; /* DNS_T_PTR, NS, CNAME: lower case, no trailing dot */
        struct {
            char *data; /* the record's strings concatenated, NUL-terminated */
            size_t len; /* may hold NUL bytes */
            size_t nstrings;
        } txt;
        struct {
            uint8_t *data; /* any other type: the rdata as received */
            size_t len;
        } raw;
    } u;
} dns_rr;

typedef struct {
    dns_status status;
    uint32_t ttl; /* smallest TTL of the answer (the negative TTL for NX/NODATA) */
    size_t n;
    dns_rr *rr; /* only records of the asked type, in answer order */
} dns_answer;

typedef struct dns_resolver dns_resolver;
typedef struct dns_batch dns_batch;
typedef struct dns_query dns_query;

typedef struct {
    /* "HOST[:PORT]" or "[IPv6]:PORT" upstream servers; empty: full recursion. */
    strlist forwarders;
    unsigned timeout_ms; /* per query; default 2,000 */
    bool dnssec; /* validate when a trust anchor is available; default false */
    size_t cache_bytes; /* answers and records kept; default 64 MiB */
    /* "ZONE=HOST[:PORT]" (or "ZONE=[IPv6]:PORT"): names in ZONE are asked of that
     * server instead, without recursion (a stub zone: the server must be authoritative
     * for ZONE, e.g. an rbldnsd serving a block list); a zone may be given several
     * times for several servers. */
    strlist stub_zones;
} dns_opts;

void dns_opts_default(dns_opts *o);
/* Appends the forwarders of a list separated by commas or white space (the node's
 * dns_forwarders, bulwarkctl's --dns); dns_new says which one is not an address. */
void dns_opts_add_forwarders(dns_opts *o, const char *list);
/* Appends the stub zones of a list separated by commas or white space (the node's
 * dns_stub_zones, bulwarkctl's --dns-stub); dns_new says which one does not parse. */
void dns_opts_add_stub_zones(dns_opts *o, const char *list);
/* Frees the lists dns_opts_add_* filled. */
void dns_opts_clear(dns_opts *o);
/* NULL with a reason when the options cannot work (bad forwarder address...). */
dns_resolver *dns_new(const dns_opts *o, char *err, size_t errlen);
void dns_destroy(dns_resolver **r);

/* The process's resolver (bulwark-node's dns_* parameters, `--dns HOST:PORT`); NULL
 * when none is configured. Set once before the worker threads start. */
void dns_process_set(dns_resolver *r);
dns_resolver *dns_process(void);

/* A batch bounds every wait of one scan by an absolute deadline (epoch ms; 0: only
 * the per-query timeout). Thread-confined: one task, one thread. */
dns_batch *dns_batch_new(dns_resolver *r, uint64_t deadline_ms);
/* Frees the batch and every answer it handed out; unanswered queries are cancelled. */
void dns_batch_destroy(dns_batch **b);
/* Starts a lookup; the same (name, type) twice in a batch is one query. The name may
 * end with a dot; it is compared without case. Never NULL. */
dns_query *dns_submit(dns_batch *b, const char *name, uint16_t type);
/* Waits for the answer (owned by the batch). */
const dns_answer *dns_wait(dns_query *q);
/* dns_submit + dns_wait. */
const dns_answer *dns_lookup(dns_batch *b, const char *name, uint16_t type);
/* Lookups this batch sent (cache hits included) and how many timed out, for details
 * and limits. */
size_t dns_batch_queries(const dns_batch *b);
size_t dns_batch_timeouts(const dns_batch *b);

/* "nxdomain", "servfail"... for details and logs. */
const char *dns_status_name(dns_status s);
/* The reverse name of an IPv4 or IPv6 address ("4.3.2.1.in-addr.arpa", nibbles for
 * IPv6), optionally with a zone instead of in-addr.arpa/ip6.arpa (DNS block lists).
 * False for a string that is not an address. */
bool dns_reverse_name(const char *ip, const char *zone, char *out, size_t outlen);

/* The form a name is asked and compared in: ASCII lower case, no trailing dot. False
 * (DNS_BADNAME) for a name that cannot be asked: empty, a label empty or over 63
 * bytes, over 253 characters, or holding a control byte or a backslash. A space is
 * kept, written \032 as in a zone file (the form libunbound reads). */
bool dns_name_normalize(const char *name, char *out, size_t outlen);
/* Decodes one record's rdata as a reply carries it (names uncompressed, as libunbound
 * hands them over) into rr->u, strings allocated in a. False for rdata that does not
 * have the type's shape (cut, overlong, a compression pointer, bytes left over): the
 * record is dropped. Names come out lower case without the trailing dot, bytes that
 * are not printable ASCII (and a dot inside a label) escaped as \DDD / \. . */
bool dns_rdata_parse(uint16_t type, const uint8_t *p, size_t len, arena *a, dns_rr *rr);

#endif
