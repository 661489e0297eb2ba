/* rules.c - the rule engine as a check: header, body, URI and meta rules.
 *
 * init builds one compiled rule set per generation (node/rules.h): the starter set
 * built into the binary (check.rules.builtin) and the files of check.rules.files,
 * later files replacing rules of the same name; a bad file refuses the generation
 * with FILE:LINE. The rules' names are registered with the pipeline as dynamic
 * symbols, so `score.NAME` overrides them like any other symbol. run matches every
 * rule once and adds one symbol per hit; metas can read the symbols of checks that
 * ran before this one (size, headers, mime, html, attachments, archives, office). */
#include "rules.h"
#include "checks.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const symbol_def rules_symbols[] = {
    {NULL, 0, NULL},
};

/* A name of another check's static symbol: a meta may read it, a rule may not take it. */
static bool known_symbol(const char *name, void *ctx)
{
    (void)ctx;
    size_t n;
    const check_def *const *checks = pipeline_checks(&n);
    for (size_t i = 0; i < n; i++)
        for (const symbol_def *s = checks[i]->symbols; s->name; s++)
            if (strcmp(s->name, name) == 0)
                return true;
    return false;
}

static bool rules_init(const params *cfg, void **state, char *err, size_t errlen)
{
    ruleset *rs = ruleset_new();
    bool ok = true;
    if (params_bool(cfg, "check.rules.builtin"))
        for (size_t i = 0; ok && i < rules_builtin_count; i++)
            ok = ruleset_parse(rs, rules_builtin[i].name, rules_builtin[i].text,
                               rules_builtin[i].len, err, errlen);
    char *files = xstrdup(params_str(cfg, "check.rules.files"));
    char *save = NULL;
    for (char *f = strtok_r(files, ",", &save); ok && f; f = strtok_r(NULL, ",", &save)) {
        f = str_trim(f);
        if (*f)
            ok = ruleset_load_file(rs, f, err, errlen);
    }
    free(files);
    if (ok)
        ok = ruleset_compile(rs, known_symbol, NULL, err, errlen);
    if (!ok) {
        char why[512];
        snprintf(why, sizeof why, "check.rules: %s", err);
        snprintf(err, errlen, "%s", why);
        ruleset_destroy(&rs);
        return false;
    }
    *state = rs;
    return true;
}

static const symbol_def *rules_dynamic(const void *state, size_t *n)
{
    return ruleset_symbols(state, n);
}

static bool has_symbol(void *ctx, const char *name)
{
    return task_has_symbol(ctx, name);
}

static void on_hit(void *ctx, const char *name, const char *desc, const char *matched)
{
    if (*matched)
        task_symbol(ctx, name, "%s: \"%s\"", desc, matched);
    else
        task_symbol(ctx, name, "%s", desc);
}

static void rules_run(scan_task *t, const void *state)
{
    const msg_model *m = task_message(t);
    rules_input in = {.hdrs = task_headers(t), .has_symbol = has_symbol, .ctx = t};
    in.text = msg_text(m, &in.text_len);
    in.nparts = msg_parts(m, &in.parts);
    in.nurls = msg_urls(m, &in.urls);
    in.raw = task_raw(t, &in.raw_len);
    ruleset_match(state, &in, on_hit, t);
}

static void rules_free(void *state)
{
    ruleset *rs = state;
    ruleset_destroy(&rs);
}

const check_def check_rules = {
    .name = "rules",
    .symbols = rules_symbols,
    .init = rules_init,
    .run = rules_run,
    .free = rules_free,
    .dynamic_symbols = rules_dynamic,
};
