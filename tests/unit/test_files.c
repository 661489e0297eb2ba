/* test_files.c - unit tests for node/files.c (the file walk through archives).
 *
 * The archives are built at test time with libarchive's writer (zip, 7z, ustar, raw;
 * gzip/bzip2/xz filters; zip traditional encryption), so no binary fixture can rot.
 * Covered: members with names, paths, depth, parent, bytes and detected types; zip in
 * zip in 7z; tar.gz, tar.bz2, tar.xz; a bare .gz stream named after its outer file;
 * text and junk that are not archives; the depth limit (and max_depth 0); encrypted
 * zips closed, opened with a password from the text, and not opened with a wrong one;
 * the password finder; zip bombs caught by declared size and by reading, quickly;
 * the byte budget, the member budget, the time budget; damaged archives; and
 * files_walk over a MIME message with an attached zip. */
#include "files.h"
#include "filetype.h"
#include "message.h"
#include "params.h"
#include "pipeline.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- corpus builders ---- */

typedef struct {
    const char *name;
    const void *data;
    size_t len;
} mem_entry;

static la_ssize_t grow_write(struct archive *a, void *ud, const void *p, size_t n)
{
    (void)a;
    buf_append(ud, p, n);
    return (la_ssize_t)n;
}

/* An archive of `format` ("zip", "7zip", "ustar", "raw") through `filter` ("gzip",
 * "bzip2", "xz" or NULL), optionally zip-encrypted with `password`. Caller frees. */
static uint8_t *build(const char *format, const char *filter, const char *password,
                      const mem_entry *e, size_t n, size_t *outlen)
{
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_by_name(a, format), ARCHIVE_OK);
    if (filter)
        assert_int_equal(archive_write_add_filter_by_name(a, filter), ARCHIVE_OK);
    if (password) {
        assert_int_equal(archive_write_set_options(a, "zip:encryption=zipcrypt"), ARCHIVE_OK);
        assert_int_equal(archive_write_set_passphrase(a, password), ARCHIVE_OK);
    }
    buf_t out = {0};
    assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
    assert_int_equal(archive_write_open2(a, &out, NULL, grow_write, NULL, NULL), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *en = archive_entry_new();
        archive_entry_set_pathname(en, e[i].name);
        size_t nl = strlen(e[i].name);
        if (nl && e[i].name[nl - 1] == '/') {
            archive_entry_set_filetype(en, AE_IFDIR);
            archive_entry_set_perm(en, 0755);
        } else {
            archive_entry_set_filetype(en, AE_IFREG);
            archive_entry_set_perm(en, 0644);
            archive_entry_set_size(en, (la_int64_t)e[i].len);
        }
        archive_entry_set_mtime(en, 1700000000, 0);
        assert_int_equal(archive_write_header(a, en), ARCHIVE_OK);
        if (e[i].len)
            assert_int_equal(archive_write_data(a, e[i].data, e[i].len), (la_ssize_t)e[i].len);
        archive_entry_free(en);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    *outlen = out.len;
    return (uint8_t *)out.data;
}

static uint8_t *build1(const char *format, const char *filter, const char *name, const void *data,
                       size_t len, size_t *outlen)
{
    mem_entry e = {name, data, len};
    return build(format, filter, NULL, &e, 1, outlen);
}

/* A PE32 header libmagic knows (the rest of a 512-byte file is zeros). */
static uint8_t MZ[513];

static void make_pe(uint8_t *b)
{
    memset(b, 0, 512);
    memcpy(b, "MZ", 2);
    b[0x3C] = 0x80;
    memcpy(b + 0x40, "This program cannot be run in DOS mode.", 39);
    memcpy(b + 0x80, "PE\0\0\x4c\x01\x01\x00", 8); /* i386, one section */
    b[0x94] = 0xE0; /* optional header size */
    b[0x96] = 0x02;
    b[0x97] = 0x01;
    b[0x98] = 0x0B; /* PE32 */
    b[0x99] = 0x01;
    b[0x98 + 68] = 2; /* GUI */
}

static int setup(void **state)
{
    (void)state;
    make_pe(MZ);
    return 0;
}

