/* test_rules.c - unit tests for node/rules.c and the rules check.
 *
 * The parser (every rule type, flags, options, and each error with its line), the
 * compiler (one Hyperscan database per kind, PCRE2 for a backreference and a
 * lookahead, a bad regex), meta rules (&&, ||, !, parentheses, counts, other
 * checks' symbols, cycles, unknown names), later files replacing rules, and the
 * whole path through the pipeline: the built-in set loads, extra files from
 * check.rules.files add symbols, score.NAME overrides a rule's weight, a bad file
 * refuses the generation with FILE:LINE. */
#include "pipeline.h"
#include "rules.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- helpers ---- */

typedef struct {
    char names[4096];
    char last_match[128];
} hits;

static void on_hit(void *ctx, const char *name, const char *desc, const char *matched)
{
    hits *h = ctx;
    assert_non_null(desc);
    size_t n = strlen(h->names);
    snprintf(h->names + n, sizeof h->names - n, "%s ", name);
    snprintf(h->last_match, sizeof h->last_match, "%s", matched);
}

static bool known(const char *name, void *ctx)
{
    (void)ctx;
    return strcmp(name, "HTML_PASSWORD_FIELD") == 0 || strcmp(name, "URL_IP_HOST") == 0;
}

static bool ext_symbols(void *ctx, const char *name)
{
    return strstr((const char *)ctx, name) != NULL;
}

static ruleset *compile(const char *text)
{
    ruleset *rs = ruleset_new();
    char err[512] = "";
    if (!ruleset_parse(rs, "t.rules", text, strlen(text), err, sizeof err))
        fail_msg("parse: %s", err);
    if (!ruleset_compile(rs, known, NULL, err, sizeof err))
        fail_msg("compile: %s", err);
    return rs;
}

/* The error of parsing then compiling text; "" if it was accepted. */
static const char *error_of(const char *text)
{
    static char err[512];
    err[0] = '\0';
    ruleset *rs = ruleset_new();
    if (ruleset_parse(rs, "bad.rules", text, strlen(text), err, sizeof err) &&
        ruleset_compile(rs, known, NULL, err, sizeof err))
        err[0] = '\0';
    ruleset_destroy(&rs);
    return err;
}

static void expect_error(const char *text, const char *want)
{
    const char *got = error_of(text);
    if (!strstr(got, want))
        fail_msg("error for \"%s\": got \"%s\", want \"%s\"", text, got, want);
}

#define MSG                                                                                        \
    "From: \"Sales Team\" <sales@example.com>\r\n"                                                 \
    "To: you@example.org\r\n"                                                                      \
    "Subject: FREE MONEY FOR YOU NOW\r\n"                                                          \
    "Message-ID: <abc@example.com>\r\n"                                                            \
    "X-Mailer: Bulk Blaster 3\r\n"                                                                 \
    "\r\n"                                                                                         \
    "Dear friend, please send a wire transfer today.\r\n"

/* Matches a message given as headers, visible text, URLs and a rawbody part. */
static void run(const ruleset *rs, const char *raw, const char *text, const char *url,
                const char *ext, hits *h)
{
    memset(h, 0, sizeof *h);
    hdr_block *hb = hdr_parse(raw, strlen(raw));
    html_url u = {.url = url ? url : "", .host = "", .text = ""};
    msg_part part = {.is_text = true, .data = (const uint8_t *)raw, .len = strlen(raw)};
    rules_input in = {.hdrs = hb,
                      .text = text,
                      .text_len = text ? strlen(text) : 0,
                      .parts = &part,
                      .nparts = 1,
                      .urls = &u,
                      .nurls = url ? 1 : 0,
                      .raw = (const uint8_t *)raw,
                      .raw_len = strlen(raw),
                      .has_symbol = ext_symbols,
                      .ctx = (void *)(ext ? ext : "")};
    ruleset_match(rs, &in, on_hit, h);
    hdr_destroy(&hb);
}

static bool hit(const hits *h, const char *name)
{
    char key[96];
    snprintf(key, sizeof key, "%s ", name);
    for (const char *p = h->names; (p = strstr(p, key)); p++)
        if (p == h->names || p[-1] == ' ')
            return true;
    return false;
}

/* ---- parser and matching per type ---- */

