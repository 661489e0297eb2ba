/* office.c - macros in Office files, active content in PDFs (see office.h).
 *
 * OLE2: a small compound-file reader of our own (header, DIFAT, FAT, mini FAT, mini
 * stream, directory), every sector chain bounded by the sector count so a loop ends,
 * and every stream read charged to one byte budget so shared chains cannot make the
 * work quadratic. The directory tree is walked once (visited bitmap) to give each entry
 * its parent storage. A storage named VBA is a macro project: its "dir" stream
 * (MS-OVBA compressed) lists the module streams and the offset of their compressed
 * source; without a usable dir, module streams are searched for a compressed container
 * that decompresses to "Attribute VB_". The source is searched for auto-run procedure
 * names and suspicious calls as whole words. Excel 4 macro sheets are BOUNDSHEET
 * records of type 1 in the Workbook stream; Auto_Open is its built-in name. Every
 * stream is searched for a PE header (OLE packages). OOXML: the zip is opened with
 * libarchive and its OLE2 parts, macro sheets and workbook names read, each bounded.
 * PDF: every name token (#xx escapes decoded) is matched against the keys of active
 * content, in the file and in each zlib stream inflated (bounded), which covers object
 * streams; a stream that is a PE is an embedded executable. All memory is per call. */
#include "office.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define OLE_BUDGET (64u << 10) /* stream bytes read per OLE2 file, beyond 4 times its size */
#define OLE_MAX_DIR 65536 /* directory entries */
#define VBA_MAX_SOURCE (8u << 20) /* decompressed source per module */
#define VBA_MAX_MODULES 256
#define VBA_MAX_PROJECTS 4 /* VBA storages read per file (a real one has one) */
#define OOXML_MAX_ENTRIES 4096
#define OOXML_MAX_PART (32u << 20)
#define OOXML_MAX_TOTAL (128u << 20)
#define PDF_MAX_STREAM (8u << 20) /* inflated bytes per stream */
#define PDF_MAX_TOTAL (64u << 20) /* inflated bytes per PDF */
#define PDF_MAX_STREAMS 20000

#define ENDOFCHAIN 0xFFFFFFFEu
#define NOSTREAM 0xFFFFFFFFu

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const uint8_t *find_bytes(const uint8_t *h, size_t hl, const void *n, size_t nl)
{
    return nl && hl >= nl ? memmem(h, hl, n, nl) : NULL;
}

/* Appends name to a comma-separated list once, if it fits. */
static void list_add(char *list, size_t cap, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += nl)
        if ((p == list || p[-1] == ' ') && (p[nl] == ',' || p[nl] == '\0'))
            return;
    size_t l = strlen(list);
    if (l + nl + 3 > cap)
        return;
    snprintf(list + l, cap - l, "%s%s", l ? ", " : "", name);
}

static void found(office_report *r, unsigned flag, const char *where)
{
    if (!r->where[0] && where)
        snprintf(r->where, sizeof r->where, "%s", where);
    r->flags |= flag;
}

/* ---- executables ---- */

static bool pe_at(const uint8_t *d, size_t len, size_t off)
{
    if (off + 64 > len || d[off] != 'M' || d[off + 1] != 'Z')
        return false;
    uint32_t lfanew = le32(d + off + 0x3C);
    if (lfanew >= 4 && lfanew < 4096 && off + lfanew + 4 <= len &&
        memcmp(d + off + lfanew, "PE\0\0", 4) == 0)
        return true;
    size_t win = len - off < 512 ? len - off : 512;
    return find_bytes(d + off, win, "program cannot be run in DOS mode", 33) != NULL;
}

/* A PE anywhere in d (an OLE package holds a header before the file). */
static bool find_pe(const uint8_t *d, size_t len)
{
    size_t tries = 0;
    for (const uint8_t *p = d; (p = find_bytes(p, len - (size_t)(p - d), "MZ", 2)) != NULL; p++) {
        if (pe_at(d, len, (size_t)(p - d)))
            return true;
        if (++tries > 100000)
            break;
    }
    return false;
}

/* ---- MS-OVBA ---- */

