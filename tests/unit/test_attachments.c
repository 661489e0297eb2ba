/* test_attachments.c - the attachment policy (node/checks/attachments.c) through the
 * pipeline: messages are built here with base64 attachments of known bytes, scanned
 * with the cluster defaults (or a changed setting), and the symbols and the action
 * are compared with what the policy promises.
 *
 * Covered: blocked extension; executable bytes under a .pdf name (true type,
 * disguise); a declared type that lies; double extension and padded double
 * extension; right-to-left override and zero-width characters; the allow-lists for
 * extensions and types; size and count limits with their action; harmless files
 * (PDF, PNG, plain text body) that must not be flagged; the configured action. */
#include "params.h"
#include "pipeline.h"

#include <glib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A minimal PE32 image: MZ header pointing at a PE signature and a COFF header. */
static size_t pe_bytes(uint8_t *b, size_t n)
{
    memset(b, 0, n);
    b[0] = 'M';
    b[1] = 'Z';
    b[0x3c] = 0x80;
    memcpy(b + 0x80, "PE\0\0", 4);
    b[0x84] = 0x4c; /* i386 */
    b[0x85] = 0x01;
    b[0x94] = 0xe0; /* optional header size */
    b[0x96] = 0x02; /* characteristics: executable */
    b[0x98] = 0x0b; /* PE32 magic */
    b[0x99] = 0x01;
    return n;
}

static const uint8_t png_bytes[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0,    0,    0,
                                    0x0d, 'I', 'H', 'D', 'R',  0,    0,    0,    1,    0,    0,
                                    0,    1,   8,   2,   0,    0,    0,    0x90, 0x77, 0x53, 0xde};
static const char pdf_text[] =
    "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 "
    "R >>\n%%EOF\n";

typedef struct {
    const char *name; /* NULL: no file name */
    const char *type; /* declared */
    const uint8_t *data;
    size_t len;
} att;

static char *message(const att *a, size_t n)
{
    GString *m = g_string_new("From: a@example.com\r\nTo: b@example.org\r\nSubject: files\r\n"
                              "Date: Tue, 24 Nov 2026 08:00:00 +0000\r\n"
                              "Message-ID: <att@example.com>\r\nMIME-Version: 1.0\r\n"
                              "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                              "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
                              "see attached\r\n");
    for (size_t i = 0; i < n; i++) {
        gchar *b64 = g_base64_encode(a[i].data, a[i].len);
        if (a[i].name)
            g_string_append_printf(
                m,
                "--b1\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\n"
                "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n%s\r\n",
                a[i].type, a[i].name, b64);
        else
            g_string_append_printf(m,
                                   "--b1\r\nContent-Type: %s\r\nContent-Transfer-Encoding: "
                                   "base64\r\n\r\n%s\r\n",
                                   a[i].type, b64);
        g_free(b64);
    }
    g_string_append(m, "--b1--\r\n");
    return g_string_free(m, FALSE);
}

typedef struct {
    Bulwark__Action action;
    char symbols[2048]; /* " NAME NAME " */
    char details[4096];
} verdict;

static verdict scan(const att *a, size_t n, const char *const *sets)
{
    params *cfg = params_new(&params_cluster);
    char err[256];
    for (const char *const *s = sets; s && *s; s += 2)
        assert_true(params_set(cfg, s[0], s[1], err, sizeof err));
    pipeline *p = pipeline_new(cfg, 1, err, sizeof err);
    assert_non_null(p);
    params_destroy(&cfg);
    char *raw = message(a, n);
    scan_task *t = scan_task_new(p, "att-test", NULL, (const uint8_t *)raw, strlen(raw));
    scan_run(t);
    const Bulwark__ScanResult *r = scan_result(t);
    verdict v = {.action = r->action};
    size_t o = 0, d = 0;
    o += (size_t)snprintf(v.symbols + o, sizeof v.symbols - o, " ");
    for (size_t i = 0; i < r->n_symbols; i++) {
        o += (size_t)snprintf(v.symbols + o, sizeof v.symbols - o, "%s ", r->symbols[i]->name);
        d += (size_t)snprintf(v.details + d, sizeof v.details - d, "%s: %s\n", r->symbols[i]->name,
                              r->symbols[i]->detail);
    }
    scan_task_destroy(&t);
    pipeline_release(&p);
    g_free(raw);
    return v;
}

static bool has(const verdict *v, const char *sym)
{
    char k[80];
    snprintf(k, sizeof k, " %s ", sym);
    return strstr(v->symbols, k) != NULL;
}

