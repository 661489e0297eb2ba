/* fuzz_params.c - params_load_text() and params_check() over the four tables.
 *
 * Input: one selector byte (value % 4: master, node, ctl, cluster; '0'..'3' in
 * the seeds), then the text of a configuration file. After a load, every value
 * that was stored must pass params_check() again, and writing the set values out
 * as `key = value` lines must load into a fresh object with the same values. A
 * failed load must say where: "fuzz:LINE: ..." with LINE inside the text. If the
 * text holds a NUL byte, the bytes around it are also checked as one key/value
 * pair, which reaches values with line breaks that a file cannot carry. */
#include "fuzz.h"
#include "params.h"
#include "util.h"

#include <string.h>

static const param_table *const tables[] = {&params_master, &params_node, &params_ctl,
                                            &params_cluster};

static size_t count_lines(const char *text, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    return n + (len && text[len - 1] != '\n');
}

/* A failed load names the origin and a line that exists. */
static void check_error(const char *err, const char *text, size_t len)
{
    FUZZ_ASSERT(strncmp(err, "fuzz:", 5) == 0);
    char *end;
    unsigned long line = strtoul(err + 5, &end, 10);
    FUZZ_ASSERT(end > err + 5 && *end == ':');
    FUZZ_ASSERT(line >= 1 && line <= count_lines(text, len));
}

/* Set values re-check, and survive a write-out and reload unchanged. */
static void check_round_trip(const param_table *t, const params *p)
{
    char err[1024];
    buf_t out = {0};
    const char *k, *v;
    for (size_t it = 0; params_next_set(p, &it, &k, &v);) {
        FUZZ_ASSERT(params_check(t, k, v, err, sizeof err));
        buf_printf(&out, "%s = %s\n", k, v);
    }
    params *q = params_new(t);
    FUZZ_ASSERT(
        params_load_text(q, "round-trip", out.data ? out.data : "", out.len, err, sizeof err));
    for (size_t it = 0; params_next_set(p, &it, &k, &v);) {
        double d;
        const char *w = NULL;
        if (params_dynamic(p, k, &d)) {
            double e;
            FUZZ_ASSERT(params_dynamic(q, k, &e) && e == d);
            continue;
        }
        w = params_str(q, k);
        FUZZ_ASSERT(strcmp(v, w) == 0);
    }
    params_destroy(&q);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const param_table *t = tables[data[0] % 4];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    params *p = params_new(t);
    char err[1024] = "";
    if (params_load_text(p, "fuzz", text, len, err, sizeof err))
        check_round_trip(t, p);
    else
        check_error(err, text, len);
    params_destroy(&p);

    const char *nul = memchr(text, '\0', len);
    if (nul) {
        char *key = xstrndup(text, (size_t)(nul - text));
        char *value = xstrndup(nul + 1, len - (size_t)(nul - text) - 1);
        err[0] = '\0';
        if (!params_check(t, key, value, err, sizeof err))
            FUZZ_ASSERT(err[0] != '\0');
        free(key);
        free(value);
    }
    return 0;
}
