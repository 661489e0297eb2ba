/* dns.c - the node's resolver on libunbound: one cache for the process, bounded waits.
 *
 * One ub_ctx per resolver in threaded async mode: libunbound's own background thread
 * resolves (and owns the cache every worker shares); a dispatcher thread of ours
 * waits on ub_fd() and calls ub_process(), whose callbacks hand each result to its
 * request under the resolver's mutex and wake the waiters (one condition variable).
 * A waiter gives up at the per-query timeout or the batch deadline and ub_cancel()s;
 * a request whose callback may still come is marked abandoned and freed by it.
 * Results are decoded in the waiting thread into the batch's arena (rdata bytes are
 * untrusted: every length is checked). Owns: the ub_ctx, the dispatcher thread, its
 * wake-up pipe and every request not yet answered or cancelled. */
#include "dns.h"
#include "arena.h"
#include "dict.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>
#include <unistd.h>

#define DNS_DEFAULT_TIMEOUT_MS 2000
#define DNS_DEFAULT_CACHE (64u << 20)
#define DNS_ROOT_KEY "/usr/share/dns/root.key"
#define DNS_MAX_TEXT 1280 /* a 255-byte wire name with every byte escaped as \DDD */

/* One libunbound query. Fields below `lock` are guarded by the resolver's mutex. */
typedef struct dns_req dns_req;
struct dns_req {
    dns_resolver *r;
    int async_id;
    /* -- guarded by r->lock -- */
    bool done, abandoned;
    int err;
    struct ub_result *res;
    dns_req *prev, *next; /* r->reqs: every request the callback may still reach */
};

struct dns_resolver {
    struct ub_ctx *ctx;
    unsigned timeout_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* broadcast on every answer */
    dns_req *reqs;
    bool started, broken;
    pthread_t dispatcher;
    int wake[2];
};

struct dns_query {
    dns_batch *b;
    uint16_t type;
    const char *name; /* normalised, in the batch arena */
    uint64_t until_us; /* mono_us when the per-query timeout ends */
    dns_req *req; /* NULL once answered */
    dns_answer answer;
};

struct dns_batch {
    dns_resolver *r;
    uint64_t deadline_ms;
    arena *a;
    dict *byname; /* "type/name" -> dns_query */
    dns_query **q;
    size_t n, cap;
    size_t timeouts;
};

static dns_resolver *g_process;

/* ---- names --------------------------------------------------------------------------- */

bool dns_name_normalize(const char *name, char *out, size_t outlen)
{
    size_t len = name ? strlen(name) : 0;
    if (len && name[len - 1] == '.')
        len--;
    if (len == 0 || len > 253 || len >= outlen)
        return false;
    size_t label = 0, o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            return false;
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (++label > 63) {
            return false;
        }
        /* A space is a label byte like any other (RFC 2181 11; SPF's %_ macro makes
         * one): libunbound reads names in presentation form, where it is \032. */
        if (c == ' ') {
            if (o + 4 >= outlen)
                return false;
            memcpy(out + o, "\\032", 4);
            o += 4;
        } else {
            if (o + 1 >= outlen)
                return false;
            out[o++] = (char)tolower(c);
        }
    }
    if (label == 0) /* "a.." */
        return false;
    out[o] = '\0';
    return true;
}

/* Appends byte c of a label in presentation form. */
static size_t put_label_byte(char *out, size_t o, unsigned char c)
{
    if (c == '.' || c == '\\') {
        out[o++] = '\\';
        out[o++] = (char)c;
    } else if (c <= 0x20 || c >= 0x7f) {
        o += (size_t)snprintf(out + o, 5, "\\%03u", c);
    } else {
        out[o++] = (char)tolower(c);
    }
    return o;
}

/* Decodes the uncompressed wire name at p[0..len) into out (DNS_MAX_TEXT bytes):
 * presentation form, lower case, no trailing dot ("" for the root). *used gets the
 * bytes it took. False when it runs past len, is over 255 bytes, or has a label type
 * other than a plain length (compression pointers cannot be followed without the
 * packet around them). */
static bool name_text(const uint8_t *p, size_t len, size_t *used, char *out)
{
    size_t i = 0, o = 0;
    for (;;) {
        if (i >= len)
            return false;
        unsigned l = p[i];
        if (l == 0)
            break;
        if (l & 0xc0 || i + 1 + l > len || i + 1 + l + 1 > 255)
            return false;
        if (o)
            out[o++] = '.';
        for (unsigned k = 0; k < l; k++)
            o = put_label_byte(out, o, p[i + 1 + k]);
        i += 1 + l;
    }
    out[o] = '\0';
    *used = i + 1;
    return true;
}