static walk_limits limits(void)
{
    walk_limits l = {.max_depth = 5,
                     .max_total = 200u << 20,
                     .max_ratio = 100,
                     .max_entries = 2000,
                     .max_time_ms = 10000,
                     .try_passwords = false,
                     .max_passwords = 20};
    return l;
}

static file_set *walk(const uint8_t *d, size_t n, const char *name, const walk_limits *l,
                      const char *text)
{
    file_set *fs = files_new();
    files_walk_buffer(fs, d, n, name, l, text);
    return fs;
}

static int find(const file_set *fs, const char *path)
{
    for (size_t i = 0; i < fs->n; i++)
        if (strcmp(fs->v[i].path, path) == 0)
            return (int)i;
    return -1;
}

/* What every walk must hold, whatever the input. */
static void check_invariants(const file_set *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        const scan_file *f = &fs->v[i];
        assert_non_null(f->name);
        assert_non_null(f->path);
        assert_non_null(f->detected_type);
        if (f->parent < 0) {
            assert_int_equal(f->depth, 0);
        } else {
            assert_true((size_t)f->parent < i);
            assert_int_equal(f->depth, fs->v[f->parent].depth + 1);
            assert_true(fs->v[f->parent].flags & FILE_ARCHIVE);
            assert_true(f->flags & FILE_MEMBER);
        }
        if (f->flags & FILE_NOT_EXTRACTED)
            assert_null(f->data);
    }
}

/* With BULWARK_SEED_DIR set, the documents built here are also written there, as
 * seeds for tests/fuzz/corpus/archive (those under 8 KB). */
static void save_seed(const char *name, const void *d, size_t n)
{
    const char *dir = getenv("BULWARK_SEED_DIR");
    if (!dir || n >= 8192)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(d, 1, n, f);
    fclose(f);
}

/* ---- tests ---- */

static void test_zip_members(void **state)
{
    (void)state;
    mem_entry e[] = {
        {"docs/", NULL, 0},
        {"docs/readme.txt", "hello, world\n", 13},
        {"setup.exe", MZ, sizeof MZ - 1},
    };
    size_t n;
    uint8_t *zip = build("zip", NULL, NULL, e, 3, &n);
    save_seed("members.zip", zip, n);
    walk_limits l = limits();
    file_set *fs = walk(zip, n, "invoice.zip", &l, NULL);
    check_invariants(fs);
    assert_int_equal(fs->n, 3); /* the zip and two files; the directory is not a file */
    assert_int_equal(fs->flags, 0);
    assert_true(fs->v[0].flags & FILE_ARCHIVE);
    assert_string_equal(fs->v[0].path, "invoice.zip");
    assert_string_equal(fs->v[0].detected_type, "application/zip");
    assert_int_equal(fs->v[0].parent, -1);
    const scan_file *t = &fs->v[1];
    assert_string_equal(t->path, "invoice.zip/docs/readme.txt");
    assert_string_equal(t->name, "docs/readme.txt");
    assert_int_equal(t->depth, 1);
    assert_int_equal(t->parent, 0);
    assert_int_equal(t->len, 13);
    assert_int_equal(t->size, 13);
    assert_memory_equal(t->data, "hello, world\n", 13);
    assert_string_equal(t->detected_type, "text/plain");
    assert_string_equal(t->declared_type, "");
    assert_int_equal(t->flags, FILE_MEMBER);
    assert_string_equal(fs->v[2].path, "invoice.zip/setup.exe");
    assert_true(filetype_is_executable(fs->v[2].detected_type));
    assert_int_equal(fs->expanded, 13 + sizeof MZ - 1);
    files_free(&fs);
    assert_null(fs);
    files_free(&fs);
    free(zip);
}

