/* test_pipeline.c - unit tests for node/pipeline.c and the checks in node/checks/.
 *
 * Each test builds a generation from cluster parameters, scans a message held
 * in memory and reads the ScanResult. Covered: GTUBE in the body rejects and in
 * the Subject does not; the size limit and its forced action; the header check's
 * symbols and default weights (missing fields, duplicates, invalid/future/past
 * dates, broken header blocks); score.NAME overrides; the tag/quarantine/reject
 * thresholds at their boundaries; checks turned off with check.X.enabled=no;
 * forced actions combining by severity; a task keeping its generation alive after
 * the pipeline is released; the X-Bulwark-* headers; symbols sorted by |score|. */
#include "pipeline.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

#define assert_dbl(a, b)                                                                           \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= 1e-9))                                                              \
            fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);                                    \
    } while (0)

/* Builds a generation from "key", "value", ... NULL over the defaults. ClamAV is off:
 * this process loads no engine, and CLAM_UNAVAILABLE on every scan would only blur
 * the symbol counts these tests check (test_clamav covers it). */
static pipeline *make_v(uint64_t version, const char *const *kv)
{
    params *cfg = params_new(&params_cluster);
    char err[512] = "";
    if (!params_set(cfg, "check.clamav.enabled", "no", err, sizeof err))
        fail_msg("params_set: %s", err);
    for (size_t i = 0; kv && kv[i]; i += 2)
        if (!params_set(cfg, kv[i], kv[i + 1], err, sizeof err))
            fail_msg("params_set %s: %s", kv[i], err);
    pipeline *p = pipeline_new(cfg, version, err, sizeof err);
    if (!p)
        fail_msg("pipeline_new: %s", err);
    params_destroy(&cfg);
    return p;
}

static pipeline *make(const char *const *kv)
{
    return make_v(1, kv);
}

static scan_task *scan(pipeline *p, const char *msg)
{
    scan_task *t = scan_task_new(p, "job-1", NULL, (const uint8_t *)msg, strlen(msg));
    scan_run(t);
    return t;
}

static const Bulwark__Symbol *sym(const Bulwark__ScanResult *r, const char *name)
{
    for (size_t i = 0; i < r->n_symbols; i++)
        if (strcmp(r->symbols[i]->name, name) == 0)
            return r->symbols[i];
    return NULL;
}

static const char *header(const Bulwark__ScanResult *r, const char *name)
{
    for (size_t i = 0; i < r->n_add_headers; i++)
        if (strcmp(r->add_headers[i]->name, name) == 0)
            return r->add_headers[i]->value;
    return NULL;
}

/* A message that passes the header check: every field present, Date `offset`
 * seconds from now. The buffer is static: one message at a time. */
static const char *good_message(long offset, const char *extra_headers, const char *body)
{
    static char m[8192];
    char date[64];
    time_t when = time(NULL) + offset;
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(m, sizeof m,
             "From: Alice <alice@example.com>\r\n"
             "To: bob@example.org\r\n"
             "Subject: lunch\r\n"
             "Date: %s\r\n"
             "Message-ID: <1@example.com>\r\n"
             "%s"
             "\r\n"
             "%s",
             date, extra_headers, body);
    return m;
}

/* ---- clean mail, GTUBE --------------------------------------------------------------- */

static void test_clean_message_passes(void **state)
{
    pipeline *p = make_v(42, NULL);
    scan_task *t = scan(p, good_message(0, "", "Hello Bob.\r\n"));
    const Bulwark__ScanResult *r = scan_result(t);
    assert_int_equal(r->n_symbols, 0);
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_PASS);
    assert_dbl(r->score, 0);
    assert_string_equal(r->job_id, "job-1");
    assert_int_equal(r->config_version, 42);
    assert_string_equal(r->reason, "");
    assert_string_equal(r->subject_prefix, "");
    scan_task_destroy(&t);
    assert_null(t);
    pipeline_release(&p);
    assert_null(p);
}

static void test_gtube_in_body_rejects(void **state)
{
    pipeline *p = make(NULL);
    scan_task *t = scan(p, good_message(0, "", "Test:\r\n" GTUBE "\r\n"));
    const Bulwark__ScanResult *r = scan_result(t);
    const Bulwark__Symbol *s = sym(r, "GTUBE");
    assert_non_null(s);
    assert_dbl(s->score, 1000);
    assert_string_equal(s->detail, "GTUBE test string in body");
    assert_int_equal(r->n_symbols, 1);
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_REJECT);
    assert_dbl(r->score, 1000);
    assert_string_equal(r->reason, "GTUBE test message");
    scan_task_destroy(&t);

    /* GTUBE as the very last bytes, no line end. */
    t = scan(p, good_message(0, "", GTUBE));
    assert_non_null(sym(scan_result(t), "GTUBE"));
    scan_task_destroy(&t);
    pipeline_release(&p);
}

