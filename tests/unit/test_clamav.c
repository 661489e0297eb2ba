/* test_clamav.c - unit tests for node/clam.c and the check node/checks/clamav.c.
 *
 * Each test writes a small signature database into a temp directory (an .ndb body
 * signature for EICAR, an .hdb hash signature for a harmless file) and starts the
 * process's engine on it. Covered: clean and infected buffers; EICAR base64-encoded
 * in a MIME message, in a zip, and in a zip attached to a message; the hash
 * signature; limits as CLAM_LIMITS with or without heuristics; the encrypted-zip
 * heuristic only when heuristics are on; start failures (missing dir, empty dir,
 * broken database) with their messages; no engine -> unavailable; reload by
 * clam_reload_check (new signature found, unchanged files not reloaded, a broken
 * database keeps the old engine) and by the reloader thread, with scans running in
 * threads through the reloads; and the pipeline: CLAM_VIRUS with a reject,
 * CLAM_LIMITS with a quarantine, CLAM_ERROR with a tempfail, CLAM_UNAVAILABLE,
 * the check disabled. The EICAR string is assembled at run time from two halves so
 * this source file is not itself a detection. */
#include "clam.h"
#include "pipeline.h"

#include <archive.h>
#include <archive_entry.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static char eicar[69];

/* A harmless file and its MD5, for the .hdb signature. */
static const char hash_file[] = "Bulwark hash signature test file, harmless.\n";
#define HASH_FILE_MD5 "623b0800ea765c128c455036af498cbe"

static const char reload_marker[] = "BULWARK-RELOAD-TEST-MARKER-1";

static void make_eicar(void)
{
    /* Two halves, so no scanner flags this file. */
    snprintf(eicar, sizeof eicar, "%s%s", "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
             "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    assert_int_equal(strlen(eicar), 68);
}

static void hex(const char *s, char *out)
{
    for (; *s; s++, out += 2)
        sprintf(out, "%02x", (unsigned char)*s);
    *out = '\0';
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char tmp[520];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0); /* as freshclam does: never half a file */
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A temp dir with test.ndb (EICAR) and test.hdb (hash_file). */
static void make_db(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/bulwark-test-clamav-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char h[200], line[300];
    hex(eicar, h);
    snprintf(line, sizeof line, "Bulwark.Test.EICAR:0:*:%s\n", h);
    write_file(dir, "test.ndb", line);
    snprintf(line, sizeof line, "%s:%zu:Bulwark.Test.Hash\n", HASH_FILE_MD5, strlen(hash_file));
    write_file(dir, "test.hdb", line);
}

static clam_config config(const char *dir)
{
    params *p = params_new(&params_node);
    clam_config c;
    clam_config_from_params(p, &c);
    params_destroy(&p); /* only the strings point into p; set them below */
    c.db_dir = dir;
    c.tmpdir = "";
    c.reload_interval_ms = 0;
    return c;
}

static void start(const clam_config *c)
{
    char err[512] = "";
    if (!clam_start(c, err, sizeof err))
        fail_msg("clam_start: %s", err);
}

static clam_result scan_buf(const void *data, size_t len, bool heuristics)
{
    clam_result r;
    clam_scan(data, len, "test", heuristics, &r);
    return r;
}

static clam_result scan_str(const char *s)
{
    return scan_buf(s, strlen(s), true);
}

#define assert_status(r, st)                                                                       \
    do {                                                                                           \
        clam_result r_ = (r);                                                                      \
        if (r_.status != (st))                                                                     \
            fail_msg("status %s (%s), expected %s", clam_status_name(r_.status), r_.name,          \
                     clam_status_name(st));                                                        \
    } while (0)

static bool starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* A zip of one member, in memory (libarchive); NULL if the option is unsupported. */
static unsigned char *make_zip(const char *member, const void *data, size_t len,
                               const char *password, size_t *out_len)
{
    size_t cap = len + 4096;
    unsigned char *buf = malloc(cap);
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    if (password && (archive_write_set_options(a, "zip:encryption=zipcrypt") != ARCHIVE_OK ||
                     archive_write_set_passphrase(a, password) != ARCHIVE_OK)) {
        archive_write_free(a);
        free(buf);
        return NULL;
    }
    size_t used = 0;
    assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, member);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
    archive_entry_free(e);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    *out_len = used;
    return buf;
}