static void test_nested_zip_zip_7z(void **state)
{
    (void)state;
    size_t n1, n2, n3;
    uint8_t *inner = build1("zip", NULL, "payload.exe", MZ, sizeof MZ - 1, &n1);
    uint8_t *mid = build1("zip", NULL, "inner.zip", inner, n1, &n2);
    mem_entry e[] = {{"notes.txt", "see attached\n", 13}, {"mid.zip", mid, n2}};
    uint8_t *outer = build("7zip", NULL, NULL, e, 2, &n3);
    save_seed("nested.7z", outer, n3);

    walk_limits l = limits();
    file_set *fs = walk(outer, n3, "outer.7z", &l, NULL);
    check_invariants(fs);
    assert_int_equal(fs->flags, 0);
    assert_int_equal(fs->n, 5);
    int p = find(fs, "outer.7z/mid.zip/inner.zip/payload.exe");
    assert_true(p > 0);
    assert_int_equal(fs->v[p].depth, 3);
    assert_string_equal(fs->v[p].name, "payload.exe");
    assert_true(filetype_is_executable(fs->v[p].detected_type));
    assert_int_equal(fs->v[p].parent, find(fs, "outer.7z/mid.zip/inner.zip"));
    assert_true(fs->v[find(fs, "outer.7z/mid.zip")].flags & FILE_ARCHIVE);
    files_free(&fs);

    /* max_depth 2: outer and mid are opened, inner.zip (depth 2) is not */
    l.max_depth = 2;
    fs = walk(outer, n3, "outer.7z", &l, NULL);
    check_invariants(fs);
    assert_int_equal(fs->flags, WALK_TOO_DEEP);
    int in = find(fs, "outer.7z/mid.zip/inner.zip");
    assert_true(in > 0);
    assert_true(fs->v[in].flags & FILE_TOO_DEEP);
    assert_false(fs->v[in].flags & FILE_ARCHIVE);
    assert_non_null(fs->v[in].data); /* its bytes are there, for ClamAV */
    assert_int_equal(find(fs, "outer.7z/mid.zip/inner.zip/payload.exe"), -1);
    assert_non_null(strstr(fs->detail, "outer.7z/mid.zip/inner.zip"));
    files_free(&fs);

    /* a plain file at the depth limit is no "too deep" */
    l.max_depth = 1;
    fs = walk(inner, n1, "inner.zip", &l, NULL);
    assert_int_equal(fs->flags, 0);
    assert_int_equal(fs->n, 2);
    files_free(&fs);

    /* max_depth 0: nothing is opened */
    l.max_depth = 0;
    fs = walk(outer, n3, "outer.7z", &l, NULL);
    assert_int_equal(fs->n, 1);
    assert_int_equal(fs->flags, 0);
    assert_int_equal(fs->v[0].flags, 0);
    files_free(&fs);
    free(inner);
    free(mid);
    free(outer);
}

static void test_tar_filters_and_streams(void **state)
{
    (void)state;
    mem_entry e[] = {{"a.txt", "alpha\n", 6}, {"b/c.exe", MZ, sizeof MZ - 1}};
    const char *filters[] = {"gzip", "bzip2", "xz"};
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        uint8_t *tgz = build("ustar", filters[i], NULL, e, 2, &n);
        char sn[32];
        snprintf(sn, sizeof sn, "members.tar.%s", filters[i]);
        save_seed(sn, tgz, n);
        walk_limits l = limits();
        file_set *fs = walk(tgz, n, "backup.tar.x", &l, NULL);
        check_invariants(fs);
        assert_int_equal(fs->flags, 0);
        assert_int_equal(fs->n, 3);
        assert_string_equal(fs->v[1].path, "backup.tar.x/a.txt");
        assert_string_equal(fs->v[2].path, "backup.tar.x/b/c.exe");
        assert_memory_equal(fs->v[1].data, "alpha\n", 6);
        files_free(&fs);
        free(tgz);
    }
    /* a bare gzip stream: one member, named after the outer file */
    size_t n;
    uint8_t *gz = build1("raw", "gzip", "x", MZ, sizeof MZ - 1, &n);
    save_seed("exe.gz", gz, n);
    walk_limits l = limits();
    file_set *fs = walk(gz, n, "Invoice.EXE.gz", &l, NULL);
    check_invariants(fs);
    assert_int_equal(fs->n, 2);
    assert_true(fs->v[0].flags & FILE_ARCHIVE);
    assert_string_equal(fs->v[1].name, "Invoice.EXE");
    assert_string_equal(fs->v[1].path, "Invoice.EXE.gz/Invoice.EXE");
    assert_true(filetype_is_executable(fs->v[1].detected_type));
    files_free(&fs);
    fs = walk(gz, n, "", &l, NULL);
    assert_string_equal(fs->v[0].path, "part 1");
    assert_string_equal(fs->v[1].path, "part 1/part 1");
    files_free(&fs);
    free(gz);
    /* a .tgz holding a zip: the zip is opened in turn */
    size_t nz, nt;
    uint8_t *zip = build1("zip", NULL, "x.js", "WScript.Echo(1)", 15, &nz);
    uint8_t *tgz = build1("ustar", "gzip", "in.zip", zip, nz, &nt);
    fs = walk(tgz, nt, "a.tgz", &l, NULL);
    check_invariants(fs);
    assert_true(find(fs, "a.tgz/in.zip/x.js") > 0);
    files_free(&fs);
    free(zip);
    free(tgz);
}

