/* test_office.c - unit tests for node/office.c and the office check.
 *
 * The documents are built here, at test time: a small compound-file (OLE2) writer
 * with a mini stream, an MS-OVBA "compressor" that emits literal-only chunks (valid
 * MS-OVBA), a VBA project (dir stream with module records, module stream with a
 * performance cache before the source), a BIFF8 Workbook stream, OOXML zips written
 * with libarchive, and PDFs written as text (with zlib for FlateDecode streams).
 * Covered: the MS-OVBA examples of the specification; a .doc with AutoOpen and Shell;
 * a project without a dir stream; an OLE package holding an executable; a clean OLE2
 * file; a FAT chain that loops; Excel 4 macro sheets with Auto_Open; a docm, an xlsm
 * with a macro sheet, a clean docx; PDFs with /OpenAction and JavaScript, JavaScript
 * inside a FlateDecode object stream, /J#61vaScript, /Launch with an embedded
 * executable, and a clean PDF; and the check's symbols and forced action through a
 * pipeline (a docm attached, and the same docm inside a zip). */
#include "office.h"
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
#include <zlib.h>

#include <cmocka.h>

/* ---- corpus builders ---- */

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v);
    put16(p + 2, v >> 16);
}

/* One entry of a compound file: entry 0 is the root, implicit; parent 0 is the root,
 * parent k the k-th node (1-based). */
typedef struct {
    const char *name;
    int type; /* 1 storage, 2 stream */
    int parent;
    const void *data;
    size_t len;
} cfb_node;

/* A version 3 compound file (512-byte sectors, 64-byte mini sectors, streams under
 * 4096 bytes in the mini stream). Children are chained through their right sibling.
 * Caller frees. */
static uint8_t *cfb_build(const cfb_node *nodes, size_t n, size_t *outlen)
{
    const uint32_t END = 0xFFFFFFFE, FREE = 0xFFFFFFFF;
    size_t ndir = n + 1;
    size_t dirsec = (ndir + 3) / 4;
    size_t minisec = 0, bigsec = 0;
    for (size_t i = 0; i < n; i++) {
        if (nodes[i].type != 2 || !nodes[i].len)
            continue;
        if (nodes[i].len < 4096)
            minisec += (nodes[i].len + 63) / 64;
        else
            bigsec += (nodes[i].len + 511) / 512;
    }
    size_t minifatsec = (minisec * 4 + 511) / 512;
    size_t ministreamsec = (minisec * 64 + 511) / 512;
    size_t other = dirsec + minifatsec + ministreamsec + bigsec;
    size_t nfat = 1;
    while (nfat * 128 < other + nfat)
        nfat++;
    assert_true(nfat <= 109);
    size_t nsec = nfat + other;
    uint8_t *f = calloc(1, 512 * (nsec + 1));
    assert_non_null(f);
    uint32_t *fat = calloc(nfat * 128, 4);
    uint32_t *minifat = calloc(minisec ? minisec : 1, 4);
    for (size_t i = 0; i < nfat * 128; i++)
        fat[i] = FREE;
    for (size_t i = 0; i < nfat; i++)
        fat[i] = 0xFFFFFFFD;
    size_t next = nfat;
    uint32_t dir0 = (uint32_t)next, minifat0 = END, mini0 = END;
#define CHAIN(start, count)                                                                        \
    do {                                                                                           \
        for (size_t k = 0; k < (count); k++)                                                       \
            fat[(start) + k] = k + 1 < (count) ? (uint32_t)((start) + k + 1) : END;                \
    } while (0)
    CHAIN(next, dirsec);
    next += dirsec;
    if (minifatsec) {
        minifat0 = (uint32_t)next;
        CHAIN(next, minifatsec);
        next += minifatsec;
        mini0 = (uint32_t)next;
        CHAIN(next, ministreamsec);
        next += ministreamsec;
    }
    /* header */
    memcpy(f, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);
    put16(f + 0x18, 0x3E);
    put16(f + 0x1A, 3);
    put16(f + 0x1C, 0xFFFE);
    put16(f + 0x1E, 9);
    put16(f + 0x20, 6);
    put32(f + 0x2C, (uint32_t)nfat);
    put32(f + 0x30, dir0);
    put32(f + 0x38, 4096);
    put32(f + 0x3C, minifat0);
    put32(f + 0x40, (uint32_t)minifatsec);
    put32(f + 0x44, END);
    for (size_t i = 0; i < 109; i++)
        put32(f + 0x4C + 4 * i, i < nfat ? (uint32_t)i : FREE);
    /* directory */
    uint8_t *dir = f + 512 * (dir0 + 1);
    for (size_t i = 0; i < dirsec * 4; i++) {
        put32(dir + 128 * i + 0x44, FREE);
        put32(dir + 128 * i + 0x48, FREE);
        put32(dir + 128 * i + 0x4C, FREE);
    }
    size_t mininext = 0;
    for (size_t i = 0; i <= n; i++) {
        uint8_t *e = dir + 128 * i;
        const char *name = i ? nodes[i - 1].name : "Root Entry";
        size_t nl = strlen(name);
        for (size_t k = 0; k < nl; k++)
            put16(e + 2 * k, (uint8_t)name[k]);
        put16(e + 0x40, (uint32_t)(nl + 1) * 2);
        e[0x42] = i ? (uint8_t)nodes[i - 1].type : 5;
        e[0x43] = 1;
        put32(e + 0x74, END);
        if (!i) {
            put32(e + 0x74, mini0);
            put32(e + 0x78, (uint32_t)(minisec * 64));
            continue;
        }
        const cfb_node *nd = &nodes[i - 1];
        /* link into the parent's child chain */
        uint8_t *p = dir + 128 * nd->parent;
        uint32_t prev = 0xFFFFFFFF;
        for (uint32_t c =
                 (uint32_t)(p[0x4C] | p[0x4D] << 8 | p[0x4E] << 16 | (uint32_t)p[0x4F] << 24);
             c != 0xFFFFFFFF;) {
            prev = c;
            const uint8_t *ce = dir + 128 * c;
            c = (uint32_t)(ce[0x48] | ce[0x49] << 8 | ce[0x4A] << 16 | (uint32_t)ce[0x4B] << 24);
        }
        if (prev == 0xFFFFFFFF)
            put32(p + 0x4C, (uint32_t)i);
        else
            put32(dir + 128 * prev + 0x48, (uint32_t)i);
        if (nd->type != 2 || !nd->len)
            continue;
        put32(e + 0x78, (uint32_t)nd->len);
        if (nd->len < 4096) {
            size_t cnt = (nd->len + 63) / 64;
            put32(e + 0x74, (uint32_t)mininext);
            for (size_t k = 0; k < cnt; k++)
                minifat[mininext + k] = k + 1 < cnt ? (uint32_t)(mininext + k + 1) : END;
            memcpy(f + 512 * (mini0 + 1) + 64 * mininext, nd->data, nd->len);
            mininext += cnt;
        } else {
            size_t cnt = (nd->len + 511) / 512;
            put32(e + 0x74, (uint32_t)next);
            CHAIN(next, cnt);
            memcpy(f + 512 * (next + 1), nd->data, nd->len);
            next += cnt;
        }
    }
#undef CHAIN
    for (size_t i = 0; i < nfat * 128; i++)
        put32(f + 512 * (1 + i / 128) + 4 * (i % 128), fat[i]);
    for (size_t i = 0; i < minisec; i++)
        put32(f + 512 * (minifat0 + 1) + 4 * i, minifat[i]);
    free(fat);
    free(minifat);
    *outlen = 512 * (nsec + 1);
    return f;
}