static void test_types_and_flags(void **state)
{
    (void)state;
    ruleset *rs = compile("# comment\n"
                          "\n"
                          "header SUBJ_CAPS Subject =~ /^[^a-z]{12,}$/ score 1.2 desc \"caps\"\n"
                          "header SUBJ_LOWER Subject =~ /^free money/ score 1 desc \"x\"\n"
                          "header SUBJ_CI Subject =~ /^free money/i score 1 desc \"x\"\n"
                          "header FROM_SALES From =~ /sales@/ score 1 desc \"x\"\n"
                          "header NOT_LIST List-Id !~ /./ score 1 desc \"x\"\n"
                          "header MID_NOT_X Message-ID !~ /xyz/ score 1 desc \"x\"\n"
                          "header HAS_MAILER exists:X-Mailer score 1 desc \"x\"\n"
                          "header HAS_LISTID exists:List-Id score 1 desc \"x\"\n"
                          "header ALL_MAILER ALL =~ /^X-Mailer: Bulk/m score 1 desc \"x\"\n"
                          "body WIRE /\\bwire transfer\\b/i score 1.5 desc \"wire\"\n"
                          "body DOT_S /friend.+transfer/s score 1 desc \"x\"\n"
                          "body NOT_IN_BODY /Subject/ score 1 desc \"x\"\n"
                          "rawbody RAW_CRLF /today\\.\\r\\n/ score 1 desc \"x\"\n"
                          "uri URI_WP /\\/wp-(?:admin|content)\\// score 0.8 desc \"wp\"\n"
                          "full FULL_HDR /^X-Mailer:/m score 1 desc \"x\"\n"
                          "full FULL_NO_M /^X-Mailer:/ score 1 desc \"x\"\n"
                          "meta M1 WIRE && SUBJ_CAPS score 2 desc \"m\"\n");
    assert_int_equal(ruleset_count(rs), 17);
    size_t hs, pc;
    ruleset_stats(rs, &hs, &pc);
    assert_int_equal(hs, 14);
    assert_int_equal(pc, 0);
    hits h;
    run(rs, MSG, "Dear friend, please send a\nwire transfer today.", "http://x.test/wp-admin/a",
        NULL, &h);
    const char *yes[] = {"SUBJ_CAPS",  "SUBJ_CI",    "FROM_SALES", "NOT_LIST", "MID_NOT_X",
                         "HAS_MAILER", "ALL_MAILER", "WIRE",       "DOT_S",    "RAW_CRLF",
                         "URI_WP",     "FULL_HDR",   "M1"};
    const char *no[] = {"SUBJ_LOWER", "HAS_LISTID", "NOT_IN_BODY", "FULL_NO_M"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!hit(&h, yes[i]))
            fail_msg("%s did not hit: %s", yes[i], h.names);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (hit(&h, no[i]))
            fail_msg("%s hit: %s", no[i], h.names);
    size_t n;
    const symbol_def *defs = ruleset_symbols(rs, &n);
    assert_int_equal(n, 17);
    assert_string_equal(defs[0].name, "SUBJ_CAPS");
    assert_true(fabs(defs[0].score - 1.2) < 1e-9);
    assert_string_equal(defs[0].desc, "caps");
    ruleset_destroy(&rs);
    assert_null(rs);
}

