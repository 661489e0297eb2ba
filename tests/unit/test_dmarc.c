/* test_dmarc.c - DMARC records, the From domain, alignment, discovery and the policy.
 *
 * Records are the shapes RFC 7489 section 6 allows and the ones it says to survive
 * (bad optional values fall back to defaults, a bad p= with rua= is p=none). Alignment
 * uses the real public suffix list through libpsl (co.uk and other multi-label
 * suffixes). Discovery is given its DNS answers from a table in memory, since the
 * point here is which names are asked and what each answer leads to; the resolver
 * itself is tested with a real DNS server in tests/integration/test_dmarc.py. */
#include "dmarc.h"
#include "pipeline.h"
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool parse(const char *txt, dmarc_record *r)
{
    char err[200];
    return dmarc_record_parse(txt, strlen(txt), r, err, sizeof err);
}

static void test_record_valid(void **state)
{
    (void)state;
    dmarc_record r;
    assert_true(parse("v=DMARC1; p=reject", &r));
    assert_int_equal(r.p, DMARC_POLICY_REJECT);
    assert_int_equal(r.sp, DMARC_POLICY_REJECT); /* sp inherits p */
    assert_false(r.sp_set);
    assert_int_equal(r.pct, 100);
    assert_false(r.adkim_strict);
    assert_false(r.aspf_strict);
    assert_int_equal(r.ri, 86400);
    assert_string_equal(r.fo, "0");
    assert_int_equal(r.nrua, 0);

    assert_true(parse("v=DMARC1;p=quarantine;sp=none;adkim=s;aspf=r;pct=25;ri=3600;fo=1:d;"
                      "rua=mailto:agg@example.com,mailto:third@reports.example.net!10m;"
                      "ruf=mailto:f@example.com;rf=afrf;",
                      &r));
    assert_int_equal(r.p, DMARC_POLICY_QUARANTINE);
    assert_int_equal(r.sp, DMARC_POLICY_NONE);
    assert_true(r.sp_set);
    assert_true(r.adkim_strict);
    assert_false(r.aspf_strict);
    assert_int_equal(r.pct, 25);
    assert_int_equal(r.ri, 3600);
    assert_string_equal(r.fo, "1:d");
    assert_int_equal(r.nrua, 2);
    assert_string_equal(r.rua[0], "agg@example.com");
    assert_string_equal(r.rua[1], "third@reports.example.net");
    assert_true(r.ruf);
    assert_string_equal(r.notes, "");

    /* White space around tags and '=', upper-case tag names and values, unknown tags. */
    assert_true(parse("  v = DMARC1 ;  P = Reject ; X-Future = 1 ; pct = 0 ;", &r));
    assert_int_equal(r.p, DMARC_POLICY_REJECT);
    assert_int_equal(r.pct, 0);
    /* Percent-encoded address, a query part, a size suffix with a unit. */
    assert_true(parse("v=DMARC1; p=none; rua=mailto:dmarc%2Breports@EXAMPLE.org?subject=x!5k", &r));
    assert_int_equal(r.nrua, 1);
    assert_string_equal(r.rua[0], "dmarc+reports@example.org");
    /* np= (RFC 9091) defaults to sp=. */
    assert_true(parse("v=DMARC1; p=reject; sp=quarantine", &r));
    assert_int_equal(r.np, DMARC_POLICY_QUARANTINE);
    assert_true(parse("v=DMARC1; p=reject; np=none", &r));
    assert_int_equal(r.np, DMARC_POLICY_NONE);
    assert_true(r.np_set);
}