static void test_gtube_in_subject_only(void **state)
{
    pipeline *p = make(NULL);
    scan_task *t = scan(p, good_message(0, "X-Test: " GTUBE "\r\n", "clean body\r\n"));
    const Bulwark__ScanResult *r = scan_result(t);
    assert_null(sym(r, "GTUBE"));
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_PASS);
    scan_task_destroy(&t);

    static const char subj[] = "Subject: " GTUBE "\r\nFrom: a@b\r\n\r\nbody\r\n";
    t = scan(p, subj);
    assert_null(sym(scan_result(t), "GTUBE"));
    scan_task_destroy(&t);

    /* With no empty line there is no body, whatever the header block holds. */
    t = scan(p, "Subject: x\r\nX: " GTUBE "\r\n");
    assert_null(sym(scan_result(t), "GTUBE"));
    scan_task_destroy(&t);

    /* A broken GTUBE string is not GTUBE. */
    t = scan(p, good_message(
                    0, "", "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34"));
    assert_null(sym(scan_result(t), "GTUBE"));
    scan_task_destroy(&t);
    pipeline_release(&p);
}

static void test_gtube_action_and_disable(void **state)
{
    /* action=none with a weight of 0: the symbol is there, the mail passes. */
    static const char *const none[] = {"check.gtube.action", "none", "score.GTUBE", "0", NULL};
    pipeline *p = make(none);
    scan_task *t = scan(p, good_message(0, "", GTUBE));
    const Bulwark__ScanResult *r = scan_result(t);
    assert_non_null(sym(r, "GTUBE"));
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_PASS);
    scan_task_destroy(&t);
    pipeline_release(&p);

    /* action=quarantine forces that even with a zero score. */
    static const char *const q[] = {"check.gtube.action", "quarantine", "score.GTUBE", "0", NULL};
    p = make(q);
    t = scan(p, good_message(0, "", GTUBE));
    r = scan_result(t);
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_QUARANTINE);
    assert_string_equal(r->reason, "GTUBE test message");
    scan_task_destroy(&t);
    pipeline_release(&p);

    /* action=none, default weight: the score alone rejects, with the policy's reason. */
    static const char *const sc[] = {"check.gtube.action", "none", NULL};
    p = make(sc);
    t = scan(p, good_message(0, "", GTUBE));
    r = scan_result(t);
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_REJECT);
    assert_string_equal(r->reason, "message rejected as spam");
    scan_task_destroy(&t);
    pipeline_release(&p);

    static const char *const off[] = {"check.gtube.enabled", "no", NULL};
    p = make(off);
    t = scan(p, good_message(0, "", GTUBE));
    r = scan_result(t);
    assert_int_equal(r->n_symbols, 0);
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_PASS);
    scan_task_destroy(&t);
    pipeline_release(&p);
}

/* ---- size ------------------------------------------------------------------------------ */

static const char *sized_message(size_t total)
{
    static char m[4096];
    const char *head = good_message(0, "", "");
    size_t hl = strlen(head);
    assert_true(total >= hl && total < sizeof m);
    memcpy(m, head, hl);
    memset(m + hl, 'b', total - hl);
    m[total] = '\0';
    return m;
}

static void test_size_limit(void **state)
{
    static const char *const lim[] = {"check.size.max_bytes", "1k", NULL};
    pipeline *p = make(lim);
    scan_task *t = scan(p, sized_message(1024)); /* at the limit: fine */
    assert_null(sym(scan_result(t), "MSG_TOO_BIG"));
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_PASS);
    scan_task_destroy(&t);

    t = scan(p, sized_message(1025));
    const Bulwark__ScanResult *r = scan_result(t);
    const Bulwark__Symbol *s = sym(r, "MSG_TOO_BIG");
    assert_non_null(s);
    assert_dbl(s->score, 0);
    assert_string_equal(s->detail, "size 1025 > limit 1024");
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_REJECT); /* forced, score 0 */
    assert_dbl(r->score, 0);
    assert_string_equal(r->reason, "message too big");
    scan_task_destroy(&t);
    pipeline_release(&p);

    static const char *const tag[] = {"check.size.max_bytes",
                                      "1k",
                                      "check.size.action",
                                      "tag",
                                      "policy.subject_prefix",
                                      "[BIG]",
                                      NULL};
    p = make(tag);
    t = scan(p, sized_message(2000));
    r = scan_result(t);
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_TAG);
    assert_string_equal(r->subject_prefix, "[BIG]");
    scan_task_destroy(&t);
    pipeline_release(&p);

    static const char *const none[] = {"check.size.max_bytes", "1k", "check.size.action", "none",
                                       NULL};
    p = make(none);
    t = scan(p, sized_message(2000));
    r = scan_result(t);
    assert_non_null(sym(r, "MSG_TOO_BIG"));
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_PASS);
    assert_string_equal(r->reason, "");
    scan_task_destroy(&t);
    pipeline_release(&p);

    static const char *const off[] = {"check.size.max_bytes", "1k", "check.size.enabled", "no",
                                      NULL};
    p = make(off);
    t = scan(p, sized_message(2000));
    assert_int_equal(scan_result(t)->n_symbols, 0);
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_PASS);
    scan_task_destroy(&t);
    pipeline_release(&p);
}

/* ---- headers --------------------------------------------------------------------------- */

