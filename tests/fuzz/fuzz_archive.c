/* fuzz_archive.c - the file walk (libarchive) and the Office/PDF inspection on any bytes.
 *
 * Each input is one attachment: files_walk_buffer() lists it and its members within
 * small limits (depth 3, 8 MiB, 200 members, 2 s), trying two passwords from a fixed
 * text; then office_scan() reads every file that has bytes. Invariants: the outer file
 * first, parents before their members with depth one more, members flagged as such,
 * bytes present exactly when extracted, the budgets kept, report strings terminated. */
#include "files.h"
#include "fuzz.h"
#include "log.h"
#include "office.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_archive");
    log_set_level(LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const walk_limits lim = {.max_depth = 3,
                             .max_total = 8u << 20,
                             .max_ratio = 100,
                             .max_entries = 200,
                             .max_time_ms = 2000,
                             .try_passwords = true,
                             .max_passwords = 2};
    file_set *fs = files_new();
    files_walk_buffer(fs, data, size, "fuzz.bin", &lim, "password: infected\nor \"secret\"");
    FUZZ_ASSERT(fs->n >= 1);
    FUZZ_ASSERT(fs->v[0].parent == -1 && fs->v[0].depth == 0 && fs->v[0].len == size);
    FUZZ_ASSERT(fs->expanded <= lim.max_total + 64 * 1024);
    FUZZ_ASSERT(fs->n <= lim.max_entries + 1);
    FUZZ_ASSERT(memchr(fs->detail, '\0', sizeof fs->detail) != NULL);
    FUZZ_ASSERT(!fs->detail[0] || fs->flags);
    uint64_t sum = 0;
    for (size_t i = 0; i < fs->n; i++) {
        const scan_file *f = &fs->v[i];
        FUZZ_ASSERT(f->name && f->path && f->declared_type && f->detected_type);
        if (i > 0) {
            FUZZ_ASSERT(f->parent >= 0 && (size_t)f->parent < i);
            const scan_file *p = &fs->v[f->parent];
            FUZZ_ASSERT(p->flags & FILE_ARCHIVE);
            FUZZ_ASSERT(f->depth == p->depth + 1 && f->depth <= lim.max_depth);
            FUZZ_ASSERT(f->flags & FILE_MEMBER);
            FUZZ_ASSERT(strncmp(f->path, p->path, strlen(p->path)) == 0);
            sum += f->len;
        }
        if (f->flags & FILE_NOT_EXTRACTED)
            FUZZ_ASSERT(f->data == NULL && f->detected_type[0] == '\0');
        else if (f->len)
            FUZZ_ASSERT(f->data != NULL);
        if ((f->flags & FILE_ARCHIVE) && f->depth >= lim.max_depth)
            FUZZ_ASSERT(0); /* an archive at the limit is never opened */
        if (f->flags & FILE_TOO_DEEP)
            FUZZ_ASSERT(fs->flags & WALK_TOO_DEEP);
        if (f->flags & FILE_BOMB)
            FUZZ_ASSERT(fs->flags & WALK_RATIO);
        if (f->flags & FILE_ENCRYPTED)
            FUZZ_ASSERT(fs->flags & WALK_ENCRYPTED);
        if (f->flags & FILE_TRUNCATED)
            FUZZ_ASSERT(fs->flags & WALK_DAMAGED);
        /* the bytes are readable to the end */
        volatile uint8_t sink = 0;
        if (f->data && f->len)
            sink ^= f->data[f->len - 1];
        (void)sink;

        office_report r;
        bool any = office_scan(f->data, f->len, f->detected_type, &r);
        FUZZ_ASSERT(any == (r.flags != 0 || r.uris != 0));
        FUZZ_ASSERT(r.kind == office_kind_of(f->data, f->len, f->detected_type));
        FUZZ_ASSERT(memchr(r.autoexec, '\0', sizeof r.autoexec) != NULL);
        FUZZ_ASSERT(memchr(r.calls, '\0', sizeof r.calls) != NULL);
        FUZZ_ASSERT(memchr(r.where, '\0', sizeof r.where) != NULL);
        FUZZ_ASSERT(!(r.flags & OFFICE_F_AUTOEXEC) || r.autoexec[0]);
    }
    FUZZ_ASSERT(sum <= fs->expanded);
    files_free(&fs);
    FUZZ_ASSERT(fs == NULL);
    return 0;
}
