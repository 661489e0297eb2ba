/* files.c - the file walk: MIME leaf parts and, recursively, the members of archives.
 *
 * Each MIME leaf part becomes one scan_file; every file whose bytes libarchive can open
 * as an archive (zip, 7z, rar, tar, cab, iso, cpio, ar, lha, xar; gzip/bzip2/xz/zstd/
 * lz4/lzip/compress filters) gets its members appended after it, depth first, each
 * extracted into memory the set owns, typed with libmagic and opened in turn up to
 * max_depth. A bare compressed stream (.gz without tar) is one member named after the
 * outer file minus its suffix. Formats that accept anything (raw, empty, mtree) are
 * only used for that second case, so plain text is never an "archive". Member bytes are
 * read in chunks so the message-wide budgets (bytes, members, wall time) and the
 * per-archive expansion ratio stop a bomb early; declared sizes are checked first.
 * Encrypted members are tried with the passwords the message text offers (all of them
 * added to each reader: libarchive tries each). A limit is a flag, never an error. All
 * state is per set (struct files_priv), so walks in different threads never meet. */
#include "files.h"
#include "filetype.h"
#include "message.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RATIO_FLOOR (1024 * 1024) /* expansion below this is never called a bomb */
#define CHUNK (64 * 1024)
#define MAX_NAME 512 /* member names longer than this are cut */
#define MAX_PATH 2048
#define MAX_PW 64 /* longest password candidate */
#define TYPE_LEN 128

struct files_priv {
    void **own; /* every allocation the set owns */
    size_t nown, owncap;
    size_t vcap;
    uint64_t start; /* mono_ms() of the first walk */
    bool started;
    size_t entries; /* archive headers read, all archives */
    bool stop; /* a message-wide limit was hit: open nothing more */
    bool limit_noted; /* detail holds a limit (not only an encryption or damage) */
    strlist pw;
    bool pw_ready;
};

typedef struct {
    file_set *fs;
    const walk_limits *lim;
    const char *text;
} walker;

static void *own(file_set *fs, void *p)
{
    struct files_priv *pr = fs->priv;
    if (pr->nown == pr->owncap) {
        pr->owncap = pr->owncap ? 2 * pr->owncap : 32;
        pr->own = xrealloc(pr->own, pr->owncap * sizeof *pr->own);
    }
    pr->own[pr->nown++] = p;
    return p;
}

static const char *own_str(file_set *fs, const char *s)
{
    return own(fs, xstrdup(s ? s : ""));
}

file_set *files_new(void)
{
    file_set *fs = xcalloc(1, sizeof *fs);
    fs->priv = xcalloc(1, sizeof *fs->priv);
    return fs;
}

void files_free(file_set **fsp)
{
    file_set *fs = *fsp;
    if (!fs)
        return;
    if (fs->priv) {
        for (size_t i = 0; i < fs->priv->nown; i++)
            free(fs->priv->own[i]);
        free(fs->priv->own);
        strlist_free(&fs->priv->pw);
        free(fs->priv);
    }
    free(fs->v);
    free(fs);
    *fsp = NULL;
}

static size_t add_file(file_set *fs)
{
    struct files_priv *pr = fs->priv;
    if (fs->n == pr->vcap) {
        pr->vcap = pr->vcap ? 2 * pr->vcap : 16;
        fs->v = xrealloc(fs->v, pr->vcap * sizeof *fs->v);
    }
    scan_file *f = &fs->v[fs->n];
    memset(f, 0, sizeof *f);
    f->name = f->path = f->declared_type = f->detected_type = "";
    f->parent = -1;
    return fs->n++;
}

static bool is_limit(unsigned flag)
{
    return flag & (WALK_TOO_DEEP | WALK_TOO_BIG | WALK_RATIO | WALK_TOO_MANY | WALK_TIMEOUT);
}

