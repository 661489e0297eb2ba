/* files.c - (interim: MIME parts only, until the archive walk lands) */
#include "files.h"
#include "message.h"
#include "util.h"

#include <stdlib.h>

file_set *files_walk(const struct msg_model *m, const walk_limits *lim, const char *text)
{
    (void)lim;
    (void)text;
    file_set *fs = xcalloc(1, sizeof *fs);
    const msg_part *parts;
    size_t n = msg_parts(m, &parts);
    fs->v = xcalloc(n ? n : 1, sizeof *fs->v);
    for (size_t i = 0; i < n; i++) {
        scan_file *f = &fs->v[fs->n++];
        f->name = parts[i].filename;
        f->path = parts[i].filename;
        f->declared_type = parts[i].content_type;
        f->detected_type = parts[i].detected_type ? parts[i].detected_type : "";
        f->data = parts[i].data;
        f->len = parts[i].len;
        f->size = parts[i].len;
        f->parent = -1;
        f->part = (unsigned)i;
        f->flags = parts[i].attachment ? FILE_ATTACHMENT : 0;
    }
    return fs;
}

void files_free(file_set **fsp)
{
    file_set *fs = *fsp;
    if (!fs)
        return;
    free(fs->v);
    free(fs);
    *fsp = NULL;
}