static void test_not_archives(void **state)
{
    (void)state;
    walk_limits l = limits();
    const char *text = "Dear customer,\nplease find the invoice attached.\n";
    file_set *fs = walk((const uint8_t *)text, strlen(text), "", &l, NULL);
    assert_int_equal(fs->n, 1);
    assert_int_equal(fs->flags, 0);
    assert_int_equal(fs->v[0].flags, 0);
    assert_string_equal(fs->v[0].detected_type, "text/plain");
    files_free(&fs);

    uint8_t junk[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        x = x * 1103515245 + 12345;
        junk[i] = (uint8_t)(x >> 16);
    }
    fs = walk(junk, sizeof junk, "junk.bin", &l, NULL);
    assert_int_equal(fs->n, 1);
    assert_int_equal(fs->flags, 0);
    files_free(&fs);

    fs = walk(NULL, 0, "empty.zip", &l, NULL);
    assert_int_equal(fs->n, 1);
    assert_null(fs->v[0].data);
    assert_string_equal(fs->v[0].detected_type, "");
    files_free(&fs);

    /* an executable is no archive either */
    fs = walk((const uint8_t *)MZ, sizeof MZ - 1, "a.exe", &l, NULL);
    assert_int_equal(fs->n, 1);
    assert_int_equal(fs->flags, 0);
    files_free(&fs);
}

static void test_encrypted(void **state)
{
    (void)state;
    mem_entry e[] = {{"invoice.js", "WScript.Shell", 13}, {"readme.txt", "see js\n", 7}};
    size_t n;
    uint8_t *zip = build("zip", NULL, "Xk7#pq", e, 2, &n);
    save_seed("encrypted.zip", zip, n);
    walk_limits l = limits();

    /* no passwords tried: closed */
    file_set *fs = walk(zip, n, "secure.zip", &l, "The password is: Xk7#pq.");
    check_invariants(fs);
    assert_int_equal(fs->flags, WALK_ENCRYPTED);
    assert_int_equal(fs->n, 3);
    assert_true(fs->v[0].flags & FILE_ENCRYPTED);
    assert_true(fs->v[1].flags & FILE_ENCRYPTED);
    assert_true(fs->v[1].flags & FILE_NOT_EXTRACTED);
    assert_null(fs->v[1].data);
    assert_string_equal(fs->v[1].name, "invoice.js");
    assert_int_equal(fs->v[1].size, 13);
    assert_string_equal(fs->v[1].detected_type, "");
    assert_non_null(strstr(fs->detail, "secure.zip/invoice.js"));
    files_free(&fs);

    /* tried: the word after "password" opens it */
    l.try_passwords = true;
    fs = walk(zip, n, "secure.zip", &l, "Hello,\nThe password is: Xk7#pq.\nRegards");
    check_invariants(fs);
    assert_int_equal(fs->flags, 0);
    assert_int_equal(fs->v[0].flags & (FILE_ENCRYPTED | FILE_DECRYPTED), FILE_DECRYPTED);
    assert_int_equal(fs->v[1].flags, FILE_MEMBER | FILE_DECRYPTED);
    assert_memory_equal(fs->v[1].data, "WScript.Shell", 13);
    files_free(&fs);

    /* other ways of giving it */
    const char *texts[] = {
        "Passwort: Xk7#pq",
        "mot de passe : Xk7#pq",
        "pw: Xk7#pq",
        "Open it with the code \"Xk7#pq\" please",
        "PASSWORD for the archive is Xk7#pq",
        "pass: 'Xk7#pq'",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        fs = walk(zip, n, "secure.zip", &l, texts[i]);
        if (fs->flags != 0)
            fail_msg("not opened with text '%s'", texts[i]);
        files_free(&fs);
    }

    /* wrong password, or none given, or max_passwords spent before the right one */
    fs = walk(zip, n, "secure.zip", &l, "password: hunter2");
    assert_int_equal(fs->flags, WALK_ENCRYPTED);
    assert_true(fs->v[1].flags & FILE_ENCRYPTED);
    files_free(&fs);
    fs = walk(zip, n, "secure.zip", &l, NULL);
    assert_int_equal(fs->flags, WALK_ENCRYPTED);
    files_free(&fs);
    l.max_passwords = 2;
    fs = walk(zip, n, "secure.zip", &l, "password: a1 pw: b2 code: \"Xk7#pq\"");
    assert_int_equal(fs->flags, WALK_ENCRYPTED);
    files_free(&fs);
    /* passwords "pass", "passport" in prose are not keywords */
    l.max_passwords = 20;
    fs = walk(zip, n, "secure.zip", &l, "my passport Xk7#pq and we pass Xk7#pq");
    assert_int_equal(fs->flags, WALK_ENCRYPTED);
    files_free(&fs);
    free(zip);
}