uint8_t *office_ovba_decompress(const uint8_t *src, size_t len, size_t max, size_t *outlen)
{
    *outlen = 0;
    if (len < 3 || src[0] != 0x01)
        return NULL;
    buf_t out = {0};
    size_t pos = 1;
    while (pos + 2 <= len && out.len < max) {
        uint16_t hdr = le16(src + pos);
        if (((hdr >> 12) & 7) != 3)
            break; /* not a chunk signature: the container ends here */
        size_t end = pos + (size_t)(hdr & 0x0FFF) + 3;
        if (end > len)
            end = len;
        pos += 2;
        size_t start = out.len;
        if (!(hdr & 0x8000)) { /* raw chunk: 4096 bytes as they are */
            size_t n = end - pos < 4096 ? end - pos : 4096;
            buf_append(&out, src + pos, n);
            pos = end;
            continue;
        }
        bool bad = false;
        while (pos < end && !bad) {
            uint8_t flags = src[pos++];
            for (int b = 0; b < 8 && pos < end; b++) {
                if (out.len - start >= 4096 || out.len >= max) {
                    bad = true;
                    break;
                }
                if (!(flags & (1u << b))) {
                    buf_append(&out, src + pos++, 1);
                    continue;
                }
                if (pos + 2 > end) {
                    pos = end;
                    break;
                }
                uint16_t tok = le16(src + pos);
                pos += 2;
                size_t diff = out.len - start;
                unsigned bc = 4;
                while (bc < 12 && ((size_t)1 << bc) < diff)
                    bc++;
                size_t length = (size_t)(tok & (0xFFFFu >> bc)) + 3;
                size_t offset = (size_t)(tok >> (16 - bc)) + 1;
                if (offset > diff) {
                    bad = true;
                    break;
                }
                for (size_t i = 0; i < length && out.len - start < 4096; i++) {
                    char c = out.data[out.len - offset];
                    buf_append(&out, &c, 1);
                }
            }
        }
        if (bad)
            break;
        pos = end;
    }
    if (!out.len) {
        buf_free(&out);
        return NULL;
    }
    *outlen = out.len < max ? out.len : max;
    return (uint8_t *)out.data;
}

/* ---- OLE2 compound files ---- */

typedef struct {
    char name[33]; /* ASCII (others as '?'), as stored: "\001Ole10Native" */
    uint8_t type; /* 1 storage, 2 stream, 5 root */
    uint32_t left, right, child, start;
    uint64_t size;
    uint32_t parent; /* storage holding it; NOSTREAM for the root or unreachable */
} ole_entry;

typedef struct {
    const uint8_t *d;
    size_t len;
    uint32_t ss, mss, cutoff, nsec;
    bool v3;
    uint32_t *fat;
    size_t nfat;
    uint32_t *minifat;
    size_t nminifat;
    uint8_t *mini;
    size_t nmini;
    ole_entry *e;
    size_t ne;
    uint64_t budget;
    bool broken;
} ole;

/* Follows a FAT chain from start, at most `want` bytes (or the whole chain when
 * want is 0); NULL on an empty chain. */
static uint8_t *ole_chain(ole *o, const uint32_t *fat, size_t nfat, uint32_t start, uint64_t want,
                          size_t *outlen, bool is_mini)
{
    *outlen = 0;
    size_t unit = is_mini ? o->mss : o->ss;
    size_t limit = is_mini ? o->nmini / o->mss : o->nsec;
    buf_t b = {0};
    uint32_t s = start;
    for (size_t steps = 0; s != ENDOFCHAIN; steps++) {
        if (s >= limit || steps > limit) {
            o->broken = s != ENDOFCHAIN; /* out of range, or a loop */
            break;
        }
        if (want && b.len >= want)
            break;
        if (o->budget < unit) {
            o->broken = true;
            break;
        }
        o->budget -= unit;
        size_t off = is_mini ? (size_t)s * unit : ((size_t)s + 1) * unit;
        const uint8_t *src = is_mini ? o->mini : o->d;
        size_t srclen = is_mini ? o->nmini : o->len;
        size_t n = off < srclen ? (srclen - off < unit ? srclen - off : unit) : 0;
        buf_append(&b, src + off, n);
        s = s < nfat ? fat[s] : ENDOFCHAIN;
    }
    if (want && b.len > want)
        b.len = (size_t)want;
    *outlen = b.len;
    if (!b.len) {
        buf_free(&b);
        return NULL;
    }
    return (uint8_t *)b.data;
}