static void test_missing_headers(void **state)
{
    pipeline *p = make(NULL);
    scan_task *t = scan(p, "Subject: only a subject\r\n\r\nbody\r\n");
    const Bulwark__ScanResult *r = scan_result(t);
    assert_int_equal(r->n_symbols, 3);
    assert_dbl(sym(r, "MISSING_FROM")->score, 2.0);
    assert_dbl(sym(r, "MISSING_DATE")->score, 1.0);
    assert_dbl(sym(r, "MISSING_MESSAGE_ID")->score, 0.5);
    assert_null(sym(r, "MISSING_SUBJECT"));
    assert_dbl(r->score, 3.5);
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_PASS);
    scan_task_destroy(&t);

    t = scan(p, "From: a@b\r\nDate: Fri, 21 Nov 1997 09:55:06 -0600\r\n\r\n");
    r = scan_result(t);
    assert_dbl(sym(r, "MISSING_SUBJECT")->score, 0.3);
    assert_non_null(sym(r, "MISSING_MESSAGE_ID"));
    assert_non_null(sym(r, "DATE_IN_PAST"));
    assert_dbl(sym(r, "DATE_IN_PAST")->score, 0.5);
    scan_task_destroy(&t);

    /* No header fields at all: one header symbol, not a pile of "missing" ones (the
     * mime check adds its own view of an empty message). */
    t = scan(p, "");
    r = scan_result(t);
    assert_dbl(sym(r, "NO_HEADERS")->score, 3.0);
    assert_null(sym(r, "MISSING_FROM"));
    assert_null(sym(r, "MISSING_DATE"));
    assert_null(sym(r, "MISSING_SUBJECT"));
    assert_non_null(sym(r, "MIME_UNPARSABLE"));
    assert_int_equal(r->n_symbols, 2);
    scan_task_destroy(&t);
    t = scan(p, "\r\njust a body\r\n");
    assert_non_null(sym(scan_result(t), "NO_HEADERS"));
    assert_null(sym(scan_result(t), "MISSING_FROM"));
    scan_task_destroy(&t);
    pipeline_release(&p);
}

static void test_header_damage_symbols(void **state)
{
    pipeline *p = make(NULL);
    scan_task *t = scan(p, good_message(0, "From: second@example.com\r\n", "b"));
    const Bulwark__Symbol *s = sym(scan_result(t), "DUPLICATE_HEADER");
    assert_non_null(s);
    assert_dbl(s->score, 1.5);
    assert_string_equal(s->detail, "From appears 2 times");
    scan_task_destroy(&t);

    /* Several Received fields are normal. */
    t = scan(p, good_message(0,
                             "Received: from a.example by b.example; Fri, 21 Nov 1997 09:55:07 "
                             "-0600\r\nReceived: from c.example by a.example; Fri, 21 Nov 1997 "
                             "09:55:06 -0600\r\n",
                             "b"));
    assert_int_equal(scan_result(t)->n_symbols, 0);
    scan_task_destroy(&t);

    t = scan(p, "From: a@b\r\nSubject: s\r\nMessage-ID: <x@y>\r\nDate: yesterday\r\n\r\n");
    s = sym(scan_result(t), "INVALID_DATE");
    assert_non_null(s);
    assert_string_equal(s->detail, "Date 'yesterday' does not parse");
    assert_int_equal(scan_result(t)->n_symbols, 1);
    scan_task_destroy(&t);

    t = scan(p, good_message(2 * 86400, "", "b"));
    assert_non_null(sym(scan_result(t), "DATE_IN_FUTURE"));
    assert_dbl(sym(scan_result(t), "DATE_IN_FUTURE")->score, 1.5);
    scan_task_destroy(&t);
    t = scan(p, good_message(3600, "", "b")); /* an hour ahead: within max_future */
    assert_int_equal(scan_result(t)->n_symbols, 0);
    scan_task_destroy(&t);
    t = scan(p, good_message(-40L * 86400, "", "b"));
    assert_non_null(sym(scan_result(t), "DATE_IN_PAST"));
    assert_string_equal(sym(scan_result(t), "DATE_IN_PAST")->detail, "Date is 40 days old");
    scan_task_destroy(&t);
    t = scan(p, good_message(-20L * 86400, "", "b"));
    assert_int_equal(scan_result(t)->n_symbols, 0);
    scan_task_destroy(&t);

    t = scan(p, good_message(0, "this is not a header\r\nX-8: caf\xc3\xa9\r\n", "b"));
    assert_non_null(sym(scan_result(t), "HEADER_BROKEN"));
    assert_non_null(sym(scan_result(t), "HEADER_8BIT"));
    assert_int_equal(scan_result(t)->n_symbols, 2);
    scan_task_destroy(&t);
    pipeline_release(&p);

    /* The future/past windows come from the configuration. */
    static const char *const win[] = {"check.headers.max_future", "10m", "check.headers.max_past",
                                      "1d", NULL};
    p = make(win);
    t = scan(p, good_message(3600, "", "b"));
    assert_non_null(sym(scan_result(t), "DATE_IN_FUTURE"));
    scan_task_destroy(&t);
    t = scan(p, good_message(-2L * 86400, "", "b"));
    assert_non_null(sym(scan_result(t), "DATE_IN_PAST"));
    scan_task_destroy(&t);
    pipeline_release(&p);
}

static void test_headers_check_disabled(void **state)
{
    static const char *const off[] = {"check.headers.enabled", "no", "check.mime.enabled", "no",
                                      NULL};
    pipeline *p = make(off);
    scan_task *t = scan(p, "");
    assert_int_equal(scan_result(t)->n_symbols, 0);
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_PASS);
    scan_task_destroy(&t);
    /* The other checks still run. */
    t = scan(p, "\r\n" GTUBE);
    assert_int_equal(scan_result(t)->n_symbols, 1);
    assert_non_null(sym(scan_result(t), "GTUBE"));
    scan_task_destroy(&t);
    pipeline_release(&p);
}

