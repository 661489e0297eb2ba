/* mime.c - scores what was wrong with a message's MIME structure.
 *
 * The message model (node/message.c) records each defect as an MSG_ANOM_* flag with
 * a detail naming the part, boundary or charset; this check turns each flag into one
 * MIME_* symbol carrying that detail. Weights are small: broken structure is a hint
 * (spam tools and hand-made phishing produce it, so do a few old mailers), never a
 * verdict on its own, so nothing is forced. MIME_TOO_MANY_PARTS uses its own limit,
 * check.mime.max_parts, below the model's hard MSG_MAX_PARTS. */
#include "checks.h"
#include "message.h"
#include "util.h"

#include <stdlib.h>

static const symbol_def mime_symbols[] = {
    {"MIME_UNPARSABLE", 2.0, "The message does not parse as MIME; it was scanned as raw bytes"},
    {"MIME_NO_BOUNDARY", 2.0, "A multipart has no boundary parameter"},
    {"MIME_MISSING_END", 1.0, "A multipart's closing boundary is missing"},
    {"MIME_BAD_CTE", 1.5,
     "Unknown Content-Transfer-Encoding, or base64/quoted-printable that does not decode "
     "cleanly"},
    {"MIME_BAD_CHARSET", 1.0, "A text part's declared charset is unknown or wrong for its bytes"},
    {"MIME_NO_CHARSET", 0.5, "8-bit text without a declared charset"},
    {"MIME_TOO_MANY_PARTS", 2.0, "More MIME parts than check.mime.max_parts"},
    {"MIME_TOO_DEEP", 3.0, "Multipart nesting deeper than the parser walks"},
    {"MIME_BAD_CONTENT_TYPE", 1.0, "A Content-Type header does not parse"},
    {"MIME_NO_MIME_VERSION", 1.0, "MIME structure without a MIME-Version header"},
    {"MIME_EMPTY_MULTIPART", 1.0, "A multipart holds no parts"},
    {"MIME_PREAMBLE_TEXT", 1.5, "Text hidden before a multipart's first boundary"},
    {NULL, 0, NULL},
};

/* Flag to symbol; MSG_ANOM_TOO_MANY_PARTS is handled with the configured limit. */
static const struct {
    unsigned flag;
    const char *name;
} anom_symbols[] = {
    {MSG_ANOM_UNPARSABLE, "MIME_UNPARSABLE"},
    {MSG_ANOM_NO_BOUNDARY, "MIME_NO_BOUNDARY"},
    {MSG_ANOM_MISSING_END, "MIME_MISSING_END"},
    {MSG_ANOM_BAD_CTE, "MIME_BAD_CTE"},
    {MSG_ANOM_BAD_CHARSET, "MIME_BAD_CHARSET"},
    {MSG_ANOM_NO_CHARSET, "MIME_NO_CHARSET"},
    {MSG_ANOM_TOO_DEEP, "MIME_TOO_DEEP"},
    {MSG_ANOM_BAD_CONTENT_TYPE, "MIME_BAD_CONTENT_TYPE"},
    {MSG_ANOM_NO_MIME_VERSION, "MIME_NO_MIME_VERSION"},
    {MSG_ANOM_EMPTY_MULTIPART, "MIME_EMPTY_MULTIPART"},
    {MSG_ANOM_PREAMBLE_TEXT, "MIME_PREAMBLE_TEXT"},
};

typedef struct {
    size_t max_parts;
} mime_state;

static bool mime_init(const params *cfg, void **state, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    mime_state *s = xcalloc(1, sizeof *s);
    s->max_parts = (size_t)params_int(cfg, "check.mime.max_parts");
    *state = s;
    return true;
}

static void mime_free(void *state)
{
    free(state);
}

static void mime_run(scan_task *t, const void *state)
{
    const mime_state *s = state;
    const msg_model *m = task_message(t);
    unsigned a = msg_anomalies(m);
    for (size_t i = 0; i < sizeof anom_symbols / sizeof *anom_symbols; i++)
        if (a & anom_symbols[i].flag)
            task_symbol(t, anom_symbols[i].name, "%s", msg_anomaly_detail(m, anom_symbols[i].flag));
    size_t n = msg_leaf_count(m);
    if (n > s->max_parts || (a & MSG_ANOM_TOO_MANY_PARTS))
        task_symbol(t, "MIME_TOO_MANY_PARTS", "%zu leaf parts (limit %zu)%s", n, s->max_parts,
                    (a & MSG_ANOM_TOO_MANY_PARTS) ? "; parts beyond the model's cap not scanned"
                                                  : "");
}

const check_def check_mime = {
    .name = "mime",
    .symbols = mime_symbols,
    .init = mime_init,
    .run = mime_run,
    .free = mime_free,
};
