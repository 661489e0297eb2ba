/* attachments.c - the attachment policy, applied to every file of the message.
 *
 * Reads the file list of the task (node/files.h): the MIME leaf parts and the members
 * of archives, however deep the walk went. Each file that is a file (it has a name, is
 * marked attachment, is an archive member, or is not text) is judged by
 *   - its name: the final extension (lower case, trailing dots and spaces removed, as
 *     Windows does) against check.attachments.block, unless check.attachments.allow
 *     lists it; a document extension followed by an executable one ("invoice.pdf.exe");
 *     bidirectional-override, zero-width and control characters that make a name read
 *     differently from what it is ("invoice<RLO>fdp.exe" shows as "invoiceexe.pdf");
 *   - its true type (libmagic on the bytes, whatever the name and the declared type
 *     say) against check.attachments.block_types, unless allow_types lists it; and a
 *     name or declared type that claims something else than the bytes are;
 *   - and, for the MIME attachments, size and count limits.
 * A blocked name or type forces check.attachments.action; a limit forces limit_action.
 * One symbol per kind and message; its detail names the first file and the count. */
#include "checks.h"
#include "filetype.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXT 32

typedef struct {
    strlist block, allow, block_types, allow_types;
    Bulwark__Action action, limit_action;
    bool force, limit_force;
    uint64_t max_size;
    size_t max_count;
} attach_state;

static const symbol_def attach_symbols[] = {
    {"ATTACHMENT_BLOCKED", 6.0, "A file's name has a blocked extension (check.attachments.block)"},
    {"ATTACHMENT_BLOCKED_TYPE", 6.0,
     "A file's content is of a blocked type, whatever its name says "
     "(check.attachments.block_types)"},
    {"ATTACHMENT_TYPE_MISMATCH", 1.5,
     "A file's name or declared type claims another type than its content is"},
    {"ATTACHMENT_EXEC_DISGUISED", 6.0,
     "Executable content under the name or declared type of a harmless file"},
    {"ATTACHMENT_DOUBLE_EXT", 4.0,
     "A document extension followed by an executable one (invoice.pdf.exe)"},
    {"ATTACHMENT_NAME_OBFUSCATED", 5.0,
     "A file name with bidirectional-override, zero-width or control characters"},
    {"ATTACHMENT_TOO_BIG", 1.0, "An attachment is larger than check.attachments.max_size"},
    {"ATTACHMENT_TOO_MANY", 1.0, "More attachments than check.attachments.max_count"},
    {NULL, 0, NULL},
};

static void attach_free(void *state)
{
    attach_state *s = state;
    if (!s)
        return;
    strlist_free(&s->block);
    strlist_free(&s->allow);
    strlist_free(&s->block_types);
    strlist_free(&s->allow_types);
    free(s);
}

/* A list parameter; false (with err) on an absurd item. */
static bool parse_list(const params *cfg, const char *key, size_t maxlen, strlist *out, char *err,
                       size_t errlen)
{
    check_param_list(cfg, key, out);
    for (size_t i = 0; i < out->n; i++) {
        if (strlen(out->v[i]) > maxlen) {
            snprintf(err, errlen, "%s: '%.40s' is too long", key, out->v[i]);
            return false;
        }
    }
    return true;
}

static bool attach_init(const params *cfg, void **state, char *err, size_t errlen)
{
    attach_state *s = xcalloc(1, sizeof *s);
    if (!parse_list(cfg, "check.attachments.block", MAX_EXT, &s->block, err, errlen) ||
        !parse_list(cfg, "check.attachments.allow", MAX_EXT, &s->allow, err, errlen) ||
        !parse_list(cfg, "check.attachments.block_types", 127, &s->block_types, err, errlen) ||
        !parse_list(cfg, "check.attachments.allow_types", 127, &s->allow_types, err, errlen)) {
        attach_free(s);
        return false;
    }
    s->force = check_param_action(cfg, "check.attachments.action", &s->action);
    s->limit_force = check_param_action(cfg, "check.attachments.limit_action", &s->limit_action);
    s->max_size = (uint64_t)params_int(cfg, "check.attachments.max_size");
    s->max_count = (size_t)params_int(cfg, "check.attachments.max_count");
    *state = s;
    return true;
}

static bool listed(const strlist *l, const char *v)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], v) == 0)
            return true;
    return false;
}

/* The extension before position `end` of name (exclusive), lower case, into out;
 * `*start` gets the index of its dot. Trailing dots and spaces are skipped, as Windows
 * ignores them. False if there is none. */