/* ---- weights and policy ------------------------------------------------------------ */

static void test_score_override(void **state)
{
    static const char *const kv[] = {"score.MISSING_FROM", "20", "score.MISSING_DATE", "-1", NULL};
    pipeline *p = make(kv);
    scan_task *t = scan(p, "Subject: s\r\nMessage-ID: <a@b>\r\n\r\n");
    const Bulwark__ScanResult *r = scan_result(t);
    assert_dbl(sym(r, "MISSING_FROM")->score, 20);
    assert_dbl(sym(r, "MISSING_DATE")->score, -1);
    assert_dbl(r->score, 19);
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_REJECT);
    assert_string_equal(r->reason, "message rejected as spam");
    scan_task_destroy(&t);
    pipeline_release(&p);

    /* An override of a symbol no check has is harmless. */
    static const char *const unknown[] = {"score.NOT_A_SYMBOL", "50", NULL};
    p = make(unknown);
    t = scan(p, good_message(0, "", "b"));
    assert_int_equal(scan_result(t)->n_symbols, 0);
    assert_dbl(scan_result(t)->score, 0);
    scan_task_destroy(&t);
    pipeline_release(&p);
}

/* Scans a message whose only symbol is MISSING_MESSAGE_ID, weighted `w`. */
static Bulwark__Action action_for_weight(const char *w, const char *const *extra)
{
    const char *kv[16] = {"score.MISSING_MESSAGE_ID", w};
    size_t n = 2;
    for (size_t i = 0; extra && extra[i]; i++)
        kv[n++] = extra[i];
    kv[n] = NULL;
    pipeline *p = make(kv);
    static char m[512];
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(m, sizeof m, "From: a@b\r\nSubject: s\r\nDate: %s\r\n\r\nbody", date);
    scan_task *t = scan(p, m);
    const Bulwark__ScanResult *r = scan_result(t);
    assert_int_equal(r->n_symbols, 1);
    assert_non_null(sym(r, "MISSING_MESSAGE_ID"));
    Bulwark__Action a = r->action;
    scan_task_destroy(&t);
    pipeline_release(&p);
    return a;
}

static void test_thresholds(void **state)
{
    assert_int_equal(action_for_weight("-50", NULL), BULWARK__ACTION__ACTION_PASS);
    assert_int_equal(action_for_weight("0", NULL), BULWARK__ACTION__ACTION_PASS);
    assert_int_equal(action_for_weight("4.999", NULL), BULWARK__ACTION__ACTION_PASS);
    assert_int_equal(action_for_weight("5", NULL), BULWARK__ACTION__ACTION_TAG);
    assert_int_equal(action_for_weight("9.99", NULL), BULWARK__ACTION__ACTION_TAG);
    assert_int_equal(action_for_weight("10", NULL), BULWARK__ACTION__ACTION_QUARANTINE);
    assert_int_equal(action_for_weight("14.999", NULL), BULWARK__ACTION__ACTION_QUARANTINE);
    assert_int_equal(action_for_weight("15", NULL), BULWARK__ACTION__ACTION_REJECT);
    assert_int_equal(action_for_weight("1000", NULL), BULWARK__ACTION__ACTION_REJECT);

    static const char *const low[] = {
        "policy.tag_score", "1", "policy.quarantine_score", "2", "policy.reject_score", "3", NULL};
    assert_int_equal(action_for_weight("0.5", low), BULWARK__ACTION__ACTION_PASS);
    assert_int_equal(action_for_weight("1", low), BULWARK__ACTION__ACTION_TAG);
    assert_int_equal(action_for_weight("2", low), BULWARK__ACTION__ACTION_QUARANTINE);
    assert_int_equal(action_for_weight("3", low), BULWARK__ACTION__ACTION_REJECT);

    /* Reject below quarantine: the most severe threshold reached wins. */
    static const char *const odd[] = {"policy.reject_score", "6", NULL};
    assert_int_equal(action_for_weight("7", odd), BULWARK__ACTION__ACTION_REJECT);
}

static void test_tag_subject_prefix_and_reason(void **state)
{
    static const char *const kv[] = {"score.MISSING_MESSAGE_ID",
                                     "6",
                                     "policy.subject_prefix",
                                     "[SPAM]",
                                     "policy.reject_message",
                                     "go away",
                                     NULL};
    pipeline *p = make(kv);
    scan_task *t = scan(p, "From: a@b\r\nSubject: s\r\nDate: x\r\n\r\n");
    const Bulwark__ScanResult *r = scan_result(t);
    /* MISSING_MESSAGE_ID 6 + INVALID_DATE 1 = 7: tag. */
    assert_dbl(r->score, 7);
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_TAG);
    assert_string_equal(r->subject_prefix, "[SPAM]");
    assert_string_equal(r->reason, "");
    scan_task_destroy(&t);
    pipeline_release(&p);

    static const char *const rj[] = {"score.MISSING_MESSAGE_ID",
                                     "16",
                                     "policy.subject_prefix",
                                     "[SPAM]",
                                     "policy.reject_message",
                                     "go away",
                                     NULL};
    p = make(rj);
    t = scan(p, "From: a@b\r\nSubject: s\r\nDate: x\r\n\r\n");
    r = scan_result(t);
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_REJECT);
    assert_string_equal(r->reason, "go away");
    assert_string_equal(r->subject_prefix, ""); /* only tagged mail gets the prefix */
    scan_task_destroy(&t);
    pipeline_release(&p);
}

