/* bench_dispatch.c - load generator and null workers for measuring the dispatcher.
 *
 *   bulwark-bench workers EP N CREDIT [KEYS]   N threads, each its own DEALER to the
 *                                              master's worker socket, answering every
 *                                              job "pass" at once (workers that do nothing)
 *   bulwark-bench client EP DIR window W JOBS [KEYS]   throughput: W jobs in flight
 *   bulwark-bench client EP DIR rate R SECONDS [KEYS]  latency: R jobs/s, evenly spaced
 *   bulwark-bench local DIR ROUNDS                     the scan pipeline in-process
 *
 * KEYS is `MYKEY.key SERVER.pub` for CURVE. Messages are the files of DIR, loaded into
 * memory first and sent round-robin, so disk never enters the figures. Each mode prints
 * one JSON line of figures (tests/bench/dispatch.sh reads them). Latency is measured per
 * job from the send call to the arrival of its result, with the monotonic clock. */
#include "keys.h"
#include "pipeline.h"
#include "util.h"
#include "zmqx.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "bulwark-bench: %s\n", what);
    exit(1);
}

/* ---- messages -------------------------------------------------------------------- */

typedef struct {
    char **data;
    size_t *len;
    size_t n;
} corpus;

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_corpus(const char *dir, corpus *c)
{
    DIR *d = opendir(dir);
    if (!d)
        die("cannot open message directory");
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        names = xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = xasprintf("%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_name);
    c->data = xcalloc(n ? n : 1, sizeof *c->data);
    c->len = xcalloc(n ? n : 1, sizeof *c->len);
    for (size_t i = 0; i < n; i++) {
        c->data[c->n] = file_read(names[i], &c->len[c->n]);
        if (c->data[c->n])
            c->n++;
        free(names[i]);
    }
    free(names);
    if (!c->n)
        die("no messages in directory");
}

static void free_corpus(corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->data[i]);
    free(c->data);
    free(c->len);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *sorted, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static void *connect_sock(void *ctx, const char *ep, const char *key, const char *server)
{
    void *s = zx_socket(ctx, ZMQ_DEALER, 0);
    if (key && server) {
        curve_key mine, srv;
        char err[512];
        if (!key_load_client(key, server, &mine, &srv, err, sizeof err))
            die(err);
        zx_curve_client(s, &mine, &srv);
    }
    if (zmq_connect(s, ep) != 0)
        die("connect failed");
    return s;
}

/* ---- null workers ----------------------------------------------------------------- */

static atomic_bool stop;

typedef struct {
    void *ctx;
    const char *ep, *key, *server;
    int index;
    uint32_t credit;
} wargs;

static void send_hello(void *s, int index, uint32_t credit)
{
    char id[32];
    snprintf(id, sizeof id, "null-%d", index);
    Bulwark__Hello h = BULWARK__HELLO__INIT;
    h.node_id = id;
    h.capacity = credit;
    h.credit = credit;
    h.protocol = BW_PROTOCOL;
    h.software = "bulwark-bench";
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_HELLO;
    p.hello = &h;
    zx_send_packet(s, &p, 0);
}

static void *null_worker(void *arg)
{
    wargs *a = arg;
    void *s = connect_sock(a->ctx, a->ep, a->key, a->server);
    send_hello(s, a->index, a->credit);
    uint64_t next_hb = mono_us() + 500000;
    char node[32];
    snprintf(node, sizeof node, "null-%d", a->index);
    while (!atomic_load(&stop)) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 100);
        if (mono_us() >= next_hb) {
            Bulwark__Heartbeat hb = BULWARK__HEARTBEAT__INIT;
            hb.capacity = a->credit;
            packet p = BULWARK__PACKET__INIT;
            p.body_case = BULWARK__PACKET__BODY_HEARTBEAT;
            p.heartbeat = &hb;
            zx_send_packet(s, &p, 0);
            next_hb = mono_us() + 500000;
        }
        if (!(it.revents & ZMQ_POLLIN))
            continue;
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            packet *p = zx_decode(zmq_msg_data(&m), zmq_msg_size(&m));
            zmq_msg_close(&m);
            if (p && p->body_case == BULWARK__PACKET__BODY_JOB) {
                Bulwark__ScanResult r = BULWARK__SCAN_RESULT__INIT;
                r.job_id = p->job->job_id;
                r.node_id = node;
                packet out = BULWARK__PACKET__INIT;
                out.body_case = BULWARK__PACKET__BODY_RESULT;
                out.result = &r;
                zx_send_packet(s, &out, 0);
            } else if (p && p->body_case == BULWARK__PACKET__BODY_BYE) {
                send_hello(s, a->index, a->credit);
            }
            zx_packet_free(&p);
        }
    }
    zmq_close(s);
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop, true);
}