static bool parse_name_rdata(const uint8_t *p, size_t len, arena *a, char **dst)
{
    char text[DNS_MAX_TEXT];
    size_t used;
    if (!name_text(p, len, &used, text) || used != len)
        return false;
    *dst = arena_strdup(a, text);
    return true;
}

bool dns_rdata_parse(uint16_t type, const uint8_t *p, size_t len, arena *a, dns_rr *rr)
{
    memset(&rr->u, 0, sizeof rr->u);
    rr->type = type;
    switch (type) {
    case DNS_T_A:
        if (len != 4)
            return false;
        memcpy(rr->u.a, p, 4);
        return true;
    case DNS_T_AAAA:
        if (len != 16)
            return false;
        memcpy(rr->u.aaaa, p, 16);
        return true;
    case DNS_T_MX:
        if (len < 3)
            return false;
        rr->u.mx.pref = (uint16_t)(p[0] << 8 | p[1]);
        return parse_name_rdata(p + 2, len - 2, a, &rr->u.mx.host);
    case DNS_T_PTR:
    case DNS_T_NS:
    case DNS_T_CNAME: return parse_name_rdata(p, len, a, &rr->u.name);
    case DNS_T_TXT: {
        /* <length><bytes>... concatenated; no string may run past the rdata. */
        size_t i = 0, n = 0, total = 0;
        while (i < len) {
            size_t l = p[i];
            if (i + 1 + l > len)
                return false;
            total += l;
            i += 1 + l;
            n++;
        }
        char *d = arena_alloc(a, total + 1);
        size_t o = 0;
        for (i = 0; i < len; i += 1 + (size_t)p[i]) {
            memcpy(d + o, p + i + 1, p[i]);
            o += p[i];
        }
        d[o] = '\0';
        rr->u.txt.data = d;
        rr->u.txt.len = total;
        rr->u.txt.nstrings = n;
        return true;
    }
    default:
        rr->u.raw.data = arena_alloc(a, len ? len : 1);
        if (len)
            memcpy(rr->u.raw.data, p, len);
        rr->u.raw.len = len;
        return true;
    }
}

bool dns_reverse_name(const char *ip, const char *zone, char *out, size_t outlen)
{
    unsigned char b[16];
    char z[256];
    if (!ip || !outlen)
        return false;
    if (zone && *zone) {
        if (!dns_name_normalize(zone, z, sizeof z))
            return false;
    } else {
        z[0] = '\0';
    }
    int n;
    if (inet_pton(AF_INET, ip, b) == 1) {
        n = snprintf(out, outlen, "%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0],
                     *z ? z : "in-addr.arpa");
    } else if (inet_pton(AF_INET6, ip, b) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(b, mapped, 12) == 0) /* ::ffff:a.b.c.d is the IPv4 sender */
            n = snprintf(out, outlen, "%u.%u.%u.%u.%s", b[15], b[14], b[13], b[12],
                         *z ? z : "in-addr.arpa");
        else {
            static const char hex[] = "0123456789abcdef";
            char nib[64];
            for (int i = 0; i < 16; i++) {
                nib[4 * i] = hex[b[15 - i] & 0xf];
                nib[4 * i + 1] = '.';
                nib[4 * i + 2] = hex[b[15 - i] >> 4];
                nib[4 * i + 3] = '.';
            }
            n = snprintf(out, outlen, "%.64s%s", nib, *z ? z : "ip6.arpa");
        }
    } else {
        return false;
    }
    return n > 0 && (size_t)n < outlen && strlen(out) <= 253;
}

const char *dns_status_name(dns_status s)
{
    switch (s) {
    case DNS_OK: return "ok";
    case DNS_NXDOMAIN: return "nxdomain";
    case DNS_NODATA: return "nodata";
    case DNS_SERVFAIL: return "servfail";
    case DNS_TIMEOUT: return "timeout";
    case DNS_BADNAME: return "badname";
    }
    return "unknown";
}

/* ---- the resolver ---------------------------------------------------------------------- */

void dns_opts_default(dns_opts *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = DNS_DEFAULT_TIMEOUT_MS;
    o->cache_bytes = DNS_DEFAULT_CACHE;
}