static void ole_free(ole *o)
{
    free(o->fat);
    free(o->minifat);
    free(o->mini);
    free(o->e);
}

static bool is_ole2(const uint8_t *d, size_t len)
{
    return len >= 512 && memcmp(d, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) == 0;
}

static void ole_tree(ole *o)
{
    uint8_t *seen = xcalloc(o->ne, 1);
    uint32_t *stack = xmalloc((6 * o->ne + 2) * sizeof *stack);
    size_t sp = 0;
    seen[0] = 1;
    stack[sp++] = o->e[0].child;
    stack[sp++] = 0;
    while (sp) {
        uint32_t par = stack[--sp];
        uint32_t id = stack[--sp];
        if (id >= o->ne || seen[id])
            continue;
        seen[id] = 1;
        ole_entry *e = &o->e[id];
        e->parent = par;
        /* each entry is pushed at most once per seen id: 3 pushes of 2 words each */
        stack[sp++] = e->left;
        stack[sp++] = par;
        stack[sp++] = e->right;
        stack[sp++] = par;
        if (e->type == 1) {
            stack[sp++] = e->child;
            stack[sp++] = id;
        }
    }
    free(stack);
    free(seen);
}

static bool ole_open(ole *o, const uint8_t *d, size_t len)
{
    memset(o, 0, sizeof *o);
    o->d = d;
    o->len = len;
    o->budget = OLE_BUDGET + 4 * (uint64_t)len;
    if (!is_ole2(d, len))
        return false;
    uint16_t shift = le16(d + 0x1E), mshift = le16(d + 0x20);
    if ((shift != 9 && shift != 12) || mshift > shift || mshift < 2)
        return false;
    o->ss = 1u << shift;
    o->mss = 1u << mshift;
    o->v3 = le16(d + 0x1A) != 4;
    o->cutoff = le32(d + 0x38);
    if (len <= o->ss)
        return false;
    o->nsec = (uint32_t)((len - o->ss + o->ss - 1) / o->ss);

    /* FAT sector ids: 109 in the header, then the DIFAT chain */
    size_t per = o->ss / 4;
    uint32_t *ids = xmalloc(sizeof *ids * (109 + per));
    size_t nids = 0, idcap = 109 + per;
    for (int i = 0; i < 109; i++)
        ids[nids++] = le32(d + 0x4C + 4 * i);
    uint32_t ds = le32(d + 0x44);
    for (size_t steps = 0; ds < o->nsec && steps <= o->nsec; steps++) {
        size_t off = ((size_t)ds + 1) * o->ss;
        if (off + o->ss > len)
            break;
        if (nids + per > idcap) {
            idcap = 2 * idcap + per;
            ids = xrealloc(ids, idcap * sizeof *ids);
        }
        for (size_t i = 0; i + 1 < per; i++)
            ids[nids++] = le32(d + off + 4 * i);
        ds = le32(d + off + 4 * (per - 1));
    }
    size_t want = le32(d + 0x2C);
    o->fat = xmalloc(sizeof *o->fat * per * (want < o->nsec ? want + 1 : (size_t)o->nsec + 1));
    for (size_t i = 0; i < nids && i < want && i <= o->nsec; i++) {
        uint32_t s = ids[i];
        size_t off = ((size_t)s + 1) * o->ss;
        if (s >= o->nsec || off + o->ss > len) {
            o->broken = true;
            continue;
        }
        for (size_t k = 0; k < per; k++)
            o->fat[o->nfat++] = le32(d + off + 4 * k);
    }
    free(ids);
    if (!o->nfat)
        return false;

    size_t dl;
    uint8_t *dir = ole_chain(o, o->fat, o->nfat, le32(d + 0x30), 0, &dl, false);
    if (!dir || dl < 128) {
        free(dir);
        return false;
    }
    o->ne = dl / 128 < OLE_MAX_DIR ? dl / 128 : OLE_MAX_DIR;
    o->e = xcalloc(o->ne, sizeof *o->e);
    for (size_t i = 0; i < o->ne; i++) {
        const uint8_t *p = dir + 128 * i;
        ole_entry *e = &o->e[i];
        size_t nl = le16(p + 0x40);
        nl = nl > 64 ? 32 : nl / 2;
        for (size_t k = 0; k < nl && k < 32; k++) {
            uint16_t c = le16(p + 2 * k);
            if (!c)
                break;
            e->name[k] = c < 0x80 ? (char)c : '?';
        }
        e->type = p[0x42];
        e->left = le32(p + 0x44);
        e->right = le32(p + 0x48);
        e->child = le32(p + 0x4C);
        e->start = le32(p + 0x74);
        e->size =
            o->v3 ? le32(p + 0x78) : (uint64_t)le32(p + 0x78) | (uint64_t)le32(p + 0x7C) << 32;
        e->parent = NOSTREAM;
    }
    free(dir);
    if (o->e[0].type != 5)
        o->broken = true;
    ole_tree(o);

    size_t ml;
    o->minifat = (uint32_t *)ole_chain(o, o->fat, o->nfat, le32(d + 0x3C), 0, &ml, false);
    o->nminifat = ml / 4;
    for (size_t i = 0; i < o->nminifat; i++) /* the bytes were copied little-endian */
        o->minifat[i] = le32((const uint8_t *)&o->minifat[i]);
    o->mini = ole_chain(o, o->fat, o->nfat, o->e[0].start, o->e[0].size, &o->nmini, false);
    return true;
}