static void test_record_invalid(void **state)
{
    (void)state;
    dmarc_record r;
    char err[200];
    const char *bad[] = {
        "",
        "v=DMARC2; p=reject",
        "v=dmarc1; p=reject", /* the version's letters are exact (%x in the ABNF) */
        "p=reject; v=DMARC1", /* v= must come first */
        "v=DMARC1x; p=reject",
        "v=DMARC1", /* no p=, no rua= */
        "v=DMARC1; p=block", /* invalid p= */
        "v=DMARC1; p=reject; sp=deny", /* invalid sp= */
        "v=DMARC1; p=reject; sp=deny; rua=foo", /* rua= without a valid URI */
        "v=DMARC1; rua=https://example.com/r", /* only mailto: counts */
        "v=spf1 -all",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (dmarc_record_parse(bad[i], strlen(bad[i]), &r, err, sizeof err))
            fail_msg("accepted '%s'", bad[i]);
        assert_true(strlen(err) > 0);
    }
    assert_false(dmarc_is_record("v=DMARC1x", 9));
    assert_true(dmarc_is_record("v=DMARC1", 8));
    assert_true(dmarc_is_record("v=DMARC1;", 9));
    /* A NUL inside the bytes makes the rest unreadable, never a crash. */
    assert_false(dmarc_record_parse("v=DMARC1; p=\0reject", 19, &r, err, sizeof err));
    /* Too long. */
    char *big = xmalloc(DMARC_RECORD_MAX + 100);
    memset(big, ' ', DMARC_RECORD_MAX + 99);
    memcpy(big, "v=DMARC1; p=reject;", 19);
    big[DMARC_RECORD_MAX + 99] = '\0';
    assert_false(dmarc_record_parse(big, strlen(big), &r, err, sizeof err));
    free(big);
}

static void test_record_fallbacks(void **state)
{
    (void)state;
    dmarc_record r;
    /* 6.6.3: no valid p=, but a valid rua=: act as p=none so reports still flow. */
    assert_true(parse("v=DMARC1; rua=mailto:d@example.com", &r));
    assert_true(r.p_fallback);
    assert_int_equal(r.p, DMARC_POLICY_NONE);
    assert_int_equal(r.sp, DMARC_POLICY_NONE);
    assert_non_null(strstr(r.notes, "p= missing"));
    assert_true(parse("v=DMARC1; p=bogus; rua=mailto:d@example.com", &r));
    assert_true(r.p_fallback);
    assert_non_null(strstr(r.notes, "p= invalid"));
    assert_true(parse("v=DMARC1; p=reject; sp=bogus; rua=mailto:d@example.com", &r));
    assert_int_equal(r.p, DMARC_POLICY_NONE);
    assert_int_equal(r.sp, DMARC_POLICY_NONE);
    /* 6.3: bad optional values are ignored in favour of the defaults, and noted. */
    assert_true(parse("v=DMARC1; p=reject; pct=150; adkim=x; aspf=strict; ri=soon; fo=2", &r));
    assert_int_equal(r.p, DMARC_POLICY_REJECT);
    assert_int_equal(r.pct, 100);
    assert_false(r.adkim_strict);
    assert_false(r.aspf_strict);
    assert_int_equal(r.ri, 86400);
    assert_string_equal(r.fo, "0");
    assert_non_null(strstr(r.notes, "pct=150 ignored"));
    assert_non_null(strstr(r.notes, "adkim=x ignored"));
    assert_true(parse("v=DMARC1; p=reject; pct=-5", &r));
    assert_int_equal(r.pct, 100);
    /* A second p= is ignored: the first stands. */
    assert_true(parse("v=DMARC1; p=none; p=reject", &r));
    assert_int_equal(r.p, DMARC_POLICY_NONE);
    assert_non_null(strstr(r.notes, "second p="));
    /* A piece without '=' is skipped, not fatal. */
    assert_true(parse("v=DMARC1; garbage; p=quarantine", &r));
    assert_int_equal(r.p, DMARC_POLICY_QUARANTINE);
    /* Bad rua URIs are dropped, good ones kept, duplicates once; at most DMARC_RUA_MAX. */
    assert_true(parse("v=DMARC1; p=none; rua=mailto:a@x.example, http://x/, mailto:bad, "
                      "mailto:A@x.example, mailto:b@x.example, mailto:c@x.example, "
                      "mailto:d@x.example, mailto:e@x.example",
                      &r));
    assert_int_equal(r.nrua, DMARC_RUA_MAX);
    assert_string_equal(r.rua[0], "a@x.example");
    assert_string_equal(r.rua[1], "b@x.example");
}

