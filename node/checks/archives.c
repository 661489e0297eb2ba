/* archives.c - what the archive walk could not open, or opened only at a cost.
 *
 * Reads the file list (task_files(), node/files.c) and turns the walk's flags into
 * symbols: an encrypted archive that stayed closed (ARCHIVE_ENCRYPTED, forced
 * check.archives.encrypted_action), a bomb (ARCHIVE_BOMB) and any other limit that
 * stopped the walk (ARCHIVE_LIMIT), both forced check.archives.limit_action because a
 * message whose archives were not seen in full must not pass on its score alone
 * (fail-closed); damaged archives, archives opened with a password from the message
 * and deep nesting add small scores. The members themselves are judged by the
 * attachments, office and clamav checks. One symbol of each kind per message, its
 * detail naming the first file concerned. */
#include "checks.h"
#include "files.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NESTED_DEPTH 3 /* archives at least this deep inside others: ARCHIVE_NESTED */

typedef struct {
    Bulwark__Action limit, encrypted;
    bool force_limit, force_encrypted;
    double max_ratio;
} archives_state;

static const symbol_def archives_symbols[] = {
    {"ARCHIVE_ENCRYPTED", 4.0, "An encrypted archive or member could not be opened"},
    {"ARCHIVE_BOMB", 8.0, "An archive expands more than check.archives.max_ratio times (zip bomb)"},
    {"ARCHIVE_LIMIT", 3.0,
     "The archive walk stopped at a limit (bytes, members, nesting, time): not all was seen"},
    {"ARCHIVE_DAMAGED", 1.0, "An archive is damaged or cut short"},
    {"ARCHIVE_DECRYPTED", 0.5, "An encrypted archive was opened with a password from the message"},
    {"ARCHIVE_NESTED", 0.5, "Archives nested inside archives, three or more deep"},
    {NULL, 0, NULL},
};

static bool archives_init(const params *cfg, void **state, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    archives_state *s = xcalloc(1, sizeof *s);
    s->force_limit = check_param_action(cfg, "check.archives.limit_action", &s->limit);
    s->force_encrypted = check_param_action(cfg, "check.archives.encrypted_action", &s->encrypted);
    s->max_ratio = params_double(cfg, "check.archives.max_ratio");
    *state = s;
    return true;
}

static void archives_free(void *state)
{
    free(state);
}

/* The first file with all of `flags`, and how many there are. */
static const scan_file *first_with(const file_set *fs, unsigned flags, size_t *count)
{
    const scan_file *first = NULL;
    *count = 0;
    for (size_t i = 0; i < fs->n; i++) {
        if ((fs->v[i].flags & flags) != flags)
            continue;
        if (!first)
            first = &fs->v[i];
        (*count)++;
    }
    return first;
}

static void force(scan_task *t, bool on, Bulwark__Action a, const char *what, const char *path)
{
    if (!on)
        return;
    char reason[300];
    snprintf(reason, sizeof reason, "%s: %.200s", what, path);
    task_force(t, a, reason);
}

static void limits_text(unsigned f, char *out, size_t n)
{
    snprintf(out, n, "%s%s%s%s", f & WALK_TOO_BIG ? " size" : "",
             f & WALK_TOO_MANY ? " members" : "", f & WALK_TOO_DEEP ? " depth" : "",
             f & WALK_TIMEOUT ? " time" : "");
}

static void archives_run(scan_task *t, const void *state)
{
    const archives_state *s = state;
    const file_set *fs = task_files(t);
    size_t n;
    const scan_file *f;

    if (fs->flags & WALK_ENCRYPTED) {
        /* members first: they carry the inner name an administrator recognises */
        f = first_with(fs, FILE_ENCRYPTED | FILE_MEMBER, &n);
        if (!f)
            f = first_with(fs, FILE_ENCRYPTED, &n);
        const char *path = f ? f->path : "?";
        task_symbol(t, "ARCHIVE_ENCRYPTED", "%.200s is encrypted (%zu encrypted file%s)", path, n,
                    n == 1 ? "" : "s");
        force(t, s->force_encrypted, s->encrypted, "encrypted archive", path);
    }
    if (fs->flags & WALK_RATIO) {
        f = first_with(fs, FILE_BOMB, &n);
        const char *path = f ? f->path : "?";
        task_symbol(t, "ARCHIVE_BOMB", "%.200s expands more than %g times its size", path,
                    s->max_ratio);
        force(t, s->force_limit, s->limit, "archive bomb", path);
    }
    unsigned lim = fs->flags & (WALK_TOO_BIG | WALK_TOO_MANY | WALK_TOO_DEEP | WALK_TIMEOUT);
    if (lim) {
        char which[64];
        limits_text(lim, which, sizeof which);
        task_symbol(t, "ARCHIVE_LIMIT", "limit:%s; %.200s", which, fs->detail);
        force(t, s->force_limit, s->limit, "archives not fully inspected", fs->detail);
    }
    if (fs->flags & WALK_DAMAGED) {
        f = first_with(fs, FILE_TRUNCATED | FILE_ARCHIVE, &n);
        if (!f)
            f = first_with(fs, FILE_TRUNCATED, &n);
        task_symbol(t, "ARCHIVE_DAMAGED", "%.200s is damaged (%zu file%s)", f ? f->path : "?", n,
                    n == 1 ? "" : "s");
    }
    f = first_with(fs, FILE_DECRYPTED | FILE_ARCHIVE, &n);
    if (f)
        task_symbol(t, "ARCHIVE_DECRYPTED", "%.200s opened with a password from the message text",
                    f->path);
    const scan_file *deep = NULL;
    for (size_t i = 0; i < fs->n; i++)
        if ((fs->v[i].flags & FILE_ARCHIVE) && fs->v[i].depth + 1 >= NESTED_DEPTH &&
            (!deep || fs->v[i].depth > deep->depth))
            deep = &fs->v[i];
    if (deep)
        task_symbol(t, "ARCHIVE_NESTED", "%.200s: an archive %u levels deep", deep->path,
                    deep->depth + 1);
}

const check_def check_archives = {
    .name = "archives",
    .symbols = archives_symbols,
    .init = archives_init,
    .run = archives_run,
    .free = archives_free,
};