static uint8_t *ole_read(ole *o, uint32_t id, size_t *n)
{
    const ole_entry *e = &o->e[id];
    uint64_t want = e->size < o->len + (uint64_t)o->ss ? e->size : o->len + (uint64_t)o->ss;
    *n = 0;
    if (!want)
        return NULL;
    if (e->size < o->cutoff)
        return ole_chain(o, o->minifat, o->nminifat, e->start, want, n, true);
    return ole_chain(o, o->fat, o->nfat, e->start, want, n, false);
}

/* The child of storage `par` named `name` (case-insensitive), or NOSTREAM. */
static uint32_t ole_child(const ole *o, uint32_t par, const char *name, uint8_t type)
{
    for (size_t i = 1; i < o->ne; i++)
        if (o->e[i].parent == par && o->e[i].type == type && strcasecmp(o->e[i].name, name) == 0)
            return (uint32_t)i;
    return NOSTREAM;
}

/* ---- VBA source ---- */

static bool ident(unsigned char c)
{
    return isalnum(c) || c == '_';
}

/* Whole-word, case-insensitive. */
static bool has_word(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= n; i++) {
        if (strncasecmp(s + i, w, wl) != 0)
            continue;
        bool before = i == 0 || !ident((unsigned char)s[i - 1]);
        bool after = i + wl == n || !ident((unsigned char)s[i + wl]);
        if (before && after)
            return true;
    }
    return false;
}

static void vba_source(office_report *r, const uint8_t *src, size_t n, const char *where)
{
    static const char *const autoexec[] = {
        "AutoExec",
        "AutoOpen",
        "Auto_Open",
        "AutoClose",
        "Auto_Close",
        "AutoExit",
        "AutoNew",
        "Document_Open",
        "DocumentOpen",
        "Document_Close",
        "DocumentBeforeClose",
        "Document_BeforeClose",
        "Document_New",
        "NewDocument",
        "Workbook_Open",
        "Workbook_Activate",
        "Workbook_Close",
        "Workbook_BeforeClose",
        "Auto_Activate",
        "Auto_Deactivate",
        "Presentation_Open",
        "Document_ContentControlOnEnter",
    };
    static const char *const calls[] = {
        "Shell",         "ShellExecute", "CreateObject", "GetObject",     "URLDownloadToFile",
        "WScript.Shell", "PowerShell",   "cmd.exe",      "XMLHTTP",       "ADODB.Stream",
        "CallByName",    "MacScript",    "VirtualAlloc", "RtlMoveMemory", "CreateThread",
    };
    const char *s = (const char *)src;
    r->modules++;
    for (size_t i = 0; i < sizeof autoexec / sizeof *autoexec; i++) {
        if (has_word(s, n, autoexec[i])) {
            found(r, OFFICE_F_AUTOEXEC, where);
            list_add(r->autoexec, sizeof r->autoexec, autoexec[i]);
        }
    }
    for (size_t i = 0; i < sizeof calls / sizeof *calls; i++) {
        if (has_word(s, n, calls[i])) {
            found(r, OFFICE_F_SUSPICIOUS, where);
            list_add(r->calls, sizeof r->calls, calls[i]);
        }
    }
}

