/* rules.c - the rule engine as a check: header, body, URI and meta rules.
 *
 * init builds one compiled rule set per generation (node/rules.h): the starter set
 * built into the binary (check.rules.builtin) and the files of check.rules.files,
 * later files replacing rules of the same name; a bad file refuses the generation
 * with FILE:LINE. Generations with identical rule inputs share one compiled set. The rules' names
 * are registered with the pipeline as dynamic symbols, so `score.NAME` overrides them like any
 * other symbol. run matches every rule once and adds one symbol per hit; metas can read the symbols
 * of checks that ran before this one (size, headers, mime, html, attachments, archives, office). */
#include "rules.h"
#include "checks.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
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

/* The last compiled set, shared by every generation whose rule inputs are the same
 * bytes (the built-in flag, then each file's path and content): a configuration
 * version that does not touch the rules costs no Hyperscan compile (0.4 s of CPU
 * for the starter set). Process-wide by nature, like the compiled code it caches;
 * the cache holds one reference, replaced when the inputs change. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static buf_t cache_key;
static ruleset *cache_rs;

typedef struct {
    char *path;
    char *text;
    size_t len;
} rule_file;

static void free_files(rule_file *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].path);
        free(f[i].text);
    }
    free(f);
}

/* Reads check.rules.files; false with "PATH: reason" in err. */
static bool read_files(const params *cfg, rule_file **out, size_t *nout, char *err, size_t errlen)
{
    char *list = xstrdup(params_str(cfg, "check.rules.files"));
    char *save = NULL;
    rule_file *files = NULL;
    size_t n = 0;
    bool ok = true;
    for (char *f = strtok_r(list, ",", &save); ok && f; f = strtok_r(NULL, ",", &save)) {
        f = str_trim(f);
        if (!*f)
            continue;
        files = xrealloc(files, (n + 1) * sizeof *files);
        files[n].path = xstrdup(f);
        files[n].text = file_read(f, &files[n].len);
        if (!files[n++].text) {
            snprintf(err, errlen, "%s: cannot read rule file: %s", f, strerror(errno));
            ok = false;
        }
    }
    free(list);
    *out = files;
    *nout = n;
    return ok;
}

static ruleset *build(bool builtin, const rule_file *files, size_t n, char *err, size_t errlen)
{
    ruleset *rs = ruleset_new();
    bool ok = true;
    for (size_t i = 0; builtin && ok && i < rules_builtin_count; i++)
        ok = ruleset_parse(rs, rules_builtin[i].name, rules_builtin[i].text, rules_builtin[i].len,
                           err, errlen);
    for (size_t i = 0; ok && i < n; i++)
        ok = ruleset_parse(rs, files[i].path, files[i].text, files[i].len, err, errlen);
    if (ok)
        ok = ruleset_compile(rs, known_symbol, NULL, err, errlen);
    if (!ok)
        ruleset_destroy(&rs);
    return rs;
}

static bool rules_init(const params *cfg, void **state, char *err, size_t errlen)
{
    rule_file *files;
    size_t n;
    bool builtin = params_bool(cfg, "check.rules.builtin");
    ruleset *rs = NULL;
    buf_t key = {0};
    if (read_files(cfg, &files, &n, err, errlen)) {
        buf_puts(&key, builtin ? "builtin=yes" : "builtin=no");
        for (size_t i = 0; i < n; i++) {
            buf_append(&key, files[i].path, strlen(files[i].path) + 1);
            buf_printf(&key, "%zu:", files[i].len);
            buf_append(&key, files[i].text, files[i].len);
        }
        pthread_mutex_lock(&cache_lock);
        if (cache_rs && key.len == cache_key.len && memcmp(key.data, cache_key.data, key.len) == 0)
            rs = ruleset_ref(cache_rs);
        pthread_mutex_unlock(&cache_lock);
        if (!rs && (rs = build(builtin, files, n, err, errlen))) {
            pthread_mutex_lock(&cache_lock);
            ruleset_destroy(&cache_rs);
            cache_rs = ruleset_ref(rs);
            buf_free(&cache_key);
            cache_key = key;
            key = (buf_t){0};
            pthread_mutex_unlock(&cache_lock);
        }
    }
    buf_free(&key);
    free_files(files, n);
    if (!rs) {
        char why[512];
        snprintf(why, sizeof why, "check.rules: %s", err);
        snprintf(err, errlen, "%s", why);
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
