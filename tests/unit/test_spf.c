/* test_spf.c - the SPF record parser, macro expander and address matching, and when
 * the SPF check (node/checks/spf.c) runs at all.
 *
 * Records come from RFC 7208's grammar and from the openspf test suite's zones (the
 * valid ones and the ones that must be permerrors); macro cases are the examples of
 * RFC 7208 section 7.4 and the suite's macro scenarios. check_host() itself, which
 * needs answers, is tested against the whole suite in tests/integration/test_spf_suite.py
 * and the check's results in test_spf.py; here the check runs with a real resolver
 * whose server is not there, so a message it checks gets SPF_TEMPERROR and one it
 * skips gets nothing. */
#include "pipeline.h"
#include "spf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testnet.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static spf_record *parse(const char *s)
{
    char err[256];
    return spf_record_parse(s, strlen(s), err, sizeof err);
}

static void test_is_record(void **state)
{
    (void)state;
    assert_true(spf_is_record("v=spf1", 6));
    assert_true(spf_is_record("v=spf1 -all", 11));
    assert_true(spf_is_record("V=SpF1 ~all", 11));
    assert_false(spf_is_record("v=spf10", 7));
    assert_false(spf_is_record("v=spf1mx", 8)); /* strings joined without a space */
    assert_false(spf_is_record("v=spf", 5));
    assert_false(spf_is_record(" v=spf1", 7));
    assert_false(spf_is_record("", 0));
}