static void test_zip_bomb(void **state)
{
    (void)state;
    size_t big = 50u << 20;
    uint8_t *zeros = calloc(1, big);
    assert_non_null(zeros);
    size_t n;
    uint8_t *zip = build1("zip", NULL, "zeros.bin", zeros, big, &n);
    assert_true(n < big / 100);
    walk_limits l = limits();
    uint64_t t0 = mono_ms();
    file_set *fs = walk(zip, n, "bomb.zip", &l, NULL);
    assert_true(mono_ms() - t0 < 2000);
    check_invariants(fs);
    assert_true(fs->flags & WALK_RATIO);
    assert_true(fs->v[0].flags & FILE_BOMB);
    assert_true(fs->v[1].flags & FILE_NOT_EXTRACTED);
    assert_int_equal(fs->v[1].size, big);
    assert_true(fs->expanded < (2u << 20)); /* caught by its declared size */
    assert_non_null(strstr(fs->detail, "bomb.zip"));
    files_free(&fs);

    /* a gzip stream declares nothing: caught while reading, just past the ratio */
    uint8_t *gz = build1("raw", "gzip", "x", zeros, big, &n);
    t0 = mono_ms();
    fs = walk(gz, n, "zeros.gz", &l, NULL);
    assert_true(mono_ms() - t0 < 2000);
    check_invariants(fs);
    assert_int_equal(fs->flags, WALK_RATIO);
    assert_true(fs->v[1].flags & FILE_NOT_EXTRACTED);
    assert_true(fs->expanded <= (uint64_t)(100.0 * (double)n) + 2 * 65536 + (1u << 20));
    files_free(&fs);

    /* max_total when the ratio allows it */
    l.max_ratio = 1e6;
    l.max_total = 4u << 20;
    fs = walk(gz, n, "zeros.gz", &l, NULL);
    check_invariants(fs);
    assert_int_equal(fs->flags, WALK_TOO_BIG);
    assert_true(fs->expanded <= (4u << 20) + 65536);
    assert_non_null(strstr(fs->detail, "zeros.gz"));
    files_free(&fs);
    /* and the declared size over max_total, before reading */
    fs = walk(zip, n, "bomb.zip", &l, NULL);
    assert_true(fs->flags & WALK_TOO_BIG);
    assert_int_equal(fs->expanded, 0);
    files_free(&fs);

    /* the time budget */
    l.max_total = 200u << 20;
    l.max_time_ms = 1;
    fs = walk(gz, n, "zeros.gz", &l, NULL);
    assert_true(fs->flags & WALK_TIMEOUT);
    assert_true(fs->expanded < big);
    files_free(&fs);
    free(gz);
    free(zip);
    free(zeros);
}