static void test_from_domain(void **state)
{
    (void)state;
    char d[DMARC_NAME_MAX], why[200];
    struct {
        const char *value, *domain;
    } good[] = {
        {"alice@Example.COM", "example.com"},
        {"Alice <alice@mail.example.com>", "mail.example.com"},
        {"\"Doe, John\" <john@example.org>", "example.org"},
        {"\"a@evil.example\" <real@good.example>", "good.example"},
        {"(comment@evil.example) user@good.example (another)", "good.example"},
        {"user@good.example.", "good.example"},
        {"a@x.example, b@x.example", "x.example"}, /* several, one domain */
        {"friends: a@x.example, b@x.example;", "x.example"},
        {"=?UTF-8?B?w4lsb2RpZQ==?= <elodie@example.fr>", "example.fr"},
        {"user @ example . net", "example.net"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!dmarc_from_value(good[i].value, d, sizeof d, why, sizeof why))
            fail_msg("'%s' refused: %s", good[i].value, why);
        assert_string_equal(d, good[i].domain);
    }
    struct {
        const char *value, *why;
    } bad[] = {
        {"", "no address"},
        {"Just A Name", "no address"},
        {"undisclosed-recipients:;", "no address"},
        {"<>", "no address"},
        {"a@x.example, b@y.example", "different domains"},
        {"user@[192.0.2.1]", "domain literal"},
        {"user@exa mple..com", "not a name"},
        {"user@bad_char!.example", "not a name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (dmarc_from_value(bad[i].value, d, sizeof d, why, sizeof why))
            fail_msg("'%s' accepted as %s", bad[i].value, d);
        assert_non_null(strstr(why, bad[i].why));
    }
    /* The header block: exactly one From field. */
    const char two[] = "From: a@x.example\r\nFrom: b@x.example\r\nSubject: s\r\n\r\nbody\r\n";
    hdr_block *h = hdr_parse(two, sizeof two - 1);
    assert_false(dmarc_from_domain(h, d, sizeof d, why, sizeof why));
    assert_string_equal(why, "2 From fields");
    hdr_destroy(&h);
    const char none[] = "Subject: s\r\n\r\nbody\r\n";
    h = hdr_parse(none, sizeof none - 1);
    assert_false(dmarc_from_domain(h, d, sizeof d, why, sizeof why));
    assert_string_equal(why, "no From field");
    hdr_destroy(&h);
    const char one[] = "From: Bob\r\n <bob@Sub.Example.co.uk>\r\n\r\nbody\r\n";
    h = hdr_parse(one, sizeof one - 1);
    assert_true(dmarc_from_domain(h, d, sizeof d, why, sizeof why));
    assert_string_equal(d, "sub.example.co.uk");
    hdr_destroy(&h);
}

static void test_org_domain_and_alignment(void **state)
{
    (void)state;
    char o[DMARC_NAME_MAX];
    dmarc_org_domain("mail.example.com", o, sizeof o);
    assert_string_equal(o, "example.com");
    dmarc_org_domain("a.b.example.co.uk", o, sizeof o);
    assert_string_equal(o, "example.co.uk");
    dmarc_org_domain("example.co.uk", o, sizeof o);
    assert_string_equal(o, "example.co.uk");
    dmarc_org_domain("x.y.city.kawasaki.jp", o, sizeof o); /* an exception rule */
    assert_string_equal(o, "city.kawasaki.jp");
    dmarc_org_domain("co.uk", o, sizeof o); /* a public suffix: itself */
    assert_string_equal(o, "co.uk");
    dmarc_org_domain("mx.shop.test", o, sizeof o); /* no known suffix: the '*' rule */
    assert_string_equal(o, "shop.test");

    /* strict: the same name only */
    assert_true(dmarc_aligned("example.com", "example.com", true));
    assert_true(dmarc_aligned("EXAMPLE.com", "example.com", true));
    assert_false(dmarc_aligned("mail.example.com", "example.com", true));
    /* relaxed: the same organisational domain */
    assert_true(dmarc_aligned("mail.example.com", "example.com", false));
    assert_true(dmarc_aligned("example.com", "news.example.com", false));
    assert_true(dmarc_aligned("a.example.co.uk", "b.example.co.uk", false));
    assert_false(dmarc_aligned("example.co.uk", "other.co.uk", false)); /* co.uk is a suffix */
    assert_false(dmarc_aligned("evil-example.com", "example.com", false));
    assert_false(dmarc_aligned("example.com.evil.net", "example.com", false));
    assert_false(dmarc_aligned("", "example.com", false));
    assert_false(dmarc_aligned(NULL, "example.com", false));
}

/* ---- discovery with answers from a table ---- */

typedef struct {
    const char *name;
    dns_status status;
    const char *txt[3];
} fake_rr;

typedef struct {
    const fake_rr *table;
    size_t n;
    char asked[8][300];
    size_t nasked;
    dns_answer ans;
    dns_rr rr[3];
} fake_dns;

static const dns_answer *fake_lookup(void *arg, const char *name)
{
    fake_dns *f = arg;
    if (f->nasked < 8)
        snprintf(f->asked[f->nasked++], sizeof f->asked[0], "%s", name);
    memset(&f->ans, 0, sizeof f->ans);
    f->ans.status = DNS_NXDOMAIN;
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->table[i].name, name) != 0)
            continue;
        f->ans.status = f->table[i].status;
        f->ans.rr = f->rr;
        for (size_t k = 0; k < 3 && f->table[i].txt[k]; k++) {
            f->rr[k].type = DNS_T_TXT;
            f->rr[k].u.txt.data = (char *)f->table[i].txt[k];
            f->rr[k].u.txt.len = strlen(f->table[i].txt[k]);
            f->rr[k].u.txt.nstrings = 1;
            f->ans.n++;
        }
    }
    return &f->ans;
}