static void add_words(strlist *l, const char *list)
{
    char *copy = xstrdup(list ? list : "");
    char *save = NULL;
    for (char *f = strtok_r(copy, ", \t\r\n", &save); f; f = strtok_r(NULL, ", \t\r\n", &save))
        strlist_add(l, f);
    free(copy);
}

void dns_opts_add_forwarders(dns_opts *o, const char *list)
{
    add_words(&o->forwarders, list);
}

void dns_opts_add_stub_zones(dns_opts *o, const char *list)
{
    add_words(&o->stub_zones, list);
}

void dns_opts_clear(dns_opts *o)
{
    strlist_free(&o->forwarders);
    strlist_free(&o->stub_zones);
}

/* "HOST[:PORT]" / "[IPv6]:PORT" / a bare IPv6 address into libunbound's "ADDR@PORT". */
static bool forwarder_addr(const char *s, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port = NULL;
    unsigned char bin[16];
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (size_t)(close - s - 1) >= sizeof host)
            return false;
        snprintf(host, sizeof host, "%.*s", (int)(close - s - 1), s + 1);
        if (close[1] == ':')
            port = close + 2;
        else if (close[1])
            return false;
        if (inet_pton(AF_INET6, host, bin) != 1)
            return false;
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':')) { /* a bare IPv6 address, port 53 */
            if (strlen(s) >= sizeof host || inet_pton(AF_INET6, s, bin) != 1)
                return false;
            snprintf(host, sizeof host, "%s", s);
        } else {
            size_t hl = colon ? (size_t)(colon - s) : strlen(s);
            if (hl >= sizeof host)
                return false;
            snprintf(host, sizeof host, "%.*s", (int)hl, s);
            port = colon ? colon + 1 : NULL;
            if (inet_pton(AF_INET, host, bin) != 1)
                return false;
        }
    }
    long pn = 53;
    if (port) {
        char *end;
        pn = strtol(port, &end, 10);
        if (!*port || *end || pn < 1 || pn > 65535)
            return false;
    }
    snprintf(out, outlen, "%s@%ld", host, pn);
    return true;
}

/* The reverse zones unbound serves itself by default (RFC 1918, RFC 6303, the
 * documentation prefixes of RFC 5737 and RFC 3849). */
static const char *const local_reverse[] = {
    "10.in-addr.arpa.",
    "16.172.in-addr.arpa.",
    "17.172.in-addr.arpa.",
    "18.172.in-addr.arpa.",
    "19.172.in-addr.arpa.",
    "20.172.in-addr.arpa.",
    "21.172.in-addr.arpa.",
    "22.172.in-addr.arpa.",
    "23.172.in-addr.arpa.",
    "24.172.in-addr.arpa.",
    "25.172.in-addr.arpa.",
    "26.172.in-addr.arpa.",
    "27.172.in-addr.arpa.",
    "28.172.in-addr.arpa.",
    "29.172.in-addr.arpa.",
    "30.172.in-addr.arpa.",
    "31.172.in-addr.arpa.",
    "168.192.in-addr.arpa.",
    "0.in-addr.arpa.",
    "254.169.in-addr.arpa.",
    "2.0.192.in-addr.arpa.",
    "100.51.198.in-addr.arpa.",
    "113.0.203.in-addr.arpa.",
    "255.255.255.255.in-addr.arpa.",
    "d.f.ip6.arpa.",
    "8.e.f.ip6.arpa.",
    "9.e.f.ip6.arpa.",
    "a.e.f.ip6.arpa.",
    "b.e.f.ip6.arpa.",
    "8.b.d.0.1.0.0.2.ip6.arpa.",
    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
};

static bool set_option(dns_resolver *r, const char *opt, const char *val, char *err, size_t errlen)
{
    int rc = ub_ctx_set_option(r->ctx, opt, val);
    if (rc != 0) {
        snprintf(err, errlen, "resolver option %s %s: %s", opt, val, ub_strerror(rc));
        return false;
    }
    return true;
}

static bool remove_zone(dns_resolver *r, const char *zone, char *err, size_t errlen)
{
    int rc = ub_ctx_zone_remove(r->ctx, zone);
    if (rc != 0) {
        snprintf(err, errlen, "resolver local zone %s: %s", zone, ub_strerror(rc));
        return false;
    }
    return true;
}

/* One "ZONE=SERVER" of dns_opts.stub_zones: the server answers for the zone, asked
 * without recursion (stub-prime off: it is not asked for the zone's NS first). */