static bool extension_before(const char *name, size_t end, char *out, size_t outlen, size_t *start)
{
    size_t n = end;
    while (n && (name[n - 1] == '.' || name[n - 1] == ' '))
        n--;
    size_t dot = n;
    while (dot && name[dot - 1] != '.' && name[dot - 1] != '/' && name[dot - 1] != '\\')
        dot--;
    if (!dot || name[dot - 1] != '.' || dot == n || n - dot >= outlen)
        return false;
    for (size_t i = dot; i < n; i++)
        out[i - dot] = (char)tolower((unsigned char)name[i]);
    out[n - dot] = '\0';
    if (start)
        *start = dot - 1;
    return true;
}

/* Extensions of files people open without a second thought, and what libmagic says
 * their content is. A name with one of these and executable content is disguised. */
static const struct {
    const char *ext;
    const char *types; /* '|'-separated prefixes of acceptable detected types */
} harmless[] = {
    {"pdf", "application/pdf"},
    {"doc", "application/msword|application/vnd.ms-|application/x-ole-storage|application/cdfv2"},
    {"xls", "application/vnd.ms-|application/msword|application/x-ole-storage|application/cdfv2"},
    {"ppt", "application/vnd.ms-|application/msword|application/x-ole-storage|application/cdfv2"},
    {"docx", "application/vnd.openxmlformats|application/zip|application/octet-stream"},
    {"xlsx", "application/vnd.openxmlformats|application/zip|application/octet-stream"},
    {"pptx", "application/vnd.openxmlformats|application/zip|application/octet-stream"},
    {"docm", "application/vnd.|application/zip|application/octet-stream"},
    {"xlsm", "application/vnd.|application/zip|application/octet-stream"},
    {"odt", "application/vnd.oasis|application/zip"},
    {"rtf", "text/rtf|application/rtf|text/plain"},
    {"txt", "text/|application/octet-stream|inode/x-empty"},
    {"csv", "text/|application/csv|application/octet-stream"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"png", "image/png"},
    {"gif", "image/gif"},
    {"bmp", "image/bmp|image/x-ms-bmp"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"zip", "application/zip"},
    {"htm", "text/html|text/xml|text/plain"},
    {"html", "text/html|text/xml|text/plain"},
    {"mp3", "audio/"},
    {"wav", "audio/"},
    {"mp4", "video/|audio/"},
    {"ics", "text/"},
    {"eml", "message/|text/"},
};

static const char *harmless_types(const char *ext)
{
    for (size_t i = 0; i < sizeof harmless / sizeof harmless[0]; i++)
        if (strcmp(harmless[i].ext, ext) == 0)
            return harmless[i].types;
    return NULL;
}

static bool type_matches(const char *types, const char *detected)
{
    const char *p = types;
    while (*p) {
        size_t n = strcspn(p, "|");
        if (strncmp(detected, p, n) == 0)
            return true;
        p += n;
        if (*p == '|')
            p++;
    }
    return false;
}

/* Characters that make a file name display differently from what it is: bidi
 * embeddings/overrides/isolates, marks, zero-width characters, C0/C1 controls. */
static const char *obfuscation(const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return "control character";
        if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return "C1 control character";
        if (p[0] == 0xe2 && p[1] == 0x80) {
            unsigned c = p[2];
            if (c == 0xae)
                return "right-to-left override (U+202E)";
            if (c >= 0xaa && c <= 0xad)
                return "bidirectional embedding (U+202A-U+202D)";
            if (c == 0x8e || c == 0x8f)
                return "bidirectional mark (U+200E/U+200F)";
            if (c >= 0x8b && c <= 0x8d)
                return "zero-width character";
        }
        if (p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)
            return "bidirectional isolate (U+2066-U+2069)";
        if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
            return "zero-width no-break space";
    }
    return NULL;
}

/* Is this entry of the file list a file a person would open (not the message text)? */
static bool is_file(const scan_file *f)
{
    if (f->depth > 0 || (f->flags & FILE_ATTACHMENT) || *f->name)
        return true;
    const char *d = f->declared_type;
    return *d && strncmp(d, "text/", 5) != 0 && strncmp(d, "multipart/", 10) != 0 &&
           strncmp(d, "message/", 8) != 0;
}

typedef struct {
    const char *name;
    const scan_file *first;
    char detail[400];
    size_t count;
} finding;

enum { F_EXT, F_TYPE, F_MISMATCH, F_DISGUISED, F_DOUBLE, F_OBFUSCATED, F_N };
static const char *const finding_symbol[F_N] = {
    "ATTACHMENT_BLOCKED",        "ATTACHMENT_BLOCKED_TYPE", "ATTACHMENT_TYPE_MISMATCH",
    "ATTACHMENT_EXEC_DISGUISED", "ATTACHMENT_DOUBLE_EXT",   "ATTACHMENT_NAME_OBFUSCATED",
};