static void test_forced_actions_combine(void **state)
{
    pipeline *p = make(NULL);
    const char *m = good_message(0, "", "b");

    /* The most severe forced action wins, whatever order they come in. */
    scan_task *t = scan_task_new(p, "j", NULL, (const uint8_t *)m, strlen(m));
    task_force(t, BULWARK__ACTION__ACTION_QUARANTINE, "first");
    task_force(t, BULWARK__ACTION__ACTION_TAG, "weaker");
    task_force(t, BULWARK__ACTION__ACTION_TEMPFAIL, "weaker too");
    scan_run(t);
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_QUARANTINE);
    assert_string_equal(scan_result(t)->reason, "first");
    scan_task_destroy(&t);

    /* A forced action replaces the one the score reached, even a more severe one:
     * the check's configured action is the policy for what it found. */
    t = scan_task_new(p, "j", NULL, (const uint8_t *)m, strlen(m));
    task_symbol_scaled(t, "MISSING_FROM", 10.0, "scaled %d", 10); /* 2.0 x 10 = 20 */
    task_force(t, BULWARK__ACTION__ACTION_TAG, "tagged");
    scan_run(t);
    const Bulwark__ScanResult *r = scan_result(t);
    assert_dbl(sym(r, "MISSING_FROM")->score, 20);
    assert_string_equal(sym(r, "MISSING_FROM")->detail, "scaled 10");
    assert_int_equal(r->action, BULWARK__ACTION__ACTION_TAG);
    assert_string_equal(r->reason, "tagged");
    scan_task_destroy(&t);
    /* Without a forced action the score decides. */
    t = scan_task_new(p, "j", NULL, (const uint8_t *)m, strlen(m));
    task_symbol_scaled(t, "MISSING_FROM", 10.0, "scaled %d", 10);
    scan_run(t);
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_REJECT);
    assert_string_equal(scan_result(t)->reason, "message rejected as spam");
    scan_task_destroy(&t);

    /* A forced tempfail is above tag. */
    t = scan_task_new(p, "j", NULL, (const uint8_t *)m, strlen(m));
    task_symbol_scaled(t, "MISSING_FROM", 3.0, "x"); /* 6: tag */
    task_force(t, BULWARK__ACTION__ACTION_TEMPFAIL, "try later");
    scan_run(t);
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_TEMPFAIL);
    assert_string_equal(scan_result(t)->reason, "try later");
    scan_task_destroy(&t);
    pipeline_release(&p);
}

/* ---- output --------------------------------------------------------------------------- */

static void test_added_headers(void **state)
{
    pipeline *p = make(NULL);
    scan_task *t = scan_task_new(p, "abc-123", NULL, (const uint8_t *)"Subject: s\r\n\r\n" GTUBE,
                                 strlen("Subject: s\r\n\r\n" GTUBE));
    scan_run(t);
    const Bulwark__ScanResult *r = scan_result(t);
    assert_int_equal(r->n_add_headers, 4);
    assert_string_equal(r->add_headers[0]->name, "Authentication-Results");
    assert_string_equal(r->add_headers[1]->name, "X-Bulwark-Status");
    assert_string_equal(r->add_headers[2]->name, "X-Bulwark-Symbols");
    assert_string_equal(r->add_headers[3]->name, "X-Bulwark-Id");
    assert_string_equal(header(r, "X-Bulwark-Status"),
                        "reject score=1003.50 tag=5.00 quarantine=10.00 reject=15.00");
    assert_string_equal(header(r, "X-Bulwark-Symbols"),
                        "GTUBE(1000.00), MISSING_FROM(2.00), MISSING_DATE(1.00), "
                        "MISSING_MESSAGE_ID(0.50)");
    assert_string_equal(header(r, "X-Bulwark-Id"), "abc-123");
    assert_string_equal(r->job_id, "abc-123");
    scan_task_destroy(&t);

    /* A clean message still gets the status and an empty symbol list. */
    t = scan(p, good_message(0, "", "b"));
    r = scan_result(t);
    assert_string_equal(header(r, "X-Bulwark-Status"),
                        "pass score=0.00 tag=5.00 quarantine=10.00 reject=15.00");
    assert_string_equal(header(r, "X-Bulwark-Symbols"), "");
    scan_task_destroy(&t);

    /* A NULL job id is an empty one. */
    t = scan_task_new(p, NULL, NULL, (const uint8_t *)"", 0);
    scan_run(t);
    assert_string_equal(scan_result(t)->job_id, "");
    assert_string_equal(task_job_id(t), "");
    scan_task_destroy(&t);
    pipeline_release(&p);
}

/* Our Authentication-Results on every message (nothing checked without a resolver:
 * "none"), forged ones listed for deletion, room for the policy's fields kept. */