static void test_parse_valid(void **state)
{
    (void)state;
    spf_record *r = parse("v=spf1 a/24//64 -mx:mail.example.com/28 ~ip4:192.0.2.0/24 "
                          "?ip6:2001:DB8::/32 ptr +exists:%{ir}.%{l1r+-}._spf.%{d} "
                          "include:_spf.example.org. -all exp=explain.%{d} "
                          "redirect=_spf.example.com");
    assert_non_null(r);
    assert_int_equal(r->nterms, 8);
    assert_int_equal(r->terms[0].mech, SPF_A);
    assert_null(r->terms[0].domain);
    assert_int_equal(r->terms[0].cidr4, 24);
    assert_int_equal(r->terms[0].cidr6, 64);
    assert_int_equal(r->terms[0].qualifier, '+');
    assert_int_equal(r->terms[1].mech, SPF_MX);
    assert_int_equal(r->terms[1].qualifier, '-');
    assert_string_equal(r->terms[1].domain, "mail.example.com");
    assert_int_equal(r->terms[1].cidr4, 28);
    assert_int_equal(r->terms[1].cidr6, 128);
    assert_int_equal(r->terms[2].mech, SPF_IP4);
    assert_int_equal(r->terms[2].qualifier, '~');
    assert_int_equal(r->terms[2].net.family, 4);
    assert_memory_equal(r->terms[2].net.a, "\xc0\x00\x02\x00", 4);
    assert_int_equal(r->terms[2].cidr4, 24);
    assert_int_equal(r->terms[3].mech, SPF_IP6);
    assert_int_equal(r->terms[3].net.family, 6);
    assert_int_equal(r->terms[3].cidr6, 32);
    assert_int_equal(r->terms[4].mech, SPF_PTR);
    assert_null(r->terms[4].domain);
    assert_int_equal(r->terms[5].mech, SPF_EXISTS);
    assert_string_equal(r->terms[5].domain, "%{ir}.%{l1r+-}._spf.%{d}");
    assert_int_equal(r->terms[6].mech, SPF_INCLUDE);
    assert_string_equal(r->terms[6].domain, "_spf.example.org.");
    assert_int_equal(r->terms[7].mech, SPF_ALL);
    assert_string_equal(r->terms[7].text, "-all");
    assert_string_equal(r->exp, "explain.%{d}");
    assert_string_equal(r->redirect, "_spf.example.com");
    spf_record_destroy(&r);
    assert_null(r);

    static const char *const ok[] = {
        "v=spf1",
        "v=SPF1 ",
        "v=spf1  a  -all",
        "v=spf1 a -all ",
        "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all", /* unknown modifier */
        "v=spf1 default=pass",
        "v=spf1 default=+",
        "v=spf1 foo=",
        "v=spf1 a:foo:bar/baz.example.com",
        "v=spf1 mx:foo:bar/baz.example.com//0",
        "v=spf1 a:foo.example.xn--zckzah -all",
        "v=spf1 a:mail.example...com -all", /* valid syntax, no name: no match */
        "v=spf1 a:%{H}.bar -all",
        "v=spf1 a//33 -all",
        "v=spf1 a/0 -all",
        "v=spf1 ip6:::1.1.1.1/0",
        "v=spf1 ip6:Cafe:Babe:8000::/33",
        "v=spf1 -ip4:1.2.3.4 ip6:::FFFF:1.2.3.4",
        "v=spf1 ip4:1.1.1.1/0 -all",
        "v=spf1 all -all",
        "v=spf1 redirect=%{d}.d.spf.example.com.",
        "v=spf1 -include:_spfh.%{d2} ip4:1.2.3.0/24 -all",
        "v=spf1 exp=msg8.%{D2} -all",
        "v=spf1 a:macro%%percent%_%_space%-url-space.example.com -all",
        "v=spf1 A:EXAMPLE.COM MX PTR:Example.Com Exists:a.%{d} INCLUDE:b.example.com ALL",
        "v=spf1 REDIRECT=example.com",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        r = parse(ok[i]);
        if (!r)
            fail_msg("refused: %s", ok[i]);
        spf_record_destroy(&r);
    }
    r = parse("v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all");
    assert_int_equal(r->nterms, 2); /* the unknown modifier is dropped */
    spf_record_destroy(&r);
    r = parse("v=spf1 a:foo:bar/baz.example.com/24");
    assert_string_equal(r->terms[0].domain, "foo:bar/baz.example.com");
    assert_int_equal(r->terms[0].cidr4, 24);
    spf_record_destroy(&r);
    r = parse("v=spf1 REDIRECT=example.com");
    assert_string_equal(r->redirect, "example.com");
    spf_record_destroy(&r);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "v=spf1 ip4:1.2.3.4 -all moo", /* an error anywhere, even after -all */
        "v=spf1 moo.cow/far_out=man:dog/cat ip4:1.2.3.4 -all",
        "v=spf1 moo.cow:far_out=man:dog/cat ip4:1.2.3.4 -all",
        "v=spf1 ip4:1.2.3.4 redirect:t2.example.com",
        "v=spf1 a:foo-bar -all",
        "v=spf1 -all.",
        "v=spf1 -all:foobar",
        "v=spf1 -all/8",
        "v=spf1 ptr/0 -all",
        "v=spf1 ptr:",
        "v=spf1 a/33 -all",
        "v=spf1 a//129 -all",
        "v=spf1 a/24/64 -all",
        "v=spf1 a:example.com:8080",
        "v=spf1 a:111.222.33.44",
        "v=spf1 a:abc.123",
        "v=spf1 a:museum",
        "v=spf1 a:museum.",
        "v=spf1 a:example.-com",
        "v=spf1 a:",
        "v=spf1 a:foo.example.com/032",
        "v=spf1 include",
        "v=spf1 include: -all",
        "v=spf1 include:ip5.example.com/24 -all",
        "v=spf1 mx/33 -all",
        "v=spf1 mx//129 -all",
        "v=spf1 mx:abc.123",
        "v=spf1 mx: -all",
        "v=spf1 exists",
        "v=spf1 exists:",
        "v=spf1 exists:mail.example.com/24",
        "v=spf1 ip4",
        "v=spf1 ip4:1.2.3.4/33 -all",
        "v=spf1 ip4:1.2.3.4/032 -all",
        "v=spf1 ip4:1.2.3.4//32",
        "v=spf1 ip4:1.2.3.4:8080",
        "v=spf1 ip4:1.2.3",
        "v=spf1 ip4:01.2.3.4",
        "v=spf1 -all ip6",
        "v=spf1 ip6:::1.1.1.1/129",
        "v=spf1 ip6:::1.1.1.1//33",
        "v=spf1 ip6::CAFE::BABE",
        "v=spf1 1up=foo",
        "v=spf1 =all",
        "v=spf1 -all foo=%abc",
        "v=spf1 exp= -all",
        "v=spf1 exp=-all",
        "v=spf1 redirect=-all ?all",
        "v=spf1 ?all redirect=",
        "v=spf1 exp=a.example.com -all exp=b.example.com",
        "v=spf1 redirect=a.example.com -all redirect=a.example.com",
        "v=spf1 -exists:%(ir).sbl.example.com ?all",
        "v=spf1 exists:foo%(ir).sbl.example.com ?all",
        "v=spf1 exists:foo%.sbl.example.com ?all",
        "v=spf1 -all exp=%{r}.example.com", /* c, r, t only in explanations */
        "v=spf1 a:%{a}.example.com -all",
        "v=spf1 exists:%{d0}.example.com",
        "v=spf1 a:ctrl.example.com\rptr -all",
        "v=spf1 ip4:192.0.2.5\n include:spf.example.com ~all",
        "v=spf1 a:\xEF\xBB\xBF"
        "garbage.example.net -all",
        "v=spf1 \x80"
        "a:example.net -all",
        "v=spf1 a:example.net \x96"
        "all",
        "v=spf1 a\tmx",
        "v=spf1 foo",
        "v=spf2 -all",
    };
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        spf_record *r = spf_record_parse(bad[i], strlen(bad[i]), err, sizeof err);
        if (r)
            fail_msg("accepted: %s", bad[i]);
        assert_true(err[0] != '\0');
    }
    /* A NUL byte inside the record (TXT data may hold one). */
    static const char nul[] = "v=spf1 a:foo.example.com\0";
    assert_null(spf_record_parse(nul, sizeof nul - 1, err, sizeof err));
    /* The error names the term. */
    assert_null(parse("v=spf1 ip4:1.2.3.4 a:museum -all"));
    spf_record_parse("v=spf1 a:museum", 15, err, sizeof err);
    assert_non_null(strstr(err, "a:museum"));

    /* Bounds: record length and term count. */
    char *big = malloc(SPF_RECORD_MAX + 2);
    memset(big, 'a', SPF_RECORD_MAX + 1);
    memcpy(big, "v=spf1 ", 7);
    for (size_t i = 7; i + 1 < SPF_RECORD_MAX + 1; i += 2)
        big[i + 1] = ' ';
    big[SPF_RECORD_MAX + 1] = '\0';
    assert_null(spf_record_parse(big, SPF_RECORD_MAX + 1, err, sizeof err));
    assert_non_null(strstr(err, "bytes"));
    assert_null(spf_record_parse(big, SPF_RECORD_MAX, err, sizeof err)); /* ~2000 terms */
    assert_non_null(strstr(err, "terms"));
    size_t n = 7 + 2 * SPF_TERMS_MAX; /* exactly the limit: "a a a ..." */
    spf_record *r = spf_record_parse(big, n, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(r->nterms, SPF_TERMS_MAX);
    spf_record_destroy(&r);
    free(big);
}