static const fake_rr zone[] = {
    {"_dmarc.example.com", DNS_OK, {"v=DMARC1; p=reject; sp=quarantine", "some other text"}},
    {"_dmarc.own.example.com", DNS_OK, {"v=DMARC1; p=none"}},
    {"_dmarc.example.co.uk", DNS_OK, {"v=DMARC1; p=quarantine"}},
    {"_dmarc.two.example", DNS_OK, {"v=DMARC1; p=reject", "v=DMARC1; p=none"}},
    {"_dmarc.broken.example", DNS_OK, {"v=DMARC1; p=nope"}},
    {"_dmarc.slow.example", DNS_TIMEOUT, {NULL}},
    {"_dmarc.sub.fail.example", DNS_SERVFAIL, {NULL}},
    {"_dmarc.fail.example", DNS_OK, {"v=DMARC1; p=reject"}},
    {"_dmarc.nodata.example", DNS_NODATA, {NULL}},
};

static void discover(fake_dns *f, const char *from, dmarc_found *out)
{
    memset(f, 0, sizeof *f);
    f->table = zone;
    f->n = sizeof zone / sizeof zone[0];
    dmarc_discover(from, fake_lookup, f, out);
}

static void test_discovery(void **state)
{
    (void)state;
    fake_dns f;
    dmarc_found found;
    discover(&f, "example.com", &found);
    assert_int_equal(found.status, DMARC_DISC_FOUND);
    assert_string_equal(found.domain, "example.com");
    assert_false(found.at_org);
    assert_int_equal(f.nasked, 1);

    /* A subdomain without a record of its own: the organisational domain's. */
    discover(&f, "mail.example.com", &found);
    assert_int_equal(found.status, DMARC_DISC_FOUND);
    assert_string_equal(found.domain, "example.com");
    assert_true(found.at_org);
    assert_int_equal(f.nasked, 2);
    assert_string_equal(f.asked[0], "_dmarc.mail.example.com");
    assert_string_equal(f.asked[1], "_dmarc.example.com");

    /* A subdomain with its own record: that one. */
    discover(&f, "own.example.com", &found);
    assert_string_equal(found.domain, "own.example.com");
    assert_false(found.at_org);
    assert_int_equal(found.rec.p, DMARC_POLICY_NONE);

    /* Multi-label public suffix: the org domain of a.b.example.co.uk is example.co.uk,
     * never co.uk. */
    discover(&f, "a.b.example.co.uk", &found);
    assert_int_equal(found.status, DMARC_DISC_FOUND);
    assert_string_equal(found.domain, "example.co.uk");
    assert_string_equal(f.asked[1], "_dmarc.example.co.uk");

    /* Several DMARC records: no policy. */
    discover(&f, "two.example", &found);
    assert_int_equal(found.status, DMARC_DISC_NONE);
    assert_non_null(strstr(found.why, "2 DMARC records"));
    /* A record that does not parse: no policy there. */
    discover(&f, "broken.example", &found);
    assert_int_equal(found.status, DMARC_DISC_NONE);
    assert_non_null(strstr(found.why, "p= invalid"));
    /* Timeout and SERVFAIL: temperror, and no fallback to the org domain. */
    discover(&f, "slow.example", &found);
    assert_int_equal(found.status, DMARC_DISC_TEMPFAIL);
    assert_non_null(strstr(found.why, "timeout"));
    discover(&f, "sub.fail.example", &found);
    assert_int_equal(found.status, DMARC_DISC_TEMPFAIL);
    assert_int_equal(f.nasked, 1);
    /* Nothing anywhere. */
    discover(&f, "x.nodata.example", &found);
    assert_int_equal(found.status, DMARC_DISC_NONE);
    assert_int_equal(f.nasked, 2);
    discover(&f, "nowhere.example", &found);
    assert_int_equal(found.status, DMARC_DISC_NONE);
    assert_int_equal(f.nasked, 1); /* it is its own org domain: one question */
}