static void test_authentication_results(void **state)
{
    (void)state;
    static const char *const kv[] = {"auth.authserv_id", "mx.test", NULL};
    pipeline *p = make(kv);
    const char *msg = "Authentication-Results: mx.test; spf=pass\r\n"
                      "Authentication-Results: other.test; spf=pass\r\n"
                      "Authentication-Results: MX.TEST; dkim=pass\r\n"
                      "From: a@b.example\r\n\r\nhello\r\n";
    scan_task *t = scan_task_new(p, "j", NULL, (const uint8_t *)msg, strlen(msg));
    for (int i = 0; i < TASK_MAX_HEADERS; i++)
        assert_true(task_add_header(t, "X-Check", "v"));
    assert_false(task_add_header(t, "X-Check", "one too many"));
    scan_run(t);
    const Bulwark__ScanResult *r = scan_result(t);
    assert_int_equal(r->n_add_headers, TASK_MAX_HEADERS + 4);
    assert_string_equal(header(r, "Authentication-Results"), "mx.test; none");
    assert_int_equal(r->n_remove_headers, 2);
    assert_string_equal(r->remove_headers[0]->name, "Authentication-Results");
    assert_int_equal(r->remove_headers[0]->index, 1);
    assert_int_equal(r->remove_headers[1]->index, 3);
    assert_false(task_add_header(t, "X-Late", "full")); /* after the policy: all used */
    scan_task_destroy(&t);
    pipeline_release(&p);

    params *cfg = params_new(&params_cluster);
    char err[256];
    assert_true(params_set(cfg, "auth.authserv_id", "mx;test", err, sizeof err));
    assert_null(pipeline_new(cfg, 1, err, sizeof err));
    assert_non_null(strstr(err, "auth.authserv_id 'mx;test' is not a name"));
    params_destroy(&cfg);
}

static void test_symbols_sorted_by_magnitude(void **state)
{
    static const char *const kv[] = {"score.MISSING_FROM", "-8", "score.MISSING_SUBJECT", "0.5",
                                     NULL};
    pipeline *p = make(kv);
    /* MISSING_FROM -8, MISSING_DATE 1, MISSING_MESSAGE_ID 0.5, MISSING_SUBJECT 0.5. */
    scan_task *t = scan(p, "X-Only: 1\r\n\r\n");
    const Bulwark__ScanResult *r = scan_result(t);
    assert_int_equal(r->n_symbols, 4);
    assert_string_equal(r->symbols[0]->name, "MISSING_FROM");
    assert_string_equal(r->symbols[1]->name, "MISSING_DATE");
    /* Equal weights: by name. */
    assert_string_equal(r->symbols[2]->name, "MISSING_MESSAGE_ID");
    assert_string_equal(r->symbols[3]->name, "MISSING_SUBJECT");
    assert_dbl(r->score, -6);
    assert_string_equal(header(r, "X-Bulwark-Symbols"),
                        "MISSING_FROM(-8.00), MISSING_DATE(1.00), MISSING_MESSAGE_ID(0.50), "
                        "MISSING_SUBJECT(0.50)");
    scan_task_destroy(&t);
    pipeline_release(&p);
}

static void test_symbol_overflow(void **state)
{
    pipeline *p = make(NULL);
    const char *m = good_message(0, "", "b");
    scan_task *t = scan_task_new(p, "many", NULL, (const uint8_t *)m, strlen(m));
    for (int i = 0; i < 300; i++)
        task_symbol_scaled(t, "MISSING_DATE", 0.001, "n=%d", i);
    scan_run(t);
    const Bulwark__ScanResult *r = scan_result(t);
    assert_int_equal(r->n_symbols, 256); /* the rest dropped, not overflowed */
    assert_dbl(r->score, 0.256);
    /* The header lists the ten heaviest only. */
    const char *h = header(r, "X-Bulwark-Symbols");
    size_t commas = 0;
    for (const char *c = h; *c; c++)
        commas += *c == ',';
    assert_int_equal(commas, 9);
    scan_task_destroy(&t);
    pipeline_release(&p);
}

/* ---- generations ------------------------------------------------------------------------ */

static void test_task_keeps_generation(void **state)
{
    static const char *const kv[] = {"score.MISSING_FROM", "7", NULL};
    pipeline *p = make_v(5, kv);
    const char *m = "Subject: s\r\n\r\nb";
    scan_task *t = scan_task_new(p, "old", NULL, (const uint8_t *)m, strlen(m));
    /* The generation is swapped out and released while the job is in hand. */
    pipeline_release(&p);
    assert_null(p);
    pipeline *next = make_v(6, NULL);
    scan_run(t);
    const Bulwark__ScanResult *r = scan_result(t);
    assert_int_equal(r->config_version, 5);
    assert_dbl(sym(r, "MISSING_FROM")->score, 7);
    scan_task_destroy(&t); /* frees the old generation (ASan checks it is not used after) */

    t = scan(next, m);
    assert_int_equal(scan_result(t)->config_version, 6);
    assert_dbl(sym(scan_result(t), "MISSING_FROM")->score, 2);
    scan_task_destroy(&t);

    /* Extra references need as many releases. */
    pipeline *a = pipeline_ref(next), *b = pipeline_ref(next);
    assert_ptr_equal(a, next);
    pipeline_release(&a);
    pipeline_release(&b);
    assert_int_equal(pipeline_version(next), 6);
    pipeline_release(&next);
    pipeline_release(&next); /* NULL: no-op */
}

/* ---- DNS -------------------------------------------------------------------------------- */