static void base64(const unsigned char *in, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
        if ((o + 1) % 77 == 0)
            out[o++] = '\n';
    }
    out[o] = '\0';
}

/* A message with a text part and one base64 attachment. Caller frees. */
static char *mime_with(const char *filename, const void *data, size_t len)
{
    char *b64 = malloc(len * 2 + 16);
    base64(data, len, b64);
    size_t cap = strlen(b64) + 1024;
    char *m = malloc(cap);
    snprintf(m, cap,
             "From: Alice <alice@example.com>\r\n"
             "To: bob@example.org\r\n"
             "Subject: the file\r\n"
             "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
             "Message-ID: <clam-1@example.com>\r\n"
             "MIME-Version: 1.0\r\n"
             "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
             "\r\n"
             "--b1\r\n"
             "Content-Type: text/plain\r\n"
             "\r\n"
             "Here it is.\r\n"
             "--b1\r\n"
             "Content-Type: application/octet-stream; name=\"%s\"\r\n"
             "Content-Disposition: attachment; filename=\"%s\"\r\n"
             "Content-Transfer-Encoding: base64\r\n"
             "\r\n"
             "%s\r\n"
             "--b1--\r\n",
             filename, filename, b64);
    free(b64);
    return m;
}

/* ---- start ------------------------------------------------------------------------- */