static void test_snippet_and_subrules(void **state)
{
    (void)state;
    ruleset *rs = compile("header __SUB Subject =~ /money/i score 0 desc \"sub\"\n"
                          "body VISIBLE /wire/ score 1 desc \"d \\\"q\\\"\"\n"
                          "meta USES_SUB __SUB score 1 desc \"m\"\n");
    hits h;
    run(rs, MSG, "please send a wire", NULL, NULL, &h);
    assert_false(hit(&h, "__SUB"));
    assert_true(hit(&h, "USES_SUB"));
    assert_true(hit(&h, "VISIBLE"));
    size_t n;
    const symbol_def *defs = ruleset_symbols(rs, &n);
    assert_int_equal(n, 2); /* the sub-rule is no symbol */
    assert_string_equal(defs[0].desc, "d \"q\"");
    ruleset_destroy(&rs);

    rs = compile("header SUBJ Subject =~ /MONEY/ score 1 desc \"s\"\n");
    run(rs, MSG, "", NULL, NULL, &h);
    assert_string_equal(h.last_match, "Subject: FREE MONEY");
    ruleset_destroy(&rs);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("\n\nbogus X /a/ score 1 desc \"d\"\n", "bad.rules:3: unknown rule type 'bogus'");
    expect_error("body lower /a/ score 1 desc \"d\"\n", "bad.rules:1: bad rule name 'lower'");
    expect_error("body A a/ score 1 desc \"d\"\n", "bad.rules:1: A: expected /regex/");
    expect_error("body A /abc score 1 desc \"d\"\n", "bad.rules:1: A: regex not closed");
    expect_error("body A // score 1 desc \"d\"\n", "bad.rules:1: A: empty regex");
    expect_error("body A /a/x score 1 desc \"d\"\n", "bad.rules:1: A: unknown regex flag 'x'");
    expect_error("body A /a/ desc \"d\"\n", "bad.rules:1: A: missing score");
    expect_error("body A /a/ score 1\n", "bad.rules:1: A: missing desc");
    expect_error("body A /a/ score x desc \"d\"\n", "bad.rules:1: A: bad score 'x'");
    expect_error("body A /a/ score 1 desc \"d\n", "bad.rules:1: A: desc not closed");
    expect_error("body A /a/ score 1 desc \"d\" tflags x\n", "A: unknown option 'tflags'");
    expect_error("header A Subject /a/ score 1 desc \"d\"\n", "A: expected =~ or !~");
    expect_error("header A exists: score 1 desc \"d\"\n", "A: exists: needs a header name");
    expect_error("body A /a/ score 1 desc \"d\"\n"
                 "body A /b/ score 1 desc \"d\"\n",
                 "bad.rules:2: duplicate rule name A (first at line 1)");
    expect_error("body A /a/ score 1 desc \"d\"\n"
                 "body B /(unclosed/ score 1 desc \"d\"\n",
                 "bad.rules:2: B: bad regex /(unclosed/: missing closing parenthesis");
    expect_error("meta M A && NOPE score 1 desc \"d\"\nbody A /a/ score 1 desc \"d\"\n",
                 "bad.rules:1: M: meta refers to unknown rule or symbol NOPE");
    expect_error("meta M (A || B score 1 desc \"d\"\n", "bad.rules:1: M: missing ) in meta");
    expect_error("meta M A && score 1 desc \"d\"\n", "bad.rules:1: M: meta expression ends");
    expect_error("meta M A ? B score 1 desc \"d\"\n", "bad.rules:1: M: unexpected '?'");
    expect_error("meta X Y score 1 desc \"d\"\n"
                 "meta Y Z score 1 desc \"d\"\n"
                 "meta Z X score 1 desc \"d\"\n",
                 "meta rules form a cycle");
    expect_error("body HTML_PASSWORD_FIELD /a/ score 1 desc \"d\"\n",
                 "bad.rules:1: HTML_PASSWORD_FIELD: name already used by a symbol of another");
    assert_string_equal(error_of("body A /a/ score -2.5 desc \"ham sign\"\r\n"), "");
}

static void test_pcre_fallback(void **state)
{
    (void)state;
    ruleset *rs = compile("body REPEAT /\\b(\\w+) \\1\\b/i score 1 desc \"repeated word\"\n"
                          "header LOOK Subject =~ /^(?=.*MONEY)FREE/ score 1 desc \"look\"\n"
                          "body PLAIN /wire/ score 1 desc \"plain\"\n");
    size_t hs, pc;
    ruleset_stats(rs, &hs, &pc);
    assert_int_equal(hs, 1);
    assert_int_equal(pc, 2);
    hits h;
    run(rs, MSG, "send the the wire", NULL, NULL, &h);
    assert_true(hit(&h, "REPEAT"));
    assert_true(hit(&h, "LOOK"));
    assert_true(hit(&h, "PLAIN"));
    run(rs, "Subject: FREE\r\n\r\n", "send the wire", NULL, NULL, &h);
    assert_false(hit(&h, "REPEAT"));
    assert_false(hit(&h, "LOOK"));
    ruleset_destroy(&rs);
}