typedef struct {
    char stream[33];
    uint32_t offset;
} vba_module;

/* Module streams and source offsets from the decompressed dir stream. */
static size_t vba_dir(const uint8_t *d, size_t n, vba_module *m, size_t max)
{
    size_t nm = 0, pos = 0;
    vba_module cur = {{0}, 0};
    bool have = false;
    while (pos + 6 <= n && nm < max) {
        uint16_t id = le16(d + pos);
        size_t size = le32(d + pos + 2);
        pos += 6;
        if (id == 0x0009)
            size = 6; /* PROJECTVERSION: its "size" is a reserved field */
        if (id == 0x0010 || size > n - pos)
            break;
        if (id == 0x001A) {
            size_t k = size < 32 ? size : 32;
            memcpy(cur.stream, d + pos, k);
            cur.stream[k] = '\0';
            have = true;
        } else if (id == 0x0031 && size >= 4) {
            cur.offset = le32(d + pos);
        } else if (id == 0x002B && have) {
            m[nm++] = cur;
            memset(&cur, 0, sizeof cur);
            have = false;
        }
        pos += size;
    }
    return nm;
}

static bool is_vba_source(const uint8_t *s, size_t n)
{
    return n >= 13 && strncasecmp((const char *)s, "Attribute VB_", 13) == 0;
}

/* Without a dir: the compressed container is found by trying each 0x01 followed by
 * a chunk header (bounded). */
static void vba_guess(ole *o, uint32_t id, office_report *r, const char *where)
{
    size_t n;
    uint8_t *d = ole_read(o, id, &n);
    int tries = 0;
    for (size_t i = 0; d && i + 3 <= n && tries < 64; i++) {
        if (d[i] != 0x01 || ((le16(d + i + 1) >> 12) & 7) != 3)
            continue;
        tries++;
        size_t sl;
        uint8_t *src = office_ovba_decompress(d + i, n - i, VBA_MAX_SOURCE, &sl);
        bool ok = src && is_vba_source(src, sl);
        if (ok)
            vba_source(r, src, sl, where);
        free(src);
        if (ok)
            break;
    }
    free(d);
}

static void vba_project(ole *o, uint32_t vba, office_report *r, const char *where)
{
    found(r, OFFICE_F_MACRO, where);
    uint32_t dir_id = ole_child(o, vba, "dir", 2);
    size_t n = 0, dl = 0, nm = 0;
    uint8_t *dir = dir_id != NOSTREAM ? ole_read(o, dir_id, &n) : NULL;
    uint8_t *dd = dir ? office_ovba_decompress(dir, n, 1u << 20, &dl) : NULL;
    vba_module *m = xcalloc(VBA_MAX_MODULES, sizeof *m);
    if (dd)
        nm = vba_dir(dd, dl, m, VBA_MAX_MODULES);
    size_t read = 0;
    for (size_t i = 0; i < nm; i++) {
        uint32_t sid = ole_child(o, vba, m[i].stream, 2);
        if (sid == NOSTREAM)
            continue;
        size_t sn, sl;
        uint8_t *s = ole_read(o, sid, &sn);
        uint8_t *src =
            s && m[i].offset < sn
                ? office_ovba_decompress(s + m[i].offset, sn - m[i].offset, VBA_MAX_SOURCE, &sl)
                : NULL;
        if (src) {
            vba_source(r, src, sl, where);
            read++;
        }
        free(src);
        free(s);
    }
    if (!read) { /* no usable dir: try every stream that is not a known part */
        for (size_t i = 1; i < o->ne; i++) {
            const char *nmn = o->e[i].name;
            if (o->e[i].parent != vba || o->e[i].type != 2 || strcasecmp(nmn, "dir") == 0 ||
                str_iprefix(nmn, "_VBA_PROJECT") || str_iprefix(nmn, "__SRP_") ||
                str_iprefix(nmn, "PROJECT"))
                continue;
            vba_guess(o, (uint32_t)i, r, where);
        }
    }
    free(m);
    free(dd);
    free(dir);
}