/* Records a WALK_* event; the detail keeps the first limit, or else the first event. */
static void note(file_set *fs, unsigned flag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(file_set *fs, unsigned flag, const char *fmt, ...)
{
    fs->flags |= flag;
    bool write = is_limit(flag) ? !fs->priv->limit_noted : !fs->detail[0];
    if (!write)
        return;
    if (is_limit(flag))
        fs->priv->limit_noted = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fs->detail, sizeof fs->detail, fmt, ap);
    va_end(ap);
}

/* Message-wide wall clock; true (and the walk stops) once it is spent. */
static bool timed_out(walker *w, const char *path)
{
    file_set *fs = w->fs;
    if (fs->priv->stop)
        return true;
    if (!w->lim->max_time_ms || mono_ms() - fs->priv->start <= w->lim->max_time_ms)
        return false;
    note(fs, WALK_TIMEOUT, "%.150s: the archive walk took longer than %llu ms", path,
         (unsigned long long)w->lim->max_time_ms);
    fs->priv->stop = true;
    return true;
}

/* ---- password candidates from the message text ---- */

static bool word_char(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static void add_candidate(strlist *l, const char *s, size_t n, size_t max)
{
    if (!n || n > MAX_PW || l->n >= max)
        return;
    char *c = xstrndup(s, n);
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i], c) == 0) {
            free(c);
            return;
        }
    }
    strlist_add(l, c);
    free(c);
}

/* A token as written: quotes and brackets around it dropped; then also without
 * trailing sentence punctuation (tried first). */
static void add_token(strlist *l, const char *s, size_t n, size_t max)
{
    static const char open[] = "\"'`([{<", close[] = "\"'`)]}>";
    while (n && strchr(open, s[0]))
        s++, n--;
    while (n && strchr(close, s[n - 1]))
        n--;
    size_t m = n;
    while (m && strchr(".,;:!?", s[m - 1]))
        m--;
    add_candidate(l, s, m, max);
    if (m != n)
        add_candidate(l, s, n, max);
}

static size_t token_len(const char *s)
{
    size_t n = 0;
    while (s[n] && !is_space((unsigned char)s[n]))
        n++;
    return n;
}

static bool filler(const char *s, size_t n)
{
    static const char *const words[] = {
        "is",   "ist",  "est",    "es",   "for", "the",  "archive", "file", "zip",     "to",
        "open", "de",   "du",     "le",   "la",  "of",   "fichier", "für",  "die",     "datei",
        "das",  "this", "lautet", "your", "it",  "will", "be",      "here", "attached"};
    while (n && strchr(":=-.,", s[n - 1]))
        n--;
    if (!n)
        return true;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strlen(words[i]) == n && strncasecmp(words[i], s, n) == 0)
            return true;
    return false;
}

static void find_passwords(const char *text, size_t max, strlist *out)
{
    static const struct {
        const char *kw;
        bool colon; /* short words count only before ':' or '=' */
    } keys[] = {
        {"password", false},     {"passwort", false},
        {"passwd", false},       {"passcode", false},
        {"kennwort", false},     {"wachtwoord", false},
        {"mot de passe", false}, {"contraseña", false},
        {"contrasena", false},   {"senha", false},
        {"parola", false},       {"hasło", false},
        {"haslo", false},        {"pass", true},
        {"pwd", true},           {"pw", true},
        {"code", true},          {"pin", true},
    };
    /* Words after a keyword first: they are the likely ones. */
    for (const char *p = text; *p && out->n < max; p++) {
        if (p != text && word_char((unsigned char)p[-1]))
            continue;
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            size_t kl = strlen(keys[k].kw);
            if (strncasecmp(p, keys[k].kw, kl) != 0 || word_char((unsigned char)p[kl]))
                continue;
            const char *q = p + kl;
            while (*q == ' ' || *q == '\t')
                q++;
            if (keys[k].colon && *q != ':' && *q != '=')
                continue;
            /* up to six tokens on: skip separators and filler ("is", "for the zip") */
            for (int t = 0; t < 6 && *q; t++) {
                while (*q && (is_space((unsigned char)*q) || strchr(":=-", *q)))
                    q++;
                size_t n = token_len(q);
                if (!n)
                    break;
                if (!filler(q, n)) {
                    add_token(out, q, n, max);
                    break;
                }
                q += n;
            }
            break;
        }
    }
    /* Then quoted strings anywhere ("the code is 'x7Yq'"). */
    for (const char *p = text; *p && out->n < max; p++) {
        char qc = *p;
        if (qc != '"' && qc != '\'' && qc != '`')
            continue;
        if (p != text && word_char((unsigned char)p[-1]))
            continue; /* an apostrophe (don't) */
        const char *e = p + 1;
        while (*e && *e != qc && *e != '\n' && e - p <= MAX_PW)
            e++;
        if (*e != qc || e == p + 1 || word_char((unsigned char)e[1]))
            continue;
        add_candidate(out, p + 1, (size_t)(e - p - 1), max);
        p = e;
    }
}