static void test_task_dns(void **state)
{
    pipeline *p = make_v(1, NULL);
    const char *m = "Subject: s\r\n\r\nb";
    scan_task *t = scan_task_new(p, "dns-1", NULL, (const uint8_t *)m, strlen(m));
    assert_int_equal(task_deadline(t), 0);
    assert_null(task_dns(t)); /* no process resolver: the checks that need one stay silent */
    scan_run(t);
    scan_task_destroy(&t);

    /* With a resolver, the batch is made once, with the task's deadline: one already
     * past ends a lookup at once (the forwarder is a closed port; it is not asked). */
    dns_opts o;
    dns_opts_default(&o);
    strlist_add(&o.forwarders, "127.0.0.1:9");
    char err[256];
    dns_resolver *r = dns_new(&o, err, sizeof err);
    strlist_free(&o.forwarders);
    assert_non_null(r);
    dns_process_set(r);
    t = scan_task_new(p, "dns-2", NULL, (const uint8_t *)m, strlen(m));
    uint64_t deadline = now_ms() - 1;
    scan_task_set_deadline(t, deadline);
    assert_int_equal(task_deadline(t), deadline);
    dns_batch *b = task_dns(t);
    assert_non_null(b);
    assert_ptr_equal(task_dns(t), b);
    uint64_t t0 = mono_ms();
    assert_int_equal(dns_lookup(b, "example.com", DNS_T_TXT)->status, DNS_TIMEOUT);
    assert_true(mono_ms() - t0 < 200);
    assert_int_equal(dns_batch_queries(b), 1);
    scan_run(t);
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_PASS);
    scan_task_destroy(&t); /* the batch goes with the task (ASan: nothing leaks) */
    dns_process_set(NULL);
    dns_destroy(&r);
    pipeline_release(&p);
}

static void test_config_is_copied(void **state)
{
    params *cfg = params_new(&params_cluster);
    char err[256];
    assert_true(params_set(cfg, "policy.tag_score", "2", err, sizeof err));
    pipeline *p = pipeline_new(cfg, 9, err, sizeof err);
    assert_non_null(p);
    assert_true(params_set(cfg, "policy.tag_score", "50", err, sizeof err));
    params_destroy(&cfg);
    assert_dbl(params_double(pipeline_config(p), "policy.tag_score"), 2);
    assert_int_equal(pipeline_version(p), 9);
    pipeline_release(&p);
}