static int run_workers(int argc, char **argv)
{
    if (argc < 5)
        die("usage: workers EP N CREDIT [KEY SERVER]");
    int n = atoi(argv[3]);
    uint32_t credit = (uint32_t)atoi(argv[4]);
    if (n < 1 || credit < 1)
        die("N and CREDIT must be positive");
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    void *ctx = zmq_ctx_new();
    pthread_t *t = xcalloc((size_t)n, sizeof *t);
    wargs *a = xcalloc((size_t)n, sizeof *a);
    for (int i = 0; i < n; i++) {
        a[i] =
            (wargs){ctx, argv[2], argc > 6 ? argv[5] : NULL, argc > 6 ? argv[6] : NULL, i, credit};
        pthread_create(&t[i], NULL, null_worker, &a[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    zmq_ctx_term(ctx);
    free(t);
    free(a);
    return 0;
}

/* ---- client ----------------------------------------------------------------------- */

typedef struct {
    void *sock;
    corpus c;
    uint64_t *sent_us; /* per job index */
    uint64_t *lat; /* per answered job */
    size_t nlat, sent, answered, tempfail, other;
    char prefix[24];
} client;

static void send_job(client *cl, size_t i)
{
    char id[64];
    snprintf(id, sizeof id, "%s%zu", cl->prefix, i);
    Bulwark__Envelope env = BULWARK__ENVELOPE__INIT;
    env.client_ip = "192.0.2.1";
    env.helo = "bench.example";
    env.mail_from = "sender@example.com";
    char *rcpt[1] = {"user@example.org"};
    env.rcpt = rcpt;
    env.n_rcpt = 1;
    Bulwark__ScanJob job = BULWARK__SCAN_JOB__INIT;
    job.job_id = id;
    job.envelope = &env;
    job.message.data = (uint8_t *)cl->c.data[i % cl->c.n];
    job.message.len = cl->c.len[i % cl->c.n];
    job.submitted_ms = now_ms();
    job.deadline_ms = job.submitted_ms + 60000;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_JOB;
    p.job = &job;
    cl->sent_us[i] = mono_us();
    if (zx_send_packet(cl->sock, &p, 0) != 0)
        die("send failed");
    cl->sent++;
}

/* Reads every result waiting (at most `wait_ms` for the first). */
static void collect(client *cl, int wait_ms)
{
    zmq_pollitem_t it = {cl->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, wait_ms) <= 0)
        return;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, cl->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        uint64_t now = mono_us();
        packet *p = zx_decode(zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
        if (!p || p->body_case != BULWARK__PACKET__BODY_RESULT || !p->result->job_id ||
            strncmp(p->result->job_id, cl->prefix, strlen(cl->prefix)) != 0) {
            cl->other++;
            zx_packet_free(&p);
            continue;
        }
        size_t i = strtoull(p->result->job_id + strlen(cl->prefix), NULL, 10);
        if (i < cl->sent) {
            cl->lat[cl->nlat++] = now - cl->sent_us[i];
            cl->answered++;
            if (p->result->action == BULWARK__ACTION__ACTION_TEMPFAIL)
                cl->tempfail++;
        }
        zx_packet_free(&p);
    }
}

static void report(client *cl, const char *mode, double secs, double target_rate)
{
    qsort(cl->lat, cl->nlat, sizeof *cl->lat, cmp_u64);
    size_t bytes = 0;
    for (size_t i = 0; i < cl->c.n; i++)
        bytes += cl->c.len[i];
    printf("{\"mode\":\"%s\",\"jobs\":%zu,\"answered\":%zu,\"tempfail\":%zu,\"seconds\":%.3f,"
           "\"jobs_per_s\":%.0f,\"target_rate\":%.0f,\"avg_msg_bytes\":%zu,"
           "\"p50_us\":%llu,\"p90_us\":%llu,\"p99_us\":%llu,\"p999_us\":%llu,\"max_us\":%llu}\n",
           mode, cl->sent, cl->answered, cl->tempfail, secs, (double)cl->answered / secs,
           target_rate, bytes / cl->c.n, (unsigned long long)pct(cl->lat, cl->nlat, 50),
           (unsigned long long)pct(cl->lat, cl->nlat, 90),
           (unsigned long long)pct(cl->lat, cl->nlat, 99),
           (unsigned long long)pct(cl->lat, cl->nlat, 99.9),
           (unsigned long long)(cl->nlat ? cl->lat[cl->nlat - 1] : 0));
}

static int run_client(int argc, char **argv)
{
    if (argc < 6)
        die("usage: client EP DIR window W JOBS | client EP DIR rate R SECONDS [KEY SERVER]");
    client cl = {0};
    load_corpus(argv[3], &cl.c);
    bool rate_mode = strcmp(argv[4], "rate") == 0;
    double param = atof(argv[5]), amount = atof(argv[6]);
    size_t total = rate_mode ? (size_t)(param * amount) : (size_t)amount;
    if (param <= 0 || total == 0)
        die("bad numbers");
    snprintf(cl.prefix, sizeof cl.prefix, "b%d-", (int)getpid());
    cl.sent_us = xcalloc(total, sizeof *cl.sent_us);
    cl.lat = xcalloc(total, sizeof *cl.lat);
    void *ctx = zmq_ctx_new();
    cl.sock = connect_sock(ctx, argv[2], argc > 8 ? argv[7] : NULL, argc > 8 ? argv[8] : NULL);

    /* Warm up: one job answered proves the path (handshake, node joined). */
    uint64_t until = mono_us() + 20000000;
    send_job(&cl, 0);
    while (cl.answered == 0 && mono_us() < until)
        collect(&cl, 100);
    if (!cl.answered)
        die("no answer to the warm-up job within 20 s");
    cl.sent = cl.answered = cl.nlat = cl.tempfail = 0;
    snprintf(cl.prefix, sizeof cl.prefix, "r%d-", (int)getpid());

    uint64_t t0 = mono_us();
    if (rate_mode) {
        double gap_us = 1e6 / param;
        while (cl.sent < total) {
            uint64_t due = t0 + (uint64_t)((double)cl.sent * gap_us);
            uint64_t now = mono_us();
            if (now >= due) {
                send_job(&cl, cl.sent);
                continue;
            }
            collect(&cl, (int)((due - now) / 1000));
        }
    } else {
        size_t window = (size_t)param;
        while (cl.answered < total) {
            while (cl.sent < total && cl.sent - cl.answered < window)
                send_job(&cl, cl.sent);
            collect(&cl, 1000);
            if (mono_us() - t0 > 600000000ULL)
                die("throughput run did not finish in 600 s");
        }
    }
    uint64_t drain_until = mono_us() + 10000000;
    while (cl.answered < cl.sent && mono_us() < drain_until)
        collect(&cl, 100);
    double secs = (double)(mono_us() - t0) / 1e6;
    report(&cl, rate_mode ? "rate" : "window", secs, rate_mode ? param : 0);
    zmq_close(cl.sock);
    zmq_ctx_term(ctx);
    free(cl.sent_us);
    free(cl.lat);
    free_corpus(&cl.c);
    return cl.answered == cl.sent ? 0 : 1;
}

/* ---- local pipeline ------------------------------------------------------------------ */

static int run_local(int argc, char **argv)
{
    if (argc < 4)
        die("usage: local DIR ROUNDS");
    corpus c;
    memset(&c, 0, sizeof c);
    load_corpus(argv[2], &c);
    int rounds = atoi(argv[3]);
    if (rounds < 1)
        die("ROUNDS must be positive");
    char err[512];
    params *p = params_new(&params_cluster);
    pipeline *pl = pipeline_new(p, 1, err, sizeof err);
    params_destroy(&p);
    if (!pl)
        die(err);
    size_t n = c.n * (size_t)rounds;
    uint64_t *lat = xcalloc(n, sizeof *lat);
    Bulwark__Envelope env = BULWARK__ENVELOPE__INIT;
    uint64_t t0 = mono_us();
    for (size_t i = 0; i < n; i++) {
        uint64_t s = mono_us();
        scan_task *t =
            scan_task_new(pl, "bench", &env, (const uint8_t *)c.data[i % c.n], c.len[i % c.n]);
        scan_run(t);
        scan_task_destroy(&t);
        lat[i] = mono_us() - s;
    }
    double secs = (double)(mono_us() - t0) / 1e6;
    qsort(lat, n, sizeof *lat, cmp_u64);
    printf("{\"mode\":\"local\",\"scans\":%zu,\"seconds\":%.3f,\"scans_per_s\":%.0f,"
           "\"p50_us\":%llu,\"p99_us\":%llu}\n",
           n, secs, (double)n / secs, (unsigned long long)pct(lat, n, 50),
           (unsigned long long)pct(lat, n, 99));
    free(lat);
    pipeline_release(&pl);
    free_corpus(&c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: bulwark-bench workers|client|local ...");
    if (strcmp(argv[1], "workers") == 0)
        return run_workers(argc, argv);
    if (strcmp(argv[1], "client") == 0)
        return run_client(argc, argv);
    if (strcmp(argv[1], "local") == 0)
        return run_local(argc, argv);
    die("unknown mode");
}