/* MS-OVBA CompressedContainer of literal-only chunks (a flag byte 0 before every 8
 * bytes); 3640 bytes per chunk keep a chunk under 4098 bytes. */
static void ovba_compress(buf_t *out, const void *src, size_t n)
{
    const uint8_t *s = src;
    buf_append(out, "\x01", 1);
    for (size_t done = 0; done < n;) {
        size_t take = n - done < 3640 ? n - done : 3640;
        size_t data = take + (take + 7) / 8;
        uint8_t hdr[2];
        put16(hdr, 0xB000 | (uint32_t)(data - 1));
        buf_append(out, hdr, 2);
        for (size_t i = 0; i < take; i += 8) {
            buf_append(out, "\0", 1);
            buf_append(out, s + done + i, take - i < 8 ? take - i : 8);
        }
        done += take;
    }
}

static void rec(buf_t *b, uint16_t id, const void *data, uint32_t len)
{
    uint8_t h[6];
    put16(h, id);
    put32(h + 2, len);
    buf_append(b, h, 6);
    if (len)
        buf_append(b, data, len);
}

#define PERF_CACHE 300 /* bytes of "performance cache" before a module's source */

/* The streams of a VBA project with one module: dir (compressed) and the module. */
static void vba_streams(const char *source, bool with_dir, buf_t *dir, buf_t *module)
{
    buf_t d = {0};
    uint8_t v[4];
    put32(v, 1);
    rec(&d, 0x0001, v, 4); /* PROJECTSYSKIND */
    uint8_t ver[10] = {4, 0, 0, 0, 0x5E, 0, 0, 0, 3, 0};
    put16(ver, 0x0009); /* PROJECTVERSION: id, reserved 4, major, minor */
    put32(ver + 2, 4);
    buf_append(&d, ver, 6);
    buf_append(&d, "\x5E\0\0\0\x03\0", 6);
    rec(&d, 0x000F, "\x01\x00", 2); /* PROJECTMODULES */
    rec(&d, 0x0019, "Module1", 7); /* MODULENAME */
    rec(&d, 0x001A, "Module1", 7); /* MODULESTREAMNAME */
    rec(&d, 0x0032, "M\0o\0d\0u\0l\0e\0001\0", 14);
    put32(v, PERF_CACHE);
    rec(&d, 0x0031, v, 4); /* MODULEOFFSET */
    rec(&d, 0x002B, NULL, 0);
    rec(&d, 0x0010, NULL, 0);
    if (with_dir)
        ovba_compress(dir, d.data, d.len);
    buf_free(&d);
    for (int i = 0; i < PERF_CACHE; i++)
        buf_append(module, i % 7 ? "\xCC" : "\x01", 1);
    ovba_compress(module, source, strlen(source));
}

