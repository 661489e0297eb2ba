/* attachments.c - attachment policy by file name extension.
 *
 * Walks the leaf parts of the MIME model (node/message.c) and compares the final
 * extension of each part's file name (decoded from RFC 2231/2047, lower-cased, with
 * the trailing dots and spaces Windows ignores removed) with the blocked list
 * check.attachments.block. A hit adds ATTACHMENT_BLOCKED and forces
 * check.attachments.action (reject by default). The true-type, archive and double-
 * extension checks of the content milestone build on the same model. */
#include "checks.h"
#include "message.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXT 32

typedef struct {
    char **ext;
    size_t n;
    Bulwark__Action action;
    bool force;
} attach_state;

static const symbol_def attach_symbols[] = {
    {"ATTACHMENT_BLOCKED", 6.0, "An attachment's file name has a blocked extension"},
    {NULL, 0, NULL},
};

static void attach_free(void *state)
{
    attach_state *s = state;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->ext[i]);
    free(s->ext);
    free(s);
}

static bool attach_init(const params *cfg, void **state, char *err, size_t errlen)
{
    attach_state *s = xcalloc(1, sizeof *s);
    char *list = xstrdup(params_str(cfg, "check.attachments.block"));
    char *save = NULL;
    for (char *e = strtok_r(list, ", \t", &save); e; e = strtok_r(NULL, ", \t", &save)) {
        if (*e == '.')
            e++;
        if (!*e)
            continue;
        if (strlen(e) > MAX_EXT) {
            snprintf(err, errlen, "check.attachments.block: extension '%.40s' is too long", e);
            free(list);
            attach_free(s);
            return false;
        }
        s->ext = xrealloc(s->ext, (s->n + 1) * sizeof *s->ext);
        char *x = xstrdup(e);
        for (char *p = x; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        s->ext[s->n++] = x;
    }
    free(list);
    const char *a = params_str(cfg, "check.attachments.action");
    s->force = strcmp(a, "none") != 0 && action_parse(a, &s->action);
    *state = s;
    return true;
}

/* The final extension of `name`, lower case, into out; false if there is none. */
static bool extension(const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
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
    return true;
}

static void attach_run(scan_task *t, const void *state)
{
    const attach_state *s = state;
    const msg_part *parts;
    size_t n = msg_parts(task_message(t), &parts);
    for (size_t i = 0; i < n; i++) {
        char ext[MAX_EXT + 1];
        if (!*parts[i].filename || !extension(parts[i].filename, ext, sizeof ext))
            continue;
        for (size_t j = 0; j < s->n; j++) {
            if (strcmp(ext, s->ext[j]) != 0)
                continue;
            task_symbol(t, "ATTACHMENT_BLOCKED", "'%.200s' (%s): .%s is blocked", parts[i].filename,
                        parts[i].content_type, ext);
            if (s->force) {
                char reason[300];
                snprintf(reason, sizeof reason, "blocked attachment: %.200s", parts[i].filename);
                task_force(t, s->action, reason);
            }
            return; /* one is enough to decide; the first is the one reported */
        }
    }
}

const check_def check_attachments = {
    .name = "attachments",
    .symbols = attach_symbols,
    .init = attach_init,
    .run = attach_run,
    .free = attach_free,
};