#define assert_has(v, s)                                                                           \
    do {                                                                                           \
        if (!has(&(v), s))                                                                         \
            fail_msg("expected %s in%s\n%s", s, (v).symbols, (v).details);                         \
    } while (0)
#define assert_lacks(v, s)                                                                         \
    do {                                                                                           \
        if (has(&(v), s))                                                                          \
            fail_msg("did not expect %s in%s\n%s", s, (v).symbols, (v).details);                   \
    } while (0)

static uint8_t pe[1024];

static void test_harmless_files_pass(void **state)
{
    (void)state;
    att a[] = {{"report.pdf", "application/pdf", (const uint8_t *)pdf_text, strlen(pdf_text)},
               {"logo.png", "image/png", png_bytes, sizeof png_bytes},
               {"notes.txt", "text/plain", (const uint8_t *)"just text\n", 10}};
    verdict v = scan(a, 3, NULL);
    assert_int_equal(v.action, BULWARK__ACTION__ACTION_PASS);
    if (strstr(v.symbols, "ATTACHMENT_"))
        fail_msg("harmless files flagged:%s\n%s", v.symbols, v.details);
}

static void test_blocked_extension(void **state)
{
    (void)state;
    att a[] = {{"setup.EXE. ", "application/octet-stream", (const uint8_t *)"hello", 5}};
    verdict v = scan(a, 1, NULL);
    assert_has(v, "ATTACHMENT_BLOCKED");
    assert_int_equal(v.action, BULWARK__ACTION__ACTION_REJECT);
    assert_non_null(strstr(v.details, ".exe is blocked"));
}

static void test_executable_named_pdf(void **state)
{
    (void)state;
    att a[] = {{"invoice.pdf", "application/pdf", pe, pe_bytes(pe, sizeof pe)}};
    verdict v = scan(a, 1, NULL);
    assert_has(v, "ATTACHMENT_BLOCKED_TYPE");
    assert_has(v, "ATTACHMENT_EXEC_DISGUISED");
    assert_lacks(v, "ATTACHMENT_BLOCKED"); /* the name alone is fine */
    assert_int_equal(v.action, BULWARK__ACTION__ACTION_REJECT);
    assert_non_null(strstr(v.details, "named .pdf but is application/"));
}

static void test_unnamed_executable_declared_as_image(void **state)
{
    (void)state;
    att a[] = {{NULL, "image/jpeg", pe, pe_bytes(pe, sizeof pe)}};
    verdict v = scan(a, 1, NULL);
    assert_has(v, "ATTACHMENT_BLOCKED_TYPE");
    assert_has(v, "ATTACHMENT_EXEC_DISGUISED");
    assert_non_null(strstr(v.details, "declared image/jpeg"));
}

static void test_double_extension(void **state)
{
    (void)state;
    att a[] = {{"invoice.pdf.exe", "application/pdf", pe, pe_bytes(pe, sizeof pe)},
               {"scan.jpg          .scr", "image/jpeg", (const uint8_t *)"x", 1}};
    verdict v = scan(a, 2, NULL);
    assert_has(v, "ATTACHMENT_DOUBLE_EXT");
    assert_has(v, "ATTACHMENT_BLOCKED");
    assert_non_null(strstr(v.details, ".pdf.exe (and 1 more)"));
    /* a plain archive name with a version is not a double extension */
    att b[] = {{"release-1.2.tar", "application/x-tar", (const uint8_t *)"x", 1}};
    verdict w = scan(b, 1, NULL);
    assert_lacks(w, "ATTACHMENT_DOUBLE_EXT");
}

static void test_rtlo_and_zero_width(void **state)
{
    (void)state;
    /* "invoice<U+202E>fdp.exe" displays as "invoiceexe.pdf" */
    att a[] = {{"invoice\xe2\x80\xae"
                "fdp.exe",
                "application/octet-stream", (const uint8_t *)"x", 1}};
    verdict v = scan(a, 1, NULL);
    assert_has(v, "ATTACHMENT_NAME_OBFUSCATED");
    assert_non_null(strstr(v.details, "U+202E"));
    att b[] = {{"pay\xe2\x80\x8broll.txt", "text/plain", (const uint8_t *)"x", 1}};
    verdict w = scan(b, 1, NULL);
    assert_has(w, "ATTACHMENT_NAME_OBFUSCATED");
    assert_non_null(strstr(w.details, "zero-width"));
    att c[] = {{"r\xc3\xa9sum\xc3\xa9.txt", "text/plain", (const uint8_t *)"x", 1}};
    verdict x = scan(c, 1, NULL);
    assert_lacks(x, "ATTACHMENT_NAME_OBFUSCATED"); /* accents are not obfuscation */
}