static bool add_stub(dns_resolver *r, const char *item, char *err, size_t errlen)
{
    const char *eq = strchr(item, '=');
    char zone[256], name[256], addr[INET6_ADDRSTRLEN + 16];
    if (!eq || (size_t)(eq - item) >= sizeof name) {
        snprintf(err, errlen, "bad DNS stub zone '%s': expected ZONE=HOST[:PORT]", item);
        return false;
    }
    snprintf(name, sizeof name, "%.*s", (int)(eq - item), item);
    if (!dns_name_normalize(name, zone, sizeof zone) || strstr(zone, "\\032")) {
        snprintf(err, errlen, "bad DNS stub zone '%s': '%s' is not a zone name", item, name);
        return false;
    }
    if (!forwarder_addr(eq + 1, addr, sizeof addr)) {
        snprintf(err, errlen,
                 "bad DNS stub zone '%s': expected IPv4[:PORT], [IPv6]:PORT or an IPv6 address "
                 "after '='",
                 item);
        return false;
    }
    int rc = ub_ctx_set_stub(r->ctx, zone, addr, 0);
    if (rc != 0) {
        snprintf(err, errlen, "bad DNS stub zone '%s': %s", item, ub_strerror(rc));
        return false;
    }
    return true;
}

/* A stub zone is never asked while a local zone of unbound's holds it or a zone
 * above it (the RFC 6303 reverse zones, RFC 6761's "test.", "invalid."...): those are
 * removed, the zone itself and each parent (removing a zone that is not there does
 * nothing). */
static bool unserve_stub(dns_resolver *r, const char *item, char *err, size_t errlen)
{
    char name[256], zone[256];
    const char *eq = strchr(item, '=');
    snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - item) : 0, item);
    if (!dns_name_normalize(name, zone, sizeof zone))
        return true; /* add_stub refused it already */
    for (const char *z = zone; z; z = strchr(z, '.') ? strchr(z, '.') + 1 : NULL) {
        char fq[260];
        snprintf(fq, sizeof fq, "%s.", z);
        if (!remove_zone(r, fq, err, errlen))
            return false;
    }
    return true;
}

