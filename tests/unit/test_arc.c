/* test_arc.c - ARC chains: instances, seal and signature parsing, chain assembly, the
 * cv= rules, verification and what an AAR says.
 *
 * Fixtures (tests/unit/data/arc/, "name record" lines, a blank line, the message):
 * dkimpy-3hop.txt is a chain of three sets sealed by dkimpy (python3-dkim) for
 * a.example, b.example and c.example with one RSA key; stalwart-002.txt is stalwart
 * mail-auth's two-set chain (an Ed25519 seal under an RSA one). Keys are handed to
 * the verifier as DNS would give them; the DNS path is tested in
 * tests/integration/test_arc.py. Structural faults are made by editing the text, and
 * must be found before any key is asked for. */
#include "arc.h"
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    strlist names, records;
    char *msg; /* CRLF line ends */
} fixture;

static void load(const char *name, fixture *f)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", ARC_DATA, name);
    size_t len;
    char *raw = file_read(path, &len);
    assert_non_null(raw);
    memset(f, 0, sizeof *f);
    char *p = raw;
    for (;;) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (nl == p || (nl == p + 1 && *p == '\r')) {
            p = nl + 1;
            break;
        }
        *nl = '\0';
        char *sp = strchr(p, ' ');
        assert_non_null(sp);
        *sp = '\0';
        strlist_add(&f->names, p);
        strlist_add(&f->records, sp + 1);
        p = nl + 1;
    }
    buf_t b = {0};
    for (; *p; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n')
            buf_append(&b, "\r", 1);
        buf_append(&b, p, 1);
    }
    buf_append(&b, "", 1);
    f->msg = b.data;
    free(raw);
}

static void unload(fixture *f)
{
    strlist_free(&f->names);
    strlist_free(&f->records);
    free(f->msg);
}

/* msg with the first `old` replaced by `new` (which must be there). */
static char *edit(const char *msg, const char *old, const char *new)
{
    const char *at = strstr(msg, old);
    if (!at)
        fail_msg("'%s' not in the message", old);
    return xasprintf("%.*s%s%s", (int)(at - msg), msg, new, at + strlen(old));
}

typedef enum { KEYS_ALL, KEYS_NONE, KEYS_TEMPFAIL_FIRST } keys_mode;

/* Validates msg with the fixture's records (a name without one is a missing key). */
static arc_result check(const fixture *f, const char *msg, keys_mode mode, size_t *nkeys)
{
    arc_opts o;
    arc_opts_default(&o);
    arc_verifier *v = arc_verifier_new((const uint8_t *)msg, strlen(msg), &o);
    if (nkeys)
        *nkeys = arc_verifier_key_count(v);
    for (size_t k = 0; mode != KEYS_NONE && k < arc_verifier_key_count(v); k++) {
        const char *name = arc_verifier_key_name(v, k);
        if (mode == KEYS_TEMPFAIL_FIRST && k == 0) {
            arc_verifier_set_key(v, name, DKIM_LOOKUP_TEMPFAIL, NULL, 0, "timeout");
            continue;
        }
        size_t i = 0;
        while (i < f->names.n && strcmp(f->names.v[i], name) != 0)
            i++;
        if (i < f->names.n)
            arc_verifier_set_key(v, name, DKIM_LOOKUP_FOUND, f->records.v[i],
                                 strlen(f->records.v[i]), "ok");
        else
            arc_verifier_set_key(v, name, DKIM_LOOKUP_MISSING, NULL, 0, "nxdomain");
    }
    arc_verifier_run(v);
    arc_result r = *arc_verifier_result(v);
    arc_verifier_destroy(&v);
    return r;
}

/* ---- parsers --------------------------------------------------------------------- */

