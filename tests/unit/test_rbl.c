/* test_rbl.c - DNS block lists: the rbl.list.* configuration (shared/rblconf.h), query
 * names and cache values (node/rbl.h), stub zones (dns.h), and when the rbl and
 * dnscheck checks ask anything at all.
 *
 * Parsers get the values operators write and the mistakes they make (each refusal
 * names the wrong part); codes are matched exactly, by range, CIDR and bit mask, with
 * refused and foreign answers; names cover IPv4/IPv6/mapped reversal, IDN, URL hosts
 * (public suffix list, browser IPv4 forms) and Received fields of four MTAs. The checks
 * run against a resolver whose server is not there (RBL_TEMPERROR when asked); real
 * lists (rbldnsd) and the Redis cache are in tests/integration/test_rbl.py. */
#include "netlist.h"
#include "pipeline.h"
#include "rbl.h"
#include "rblconf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testnet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint32_t a4(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return ntohl(a.s_addr);
}

/* ---- configuration ---------------------------------------------------------------- */

static void test_keys(void **state)
{
    (void)state;
    char name[64];
    assert_string_equal(rblconf_key("rbl.list.zen.zone", name, sizeof name), "zone");
    assert_string_equal(name, "zen");
    assert_string_equal(rblconf_key("rbl.list.my-list_2.codes", name, sizeof name), "codes");
    assert_string_equal(name, "my-list_2");
    assert_non_null(rblconf_key("rbl.list.x.symbol", NULL, 0));
    assert_null(rblconf_key("rbl.list.zen.zonee", name, sizeof name));
    assert_null(rblconf_key("rbl.list.Zen.zone", name, sizeof name)); /* lower case only */
    assert_null(rblconf_key("rbl.list.zen", name, sizeof name));
    assert_null(rblconf_key("rbl.list..zone", name, sizeof name));
    assert_null(rblconf_key("rbl.lists.zen.zone", name, sizeof name));
    assert_null(rblconf_key("rbl.list.a.b.zone", name, sizeof name));
    assert_null(rblconf_key("rbl.list.abcdefghijklmnopqrstuvwxyz0123456.zone", name, sizeof name));

    char err[512];
    assert_true(rblconf_check("rbl.list.zen.zone", "zen.dnsbl.example.", err, sizeof err));
    assert_false(rblconf_check("rbl.list.zen.zonee", "x.example", err, sizeof err));
    assert_string_equal(err,
                        "unknown attribute 'zonee' of list zen (zone, type, on, codes, symbol)");
    assert_false(rblconf_check("rbl.list.Zen!.zone", "x.example", err, sizeof err));
    assert_non_null(strstr(err, "list name 'Zen!'"));
    assert_false(rblconf_check("rbl.list.zen", "x.example", err, sizeof err));
    assert_non_null(strstr(err, "is not rbl.list.NAME.ATTRIBUTE"));
    assert_false(rblconf_check("rbl.list.zen.type", "dns", err, sizeof err));
    assert_string_equal(err,
                        "bad value for 'rbl.list.zen.type': 'dns' is not one of ip|domain|uri");
}

static void test_zone_type_on_symbol(void **state)
{
    (void)state;
    char zone[RBLCONF_ZONE_MAX + 1], err[512];
    assert_true(rblconf_parse_zone(" Zen.DNSBL.Example. ", zone, sizeof zone, err, sizeof err));
    assert_string_equal(zone, "zen.dnsbl.example");
    assert_true(rblconf_parse_zone("multi_surbl.example", zone, sizeof zone, err, sizeof err));
    assert_false(rblconf_parse_zone("", zone, sizeof zone, err, sizeof err));
    assert_false(rblconf_parse_zone("example", zone, sizeof zone, err, sizeof err));
    assert_non_null(strstr(err, "at least two labels"));
    assert_false(rblconf_parse_zone("a..example", zone, sizeof zone, err, sizeof err));
    assert_non_null(strstr(err, "empty label"));
    assert_false(rblconf_parse_zone("zen example", zone, sizeof zone, err, sizeof err));
    assert_false(rblconf_parse_zone("zen.example/24", zone, sizeof zone, err, sizeof err));
    char longz[300];
    memset(longz, 'a', sizeof longz - 1);
    longz[sizeof longz - 1] = '\0';
    longz[10] = '.';
    assert_false(rblconf_parse_zone(longz, zone, sizeof zone, err, sizeof err));
    assert_non_null(strstr(err, "longer than 188"));

    rblconf_type t;
    assert_true(rblconf_parse_type("URI", &t, err, sizeof err));
    assert_int_equal(t, RBLCONF_URI);
    assert_true(rblconf_parse_type(" ip ", &t, err, sizeof err));
    assert_int_equal(t, RBLCONF_IP);

    unsigned on = 0;
    assert_true(rblconf_parse_on("client, received", &on, err, sizeof err));
    assert_int_equal(on, RBLCONF_ON_CLIENT | RBLCONF_ON_RECEIVED);
    assert_true(rblconf_parse_on("helo rdns,envfrom ,from,replyto,url", &on, err, sizeof err));
    assert_int_equal(on, RBLCONF_ON_DOMAIN_SOURCES);
    assert_false(rblconf_parse_on("client,sender", &on, err, sizeof err));
    assert_non_null(strstr(err, "'sender' is not a source"));
    assert_false(rblconf_parse_on(" , ", &on, err, sizeof err));
    assert_non_null(strstr(err, "no source given"));

    char sym[RBLCONF_SYMBOL_MAX + 1];
    double w = 0;
    assert_true(rblconf_parse_symbol("MY_LIST", sym, sizeof sym, &w, err, sizeof err));
    assert_string_equal(sym, "MY_LIST");
    assert_true(w == 1);
    assert_true(rblconf_parse_symbol(" DBL_SPAM : 2.5 ", sym, sizeof sym, &w, err, sizeof err));
    assert_string_equal(sym, "DBL_SPAM");
    assert_true(w == 2.5);
    assert_true(rblconf_parse_symbol("DNSWL_HI:-3", sym, sizeof sym, &w, err, sizeof err));
    assert_true(w == -3);
    assert_false(rblconf_parse_symbol("dbl_spam", sym, sizeof sym, &w, err, sizeof err));
    assert_false(rblconf_parse_symbol("ERROR", sym, sizeof sym, &w, err, sizeof err));
    assert_false(rblconf_parse_symbol("X:lots", sym, sizeof sym, &w, err, sizeof err));
    assert_non_null(strstr(err, "weight 'lots' of X"));
    assert_false(rblconf_parse_symbol("X:1e9", sym, sizeof sym, &w, err, sizeof err));
    assert_false(rblconf_parse_symbol("X:nan", sym, sizeof sym, &w, err, sizeof err));
    assert_false(rblconf_parse_symbol("X:1:2", sym, sizeof sym, &w, err, sizeof err));
}