dns_resolver *dns_new(const dns_opts *o, char *err, size_t errlen)
{
    dns_resolver *r = xcalloc(1, sizeof *r);
    r->timeout_ms = o->timeout_ms ? o->timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
    r->wake[0] = r->wake[1] = -1;
    r->ctx = ub_ctx_create();
    if (!r->ctx) {
        snprintf(err, errlen, "cannot create the libunbound context");
        free(r);
        return NULL;
    }
    char ms[32];
    /* Tests and local forwarders live on 127.0.0.1. unbound doubles its wait for a
     * server at each timeout and, past two minutes, stops asking it for every name:
     * names that never answer would end as SERVFAIL for all the others. Capped at
     * the query timeout, a silent server is asked again soon and never dropped. */
    snprintf(ms, sizeof ms, "%u", r->timeout_ms < 1000 ? 1000 : r->timeout_ms);
    /* libunbound's library defaults are for a desktop program: 1 MB caches, which a
     * node's stream of messages would empty before an answer is asked again (unbound's
     * advice: twice as much for records as for whole answers), and 16 UDP sockets,
     * which would queue a scan's lookups beyond 16 behind the first ones' round trips
     * (measured: 40 answers delayed 300 ms took 0.9 s, one round trip with 256). */
    size_t cache = o->cache_bytes ? o->cache_bytes : DNS_DEFAULT_CACHE;
    char msg_cache[32], rrset_cache[32];
    snprintf(msg_cache, sizeof msg_cache, "%zu", cache / 3);
    snprintf(rrset_cache, sizeof rrset_cache, "%zu", cache - cache / 3);
    bool ok = ub_ctx_async(r->ctx, 1) == 0 &&
              set_option(r, "do-not-query-localhost:", "no", err, errlen) &&
              set_option(r, "infra-keep-probing:", "yes", err, errlen) &&
              set_option(r, "infra-cache-max-rtt:", ms, err, errlen) &&
              set_option(r, "msg-cache-size:", msg_cache, err, errlen) &&
              set_option(r, "rrset-cache-size:", rrset_cache, err, errlen) &&
              set_option(r, "outgoing-range:", "256", err, errlen) &&
              set_option(r, "outgoing-num-tcp:", "16", err, errlen);
    for (size_t i = 0; ok && i < o->forwarders.n; i++) {
        char addr[INET6_ADDRSTRLEN + 16];
        if (!forwarder_addr(o->forwarders.v[i], addr, sizeof addr)) {
            snprintf(err, errlen,
                     "bad DNS forwarder '%s': expected IPv4[:PORT], [IPv6]:PORT or an IPv6 "
                     "address",
                     o->forwarders.v[i]);
            ok = false;
        } else if (ub_ctx_set_fwd(r->ctx, addr) != 0) {
            snprintf(err, errlen, "bad DNS forwarder '%s'", o->forwarders.v[i]);
            ok = false;
        }
    }
    for (size_t i = 0; ok && i < o->stub_zones.n; i++)
        ok = add_stub(r, o->stub_zones.v[i], err, errlen);
    if (ok && o->dnssec) {
        if (access(DNS_ROOT_KEY, R_OK) == 0) {
            int rc = ub_ctx_add_ta_file(r->ctx, DNS_ROOT_KEY);
            if (rc != 0) {
                snprintf(err, errlen, "trust anchor %s: %s", DNS_ROOT_KEY, ub_strerror(rc));
                ok = false;
            }
        } else {
            log_warn("event=dns_dnssec_off reason=\"no trust anchor at %s\"", DNS_ROOT_KEY);
        }
    }
    /* unbound answers the reverse zones of private, link-local and documentation
     * addresses itself (NXDOMAIN, RFC 6303); a forwarder (or a stub zone below one of
     * them) is the authority for what it serves (an organisation's own PTRs, a test
     * zone), so they go to it. Removing a zone fixes the configuration (libunbound
     * finalises it): this comes last. */
    for (size_t i = 0; ok && o->forwarders.n && i < sizeof local_reverse / sizeof *local_reverse;
         i++)
        ok = remove_zone(r, local_reverse[i], err, errlen);
    for (size_t i = 0; ok && o->forwarders.n && i < 64; i++) { /* RFC 6598 100.64/10 */
        char zone[64];
        snprintf(zone, sizeof zone, "%zu.100.in-addr.arpa.", 64 + i);
        ok = remove_zone(r, zone, err, errlen);
    }
    for (size_t i = 0; ok && i < o->stub_zones.n; i++)
        ok = unserve_stub(r, o->stub_zones.v[i], err, errlen);
    if (!ok) {
        ub_ctx_delete(r->ctx);
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    return r;
}

static void *dispatch_main(void *arg)
{
    dns_resolver *r = arg;
    struct pollfd p[2] = {{ub_fd(r->ctx), POLLIN, 0}, {r->wake[0], POLLIN, 0}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error("event=dns_dispatch_failed error=\"%s\"", strerror(errno));
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents) {
            int rc = ub_process(r->ctx);
            if (rc != 0) {
                /* libunbound's thread is gone: every wait now ends at its timeout. */
                log_error("event=dns_dispatch_failed error=\"%s\"", ub_strerror(rc));
                pthread_mutex_lock(&r->lock);
                r->broken = true;
                pthread_mutex_unlock(&r->lock);
                break;
            }
        }
    }
    return NULL;
}

/* The dispatcher starts with the first query, so that building a resolver to check a
 * configuration (bulwark-node -t) starts no thread. Caller holds r->lock. */
static bool start_dispatcher(dns_resolver *r)
{
    if (r->started)
        return true;
    if (pipe2(r->wake, O_CLOEXEC) != 0) {
        log_error("event=dns_start_failed error=\"%s\"", strerror(errno));
        return false;
    }
    if (pthread_create(&r->dispatcher, NULL, dispatch_main, r) != 0) {
        log_error("event=dns_start_failed error=\"cannot create a thread\"");
        close(r->wake[0]);
        close(r->wake[1]);
        r->wake[0] = r->wake[1] = -1;
        return false;
    }
    r->started = true;
    return true;
}

static void unlink_req(dns_resolver *r, dns_req *rq)
{
    if (rq->prev)
        rq->prev->next = rq->next;
    else
        r->reqs = rq->next;
    if (rq->next)
        rq->next->prev = rq->prev;
}