/* Excel 4 macro sheets and Auto_Open in a BIFF8 Workbook stream. */
static void xlm_scan(const uint8_t *d, size_t n, office_report *r, const char *where)
{
    for (size_t pos = 0; pos + 4 <= n;) {
        uint16_t id = le16(d + pos), rl = le16(d + pos + 2);
        const uint8_t *p = d + pos + 4;
        if (rl > n - pos - 4)
            break;
        if (id == 0x002F)
            break; /* FILEPASS: the rest is encrypted */
        if (id == 0x0085 && rl >= 6 && p[5] == 0x01)
            found(r, OFFICE_F_MACRO | OFFICE_F_XLM, where);
        if (id == 0x0018 && rl >= 16) {
            bool builtin = le16(p) & 0x20;
            uint8_t c = p[15];
            if (builtin && (c == 0x01 || c == 0x02)) {
                found(r, OFFICE_F_AUTOEXEC, where);
                list_add(r->autoexec, sizeof r->autoexec, c == 0x01 ? "Auto_Open" : "Auto_Close");
            } else if (!builtin && p[3] >= 9 && p[14] == 0 && rl >= 24 &&
                       strncasecmp((const char *)p + 15, "auto_open", 9) == 0) {
                found(r, OFFICE_F_AUTOEXEC, where);
                list_add(r->autoexec, sizeof r->autoexec, "Auto_Open");
            }
        }
        pos += 4 + (size_t)rl;
    }
}

static void ole_scan(const uint8_t *d, size_t len, office_report *r, const char *where)
{
    ole o;
    if (!ole_open(&o, d, len)) {
        ole_free(&o);
        found(r, OFFICE_F_BROKEN, where);
        return;
    }
    /* one pass for "has children", so a crafted directory cannot make this quadratic */
    uint8_t *parent_of_some = xcalloc(o.ne, 1);
    for (size_t i = 1; i < o.ne; i++)
        if (o.e[i].parent < o.ne)
            parent_of_some[o.e[i].parent] = 1;
    int projects = 0;
    for (size_t i = 1; i < o.ne; i++) {
        const ole_entry *e = &o.e[i];
        if (e->parent == NOSTREAM)
            continue;
        if (e->type == 1 && strcasecmp(e->name, "VBA") == 0) {
            if (projects++ < VBA_MAX_PROJECTS)
                vba_project(&o, (uint32_t)i, r, where);
            else
                found(r, OFFICE_F_MACRO, where);
        } else if (e->type == 1 && parent_of_some[i] &&
                   (strcasecmp(e->name, "_VBA_PROJECT_CUR") == 0 ||
                    strcasecmp(e->name, "Macros") == 0)) {
            found(r, OFFICE_F_MACRO, where);
        } else if (e->type == 2) {
            size_t n;
            uint8_t *s = ole_read(&o, (uint32_t)i, &n);
            if (s && find_pe(s, n))
                found(r, OFFICE_F_EMBEDDED_EXE, where);
            if (s && e->parent == 0 &&
                (strcasecmp(e->name, "Workbook") == 0 || strcasecmp(e->name, "Book") == 0))
                xlm_scan(s, n, r, where);
            free(s);
        }
    }
    free(parent_of_some);
    if (o.broken)
        found(r, OFFICE_F_BROKEN, where);
    ole_free(&o);
}

/* ---- OOXML ---- */

static bool ooxml_interesting(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && strcasecmp(name + n - 4, ".bin") == 0) || strstr(name, "embeddings/") ||
           strcasecmp(name, "xl/workbook.xml") == 0;
}