/* ---- libarchive ---- */

/* A reader over data, positioned before the first header (libarchive bids for the
 * format when opening). NULL when no format knows the bytes, or when one does (or a
 * filter does) and fails on them: then *damaged is set, with the reason in err. */
static struct archive *reader_new(const uint8_t *data, size_t len, bool raw, const strlist *pw,
                                  bool *damaged, char *err, size_t errlen)
{
    struct archive *a = archive_read_new();
    /* Filters and formats one by one: _all would add uuencode (any text) and the
     * external-program fallbacks; raw, empty and mtree accept anything. */
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_lzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_lz4(a);
    archive_read_support_filter_compress(a);
    if (raw) {
        archive_read_support_format_raw(a);
    } else {
        archive_read_support_format_7zip(a);
        archive_read_support_format_ar(a);
        archive_read_support_format_cab(a);
        archive_read_support_format_cpio(a);
        archive_read_support_format_iso9660(a);
        archive_read_support_format_lha(a);
        archive_read_support_format_rar(a);
        archive_read_support_format_rar5(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_xar(a);
        archive_read_support_format_zip(a);
    }
    for (size_t i = 0; pw && i < pw->n; i++)
        archive_read_add_passphrase(a, pw->v[i]);
    *damaged = false;
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
        const char *e = archive_error_string(a);
        snprintf(err, errlen, "%s", e ? e : "cannot open");
        *damaged = !strstr(err, "Unrecognized archive format");
        archive_read_free(a);
        return NULL;
    }
    return a;
}

static bool says_encrypted(struct archive *a)
{
    const char *e = archive_error_string(a);
    return archive_read_has_encrypted_entries(a) > 0 ||
           (e && (strstr(e, "ncrypt") || strstr(e, "assphrase")));
}

/* Name of the one member of a bare compressed stream: the outer name minus suffix. */
static char *stream_member_name(const char *outer)
{
    static const struct {
        const char *suffix, *repl;
    } sfx[] = {{".tgz", ".tar"}, {".tbz2", ".tar"}, {".tbz", ".tar"}, {".txz", ".tar"}, {".gz", ""},
               {".gzip", ""},    {".bz2", ""},      {".bz", ""},      {".xz", ""},      {".lz", ""},
               {".zst", ""},     {".lz4", ""},      {".z", ""}};
    const char *base = strrchr(outer, '/');
    base = base ? base + 1 : outer;
    size_t n = strlen(base);
    for (size_t i = 0; i < sizeof sfx / sizeof *sfx; i++) {
        size_t sl = strlen(sfx[i].suffix);
        if (n > sl && strcasecmp(base + n - sl, sfx[i].suffix) == 0)
            return xasprintf("%.*s%s", (int)(n - sl), base, sfx[i].repl);
    }
    return xstrdup(n ? base : "data");
}

typedef enum { READ_OK, READ_ERROR, READ_LIMIT, READ_BOMB } read_result;