static const char AUTO_SRC[] = "Attribute VB_Name = \"Module1\"\r\n"
                               "Sub AutoOpen()\r\n"
                               "    Dim x\r\n"
                               "    x = Shell(\"cmd.exe /c calc\", 0)\r\n"
                               "End Sub\r\n";

/* A Word 97 document with a macro project under Macros/VBA. */
static uint8_t *make_doc(const char *source, bool with_dir, size_t *n)
{
    buf_t dir = {0}, mod = {0};
    vba_streams(source, with_dir, &dir, &mod);
    cfb_node nodes[] = {
        {"WordDocument", 2, 0, "\xEC\xA5\xC1\x00 word text", 15},
        {"Macros", 1, 0, NULL, 0},
        {"VBA", 1, 2, NULL, 0},
        {"Module1", 2, 3, mod.data, mod.len},
        {"_VBA_PROJECT", 2, 3, "\xCC\x61\xFF\xFF\x00\x00\x00", 7},
        {"dir", 2, 3, dir.data, dir.len},
        {"PROJECT", 2, 2, "ID=\"{0}\"\r\nModule=Module1\r\n", 25},
    };
    uint8_t *f = cfb_build(nodes, 7, n);
    buf_free(&dir);
    buf_free(&mod);
    return f;
}

/* vbaProject.bin as in a docm: VBA at the root. */
static uint8_t *make_vba_project(const char *source, size_t *n)
{
    buf_t dir = {0}, mod = {0};
    vba_streams(source, true, &dir, &mod);
    cfb_node nodes[] = {
        {"VBA", 1, 0, NULL, 0},
        {"dir", 2, 1, dir.data, dir.len},
        {"Module1", 2, 1, mod.data, mod.len},
        {"PROJECT", 2, 0, "ID=\"{0}\"\r\n", 10},
    };
    uint8_t *f = cfb_build(nodes, 4, n);
    buf_free(&dir);
    buf_free(&mod);
    return f;
}

static uint8_t PE[600];

static void make_pe(uint8_t *b)
{
    memset(b, 0, 512);
    memcpy(b, "MZ", 2);
    b[0x3C] = 0x80;
    memcpy(b + 0x40, "This program cannot be run in DOS mode.", 39);
    memcpy(b + 0x80, "PE\0\0\x4c\x01\x01\x00", 8);
    b[0x94] = 0xE0;
    b[0x98] = 0x0B;
    b[0x99] = 0x01;
}

static la_ssize_t grow_write(struct archive *a, void *ud, const void *p, size_t n)
{
    (void)a;
    buf_append(ud, p, n);
    return (la_ssize_t)n;
}

typedef struct {
    const char *name;
    const void *data;
    size_t len;
} zentry;

static uint8_t *make_zip(const zentry *e, size_t n, size_t *outlen)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    buf_t out = {0};
    archive_write_set_bytes_in_last_block(a, 1);
    assert_int_equal(archive_write_open2(a, &out, NULL, grow_write, NULL, NULL), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *en = archive_entry_new();
        archive_entry_set_pathname(en, e[i].name);
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_perm(en, 0644);
        archive_entry_set_size(en, (la_int64_t)e[i].len);
        assert_int_equal(archive_write_header(a, en), ARCHIVE_OK);
        archive_write_data(a, e[i].data, e[i].len);
        archive_entry_free(en);
    }
    archive_write_close(a);
    archive_write_free(a);
    *outlen = out.len;
    return (uint8_t *)out.data;
}

static const char CT[] = "<?xml version=\"1.0\"?><Types "
                         "xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
                         "</Types>";
static const char DOCXML[] = "<w:document><w:body><w:p><w:r><w:t>Invoice</w:t></w:r></w:p>"
                             "</w:body></w:document>";