static void ooxml_scan(const uint8_t *d, size_t len, office_report *r)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_zip(a);
    if (archive_read_open_memory(a, d, len) != ARCHIVE_OK) {
        archive_read_free(a);
        found(r, OFFICE_F_BROKEN, NULL);
        return;
    }
    struct archive_entry *e;
    uint64_t total = 0;
    int rc;
    size_t entries = 0;
    while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
        const char *name = archive_entry_pathname(e);
        if (!name || ++entries > OOXML_MAX_ENTRIES)
            break;
        if (str_iprefix(name, "xl/macrosheets/") || str_iprefix(name, "xl/macroSheets/")) {
            found(r, OFFICE_F_MACRO | OFFICE_F_XLM, name);
            continue;
        }
        if (!ooxml_interesting(name))
            continue;
        buf_t b = {0};
        char chunk[65536];
        la_ssize_t k;
        while ((k = archive_read_data(a, chunk, sizeof chunk)) > 0 && b.len < OOXML_MAX_PART &&
               total < OOXML_MAX_TOTAL) {
            buf_append(&b, chunk, (size_t)k);
            total += (uint64_t)k;
        }
        const uint8_t *p = (const uint8_t *)b.data;
        if (strstr(name, "vbaProject") || strstr(name, "vbaproject"))
            found(r, OFFICE_F_MACRO, name);
        if (p && is_ole2(p, b.len))
            ole_scan(p, b.len, r, name);
        else if (p && find_pe(p, b.len))
            found(r, OFFICE_F_EMBEDDED_EXE, name);
        if (p && strcasecmp(name, "xl/workbook.xml") == 0 &&
            (find_bytes(p, b.len, "_xlnm.Auto_Open", 15) || find_bytes(p, b.len, "Auto_Open", 9))) {
            found(r, OFFICE_F_AUTOEXEC, name);
            list_add(r->autoexec, sizeof r->autoexec, "Auto_Open");
        }
        buf_free(&b);
        if (total >= OOXML_MAX_TOTAL)
            break;
    }
    if (rc != ARCHIVE_EOF && rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
        found(r, OFFICE_F_BROKEN, NULL);
    archive_read_free(a);
}

/* ---- PDF ---- */

static bool pdf_delim(uint8_t c)
{
    return c <= ' ' || strchr("()<>[]{}/%", c) != NULL;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (uint8_t)tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void pdf_names(const uint8_t *d, size_t len, office_report *r)
{
    static const struct {
        const char *name;
        unsigned flag;
    } keys[] = {
        {"JavaScript", PDF_F_JAVASCRIPT},
        {"JS", PDF_F_JAVASCRIPT},
        {"OpenAction", PDF_F_OPENACTION},
        {"AA", PDF_F_OPENACTION},
        {"Launch", PDF_F_LAUNCH},
        {"EmbeddedFile", PDF_F_EMBEDDED_FILE},
        {"EmbeddedFiles", PDF_F_EMBEDDED_FILE},
        {"RichMedia", PDF_F_RICHMEDIA},
        {"SubmitForm", PDF_F_SUBMITFORM},
        {"URI", 0},
    };
    for (size_t i = 0; i < len; i++) {
        if (d[i] != '/')
            continue;
        char name[40];
        size_t n = 0, j = i + 1;
        bool escaped = false;
        while (j < len && !pdf_delim(d[j]) && n < sizeof name - 1) {
            int h1, h2;
            if (d[j] == '#' && j + 2 < len && (h1 = hexval(d[j + 1])) >= 0 &&
                (h2 = hexval(d[j + 2])) >= 0) {
                name[n++] = (char)(h1 << 4 | h2);
                j += 3;
                escaped = true;
            } else {
                name[n++] = (char)d[j++];
            }
        }
        name[n] = '\0';
        if (j < len && !pdf_delim(d[j]))
            continue; /* longer than any key */
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            if (strcmp(name, keys[k].name) != 0)
                continue;
            if (!keys[k].flag) {
                size_t v = j;
                while (v < len && d[v] <= ' ')
                    v++;
                if (v < len && (d[v] == '(' || d[v] == '<'))
                    r->uris++;
            } else {
                r->flags |= keys[k].flag | (escaped ? PDF_F_OBFUSCATED : 0);
            }
            break;
        }
        i = j - 1;
    }
}

