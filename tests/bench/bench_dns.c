/* bench_dns.c - replays the DNS lookups of scanned messages through the node's resolver.
 *
 *   bulwark-dns-bench [--dns HOST:PORT]... [--timeout MS] [--threads N] [--passes N]
 *                     [--cache MIB] [--count-cmd CMD] FILE
 *
 * FILE has one lookup per line, "ID TYPE NAME" (TYPE: A, AAAA, MX, TXT, PTR, NS or a
 * number); consecutive lines with the same ID are one message, replayed as a scan
 * does it: one batch, every lookup submitted, then each waited for. N threads (the
 * node's workers) take messages in file order; every pass replays the whole file
 * through the same resolver, so pass 1 starts with an empty cache and later passes
 * are warm (--cache: the resolver's dns_cache_size in MiB, default 64). Each pass
 * prints one JSON line: lookups/s, per-message time (p50, p99, max: from the first
 * submit to the last answer), answers by status, and, with --count-cmd (a shell
 * command printing how many queries the server has received so far), the queries
 * that reached the server and the cache hit rate 1 - those/lookups.
 * tests/bench/dns.sh builds the file from a corpus and runs this against nsd. */
#include "dns.h"
#include "util.h"

#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    uint16_t type;
    char *name;
} lookup;

typedef struct {
    lookup *l;
    size_t n;
} message;

typedef struct {
    message *m;
    size_t n;
    dns_resolver *r;
    atomic_size_t next;
    double *ms; /* per message, this pass */
    atomic_size_t status[DNS_BADNAME + 1];
} replay;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bulwark-dns-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint16_t type_of(const char *s)
{
    static const struct {
        const char *name;
        uint16_t type;
    } t[] = {{"A", DNS_T_A},     {"AAAA", DNS_T_AAAA}, {"MX", DNS_T_MX},      {"TXT", DNS_T_TXT},
             {"PTR", DNS_T_PTR}, {"NS", DNS_T_NS},     {"CNAME", DNS_T_CNAME}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (strcasecmp(s, t[i].name) == 0)
            return t[i].type;
    long v = strtol(s, NULL, 10);
    if (v < 1 || v > 65535)
        die("unknown type '%s'", s);
    return (uint16_t)v;
}

static void load(const char *path, replay *rp)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open %s", path);
    char line[1024], last[128] = "";
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        char id[128], type[16], name[512];
        if (line[0] == '#' || sscanf(line, "%127s %15s %511s", id, type, name) != 3)
            continue;
        if (!rp->n || strcmp(id, last) != 0) {
            if (rp->n == cap) {
                cap = cap ? 2 * cap : 1024;
                rp->m = xrealloc(rp->m, cap * sizeof *rp->m);
            }
            rp->m[rp->n++] = (message){0};
            snprintf(last, sizeof last, "%s", id);
        }
        message *m = &rp->m[rp->n - 1];
        m->l = xrealloc(m->l, (m->n + 1) * sizeof *m->l);
        m->l[m->n++] = (lookup){type_of(type), xstrdup(name)};
    }
    fclose(f);
}