/* RFC 7208 7.4: sender strong-bad@email.example.com, client 192.0.2.3 or 2001:db8::cb01,
 * whose PTR name is mx.example.org. */
static const char *rfc_ptr(void *arg)
{
    (void)arg;
    return "mx.example.org";
}

static void expand_env(spf_macro_env *env, spf_ip *ip, const char *addr)
{
    assert_true(spf_ip_parse(addr, ip));
    *env = (spf_macro_env){
        .sender = "strong-bad@email.example.com",
        .domain = "email.example.com",
        .helo = "mx.example.org",
        .ip = ip,
        .now = 1700000000,
        .ptr = rfc_ptr,
    };
}

static void check_expand(const spf_macro_env *env, spf_macro_mode mode, const char *in,
                         const char *want)
{
    char out[SPF_EXP_MAX];
    if (!spf_expand(in, strlen(in), mode, env, out, sizeof out))
        fail_msg("refused: %s", in);
    if (strcmp(out, want) != 0)
        fail_msg("%s -> '%s', want '%s'", in, out, want);
}

static void test_macro_rfc_examples(void **state)
{
    (void)state;
    spf_macro_env env;
    spf_ip ip;
    expand_env(&env, &ip, "192.0.2.3");
    static const char *const cases[][2] = {
        {"%{s}", "strong-bad@email.example.com"},
        {"%{o}", "email.example.com"},
        {"%{d}", "email.example.com"},
        {"%{d4}", "email.example.com"},
        {"%{d3}", "email.example.com"},
        {"%{d2}", "example.com"},
        {"%{d1}", "com"},
        {"%{dr}", "com.example.email"},
        {"%{d2r}", "example.email"},
        {"%{l}", "strong-bad"},
        {"%{l-}", "strong.bad"},
        {"%{lr}", "strong-bad"},
        {"%{lr-}", "bad.strong"},
        {"%{l1r-}", "strong"},
        {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
        {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
        {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
        {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
        {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
        {"%{p}", "mx.example.org"},
        {"%{h}", "mx.example.org"},
        {"%{i}", "192.0.2.3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_expand(&env, SPF_MACRO_DOMAIN, cases[i][0], cases[i][1]);

    expand_env(&env, &ip, "2001:db8::cb01");
    char out[SPF_NAME_MAX];
    const char *in = "%{ir}.%{v}._spf.%{d2}";
    assert_true(spf_expand(in, strlen(in), SPF_MACRO_DOMAIN, &env, out, sizeof out));
    /* The RFC writes the nibbles in lower case, the test suite's explanations in upper
     * case; names compare without case, so either is right for a lookup. */
    assert_int_equal(strcasecmp(out, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0."
                                     "0.2.ip6._spf.example.com"),
                     0);
    check_expand(&env, SPF_MACRO_EXPLAIN, "%{c} via %{v}", "2001:db8::cb01 via ip6");
}

static void test_macro_rules(void **state)
{
    (void)state;
    spf_macro_env env;
    spf_ip ip;
    expand_env(&env, &ip, "192.168.218.40");
    /* %% %_ %- (the suite's macro-mania-in-domain) */
    check_expand(&env, SPF_MACRO_DOMAIN, "macro%%percent%_%_space%-url-space.example.com",
                 "macro%percent  space%20url-space.example.com");
    /* delimiters: several at once, and reversal before taking the rightmost parts */
    env.sender = "foo-bar+zip+quux@e12.example.com";
    check_expand(&env, SPF_MACRO_DOMAIN, "%{l2r+-}.user.%{d2}", "bar.foo.user.example.com");
    env.sender = "philip-gladstone-test@e11.example.com";
    check_expand(&env, SPF_MACRO_DOMAIN, "%{i}.%{l2r-}.user.%{d2}",
                 "192.168.218.40.gladstone.philip.user.example.com");
    /* upper-case letters are URL-escaped (all but RFC 3986 unreserved characters) */
    env.sender = "~jack&jill=up-a_b3.c@e8.example.com";
    check_expand(&env, SPF_MACRO_EXPLAIN, "http://example.com/why.html?l=%{L}",
                 "http://example.com/why.html?l=~jack%26jill%3Dup-a_b3.c");
    env.sender = "Macro Error@e8.example.com";
    check_expand(&env, SPF_MACRO_EXPLAIN, "%{l} in implementation",
                 "Macro Error in implementation");
    check_expand(&env, SPF_MACRO_EXPLAIN, "%{S}", "Macro%20Error%40e8.example.com");
    /* explanation-only letters; a trailing dot stays in text, leaves a name */
    check_expand(&env, SPF_MACRO_EXPLAIN, "%{c} at %{t} by %{r}.",
                 "192.168.218.40 at 1700000000 by unknown.");
    env.receiver = "mx.receiver.example";
    check_expand(&env, SPF_MACRO_EXPLAIN, "%{r}", "mx.receiver.example");
    check_expand(&env, SPF_MACRO_DOMAIN, "%{o}.d.spf.example.com.",
                 "e8.example.com.d.spf.example.com");
    /* p without a resolver is "unknown" */
    env.ptr = NULL;
    check_expand(&env, SPF_MACRO_DOMAIN, "%{p}.example.com", "unknown.example.com");
    /* a delimiter that does not occur leaves the value whole; big digits are all parts */
    check_expand(&env, SPF_MACRO_DOMAIN, "%{o99999}", "e8.example.com");
    check_expand(&env, SPF_MACRO_DOMAIN, "%{o=}", "e8.example.com");

    static const char *const bad_domain[] = {
        "%",    "%x",   "%{",   "%{d",     "%{d0}",   "%{z}", "%{d2r+-", "%(ir)", "a b.example.com",
        "%{c}", "%{r}", "%{t}", "%{dR=x}", "%{d2r2}",
    };
    char out[SPF_NAME_MAX];
    for (size_t i = 0; i < sizeof bad_domain / sizeof bad_domain[0]; i++) {
        const char *s = bad_domain[i];
        if (spf_expand(s, strlen(s), SPF_MACRO_DOMAIN, &env, out, sizeof out))
            fail_msg("accepted: %s", s);
        assert_string_equal(out, "");
        assert_false(spf_macro_valid(s, strlen(s), SPF_MACRO_DOMAIN));
    }
    assert_true(spf_macro_valid("%{c} %{r} %{t}", 14, SPF_MACRO_EXPLAIN));
    assert_false(spf_macro_valid("The %{x}-files.", 15, SPF_MACRO_EXPLAIN));
    assert_false(spf_macro_valid("tab\there", 8, SPF_MACRO_EXPLAIN));
    assert_false(spf_macro_valid("nul\0", 4, SPF_MACRO_EXPLAIN));
}

static void test_macro_truncation(void **state)
{
    (void)state;
    spf_macro_env env;
    spf_ip ip;
    expand_env(&env, &ip, "192.168.218.40");
    env.sender = "test@somewhat.long.exp.example.com";
    /* The suite's domain-name-truncation: 258 characters lose "foobar." */
    const char *in = "foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.example.com";
    char out[SPF_NAME_MAX], want[300] = "";
    assert_true(spf_expand(in, strlen(in), SPF_MACRO_DOMAIN, &env, out, sizeof out));
    for (int i = 0; i < 8; i++)
        strcat(want, "somewhat.long.exp.example.com.");
    strcat(want, "example.com");
    assert_string_equal(out, want);
    assert_int_equal(strlen(out), 251);

    /* Far more than any buffer: the result still ends right and starts on a label. */
    char big[2000] = "";
    for (int i = 0; i < 300; i++)
        strcat(big, "%{d1}.");
    strcat(big, "end.example.com");
    env.domain = "abcdefghij.com";
    assert_true(spf_expand(big, strlen(big), SPF_MACRO_DOMAIN, &env, out, sizeof out));
    assert_true(strlen(out) <= 253 && strlen(out) >= 250);
    assert_string_equal(out + strlen(out) - 16, ".end.example.com");
    assert_memory_equal(out, "com.com.", 8);

    /* A single label longer than 253 characters: no name at all. */
    char label[400];
    memset(label, 'x', 300);
    strcpy(label + 300, "%{d1}");
    assert_true(spf_expand(label, strlen(label), SPF_MACRO_DOMAIN, &env, out, sizeof out));
    assert_string_equal(out, "");

    /* Explanations are cut, not refused. */
    char small[16];
    assert_true(
        spf_expand("%{s} is not allowed", 19, SPF_MACRO_EXPLAIN, &env, small, sizeof small));
    assert_string_equal(small, "test@somewhat.l");
}

static spf_ip ip_of(const char *s)
{
    spf_ip ip;
    if (!spf_ip_parse(s, &ip))
        fail_msg("not an address: %s", s);
    return ip;
}

static void test_cidr(void **state)
{
    (void)state;
    spf_ip a = ip_of("192.0.2.130"), n = ip_of("192.0.2.0");
    assert_true(spf_ip_match(&a, &n, 24));
    assert_true(spf_ip_match(&a, &n, 0));
    assert_false(spf_ip_match(&a, &n, 25));
    assert_false(spf_ip_match(&a, &n, 32));
    spf_ip b = ip_of("192.0.2.131");
    assert_true(spf_ip_match(&b, &a, 31));
    assert_false(spf_ip_match(&b, &a, 32));
    assert_true(spf_ip_match(&a, &a, 32));
    assert_true(spf_ip_match(&a, &a, 99)); /* clamped to the family's width */

    spf_ip c = ip_of("CAFE:BABE:8000::"), net = ip_of("cafe:babe:8000::");
    assert_true(spf_ip_match(&c, &net, 33));
    spf_ip d = ip_of("cafe:babe::1");
    assert_false(spf_ip_match(&d, &net, 33));
    assert_true(spf_ip_match(&d, &net, 32));
    assert_true(spf_ip_match(&d, &net, 0));
    spf_ip e = ip_of("2001:db8:1234::cafe:babe"), f = ip_of("2001:db8:1234::dead:beef");
    assert_true(spf_ip_match(&e, &f, 64));
    assert_false(spf_ip_match(&e, &f, 112));
    /* never across families, even with /0 */
    assert_false(spf_ip_match(&a, &d, 0));
    assert_false(spf_ip_match(&d, &a, 0));

    unsigned p;
    assert_true(spf_cidr_parse("127.0.0.0/8", &n, &p));
    assert_int_equal(n.family, 4);
    assert_int_equal(p, 8);
    spf_ip lo = ip_of("127.1.2.3");
    assert_true(spf_ip_match(&lo, &n, p));
    assert_true(spf_cidr_parse("::1", &n, &p));
    assert_int_equal(p, 128);
    assert_true(spf_cidr_parse("10.1.2.3", &n, &p));
    assert_int_equal(p, 32);
    assert_true(spf_cidr_parse("2001:db8::/32", &n, &p));
    assert_int_equal(n.family, 6);
    static const char *const bad[] = {"",         "/8",          "127.0.0.0/33",
                                      "::1/129",  "10.0.0.0/",   "10.0.0.0/x",
                                      "10.0.0/8", "example.com", "10.0.0.0/0008"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (spf_cidr_parse(bad[i], &n, &p))
            fail_msg("accepted: %s", bad[i]);
}

static void test_ipv4_mapped(void **state)
{
    (void)state;
    spf_ip m = ip_of("::FFFF:1.2.3.4"), v4 = ip_of("1.2.3.4");
    assert_int_equal(m.family, 4);
    assert_memory_equal(m.a, v4.a, 4);
    assert_true(spf_ip_match(&m, &v4, 32));
    /* an ip6: network (even a mapped one) never matches an IPv4 client */
    spf_record *r = parse("v=spf1 ip6:::FFFF:1.2.3.4 ip6:::1.1.1.1/0");
    assert_non_null(r);
    assert_int_equal(r->terms[0].net.family, 6);
    assert_false(spf_ip_match(&m, &r->terms[0].net, r->terms[0].cidr6));
    assert_false(spf_ip_match(&m, &r->terms[1].net, r->terms[1].cidr6));
    spf_record_destroy(&r);
    /* an IPv4-compatible address (::1.2.3.4) is IPv6 */
    assert_int_equal(ip_of("::1.2.3.4").family, 6);
    char t[64];
    spf_ip_text(&m, t, sizeof t);
    assert_string_equal(t, "1.2.3.4");
    spf_macro_env env = {.sender = "a@b.example", .domain = "b.example", .ip = &m};
    char out[SPF_NAME_MAX];
    assert_true(spf_expand("%{ir}.%{v}.arpa", 15, SPF_MACRO_DOMAIN, &env, out, sizeof out));
    assert_string_equal(out, "4.3.2.1.in-addr.arpa");
    /* trusted networks written as mapped addresses are IPv4 networks */
    spf_ip net;
    unsigned p;
    assert_true(spf_cidr_parse("::ffff:127.0.0.0/104", &net, &p));
    assert_int_equal(net.family, 4);
    assert_int_equal(p, 8);
    assert_false(spf_ip_parse("1.2.3", &net));
    assert_false(spf_ip_parse("1.2.3.4.5", &net));
    assert_false(spf_ip_parse("", &net));
}

static void test_identity_domain(void **state)
{
    (void)state;
    char d[SPF_NAME_MAX];
    assert_true(
        spf_identity_domain(SPF_ID_MAILFROM, "mx.example.net", "foo@Example.COM.", d, sizeof d));
    assert_string_equal(d, "example.com");
    assert_true(spf_identity_domain(SPF_ID_MAILFROM, "mx.example.net", "", d, sizeof d));
    assert_string_equal(d, "mx.example.net");
    assert_true(spf_identity_domain(SPF_ID_MAILFROM, "mx.example.net", NULL, d, sizeof d));
    assert_string_equal(d, "mx.example.net");
    assert_true(spf_identity_domain(SPF_ID_MAILFROM, "h", "@example.net", d, sizeof d));
    assert_string_equal(d, "example.net");
    assert_true(spf_identity_domain(SPF_ID_HELO, "Mail.Example.Net", "a@b.example", d, sizeof d));
    assert_string_equal(d, "mail.example.net");
    assert_true(spf_identity_domain(SPF_ID_MAILFROM, "h", "\"a@b\"@c.example", d, sizeof d));
    assert_string_equal(d, "c.example");
    /* 4.3: malformed or single-label domains are none */
    static const char *const bad[] = {
        "foo@A123456789012345678901234567890123456789012345678901234567890123.example.com",
        "foo@A...example.com",
        "foo@[1.2.3.5]",
        "foo@localhost",
        "foo@1.2.3.4",
        "nodomain",
        "foo@",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (spf_identity_domain(SPF_ID_MAILFROM, "mx.example.net", bad[i], d, sizeof d))
            fail_msg("accepted: %s", bad[i]);
        assert_string_equal(d, "");
    }
    assert_false(spf_identity_domain(SPF_ID_MAILFROM, "A2345678", "", d, sizeof d));
    assert_false(spf_identity_domain(SPF_ID_HELO, "[1.2.3.5]", "a@b.example", d, sizeof d));
    assert_true(
        spf_identity_domain(SPF_ID_MAILFROM, "x",
                            "foo@A12345678901234567890123456789012345678901234567890123456789"
                            "012.example.com",
                            d, sizeof d));
}

static void test_result_names(void **state)
{
    (void)state;
    assert_string_equal(spf_result_name(SPF_PASS), "pass");
    assert_string_equal(spf_result_name(SPF_FAIL), "fail");
    assert_string_equal(spf_result_name(SPF_SOFTFAIL), "softfail");
    assert_string_equal(spf_result_name(SPF_NEUTRAL), "neutral");
    assert_string_equal(spf_result_name(SPF_NONE), "none");
    assert_string_equal(spf_result_name(SPF_TEMPERROR), "temperror");
    assert_string_equal(spf_result_name(SPF_PERMERROR), "permerror");
}

/* A loopback UDP port nothing listens on. */
static pipeline *check_pipeline(const char *trusted, char *err, size_t errlen)
{
    params *cfg = params_new(&params_cluster);
    const char *kv[] = {"check.clamav.enabled",       "no",   "check.rules.enabled", "no",
                        "check.spf.trusted_networks", trusted};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i += 2)
        if (!params_set(cfg, kv[i], kv[i + 1], err, errlen))
            fail_msg("params_set %s: %s", kv[i], err);
    pipeline *p = pipeline_new(cfg, 1, err, errlen);
    params_destroy(&cfg);
    return p;
}

static const char msg[] = "From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n";

/* Scans msg with this envelope; how many SPF_* symbols it got, and the auth results. */
static size_t spf_symbols(pipeline *p, const char *ip, const char *helo, const char *from,
                          const char *auth_user, auth_results *auth)
{
    Bulwark__Envelope env;
    bulwark__envelope__init(&env);
    env.client_ip = (char *)ip;
    env.helo = (char *)helo;
    env.mail_from = (char *)from;
    env.auth_user = (char *)auth_user;
    scan_task *t = scan_task_new(p, "spf-1", &env, (const uint8_t *)msg, strlen(msg));
    scan_run(t);
    const Bulwark__ScanResult *r = scan_result(t);
    size_t n = 0;
    for (size_t i = 0; i < r->n_symbols; i++)
        if (strncmp(r->symbols[i]->name, "SPF_", 4) == 0) {
            n++;
            assert_string_equal(r->symbols[i]->name, "SPF_TEMPERROR");
        }
    *auth = *task_auth(t);
    scan_task_destroy(&t);
    return n;
}

static void test_check_applies(void **state)
{
    (void)state;
    dns_opts o;
    dns_opts_default(&o);
    char fwd[32], err[512];
    snprintf(fwd, sizeof fwd, "127.0.0.1:%d", testnet_closed_port(SOCK_DGRAM));
    strlist_add(&o.forwarders, fwd);
    o.timeout_ms = 200;
    dns_resolver *r = dns_new(&o, err, sizeof err);
    strlist_free(&o.forwarders);
    assert_non_null(r);
    dns_process_set(r);
    pipeline *p = check_pipeline("127.0.0.0/8, 2001:db8::/32 192.0.2.128/25", err, sizeof err);
    assert_non_null(p);
    auth_results a;

    /* checked: the DNS server is down, so a temperror, recorded for DMARC */
    assert_int_equal(spf_symbols(p, "192.0.2.1", "mx.example.net", "a@Example.COM", "", &a), 1);
    assert_true(a.spf_done);
    assert_int_equal(a.spf, SPF_TEMPERROR);
    assert_string_equal(a.spf_domain, "example.com");
    /* a null sender is checked once, as postmaster@HELO */
    assert_int_equal(spf_symbols(p, "192.0.2.1", "mx.example.net", "", "", &a), 1);
    assert_string_equal(a.spf_domain, "mx.example.net");
    /* an IPv4-mapped client outside the trusted networks is checked */
    assert_int_equal(spf_symbols(p, "::ffff:192.0.2.1", "h.example", "a@example.com", NULL, &a), 1);

    /* skipped: authenticated, trusted (both families, mapped too), no or a bad address */
    assert_int_equal(spf_symbols(p, "192.0.2.1", "h.example", "a@example.com", "alice", &a), 0);
    assert_false(a.spf_done);
    assert_int_equal(spf_symbols(p, "127.0.0.2", "h.example", "a@example.com", "", &a), 0);
    assert_int_equal(spf_symbols(p, "192.0.2.200", "h.example", "a@example.com", "", &a), 0);
    assert_int_equal(spf_symbols(p, "::ffff:192.0.2.200", "h.example", "a@example.com", "", &a), 0);
    assert_int_equal(spf_symbols(p, "2001:db8::25", "h.example", "a@example.com", "", &a), 0);
    assert_int_equal(spf_symbols(p, "", "h.example", "a@example.com", "", &a), 0);
    assert_int_equal(spf_symbols(p, NULL, "h.example", "a@example.com", "", &a), 0);
    assert_int_equal(spf_symbols(p, "unknown", "h.example", "a@example.com", "", &a), 0);
    assert_false(a.spf_done);
    pipeline_release(&p);

    /* a network that is not one refuses the configuration, naming it */
    assert_null(check_pipeline("10.0.0.0/8, 10.1.2/24", err, sizeof err));
    assert_non_null(strstr(err, "check.spf.trusted_networks: '10.1.2/24'"));

    /* without a resolver the check says nothing */
    dns_process_set(NULL);
    dns_destroy(&r);
    p = check_pipeline("", err, sizeof err);
    assert_int_equal(spf_symbols(p, "192.0.2.1", "h.example", "a@example.com", "", &a), 0);
    assert_false(a.spf_done);
    pipeline_release(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_record),
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_macro_rfc_examples),
        cmocka_unit_test(test_macro_rules),
        cmocka_unit_test(test_macro_truncation),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_ipv4_mapped),
        cmocka_unit_test(test_identity_domain),
        cmocka_unit_test(test_result_names),
        cmocka_unit_test(test_check_applies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