/* Inflates a zlib stream into at most max bytes; NULL if it is not one. */
static uint8_t *inflate_bounded(const uint8_t *src, size_t len, size_t max, size_t *outlen)
{
    *outlen = 0;
    if (len < 2 || (src[0] & 0x0F) != 8 || ((src[0] << 8) | src[1]) % 31 != 0)
        return NULL;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK)
        return NULL;
    size_t cap = len * 4 < max ? (len * 4 > 4096 ? len * 4 : 4096) : max;
    uint8_t *out = xmalloc(cap);
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)(len < UINT32_MAX ? len : UINT32_MAX);
    int rc = Z_OK;
    while (rc == Z_OK) {
        if (z.total_out == cap) {
            if (cap >= max)
                break;
            cap = cap * 2 < max ? cap * 2 : max;
            out = xrealloc(out, cap);
        }
        z.next_out = out + z.total_out;
        z.avail_out = (uInt)(cap - z.total_out);
        rc = inflate(&z, Z_NO_FLUSH);
    }
    *outlen = z.total_out;
    inflateEnd(&z);
    if (!*outlen) {
        free(out);
        return NULL;
    }
    return out;
}

static void pdf_scan(const uint8_t *d, size_t len, office_report *r)
{
    pdf_names(d, len, r);
    size_t inflated = 0, streams = 0;
    const uint8_t *p = d, *end = d + len;
    while ((p = find_bytes(p, (size_t)(end - p), "stream", 6)) != NULL) {
        if ((p > d && isalpha(p[-1])) || ++streams > PDF_MAX_STREAMS) {
            p += 6;
            continue;
        }
        const uint8_t *s = p + 6;
        if (s < end && *s == '\r')
            s++;
        if (s < end && *s == '\n')
            s++;
        const uint8_t *e = find_bytes(s, (size_t)(end - s), "endstream", 9);
        if (!e)
            e = end;
        size_t n = (size_t)(e - s);
        if (pe_at(s, n, 0))
            r->flags |= PDF_F_EMBEDDED_EXE;
        if (inflated < PDF_MAX_TOTAL) {
            size_t room = PDF_MAX_TOTAL - inflated, il;
            uint8_t *in = inflate_bounded(s, n, room < PDF_MAX_STREAM ? room : PDF_MAX_STREAM, &il);
            if (in) {
                inflated += il;
                pdf_names(in, il, r);
                if (pe_at(in, il, 0))
                    r->flags |= PDF_F_EMBEDDED_EXE;
                free(in);
            }
        }
        p = e;
    }
}

/* ---- entry points ---- */

static bool is_pdf(const uint8_t *d, size_t len)
{
    return find_bytes(d, len < 1024 ? len : 1024, "%PDF-", 5) != NULL;
}

office_kind office_kind_of(const uint8_t *data, size_t len, const char *type)
{
    if (!data || !len)
        return OFFICE_KIND_NONE;
    if (is_ole2(data, len))
        return OFFICE_KIND_OLE2;
    if (is_pdf(data, len))
        return OFFICE_KIND_PDF;
    if (len > 30 && memcmp(data, "PK\x03\x04", 4) == 0) {
        if (type &&
            (strstr(type, "openxmlformats") || strstr(type, "macroenabled") ||
             strstr(type, "ms-word") || strstr(type, "ms-excel") || strstr(type, "ms-powerpoint")))
            return OFFICE_KIND_OOXML;
        if (find_bytes(data, len < 65536 ? len : 65536, "[Content_Types].xml", 19))
            return OFFICE_KIND_OOXML;
    }
    return OFFICE_KIND_NONE;
}

bool office_scan(const uint8_t *data, size_t len, const char *detected_type, office_report *r)
{
    memset(r, 0, sizeof *r);
    r->kind = office_kind_of(data, len, detected_type);
    switch (r->kind) {
    case OFFICE_KIND_OLE2: ole_scan(data, len, r, NULL); break;
    case OFFICE_KIND_OOXML: ooxml_scan(data, len, r); break;
    case OFFICE_KIND_PDF: pdf_scan(data, len, r); break;
    case OFFICE_KIND_NONE: break;
    }
    return r->flags != 0 || r->uris > 0;
}