static void test_meta_logic(void **state)
{
    (void)state;
    ruleset *rs =
        compile("body A /aaa/ score 1 desc \"a\"\n"
                "body B /bbb/ score 1 desc \"b\"\n"
                "body C /ccc/ score 1 desc \"c\"\n"
                "meta AND_ A && B score 1 desc \"m\"\n"
                "meta OR_ A || B score 1 desc \"m\"\n"
                "meta NOT_ !A score 1 desc \"m\"\n"
                "meta PAREN (A || B) && !C score 1 desc \"m\"\n"
                "meta PREC A || B && C score 1 desc \"m\"\n"
                "meta COUNT2 (A + B + C) >= 2 score 1 desc \"m\"\n"
                "meta COUNT_EQ A + B + C == 3 score 1 desc \"m\"\n"
                "meta COUNT_LT (A + B + C) < 1 score 1 desc \"m\"\n"
                "meta OF_META AND_ || NOT_ score 1 desc \"m\"\n"
                "meta EXT (URL_IP_HOST || HTML_PASSWORD_FIELD) && A score 1 desc \"m\"\n");
    hits h;
    run(rs, "", "aaa bbb", NULL, NULL, &h);
    assert_true(hit(&h, "AND_") && hit(&h, "OR_") && hit(&h, "PAREN") && hit(&h, "PREC"));
    assert_true(hit(&h, "COUNT2") && hit(&h, "OF_META"));
    assert_false(hit(&h, "NOT_") || hit(&h, "COUNT_EQ") || hit(&h, "COUNT_LT") || hit(&h, "EXT"));
    run(rs, "", "aaa ccc", NULL, NULL, &h);
    assert_false(hit(&h, "AND_") || hit(&h, "PAREN"));
    assert_true(hit(&h, "PREC") && hit(&h, "COUNT2")); /* && binds tighter: A || (B && C) */
    run(rs, "", "bbb ccc", NULL, NULL, &h);
    assert_true(hit(&h, "PREC") && hit(&h, "NOT_") && hit(&h, "OF_META"));
    run(rs, "", "aaa bbb ccc", NULL, NULL, &h);
    assert_true(hit(&h, "COUNT_EQ"));
    run(rs, "", "nothing", NULL, NULL, &h);
    assert_true(hit(&h, "COUNT_LT") && hit(&h, "NOT_"));
    assert_false(hit(&h, "OR_"));
    run(rs, "", "aaa", NULL, "URL_IP_HOST", &h);
    assert_true(hit(&h, "EXT"));
    run(rs, "", "aaa", NULL, "HTML_PASSWORD_FIELD", &h);
    assert_true(hit(&h, "EXT"));
    run(rs, "", "bbb", NULL, "HTML_PASSWORD_FIELD", &h);
    assert_false(hit(&h, "EXT"));
    ruleset_destroy(&rs);
}