/* ---- evaluation ---- */

static dmarc_found found_with(const char *record, const char *domain, bool at_org)
{
    dmarc_found f;
    memset(&f, 0, sizeof f);
    char err[200];
    assert_true(dmarc_record_parse(record, strlen(record), &f.rec, err, sizeof err));
    f.status = DMARC_DISC_FOUND;
    snprintf(f.domain, sizeof f.domain, "%s", domain);
    f.at_org = at_org;
    return f;
}

static void test_evaluate_alignment(void **state)
{
    (void)state;
    dmarc_outcome o;
    dmarc_found f = found_with("v=DMARC1; p=reject", "example.com", false);
    dmarc_input in = {.from_domain = "example.com", .job_id = "j1"};

    /* SPF passed for the MAIL FROM domain, relaxed: a subdomain aligns. */
    in.spf_domain = "bounces.example.com";
    in.spf = DMARC_AUTH_PASS;
    dmarc_evaluate(&in, &f, &o);
    assert_int_equal(o.result, DMARC_RES_PASS);
    assert_true(o.spf_aligned);
    assert_false(o.dkim_aligned);
    assert_int_equal(o.disposition, DMARC_POLICY_NONE);
    /* aspf=s: it does not. */
    dmarc_found fs = found_with("v=DMARC1; p=reject; aspf=s", "example.com", false);
    dmarc_evaluate(&in, &fs, &o);
    assert_int_equal(o.result, DMARC_RES_FAIL);
    assert_int_equal(o.disposition, DMARC_POLICY_REJECT);
    /* SPF passed, but for another organisation's domain. */
    in.spf_domain = "mailer.esp.example";
    dmarc_evaluate(&in, &f, &o);
    assert_int_equal(o.result, DMARC_RES_FAIL);
    assert_false(o.spf_aligned);

    /* DKIM only: a passing signature of an aligned domain. */
    dmarc_dkim sigs[] = {
        {"esp.example", "s1", DMARC_AUTH_PASS},
        {"mail.example.com", "k1", DMARC_AUTH_FAIL},
        {"news.example.com", "k2", DMARC_AUTH_PASS},
    };
    in.dkim = sigs;
    in.ndkim = 3;
    dmarc_evaluate(&in, &f, &o);
    assert_int_equal(o.result, DMARC_RES_PASS);
    assert_true(o.dkim_aligned);
    assert_string_equal(o.dkim_domain, "news.example.com");
    /* adkim=s: news.example.com is not example.com. */
    dmarc_found fd = found_with("v=DMARC1; p=quarantine; adkim=s", "example.com", false);
    dmarc_evaluate(&in, &fd, &o);
    assert_int_equal(o.result, DMARC_RES_FAIL);
    assert_int_equal(o.disposition, DMARC_POLICY_QUARANTINE);

    /* A temporary error on an aligned identifier (and no pass): temperror. */
    dmarc_dkim temp[] = {{"example.com", "k", DMARC_AUTH_TEMPERROR}};
    in.dkim = temp;
    in.ndkim = 1;
    dmarc_evaluate(&in, &f, &o);
    assert_int_equal(o.result, DMARC_RES_TEMPERROR);
    assert_int_equal(o.disposition, DMARC_POLICY_NONE);
    /* ... but not on an unaligned one. */
    dmarc_dkim other[] = {{"esp.example", "k", DMARC_AUTH_TEMPERROR}};
    in.dkim = other;
    dmarc_evaluate(&in, &f, &o);
    assert_int_equal(o.result, DMARC_RES_FAIL);
}