static void test_start_failures(void **state)
{
    (void)state;
    char err[512] = "";
    clam_config c = config("/nonexistent/bulwark-clamav");
    assert_false(clam_start(&c, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/bulwark-clamav"));
    assert_false(clam_available());

    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/bulwark-test-clamav-XXXXXX");
    assert_non_null(mkdtemp(dir));
    c = config(dir);
    err[0] = '\0';
    assert_false(clam_start(&c, err, sizeof err));
    assert_non_null(strstr(err, "no signatures"));

    write_file(dir, "broken.ndb", "Only.A.Name:0\n");
    err[0] = '\0';
    assert_false(clam_start(&c, err, sizeof err));
    assert_non_null(strstr(err, "cannot load signatures"));

    c.db_dir = "";
    assert_false(clam_start(&c, err, sizeof err));
    assert_non_null(strstr(err, "clamav_db_dir"));

    /* No engine: scans say so. */
    clam_result r = scan_str("hello");
    assert_int_equal(r.status, CLAM_UNAVAILABLE);
    assert_non_null(strstr(r.name, "clamav_db_dir"));
    assert_int_equal(clam_signatures(), 0);
    assert_int_equal(clam_engine_number(), 0);
    rm_tree(dir);
}

/* ---- scans -------------------------------------------------------------------------- */

static void test_scans(void **state)
{
    (void)state;
    char dir[64];
    make_db(dir, sizeof dir);
    clam_config c = config(dir);
    start(&c);
    assert_true(clam_available());
    assert_int_equal(clam_signatures(), 2);
    assert_int_equal(clam_engine_number(), 1);
    assert_true(strlen(clam_version()) > 0);

    assert_status(scan_str("Just some harmless text, nothing to see.\n"), CLAM_CLEAN);
    assert_status(scan_buf("", 0, true), CLAM_CLEAN);

    clam_result r = scan_str(eicar);
    assert_status(r, CLAM_VIRUS);
    assert_true(starts_with(r.name, "Bulwark.Test.EICAR"));
    assert_int_equal(r.engine, 1);

    r = scan_str(hash_file);
    assert_status(r, CLAM_VIRUS);
    assert_true(starts_with(r.name, "Bulwark.Test.Hash"));

    /* EICAR base64-encoded in a MIME attachment: libclamav decodes the message. */
    char *m = mime_with("eicar.com", eicar, strlen(eicar));
    assert_null(strstr(m, eicar));
    r = scan_str(m);
    assert_status(r, CLAM_VIRUS);
    assert_true(starts_with(r.name, "Bulwark.Test.EICAR"));
    free(m);

    /* In a zip, and in a zip attached to a message. */
    size_t zlen;
    unsigned char *zip = make_zip("docs/eicar.txt", eicar, strlen(eicar), NULL, &zlen);
    assert_non_null(zip);
    r = scan_buf(zip, zlen, false);
    assert_status(r, CLAM_VIRUS);
    assert_true(starts_with(r.name, "Bulwark.Test.EICAR"));
    m = mime_with("invoice.zip", zip, zlen);
    r = scan_str(m);
    assert_status(r, CLAM_VIRUS);
    assert_true(starts_with(r.name, "Bulwark.Test.EICAR"));
    free(m);
    free(zip);

    /* A clean zip in a message. */
    zip = make_zip("readme.txt", "hello\n", 6, NULL, &zlen);
    m = mime_with("readme.zip", zip, zlen);
    assert_status(scan_str(m), CLAM_CLEAN);
    free(m);
    free(zip);

    /* An encrypted zip: a heuristic, only with heuristics on. */
    zip = make_zip("secret.txt", "hello\n", 6, "pw", &zlen);
    if (zip) {
        r = scan_buf(zip, zlen, true);
        assert_status(r, CLAM_HEURISTIC);
        assert_true(starts_with(r.name, "Heuristics.Encrypted.Zip"));
        assert_status(scan_buf(zip, zlen, false), CLAM_CLEAN);
        free(zip);
    }
    clam_stop();
    assert_false(clam_available());
    rm_tree(dir);
}

static void test_limits(void **state)
{
    (void)state;
    char dir[64];
    make_db(dir, sizeof dir);
    clam_config c = config(dir);
    c.max_filesize = 1024;
    start(&c);
    char big[4096];
    memset(big, 'a', sizeof big);
    /* Over max_filesize: not scanned, so not clean, with or without heuristics. */
    clam_result r = scan_buf(big, sizeof big, true);
    assert_status(r, CLAM_LIMITS);
    assert_true(starts_with(r.name, "Heuristics.Limits.Exceeded"));
    assert_status(scan_buf(big, sizeof big, false), CLAM_LIMITS);
    /* Small buffers are still scanned. */
    assert_status(scan_str(eicar), CLAM_VIRUS);
    assert_status(scan_str("small and clean"), CLAM_CLEAN);
    clam_stop();

    /* Nesting beyond max_recursion: a zip in a zip in a zip. */
    c.max_filesize = 10 * 1024 * 1024;
    c.max_recursion = 1;
    start(&c);
    size_t l1, l2, l3;
    unsigned char *z1 = make_zip("a.txt", "hello\n", 6, NULL, &l1);
    unsigned char *z2 = make_zip("b.zip", z1, l1, NULL, &l2);
    unsigned char *z3 = make_zip("c.zip", z2, l2, NULL, &l3);
    r = scan_buf(z3, l3, false);
    assert_status(r, CLAM_LIMITS);
    free(z1);
    free(z2);
    free(z3);
    clam_stop();
    rm_tree(dir);
}

/* ---- reload ------------------------------------------------------------------------- */

typedef struct {
    atomic_bool stop;
    atomic_int scans;
    atomic_int wrong;
    char *mime;
} hammer;

static void *hammer_main(void *arg)
{
    hammer *h = arg;
    while (!atomic_load(&h->stop)) {
        clam_result r;
        clam_scan((const uint8_t *)eicar, strlen(eicar), "t", true, &r);
        if (r.status != CLAM_VIRUS)
            atomic_fetch_add(&h->wrong, 1);
        clam_scan((const uint8_t *)h->mime, strlen(h->mime), "t", true, &r);
        if (r.status != CLAM_VIRUS)
            atomic_fetch_add(&h->wrong, 1);
        clam_scan((const uint8_t *)"clean text", 10, "t", true, &r);
        if (r.status != CLAM_CLEAN)
            atomic_fetch_add(&h->wrong, 1);
        atomic_fetch_add(&h->scans, 3);
    }
    return NULL;
}

static void add_marker_sig(const char *dir, const char *marker, const char *file)
{
    char h[200], line[300];
    hex(marker, h);
    snprintf(line, sizeof line, "Bulwark.Test.Reload.%s:0:*:%s\n", file, h);
    write_file(dir, file, line);
}

static void test_reload(void **state)
{
    (void)state;
    char dir[64], err[512];
    make_db(dir, sizeof dir);
    clam_config c = config(dir);
    start(&c);
    assert_int_equal(clam_reload_check(err, sizeof err), CLAM_RELOAD_UNCHANGED);
    assert_status(scan_str(reload_marker), CLAM_CLEAN);

    hammer h = {.mime = mime_with("e.com", eicar, strlen(eicar))};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h), 0);

    /* A new signature file: found after the reload; scans go on throughout. */
    add_marker_sig(dir, reload_marker, "reload1.ndb");
    assert_int_equal(clam_reload_check(err, sizeof err), CLAM_RELOAD_DONE);
    assert_int_equal(clam_engine_number(), 2);
    assert_int_equal(clam_signatures(), 3);
    clam_result r = scan_str(reload_marker);
    assert_status(r, CLAM_VIRUS);
    assert_true(starts_with(r.name, "Bulwark.Test.Reload.reload1.ndb"));
    assert_int_equal(r.engine, 2);
    assert_int_equal(clam_reload_check(err, sizeof err), CLAM_RELOAD_UNCHANGED);

    /* A broken database: the reload fails, the old engine stays in use. */
    write_file(dir, "broken.ndb", "Only.A.Name:0\n");
    err[0] = '\0';
    assert_int_equal(clam_reload_check(err, sizeof err), CLAM_RELOAD_FAILED);
    assert_non_null(strstr(err, "cannot load"));
    assert_int_equal(clam_engine_number(), 2);
    assert_status(scan_str(reload_marker), CLAM_VIRUS);
    /* The same broken files are not tried again at every interval. */
    assert_int_equal(clam_reload_check(err, sizeof err), CLAM_RELOAD_UNCHANGED);
    char path[128];
    snprintf(path, sizeof path, "%s/broken.ndb", dir);
    /* Back to the files loaded: nothing to do. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(clam_reload_check(err, sizeof err), CLAM_RELOAD_UNCHANGED);
    assert_int_equal(clam_engine_number(), 2);

    /* A few more reloads under load. */
    for (int i = 0; i < 3; i++) {
        char marker[64], file[32];
        snprintf(marker, sizeof marker, "BULWARK-RELOAD-LOOP-%d", i);
        snprintf(file, sizeof file, "loop%d.ndb", i);
        add_marker_sig(dir, marker, file);
        assert_int_equal(clam_reload_check(err, sizeof err), CLAM_RELOAD_DONE);
        assert_status(scan_str(marker), CLAM_VIRUS);
    }
    atomic_store(&h.stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_true(atomic_load(&h.scans) > 0);
    assert_int_equal(atomic_load(&h.wrong), 0);
    clam_stop();

    /* The reloader thread notices a change by itself. */
    c.reload_interval_ms = 50;
    start(&c);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h), 0);
    assert_status(scan_str("BULWARK-THREAD-MARKER"), CLAM_CLEAN);
    add_marker_sig(dir, "BULWARK-THREAD-MARKER", "thread.ndb");
    uint64_t waited = 0;
    while (clam_engine_number() < 2 && waited < 20000) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
        waited += 20;
    }
    assert_int_equal(clam_engine_number(), 2);
    assert_status(scan_str("BULWARK-THREAD-MARKER"), CLAM_VIRUS);
    atomic_store(&h.stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&h.wrong), 0);
    clam_stop();
    free(h.mime);
    rm_tree(dir);
}