static void test_codes(void **state)
{
    (void)state;
    rblconf_code c[RBLCONF_CODES_MAX];
    size_t n = 99;
    char err[512];
    assert_true(rblconf_parse_codes("127.0.0.2:SBL:4.0, 127.0.0.4-127.0.0.7 : XBL : 3,"
                                    "127.0.0.10-127.0.0.11:PBL, 127.0.1.0/24:DNSWL:-1,"
                                    "&0x40:SURBL_ABUSE:5, &8:SURBL_PH, 127.255.255.254:ERROR",
                                    c, RBLCONF_CODES_MAX, &n, err, sizeof err));
    assert_int_equal(n, 7);
    assert_string_equal(c[0].symbol, "SBL");
    assert_true(c[0].lo == a4("127.0.0.2") && c[0].hi == c[0].lo && c[0].weight == 4);
    assert_true(c[1].lo == a4("127.0.0.4") && c[1].hi == a4("127.0.0.7") && c[1].weight == 3);
    assert_true(c[2].weight == 1); /* no weight given */
    assert_true(c[3].lo == a4("127.0.1.0") && c[3].hi == a4("127.0.1.255") && c[3].weight == -1);
    assert_int_equal(c[4].mask, 0x40);
    assert_int_equal(c[5].mask, 8);
    assert_true(c[6].error && !*c[6].symbol);

    /* one weight per symbol: a missing one takes the one given elsewhere */
    assert_true(rblconf_parse_codes("127.0.0.4:XBL, 127.0.0.5:XBL:3, 127.0.0.6:XBL:3", c,
                                    RBLCONF_CODES_MAX, &n, err, sizeof err));
    assert_true(c[0].weight == 3 && c[1].weight == 3 && c[2].weight == 3);
    assert_false(rblconf_parse_codes("127.0.0.4:XBL:2, 127.0.0.5:XBL:3", c, RBLCONF_CODES_MAX, &n,
                                     err, sizeof err));
    assert_string_equal(err, "XBL is given two weights (2 and 3)");
    /* empty: no codes */
    assert_true(rblconf_parse_codes("  ", c, RBLCONF_CODES_MAX, &n, err, sizeof err));
    assert_int_equal(n, 0);

    static const struct {
        const char *value, *words;
    } bad[] = {
        {"127.0.0.2", "is not MATCH:SYMBOL"},
        {"10.0.0.2:X", "outside 127.0.0.0/8"},
        {"127.0.0.2-128.0.0.1:X", "outside 127.0.0.0/8"},
        {"127.0.0.7-127.0.0.4:X", "is not a return code"},
        {"127.0.0.1/24:X", "bits set after the /24 prefix"},
        {"127.0.0.0/4:X", "is not a return code"},
        {"127.0.0.0/33:X", "is not a return code"},
        {"127.1:X", "is not a return code"},
        {"127.0.0.256:X", "is not a return code"},
        {"&0:X", "is not a bit mask"},
        {"&256:X", "is not a bit mask"},
        {"&0x:X", "is not a bit mask"},
        {"&4x:X", "is not a bit mask"},
        {"&:X", "is not a bit mask"},
        {"127.0.0.2:x_lower", "is not a symbol name"},
        {"127.0.0.2:X:heavy", "weight 'heavy' of X"},
        {"127.0.0.2:ERROR:1", "an ERROR code has no weight"},
        {"127.0.0.2:X:1:2", "is not MATCH:SYMBOL"},
        {"127.0.0.2:X,,127.0.0.3:Y", "an empty entry"},
        {"127.0.0.2:X,", "an empty entry"},
        {":X", "is not a return code"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        n = 77;
        if (rblconf_parse_codes(bad[i].value, c, RBLCONF_CODES_MAX, &n, err, sizeof err))
            fail_msg("accepted '%s'", bad[i].value);
        if (!strstr(err, bad[i].words))
            fail_msg("'%s': '%s' does not say '%s'", bad[i].value, err, bad[i].words);
        assert_int_equal(n, 77); /* nothing written on failure */
    }
    /* at most RBLCONF_CODES_MAX entries */
    char many[4096] = "";
    for (int i = 0; i < RBLCONF_CODES_MAX + 1; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s127.0.0.%d:S%d", i ? "," : "",
                 i + 1, i);
    assert_false(rblconf_parse_codes(many, c, RBLCONF_CODES_MAX, &n, err, sizeof err));
    assert_non_null(strstr(err, "more than 32 entries"));
}

static void test_match(void **state)
{
    (void)state;
    rblconf_list l = {.name = "zen", .zone = "zen.example"};
    char err[256];
    assert_true(rblconf_parse_codes("127.0.0.2:SBL:4, 127.0.0.3:SBL:4, 127.0.0.4-127.0.0.7:XBL:3,"
                                    "&8:PH, &2:BLACK, 127.0.0.1:ERROR",
                                    l.codes, RBLCONF_CODES_MAX, &l.ncodes, err, sizeof err));
    const rblconf_code *hits[RBLCONF_CODES_MAX];
    size_t n;
    assert_int_equal(rblconf_match(&l, a4("127.0.0.4"), hits, &n), RBLCONF_LISTED);
    assert_int_equal(n, 1);
    assert_string_equal(hits[0]->symbol, "XBL");
    /* 127.0.0.2 matches SBL and the &2 mask: both */
    assert_int_equal(rblconf_match(&l, a4("127.0.0.2"), hits, &n), RBLCONF_LISTED);
    assert_int_equal(n, 2);
    assert_string_equal(hits[0]->symbol, "SBL");
    assert_string_equal(hits[1]->symbol, "BLACK");
    /* 127.0.0.3: SBL once (two entries, one symbol) and BLACK */
    assert_int_equal(rblconf_match(&l, a4("127.0.0.3"), hits, &n), RBLCONF_LISTED);
    assert_int_equal(n, 2);
    /* 127.0.0.10: bits 8 and 2 */
    assert_int_equal(rblconf_match(&l, a4("127.0.0.10"), hits, &n), RBLCONF_LISTED);
    assert_int_equal(n, 2);
    assert_string_equal(hits[0]->symbol, "PH");
    /* a mask looks at 127.0.0.x only */
    assert_int_equal(rblconf_match(&l, a4("127.0.1.8"), hits, &n), RBLCONF_LISTED);
    assert_int_equal(n, 0); /* the default symbol */
    assert_int_equal(rblconf_match(&l, a4("127.0.0.64"), hits, &n), RBLCONF_LISTED);
    assert_int_equal(n, 0);
    /* errors and foreign answers are never listings */
    assert_int_equal(rblconf_match(&l, a4("127.0.0.1"), hits, &n), RBLCONF_ERROR);
    assert_int_equal(rblconf_match(&l, a4("127.255.255.254"), hits, &n), RBLCONF_ERROR);
    assert_int_equal(rblconf_match(&l, a4("127.255.255.252"), hits, &n), RBLCONF_ERROR);
    assert_int_equal(n, 0);
    assert_int_equal(rblconf_match(&l, a4("192.0.2.1"), hits, &n), RBLCONF_FOREIGN);
    assert_int_equal(rblconf_match(&l, a4("128.0.0.2"), hits, &n), RBLCONF_FOREIGN);
}

static params *cluster(const char *const *kv, size_t n)
{
    params *p = params_new(&params_cluster);
    char err[512];
    for (size_t i = 0; i < n; i += 2)
        if (!params_set(p, kv[i], kv[i + 1], err, sizeof err))
            fail_msg("params_set %s: %s", kv[i], err);
    return p;
}

static void test_lists(void **state)
{
    (void)state;
    static const char *const kv[] = {
        "rbl.list.zen.zone",   "zen.example",  "rbl.list.zen.codes",   "127.0.0.2:SBL:4",
        "rbl.list.dbl.zone",   "dbl.example.", "rbl.list.dbl.type",    "domain",
        "rbl.list.dbl.symbol", "DBL:2.5",      "rbl.list.surbl.zone",  "multi.surbl.example",
        "rbl.list.surbl.type", "uri",          "rbl.list.b-list.zone", "b.example",
        "rbl.list.b-list.on",  "received",
    };
    params *p = cluster(kv, sizeof kv / sizeof kv[0]);
    rblconf_list *l;
    size_t n;
    char err[512];
    assert_true(rblconf_lists(p, &l, &n, err, sizeof err));
    assert_int_equal(n, 4);
    /* sorted by name; defaults by type */
    assert_string_equal(l[0].name, "b-list");
    assert_int_equal(l[0].type, RBLCONF_IP);
    assert_int_equal(l[0].on, RBLCONF_ON_RECEIVED);
    assert_string_equal(l[0].symbol, "RBL_B_LIST");
    assert_true(l[0].weight == 1);
    assert_string_equal(l[1].name, "dbl");
    assert_string_equal(l[1].zone, "dbl.example");
    assert_int_equal(l[1].on, RBLCONF_ON_ENVFROM | RBLCONF_ON_FROM | RBLCONF_ON_REPLYTO);
    assert_string_equal(l[1].symbol, "DBL");
    assert_true(l[1].weight == 2.5);
    assert_string_equal(l[2].name, "surbl");
    assert_int_equal(l[2].on, RBLCONF_ON_URL);
    assert_string_equal(l[3].name, "zen");
    assert_int_equal(l[3].on, RBLCONF_ON_CLIENT);
    assert_int_equal(l[3].ncodes, 1);
    free(l);
    params_destroy(&p);

    /* a list without its zone */
    static const char *const nozone[] = {"rbl.list.zen.codes", "127.0.0.2:SBL"};
    p = cluster(nozone, 2);
    assert_false(rblconf_lists(p, &l, &n, err, sizeof err));
    assert_string_equal(err, "block list zen has no zone (rbl.list.zen.zone)");
    params_destroy(&p);
    /* a source the type cannot look up */
    static const char *const wrong[] = {"rbl.list.zen.zone", "zen.example", "rbl.list.zen.on",
                                        "client, helo, url"};
    p = cluster(wrong, 4);
    assert_false(rblconf_lists(p, &l, &n, err, sizeof err));
    assert_string_equal(err, "rbl.list.zen.on: helo, url cannot be looked up in a list of type "
                             "ip (it takes client, received)");
    params_destroy(&p);
    /* no lists at all is fine */
    p = params_new(&params_cluster);
    assert_true(rblconf_lists(p, &l, &n, err, sizeof err));
    assert_int_equal(n, 0);
    free(l);
    params_destroy(&p);
}

static void test_params(void **state)
{
    (void)state;
    params *p = params_new(&params_cluster);
    char err[512];
    /* the cluster table takes the keys and refuses bad values in the same words */
    assert_true(params_set(p, "rbl.list.zen.codes", "127.0.0.2:SBL:4", err, sizeof err));
    assert_false(params_set(p, "rbl.list.zen.codes", "127.0.0.2:SBL:many", err, sizeof err));
    assert_string_equal(err, "bad value for 'rbl.list.zen.codes': weight 'many' of SBL is not a "
                             "number in [-1000, 1000]");
    assert_false(params_check(&params_cluster, "rbl.list.zen.zonefile", "x", err, sizeof err));
    assert_non_null(strstr(err, "unknown attribute 'zonefile'"));
    assert_false(
        params_check(&params_cluster, "rbl.list.zen.on", "client,unknown", err, sizeof err));
    assert_non_null(strstr(err, "'unknown' is not a source"));
    /* not in the daemon tables */
    assert_false(params_check(&params_node, "rbl.list.zen.zone", "zen.example", err, sizeof err));
    assert_non_null(strstr(err, "unknown parameter"));
    /* kept as text, listed among the set values, and removable */
    const char *k, *v;
    bool seen = false;
    for (size_t it = 0; params_next_set(p, &it, &k, &v);)
        seen |= strcmp(k, "rbl.list.zen.codes") == 0 && strcmp(v, "127.0.0.2:SBL:4") == 0;
    assert_true(seen);
    assert_true(params_unset(p, "rbl.list.zen.codes"));
    params_destroy(&p);
}

/* ---- names -------------------------------------------------------------------------- */

static void test_query_names(void **state)
{
    (void)state;
    rbl_subject s = {.ip = true};
    char q[RBL_NAME_MAX];
    snprintf(s.text, sizeof s.text, "192.0.2.99");
    assert_true(rbl_query_name(&s, "zen.example", q, sizeof q));
    assert_string_equal(q, "99.2.0.192.zen.example");
    snprintf(s.text, sizeof s.text, "2001:db8:1::5");
    assert_true(rbl_query_name(&s, "zen.example", q, sizeof q));
    assert_string_equal(
        q, "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.zen.example");
    char canon[64];
    assert_true(rbl_address("::FFFF:192.0.2.1", canon, sizeof canon)); /* mapped: its IPv4 */
    assert_string_equal(canon, "192.0.2.1");
    snprintf(s.text, sizeof s.text, "%s", canon);
    assert_true(rbl_query_name(&s, "zen.example", q, sizeof q));
    assert_string_equal(q, "1.2.0.192.zen.example");

    s.ip = false;
    snprintf(s.text, sizeof s.text, "spammy.example");
    assert_true(rbl_query_name(&s, "dbl.example", q, sizeof q));
    assert_string_equal(q, "spammy.example.dbl.example");
    /* over 253 characters with the zone: not asked */
    memset(s.text, 'a', 63);
    s.text[63] = '.';
    memset(s.text + 64, 'b', 63);
    s.text[127] = '.';
    memset(s.text + 128, 'c', 63);
    snprintf(s.text + 191, sizeof s.text - 191, ".dddddddddddddddddddddddddddddd.example");
    assert_int_equal(strlen(s.text), 230);
    assert_true(rbl_query_name(&s, "dbl.example", q, sizeof q)); /* 242 */
    assert_false(rbl_query_name(&s, "dbl.example.org.long-zone.example", q, sizeof q)); /* 264 */
}

static void test_domains(void **state)
{
    (void)state;
    char d[RBL_NAME_MAX];
    assert_true(rbl_domain("Mail.Example.COM.", d, sizeof d));
    assert_string_equal(d, "mail.example.com");
    assert_true(rbl_domain(" under_score.example ", d, sizeof d));
    assert_true(rbl_domain("bücher.example", d, sizeof d));
    assert_string_equal(d, "xn--bcher-kva.example");
    assert_true(rbl_domain("ПРИМЕР.рф", d, sizeof d));
    assert_string_equal(d, "xn--e1afmkfd.xn--p1ai");
    assert_false(rbl_domain("localhost", d, sizeof d)); /* one label */
    assert_false(rbl_domain("", d, sizeof d));
    assert_false(rbl_domain(NULL, d, sizeof d));
    assert_false(rbl_domain("a..example", d, sizeof d));
    assert_false(rbl_domain("bad host.example", d, sizeof d));
    assert_false(rbl_domain("x.example/path", d, sizeof d));
    assert_false(rbl_domain("192.0.2.1", d, sizeof d)); /* an address */
    assert_false(rbl_domain("[192.0.2.1]", d, sizeof d));
    char label[80];
    memset(label, 'a', 64);
    snprintf(label + 64, sizeof label - 64, ".example");
    assert_false(rbl_domain(label, d, sizeof d));

    char ip[64];
    assert_true(rbl_address("[2001:DB8::1]", ip, sizeof ip));
    assert_string_equal(ip, "2001:db8::1");
    assert_true(rbl_address("IPv6:2001:db8::2", ip, sizeof ip));
    assert_string_equal(ip, "2001:db8::2");
    assert_true(rbl_address("3221225985", ip, sizeof ip)); /* browsers: 192.0.2.1 */
    assert_string_equal(ip, "192.0.2.1");
    assert_true(rbl_address("0xc0.0.2.1", ip, sizeof ip));
    assert_string_equal(ip, "192.0.2.1");
    assert_true(rbl_address("0300.0.2.1", ip, sizeof ip));
    assert_string_equal(ip, "192.0.2.1");
    assert_false(rbl_address("example.com", ip, sizeof ip));
    assert_false(rbl_address("192.0.2.1 x", ip, sizeof ip));
    assert_false(rbl_address("", ip, sizeof ip));
}

static void test_host_subjects(void **state)
{
    (void)state;
    rbl_subject s[2];
    assert_int_equal(rbl_host_subjects("www.Shop.Example.co.uk", s), 2);
    assert_string_equal(s[0].text, "example.co.uk");
    assert_false(s[0].ip);
    assert_string_equal(s[1].text, "www.shop.example.co.uk");
    assert_int_equal(rbl_host_subjects("example.com", s), 1);
    assert_string_equal(s[0].text, "example.com");
    assert_int_equal(rbl_host_subjects("0x7f.1", s), 1); /* a URL's odd IPv4 */
    assert_true(s[0].ip);
    assert_string_equal(s[0].text, "127.0.0.1");
    assert_int_equal(rbl_host_subjects("[2001:db8::7]", s), 1);
    assert_string_equal(s[0].text, "2001:db8::7");
    assert_int_equal(rbl_host_subjects("shop.bücher.example", s), 2);
    assert_string_equal(s[0].text, "xn--bcher-kva.example");
    assert_string_equal(s[1].text, "shop.xn--bcher-kva.example");
    assert_int_equal(rbl_host_subjects("", s), 0);
    assert_int_equal(rbl_host_subjects("not a host", s), 0);
}

static void test_received(void **state)
{
    (void)state;
    static const struct {
        const char *value, *ip;
    } cases[] = {
        /* Postfix */
        {"from mail.example.org (mail.example.org [198.51.100.5]) by mx.example.net (Postfix) "
         "with ESMTPS id 4Xy; Tue, 24 Nov 2026 10:00:00 +0000",
         "198.51.100.5"},
        /* Postfix, no rDNS, IPv6 */
        {"from helo.example (unknown [IPv6:2001:db8::25]) by mx.example.net (Postfix) with ESMTP; "
         "Tue, 24 Nov 2026 10:00:00 +0000",
         "2001:db8::25"},
        /* the HELO claims another address: the comment (what the MTA saw) wins */
        {"from [192.0.2.1] (host.example [203.0.113.9]) by mx.example.net; Tue, 24 Nov 2026 "
         "10:00:00 +0000",
         "203.0.113.9"},
        /* Exim */
        {"from [203.0.113.10] (helo=laptop) by smtp.example.com with esmtpsa (Exim 4.96) id 1t; "
         "Tue, 24 Nov 2026 10:00:00 +0000",
         "203.0.113.10"},
        {"from host.example ([198.51.100.77] helo=host.example) by mx.example.com with esmtp "
         "(Exim 4.96); Tue, 24 Nov 2026 10:00:00 +0000",
         "198.51.100.77"},
        /* Exchange */
        {"from EX01.corp.example (10.1.2.3) by EX02.corp.example (10.1.2.4) with Microsoft SMTP "
         "Server; Tue, 24 Nov 2026 10:00:00 +0000",
         "10.1.2.3"},
        /* an address after "by" is the receiver's, not the sender's */
        {"from localhost by mx.example.net ([192.0.2.77]) with LMTP; Tue, 24 Nov 2026 10:00:00 "
         "+0000",
         NULL},
        {"by mx.example.net with ESMTP id 1; Tue, 24 Nov 2026 10:00:00 +0000", NULL},
        {"from x (y [999.1.1.1]) by z; Tue, 24 Nov 2026 10:00:00 +0000", NULL},
        {"", NULL},
        {"from (((((( [", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char ip[64] = "";
        bool ok = rbl_received_ip(cases[i].value, ip, sizeof ip);
        if (ok != (cases[i].ip != NULL) || (ok && strcmp(ip, cases[i].ip) != 0))
            fail_msg("case %zu: got %s '%s'", i, ok ? "true" : "false", ip);
    }
}

static void test_cache_values(void **state)
{
    (void)state;
    rbl_answer a = {.state = RBL_LISTED, .n = 2, .addr = {a4("127.0.0.2"), a4("127.0.0.4")}};
    char v[200];
    rbl_cache_encode(&a, v, sizeof v);
    assert_string_equal(v, "127.0.0.2,127.0.0.4");
    rbl_answer b;
    assert_true(rbl_cache_decode(v, strlen(v), &b));
    assert_int_equal(b.state, RBL_LISTED);
    assert_int_equal(b.n, 2);
    assert_true(b.addr[1] == a4("127.0.0.4"));
    a.state = RBL_NOT_LISTED;
    rbl_cache_encode(&a, v, sizeof v);
    assert_string_equal(v, "-");
    assert_true(rbl_cache_decode("-", 1, &b));
    assert_int_equal(b.state, RBL_NOT_LISTED);
    a.state = RBL_TEMPFAIL; /* never stored */
    rbl_cache_encode(&a, v, sizeof v);
    assert_string_equal(v, "");
    static const char *const bad[] = {"",        "--",          "127.0.0.2,",       ",127.0.0.2",
                                      "127.0.0", "127.0.0.2,x", "1,2,3,4,5,6,7,8,9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(rbl_cache_decode(bad[i], strlen(bad[i]), &b));
        assert_int_equal(b.state, RBL_UNKNOWN);
    }
    char nine[200] = "";
    for (int i = 0; i < 9; i++)
        snprintf(nine + strlen(nine), sizeof nine - strlen(nine), "%s127.0.0.%d", i ? "," : "",
                 i + 1);
    assert_false(rbl_cache_decode(nine, strlen(nine), &b)); /* over RBL_ADDRS_MAX */

    /* DNS statuses */
    dns_rr rr = {.type = DNS_T_A, .u.a = {127, 0, 0, 10}};
    dns_answer d = {.status = DNS_OK, .n = 1, .rr = &rr};
    rbl_answer_from_dns(&d, &b);
    assert_int_equal(b.state, RBL_LISTED);
    assert_true(b.addr[0] == a4("127.0.0.10"));
    d.status = DNS_NXDOMAIN;
    rbl_answer_from_dns(&d, &b);
    assert_int_equal(b.state, RBL_NOT_LISTED);
    d.status = DNS_NODATA;
    rbl_answer_from_dns(&d, &b);
    assert_int_equal(b.state, RBL_NOT_LISTED);
    d.status = DNS_TIMEOUT;
    rbl_answer_from_dns(&d, &b);
    assert_int_equal(b.state, RBL_TEMPFAIL);
    d.status = DNS_SERVFAIL;
    rbl_answer_from_dns(&d, &b);
    assert_int_equal(b.state, RBL_TEMPFAIL);
}

static void test_nets(void **state)
{
    (void)state;
    netlist n;
    char err[256];
    assert_true(netlist_parse("127.0.0.0/8, ::1 10.0.0.0/8,fc00::/7", &n, err, sizeof err));
    assert_int_equal(n.n, 4);
    assert_true(netlist_match(&n, "10.200.1.1"));
    assert_true(netlist_match(&n, "fd12::1"));
    assert_true(netlist_match(&n, "::ffff:127.0.0.5"));
    assert_false(netlist_match(&n, "192.0.2.1"));
    assert_false(netlist_match(&n, "not an address"));
    assert_false(netlist_parse("10.0.0.0/8, 10.1/16", &n, err, sizeof err));
    assert_string_equal(err, "'10.1/16' is not an address or CIDR network");
}

/* ---- stub zones (dns.h) -------------------------------------------------------------- */

static void test_stub_zones(void **state)
{
    (void)state;
    static const struct {
        const char *list, *error; /* NULL: accepted */
    } cases[] = {
        {"zen.rbl.example=127.0.0.1:5353", NULL},
        {"zen.rbl.example.=127.0.0.1, zen.rbl.example=[::1]:5353 x.test=::1", NULL},
        {"10.in-addr.arpa=192.0.2.53:53", NULL},
        {"zen.rbl.example", "bad DNS stub zone 'zen.rbl.example': expected ZONE=HOST[:PORT]"},
        {"zen.rbl.example=dns.example",
         "bad DNS stub zone 'zen.rbl.example=dns.example': expected IPv4[:PORT], [IPv6]:PORT or "
         "an IPv6 address after '='"},
        {"zen.rbl.example=127.0.0.1:99999", "expected IPv4[:PORT]"},
        {"a..example=127.0.0.1", "bad DNS stub zone 'a..example=127.0.0.1': 'a..example' is not "
                                 "a zone name"},
        {"=127.0.0.1", "'' is not a zone name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dns_opts o;
        dns_opts_default(&o);
        dns_opts_add_forwarders(&o, "127.0.0.1:1");
        dns_opts_add_stub_zones(&o, cases[i].list);
        char err[512] = "";
        dns_resolver *r = dns_new(&o, err, sizeof err);
        dns_opts_clear(&o);
        assert_int_equal(o.stub_zones.n, 0);
        if (!cases[i].error) {
            if (!r)
                fail_msg("'%s' refused: %s", cases[i].list, err);
            dns_destroy(&r);
        } else {
            assert_null(r);
            if (!strstr(err, cases[i].error))
                fail_msg("'%s': '%s' does not say '%s'", cases[i].list, err, cases[i].error);
        }
    }
}

/* ---- the checks ------------------------------------------------------------------- */

/* A loopback UDP port nothing listens on. */
static pipeline *rbl_pipeline(const char *const *kv, size_t n, char *err, size_t errlen)
{
    params *cfg = params_new(&params_cluster);
    static const char *const base[] = {
        "check.clamav.enabled", "no", "check.rules.enabled", "no", "check.spf.enabled",      "no",
        "check.dkim.enabled",   "no", "check.dmarc.enabled", "no", "check.dnscheck.enabled", "yes"};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i += 2)
        assert_true(params_set(cfg, base[i], base[i + 1], err, errlen));
    for (size_t i = 0; i < n; i += 2)
        if (!params_set(cfg, kv[i], kv[i + 1], err, errlen))
            fail_msg("params_set %s: %s", kv[i], err);
    pipeline *p = pipeline_new(cfg, 1, err, errlen);
    params_destroy(&cfg);
    return p;
}

/* Scans a message with this envelope; the symbols whose names start with prefix, as
 * "NAME NAME ..." in *out. */
static void scan_symbols(pipeline *p, const char *ip, const char *auth, const char *prefix,
                         char *out, size_t outlen)
{
    static const char msg[] =
        "From: a@sender.example\r\nSubject: hi\r\n"
        "Received: from relay.example (relay.example [198.51.100.5]) by mx.example; "
        "Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nsee http://www.shop.example/ now\r\n";
    Bulwark__Envelope env;
    bulwark__envelope__init(&env);
    env.client_ip = (char *)ip;
    env.helo = "mx.sender.example";
    env.mail_from = "a@sender.example";
    env.auth_user = (char *)auth;
    scan_task *t = scan_task_new(p, "rbl-1", &env, (const uint8_t *)msg, strlen(msg));
    scan_run(t);
    const Bulwark__ScanResult *r = scan_result(t);
    out[0] = '\0';
    for (size_t i = 0; i < r->n_symbols; i++)
        if (strncmp(r->symbols[i]->name, prefix, strlen(prefix)) == 0)
            snprintf(out + strlen(out), outlen - strlen(out), "%s%s", *out ? " " : "",
                     r->symbols[i]->name);
    scan_task_destroy(&t);
}

static void test_checks_apply(void **state)
{
    (void)state;
    dns_opts o;
    dns_opts_default(&o);
    char fwd[32], err[512], got[512];
    snprintf(fwd, sizeof fwd, "127.0.0.1:%d", testnet_closed_port(SOCK_DGRAM));
    dns_opts_add_forwarders(&o, fwd);
    o.timeout_ms = 200;
    dns_resolver *r = dns_new(&o, err, sizeof err);
    dns_opts_clear(&o);
    assert_non_null(r);
    dns_process_set(r);

    static const char *const zen[] = {"rbl.list.zen.zone", "zen.example", "rbl.list.zen.codes",
                                      "127.0.0.2:ZEN_SBL:4"};
    pipeline *p = rbl_pipeline(zen, 4, err, sizeof err);
    assert_non_null(p);
    /* asked, no answer: a temporary error, never a listing */
    scan_symbols(p, "192.0.2.1", "", "RBL_", got, sizeof got);
    assert_string_equal(got, "RBL_TEMPERROR");
    scan_symbols(p, "192.0.2.1", "", "DNSCHECK_", got, sizeof got);
    assert_string_equal(got, "DNSCHECK_TEMPERROR");
    /* trusted networks and authenticated submitters: the client is not asked */
    scan_symbols(p, "10.1.2.3", "", "RBL_", got, sizeof got);
    assert_string_equal(got, "");
    scan_symbols(p, "fd00::1", "", "RBL_", got, sizeof got);
    assert_string_equal(got, "");
    scan_symbols(p, "192.0.2.1", "alice", "RBL_", got, sizeof got);
    assert_string_equal(got, "");
    scan_symbols(p, "10.1.2.3", "", "DNSCHECK_", got, sizeof got);
    assert_string_equal(got, "");
    scan_symbols(p, "192.0.2.1", "alice", "DNSCHECK_", got, sizeof got);
    assert_string_equal(got, "");
    pipeline_release(&p);

    /* behind a trusted relay, a received list asks the hop below it */
    static const char *const hops[] = {"rbl.list.zen.zone", "zen.example", "rbl.list.zen.on",
                                       "received"};
    p = rbl_pipeline(hops, 4, err, sizeof err);
    scan_symbols(p, "10.1.2.3", "", "RBL_", got, sizeof got);
    assert_string_equal(got, "RBL_TEMPERROR");
    scan_symbols(p, "10.1.2.3", "bob", "RBL_", got, sizeof got);
    assert_string_equal(got, "");
    pipeline_release(&p);

    /* URI and sender-domain lists are asked whoever the client is */
    static const char *const uri[] = {"rbl.list.uri.zone", "uri.example", "rbl.list.uri.type",
                                      "uri"};
    p = rbl_pipeline(uri, 4, err, sizeof err);
    scan_symbols(p, "10.1.2.3", "alice", "RBL_", got, sizeof got);
    assert_string_equal(got, "RBL_TEMPERROR");
    pipeline_release(&p);

    /* configurations the nodes refuse, in words */
    static const char *const nozone[] = {"rbl.list.zen.codes", "127.0.0.2:ZEN_SBL"};
    assert_null(rbl_pipeline(nozone, 2, err, sizeof err));
    assert_string_equal(err, "block list zen has no zone (rbl.list.zen.zone)");
    static const char *const twice[] = {
        "rbl.list.a.zone", "a.example", "rbl.list.a.symbol", "SAME",
        "rbl.list.b.zone", "b.example", "rbl.list.b.codes",  "127.0.0.2:SAME"};
    assert_null(rbl_pipeline(twice, 8, err, sizeof err));
    assert_non_null(strstr(err, "symbol SAME is used by two block lists"));
    static const char *const clash[] = {"rbl.list.a.zone", "a.example", "rbl.list.a.symbol",
                                        "SPF_FAIL"};
    assert_null(rbl_pipeline(clash, 4, err, sizeof err));
    assert_non_null(strstr(err, "SPF_FAIL is already registered"));
    static const char *const nets[] = {"rbl.trusted_networks", "10.0.0.0/8, ten"};
    assert_null(rbl_pipeline(nets, 2, err, sizeof err));
    assert_non_null(strstr(err, "rbl.trusted_networks: 'ten'"));

    /* without a resolver neither check says anything */
    dns_process_set(NULL);
    dns_destroy(&r);
    p = rbl_pipeline(zen, 4, err, sizeof err);
    scan_symbols(p, "192.0.2.1", "", "RBL_", got, sizeof got);
    assert_string_equal(got, "");
    scan_symbols(p, "192.0.2.1", "", "RDNS_", got, sizeof got);
    assert_string_equal(got, "");
    pipeline_release(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),          cmocka_unit_test(test_zone_type_on_symbol),
        cmocka_unit_test(test_codes),         cmocka_unit_test(test_match),
        cmocka_unit_test(test_lists),         cmocka_unit_test(test_params),
        cmocka_unit_test(test_query_names),   cmocka_unit_test(test_domains),
        cmocka_unit_test(test_host_subjects), cmocka_unit_test(test_received),
        cmocka_unit_test(test_cache_values),  cmocka_unit_test(test_nets),
        cmocka_unit_test(test_stub_zones),    cmocka_unit_test(test_checks_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
