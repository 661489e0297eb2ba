/* test_unicode.c - unit tests for node/unicode.c and the header check's address,
 * impersonation, Received and RFC 2047 symbols (node/checks/headers.c).
 *
 * The first half drives the uni_ functions directly: skeletons ("раураl.com" against
 * "paypal.com"), mixed scripts word by word (no false positive on pure Cyrillic, CJK,
 * Korean, Greek, or a Cyrillic subject that names a Latin brand), whole-script
 * lookalikes, IDNA, and the RFC 2047 decoder with what it counts. The second half
 * scans messages through a pipeline with check.headers.protected_domains set and
 * reads the symbols, their weights and details; legitimate mail (a subdomain of the
 * protected domain, a mailing list, an ordinary Received chain) must score 0. */
#include "pipeline.h"
#include "unicode.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define assert_dbl(a, b)                                                                           \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= 1e-9))                                                              \
            fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);                                    \
    } while (0)

/* ---- unicode.c ---------------------------------------------------------------------- */

static int setup_uni(void **state)
{
    char err[256];
    *state = uni_checker_new(err, sizeof err);
    return *state ? 0 : -1;
}

static int teardown_uni(void **state)
{
    uni_checker *u = *state;
    uni_checker_destroy(&u);
    assert_null(u);
    return 0;
}

static void test_skeleton_confusable(void **state)
{
    const uni_checker *u = *state;
    char a[256], b[256];
    /* Cyrillic р, а, у: the skeleton is that of the Latin name. */
    assert_true(uni_skeleton(u, "\xd1\x80\xd0\xb0\xd1\x83\xd1\x80\xd0\xb0l.com", a, sizeof a));
    assert_true(uni_skeleton(u, "paypal.com", b, sizeof b));
    assert_string_equal(a, b);
    assert_true(uni_confusable(u, "\xd1\x80\xd0\xb0\xd1\x83\xd1\x80\xd0\xb0l.com", "paypal.com"));
    assert_true(uni_confusable(u, "paypa1.com", "paypal.com")); /* digit one for l */
    assert_true(uni_confusable(u, "exarnple", "example")); /* rn for m */
    /* Same text, or only case apart: not a lookalike. */
    assert_false(uni_confusable(u, "paypal.com", "paypal.com"));
    assert_false(uni_confusable(u, "PayPal.com", "paypal.com"));
    assert_false(uni_confusable(u, "paypal.net", "paypal.com"));
    assert_false(uni_confusable(u, "\xff\xfe", "paypal.com")); /* invalid UTF-8 never matches */
    /* Too small a buffer: false and empty, never cut. */
    assert_false(uni_skeleton(u, "paypal.com", a, 4));
    assert_string_equal(a, "");
}

static void test_mixed_script(void **state)
{
    const uni_checker *u = *state;
    char word[64];
    /* Latin P, y, P, a, l with a Cyrillic а. */
    assert_true(uni_mixed_script(u, "Your P\xd0\xb0yPal account", word, sizeof word));
    assert_string_equal(word, "P\xd0\xb0yPal");
    assert_true(
        uni_mixed_script(u, "\xd1\x80\xd0\xb0\xd1\x83\xd1\x80\xd0\xb0l.com", word, sizeof word));
    assert_string_equal(word, "\xd1\x80\xd0\xb0\xd1\x83\xd1\x80\xd0\xb0l");
    /* Latin with Greek omicron. */
    assert_true(uni_mixed_script(u, "G\xce\xbf\x6fgle", word, sizeof word));

    /* Single-script words in a mixed subject are fine. */
    assert_false(uni_mixed_script(u, "Re: \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 Amazon",
                                  word, sizeof word));
    assert_string_equal(word, "");
    assert_false(uni_mixed_script(u,
                                  "\xd0\x97\xd0\xb0\xd0\xba\xd0\xb0\xd0\xb7 \xd0\xb3\xd0\xbe"
                                  "\xd1\x82\xd0\xbe\xd0\xb2",
                                  NULL, 0)); /* pure Cyrillic */
    assert_false(uni_mixed_script(u,
                                  "\xe6\x9d\xb1\xe4\xba\xac\xe3\x81\xae\xe5\xa4\xa9\xe6\xb0\x97"
                                  "\xe4\xba\x88\xe5\xa0\xb1",
                                  NULL, 0)); /* Han + Hiragana: Japanese */
    assert_false(uni_mixed_script(u,
                                  "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88 iPhone\xe5\xb0\x82\xe5"
                                  "\x8d\x96",
                                  NULL, 0)); /* Katakana; Latin with Han */
    assert_false(uni_mixed_script(
        u, "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xec\xa0\x9c\xeb\xaa\xa9", NULL, 0)); /* Korean */
    assert_false(uni_mixed_script(u,
                                  "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce"
                                  "\xac",
                                  NULL, 0)); /* Greek */
    assert_false(uni_mixed_script(u, "ni\xc3\xb1o caf\xc3\xa9, 50% off!", NULL, 0));
    /* Hyphen and dot join words of two scripts in ordinary Russian. */
    assert_false(uni_mixed_script(u,
                                  "PDF-\xd1\x84\xd0\xb0\xd0\xb9\xd0\xbb Mr.\xd0\x98"
                                  "\xd0\xb2\xd0\xb0\xd0\xbd",
                                  NULL, 0));
    /* Combining marks stay in their word: "cafe" + U+0301. */
    assert_false(uni_mixed_script(u, "cafe\xcc\x81", NULL, 0));
    assert_false(uni_mixed_script(u, "", NULL, 0));
    assert_false(uni_mixed_script(u, "\xff\xfe\xfd", NULL, 0));
}