static void test_entries_limit(void **state)
{
    (void)state;
    mem_entry e[50];
    char names[50][16];
    for (int i = 0; i < 50; i++) {
        snprintf(names[i], sizeof names[i], "f%02d.txt", i);
        e[i] = (mem_entry){names[i], "x", 1};
    }
    size_t n;
    uint8_t *zip = build("zip", NULL, NULL, e, 50, &n);
    walk_limits l = limits();
    l.max_entries = 10;
    file_set *fs = walk(zip, n, "many.zip", &l, NULL);
    check_invariants(fs);
    assert_int_equal(fs->flags, WALK_TOO_MANY);
    assert_int_equal(fs->n, 11);
    assert_non_null(strstr(fs->detail, "many.zip"));
    files_free(&fs);
    /* the budget is per set, over several buffers */
    l.max_entries = 60;
    fs = files_new();
    files_walk_buffer(fs, zip, n, "a.zip", &l, NULL);
    assert_int_equal(fs->flags, 0);
    files_walk_buffer(fs, zip, n, "b.zip", &l, NULL);
    assert_int_equal(fs->flags, WALK_TOO_MANY);
    check_invariants(fs);
    files_free(&fs);
    free(zip);
}

static void test_damaged(void **state)
{
    (void)state;
    char text[20000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + (i * 7 + i / 13) % 26);
    mem_entry e[] = {{"one.txt", text, sizeof text}, {"two.txt", text, sizeof text}};
    size_t n;
    uint8_t *tgz = build("ustar", "gzip", NULL, e, 2, &n);
    walk_limits l = limits();
    file_set *fs = walk(tgz, n / 2, "cut.tar.gz", &l, NULL);
    check_invariants(fs);
    assert_true(fs->flags & WALK_DAMAGED);
    assert_true(fs->v[0].flags & FILE_TRUNCATED);
    assert_true(fs->v[0].flags & FILE_ARCHIVE);
    assert_non_null(strstr(fs->detail, "cut.tar.gz"));
    files_free(&fs);
    free(tgz);

    uint8_t *zip = build("zip", NULL, NULL, e, 2, &n);
    fs = walk(zip, n / 2, "cut.zip", &l, NULL);
    check_invariants(fs);
    assert_true(fs->flags & WALK_DAMAGED);
    assert_true(fs->v[0].flags & FILE_TRUNCATED);
    files_free(&fs);
    /* one flipped byte in the compressed data */
    zip[n / 4] ^= 0x55;
    fs = walk(zip, n, "bad.zip", &l, NULL);
    check_invariants(fs);
    assert_true(fs->flags & WALK_DAMAGED);
    files_free(&fs);
    free(zip);
}

/* A message with a text part and one base64 attachment. Caller frees. */
static char *mail_with(const char *text, const char *filename, const uint8_t *data, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    buf_t m = {0};
    buf_printf(&m,
               "From: a@example.com\r\nTo: b@example.org\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
               "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
               "--b1\r\nContent-Type: text/plain\r\n\r\n%s\r\n"
               "--b1\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n"
               "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n",
               text, filename);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < n)
            v |= data[i + 2];
        char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], i + 1 < n ? b64[(v >> 6) & 63] : '=',
                     i + 2 < n ? b64[v & 63] : '='};
        buf_append(&m, q, 4);
        if (i % 57 == 54)
            buf_puts(&m, "\r\n");
    }
    buf_puts(&m, "\r\n--b1--\r\n");
    buf_append(&m, "", 1);
    return m.data;
}