static void test_override_across_origins(void **state)
{
    (void)state;
    ruleset *rs = ruleset_new();
    char err[512];
    const char *a = "body A /aaa/ score 1 desc \"first\"\nbody B /bbb/ score 1 desc \"b\"\n";
    const char *b = "body A /zzz/ score 3 desc \"second\"\n";
    const char *bad = "body B /ccc/ score 3 desc \"x\"\nbody C /(/ score 1 desc \"x\"\n";
    assert_true(ruleset_parse(rs, "a.rules", a, strlen(a), err, sizeof err));
    assert_true(ruleset_parse(rs, "b.rules", b, strlen(b), err, sizeof err));
    assert_true(
        ruleset_parse(rs, "c.rules", bad, strlen(bad), err, sizeof err)); /* regex: compile */
    assert_false(ruleset_compile(rs, NULL, NULL, err, sizeof err));
    assert_non_null(strstr(err, "c.rules:2: C: bad regex"));
    ruleset_destroy(&rs);

    rs = ruleset_new();
    const char *broken = "body B /ccc/ score 3 desc \"x\"\nnope\n";
    assert_true(ruleset_parse(rs, "a.rules", a, strlen(a), err, sizeof err));
    assert_true(ruleset_parse(rs, "b.rules", b, strlen(b), err, sizeof err));
    assert_false(ruleset_parse(rs, "c.rules", broken, strlen(broken), err, sizeof err));
    assert_string_equal(err, "c.rules:2: unknown rule type 'nope' (header, body, rawbody, uri, "
                             "full, meta)");
    assert_true(ruleset_compile(rs, NULL, NULL, err, sizeof err));
    assert_int_equal(ruleset_count(rs), 2);
    size_t n;
    const symbol_def *d = ruleset_symbols(rs, &n);
    assert_string_equal(d[0].desc, "second"); /* b.rules replaced A; c.rules left B */
    assert_true(fabs(d[1].score - 1) < 1e-9);
    hits h;
    run(rs, "", "aaa zzz", NULL, NULL, &h);
    assert_string_equal(h.names, "A ");
    ruleset_destroy(&rs);
    assert_false(ruleset_load_file(rs = ruleset_new(), "/nonexistent/x.rules", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/x.rules: cannot read rule file"));
    ruleset_destroy(&rs);
}

/* ---- threads: one compiled set, many workers (each borrows a pooled scratch) ---- */

typedef struct {
    const ruleset *rs;
    int ok;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    for (int i = 0; i < 200; i++) {
        hits h;
        run(w->rs, MSG, i % 2 ? "send a wire transfer" : "nothing here", NULL, NULL, &h);
        w->ok += hit(&h, "WIRE") == (i % 2 == 1) && hit(&h, "SUBJ");
    }
    return NULL;
}

static void test_threads_share_a_set(void **state)
{
    (void)state;
    ruleset *rs = compile("body WIRE /wire transfer/ score 1 desc \"w\"\n"
                          "header SUBJ Subject =~ /MONEY/ score 1 desc \"s\"\n"
                          "body REPEAT /(\\w+) \\1/ score 1 desc \"pcre\"\n");
    pthread_t th[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){rs, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, 200);
    }
    ruleset_destroy(&rs);
}

/* ---- through the pipeline ---- */

static pipeline *make(const char *const *kv, char *err, size_t errlen)
{
    params *cfg = params_new(&params_cluster);
    const char *base[] = {"check.clamav.enabled", "no", "check.bayes.enabled",  "no",
                          "check.fuzzy.enabled",  "no", "check.rspamd.enabled", "no"};
    for (size_t i = 0; i < sizeof base / sizeof *base; i += 2)
        if (!params_set(cfg, base[i], base[i + 1], err, errlen))
            fail_msg("params_set %s: %s", base[i], err);
    for (size_t i = 0; kv && kv[i]; i += 2)
        if (!params_set(cfg, kv[i], kv[i + 1], err, errlen))
            fail_msg("params_set %s: %s", kv[i], err);
    pipeline *p = pipeline_new(cfg, 1, err, errlen);
    params_destroy(&cfg);
    return p;
}

static const Bulwark__Symbol *sym(const Bulwark__ScanResult *r, const char *name)
{
    for (size_t i = 0; i < r->n_symbols; i++)
        if (strcmp(r->symbols[i]->name, name) == 0)
            return r->symbols[i];
    return NULL;
}

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_rules_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

#define SPAM                                                                                       \
    "From: winner@example.com\r\n"                                                                 \
    "To: you@example.org\r\n"                                                                      \
    "Subject: CLAIM YOUR PRIZE NOW!!!\r\n"                                                         \
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"                                                     \
    "Message-ID: <1@example.com>\r\n"                                                              \
    "MIME-Version: 1.0\r\n"                                                                        \
    "Content-Type: text/html; charset=utf-8\r\n"                                                   \
    "\r\n"                                                                                         \
    "<html><body><p>Dear Friend, you have won the lottery! Verify your account "                   \
    "<a href=\"http://192.0.2.7/wp-admin/login.php\">here</a>.</p>"                                \
    "<form action=\"http://192.0.2.7/x\"><input type=\"password\" name=\"p\"></form>"              \
    "</body></html>\r\n"

static void test_pipeline_rules(void **state)
{
    (void)state;
    char err[512] = "";
    const char *extra = "uri LOCAL_WP /\\/wp-admin\\// score 0.8 desc \"WordPress admin\"\n"
                        "meta LOCAL_PHISH (URL_IP_HOST || HTML_PASSWORD_FIELD) && LOCAL_WP "
                        "score 3 desc \"phish\"\n";
    char *path = write_tmp(extra);
    char files[128];
    snprintf(files, sizeof files, " %s , ", path);
    const char *kv[] = {"check.rules.files", files, "score.LOCAL_WP", "2.5", NULL};
    pipeline *p = make(kv, err, sizeof err);
    if (!p)
        fail_msg("pipeline_new: %s", err);
    scan_task *t = scan_task_new(p, "job-r", NULL, (const uint8_t *)SPAM, strlen(SPAM));
    scan_run(t);
    const Bulwark__ScanResult *r = scan_result(t);
    const Bulwark__Symbol *s = sym(r, "LOCAL_WP");
    assert_non_null(s);
    assert_true(fabs(s->score - 2.5) < 1e-9); /* score.NAME overrides the file's 0.8 */
    assert_non_null(strstr(s->detail, "WordPress admin: \"http://192.0.2.7/wp-admin/"));
    s = sym(r, "LOCAL_PHISH");
    assert_non_null(s);
    assert_true(fabs(s->score - 3) < 1e-9);
    assert_non_null(sym(r, "PHR_DEAR_FRIEND")); /* the built-in set */
    assert_non_null(sym(r, "PHR_LOTTERY"));
    assert_true(task_has_symbol(t, "LOCAL_WP"));
    assert_false(task_has_symbol(t, "GTUBE"));
    scan_task_destroy(&t);
    pipeline_release(&p);

    /* builtin off: only the extra file's rules exist */
    const char *kv2[] = {"check.rules.files", path, "check.rules.builtin", "no", NULL};
    p = make(kv2, err, sizeof err);
    assert_non_null(p);
    t = scan_task_new(p, "job-r2", NULL, (const uint8_t *)SPAM, strlen(SPAM));
    scan_run(t);
    r = scan_result(t);
    assert_non_null(sym(r, "LOCAL_WP"));
    assert_null(sym(r, "PHR_LOTTERY"));
    scan_task_destroy(&t);
    pipeline_release(&p);
    unlink(path);

    /* a bad file refuses the generation with FILE:LINE */
    path = write_tmp("body OK /a/ score 1 desc \"ok\"\nbody BAD /(/ score 1 desc \"bad\"\n");
    const char *kv3[] = {"check.rules.files", path, NULL};
    assert_null(make(kv3, err, sizeof err));
    char want[128];
    snprintf(want, sizeof want, "%s:2: BAD: bad regex", path);
    if (!strstr(err, want))
        fail_msg("err = %s", err);
    unlink(path);

    /* a rule may not take another check's symbol name */
    path = write_tmp("body GTUBE /a/ score 1 desc \"dup\"\n");
    const char *kv4[] = {"check.rules.files", path, NULL};
    assert_null(make(kv4, err, sizeof err));
    assert_non_null(strstr(err, ":1: GTUBE: name already used"));
    unlink(path);

    /* the rules check off: the generation builds, no rule symbol */
    const char *kv5[] = {"check.rules.enabled", "no", NULL};
    p = make(kv5, err, sizeof err);
    assert_non_null(p);
    pipeline_release(&p);
}

/* Generations share a compiled set only while the files' bytes are the same. */
static void test_cache_follows_file_content(void **state)
{
    (void)state;
    char err[512] = "";
    char path[] = "/tmp/test_rules_cache_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const char *versions[] = {"body CACHE_ONE /lottery/ score 1 desc \"one\"\n",
                              "body CACHE_TWO /lottery/ score 2 desc \"two\"\n"};
    for (int round = 0; round < 3; round++) {
        const char *text = versions[round == 1];
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        const char *kv[] = {"check.rules.files", path, "check.rules.builtin", "no", NULL};
        pipeline *p = make(kv, err, sizeof err);
        assert_non_null(p);
        scan_task *t = scan_task_new(p, "job-c", NULL, (const uint8_t *)SPAM, strlen(SPAM));
        scan_run(t);
        const Bulwark__ScanResult *r = scan_result(t);
        assert_true((sym(r, "CACHE_ONE") != NULL) == (round != 1));
        assert_true((sym(r, "CACHE_TWO") != NULL) == (round == 1));
        scan_task_destroy(&t);
        pipeline_release(&p);
    }
    unlink(path);
}

static void test_builtin_set_loads(void **state)
{
    (void)state;
    assert_true(rules_builtin_count >= 4);
    ruleset *rs = ruleset_new();
    char err[512];
    size_t total = 0;
    for (size_t i = 0; i < rules_builtin_count; i++)
        if (!ruleset_parse(rs, rules_builtin[i].name, rules_builtin[i].text, rules_builtin[i].len,
                           err, sizeof err))
            fail_msg("%s", err);
    total = ruleset_count(rs);
    assert_true(total >= 80 && total <= 250);
    ruleset_destroy(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_and_flags),
        cmocka_unit_test(test_snippet_and_subrules),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_pcre_fallback),
        cmocka_unit_test(test_meta_logic),
        cmocka_unit_test(test_override_across_origins),
        cmocka_unit_test(test_threads_share_a_set),
        cmocka_unit_test(test_pipeline_rules),
        cmocka_unit_test(test_cache_follows_file_content),
        cmocka_unit_test(test_builtin_set_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