static void test_whole_script_and_idna(void **state)
{
    const uni_checker *u = *state;
    char out[256];
    assert_true(uni_idna_to_unicode("xn--80ak6aa92e.com", out, sizeof out));
    assert_string_equal(out, "\xd0\xb0\xd1\x80\xd1\x80\xd3\x8f\xd0\xb5.com"); /* аррӏе.com */
    assert_true(uni_idna_to_unicode("www.example.com", out, sizeof out));
    assert_string_equal(out, "www.example.com");
    assert_false(uni_idna_to_unicode("xn--zz-\xff.com", out, sizeof out));
    assert_false(uni_idna_to_unicode("xn--80ak6aa92e.com", out, 4)); /* does not fit */

    assert_true(uni_whole_script_latin_lookalike(u, "\xd0\xb0\xd1\x80\xd1\x80\xd3\x8f\xd0\xb5"));
    assert_false(uni_whole_script_latin_lookalike(u, "apple"));
    assert_false(uni_whole_script_latin_lookalike(u, "\xd0\xb0pple")); /* mixed, not whole */
    assert_false(uni_whole_script_latin_lookalike(u, "\xe6\x9d\xb1\xe4\xba\xac"));
}

static void test_decode_2047(void **state)
{
    (void)state;
    char out[256];
    uni_2047_info in;

    assert_int_equal(uni_decode_2047("=?UTF-8?B?SGVsbG8gd29ybGQ=?=", out, sizeof out, &in), 11);
    assert_string_equal(out, "Hello world");
    assert_int_equal(in.words, 1);
    assert_int_equal(in.b64_ascii, 1);
    assert_int_equal(in.malformed, 0);

    /* Adjacent words join; text around them stays; Latin-1 is converted. */
    uni_decode_2047("Re: =?iso-8859-1?q?caf=E9_au?= =?utf-8?b?bGFpdA?= ok", out, sizeof out, &in);
    assert_string_equal(out, "Re: caf\xc3\xa9 aulait ok");
    assert_int_equal(in.words, 2);
    assert_int_equal(in.b64_ascii, 1); /* "lait": base64 without padding is tolerated */

    /* Malformed words are counted and copied as written. */
    uni_decode_2047("a =?utf-8?X?abc?= b", out, sizeof out, &in);
    assert_int_equal(in.malformed, 1);
    assert_string_equal(in.bad, "=?utf-8?X?abc?=");
    assert_string_equal(out, "a =?utf-8?X?abc?= b");
    uni_decode_2047("=?utf-8?Q?bad=ZZ?=", out, sizeof out, &in);
    assert_int_equal(in.malformed, 1);
    uni_decode_2047("=?utf-8?B?#$%?=", out, sizeof out, &in);
    assert_int_equal(in.malformed, 1);
    uni_decode_2047("=?no-such-charset?Q?x?=", out, sizeof out, &in);
    assert_int_equal(in.malformed, 1);
    uni_decode_2047("=?utf-8?q?never closed", out, sizeof out, &in);
    assert_int_equal(in.malformed, 1);
    assert_string_equal(in.bad, "=?utf-8?q?never");
    assert_string_equal(out, "=?utf-8?q?never closed");

    /* Not encoded words at all. */
    uni_decode_2047("is x=?y or =? or =?a?", out, sizeof out, &in);
    assert_string_equal(out, "is x=?y or =? or =?a?");
    assert_int_equal(in.malformed + in.words, 0);

    /* Controls and bidi overrides become '?' and are counted. */
    uni_decode_2047("=?utf-8?q?a=00b=1Bc=E2=80=AEd?=", out, sizeof out, &in);
    assert_string_equal(out, "a?b?c?d");
    assert_int_equal(in.controls, 3);

    /* The output is cut, never overrun; NULL info is fine. */
    assert_int_equal(uni_decode_2047("=?utf-8?q?abcdef?=", out, 4, NULL), 3);
    assert_string_equal(out, "abc");
}