static void test_registry_and_actions(void **state)
{
    size_t n;
    const check_def *const *c = pipeline_checks(&n);
    static const char *const order[] = {"size",        "headers",  "mime",   "gtube",  "html",
                                        "attachments", "archives", "office", "clamav", "spf",
                                        "dkim",        "arc",      "dmarc",  "rbl",    "dnscheck",
                                        "rules",       "bayes",    "fuzzy",  "rspamd"};
    assert_int_equal(n, sizeof order / sizeof order[0]);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(c[i]->name, order[i]);
    /* Every check has an enabled switch in the cluster table, every symbol is
     * UPPER_SNAKE, and names are unique across checks. */
    char seen[512][64];
    size_t nseen = 0;
    for (size_t i = 0; i < n; i++) {
        char key[96], err[128];
        snprintf(key, sizeof key, "check.%s.enabled", c[i]->name);
        assert_true(params_check(&params_cluster, key, "no", err, sizeof err));
        for (const symbol_def *s = c[i]->symbols; s->name; s++) {
            assert_int_equal(strspn(s->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"),
                             strlen(s->name));
            for (size_t k = 0; k < nseen; k++)
                assert_string_not_equal(seen[k], s->name);
            assert_true(nseen < sizeof seen / sizeof seen[0]);
            snprintf(seen[nseen++], sizeof seen[0], "%s", s->name);
            assert_non_null(s->desc);
        }
    }

    static const char *names[] = {"pass", "tag", "quarantine", "reject", "tempfail"};
    for (int i = 0; i < 5; i++) {
        Bulwark__Action a;
        assert_true(action_parse(names[i], &a));
        assert_int_equal(a, i);
        assert_string_equal(action_name(a), names[i]);
    }
    Bulwark__Action a = BULWARK__ACTION__ACTION_TAG;
    assert_false(action_parse("REJECT", &a));
    assert_false(action_parse("", &a));
    assert_int_equal(a, BULWARK__ACTION__ACTION_TAG);
    assert_string_equal(action_name((Bulwark__Action)99), "unknown");
    assert_true(action_severity(BULWARK__ACTION__ACTION_PASS) <
                action_severity(BULWARK__ACTION__ACTION_TAG));
    assert_true(action_severity(BULWARK__ACTION__ACTION_TAG) <
                action_severity(BULWARK__ACTION__ACTION_TEMPFAIL));
    assert_true(action_severity(BULWARK__ACTION__ACTION_TEMPFAIL) <
                action_severity(BULWARK__ACTION__ACTION_QUARANTINE));
    assert_true(action_severity(BULWARK__ACTION__ACTION_QUARANTINE) <
                action_severity(BULWARK__ACTION__ACTION_REJECT));
}

/* A detail quotes message bytes; a proto3 string must be UTF-8, so bad bytes become '?'. */
static void test_detail_is_utf8(void **state)
{
    (void)state;
    pipeline *p = make(NULL);
    scan_task *t =
        scan(p, "From: a@example.com\r\nDate: \xff\xfe caf\xc3\xa9 \xc3\r\n\r\nbody\r\n");
    const Bulwark__Symbol *s = sym(scan_result(t), "INVALID_DATE");
    assert_non_null(s);
    assert_non_null(strstr(s->detail, "'?? caf\xc3\xa9 ?'"));
    scan_task_destroy(&t);
    pipeline_release(&p);
}

/* ---- per-domain and per-user policy ------------------------------------------------ */

static scan_task *scan_to(pipeline *p, const char *msg, char **rcpt, size_t n)
{
    static Bulwark__Envelope env;
    bulwark__envelope__init(&env);
    env.rcpt = rcpt;
    env.n_rcpt = n;
    scan_task *t = scan_task_new(p, "job-scope", &env, (const uint8_t *)msg, strlen(msg));
    scan_run(t);
    return t;
}

static const char *status_header(const Bulwark__ScanResult *r)
{
    for (size_t i = 0; i < r->n_add_headers; i++)
        if (strcmp(r->add_headers[i]->name, "X-Bulwark-Status") == 0)
            return r->add_headers[i]->value;
    return "";
}

static void test_scoped_policy(void **state)
{
    (void)state;
    static const char *const kv[] = {"check.rules.enabled",
                                     "no",
                                     "policy.tag_score",
                                     "100",
                                     "policy.quarantine_score",
                                     "200",
                                     "policy.reject_score",
                                     "300",
                                     "policy.domain.example.org.tag_score",
                                     "-100",
                                     "policy.user.ceo@example.org.reject_score",
                                     "-100",
                                     "policy.domain.other.test.adjust",
                                     "150",
                                     NULL};
    pipeline *p = make(kv);
    const char *msg = good_message(0, "", "Hello Bob.\r\n");
    char *none[] = {"x@elsewhere.test"}, *bob[] = {"BOB@Example.ORG"}, *ceo[] = {"ceo@example.org"},
         *both[] = {"bob@example.org", "ceo@example.org"}, *other[] = {"a@other.test"},
         *mixed[] = {"x@elsewhere.test", "bob@example.org"};

    scan_task *t = scan_to(p, msg, none, 1);
    double base = scan_result(t)->score;
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_PASS);
    assert_null(strstr(status_header(scan_result(t)), "policy="));
    scan_task_destroy(&t);

    t = scan_to(p, msg, bob, 1); /* the domain's tag threshold, case-insensitively */
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_TAG);
    assert_non_null(strstr(status_header(scan_result(t)), "tag=-100.00"));
    assert_non_null(strstr(status_header(scan_result(t)), "policy=domain:example.org"));
    scan_task_destroy(&t);

    t = scan_to(p, msg, ceo, 1); /* the user's own threshold over the domain's */
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_REJECT);
    assert_non_null(strstr(status_header(scan_result(t)), "policy=user:ceo@example.org"));
    scan_task_destroy(&t);

    t = scan_to(p, msg, both, 2); /* several recipients: the strictest */
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_REJECT);
    scan_task_destroy(&t);
    t = scan_to(p, msg, mixed, 2);
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_TAG);
    scan_task_destroy(&t);

    t = scan_to(p, msg, other, 1); /* an adjustment adds to the score */
    assert_dbl(scan_result(t)->score, base + 150);
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_TAG);
    assert_non_null(strstr(status_header(scan_result(t)), "adjust=150.00"));
    scan_task_destroy(&t);
    pipeline_release(&p);

    /* Malformed scoped keys are refused like unknown parameters. */
    params *cfg = params_new(&params_cluster);
    char err[256];
    assert_false(params_set(cfg, "policy.domain.Example.org.tag_score", "1", err, sizeof err));
    assert_false(params_set(cfg, "policy.user.noat.example.org.tag_score", "1", err, sizeof err));
    assert_false(params_set(cfg, "policy.domain.a@b.org.tag_score", "1", err, sizeof err));
    assert_false(params_set(cfg, "policy.domain.example.org.bogus", "1", err, sizeof err));
    assert_false(params_set(cfg, "policy.domain.example.org.tag_score", "lots", err, sizeof err));
    assert_true(params_set(cfg, "policy.user.a+b@x-y.example.org.adjust", "-2.5", err, sizeof err));
    char scope[128];
    assert_string_equal(
        params_scoped_key("policy.user.a+b@x-y.example.org.adjust", scope, sizeof scope), "adjust");
    assert_string_equal(scope, "user:a+b@x-y.example.org");
    params_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detail_is_utf8),
        cmocka_unit_test(test_clean_message_passes),
        cmocka_unit_test(test_gtube_in_body_rejects),
        cmocka_unit_test(test_gtube_in_subject_only),
        cmocka_unit_test(test_gtube_action_and_disable),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_missing_headers),
        cmocka_unit_test(test_header_damage_symbols),
        cmocka_unit_test(test_headers_check_disabled),
        cmocka_unit_test(test_score_override),
        cmocka_unit_test(test_scoped_policy),
        cmocka_unit_test(test_thresholds),
        cmocka_unit_test(test_tag_subject_prefix_and_reason),
        cmocka_unit_test(test_forced_actions_combine),
        cmocka_unit_test(test_added_headers),
        cmocka_unit_test(test_authentication_results),
        cmocka_unit_test(test_symbols_sorted_by_magnitude),
        cmocka_unit_test(test_symbol_overflow),
        cmocka_unit_test(test_task_keeps_generation),
        cmocka_unit_test(test_task_dns),
        cmocka_unit_test(test_config_is_copied),
        cmocka_unit_test(test_registry_and_actions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