static void test_files_walk_message(void **state)
{
    (void)state;
    size_t n;
    uint8_t *zip = build1("zip", NULL, "run.exe", MZ, sizeof MZ - 1, &n);
    char *m = mail_with("the password is abc", "files.zip", zip, n);
    msg_model *mm = msg_parse((const uint8_t *)m, strlen(m));
    walk_limits l = limits();
    file_set *fs = files_walk(mm, &l, NULL);
    check_invariants(fs);
    assert_int_equal(fs->n, 3);
    assert_string_equal(fs->v[0].path, "part 1");
    assert_string_equal(fs->v[0].declared_type, "text/plain");
    assert_int_equal(fs->v[0].flags, 0);
    assert_string_equal(fs->v[1].path, "files.zip");
    assert_int_equal(fs->v[1].flags, FILE_ATTACHMENT | FILE_ARCHIVE);
    assert_int_equal(fs->v[1].part, 1);
    assert_string_equal(fs->v[2].path, "files.zip/run.exe");
    assert_int_equal(fs->v[2].part, 1);
    assert_int_equal(fs->v[2].parent, 1);
    files_free(&fs);
    /* archives closed (check.archives disabled) */
    l.max_depth = 0;
    fs = files_walk(mm, &l, NULL);
    assert_int_equal(fs->n, 2);
    assert_int_equal(fs->v[1].flags, FILE_ATTACHMENT);
    files_free(&fs);
    msg_destroy(&mm);
    free(m);
    free(zip);
}

/* ---- the archives check, through a pipeline ---- */

static pipeline *make_pipeline(const char *k1, const char *v1, const char *k2, const char *v2)
{
    params *p = params_new(&params_cluster);
    char err[256];
    if (k1)
        assert_true(params_set(p, k1, v1, err, sizeof err));
    if (k2)
        assert_true(params_set(p, k2, v2, err, sizeof err));
    pipeline *pl = pipeline_new(p, 1, err, sizeof err);
    params_destroy(&p);
    assert_non_null(pl);
    return pl;
}

static const Bulwark__Symbol *symbol(const Bulwark__ScanResult *r, const char *name)
{
    for (size_t i = 0; i < r->n_symbols; i++)
        if (strcmp(r->symbols[i]->name, name) == 0)
            return r->symbols[i];
    return NULL;
}

static size_t archive_symbols(const Bulwark__ScanResult *r)
{
    size_t c = 0;
    for (size_t i = 0; i < r->n_symbols; i++)
        c += strncmp(r->symbols[i]->name, "ARCHIVE_", 8) == 0;
    return c;
}

typedef struct {
    pipeline *pl;
    scan_task *t;
    char *mail;
} run_t;

static const Bulwark__ScanResult *run(run_t *x, pipeline *pl, const char *text, const char *name,
                                      const uint8_t *d, size_t n)
{
    x->pl = pl;
    x->mail = mail_with(text, name, d, n);
    x->t = scan_task_new(pl, "job", NULL, (const uint8_t *)x->mail, strlen(x->mail));
    scan_run(x->t);
    return scan_result(x->t);
}

static void run_done(run_t *x)
{
    scan_task_destroy(&x->t);
    pipeline_release(&x->pl);
    free(x->mail);
}