static void *worker(void *arg)
{
    replay *rp = arg;
    dns_query **q = NULL;
    size_t qcap = 0;
    for (;;) {
        size_t i = atomic_fetch_add(&rp->next, 1);
        if (i >= rp->n)
            break;
        message *m = &rp->m[i];
        if (m->n > qcap) {
            qcap = m->n;
            q = xrealloc(q, qcap * sizeof *q);
        }
        uint64_t t0 = mono_us();
        dns_batch *b = dns_batch_new(rp->r, 0);
        for (size_t k = 0; k < m->n; k++)
            q[k] = dns_submit(b, m->l[k].name, m->l[k].type);
        for (size_t k = 0; k < m->n; k++)
            atomic_fetch_add(&rp->status[dns_wait(q[k])->status], 1);
        rp->ms[i] = (double)(mono_us() - t0) / 1000.0;
        dns_batch_destroy(&b);
    }
    free(q);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The server's query count from --count-cmd; -1 when there is none. */
static long long server_count(const char *cmd)
{
    if (!cmd)
        return -1;
    FILE *p = popen(cmd, "r");
    long long v = -1;
    if (!p || fscanf(p, "%lld", &v) != 1)
        die("--count-cmd printed no number: %s", cmd);
    pclose(p);
    return v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dns", required_argument, 0, 'd'},
        {"timeout", required_argument, 0, 't'},
        {"threads", required_argument, 0, 'n'},
        {"passes", required_argument, 0, 'p'},
        {"count-cmd", required_argument, 0, 'c'},
        {"cache", required_argument, 0, 'm'},
        {0, 0, 0, 0},
    };
    dns_opts o;
    dns_opts_default(&o);
    int threads = 2, passes = 2, opt;
    const char *count_cmd = NULL;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'd': dns_opts_add_forwarders(&o, optarg); break;
        case 't': o.timeout_ms = (unsigned)atoi(optarg); break;
        case 'n': threads = atoi(optarg); break;
        case 'p': passes = atoi(optarg); break;
        case 'c': count_cmd = optarg; break;
        case 'm': o.cache_bytes = (size_t)atoi(optarg) << 20; break;
        default:
            die("%s", "usage: [--dns HOST:PORT] [--timeout MS] [--threads N] [--passes N] "
                      "[--cache MIB] [--count-cmd CMD] FILE");
        }
    }
    if (optind != argc - 1 || threads < 1 || threads > 256 || passes < 1)
        die("%s", "usage: [--dns HOST:PORT] [--timeout MS] [--threads N] [--passes N] "
                  "[--cache MIB] [--count-cmd CMD] FILE");
    replay rp = {0};
    load(argv[optind], &rp);
    if (!rp.n)
        die("no lookups in %s", argv[optind]);
    char err[512];
    rp.r = dns_new(&o, err, sizeof err);
    if (!rp.r)
        die("%s", err);
    rp.ms = xcalloc(rp.n, sizeof *rp.ms);
    size_t lookups = 0;
    for (size_t i = 0; i < rp.n; i++)
        lookups += rp.m[i].n;
    pthread_t *t = xcalloc((size_t)threads, sizeof *t);
    long long before = server_count(count_cmd);
    for (int pass = 1; pass <= passes; pass++) {
        atomic_store(&rp.next, 0);
        for (int s = 0; s <= DNS_BADNAME; s++)
            atomic_store(&rp.status[s], 0);
        uint64_t t0 = mono_us();
        for (int i = 0; i < threads; i++)
            pthread_create(&t[i], NULL, worker, &rp);
        for (int i = 0; i < threads; i++)
            pthread_join(t[i], NULL);
        double secs = (double)(mono_us() - t0) / 1e6;
        long long after = server_count(count_cmd);
        qsort(rp.ms, rp.n, sizeof *rp.ms, cmp_double);
        printf("{\"pass\":%d,\"threads\":%d,\"cache_mib\":%zu,\"messages\":%zu,\"lookups\":%zu,"
               "\"seconds\":%.3f,"
               "\"lookups_per_s\":%.0f,\"msg_p50_ms\":%.3f,\"msg_p99_ms\":%.3f,"
               "\"msg_max_ms\":%.3f",
               pass, threads, o.cache_bytes >> 20, rp.n, lookups, secs, (double)lookups / secs,
               rp.ms[rp.n / 2], rp.ms[(size_t)((double)(rp.n - 1) * 0.99)], rp.ms[rp.n - 1]);
        for (int s = 0; s <= DNS_BADNAME; s++)
            printf(",\"%s\":%zu", dns_status_name((dns_status)s), atomic_load(&rp.status[s]));
        if (count_cmd)
            printf(",\"upstream\":%lld,\"cache_hit_rate\":%.4f", after - before,
                   1.0 - (double)(after - before) / (double)lookups);
        printf("}\n");
        fflush(stdout);
        before = after;
    }
    dns_destroy(&rp.r);
    for (size_t i = 0; i < rp.n; i++) {
        for (size_t k = 0; k < rp.m[i].n; k++)
            free(rp.m[i].l[k].name);
        free(rp.m[i].l);
    }
    free(rp.m);
    free(rp.ms);
    free(t);
    strlist_free(&o.forwarders);
    return 0;
}
