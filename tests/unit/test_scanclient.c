/* test_scanclient.c - unit tests for shared/scanclient.c against a fake master.
 *
 * The fake master is a ROUTER on a loopback TCP port, run by a test thread. It
 * answers each job with a result naming the job (node_id = "done:" + job id), or
 * stays silent, or first sends a result for an id nobody asked for, or takes a
 * job, dies (closes its socket), and comes back on the same port. Covered: many
 * concurrent callers each get their own result; a timeout returns false in time;
 * a result for an unknown id is dropped and counted; a job held by a master that
 * died is sent again after the reconnect and answered; destroy with a caller
 * still waiting wakes it with an error. */
#include "log.h"
#include "scanclient.h"
#include "util.h"
#include "zmqx.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

typedef enum { FAKE_ECHO, FAKE_SILENT, FAKE_UNKNOWN_FIRST, FAKE_DIE_ONCE } fake_mode;

typedef struct {
    fake_mode mode;
    void *ctx;
    char endpoint[64];
    atomic_bool stop;
    atomic_int jobs_seen;
    pthread_t thread;
} fake_master;

static void *fake_bind(fake_master *f)
{
    void *s = zx_socket(f->ctx, ZMQ_ROUTER, 0);
    for (int i = 0; i < 200; i++) { /* the old socket's port is freed asynchronously */
        if (zmq_bind(s, f->endpoint) == 0)
            return s;
        usleep(20000);
    }
    fail_msg("cannot bind %s: %s", f->endpoint, zmq_strerror(zmq_errno()));
    return NULL;
}

static void fake_answer(void *s, zmq_msg_t *id, const char *job_id)
{
    char node[256];
    snprintf(node, sizeof node, "done:%s", job_id);
    Bulwark__ScanResult r = BULWARK__SCAN_RESULT__INIT;
    r.job_id = (char *)job_id;
    r.node_id = node;
    r.score = 1.5;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_RESULT;
    p.result = &r;
    zx_send_id(s, zmq_msg_data(id), zmq_msg_size(id));
    zx_send_packet(s, &p, 0);
}

/* Receives one routed job within 50 ms: true with the routing id and job id. */
static bool fake_recv(void *s, zmq_msg_t *id, char *job_id, size_t n)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 50) <= 0)
        return false;
    zmq_msg_t body;
    zmq_msg_init(&body);
    zmq_msg_recv(id, s, 0);
    zmq_msg_recv(&body, s, 0);
    packet *p = zx_decode(zmq_msg_data(&body), zmq_msg_size(&body));
    assert_non_null(p);
    assert_int_equal(p->body_case, BULWARK__PACKET__BODY_JOB);
    snprintf(job_id, n, "%s", p->job->job_id);
    zx_packet_free(&p);
    zmq_msg_close(&body);
    return true;
}

static void *fake_main(void *arg)
{
    fake_master *f = arg;
    void *s = fake_bind(f);
    bool first = true;
    while (!atomic_load(&f->stop)) {
        zmq_msg_t id;
        zmq_msg_init(&id);
        char job_id[256];
        if (!fake_recv(s, &id, job_id, sizeof job_id)) {
            zmq_msg_close(&id);
            continue;
        }
        atomic_fetch_add(&f->jobs_seen, 1);
        if (f->mode == FAKE_DIE_ONCE && first) {
            zmq_close(s); /* the job dies with this master */
            usleep(300000);
            s = fake_bind(f);
        } else if (f->mode == FAKE_UNKNOWN_FIRST && first) {
            fake_answer(s, &id, "nobody-asked");
            fake_answer(s, &id, job_id);
        } else if (f->mode != FAKE_SILENT) {
            fake_answer(s, &id, job_id);
        }
        first = false;
        zmq_msg_close(&id);
    }
    zmq_close(s);
    return NULL;
}

static fake_master *fake_start(fake_mode mode)
{
    fake_master *f = xcalloc(1, sizeof *f);
    f->mode = mode;
    f->ctx = zmq_ctx_new();
    /* Find a free port, then let the thread bind it for good. */
    void *probe = zx_socket(f->ctx, ZMQ_ROUTER, 0);
    assert_int_equal(zmq_bind(probe, "tcp://127.0.0.1:*"), 0);
    size_t n = sizeof f->endpoint;
    zmq_getsockopt(probe, ZMQ_LAST_ENDPOINT, f->endpoint, &n);
    zmq_close(probe);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
    return f;
}

static void fake_stop(fake_master **fp)
{
    fake_master *f = *fp;
    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    zmq_ctx_term(f->ctx);
    free(f);
    *fp = NULL;
}

static scanclient *client_for(const fake_master *f)
{
    char err[256];
    scanclient_opts o = {.endpoint = f->endpoint};
    scanclient *c = scanclient_new(&o, err, sizeof err);
    assert_non_null(c);
    return c;
}

static bool scan_one(scanclient *c, const char *id, int64_t timeout_ms, char *node, size_t n)
{
    Bulwark__ScanJob job = BULWARK__SCAN_JOB__INIT;
    job.job_id = (char *)id;
    job.message.data = (uint8_t *)"Subject: x\r\n\r\nhello\r\n";
    job.message.len = 21;
    Bulwark__ScanResult *r;
    char err[128];
    if (!scanclient_scan(c, &job, timeout_ms, &r, err, sizeof err)) {
        snprintf(node, n, "error: %s", err);
        return false;
    }
    assert_string_equal(r->job_id, id);
    snprintf(node, n, "%s", r->node_id);
    scanclient_result_free(&r);
    assert_null(r);
    return true;
}