static void test_check(void **state)
{
    (void)state;
    const Bulwark__Action QUAR = BULWARK__ACTION__ACTION_QUARANTINE;
    mem_entry e[] = {{"report.txt", "quarterly figures\n", 18}};
    size_t n;
    uint8_t *enc = build("zip", NULL, "Tr0ub4dor", e, 1, &n);
    run_t x;

    /* encrypted and closed: ARCHIVE_ENCRYPTED, quarantined by default */
    const Bulwark__ScanResult *r =
        run(&x, make_pipeline(NULL, NULL, NULL, NULL), "hello", "q.zip", enc, n);
    const Bulwark__Symbol *s = symbol(r, "ARCHIVE_ENCRYPTED");
    assert_non_null(s);
    assert_string_equal(s->detail, "q.zip/report.txt is encrypted (1 encrypted file)");
    assert_int_equal(archive_symbols(r), 1);
    assert_true(r->action == QUAR || r->action == BULWARK__ACTION__ACTION_REJECT);
    run_done(&x);

    /* the password is in the text and passwords are tried: decrypted instead */
    r = run(&x, make_pipeline("check.archives.try_passwords", "yes", NULL, NULL),
            "Password: Tr0ub4dor", "q.zip", enc, n);
    assert_null(symbol(r, "ARCHIVE_ENCRYPTED"));
    s = symbol(r, "ARCHIVE_DECRYPTED");
    assert_non_null(s);
    assert_string_equal(s->detail, "q.zip opened with a password from the message text");
    assert_true(action_severity(r->action) < action_severity(QUAR));
    run_done(&x);

    /* encrypted_action none: scored only */
    r = run(&x, make_pipeline("check.archives.encrypted_action", "none", NULL, NULL), "hi", "q.zip",
            enc, n);
    assert_non_null(symbol(r, "ARCHIVE_ENCRYPTED"));
    assert_true(action_severity(r->action) < action_severity(QUAR));
    run_done(&x);
    free(enc);

    /* a bomb: ARCHIVE_BOMB, forced limit_action */
    size_t big = 20u << 20;
    uint8_t *zeros = calloc(1, big);
    uint8_t *bomb = build1("zip", NULL, "zeros.bin", zeros, big, &n);
    r = run(&x, make_pipeline(NULL, NULL, NULL, NULL), "hi", "bomb.zip", bomb, n);
    s = symbol(r, "ARCHIVE_BOMB");
    assert_non_null(s);
    assert_string_equal(s->detail, "bomb.zip expands more than 100 times its size");
    assert_int_equal(r->action, QUAR);
    run_done(&x);
    free(bomb);
    free(zeros);

    /* depth and member limits: ARCHIVE_LIMIT, forced limit_action */
    size_t n1, n2, n3;
    uint8_t *in = build1("zip", NULL, "x.txt", "x", 1, &n1);
    uint8_t *mid = build1("zip", NULL, "in.zip", in, n1, &n2);
    uint8_t *out = build1("zip", NULL, "mid.zip", mid, n2, &n3);
    r = run(&x, make_pipeline("check.archives.max_depth", "2", NULL, NULL), "hi", "out.zip", out,
            n3);
    s = symbol(r, "ARCHIVE_LIMIT");
    assert_non_null(s);
    assert_non_null(strstr(s->detail, "limit: depth; out.zip/mid.zip/in.zip"));
    assert_int_equal(r->action, QUAR);
    run_done(&x);
    /* within the limits: nested, scored lightly, not forced */
    r = run(&x, make_pipeline(NULL, NULL, NULL, NULL), "hi", "out.zip", out, n3);
    assert_null(symbol(r, "ARCHIVE_LIMIT"));
    s = symbol(r, "ARCHIVE_NESTED");
    assert_non_null(s);
    assert_string_equal(s->detail, "out.zip/mid.zip/in.zip: an archive 3 levels deep");
    assert_true(action_severity(r->action) < action_severity(QUAR));
    run_done(&x);
    /* limit_action none */
    r = run(&x,
            make_pipeline("check.archives.max_entries", "1", "check.archives.limit_action", "none"),
            "hi", "out.zip", out, n3);
    assert_non_null(symbol(r, "ARCHIVE_LIMIT"));
    assert_true(action_severity(r->action) < action_severity(QUAR));
    run_done(&x);
    /* archives disabled: nothing opened, nothing said */
    r = run(&x, make_pipeline("check.archives.enabled", "no", NULL, NULL), "hi", "out.zip", out,
            n3);
    assert_int_equal(archive_symbols(r), 0);
    run_done(&x);

    /* damaged */
    r = run(&x, make_pipeline(NULL, NULL, NULL, NULL), "hi", "out.zip", out, n3 / 2);
    s = symbol(r, "ARCHIVE_DAMAGED");
    assert_non_null(s);
    assert_non_null(strstr(s->detail, "out.zip"));
    run_done(&x);
    free(in);
    free(mid);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zip_members),
        cmocka_unit_test(test_nested_zip_zip_7z),
        cmocka_unit_test(test_tar_filters_and_streams),
        cmocka_unit_test(test_not_archives),
        cmocka_unit_test(test_encrypted),
        cmocka_unit_test(test_zip_bomb),
        cmocka_unit_test(test_entries_limit),
        cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_files_walk_message),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
