/* fuzz_rbl.c - the block list parsers: rbl.list.* values (shared/rblconf.h) and what
 * messages and caches hand the check (node/rbl.h).
 *
 * One input is read as a codes list (then matched against addresses from the input),
 * every attribute's value, a key, a Received field, a domain, an address, a URL host
 * and a cache value. Invariants: a refusal leaves a reason and writes nothing; codes
 * are intervals or masks in 127/8 with valid symbols, one weight each; no listing
 * outside 127/8 or in 127.255.255/24; names are at most 253 characters of [a-z0-9-_]
 * labels, none empty; cache values round-trip. Under ASan/UBSan: no leak, no UB. */
#include "fuzz.h"
#include "log.h"
#include "rbl.h"
#include "rblconf.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_rbl");
    log_set_level(LOG_ERROR);
    return 0;
}

static bool symbol_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > RBLCONF_SYMBOL_MAX || !isupper((unsigned char)s[0]))
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n && strcmp(s, "ERROR") != 0;
}

/* A query name: at most 253 characters, labels of [a-z0-9_-], none empty. */
static void check_name(const char *q)
{
    size_t n = strlen(q);
    FUZZ_ASSERT(n > 0 && n <= 253);
    FUZZ_ASSERT(strspn(q, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == n);
    FUZZ_ASSERT(q[0] != '.' && q[n - 1] != '.' && !strstr(q, ".."));
}

static void check_codes(const char *v, const uint8_t *data, size_t size)
{
    rblconf_list l = {.name = "f", .zone = "f.example", .symbol = "RBL_F", .weight = 1};
    char err[512] = "";
    l.ncodes = 999;
    if (!rblconf_parse_codes(v, l.codes, RBLCONF_CODES_MAX, &l.ncodes, err, sizeof err)) {
        FUZZ_ASSERT(err[0] != '\0');
        FUZZ_ASSERT(l.ncodes == 999);
        return;
    }
    FUZZ_ASSERT(l.ncodes <= RBLCONF_CODES_MAX);
    for (size_t i = 0; i < l.ncodes; i++) {
        const rblconf_code *c = &l.codes[i];
        FUZZ_ASSERT(c->lo <= c->hi && c->lo >> 24 == 127 && c->hi >> 24 == 127);
        FUZZ_ASSERT(c->error ? !c->symbol[0] : symbol_ok(c->symbol));
        FUZZ_ASSERT(isfinite(c->weight) && fabs(c->weight) <= RBLCONF_WEIGHT_MAX);
        for (size_t j = 0; j < l.ncodes; j++)
            if (!c->error && !l.codes[j].error && strcmp(c->symbol, l.codes[j].symbol) == 0)
                FUZZ_ASSERT(c->weight == l.codes[j].weight);
    }
    /* Answers from the input's bytes, plus the corners. */
    uint32_t probe[8] = {0x7f000002u, 0x7f000001u, 0x7fffffffu, 0x7f0000ffu, 0xc0000201u, 0, 0, 0};
    for (size_t i = 0; i + 4 <= size && i < 12; i += 4)
        probe[5 + i / 4] = (uint32_t)data[i] << 24 | (uint32_t)data[i + 1] << 16 |
                           (uint32_t)data[i + 2] << 8 | data[i + 3];
    for (size_t i = 0; i < 8; i++) {
        const rblconf_code *hits[RBLCONF_CODES_MAX];
        size_t n = 77;
        rblconf_verdict verdict = rblconf_match(&l, probe[i], hits, &n);
        FUZZ_ASSERT(n <= l.ncodes);
        if (probe[i] >> 24 != 127)
            FUZZ_ASSERT(verdict == RBLCONF_FOREIGN);
        if ((probe[i] & 0xffffff00u) == 0x7fffff00u)
            FUZZ_ASSERT(verdict == RBLCONF_ERROR);
        for (size_t k = 0; verdict == RBLCONF_LISTED && k < n; k++) {
            FUZZ_ASSERT(!hits[k]->error && symbol_ok(hits[k]->symbol));
            for (size_t j = 0; j < k; j++) /* one hit per symbol */
                FUZZ_ASSERT(strcmp(hits[j]->symbol, hits[k]->symbol) != 0);
        }
    }
}

static void check_values(const char *v)
{
    static const char *const keys[] = {"rbl.list.f.zone", "rbl.list.f.type", "rbl.list.f.on",
                                       "rbl.list.f.codes", "rbl.list.f.symbol"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char err[512] = "";
        if (!rblconf_check(keys[i], v, err, sizeof err))
            FUZZ_ASSERT(err[0] != '\0');
    }
    char zone[RBLCONF_ZONE_MAX + 1], err[512];
    if (rblconf_parse_zone(v, zone, sizeof zone, err, sizeof err)) {
        check_name(zone);
        FUZZ_ASSERT(strlen(zone) <= RBLCONF_ZONE_MAX && strchr(zone, '.'));
    }
    unsigned on = 0;
    if (rblconf_parse_on(v, &on, err, sizeof err))
        FUZZ_ASSERT(on && !(on & ~(RBLCONF_ON_IP_SOURCES | RBLCONF_ON_DOMAIN_SOURCES)));
    char sym[RBLCONF_SYMBOL_MAX + 1];
    double w;
    if (rblconf_parse_symbol(v, sym, sizeof sym, &w, err, sizeof err))
        FUZZ_ASSERT(symbol_ok(sym) && isfinite(w));
    /* the input as a key */
    char name[RBLCONF_NAME_MAX + 1];
    const char *attr = rblconf_key(v, name, sizeof name);
    if (attr) {
        FUZZ_ASSERT(strlen(name) >= 1 && strlen(name) <= RBLCONF_NAME_MAX);
        char err2[512] = "";
        if (!rblconf_check(v, "x", err2, sizeof err2))
            FUZZ_ASSERT(err2[0]);
    }
}

static void check_message_parts(const char *v)
{
    char ip[64], d[RBL_NAME_MAX], q[RBL_NAME_MAX];
    unsigned char bin[16];
    if (rbl_received_ip(v, ip, sizeof ip))
        FUZZ_ASSERT(inet_pton(AF_INET, ip, bin) == 1 || inet_pton(AF_INET6, ip, bin) == 1);
    if (rbl_address(v, ip, sizeof ip))
        FUZZ_ASSERT(inet_pton(AF_INET, ip, bin) == 1 || inet_pton(AF_INET6, ip, bin) == 1);
    if (rbl_domain(v, d, sizeof d)) {
        check_name(d);
        FUZZ_ASSERT(strchr(d, '.'));
    }
    rbl_subject s[2];
    size_t n = rbl_host_subjects(v, s);
    FUZZ_ASSERT(n <= 2);
    for (size_t i = 0; i < n; i++) {
        if (rbl_query_name(&s[i], "dbl.example", q, sizeof q))
            check_name(q);
        else
            FUZZ_ASSERT(!s[i].ip); /* an address always makes a name */
    }
    rbl_answer a, b;
    if (rbl_cache_decode(v, strlen(v), &a)) {
        FUZZ_ASSERT(a.state == RBL_LISTED || a.state == RBL_NOT_LISTED);
        FUZZ_ASSERT(a.n <= RBL_ADDRS_MAX && (a.state == RBL_NOT_LISTED) == (a.n == 0));
        char enc[RBL_ADDRS_MAX * 16 + 2];
        rbl_cache_encode(&a, enc, sizeof enc);
        FUZZ_ASSERT(rbl_cache_decode(enc, strlen(enc), &b));
        FUZZ_ASSERT(a.state == b.state && a.n == b.n &&
                    memcmp(a.addr, b.addr, a.n * sizeof a.addr[0]) == 0);
    } else {
        FUZZ_ASSERT(a.state == RBL_UNKNOWN);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *v = xmalloc(size + 1);
    memcpy(v, data, size);
    v[size] = '\0';
    check_codes(v, data, size);
    check_values(v);
    check_message_parts(v);
    free(v);
    return 0;
}