void dns_destroy(dns_resolver **rp)
{
    dns_resolver *r = *rp;
    if (!r)
        return;
    *rp = NULL;
    if (r->started) {
        ssize_t w;
        do
            w = write(r->wake[1], "x", 1);
        while (w < 0 && errno == EINTR);
        pthread_join(r->dispatcher, NULL);
        close(r->wake[0]);
        close(r->wake[1]);
    }
    /* No callback runs after this: what is left on the list was abandoned by a batch
     * (or belongs to one still alive, a caller's bug, said so). */
    ub_ctx_delete(r->ctx);
    size_t live = 0;
    while (r->reqs) {
        dns_req *rq = r->reqs;
        unlink_req(r, rq);
        live += !rq->abandoned;
        ub_resolve_free(rq->res);
        free(rq);
    }
    if (live)
        log_error("event=dns_destroy_with_batches pending=%zu", live);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void dns_process_set(dns_resolver *r)
{
    g_process = r;
}

dns_resolver *dns_process(void)
{
    return g_process;
}

/* libunbound's callback, in the dispatcher thread. */
static void on_result(void *arg, int err, struct ub_result *res)
{
    dns_req *rq = arg;
    dns_resolver *r = rq->r;
    pthread_mutex_lock(&r->lock);
    if (rq->abandoned) {
        unlink_req(r, rq);
        pthread_mutex_unlock(&r->lock);
        ub_resolve_free(res);
        free(rq);
        return;
    }
    rq->done = true;
    rq->err = err;
    rq->res = res;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* The batch no longer wants rq: frees it, or leaves that to the callback when it may
 * still come (libunbound has taken the answer but not yet called us). */
static void req_release(dns_req *rq)
{
    dns_resolver *r = rq->r;
    pthread_mutex_lock(&r->lock);
    bool done = rq->done;
    pthread_mutex_unlock(&r->lock);
    /* Success means the query was still in libunbound's table: its callback will
     * never run (the cancelled flag is read under the same lock that removes it). */
    bool cancelled = !done && ub_cancel(r->ctx, rq->async_id) == 0;
    pthread_mutex_lock(&r->lock);
    if (cancelled || rq->done) {
        unlink_req(r, rq);
        pthread_mutex_unlock(&r->lock);
        ub_resolve_free(rq->res);
        free(rq);
        return;
    }
    rq->abandoned = true;
    pthread_mutex_unlock(&r->lock);
}

/* ---- batches ----------------------------------------------------------------------------- */

dns_batch *dns_batch_new(dns_resolver *r, uint64_t deadline_ms)
{
    dns_batch *b = xcalloc(1, sizeof *b);
    b->r = r;
    b->deadline_ms = deadline_ms;
    b->a = arena_new(4096);
    b->byname = dict_new();
    return b;
}

void dns_batch_destroy(dns_batch **bp)
{
    dns_batch *b = *bp;
    if (!b)
        return;
    *bp = NULL;
    for (size_t i = 0; i < b->n; i++)
        if (b->q[i]->req)
            req_release(b->q[i]->req);
    dict_destroy(&b->byname, NULL);
    arena_destroy(&b->a);
    free(b->q);
    free(b);
}

size_t dns_batch_queries(const dns_batch *b)
{
    return b->n;
}

size_t dns_batch_timeouts(const dns_batch *b)
{
    return b->timeouts;
}

static void finish(dns_query *q, dns_status s)
{
    q->answer.status = s;
    if (s == DNS_TIMEOUT)
        q->b->timeouts++;
}

dns_query *dns_submit(dns_batch *b, const char *name, uint16_t type)
{
    char norm[256], key[300];
    bool valid = dns_name_normalize(name, norm, sizeof norm);
    if (!valid)
        snprintf(norm, sizeof norm, "%.200s", name ? name : "");
    snprintf(key, sizeof key, "%u/%s%s", type, valid ? "" : "!", norm);
    dns_query *q = dict_get(b->byname, key);
    if (q)
        return q;
    q = arena_alloc(b->a, sizeof *q);
    memset(q, 0, sizeof *q);
    q->b = b;
    q->type = type;
    q->name = arena_strdup(b->a, norm);
    dict_set(b->byname, key, q);
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->q = xrealloc(b->q, b->cap * sizeof *b->q);
    }
    b->q[b->n++] = q;
    if (!valid) {
        finish(q, DNS_BADNAME);
        return q;
    }
    if (!b->r) {
        finish(q, DNS_SERVFAIL);
        return q;
    }
    dns_resolver *r = b->r;
    q->until_us = mono_us() + (uint64_t)r->timeout_ms * 1000;
    dns_req *rq = xcalloc(1, sizeof *rq);
    rq->r = r;
    pthread_mutex_lock(&r->lock);
    bool started = start_dispatcher(r);
    if (started) { /* on the list before libunbound can call back */
        rq->next = r->reqs;
        if (r->reqs)
            r->reqs->prev = rq;
        r->reqs = rq;
    }
    pthread_mutex_unlock(&r->lock);
    int rc = started ? ub_resolve_async(r->ctx, q->name, type, 1, rq, on_result, &rq->async_id)
                     : UB_INITFAIL;
    if (rc != 0) {
        /* No callback will come for a query libunbound did not take. */
        log_warn("event=dns_submit_failed name=%s type=%u error=\"%s\"", q->name, type,
                 ub_strerror(rc));
        if (started) {
            pthread_mutex_lock(&r->lock);
            unlink_req(r, rq);
            pthread_mutex_unlock(&r->lock);
        }
        free(rq);
        finish(q, rc == UB_SYNTAX ? DNS_BADNAME : DNS_SERVFAIL);
        return q;
    }
    q->req = rq;
    return q;
}

/* Fills q->answer from libunbound's result. */
static void decode(dns_query *q, int err, const struct ub_result *res)
{
    dns_answer *a = &q->answer;
    if (err || !res) {
        log_debug("event=dns_error name=%s type=%u error=\"%s\"", q->name, q->type,
                  ub_strerror(err));
        finish(q, DNS_SERVFAIL);
        return;
    }
    uint32_t ttl = res->ttl > 0 ? (uint32_t)res->ttl : 0;
    if (res->bogus) {
        log_info("event=dns_bogus name=%s type=%u why=\"%s\"", q->name, q->type,
                 res->why_bogus ? res->why_bogus : "");
        finish(q, DNS_SERVFAIL);
        return;
    }
    if (res->rcode == 3 /* NXDOMAIN */) {
        a->ttl = ttl;
        finish(q, DNS_NXDOMAIN);
        return;
    }
    if (res->rcode != 0) {
        finish(q, DNS_SERVFAIL);
        return;
    }
    size_t n = 0, bad = 0;
    while (res->data && res->data[n])
        n++;
    a->rr = arena_alloc(q->b->a, (n ? n : 1) * sizeof *a->rr);
    for (size_t i = 0; i < n; i++) {
        dns_rr *rr = &a->rr[a->n];
        if (res->len[i] < 0 || !dns_rdata_parse(q->type, (const uint8_t *)res->data[i],
                                                (size_t)res->len[i], q->b->a, rr)) {
            bad++;
            continue;
        }
        rr->ttl = ttl;
        a->n++;
    }
    if (bad)
        log_info("event=dns_bad_rdata name=%s type=%u dropped=%zu kept=%zu", q->name, q->type, bad,
                 a->n);
    a->ttl = ttl;
    /* Records that were there but none readable: not "no such data", a failure. */
    finish(q, a->n ? DNS_OK : bad ? DNS_SERVFAIL : DNS_NODATA);
}

const dns_answer *dns_wait(dns_query *q)
{
    dns_req *rq = q->req;
    if (!rq)
        return &q->answer;
    dns_batch *b = q->b;
    dns_resolver *r = b->r;
    pthread_mutex_lock(&r->lock);
    while (!rq->done && !r->broken) {
        uint64_t now = mono_us(), until = q->until_us;
        if (b->deadline_ms) {
            uint64_t wall = now_ms();
            uint64_t left = b->deadline_ms > wall ? (b->deadline_ms - wall) * 1000 : 0;
            if (now + left < until)
                until = now + left;
        }
        if (now >= until)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (until - now) * 1000;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&r->cond, &r->lock, &ts);
    }
    bool done = rq->done;
    int err = rq->err;
    struct ub_result *res = rq->res;
    if (done) {
        rq->res = NULL;
        unlink_req(r, rq);
    }
    pthread_mutex_unlock(&r->lock);
    q->req = NULL;
    if (done) {
        decode(q, err, res);
        ub_resolve_free(res);
        free(rq);
    } else {
        log_debug("event=dns_timeout name=%s type=%u", q->name, q->type);
        req_release(rq);
        finish(q, DNS_TIMEOUT);
    }
    return &q->answer;
}

const dns_answer *dns_lookup(dns_batch *b, const char *name, uint16_t type)
{
    return dns_wait(dns_submit(b, name, type));
}