/* Reads the current entry's bytes in chunks into member m, within the budgets. */
static read_result read_member(walker *w, struct archive *a, size_t aidx, size_t m,
                               uint64_t *arch_expanded)
{
    file_set *fs = w->fs;
    const walk_limits *lim = w->lim;
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    read_result res = READ_OK;
    for (;;) {
        if (cap - n < CHUNK) {
            cap = cap ? 2 * cap : CHUNK;
            buf = xrealloc(buf, cap);
        }
        la_ssize_t k = archive_read_data(a, buf + n, CHUNK);
        if (k == 0)
            break;
        if (k < 0) {
            res = READ_ERROR;
            break;
        }
        n += (size_t)k;
        *arch_expanded += (uint64_t)k;
        fs->expanded += (uint64_t)k;
        if (lim->max_total && fs->expanded > lim->max_total) {
            note(fs, WALK_TOO_BIG, "%.150s: more than %llu bytes expanded in all", fs->v[m].path,
                 (unsigned long long)lim->max_total);
            fs->priv->stop = true;
            res = READ_LIMIT;
            break;
        }
        size_t alen = fs->v[aidx].len;
        if (lim->max_ratio > 0 && *arch_expanded > RATIO_FLOOR &&
            (double)*arch_expanded > lim->max_ratio * (double)alen) {
            note(fs, WALK_RATIO, "%.150s: expands more than %g times its %zu bytes",
                 fs->v[aidx].path, lim->max_ratio, alen);
            fs->v[aidx].flags |= FILE_BOMB;
            res = READ_BOMB;
            break;
        }
        if (timed_out(w, fs->v[m].path)) {
            res = READ_LIMIT;
            break;
        }
    }
    scan_file *f = &fs->v[m];
    if (res == READ_LIMIT || res == READ_BOMB || (res == READ_ERROR && n == 0)) {
        free(buf);
        f->flags |= FILE_NOT_EXTRACTED;
        return res;
    }
    if (res == READ_ERROR)
        f->flags |= FILE_TRUNCATED; /* what could be read is kept */
    if (!n) {
        free(buf);
        buf = xmalloc(1);
    } else if (n < cap) {
        buf = xrealloc(buf, n);
    }
    f->data = own(fs, buf);
    f->len = n;
    if (!f->size)
        f->size = n;
    char type[TYPE_LEN];
    f->detected_type = own_str(fs, filetype_detect(f->data, n, type, sizeof type));
    return res;
}

static void walk_file(walker *w, size_t idx);

/* Appends the member the archive is positioned on; false when the walk of this
 * archive must stop. */
static bool take_member(walker *w, struct archive *a, struct archive_entry *e, size_t aidx,
                        const char *name, uint64_t *arch_expanded)
{
    file_set *fs = w->fs;
    const walk_limits *lim = w->lim;
    size_t m = add_file(fs);
    scan_file *f = &fs->v[m];
    const scan_file *ar = &fs->v[aidx];
    char nm[MAX_NAME + 1];
    snprintf(nm, sizeof nm, "%s", name);
    char *path = xasprintf("%.*s/%s", MAX_PATH, ar->path, nm);
    f->name = own_str(fs, nm);
    f->path = own(fs, path);
    f->depth = ar->depth + 1;
    f->parent = (int)aidx;
    f->part = ar->part;
    f->flags = FILE_MEMBER;
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0)
        f->size = (uint64_t)archive_entry_size(e);

    /* A bomb by what it declares, before a byte is expanded. */
    /* The ratio first: a bomb is named a bomb even when it also exceeds the total. */
    if (lim->max_ratio > 0 && *arch_expanded + f->size > RATIO_FLOOR &&
        (double)(*arch_expanded + f->size) > lim->max_ratio * (double)ar->len) {
        note(fs, WALK_RATIO, "%.150s: declares %llu bytes, more than %g times its %zu bytes",
             fs->v[aidx].path, (unsigned long long)f->size, lim->max_ratio, fs->v[aidx].len);
        fs->v[aidx].flags |= FILE_BOMB;
        f->flags |= FILE_NOT_EXTRACTED;
        return false;
    }
    if (lim->max_total && fs->expanded + f->size > lim->max_total) {
        note(fs, WALK_TOO_BIG, "%.150s: declares %llu bytes, more than the %llu allowed in all",
             path, (unsigned long long)f->size, (unsigned long long)lim->max_total);
        f->flags |= FILE_NOT_EXTRACTED;
        fs->priv->stop = true;
        return false;
    }

    bool encrypted = archive_entry_is_encrypted(e);
    read_result r = read_member(w, a, aidx, m, arch_expanded);
    f = &fs->v[m];
    if (r == READ_ERROR && (encrypted || says_encrypted(a)) && !f->data) {
        f->flags |= FILE_ENCRYPTED;
        fs->v[aidx].flags |= FILE_ENCRYPTED;
        note(fs, WALK_ENCRYPTED, "%.200s: encrypted", path);
        return true;
    }
    if (r == READ_ERROR) {
        const char *err = archive_error_string(a);
        f->flags |= FILE_TRUNCATED;
        fs->v[aidx].flags |= FILE_TRUNCATED;
        note(fs, WALK_DAMAGED, "%.150s: damaged (%.80s)", path, err ? err : "read error");
        return true; /* the next header says whether the reader can go on */
    }
    if (r != READ_OK)
        return false;
    if (encrypted) {
        f->flags |= FILE_DECRYPTED;
        fs->v[aidx].flags |= FILE_DECRYPTED;
    }
    walk_file(w, m);
    return !fs->priv->stop;
}