static void test_evaluate_policy_choice(void **state)
{
    (void)state;
    dmarc_outcome o;
    dmarc_input in = {.job_id = "j1"};
    /* The From domain itself publishes: p=. */
    dmarc_found f = found_with("v=DMARC1; p=reject; sp=none", "example.com", false);
    in.from_domain = "example.com";
    dmarc_evaluate(&in, &f, &o);
    assert_false(o.used_sp);
    assert_int_equal(o.requested, DMARC_POLICY_REJECT);
    assert_int_equal(o.disposition, DMARC_POLICY_REJECT);
    /* A subdomain found its policy at the organisational domain: sp=. */
    f.at_org = true;
    in.from_domain = "mail.example.com";
    dmarc_evaluate(&in, &f, &o);
    assert_true(o.used_sp);
    assert_int_equal(o.requested, DMARC_POLICY_NONE);
    assert_int_equal(o.disposition, DMARC_POLICY_NONE);
    assert_int_equal(o.result, DMARC_RES_FAIL);
    /* Without sp=, subdomains inherit p=. */
    dmarc_found g = found_with("v=DMARC1; p=quarantine", "example.com", true);
    dmarc_evaluate(&in, &g, &o);
    assert_true(o.used_sp);
    assert_int_equal(o.disposition, DMARC_POLICY_QUARANTINE);

    /* No policy, temperror of the lookup. */
    dmarc_found none = {.status = DMARC_DISC_NONE};
    dmarc_evaluate(&in, &none, &o);
    assert_int_equal(o.result, DMARC_RES_NONE);
    dmarc_found temp = {.status = DMARC_DISC_TEMPFAIL};
    dmarc_evaluate(&in, &temp, &o);
    assert_int_equal(o.result, DMARC_RES_TEMPERROR);
    assert_int_equal(o.disposition, DMARC_POLICY_NONE);
}