/* One configured checker, many threads (ICU: const USpoofChecker calls are thread safe). */
static void *hammer(void *arg)
{
    const uni_checker *u = arg;
    char word[64], sk[128];
    for (int i = 0; i < 300; i++) {
        if (!uni_confusable(u, "\xd1\x80\xd0\xb0\xd1\x83\xd1\x80\xd0\xb0l.com", "paypal.com") ||
            !uni_mixed_script(u, "P\xd0\xb0yPal", word, sizeof word) ||
            uni_mixed_script(u, "plain words", NULL, 0) ||
            !uni_skeleton(u, "Example", sk, sizeof sk) || strcmp(sk, "exarnple") != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_threads_share_checker(void **state)
{
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, *state), 0);
    for (int i = 0; i < 4; i++) {
        void *res;
        assert_int_equal(pthread_join(th[i], &res), 0);
        assert_null(res);
    }
}

/* ---- through the pipeline --------------------------------------------------------------- */

/* The header check alone, so other checks' symbols do not mix in. */
static pipeline *make(const char *protected_domains)
{
    params *cfg = params_new(&params_cluster);
    char err[512] = "";
    size_t n;
    const check_def *const *checks = pipeline_checks(&n);
    for (size_t i = 0; i < n; i++) {
        char key[128];
        snprintf(key, sizeof key, "check.%s.enabled", checks[i]->name);
        if (strcmp(checks[i]->name, "headers") != 0 && !params_set(cfg, key, "no", err, sizeof err))
            fail_msg("params_set %s: %s", key, err);
    }
    if (protected_domains &&
        !params_set(cfg, "check.headers.protected_domains", protected_domains, err, sizeof err))
        fail_msg("params_set: %s", err);
    pipeline *p = pipeline_new(cfg, 1, err, sizeof err);
    if (!p)
        fail_msg("pipeline_new: %s", err);
    params_destroy(&cfg);
    return p;
}

static int setup_pipe(void **state)
{
    *state = make("example.com, paypal.com, acme");
    return 0;
}

static int teardown_pipe(void **state)
{
    pipeline *p = *state;
    pipeline_release(&p);
    return 0;
}

/* A complete message: From, Subject and extra fields given, the rest ordinary. */
static const char *message(const char *from, const char *subject, const char *extra,
                           const char *body)
{
    static char m[16384];
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(m, sizeof m,
             "From: %s\r\nTo: bob@example.org\r\nSubject: %s\r\nDate: %s\r\n"
             "Message-ID: <1@example.net>\r\n%s\r\n%s",
             from, subject, date, extra, body);
    return m;
}

static scan_task *scan(void **state, const char *msg)
{
    scan_task *t = scan_task_new(*state, "job-u", NULL, (const uint8_t *)msg, strlen(msg));
    scan_run(t);
    return t;
}

static const Bulwark__Symbol *sym(const scan_task *t, const char *name)
{
    const Bulwark__ScanResult *r = scan_result(t);
    for (size_t i = 0; i < r->n_symbols; i++)
        if (strcmp(r->symbols[i]->name, name) == 0)
            return r->symbols[i];
    return NULL;
}

/* Fails with the symbols listed when the message does not score exactly 0 symbols. */
static void assert_clean(const scan_task *t)
{
    const Bulwark__ScanResult *r = scan_result(t);
    if (r->n_symbols) {
        char all[1024] = "";
        for (size_t i = 0; i < r->n_symbols; i++) {
            strncat(all, r->symbols[i]->name, sizeof all - strlen(all) - 1);
            strncat(all, " (", sizeof all - strlen(all) - 1);
            strncat(all, r->symbols[i]->detail, sizeof all - strlen(all) - 1);
            strncat(all, ") ", sizeof all - strlen(all) - 1);
        }
        fail_msg("expected no symbols, got: %s", all);
    }
}

#define EXPECT(t, name)                                                                            \
    do {                                                                                           \
        if (!sym((t), (name)))                                                                     \
            fail_msg("no %s", (name));                                                             \
    } while (0)

static void test_protected_name(void **state)
{
    scan_task *t = scan(state, message("\"Example Support\" <help@example.com>", "hi", "", "b"));
    assert_clean(t);
    scan_task_destroy(&t);
    t = scan(state, message("Example Support <help@mail.example.com>", "hi", "", "b"));
    assert_clean(t);
    scan_task_destroy(&t);
    t = scan(state, message("ACME billing <billing@acme.co.uk>", "hi", "", "b"));
    assert_clean(t); /* a brand word: any domain named for it */
    scan_task_destroy(&t);

    t = scan(state, message("Example Support <x@gmail.test>", "hi", "", "b"));
    const Bulwark__Symbol *s = sym(t, "FROM_NAME_IMPERSONATION");
    assert_non_null(s);
    assert_dbl(s->score, 4.0);
    assert_string_equal(s->detail, "display name 'Example Support' names protected example.com, "
                                   "address is at gmail.test");
    assert_int_equal(scan_result(t)->n_symbols, 1);
    scan_task_destroy(&t);

    t = scan(state, message("\"EXAMPLE.COM security\" <x@example.com.evil.test>", "hi", "", "b"));
    EXPECT(t, "FROM_NAME_IMPERSONATION");
    scan_task_destroy(&t);
    /* "Examples" is another word. */
    t = scan(state, message("Examples Weekly <x@news.test>", "hi", "", "b"));
    assert_clean(t);
    scan_task_destroy(&t);
}

static void test_name_with_address(void **state)
{
    scan_task *t = scan(state, message("\"paypal@paypal.com\" <x@evil.test>", "hi", "", "b"));
    const Bulwark__Symbol *s = sym(t, "FROM_NAME_HAS_ADDRESS");
    assert_non_null(s);
    assert_dbl(s->score, 3.0);
    assert_string_equal(s->detail,
                        "display name 'paypal@paypal.com' shows paypal@paypal.com, address is "
                        "x@evil.test");
    EXPECT(t, "FROM_NAME_IMPERSONATION");
    scan_task_destroy(&t);

    /* Another address at the same registrable domain is not impersonation. */
    t = scan(state, message("\"support@shop.test\" <noreply@mail.shop.test>", "hi", "", "b"));
    assert_clean(t);
    scan_task_destroy(&t);
    /* Mailman's From rewriting on a list. */
    t = scan(state, message("\"alice@home.test via Users\" <users@lists.test>", "hi",
                            "List-Id: <users.lists.test>\r\n", "b"));
    assert_clean(t);
    scan_task_destroy(&t);

    /* An encoded display name that decodes to an address: both symbols. */
    t = scan(state, message("=?utf-8?B?c2VjdXJpdHlAYmFuay50ZXN0?= <x@evil.test>", "hi", "", "b"));
    EXPECT(t, "FROM_NAME_HAS_ADDRESS");
    s = sym(t, "HEADER_2047_ABUSE");
    assert_non_null(s);
    assert_string_equal(s->detail,
                        "From: encoded display name decodes to an address: 'security@bank.test'");
    scan_task_destroy(&t);
}

static void test_confusable_from(void **state)
{
    /* "PаyPal" with a Cyrillic а, encoded as a mail client would. */
    scan_task *t = scan(state, message("=?utf-8?B?UNCweVBhbA==?= <x@evil.test>", "hi", "", "b"));
    const Bulwark__Symbol *s = sym(t, "FROM_CONFUSABLE");
    assert_non_null(s);
    assert_dbl(s->score, 6.0);
    assert_string_equal(s->detail, "display name word 'P\xd0\xb0yPal' looks like protected "
                                   "paypal.com, address is at evil.test");
    s = sym(t, "MIXED_SCRIPT_FROM");
    assert_non_null(s);
    assert_dbl(s->score, 2.0);
    scan_task_destroy(&t);

    /* The sender domain itself: раураl.com in punycode, and paypa1.com. */
    t = scan(state, message("Service <x@xn--l-7sba6dbr.com>", "hi", "", "b"));
    s = sym(t, "FROM_CONFUSABLE");
    assert_non_null(s);
    assert_string_equal(s->detail, "sender domain xn--l-7sba6dbr.com "
                                   "(\xd1\x80\xd0\xb0\xd1\x83\xd1\x80\xd0\xb0l.com) looks like "
                                   "protected paypal.com");
    scan_task_destroy(&t);
    t = scan(state, message("Service <x@paypa1.com>", "hi", "", "b"));
    EXPECT(t, "FROM_CONFUSABLE");
    scan_task_destroy(&t);
    t = scan(state, message("Exarnple Team <x@mailer.test>", "hi", "", "b"));
    EXPECT(t, "FROM_CONFUSABLE");
    scan_task_destroy(&t);

    /* The real domain is not its own lookalike. */
    t = scan(state, message("PayPal <service@paypal.com>", "hi", "", "b"));
    assert_clean(t);
    scan_task_destroy(&t);
}

static void test_mixed_script_subject(void **state)
{
    /* "Vеrify your account", Cyrillic е. */
    scan_task *t =
        scan(state, message("a@shop.test", "=?utf-8?B?VtC1cmlmeSB5b3VyIGFjY291bnQ=?=", "", "b"));
    const Bulwark__Symbol *s = sym(t, "MIXED_SCRIPT_SUBJECT");
    assert_non_null(s);
    assert_dbl(s->score, 1.5);
    assert_string_equal(s->detail, "Subject 'V\xd0\xb5rify your account': word 'V\xd0\xb5rify'");
    assert_int_equal(scan_result(t)->n_symbols, 1);
    scan_task_destroy(&t);

    /* Pure Cyrillic and pure Japanese subjects. */
    t = scan(state,
             message("a@shop.test",
                     "=?utf-8?B?0JfQsNC60LDQtyDQs9C+0YLQvtCyINC6INCy0YvQtNCw0YfQtQ==?=", "", "b"));
    assert_clean(t);
    scan_task_destroy(&t);
    t = scan(state, message("a@shop.test", "=?utf-8?B?5p2x5Lqs44Gu5aSp5rCX5LqI5aCx?=", "", "b"));
    assert_clean(t);
    scan_task_destroy(&t);
}

static void test_reply_to(void **state)
{
    scan_task *t = scan(state, message("a@shop.test", "hi", "Reply-To: b@other.test\r\n", "b"));
    const Bulwark__Symbol *s = sym(t, "REPLYTO_DIFFERS");
    assert_non_null(s);
    assert_dbl(s->score, 0.3);
    assert_string_equal(s->detail, "Reply-To at other.test, From at shop.test");
    assert_int_equal(scan_result(t)->n_symbols, 1);
    scan_task_destroy(&t);

    t = scan(state, message("ceo@shop.test", "hi", "Reply-To: ceo.private@gmail.com\r\n", "b"));
    EXPECT(t, "REPLYTO_DIFFERS");
    EXPECT(t, "REPLYTO_FREEMAIL");
    scan_task_destroy(&t);

    t = scan(state,
             message("a@shop.test", "hi", "Reply-To: Support <support@help.shop.test>\r\n", "b"));
    assert_clean(t);
    scan_task_destroy(&t);
}

static void test_malformed_addresses(void **state)
{
    static const struct {
        const char *from, *symbol, *detail;
    } cases[] = {
        {"\"Alice <alice@example.net>", "HEADER_BAD_ADDRESS",
         "From: unterminated quoted string in '\"Alice <alice@example.net>'"},
        {"Alice Smith", "HEADER_BAD_ADDRESS",
         "From: no address after 'Alice Smith' in 'Alice Smith'"},
        {"Alice <alice@>", "HEADER_BAD_ADDRESS", "From: no domain after '@' in 'Alice <alice@>'"},
        {"Alice <alice@example.net", "HEADER_BAD_ADDRESS",
         "From: no closing '>' in 'Alice <alice@example.net'"},
        {"alice..x@example.net", "HEADER_BAD_ADDRESS",
         "From: bad local part in 'alice..x@example.net'"},
        {"(Alice alice@example.net", "HEADER_BAD_ADDRESS",
         "From: unterminated comment in '(Alice alice@example.net'"},
        {"<>", "FROM_INVALID", "From address is empty (<>)"},
        {"undisclosed:;", "FROM_INVALID", "From 'undisclosed:;' holds no address"},
        {"a@shop.test, b@shop.test", "FROM_MULTIPLE",
         "From holds 2 addresses and there is no Sender"},
        {"=?utf-8?q?x?=@shop.test", "HEADER_2047_ABUSE",
         "From: encoded word inside address =?utf-8?q?x?=@shop.test"},
        {"=?utf-8?q?A=01lice?= <a@shop.test>", "HEADER_2047_ABUSE",
         "From: display name decodes to 1 control characters"},
        {"=?utf-8?q?Ali=zz?= <a@shop.test>", "HEADER_2047_ABUSE",
         "From: malformed encoded word '=?utf-8?q?Ali=zz?='"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scan_task *t = scan(state, message(cases[i].from, "hi", "", "b"));
        const Bulwark__Symbol *s = sym(t, cases[i].symbol);
        if (!s)
            fail_msg("From: %s: no %s", cases[i].from, cases[i].symbol);
        assert_string_equal(s->detail, cases[i].detail);
        scan_task_destroy(&t);
    }
    const Bulwark__Symbol *s;
    scan_task *t = scan(state, message("a@shop.test", "hi", "Cc: ,,bob\r\n", "b"));
    s = sym(t, "HEADER_BAD_ADDRESS");
    assert_non_null(s);
    assert_dbl(s->score, 1.5);
    scan_task_destroy(&t);
    t = scan(state, message("a@shop.test", "hi", "Sender: a@shop.test, b@shop.test\r\n", "b"));
    assert_string_equal(sym(t, "HEADER_BAD_ADDRESS")->detail, "Sender holds 2 addresses");
    scan_task_destroy(&t);

    /* What RFC 5322 allows, including its obsolete forms. */
    static const char *const good[] = {
        "a@shop.test",
        "\"Smith, John Q.\" <john@shop.test>",
        "John Q. Public <john.q.public@shop.test>",
        "john@shop.test (John Public)",
        "<@relay.test,@other.test:john@shop.test>",
        "\"odd local\"@shop.test",
        "=?iso-8859-1?q?Andr=E9?= Pirard <pirard@shop.test>",
        "a@[192.0.2.1]",
        "Team: a@shop.test, b@shop.test;",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        t = scan(state,
                 message(good[i], "hi", "Cc: undisclosed-recipients:;\r\nSender: a@b\r\n", "b"));
        if (scan_result(t)->n_symbols)
            fail_msg("From: %s: %s (%s)", good[i], scan_result(t)->symbols[0]->name,
                     scan_result(t)->symbols[0]->detail);
        scan_task_destroy(&t);
    }
}

static void test_rfc2047_subject(void **state)
{
    scan_task *t = scan(state, message("a@shop.test", "=?UTF-8?B?SGVsbG8gd29ybGQ=?=", "", "b"));
    const Bulwark__Symbol *s = sym(t, "HEADER_ENCODED_ASCII");
    assert_non_null(s);
    assert_dbl(s->score, 0.3);
    assert_string_equal(s->detail, "Subject 'Hello world' is base64 of plain ASCII");
    assert_int_equal(scan_result(t)->n_symbols, 1);
    scan_task_destroy(&t);

    t = scan(state, message("a@shop.test", "Your =?utf-8?Q?inv=ZZoice?=", "", "b"));
    s = sym(t, "HEADER_2047_ABUSE");
    assert_non_null(s);
    assert_dbl(s->score, 2.0);
    assert_string_equal(s->detail, "Subject: malformed encoded word '=?utf-8?Q?inv=ZZoice?='");
    scan_task_destroy(&t);

    char subj[4096] = "";
    for (int i = 0; i < 41; i++)
        strcat(subj, "=?utf-8?q?a?= ");
    t = scan(state, message("a@shop.test", subj, "", "b"));
    assert_string_equal(sym(t, "HEADER_2047_ABUSE")->detail, "Subject: 41 encoded words");
    scan_task_destroy(&t);

    /* Q-encoded ASCII and base64 of UTF-8 are ordinary. */
    t = scan(state, message("a@shop.test", "=?utf-8?q?Hello_world?= =?utf-8?b?w6k=?=", "", "b"));
    assert_clean(t);
    scan_task_destroy(&t);
}

/* Received fields, newest first, dated `ages` seconds ago. */
static const char *chain(const char *const *hops, const long *ages, size_t n)
{
    static char out[8192];
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char date[64];
        time_t when = time(NULL) - ages[i];
        struct tm tm;
        gmtime_r(&when, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
        size_t at = strlen(out);
        snprintf(out + at, sizeof out - at, "Received: %s; %s\r\n", hops[i], date);
    }
    return out;
}

static void test_received_chain(void **state)
{
    /* Our relay (private), our MX from the sender's public edge, the sender's internal
     * hops (private, loopback content filter): ordinary. */
    static const char *const ok[] = {
        "from mx.shop.test (mx.shop.test [10.0.0.5]) by relay.shop.test (Postfix) with ESMTP id A1",
        "from out.sender.test (out.sender.test [203.0.113.7]) by mx.shop.test (Postfix) with "
        "ESMTPS id B2 for <bob@example.org>",
        "from localhost (localhost [127.0.0.1]) by out.sender.test (Postfix) with ESMTP id C3",
        "from EXCH01.corp.sender.test (10.1.2.3) by out.sender.test (10.1.2.4) with Microsoft "
        "SMTP Server id 15.2.1118.7",
    };
    static const long ok_ages[] = {10, 20, 25, 30};
    scan_task *t = scan(state, message("a@shop.test", "hi", chain(ok, ok_ages, 4), "b"));
    assert_clean(t);
    scan_task_destroy(&t);

    /* A few minutes of skew is tolerated; an older hop 2 h after a newer one is not. */
    static const long skew[] = {300, 10, 30, 40};
    t = scan(state, message("a@shop.test", "hi", chain(ok, skew, 4), "b"));
    assert_clean(t);
    scan_task_destroy(&t);
    static const long disorder[] = {7210, 7220, 20, 7230}; /* #3 is 7200 s after #2 */
    t = scan(state, message("a@shop.test", "hi", chain(ok, disorder, 4), "b"));
    const Bulwark__Symbol *s = sym(t, "RECEIVED_DATES_DISORDER");
    assert_non_null(s);
    assert_dbl(s->score, 1.0);
    assert_string_equal(s->detail, "Received #3 is dated 7200 s after the newer #2 above it");
    scan_task_destroy(&t);

    /* A private hop between two public ones. */
    static const char *const priv[] = {
        /* The HELO is a private literal; the address the MTA saw is public. */
        "from [10.1.1.1] (out.sender.test [203.0.113.7]) by mx.shop.test (Postfix)",
        "from hop.test (unknown [192.168.4.4]) by out.sender.test (Postfix)",
        "from client.test (client.test [198.51.100.9]) by hop.test (Postfix)",
    };
    static const long ages3[] = {10, 20, 30};
    t = scan(state, message("a@shop.test", "hi", chain(priv, ages3, 3), "b"));
    s = sym(t, "RECEIVED_PRIVATE_IP");
    assert_non_null(s);
    assert_dbl(s->score, 0.5);
    assert_string_equal(s->detail,
                        "Received #2 from hop.test [192.168.4.4] between public hops #1 and #3");
    assert_int_equal(scan_result(t)->n_symbols, 1);
    scan_task_destroy(&t);

    /* Our MX received it from a public host, yet the hop below claims our MX too. */
    static const char *const forged[] = {
        "from spam.test (spam.test [198.51.100.66]) by mx.shop.test (Postfix)",
        "from trusted.test (trusted.test [203.0.113.1]) by mx.shop.test (Postfix)",
    };
    t = scan(state, message("a@shop.test", "hi", chain(forged, ages3, 2), "b"));
    s = sym(t, "RECEIVED_FORGED");
    assert_non_null(s);
    assert_dbl(s->score, 2.0);
    assert_string_equal(s->detail, "Received #2 claims to be by mx.shop.test, which at #1 "
                                   "received it from spam.test [198.51.100.66]");
    scan_task_destroy(&t);
    /* Re-injection by the same host through a content filter is not forged. */
    static const char *const reinject[] = {
        "from mx.shop.test (localhost [127.0.0.1]) by mx.shop.test (Postfix)",
        "from out.sender.test (out.sender.test [203.0.113.7]) by mx.shop.test (Postfix)",
    };
    t = scan(state, message("a@shop.test", "hi", chain(reinject, ages3, 2), "b"));
    assert_clean(t);
    scan_task_destroy(&t);

    /* A field that is not a Received line, IPv6 and Exim forms. */
    t = scan(state,
             message("a@shop.test", "hi",
                     "Received: from x.test by y.test\r\nReceived: garbage; not a date\r\n", "b"));
    s = sym(t, "RECEIVED_BROKEN");
    assert_non_null(s);
    assert_dbl(s->score, 0.5);
    assert_string_equal(s->detail, "Received #1: no date in 'from x.test by y.test'");
    assert_int_equal(scan_result(t)->n_symbols, 1);
    scan_task_destroy(&t);
    static const char *const forms[] = {
        "from [IPv6:2001:db8::1] (helo=x.test) by mx.shop.test with esmtp (Exim 4.96)",
        "from a.test ([fd00::5]:2525 helo=a.test) by x.test with esmtp",
        "from b.test (b.test [198.51.100.3]) by a.test",
    };
    t = scan(state, message("a@shop.test", "hi", chain(forms, ages3, 3), "b"));
    s = sym(t, "RECEIVED_PRIVATE_IP");
    assert_non_null(s);
    assert_string_equal(s->detail,
                        "Received #2 from a.test [fd00::5] between public hops #1 and #3");
    scan_task_destroy(&t);

    /* A loop between two hosts, 31 hops. */
    const char *many[31];
    long ages[31];
    for (int i = 0; i < 31; i++) {
        many[i] = i % 2 ? "from b.test (b.test [198.51.100.4]) by a.test"
                        : "from a.test (a.test [198.51.100.3]) by b.test";
        ages[i] = i;
    }
    t = scan(state, message("a@shop.test", "hi", chain(many, ages, 31), "b"));
    s = sym(t, "RECEIVED_TOO_MANY");
    assert_non_null(s);
    assert_string_equal(s->detail, "31 Received fields (limit 30)");
    assert_int_equal(scan_result(t)->n_symbols, 1);
    scan_task_destroy(&t);
}

static void test_newsletter_scores_zero(void **state)
{
    static const char *const hops[] = {
        "from mta12.esp.test (mta12.esp.test [198.51.100.12]) by mx.shop.test (Postfix) with "
        "ESMTPS id 4Xy7 for <bob@example.org>",
        "from internal.esp.test (internal.esp.test [10.20.30.40]) by mta12.esp.test with "
        "ESMTP id 99",
    };
    static const long ages[] = {5, 9};
    char extra[4096];
    snprintf(extra, sizeof extra,
             "%sList-Id: Shop news <news.shop.test>\r\nList-Unsubscribe: "
             "<https://shop.test/u>\r\nReply-To: Shop <hello@shop.test>\r\nMIME-Version: "
             "1.0\r\nContent-Type: text/plain; charset=utf-8\r\n",
             chain(hops, ages, 2));
    scan_task *t = scan(state, message("\"Shop News\" <news@mail.shop.test>",
                                       "=?utf-8?q?Our_spring_sale_=E2=80=93_30=25_off?=", extra,
                                       "See https://shop.test/sale and https://example.com/x\r\n"));
    assert_clean(t);
    assert_dbl(scan_result(t)->score, 0);
    scan_task_destroy(&t);
}

static void test_confusable_url_host(void **state)
{
    /* Only when the message model lists the body's URLs (node/html.c, node/message.c). */
    scan_task *t = scan(
        state, message("a@shop.test", "hi", "", "Log in: https://xn--80ak6aa92e.com/login\r\n"));
    const html_url *urls;
    if (msg_urls(task_message(t), &urls) == 0) {
        scan_task_destroy(&t);
        skip();
    }
    const Bulwark__Symbol *s = sym(t, "URL_CONFUSABLE_HOST");
    assert_non_null(s);
    assert_dbl(s->score, 4.0);
    assert_string_equal(s->detail, "xn--80ak6aa92e.com (\xd0\xb0\xd1\x80\xd1\x80\xd3\x8f\xd0\xb5"
                                   ".com): label '\xd0\xb0\xd1\x80\xd1\x80\xd3\x8f\xd0\xb5' is all "
                                   "Latin lookalikes");
    scan_task_destroy(&t);

    t = scan(state,
             message("a@shop.test", "hi", "",
                     "Pay: https://www.xn--l-7sba6dbr.com/ and https://xn--pple-43d.com/\r\n"));
    s = sym(t, "URL_CONFUSABLE_HOST");
    assert_non_null(s);
    assert_string_equal(s->detail, "www.xn--l-7sba6dbr.com "
                                   "(www.\xd1\x80\xd0\xb0\xd1\x83\xd1\x80\xd0\xb0l.com): label "
                                   "'\xd1\x80\xd0\xb0\xd1\x83\xd1\x80\xd0\xb0l' mixes scripts");
    scan_task_destroy(&t);

    /* A Russian name under .ru, and a plain host: fine. */
    t = scan(state, message("a@shop.test", "hi", "",
                            "https://xn--d1acpjx3f.xn--p1ai/ https://www.example.com/\r\n"));
    assert_null(sym(t, "URL_CONFUSABLE_HOST"));
    scan_task_destroy(&t);
}

/* Random header values: whatever the bytes, the check finishes (ASan watches). */
static void test_garbage_headers(void **state)
{
    static const char alphabet[] = "aZ09 @<>\"(),.:;[]\\=?_-\t\x80\xd0\xb0\xff";
    static const char *const starts[] = {"=?utf-8?B?", "=?x?Q?", "\"", "(", "<",  "[",
                                         "from [",     "by ",    "; ", "@", "g:", "=?"};
    uint32_t seed = 12345;
    char from[160] = "", subj[160] = "", recv[160] = "", extra[640];
    for (int round = 0; round < 400; round++) {
        char *bufs[] = {from, subj, recv};
        for (int b = 0; b < 3; b++) {
            size_t n = 0;
            while (n < 150) {
                seed = seed * 1103515245u + 12345u;
                uint32_t r = seed >> 8;
                if (r % 7 == 0) {
                    const char *st = starts[r % (sizeof starts / sizeof starts[0])];
                    size_t l = strlen(st);
                    if (n + l >= 150)
                        break;
                    memcpy(bufs[b] + n, st, l);
                    n += l;
                } else {
                    bufs[b][n++] = alphabet[r % (sizeof alphabet - 1)];
                }
                if (r % 31 == 0)
                    break;
            }
            bufs[b][n] = '\0';
        }
        snprintf(extra, sizeof extra, "Received: %s\r\nReply-To: %s\r\nReceived: %s\r\n", recv,
                 subj, from);
        scan_task *t = scan(state, message(from, subj, extra, "b"));
        assert_non_null(scan_result(t));
        scan_task_destroy(&t);
    }
}

static void test_no_protected_domains(void **state)
{
    (void)state;
    pipeline *p = make(NULL);
    void *ps = p;
    scan_task *t = scan(&ps, message("Example Support <x@gmail.test>", "hi", "", "b"));
    assert_clean(t);
    scan_task_destroy(&t);
    pipeline_release(&p);

    /* Bad parameter values are refused by the table. */
    params *cfg = params_new(&params_cluster);
    char err[256];
    assert_false(params_set(cfg, "check.headers.max_received", "0", err, sizeof err));
    assert_true(params_set(cfg, "check.headers.received_tolerance", "1h", err, sizeof err));
    params_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest uni[] = {
        cmocka_unit_test(test_skeleton_confusable),   cmocka_unit_test(test_mixed_script),
        cmocka_unit_test(test_whole_script_and_idna), cmocka_unit_test(test_decode_2047),
        cmocka_unit_test(test_threads_share_checker),
    };
    const struct CMUnitTest pipe[] = {
        cmocka_unit_test(test_protected_name),
        cmocka_unit_test(test_name_with_address),
        cmocka_unit_test(test_confusable_from),
        cmocka_unit_test(test_mixed_script_subject),
        cmocka_unit_test(test_reply_to),
        cmocka_unit_test(test_malformed_addresses),
        cmocka_unit_test(test_rfc2047_subject),
        cmocka_unit_test(test_received_chain),
        cmocka_unit_test(test_newsletter_scores_zero),
        cmocka_unit_test(test_confusable_url_host),
        cmocka_unit_test(test_garbage_headers),
        cmocka_unit_test(test_no_protected_domains),
    };
    int failed = cmocka_run_group_tests_name("unicode", uni, setup_uni, teardown_uni);
    failed += cmocka_run_group_tests_name("headers", pipe, setup_pipe, teardown_pipe);
    return failed;
}