/* ---- many callers ---------------------------------------------------------------- */

#define CALLERS 16
#define PER_CALLER 25

typedef struct {
    scanclient *c;
    int index;
    int ok;
} caller_arg;

static void *caller_main(void *arg)
{
    caller_arg *a = arg;
    for (int i = 0; i < PER_CALLER; i++) {
        char id[64], want[80], got[256];
        snprintf(id, sizeof id, "caller%d-job%d", a->index, i);
        snprintf(want, sizeof want, "done:%s", id);
        if (scan_one(a->c, id, 10000, got, sizeof got) && strcmp(got, want) == 0)
            a->ok++;
    }
    return NULL;
}

static void test_concurrent_callers(void **state)
{
    fake_master *f = fake_start(FAKE_ECHO);
    scanclient *c = client_for(f);
    pthread_t t[CALLERS];
    caller_arg args[CALLERS];
    for (int i = 0; i < CALLERS; i++) {
        args[i] = (caller_arg){c, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, caller_main, &args[i]), 0);
    }
    for (int i = 0; i < CALLERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].ok, PER_CALLER);
    }
    scanclient_stats st;
    scanclient_get_stats(c, &st);
    assert_int_equal(st.answered, CALLERS * PER_CALLER);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.waiting, 0);
    assert_true(st.connected);
    scanclient_destroy(&c);
    assert_null(c);
    fake_stop(&f);
}

/* ---- timeout, unknown id, duplicate id --------------------------------------------- */

static void test_timeout_returns_in_time(void **state)
{
    fake_master *f = fake_start(FAKE_SILENT);
    scanclient *c = client_for(f);
    char got[256];
    uint64_t t0 = mono_ms();
    assert_false(scan_one(c, "silent-1", 300, got, sizeof got));
    uint64_t took = mono_ms() - t0;
    assert_true(took >= 290 && took < 1000);
    assert_string_equal(got, "error: no verdict in time");
    scanclient_stats st;
    scanclient_get_stats(c, &st);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.waiting, 0);
    scanclient_destroy(&c);
    fake_stop(&f);
}

static void test_unknown_result_dropped(void **state)
{
    fake_master *f = fake_start(FAKE_UNKNOWN_FIRST);
    scanclient *c = client_for(f);
    char got[256];
    assert_true(scan_one(c, "real-1", 5000, got, sizeof got));
    assert_string_equal(got, "done:real-1");
    scanclient_stats st;
    scanclient_get_stats(c, &st);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.answered, 1);
    scanclient_destroy(&c);
    fake_stop(&f);
}

static void *duplicate_main(void *arg)
{
    char got[256];
    scan_one(arg, "dup-1", 1000, got, sizeof got);
    return NULL;
}

static void test_duplicate_id_refused(void **state)
{
    fake_master *f = fake_start(FAKE_SILENT);
    scanclient *c = client_for(f);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, duplicate_main, c), 0);
    scanclient_stats st;
    do {
        usleep(5000);
        scanclient_get_stats(c, &st);
    } while (st.waiting == 0);
    char got[256];
    assert_false(scan_one(c, "dup-1", 1000, got, sizeof got));
    assert_string_equal(got, "error: job id already in flight");
    pthread_join(t, NULL);
    scanclient_destroy(&c);
    fake_stop(&f);
}

/* ---- reconnect and shutdown -------------------------------------------------------- */

static void test_resend_after_master_restart(void **state)
{
    fake_master *f = fake_start(FAKE_DIE_ONCE);
    scanclient *c = client_for(f);
    char got[256];
    assert_true(scan_one(c, "survivor-1", 10000, got, sizeof got));
    assert_string_equal(got, "done:survivor-1");
    assert_int_equal(atomic_load(&f->jobs_seen), 2); /* once to the dead master, once again */
    scanclient_stats st;
    scanclient_get_stats(c, &st);
    assert_true(st.reconnects >= 1);
    /* A reconnect may first reach the dying socket (its close is asynchronous) and
     * lose the job again: every handshake after a loss sends it once more. */
    assert_true(st.resent >= 1);
    assert_int_equal(st.sent, 1 + st.resent);
    scanclient_destroy(&c);
    fake_stop(&f);
}

static void *waiting_main(void *arg)
{
    char *got = xcalloc(1, 256);
    scan_one(arg, "stranded-1", 30000, got, 256);
    return got;
}

static void test_destroy_wakes_waiters(void **state)
{
    fake_master *f = fake_start(FAKE_SILENT);
    scanclient *c = client_for(f);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, waiting_main, c), 0);
    scanclient_stats st;
    do {
        usleep(5000);
        scanclient_get_stats(c, &st);
    } while (st.waiting == 0);
    uint64_t t0 = mono_ms();
    scanclient_destroy(&c);
    char *got;
    pthread_join(t, (void **)&got);
    assert_true(mono_ms() - t0 < 2000);
    assert_string_equal(got, "error: client stopping");
    free(got);
    fake_stop(&f);
}

int main(void)
{
    log_init("test_scanclient");
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_callers),
        cmocka_unit_test(test_timeout_returns_in_time),
        cmocka_unit_test(test_unknown_result_dropped),
        cmocka_unit_test(test_duplicate_id_refused),
        cmocka_unit_test(test_resend_after_master_restart),
        cmocka_unit_test(test_destroy_wakes_waiters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