static void test_evaluate_pct(void **state)
{
    (void)state;
    /* The draw is a pure function of the job id. */
    assert_int_equal(dmarc_sample("job-1"), dmarc_sample("job-1"));
    unsigned hist[100] = {0};
    char id[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "ctl-%d", i);
        unsigned s = dmarc_sample(id);
        assert_true(s < 100);
        hist[s]++;
    }
    for (int i = 0; i < 100; i++) /* roughly uniform: 100 per value, none starved */
        assert_true(hist[i] > 40 && hist[i] < 180);

    dmarc_outcome o;
    dmarc_input in = {.from_domain = "example.com"};
    /* pct=0: never selected; reject becomes quarantine, quarantine becomes none. */
    dmarc_found r0 = found_with("v=DMARC1; p=reject; pct=0", "example.com", false);
    dmarc_found q0 = found_with("v=DMARC1; p=quarantine; pct=0", "example.com", false);
    dmarc_found q100 = found_with("v=DMARC1; p=quarantine; pct=100", "example.com", false);
    dmarc_found q50 = found_with("v=DMARC1; p=quarantine; pct=50", "example.com", false);
    size_t enforced = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "job-%d", i);
        in.job_id = id;
        dmarc_evaluate(&in, &r0, &o);
        assert_int_equal(o.result, DMARC_RES_FAIL);
        assert_true(o.sampled_out);
        assert_int_equal(o.disposition, DMARC_POLICY_QUARANTINE);
        dmarc_evaluate(&in, &q0, &o);
        assert_true(o.sampled_out);
        assert_int_equal(o.disposition, DMARC_POLICY_NONE);
        dmarc_evaluate(&in, &q100, &o);
        assert_false(o.sampled_out);
        assert_int_equal(o.disposition, DMARC_POLICY_QUARANTINE);
        dmarc_evaluate(&in, &q50, &o);
        assert_int_equal(o.sampled_out, o.sample >= 50);
        enforced += o.disposition == DMARC_POLICY_QUARANTINE;
    }
    assert_true(enforced > 420 && enforced < 580);
    /* p=none is never "sampled out": there is nothing milder. */
    dmarc_found n0 = found_with("v=DMARC1; p=none; pct=0", "example.com", false);
    in.job_id = "x";
    dmarc_evaluate(&in, &n0, &o);
    assert_false(o.sampled_out);
}

/* The evaluation attached to a scan result is the task's own copy: the caller's strings
 * may go away (ASan sees any use after free). */
static void test_result_copy(void **state)
{
    (void)state;
    char err[256];
    params *cfg = params_new(&params_cluster);
    pipeline *p = pipeline_new(cfg, 1, err, sizeof err);
    assert_non_null(p);
    params_destroy(&cfg);
    scan_task *t = scan_task_new(p, "job-copy", NULL, (const uint8_t *)"", 0);
    char *dom = xstrdup("example.com"), *rua = xstrdup("agg@example.com"), *sel = xstrdup("s1");
    Bulwark__DmarcDkim k = BULWARK__DMARC_DKIM__INIT, *kv[] = {&k};
    k.domain = dom;
    k.selector = sel;
    k.result = "pass";
    Bulwark__DmarcResult d = BULWARK__DMARC_RESULT__INIT;
    d.from_domain = dom;
    d.policy_domain = dom;
    d.rua = &rua;
    d.n_rua = 1;
    d.p = "reject";
    d.pct = 40;
    d.dkim = kv;
    d.n_dkim = 1;
    task_set_dmarc(t, &d);
    free(dom);
    free(rua);
    free(sel);
    const Bulwark__DmarcResult *r = scan_result(t)->dmarc;
    assert_non_null(r);
    assert_string_equal(r->from_domain, "example.com");
    assert_string_equal(r->rua[0], "agg@example.com");
    assert_string_equal(r->dkim[0]->selector, "s1");
    assert_string_equal(r->sp, ""); /* unset strings become "" for the packer */
    assert_int_equal(r->pct, 40);
    scan_task_destroy(&t);
    pipeline_release(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_valid),
        cmocka_unit_test(test_record_invalid),
        cmocka_unit_test(test_record_fallbacks),
        cmocka_unit_test(test_from_domain),
        cmocka_unit_test(test_org_domain_and_alignment),
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_evaluate_alignment),
        cmocka_unit_test(test_evaluate_policy_choice),
        cmocka_unit_test(test_evaluate_pct),
        cmocka_unit_test(test_result_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