/* The header loop of one opened archive. */
static void walk_entries(walker *w, struct archive *a, size_t aidx, bool single, int r,
                         struct archive_entry *e)
{
    file_set *fs = w->fs;
    const walk_limits *lim = w->lim;
    uint64_t arch_expanded = 0;
    for (int retries = 0; r != ARCHIVE_EOF;) {
        if (r == ARCHIVE_RETRY && ++retries < 3) {
            r = archive_read_next_header(a, &e);
            continue;
        }
        if (r < ARCHIVE_WARN) {
            const char *path = fs->v[aidx].path;
            const char *err = archive_error_string(a);
            if (says_encrypted(a)) {
                fs->v[aidx].flags |= FILE_ENCRYPTED;
                note(fs, WALK_ENCRYPTED, "%.200s: encrypted", path);
            } else {
                fs->v[aidx].flags |= FILE_TRUNCATED;
                note(fs, WALK_DAMAGED, "%.150s: damaged (%.80s)", path, err ? err : "");
            }
            return;
        }
        if (timed_out(w, fs->v[aidx].path))
            return;
        if (lim->max_entries && ++fs->priv->entries > lim->max_entries) {
            note(fs, WALK_TOO_MANY, "%.150s: more than %zu archive members in all",
                 fs->v[aidx].path, lim->max_entries);
            fs->priv->stop = true;
            return;
        }
        mode_t ft = archive_entry_filetype(e);
        if (single || ft == AE_IFREG || ft == 0) { /* 0: ar and others give no type */
            char *name;
            if (single) {
                name =
                    stream_member_name(fs->v[aidx].name[0] ? fs->v[aidx].name : fs->v[aidx].path);
            } else {
                const char *pn = archive_entry_pathname(e);
                if (!pn)
                    pn = archive_entry_pathname_utf8(e);
                name = xstrdup(pn && *pn ? pn : "?");
            }
            bool go_on = take_member(w, a, e, aidx, name, &arch_expanded);
            free(name);
            if (!go_on || single)
                return;
        }
        r = archive_read_next_header(a, &e);
    }
}