static void test_allow_lists(void **state)
{
    (void)state;
    att a[] = {{"tool.exe", "application/octet-stream", pe, pe_bytes(pe, sizeof pe)}};
    const char *ext_only[] = {"check.attachments.allow", ".EXE", NULL};
    verdict v = scan(a, 1, ext_only);
    assert_lacks(v, "ATTACHMENT_BLOCKED");
    assert_has(v, "ATTACHMENT_BLOCKED_TYPE"); /* the bytes are still an executable */
    const char *both[] = {"check.attachments.allow", "exe", "check.attachments.allow_types",
                          "application/vnd.microsoft.portable-executable,application/x-dosexec",
                          NULL};
    verdict w = scan(a, 1, both);
    assert_lacks(w, "ATTACHMENT_BLOCKED");
    assert_lacks(w, "ATTACHMENT_BLOCKED_TYPE");
    assert_int_equal(w.action, BULWARK__ACTION__ACTION_PASS);
}

static void test_configured_action(void **state)
{
    (void)state;
    att a[] = {{"run.bat", "text/plain", (const uint8_t *)"@echo off\r\n", 11}};
    const char *q[] = {"check.attachments.action", "quarantine", NULL};
    verdict v = scan(a, 1, q);
    assert_has(v, "ATTACHMENT_BLOCKED");
    assert_int_equal(v.action, BULWARK__ACTION__ACTION_QUARANTINE);
    const char *none[] = {"check.attachments.action", "none", NULL};
    verdict w = scan(a, 1, none);
    assert_has(w, "ATTACHMENT_BLOCKED");
    assert_int_not_equal(w.action, BULWARK__ACTION__ACTION_REJECT); /* left to the score */
}

static void test_limits(void **state)
{
    (void)state;
    static uint8_t big[5000];
    memset(big, 'a', sizeof big);
    att a[] = {{"a.txt", "text/plain", big, sizeof big},
               {"b.txt", "text/plain", (const uint8_t *)"b", 1},
               {"c.txt", "text/plain", (const uint8_t *)"c", 1}};
    verdict v = scan(a, 3, NULL); /* no limits by default */
    assert_lacks(v, "ATTACHMENT_TOO_BIG");
    assert_lacks(v, "ATTACHMENT_TOO_MANY");
    const char *lim[] = {"check.attachments.max_size", "4k", "check.attachments.max_count", "2",
                         NULL};
    verdict w = scan(a, 3, lim);
    assert_has(w, "ATTACHMENT_TOO_BIG");
    assert_has(w, "ATTACHMENT_TOO_MANY");
    assert_non_null(strstr(w.details, "'a.txt' is 5000 bytes (limit 4096)"));
    assert_non_null(strstr(w.details, "3 attachments (limit 2)")); /* not the body text */
    assert_int_equal(w.action, BULWARK__ACTION__ACTION_REJECT);
    const char *tag[] = {"check.attachments.max_count", "2", "check.attachments.limit_action",
                         "tag", NULL};
    verdict x = scan(a, 3, tag);
    assert_int_equal(x.action, BULWARK__ACTION__ACTION_TAG);
}

static void test_bad_configuration(void **state)
{
    (void)state;
    params *cfg = params_new(&params_cluster);
    char err[256];
    assert_true(params_set(cfg, "check.attachments.block_types", "application/x-dosexec,", err,
                           sizeof err));
    char longtype[200];
    memset(longtype, 'a', sizeof longtype - 1);
    longtype[sizeof longtype - 1] = '\0';
    assert_true(params_set(cfg, "check.attachments.allow_types", longtype, err, sizeof err));
    pipeline *p = pipeline_new(cfg, 1, err, sizeof err);
    assert_null(p);
    assert_non_null(strstr(err, "check.attachments.allow_types"));
    params_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harmless_files_pass),
        cmocka_unit_test(test_blocked_extension),
        cmocka_unit_test(test_executable_named_pdf),
        cmocka_unit_test(test_unnamed_executable_declared_as_image),
        cmocka_unit_test(test_double_extension),
        cmocka_unit_test(test_rtlo_and_zero_width),
        cmocka_unit_test(test_allow_lists),
        cmocka_unit_test(test_configured_action),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bad_configuration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