/* ---- the check, through the pipeline ------------------------------------------------ */

static pipeline *make(const char *const *kv)
{
    params *cfg = params_new(&params_cluster);
    char err[512] = "";
    for (size_t i = 0; kv && kv[i]; i += 2)
        if (!params_set(cfg, kv[i], kv[i + 1], err, sizeof err))
            fail_msg("params_set %s: %s", kv[i], err);
    pipeline *p = pipeline_new(cfg, 1, err, sizeof err);
    if (!p)
        fail_msg("pipeline_new: %s", err);
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

static bool any_clam(const Bulwark__ScanResult *r)
{
    for (size_t i = 0; i < r->n_symbols; i++)
        if (starts_with(r->symbols[i]->name, "CLAM_"))
            return true;
    return false;
}

static scan_task *scan_msg(pipeline *p, const char *m)
{
    scan_task *t = scan_task_new(p, "job-clam", NULL, (const uint8_t *)m, strlen(m));
    scan_run(t);
    return t;
}

static void test_pipeline(void **state)
{
    (void)state;
    char *virus = mime_with("eicar.txt", eicar, strlen(eicar));
    char *clean = mime_with("notes.txt", "nothing here\n", 13);

    /* No engine in the process: CLAM_UNAVAILABLE, weight 0, nothing forced. */
    pipeline *p = make(NULL);
    scan_task *t = scan_msg(p, virus);
    const Bulwark__ScanResult *res = scan_result(t);
    const Bulwark__Symbol *s = sym(res, "CLAM_UNAVAILABLE");
    assert_non_null(s);
    assert_true(s->score == 0);
    assert_non_null(strstr(s->detail, "clamav_db_dir"));
    assert_null(sym(res, "CLAM_VIRUS"));
    scan_task_destroy(&t);
    pipeline_release(&p);

    char dir[64];
    make_db(dir, sizeof dir);
    clam_config c = config(dir);
    start(&c);

    p = make(NULL);
    t = scan_msg(p, virus);
    res = scan_result(t);
    s = sym(res, "CLAM_VIRUS");
    assert_non_null(s);
    assert_true(starts_with(s->detail, "Bulwark.Test.EICAR"));
    assert_true(s->score == 20);
    assert_int_equal(res->action, BULWARK__ACTION__ACTION_REJECT);
    assert_non_null(strstr(res->reason, "Bulwark.Test.EICAR"));
    scan_task_destroy(&t);

    t = scan_msg(p, clean);
    assert_false(any_clam(scan_result(t)));
    scan_task_destroy(&t);
    pipeline_release(&p);

    /* action=none: the weight only (here made small); action=quarantine. */
    p = make((const char *[]){"check.clamav.action", "none", "score.CLAM_VIRUS", "1", NULL});
    t = scan_msg(p, virus);
    assert_non_null(sym(scan_result(t), "CLAM_VIRUS"));
    assert_int_not_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_REJECT);
    scan_task_destroy(&t);
    pipeline_release(&p);
    p = make((const char *[]){"check.clamav.action", "quarantine", NULL});
    t = scan_msg(p, virus);
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_QUARANTINE);
    scan_task_destroy(&t);
    pipeline_release(&p);

    /* Disabled: no ClamAV symbol at all. */
    p = make((const char *[]){"check.clamav.enabled", "no", NULL});
    t = scan_msg(p, virus);
    assert_false(any_clam(scan_result(t)));
    scan_task_destroy(&t);
    pipeline_release(&p);
    clam_stop();

    /* Limits: CLAM_LIMITS and check.clamav.limits_action (quarantine by default). */
    c.max_filesize = 1024;
    start(&c);
    char *bigm = mime_with("big.bin", virus, strlen(virus) > 3000 ? 3000 : strlen(virus));
    p = make(NULL);
    t = scan_msg(p, bigm);
    res = scan_result(t);
    assert_non_null(sym(res, "CLAM_LIMITS"));
    assert_int_equal(res->action, BULWARK__ACTION__ACTION_QUARANTINE);
    scan_task_destroy(&t);
    pipeline_release(&p);
    free(bigm);
    clam_stop();

    /* A scan that fails (its temp directory is gone): CLAM_ERROR and a tempfail. */
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/bulwark-test-clamtmp-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    c = config(dir);
    c.tmpdir = tmp;
    start(&c);
    rm_tree(tmp);
    p = make(NULL);
    t = scan_msg(p, virus);
    res = scan_result(t);
    s = sym(res, "CLAM_ERROR");
    assert_non_null(s);
    assert_non_null(strstr(s->detail, tmp));
    assert_int_equal(res->action, BULWARK__ACTION__ACTION_TEMPFAIL);
    assert_non_null(strstr(res->reason, "ClamAV scan failed"));
    scan_task_destroy(&t);
    pipeline_release(&p);
    clam_stop();

    free(virus);
    free(clean);
    rm_tree(dir);
}

/* A failed assertion leaves the engine loaded: stop it so the next test starts. */
static int stop_engine(void **state)
{
    (void)state;
    clam_stop();
    return 0;
}

int main(void)
{
    make_eicar();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_start_failures, stop_engine),
        cmocka_unit_test_teardown(test_scans, stop_engine),
        cmocka_unit_test_teardown(test_limits, stop_engine),
        cmocka_unit_test_teardown(test_reload, stop_engine),
        cmocka_unit_test_teardown(test_pipeline, stop_engine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