/* Opens file idx if it is an archive or a compressed stream and walks its members. */
static void walk_file(walker *w, size_t idx)
{
    file_set *fs = w->fs;
    const walk_limits *lim = w->lim;
    if (!lim->max_depth || fs->priv->stop)
        return;
    const scan_file *f = &fs->v[idx];
    if (!f->data || !f->len || strncmp(f->detected_type, "text/", 5) == 0)
        return;
    const uint8_t *data = f->data;
    size_t len = f->len;
    const strlist *pw = fs->priv->pw.n ? &fs->priv->pw : NULL;

    bool single = false, damaged;
    char err[128];
    struct archive_entry *e = NULL;
    struct archive *a = reader_new(data, len, false, pw, &damaged, err, sizeof err);
    int r = a ? archive_read_next_header(a, &e) : ARCHIVE_FATAL;
    bool filtered = a && archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE;
    if ((!a && !damaged) || (a && r == ARCHIVE_EOF && filtered)) {
        /* Not an archive (or a compressed empty tar: zeros); perhaps one compressed
         * file: the raw format takes anything, so only a filter can fail here. */
        if (a)
            archive_read_free(a);
        a = reader_new(data, len, true, NULL, &damaged, err, sizeof err);
        r = a ? archive_read_next_header(a, &e) : ARCHIVE_FATAL;
        if (a && (archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE ||
                  (r < ARCHIVE_WARN && r != ARCHIVE_EOF))) {
            archive_read_free(a);
            return;
        }
        single = true;
    } else if (a && r == ARCHIVE_EOF) {
        archive_read_free(a); /* an empty archive: nothing to list */
        return;
    }
    if (!a && !damaged)
        return;
    if (fs->v[idx].depth >= lim->max_depth) {
        fs->v[idx].flags |= FILE_TOO_DEEP;
        note(fs, WALK_TOO_DEEP, "%.150s: an archive nested deeper than %zu levels, not opened",
             fs->v[idx].path, lim->max_depth);
        if (a)
            archive_read_free(a);
        return;
    }
    fs->v[idx].flags |= FILE_ARCHIVE;
    if (!a) { /* a compression filter knew the bytes and failed on them */
        fs->v[idx].flags |= FILE_TRUNCATED;
        note(fs, WALK_DAMAGED, "%.150s: damaged (%.80s)", fs->v[idx].path, err);
        return;
    }
    walk_entries(w, a, idx, single, r, e);
    archive_read_free(a);
}

static void walk_start(walker *w)
{
    struct files_priv *pr = w->fs->priv;
    if (!pr->started) {
        pr->started = true;
        pr->start = mono_ms();
    }
    if (!pr->pw_ready) {
        pr->pw_ready = true;
        if (w->lim->try_passwords && w->text && w->lim->max_passwords)
            find_passwords(w->text, w->lim->max_passwords, &pr->pw);
    }
}

void files_walk_buffer(file_set *fs, const uint8_t *data, size_t len, const char *name,
                       const walk_limits *lim, const char *text)
{
    if (!fs->priv)
        fs->priv = xcalloc(1, sizeof *fs->priv);
    walker w = {fs, lim, text};
    walk_start(&w);
    size_t i = add_file(fs);
    scan_file *f = &fs->v[i];
    f->name = own_str(fs, name);
    f->path = (name && *name) ? f->name : own(fs, xasprintf("part %zu", i + 1));
    f->data = len ? data : NULL;
    f->len = len;
    f->size = len;
    char type[TYPE_LEN];
    f->detected_type = own_str(fs, filetype_detect(data, len, type, sizeof type));
    walk_file(&w, i);
}

file_set *files_walk(const struct msg_model *m, const walk_limits *lim, const char *text)
{
    file_set *fs = files_new();
    walker w = {fs, lim, text};
    walk_start(&w);
    const msg_part *parts;
    size_t n = msg_parts(m, &parts);
    for (size_t i = 0; i < n; i++) {
        size_t k = add_file(fs);
        scan_file *f = &fs->v[k];
        const msg_part *p = &parts[i];
        f->name = own_str(fs, p->filename);
        f->path = *f->name ? f->name : own(fs, xasprintf("part %zu", i + 1));
        f->declared_type = own_str(fs, p->content_type);
        f->detected_type = own_str(fs, p->detected_type);
        f->data = p->len ? p->data : NULL;
        f->len = p->len;
        f->size = p->len;
        f->part = (unsigned)i;
        f->flags = p->attachment ? FILE_ATTACHMENT : 0;
        walk_file(&w, k);
    }
    return fs;
}