static void note(finding *fd, const scan_file *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(finding *fd, const scan_file *f, const char *fmt, ...)
{
    if (fd->count++)
        return;
    fd->first = f;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fd->detail, sizeof fd->detail, fmt, ap);
    va_end(ap);
}

static void judge(const attach_state *s, const scan_file *f, finding *fd)
{
    const char *name = f->name;
    const char *where = *f->path ? f->path : name;
    char ext[MAX_EXT + 1] = "";
    size_t dot = 0;
    bool has_ext = *name && extension_before(name, strlen(name), ext, sizeof ext, &dot);

    if (has_ext && listed(&s->block, ext) && !listed(&s->allow, ext))
        note(&fd[F_EXT], f, "'%.200s' (%s): .%s is blocked", where,
             *f->detected_type ? f->detected_type : f->declared_type, ext);

    const char *det = f->detected_type;
    if (*det && listed(&s->block_types, det) && !listed(&s->allow_types, det))
        note(&fd[F_TYPE], f, "'%.200s' is %s", *where ? where : "(unnamed part)", det);

    if (*det && has_ext) {
        const char *want = harmless_types(ext);
        if (want && filetype_is_executable(det))
            note(&fd[F_DISGUISED], f, "'%.200s' is named .%s but is %s", where, ext, det);
        else if (want && !type_matches(want, det) && strcmp(det, "application/octet-stream") != 0)
            note(&fd[F_MISMATCH], f, "'%.200s' is named .%s but is %s", where, ext, det);
    }
    if (*det && f->depth == 0 && filetype_is_executable(det) && *f->declared_type &&
        !filetype_is_executable(f->declared_type) &&
        strcmp(f->declared_type, "application/octet-stream") != 0 &&
        (!has_ext || harmless_types(ext)))
        note(&fd[F_DISGUISED], f, "'%.200s' is declared %s but is %s",
             *where ? where : "(unnamed part)", f->declared_type, det);

    if (has_ext && dot) {
        char inner[MAX_EXT + 1];
        size_t end = dot;
        /* "invoice.pdf      .exe": the padding hides the real extension in listings */
        while (end && name[end - 1] == ' ')
            end--;
        if (extension_before(name, end, inner, sizeof inner, NULL) && harmless_types(inner) &&
            (listed(&s->block, ext) || filetype_is_executable(det)))
            note(&fd[F_DOUBLE], f, "'%.200s': .%s.%s", where, inner, ext);
    }
    const char *why = obfuscation(name);
    if (why)
        note(&fd[F_OBFUSCATED], f, "'%.200s': %s in the name", where, why);
}

static void attach_run(scan_task *t, const void *state)
{
    const attach_state *s = state;
    const file_set *fs = task_files(t);
    finding fd[F_N] = {0};
    size_t count = 0;
    const scan_file *big = NULL;

    for (size_t i = 0; i < fs->n; i++) {
        const scan_file *f = &fs->v[i];
        if (!is_file(f))
            continue;
        judge(s, f, fd);
        if (f->depth == 0) {
            count++;
            if (s->max_size && f->size > s->max_size && !big)
                big = f;
        }
    }

    bool blocked = false;
    for (int k = 0; k < F_N; k++) {
        if (!fd[k].count)
            continue;
        if (fd[k].count > 1)
            task_symbol(t, finding_symbol[k], "%s (and %zu more)", fd[k].detail, fd[k].count - 1);
        else
            task_symbol(t, finding_symbol[k], "%s", fd[k].detail);
        blocked |= k == F_EXT || k == F_TYPE || k == F_DISGUISED;
    }
    if (blocked && s->force) {
        const finding *b = fd[F_EXT].count    ? &fd[F_EXT]
                           : fd[F_TYPE].count ? &fd[F_TYPE]
                                              : &fd[F_DISGUISED];
        char reason[300];
        snprintf(reason, sizeof reason, "blocked attachment: %.200s",
                 *b->first->path ? b->first->path : "(unnamed part)");
        task_force(t, s->action, reason);
    }

    bool over = false;
    if (big) {
        task_symbol(t, "ATTACHMENT_TOO_BIG", "'%.200s' is %llu bytes (limit %llu)", big->path,
                    (unsigned long long)big->size, (unsigned long long)s->max_size);
        over = true;
    }
    if (s->max_count && count > s->max_count) {
        task_symbol(t, "ATTACHMENT_TOO_MANY", "%zu attachments (limit %zu)", count, s->max_count);
        over = true;
    }
    if (over && s->limit_force)
        task_force(t, s->limit_action, "attachment limits exceeded");
}

const check_def check_attachments = {
    .name = "attachments",
    .symbols = attach_symbols,
    .init = attach_init,
    .run = attach_run,
    .free = attach_free,
};
