/* bench_bayes.c - bulwark-bayes-bench: what the Bayes check costs per message.
 *
 * Usage: bulwark-bayes-bench HOST:PORT FILELIST [MAX_TOKENS [OSB_WINDOW]]
 * (learn with the same check.bayes.max_tokens and osb_window). Reads the message files named in
 * FILELIST (one path a line), parses each once (not timed), then times the check's three steps on a
 * Redis that has learned the global scope: tok_extract (tokenize), bayes_fetch (the pipelined
 * lookup: one round trip) and bayes_classify (the combiner), with a monotonic clock around each.
 * Redis's own CPU time comes from INFO cpu before and after. Prints the per-message means; one
 * thread, so the figures are per core. docs/bayes.md keeps them. */
#include "bayes.h"
#include "hdr.h"
#include "message.h"
#include "redisx.h"
#include "tokens.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Redis's user + system CPU seconds so far; -1 when INFO does not say. */
static double redis_cpu(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO cpu");
    double cpu = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *u = strstr(r->str, "used_cpu_user:"), *s = strstr(r->str, "used_cpu_sys:");
        if (u && s)
            cpu = atof(u + 14) + atof(s + 13);
    }
    freeReplyObject(r);
    return cpu;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr,
                "usage: bulwark-bayes-bench HOST:PORT FILELIST [MAX_TOKENS [OSB_WINDOW]]\n");
        return 2;
    }
    char err[256];
    size_t max_tokens = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 0;
    unsigned window = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 0;
    redisContext *c;
    if (!redisx_configure(argv[1], 5000, err, sizeof err) || !(c = redisx_get(err, sizeof err))) {
        fprintf(stderr, "bulwark-bayes-bench: %s\n", err);
        return 1;
    }
    const char *g = "g";
    uint64_t nspam, nham;
    unsigned scheme;
    if (!bayes_scope_counts(c, &g, 1, &nspam, &nham, &scheme, err, sizeof err) || !nspam || !nham ||
        scheme != bayes_scheme_mark(window)) {
        fprintf(stderr,
                "bulwark-bayes-bench: learn spam and ham into the global scope first, with this "
                "OSB window%s%s\n",
                err[0] ? ": " : "", err);
        return 1;
    }
    FILE *list = fopen(argv[2], "r");
    if (!list) {
        fprintf(stderr, "bulwark-bayes-bench: cannot read %s\n", argv[2]);
        return 1;
    }
    bayes_opts o;
    bayes_opts_default(&o);
    double t_tok = 0, t_fetch = 0, t_comb = 0, cpu0 = redis_cpu(c);
    size_t msgs = 0, tokens = 0;
    char path[4096];
    while (fgets(path, sizeof path, list)) {
        path[strcspn(path, "\r\n")] = '\0';
        size_t len;
        uint8_t *raw = path[0] ? (uint8_t *)file_read(path, &len) : NULL;
        if (!raw)
            continue;
        msg_model *m = msg_parse(raw, len);
        hdr_block *h = hdr_parse((const char *)raw, len);
        size_t n, used;
        double t0 = now();
        uint64_t *tok = tok_extract(m, h, max_tokens, window, &n);
        double t1 = now();
        bayes_count *cnt = xcalloc(n + 1, sizeof *cnt);
        if (n && !bayes_fetch(c, "g", tok, n, cnt, err, sizeof err)) {
            fprintf(stderr, "bulwark-bayes-bench: %s\n", err);
            return 1;
        }
        double t2 = now();
        bayes_classify(cnt, n, nspam, nham, &o, &used);
        double t3 = now();
        t_tok += t1 - t0;
        t_fetch += t2 - t1;
        t_comb += t3 - t2;
        msgs++;
        tokens += n;
        free(cnt);
        free(tok);
        hdr_destroy(&h);
        msg_destroy(&m);
        free(raw);
    }
    fclose(list);
    double cpu1 = redis_cpu(c);
    if (!msgs) {
        fprintf(stderr, "bulwark-bayes-bench: no message read\n");
        return 1;
    }
    double k = 1e3 / (double)msgs;
    printf("%zu messages, %.0f tokens each on average; per message: tokenize %.3f ms, "
           "lookup %.3f ms, combine %.3f ms, in all %.3f ms; Redis CPU %.3f ms\n",
           msgs, (double)tokens / (double)msgs, t_tok * k, t_fetch * k, t_comb * k,
           (t_tok + t_fetch + t_comb) * k, cpu0 >= 0 && cpu1 >= 0 ? (cpu1 - cpu0) * k : -1.0);
    redisx_thread_done();
    return 0;
}
