/* office.c - macros in Office documents and active content in PDFs.
 *
 * Every file of the message with bytes (task_files(): attachments and archive members
 * alike) goes through office_scan() (node/office.c). An OOXML document is inspected
 * whole there (its vbaProject.bin and embeddings included), so the OLE2 members the
 * archive walk listed under an OOXML parent are skipped rather than reported twice.
 * Each finding is one symbol per message, its detail naming the first file (and the
 * part inside it) and what was found, with a count when several files have it.
 * A macro may force check.office.macro_action, a macro that runs on open
 * check.office.autoexec_action (quarantine by default). */
#include "office.h"
#include "checks.h"
#include "files.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Bulwark__Action macro, autoexec;
    bool force_macro, force_autoexec;
} office_state;

static const symbol_def office_symbols[] = {
    {"OFFICE_MACRO", 4.0, "An Office document contains macros (VBA or Excel 4)"},
    {"OFFICE_AUTOEXEC", 6.0, "An Office macro runs by itself on open or close (AutoOpen...)"},
    {"OFFICE_SUSPICIOUS_CALL", 2.0,
     "An Office macro calls Shell, CreateObject, URLDownloadToFile, PowerShell..."},
    {"OFFICE_XLM_MACRO", 2.0, "An Excel 4 (XLM) macro sheet, a common malware carrier"},
    {"OFFICE_EMBEDDED_EXE", 6.0, "An Office document embeds a Windows executable"},
    {"OFFICE_BROKEN", 0.5, "An Office file that does not parse (damaged or crafted)"},
    {"PDF_JAVASCRIPT", 4.0, "A PDF contains JavaScript"},
    {"PDF_OPENACTION", 1.0, "A PDF acts by itself when opened (/OpenAction, /AA)"},
    {"PDF_LAUNCH", 6.0, "A PDF launches a program (/Launch)"},
    {"PDF_EMBEDDED_FILE", 1.0, "A PDF carries embedded files"},
    {"PDF_EMBEDDED_EXE", 8.0, "A PDF carries an embedded Windows executable"},
    {"PDF_OBFUSCATED_NAME", 3.0, "A PDF hides an active-content key with #xx escapes"},
    {"PDF_SUBMITFORM", 1.0, "A PDF form submits its data to a URL"},
    {"PDF_RICHMEDIA", 1.0, "A PDF contains RichMedia (Flash) content"},
    {NULL, 0, NULL},
};

enum {
    H_MACRO,
    H_AUTOEXEC,
    H_CALL,
    H_XLM,
    H_EXE,
    H_BROKEN,
    H_JS,
    H_OPEN,
    H_LAUNCH,
    H_EMBED,
    H_PDFEXE,
    H_OBF,
    H_SUBMIT,
    H_RICH,
    H_N
};

_Static_assert(sizeof office_symbols / sizeof *office_symbols == H_N + 1,
               "one hit per symbol, in the same order");

typedef struct {
    unsigned count;
    char detail[400];
} hit;

static void hit_add(hit *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hit_add(hit *h, const char *fmt, ...)
{
    if (h->count++)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->detail, sizeof h->detail, fmt, ap);
    va_end(ap);
}

static bool office_init(const params *cfg, void **state, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    office_state *s = xcalloc(1, sizeof *s);
    s->force_macro = check_param_action(cfg, "check.office.macro_action", &s->macro);
    s->force_autoexec = check_param_action(cfg, "check.office.autoexec_action", &s->autoexec);
    *state = s;
    return true;
}

static void office_free(void *state)
{
    free(state);
}

static void record(hit *h, const scan_file *f, const office_report *r)
{
    char at[300];
    if (r->where[0])
        snprintf(at, sizeof at, "%.150s (%.120s)", f->path, r->where);
    else
        snprintf(at, sizeof at, "%.250s", f->path);
    unsigned fl = r->flags;
    if (fl & OFFICE_F_MACRO)
        hit_add(&h[H_MACRO], "%s: %s", at,
                fl & OFFICE_F_XLM ? "Excel 4 macro sheet" : "VBA macros");
    if (fl & OFFICE_F_AUTOEXEC)
        hit_add(&h[H_AUTOEXEC], "%s: %s", at, r->autoexec);
    if (fl & OFFICE_F_SUSPICIOUS)
        hit_add(&h[H_CALL], "%s: %s", at, r->calls);
    if (fl & OFFICE_F_XLM)
        hit_add(&h[H_XLM], "%s", at);
    if (fl & OFFICE_F_EMBEDDED_EXE)
        hit_add(&h[H_EXE], "%s: embedded executable", at);
    if (fl & OFFICE_F_BROKEN)
        hit_add(&h[H_BROKEN], "%s does not parse", at);
    if (fl & PDF_F_JAVASCRIPT)
        hit_add(&h[H_JS], "%s: /JavaScript", at);
    if (fl & PDF_F_OPENACTION)
        hit_add(&h[H_OPEN], "%s: /OpenAction or /AA", at);
    if (fl & PDF_F_LAUNCH)
        hit_add(&h[H_LAUNCH], "%s: /Launch", at);
    if (fl & PDF_F_EMBEDDED_FILE)
        hit_add(&h[H_EMBED], "%s: /EmbeddedFile", at);
    if (fl & PDF_F_EMBEDDED_EXE)
        hit_add(&h[H_PDFEXE], "%s: embedded executable", at);
    if (fl & PDF_F_OBFUSCATED)
        hit_add(&h[H_OBF], "%s: names written with #xx escapes", at);
    if (fl & PDF_F_SUBMITFORM)
        hit_add(&h[H_SUBMIT], "%s: /SubmitForm", at);
    if (fl & PDF_F_RICHMEDIA)
        hit_add(&h[H_RICH], "%s: /RichMedia", at);
}

static void office_run(scan_task *t, const void *state)
{
    const office_state *s = state;
    const file_set *fs = task_files(t);
    if (!fs->n)
        return;
    office_kind *kind = xcalloc(fs->n, sizeof *kind);
    hit h[H_N];
    memset(h, 0, sizeof h);
    for (size_t i = 0; i < fs->n; i++) {
        const scan_file *f = &fs->v[i];
        if (!f->data)
            continue;
        if (f->parent >= 0 && kind[f->parent] == OFFICE_KIND_OOXML &&
            office_kind_of(f->data, f->len, f->detected_type) == OFFICE_KIND_OLE2)
            continue; /* seen with its document */
        office_report r;
        if (office_scan(f->data, f->len, f->detected_type, &r))
            record(h, f, &r);
        kind[i] = r.kind;
    }
    free(kind);
    for (int i = 0; i < H_N; i++) {
        if (!h[i].count)
            continue;
        const char *name = office_symbols[i].name;
        if (h[i].count > 1)
            task_symbol(t, name, "%s (and %u more)", h[i].detail, h[i].count - 1);
        else
            task_symbol(t, name, "%s", h[i].detail);
    }
    char reason[300];
    if (h[H_MACRO].count && s->force_macro) {
        snprintf(reason, sizeof reason, "Office macro: %.250s", h[H_MACRO].detail);
        task_force(t, s->macro, reason);
    }
    if (h[H_AUTOEXEC].count && s->force_autoexec) {
        snprintf(reason, sizeof reason, "Office macro that runs on open: %.200s",
                 h[H_AUTOEXEC].detail);
        task_force(t, s->autoexec, reason);
    }
}

const check_def check_office = {
    .name = "office",
    .symbols = office_symbols,
    .init = office_init,
    .run = office_run,
    .free = office_free,
};