static void test_instance(void **state)
{
    (void)state;
    unsigned i;
    size_t off;
    char err[160];
    const char *aar = " i = 3 ;  mx.example; spf=pass";
    assert_true(arc_instance(ARC_AAR, aar, strlen(aar), &i, &off, err, sizeof err));
    assert_int_equal(i, 3);
    assert_string_equal(aar + off, "  mx.example; spf=pass");
    const char *seal = "a=rsa-sha256; cv=none; i=50; b=x";
    assert_true(arc_instance(ARC_SEAL, seal, strlen(seal), &i, NULL, err, sizeof err));
    assert_int_equal(i, 50);
    static const char *const bad[] = {"i=0; mx.example",      "i=51; mx.example", "i=x; mx",
                                      "mx.example; spf=pass", "i=1 mx.example",   "i=0001; mx"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        assert_false(arc_instance(ARC_AAR, bad[k], strlen(bad[k]), &i, &off, err, sizeof err));
    assert_false(arc_instance(ARC_AMS, "a=rsa-sha256; b=x", 17, &i, NULL, err, sizeof err));
    assert_string_equal(err, "no i= tag");
    assert_false(arc_instance(ARC_SEAL, "i=1; i=2", 8, &i, NULL, err, sizeof err));
    assert_non_null(strstr(err, "twice"));
    arc_kind k;
    assert_true(arc_field_kind("arc-SEAL", 8, &k));
    assert_int_equal(k, ARC_SEAL);
    assert_true(arc_field_kind("ARC-Authentication-Results", 26, &k));
    assert_int_equal(k, ARC_AAR);
    assert_false(arc_field_kind("ARC-Seal2", 9, &k));
}

#define AMS_BH "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" /* SHA-256 of nothing */
#define SEAL "i=2; a=rsa-sha256; cv=pass; d=Lists.Example; s=Arc; t=1; b=AAAA"
#define AMS                                                                                        \
    "i=2; a=rsa-sha256; c=relaxed/relaxed; d=lists.example; s=arc; h=From:To : subject; "          \
    "bh=" AMS_BH "; b=AAAA"

static bool sig(arc_kind k, const char *v, arc_sig *s, char *err)
{
    return arc_sig_parse(k, v, strlen(v), s, err, 160);
}

static void test_sig_parse(void **state)
{
    (void)state;
    arc_sig s;
    char err[160];
    assert_true(sig(ARC_SEAL, SEAL, &s, err));
    assert_int_equal(s.instance, 2);
    assert_int_equal(s.cv, ARC_CV_PASS);
    assert_string_equal(s.domain, "lists.example");
    assert_string_equal(s.selector, "arc");
    assert_int_equal(s.blen, 3);
    arc_sig_clear(&s);
    assert_true(sig(ARC_AMS, AMS, &s, err));
    assert_int_equal(s.hcanon, DKIM_CANON_RELAXED);
    assert_int_equal(s.headers.n, 3);
    assert_string_equal(s.headers.v[2], "subject");
    arc_sig_clear(&s);
    /* c= absent: DKIM's default, simple/simple */
    assert_true(sig(ARC_AMS,
                    "i=1; a=rsa-sha256; d=x.example; s=s; h=from; bh=" AMS_BH "; b=AA==", &s, err));
    assert_int_equal(s.hcanon, DKIM_CANON_SIMPLE);
    assert_int_equal(s.bcanon, DKIM_CANON_SIMPLE);
    arc_sig_clear(&s);

    static const struct {
        arc_kind k;
        const char *v, *why;
    } bad[] = {
        {ARC_SEAL, "i=1; a=rsa-sha256; cv=none; d=x.example; s=s; h=from; b=AAAA", "h="},
        {ARC_SEAL, "i=1; a=rsa-sha256; cv=maybe; d=x.example; s=s; b=AAAA", "cv=maybe"},
        {ARC_SEAL, "i=1; a=rsa-sha256; d=x.example; s=s; b=AAAA", "cv= is missing"},
        {ARC_SEAL, "i=1; a=rsa-sha1; cv=none; d=x.example; s=s; b=AAAA", "rsa-sha1"},
        {ARC_SEAL, "i=1; a=rsa-sha256; cv=none; d=x..example; s=s; b=AAAA", "d="},
        {ARC_SEAL, "i=1; a=rsa-sha256; cv=none; d=x.example; s=s; b=", "b="},
        {ARC_SEAL, "i=99; a=rsa-sha256; cv=none; d=x.example; s=s; b=AAAA", "i="},
        {ARC_AMS,
         "i=1; a=rsa-sha256; d=x.example; s=s; h=to:subject; bh=" AMS_BH "; b=AA==", "From"},
        {ARC_AMS,
         "i=1; a=rsa-sha256; d=x.example; s=s; h=from:arc-seal; bh=" AMS_BH "; b=AA==", "ARC-Seal"},
        {ARC_AMS, "i=1; a=rsa-sha256; d=x.example; s=s; h=from; bh=AAAA; b=AA==", "bh="},
        {ARC_AMS, "i=1; a=rsa-sha256; d=x.example; s=s; h=from; b=AA==", "bh= is missing"},
        {ARC_AMS, "i=1; a=foo; d=x.example; s=s; h=from; bh=" AMS_BH "; b=AA==", "a=foo"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(sig(bad[i].k, bad[i].v, &s, err));
        if (!strstr(err, bad[i].why))
            fail_msg("%s: '%s' does not say %s", bad[i].v, err, bad[i].why);
        arc_sig_clear(&s);
    }
}

static void test_aar_read(void **state)
{
    (void)state;
    /* Google's AAR: comments, a quoted mailfrom, header.i instead of header.d */
    const char *p = " mx.google.com;\r\n"
                    "       dkim=pass header.i=@ietf.org header.s=ietf1 header.b=jqktr+Hk;\r\n"
                    "       spf=pass (google.com: domain of x@ietf.org designates 1.2.3.4 as "
                    "permitted sender) smtp.mailfrom=\"ietf-bounces@IETF.org\";\r\n"
                    "       dmarc=fail (p=NONE sp=QUARANTINE dis=NONE) header.from=stalw.art";
    arc_aar a;
    assert_true(arc_aar_read(p, strlen(p), &a));
    assert_string_equal(a.authserv_id, "mx.google.com");
    assert_string_equal(a.spf, "pass");
    assert_string_equal(a.spf_domain, "ietf.org");
    assert_int_equal(a.ndkim, 1);
    assert_string_equal(a.dkim[0].result, "pass");
    assert_string_equal(a.dkim[0].domain, "ietf.org");
    assert_string_equal(a.dmarc, "fail");
    assert_string_equal(a.dmarc_from, "stalw.art");
    /* a broken one keeps what came before the fault */
    const char *q = " mx.example; dmarc=pass header.from=a.example; spf pass";
    assert_false(arc_aar_read(q, strlen(q), &a));
    assert_string_equal(a.dmarc, "pass");
    assert_string_equal(a.spf, "");
}

/* ---- chains ------------------------------------------------------------------------ */

static void test_none(void **state)
{
    (void)state;
    fixture f;
    load("dkimpy-3hop.txt", &f);
    const char *body = strstr(f.msg, "Received:");
    size_t nkeys;
    arc_result r = check(&f, body, KEYS_ALL, &nkeys);
    assert_int_equal(r.res, ARC_RES_NONE);
    assert_int_equal(nkeys, 0);
    unload(&f);
}

static void test_pass(void **state)
{
    (void)state;
    fixture f;
    load("dkimpy-3hop.txt", &f);
    size_t nkeys;
    arc_result r = check(&f, f.msg, KEYS_ALL, &nkeys);
    assert_int_equal(r.res, ARC_RES_PASS);
    assert_int_equal(r.sets, 3);
    assert_int_equal(nkeys, 3); /* the newest AMS shares c.example's key with its seal */
    arc_opts o;
    arc_opts_default(&o);
    arc_verifier *v = arc_verifier_new((const uint8_t *)f.msg, strlen(f.msg), &o);
    assert_string_equal(arc_verifier_sealer(v, 1), "a.example");
    assert_string_equal(arc_verifier_sealer(v, 3), "c.example");
    assert_null(arc_verifier_sealer(v, 4));
    size_t len;
    const char *aar = arc_verifier_aar(v, 1, &len);
    assert_non_null(aar);
    assert_memory_equal(aar, " mx.a.example;", 14);
    arc_verifier_destroy(&v);
    /* LF line ends verify the same */
    buf_t lf = {0};
    for (const char *p = f.msg; *p; p++)
        if (*p != '\r')
            buf_append(&lf, p, 1);
    buf_append(&lf, "", 1);
    assert_int_equal(check(&f, lf.data, KEYS_ALL, NULL).res, ARC_RES_PASS);
    buf_free(&lf);
    unload(&f);

    load("stalwart-002.txt", &f); /* ed25519-sha256 under rsa-sha256 */
    r = check(&f, f.msg, KEYS_ALL, NULL);
    assert_int_equal(r.res, ARC_RES_PASS);
    assert_int_equal(r.sets, 2);
    unload(&f);
}

static void expect_fail(const fixture *f, const char *msg, unsigned instance, const char *why,
                        bool needs_keys)
{
    size_t nkeys;
    arc_result r = check(f, msg, KEYS_ALL, &nkeys);
    assert_int_equal(r.res, ARC_RES_FAIL);
    assert_int_equal(r.instance, instance);
    if (!strstr(r.reason, why))
        fail_msg("reason '%s' does not say '%s'", r.reason, why);
    if (!needs_keys)
        assert_int_equal(nkeys, 0); /* decided on its form, before any lookup */
}

static void test_assembly(void **state)
{
    (void)state;
    fixture f;
    load("dkimpy-3hop.txt", &f);
    /* a set without its AAR */
    char *m = edit(f.msg, "ARC-Authentication-Results: i=2;", "X-Was-AAR: i=2;");
    expect_fail(&f, m, 2, "ARC set i=2 has no ARC-Authentication-Results", false);
    free(m);
    /* a second seal with i=1 */
    m = edit(f.msg, "ARC-Seal: i=2;", "ARC-Seal: i=1;");
    expect_fail(&f, m, 1, "two ARC-Seal fields with i=1", false);
    free(m);
    /* a gap: the newest set says i=4 */
    char *a = edit(f.msg, "ARC-Seal: i=3;", "ARC-Seal: i=4;");
    char *b = edit(a, "ARC-Message-Signature: i=3;", "ARC-Message-Signature: i=4;");
    m = edit(b, "ARC-Authentication-Results: i=3;", "ARC-Authentication-Results: i=4;");
    expect_fail(&f, m, 3, "ARC set i=3 has no ARC-Seal (sets must be 1..4)", false);
    free(a), free(b), free(m);
    /* beyond 50 */
    m = edit(f.msg, "ARC-Authentication-Results: i=3;", "ARC-Authentication-Results: i=51;");
    expect_fail(&f, m, 0, "i=51 is not an instance 1..50", false);
    free(m);
    /* an AAR that is not one */
    m = edit(f.msg, "ARC-Authentication-Results: i=3;", "ARC-Authentication-Results: mx;");
    expect_fail(&f, m, 0, "does not start with i=", false);
    free(m);
    unload(&f);
}

static void test_cv_rules(void **state)
{
    (void)state;
    fixture f;
    load("dkimpy-3hop.txt", &f);
    char *m = edit(f.msg, "i=1; cv=none;", "i=1; cv=pass;");
    expect_fail(&f, m, 1, "ARC-Seal i=1 has cv=pass (must be none)", false);
    free(m);
    m = edit(f.msg, "i=2; cv=pass;", "i=2; cv=none;");
    expect_fail(&f, m, 2, "ARC-Seal i=2 has cv=none (must be pass)", false);
    free(m);
    m = edit(f.msg, "i=2; cv=pass;", "i=2; cv=fail;");
    expect_fail(&f, m, 2, "ARC-Seal i=2 has cv=fail", false);
    free(m);
    m = edit(f.msg, "i=3; cv=pass;", "i=3; cv=fail;");
    expect_fail(&f, m, 3, "the newest ARC-Seal (i=3) says cv=fail", false);
    free(m);
    unload(&f);
}

static void test_verify_faults(void **state)
{
    (void)state;
    fixture f;
    load("dkimpy-3hop.txt", &f);
    /* the body after sealing */
    char *m = edit(f.msg, "budget approved", "budget rejected");
    expect_fail(&f, m, 3, "ARC-Message-Signature i=3 d=c.example: body hash mismatch", true);
    free(m);
    /* a header the newest AMS signed */
    m = edit(f.msg, "Subject: Board meeting", "Subject: Bored meeting");
    expect_fail(&f, m, 3, "ARC-Message-Signature i=3 d=c.example: signature does not verify", true);
    free(m);
    /* the oldest AAR: every seal covers it, the newest is checked first */
    m = edit(f.msg, "i=1; mx.a.example; spf=pass", "i=1; mx.a.example; spf=fail");
    expect_fail(&f, m, 3, "ARC-Seal i=3 d=c.example: signature does not verify", true);
    free(m);
    /* an unsigned header added on top changes nothing */
    m = xasprintf("X-Added: later\r\n%s", f.msg);
    assert_int_equal(check(&f, m, KEYS_ALL, NULL).res, ARC_RES_PASS);
    free(m);
    /* a sealer's key is gone */
    free(f.names.v[0]); /* a.example's */
    f.names.v[0] = xstrdup("gone");
    expect_fail(&f, f.msg, 1, "ARC-Seal i=1 d=a.example: no key at arc._domainkey.a.example", true);
    unload(&f);
}

static void test_temperror(void **state)
{
    (void)state;
    fixture f;
    load("dkimpy-3hop.txt", &f);
    arc_result r = check(&f, f.msg, KEYS_TEMPFAIL_FIRST, NULL);
    assert_int_equal(r.res, ARC_RES_TEMPERROR);
    assert_int_equal(r.instance, 3);
    assert_non_null(strstr(r.reason, "key lookup arc._domainkey.c.example: timeout"));
    r = check(&f, f.msg, KEYS_NONE, NULL); /* never looked up */
    assert_int_equal(r.res, ARC_RES_TEMPERROR);
    assert_non_null(strstr(r.reason, "not done"));
    /* a definite failure elsewhere wins over a temporary one */
    char *m = edit(f.msg, "i=1; mx.a.example; spf=pass", "i=1; mx.a.example; spf=fail");
    r = check(&f, m, KEYS_TEMPFAIL_FIRST, NULL);
    assert_int_equal(r.res, ARC_RES_FAIL);
    assert_int_equal(r.instance, 2);
    free(m);
    unload(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instance),  cmocka_unit_test(test_sig_parse),
        cmocka_unit_test(test_aar_read),  cmocka_unit_test(test_none),
        cmocka_unit_test(test_pass),      cmocka_unit_test(test_assembly),
        cmocka_unit_test(test_cv_rules),  cmocka_unit_test(test_verify_faults),
        cmocka_unit_test(test_temperror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