static uint8_t *make_docm(bool with_macro, size_t *n)
{
    size_t vn;
    uint8_t *vba = make_vba_project(AUTO_SRC, &vn);
    zentry e[] = {
        {"[Content_Types].xml", CT, sizeof CT - 1},
        {"word/document.xml", DOCXML, sizeof DOCXML - 1},
        {"word/vbaProject.bin", vba, vn},
    };
    uint8_t *z = make_zip(e, with_macro ? 3 : 2, n);
    free(vba);
    return z;
}

/* A PDF from object bodies (numbered from 1), with a cross-reference table; lens
 * gives the bodies' lengths (they may hold NULs) or is NULL for strings. */
static char *make_pdf_n(const char *const *objs, const size_t *lens, size_t n, size_t *len)
{
    buf_t b = {0};
    buf_puts(&b, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n");
    size_t *off = calloc(n, sizeof *off);
    for (size_t i = 0; i < n; i++) {
        off[i] = b.len;
        buf_printf(&b, "%zu 0 obj\n", i + 1);
        buf_append(&b, objs[i], lens && lens[i] ? lens[i] : strlen(objs[i]));
        buf_puts(&b, "\nendobj\n");
    }
    size_t xref = b.len;
    buf_printf(&b, "xref\n0 %zu\n0000000000 65535 f \n", n + 1);
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%010zu 00000 n \n", off[i]);
    buf_printf(&b, "trailer\n<< /Size %zu /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", n + 1, xref);
    free(off);
    *len = b.len;
    return b.data;
}

static char *make_pdf(const char *const *objs, size_t n, size_t *len)
{
    return make_pdf_n(objs, NULL, n, len);
}

/* "<< /Length n /Filter /FlateDecode >>\nstream\n...\nendstream" */
static char *flate_object(const char *dict_extra, const void *data, size_t len, size_t *olen)
{
    uLongf zl = compressBound(len);
    uint8_t *z = malloc(zl);
    assert_int_equal(compress(z, &zl, data, len), Z_OK);
    buf_t b = {0};
    buf_printf(&b, "<< %s /Length %lu /Filter /FlateDecode >>\nstream\n", dict_extra,
               (unsigned long)zl);
    buf_append(&b, z, zl);
    buf_puts(&b, "\nendstream");
    free(z);
    *olen = b.len;
    return b.data;
}

static office_report scan(const void *d, size_t n, const char *type)
{
    office_report r;
    office_scan(d, n, type, &r);
    return r;
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

static void test_ovba_examples(void **state)
{
    (void)state;
    /* MS-OVBA 3.2.1 (no compression), 3.2.2 (normal compression) */
    static const uint8_t c1[] = {0x01, 0x19, 0xB0, 0x00, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66,
                                 0x67, 0x68, 0x00, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F,
                                 0x70, 0x00, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x2E};
    static const uint8_t c2[] = {0x01, 0x2F, 0xB0, 0x00, 0x23, 0x61, 0x61, 0x61, 0x62, 0x63, 0x64,
                                 0x65, 0x82, 0x66, 0x00, 0x70, 0x61, 0x67, 0x68, 0x69, 0x6A, 0x01,
                                 0x38, 0x08, 0x61, 0x6B, 0x6C, 0x00, 0x30, 0x6D, 0x6E, 0x6F, 0x70,
                                 0x06, 0x71, 0x02, 0x70, 0x04, 0x10, 0x72, 0x73, 0x74, 0x75, 0x76,
                                 0x10, 0x77, 0x78, 0x79, 0x7A, 0x00, 0x3C};
    /* "abc" then a copy token (offset 3, length 6) */
    static const uint8_t c3[] = {0x01, 0x05, 0xB0, 0x08, 0x61, 0x62, 0x63, 0x03, 0x20};
    size_t n;
    uint8_t *d = office_ovba_decompress(c1, sizeof c1, 1 << 20, &n);
    assert_non_null(d);
    assert_int_equal(n, 23);
    assert_memory_equal(d, "abcdefghijklmnopqrstuv.", 23);
    free(d);
    d = office_ovba_decompress(c2, sizeof c2, 1 << 20, &n);
    const char *e2 = "#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa";
    assert_non_null(d);
    assert_int_equal(n, strlen(e2));
    assert_memory_equal(d, e2, n);
    free(d);
    d = office_ovba_decompress(c3, sizeof c3, 1 << 20, &n);
    assert_non_null(d);
    assert_int_equal(n, 9);
    assert_memory_equal(d, "abcabcabc", 9);
    free(d);
    /* our literal chunks, several of them */
    char big[9000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('A' + i % 23);
    buf_t b = {0};
    ovba_compress(&b, big, sizeof big);
    d = office_ovba_decompress((uint8_t *)b.data, b.len, 1 << 20, &n);
    assert_int_equal(n, sizeof big);
    assert_memory_equal(d, big, n);
    free(d);
    /* bounded by max; junk is refused */
    d = office_ovba_decompress((uint8_t *)b.data, b.len, 100, &n);
    assert_int_equal(n, 100);
    free(d);
    buf_free(&b);
    assert_null(office_ovba_decompress((const uint8_t *)"\x02\xB0\x00", 3, 100, &n));
    assert_null(office_ovba_decompress((const uint8_t *)"\x01\x00\x00\x00", 4, 100, &n));
    /* a copy token reaching before the chunk start */
    assert_null(office_ovba_decompress((const uint8_t *)"\x01\x02\xB0\x01\x00\x00", 6, 100, &n));
}

static void test_doc_autoopen(void **state)
{
    (void)state;
    size_t n;
    uint8_t *doc = make_doc(AUTO_SRC, true, &n);
    save_seed("autoopen.doc", doc, n);
    office_report r = scan(doc, n, "application/msword");
    assert_int_equal(r.kind, OFFICE_KIND_OLE2);
    assert_int_equal(r.flags, OFFICE_F_MACRO | OFFICE_F_AUTOEXEC | OFFICE_F_SUSPICIOUS);
    assert_int_equal(r.modules, 1);
    assert_string_equal(r.autoexec, "AutoOpen");
    assert_string_equal(r.calls, "Shell, cmd.exe");
    free(doc);

    /* no dir stream: the module's source is found by its container signature */
    doc = make_doc("Attribute VB_Name = \"ThisDocument\"\r\nPrivate Sub Document_Open()\r\n"
                   "Set o = CreateObject(\"WScript.Shell\")\r\nEnd Sub\r\n",
                   false, &n);
    r = scan(doc, n, "application/msword");
    assert_int_equal(r.flags, OFFICE_F_MACRO | OFFICE_F_AUTOEXEC | OFFICE_F_SUSPICIOUS);
    assert_string_equal(r.autoexec, "Document_Open");
    assert_string_equal(r.calls, "Shell, CreateObject, WScript.Shell");
    free(doc);

    /* a macro that runs only when called, with nothing suspicious: just a macro */
    doc = make_doc("Attribute VB_Name = \"Module1\"\r\nSub FormatTable()\r\n"
                   "' AutoOpenLater and ShellFish are no keywords\r\nEnd Sub\r\n",
                   true, &n);
    r = scan(doc, n, "application/msword");
    assert_int_equal(r.flags, OFFICE_F_MACRO);
    assert_string_equal(r.autoexec, "");
    free(doc);
}

static void test_ole_package_and_clean(void **state)
{
    (void)state;
    /* Ole10Native: a size, a label, paths... then the file (an executable), > 4096 */
    uint8_t pkg[6000];
    memset(pkg, 0, sizeof pkg);
    memcpy(pkg + 6, "invoice.exe\0C:\\tmp\\invoice.exe", 31);
    memcpy(pkg + 100, PE, 512);
    cfb_node nodes[] = {
        {"\x01Ole10Native", 2, 0, pkg, sizeof pkg},
        {"\x01"
         "CompObj",
         2, 0, "\x01\x00\xFE\xFF\x03\x0A\x00\x00Package", 15},
    };
    size_t n;
    uint8_t *ole = cfb_build(nodes, 2, &n);
    save_seed("package.ole", ole, n);
    office_report r = scan(ole, n, "application/x-ole-storage");
    assert_int_equal(r.kind, OFFICE_KIND_OLE2);
    assert_int_equal(r.flags, OFFICE_F_EMBEDDED_EXE);
    /* the same package in the mini stream */
    nodes[0].len = 700;
    free(ole);
    ole = cfb_build(nodes, 2, &n);
    r = scan(ole, n, "");
    assert_int_equal(r.flags, OFFICE_F_EMBEDDED_EXE);
    free(ole);

    cfb_node clean[] = {
        {"WordDocument", 2, 0, "\xEC\xA5\xC1\x00 just words", 16},
        {"\x05SummaryInformation", 2, 0, "\xFE\xFF\x00\x00", 4},
        {"1Table", 2, 0, "table", 5},
    };
    ole = cfb_build(clean, 3, &n);
    r = scan(ole, n, "application/msword");
    assert_int_equal(r.kind, OFFICE_KIND_OLE2);
    assert_int_equal(r.flags, 0);
    assert_false(office_scan(ole, n, "application/msword", &r));

    /* the directory's FAT chain points to itself: the walk ends */
    uint8_t *loop = malloc(n);
    memcpy(loop, ole, n);
    uint32_t dir0 = loop[0x30] | loop[0x31] << 8;
    put32(loop + 512 + 4 * dir0, dir0);
    r = scan(loop, n, "");
    assert_int_equal(r.kind, OFFICE_KIND_OLE2);
    /* a cut file, and a header only */
    r = scan(ole, n / 2, "");
    assert_int_equal(r.kind, OFFICE_KIND_OLE2);
    r = scan(ole, 512, "");
    assert_true(r.flags & OFFICE_F_BROKEN);
    free(loop);
    free(ole);
}

static void biff(buf_t *b, uint16_t id, const void *data, uint16_t len)
{
    uint8_t h[4];
    put16(h, id);
    put16(h + 2, len);
    buf_append(b, h, 4);
    buf_append(b, data, len);
}

static void test_xlm(void **state)
{
    (void)state;
    buf_t wb = {0};
    biff(&wb, 0x0809, "\x00\x06\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 16);
    /* BoundSheet8: position, hsState 0, dt 1 (macro sheet), name */
    biff(&wb, 0x0085, "\x00\x10\x00\x00\x00\x01\x06\x00Macro1", 14);
    /* Lbl: fBuiltin, cch 1, then Auto_Open (0x01) */
    uint8_t lbl[16] = {0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
    biff(&wb, 0x0018, lbl, sizeof lbl);
    biff(&wb, 0x000A, "", 0);
    cfb_node nodes[] = {{"Workbook", 2, 0, wb.data, wb.len}};
    size_t n;
    uint8_t *xls = cfb_build(nodes, 1, &n);
    save_seed("xlm.xls", xls, n);
    office_report r = scan(xls, n, "application/vnd.ms-excel");
    assert_int_equal(r.flags, OFFICE_F_MACRO | OFFICE_F_XLM | OFFICE_F_AUTOEXEC);
    assert_string_equal(r.autoexec, "Auto_Open");
    free(xls);
    buf_free(&wb);

    /* a worksheet (dt 0) is no macro */
    buf_t ws = {0};
    biff(&ws, 0x0085, "\x00\x10\x00\x00\x00\x00\x06\x00Sheet1", 14);
    nodes[0].data = ws.data;
    nodes[0].len = ws.len;
    xls = cfb_build(nodes, 1, &n);
    r = scan(xls, n, "application/vnd.ms-excel");
    assert_int_equal(r.flags, 0);
    free(xls);
    buf_free(&ws);
}

static void test_ooxml(void **state)
{
    (void)state;
    size_t n;
    uint8_t *docm = make_docm(true, &n);
    save_seed("macro.docm", docm, n);
    office_report r = scan(docm, n, "application/vnd.ms-word.document.macroenabled.12");
    assert_int_equal(r.kind, OFFICE_KIND_OOXML);
    assert_int_equal(r.flags, OFFICE_F_MACRO | OFFICE_F_AUTOEXEC | OFFICE_F_SUSPICIOUS);
    assert_string_equal(r.where, "word/vbaProject.bin");
    assert_string_equal(r.autoexec, "AutoOpen");
    /* known by its [Content_Types].xml when the type says only "zip" */
    r = scan(docm, n, "application/zip");
    assert_int_equal(r.kind, OFFICE_KIND_OOXML);
    assert_true(r.flags & OFFICE_F_AUTOEXEC);
    free(docm);

    uint8_t *docx = make_docm(false, &n);
    r = scan(docx, n, "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    assert_int_equal(r.kind, OFFICE_KIND_OOXML);
    assert_int_equal(r.flags, 0);
    assert_false(office_scan(docx, n, "", &r));
    free(docx);

    static const char wbx[] = "<workbook><definedNames><definedName name=\"_xlnm.Auto_Open\">"
                              "Macro1!$A$1</definedName></definedNames></workbook>";
    zentry e[] = {
        {"[Content_Types].xml", CT, sizeof CT - 1},
        {"xl/workbook.xml", wbx, sizeof wbx - 1},
        {"xl/macrosheets/sheet1.xml", "<xm:macrosheet/>", 16},
        {"xl/embeddings/oleObject1.bin", PE, 512},
    };
    uint8_t *xlsm = make_zip(e, 4, &n);
    save_seed("xlm.xlsm", xlsm, n);
    r = scan(xlsm, n, "application/vnd.ms-excel.sheet.macroenabled.12");
    assert_int_equal(r.flags,
                     OFFICE_F_MACRO | OFFICE_F_XLM | OFFICE_F_AUTOEXEC | OFFICE_F_EMBEDDED_EXE);
    assert_string_equal(r.where, "xl/workbook.xml");
    free(xlsm);

    /* a plain zip is none of ours */
    zentry z[] = {{"a.txt", "hello", 5}};
    uint8_t *zip = make_zip(z, 1, &n);
    r = scan(zip, n, "application/zip");
    assert_int_equal(r.kind, OFFICE_KIND_NONE);
    free(zip);
}

static void test_pdf(void **state)
{
    (void)state;
    size_t n;
    const char *js[] = {
        "<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    };
    char *pdf = make_pdf(js, 3, &n);
    save_seed("openaction.pdf", pdf, n);
    office_report r = scan(pdf, n, "application/pdf");
    assert_int_equal(r.kind, OFFICE_KIND_PDF);
    assert_int_equal(r.flags, PDF_F_JAVASCRIPT | PDF_F_OPENACTION);
    free(pdf);

    /* JavaScript inside a compressed object stream */
    static const char inner[] = "4 0 5 60 << /S /JavaScript /JS 6 0 R >> << /Names [(a) 4 0 R] >>";
    size_t ol;
    char *objstm = flate_object("/Type /ObjStm /N 2 /First 9", inner, sizeof inner - 1, &ol);
    const char *os[] = {"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Count 0 >>", objstm};
    size_t osl[] = {0, 0, ol};
    pdf = make_pdf_n(os, osl, 3, &n);
    save_seed("objstm.pdf", pdf, n);
    assert_null(memmem(pdf, n, "JavaScript", 10));
    r = scan(pdf, n, "application/pdf");
    assert_int_equal(r.flags, PDF_F_JAVASCRIPT);
    free(pdf);
    free(objstm);

    /* #xx escapes */
    const char *ob[] = {"<< /Type /Catalog /Names << /J#61vaScript 2 0 R >> /O#70enAction 3 0 R >>",
                        "<< /Names [(x) 3 0 R] >>", "<< /S /JavaScript#20 /J#53 (this.print()) >>"};
    pdf = make_pdf(ob, 3, &n);
    save_seed("escaped.pdf", pdf, n);
    r = scan(pdf, n, "application/pdf");
    assert_int_equal(r.flags, PDF_F_JAVASCRIPT | PDF_F_OPENACTION | PDF_F_OBFUSCATED);
    free(pdf);

    /* /Launch, an embedded executable (raw and compressed), links */
    size_t exel;
    char *exe = flate_object("/Type /EmbeddedFile", PE, 512, &exel);
    buf_t raw = {0};
    buf_puts(&raw, "<< /Type /EmbeddedFile /Length 512 >>\nstream\n");
    buf_append(&raw, PE, 512);
    buf_puts(&raw, "\nendstream");
    const char *la[] = {
        "<< /Type /Catalog /Names << /EmbeddedFiles << /Names [(a.exe) 2 0 R] >> >> >>",
        "<< /Type /Filespec /F (a.exe) /EF << /F 3 0 R >> >>",
        exe,
        "<< /Type /Annot /Subtype /Link /A << /S /Launch /F (cmd.exe) >> >>",
        "<< /Type /Annot /Subtype /Link /A << /S /URI /URI (http://example.com/a) >> >>",
        "<< /Type /Annot /Subtype /Link /A << /S /URI /URI (http://example.com/b) >> >>",
    };
    size_t lal[] = {0, 0, exel, 0, 0, 0};
    pdf = make_pdf_n(la, lal, 6, &n);
    save_seed("launch-exe.pdf", pdf, n);
    r = scan(pdf, n, "application/pdf");
    assert_int_equal(r.flags, PDF_F_EMBEDDED_FILE | PDF_F_EMBEDDED_EXE | PDF_F_LAUNCH);
    assert_int_equal(r.uris, 2);
    free(pdf);
    la[2] = raw.data;
    lal[2] = raw.len;
    pdf = make_pdf_n(la, lal, 3, &n);
    r = scan(pdf, n, "application/pdf");
    assert_int_equal(r.flags, PDF_F_EMBEDDED_FILE | PDF_F_EMBEDDED_EXE);
    free(pdf);
    free(exe);
    buf_free(&raw);

    /* clean: text in a compressed content stream, no active content */
    static const char content[] = "BT /F1 12 Tf 72 712 Td (Invoice 2026-11) Tj ET";
    char *cs = flate_object("", content, sizeof content - 1, &ol);
    const char *cl[] = {
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        cs,
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    };
    size_t cll[] = {0, 0, 0, ol, 0};
    pdf = make_pdf_n(cl, cll, 5, &n);
    r = scan(pdf, n, "application/pdf");
    assert_int_equal(r.kind, OFFICE_KIND_PDF);
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.uris, 0);
    assert_false(office_scan((uint8_t *)pdf, n, "application/pdf", &r));
    /* cut anywhere, it still returns */
    for (size_t cut = 0; cut < n; cut += 7)
        office_scan((uint8_t *)pdf, cut, "application/pdf", &r);
    free(pdf);
    free(cs);

    r = scan("hello", 5, "text/plain");
    assert_int_equal(r.kind, OFFICE_KIND_NONE);
    assert_false(office_scan(NULL, 0, "", &r));
}

/* ---- the check, through a pipeline ---- */

static pipeline *make_pipeline(const char *k, const char *v)
{
    params *p = params_new(&params_cluster);
    char err[256];
    if (k)
        assert_true(params_set(p, k, v, err, sizeof err));
    pipeline *pl = pipeline_new(p, 1, err, sizeof err);
    params_destroy(&p);
    assert_non_null(pl);
    return pl;
}

static char *mail_with(const char *filename, const uint8_t *data, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    buf_t m = {0};
    buf_printf(&m,
               "From: a@example.com\r\nTo: b@example.org\r\nSubject: invoice\r\n"
               "Date: Tue, 24 Nov 2026 08:00:00 +0000\r\nMessage-ID: <o@example.com>\r\n"
               "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
               "--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
               "--b1\r\nContent-Type: application/octet-stream\r\n"
               "Content-Transfer-Encoding: base64\r\n"
               "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n",
               filename);
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

static const Bulwark__Symbol *symbol(const Bulwark__ScanResult *r, const char *name)
{
    for (size_t i = 0; i < r->n_symbols; i++)
        if (strcmp(r->symbols[i]->name, name) == 0)
            return r->symbols[i];
    return NULL;
}

static size_t count_prefix(const Bulwark__ScanResult *r, const char *prefix)
{
    size_t c = 0;
    for (size_t i = 0; i < r->n_symbols; i++)
        c += strncmp(r->symbols[i]->name, prefix, strlen(prefix)) == 0;
    return c;
}

static void test_check(void **state)
{
    (void)state;
    size_t n, zn;
    uint8_t *docm = make_docm(true, &n);
    char *mail = mail_with("invoice.docm", docm, n);
    pipeline *pl = make_pipeline(NULL, NULL);
    scan_task *t = scan_task_new(pl, "job", NULL, (const uint8_t *)mail, strlen(mail));
    scan_run(t);
    const Bulwark__ScanResult *r = scan_result(t);
    const Bulwark__Symbol *s = symbol(r, "OFFICE_AUTOEXEC");
    assert_non_null(s);
    assert_string_equal(s->detail, "invoice.docm (word/vbaProject.bin): AutoOpen");
    assert_non_null(symbol(r, "OFFICE_MACRO"));
    assert_non_null(symbol(r, "OFFICE_SUSPICIOUS_CALL"));
    /* once, although the walk also listed word/vbaProject.bin */
    assert_int_equal(count_prefix(r, "OFFICE_"), 3);
    assert_true(r->action == BULWARK__ACTION__ACTION_QUARANTINE ||
                r->action == BULWARK__ACTION__ACTION_REJECT);
    scan_task_destroy(&t);
    free(mail);

    /* inside a zip: the walk lists the docm and its parts; reported once, with its path */
    zentry z[] = {{"docs/invoice.docm", docm, n}};
    uint8_t *zip = make_zip(z, 1, &zn);
    mail = mail_with("docs.zip", zip, zn);
    t = scan_task_new(pl, "job", NULL, (const uint8_t *)mail, strlen(mail));
    scan_run(t);
    r = scan_result(t);
    s = symbol(r, "OFFICE_AUTOEXEC");
    assert_non_null(s);
    assert_string_equal(s->detail, "docs.zip/docs/invoice.docm (word/vbaProject.bin): AutoOpen");
    assert_int_equal(count_prefix(r, "OFFICE_"), 3);
    scan_task_destroy(&t);
    pipeline_release(&pl);

    /* autoexec_action none, macro_action reject */
    pl = make_pipeline("check.office.autoexec_action", "none");
    t = scan_task_new(pl, "job", NULL, (const uint8_t *)mail, strlen(mail));
    scan_run(t);
    assert_non_null(symbol(scan_result(t), "OFFICE_AUTOEXEC"));
    scan_task_destroy(&t);
    pipeline_release(&pl);
    pl = make_pipeline("check.office.macro_action", "reject");
    t = scan_task_new(pl, "job", NULL, (const uint8_t *)mail, strlen(mail));
    scan_run(t);
    assert_int_equal(scan_result(t)->action, BULWARK__ACTION__ACTION_REJECT);
    scan_task_destroy(&t);
    pipeline_release(&pl);
    free(mail);
    free(zip);

    /* a clean docx: nothing */
    uint8_t *docx = make_docm(false, &n);
    mail = mail_with("letter.docx", docx, n);
    pl = make_pipeline(NULL, NULL);
    t = scan_task_new(pl, "job", NULL, (const uint8_t *)mail, strlen(mail));
    scan_run(t);
    r = scan_result(t);
    assert_int_equal(count_prefix(r, "OFFICE_") + count_prefix(r, "PDF_"), 0);
    scan_task_destroy(&t);
    pipeline_release(&pl);
    free(mail);
    free(docx);
    free(docm);
}

static int setup(void **state)
{
    (void)state;
    make_pe(PE);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ovba_examples),
        cmocka_unit_test(test_doc_autoopen),
        cmocka_unit_test(test_ole_package_and_clean),
        cmocka_unit_test(test_xlm),
        cmocka_unit_test(test_ooxml),
        cmocka_unit_test(test_pdf),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
