/* test_dispatch.c - unit tests for master/dispatch.c, in process, over inproc://.
 *
 * A real ZeroMQ context holds the master's two ROUTER sockets (clients, workers)
 * and DEALER peers for a client and two fake nodes. The test plays the master's
 * poll loop itself: route_client()/route_worker() read one [routing id][Packet]
 * message from a ROUTER and hand it to dispatch_job()/dispatch_worker() as
 * master/main.c does, and dispatch_tick() is called by hand. Covered: a job goes
 * to a node with credit and its result reaches the client exactly once (a second
 * result is dropped and counted); without credit a job waits in the queue; a node
 * that stops heartbeating is removed and its job re-dispatched; attempt timeouts;
 * deadlines answered tempfail; Bye with handback (not an attempt); max_attempts;
 * queue_max; duplicate submits; dispatch_fail_all and dispatch_stop_accepting;
 * the recorder hook (a record job's first result goes to the hook with the job
 * frame, exactly once; other jobs, and record jobs without a hook, as before). */
#include "dispatch.h"
#include "log.h"
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define WAIT_MS 2000 /* longest wait for a message that must arrive */

typedef struct {
    void *ctx;
    void *cr, *wr; /* the master's ROUTERs: clients, workers */
    void *client, *c2, *wa, *wb; /* DEALER peers: two clients, two nodes */
    params *cfg;
    dispatch *d;
} fx;

static void *dealer(fx *f, const char *id, const char *ep)
{
    void *s = zx_socket(f->ctx, ZMQ_DEALER, 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id)), 0);
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

static void *router(fx *f, const char *ep)
{
    void *s = zx_socket(f->ctx, ZMQ_ROUTER, 0);
    int one = 1;
    zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    assert_int_equal(zmq_bind(s, ep), 0);
    return s;
}

static int setup(void **state)
{
    fx *f = xcalloc(1, sizeof *f);
    f->ctx = zmq_ctx_new();
    f->cr = router(f, "inproc://clients");
    f->wr = router(f, "inproc://workers");
    f->client = dealer(f, "client", "inproc://clients");
    f->c2 = dealer(f, "client-2", "inproc://clients");
    f->wa = dealer(f, "wA", "inproc://workers");
    f->wb = dealer(f, "wB", "inproc://workers");
    f->cfg = params_new(&params_master);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    dispatch_destroy(&f->d);
    void *socks[] = {f->cr, f->wr, f->client, f->c2, f->wa, f->wb};
    for (size_t i = 0; i < 6; i++)
        zmq_close(socks[i]);
    zmq_ctx_term(f->ctx);
    params_destroy(&f->cfg);
    free(f);
    return 0;
}

/* Applies "key", "value", ... NULL to the master config and makes the dispatcher. */
static void start(fx *f, const char *const *kv)
{
    char err[256];
    for (size_t i = 0; kv && kv[i]; i += 2)
        if (!params_set(f->cfg, kv[i], kv[i + 1], err, sizeof err))
            fail_msg("%s", err);
    f->d = dispatch_new(f->cr, f->wr, f->cfg, "master-test");
}

/* ---- the master's side of the sockets ---------------------------------------------- */

static bool readable(void *sock, int timeout_ms)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    return zmq_poll(&it, 1, timeout_ms) == 1;
}

/* Reads one routed message from a master ROUTER, as main.c's recv_routed. */
static packet *recv_routed(void *sock, zmq_msg_t *id, zmq_msg_t *body)
{
    if (!readable(sock, WAIT_MS))
        fail_msg("no message reached the master");
    zmq_msg_init(id);
    zmq_msg_init(body);
    assert_true(zmq_msg_recv(id, sock, 0) >= 0);
    assert_true(zmq_msg_more(id));
    assert_true(zmq_msg_recv(body, sock, 0) >= 0);
    assert_false(zmq_msg_more(body));
    packet *p = zx_decode(zmq_msg_data(body), zmq_msg_size(body));
    assert_non_null(p);
    return p;
}

static void route_client(fx *f)
{
    zmq_msg_t id, body;
    packet *p = recv_routed(f->cr, &id, &body);
    assert_int_equal(p->body_case, BULWARK__PACKET__BODY_JOB);
    dispatch_job(f->d, zmq_msg_data(&id), zmq_msg_size(&id), &body, p->job);
    zx_packet_free(&p);
    zmq_msg_close(&id);
    zmq_msg_close(&body);
}

static void route_worker(fx *f)
{
    zmq_msg_t id, body;
    packet *p = recv_routed(f->wr, &id, &body);
    dispatch_worker(f->d, zmq_msg_data(&id), zmq_msg_size(&id), &body, p, "anonymous");
    zx_packet_free(&p);
    zmq_msg_close(&id);
    zmq_msg_close(&body);
}

/* ---- the peers' side ------------------------------------------------------------------ */

static void send_pkt(void *sock, const packet *p)
{
    assert_int_equal(zx_send_packet(sock, p, 0), 0);
}

static void submit_rec(fx *f, void *client, const char *job_id, uint64_t deadline_ms, bool record)
{
    Bulwark__ScanJob j = BULWARK__SCAN_JOB__INIT;
    j.job_id = (char *)job_id;
    j.record = record;
    j.message.data = (uint8_t *)"Subject: hi\r\n\r\nbody\r\n";
    j.message.len = 21;
    j.deadline_ms = deadline_ms;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_JOB;
    p.job = &j;
    send_pkt(client, &p);
    route_client(f);
}

static void submit(fx *f, void *client, const char *job_id, uint64_t deadline_ms)
{
    submit_rec(f, client, job_id, deadline_ms, false);
}

static void submit_job(fx *f, const char *job_id)
{
    submit(f, f->client, job_id, now_ms() + 60000);
}

static void hello(fx *f, void *w, const char *node_id, uint32_t capacity, uint32_t credit)
{
    Bulwark__Hello h = BULWARK__HELLO__INIT;
    h.node_id = (char *)node_id;
    h.capacity = capacity;
    h.credit = credit;
    h.protocol = BW_PROTOCOL;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_HELLO;
    p.hello = &h;
    send_pkt(w, &p);
    route_worker(f);
}

static void result(fx *f, void *w, const char *job_id, const char *node_id)
{
    Bulwark__ScanResult r = BULWARK__SCAN_RESULT__INIT;
    r.job_id = (char *)job_id;
    r.node_id = (char *)node_id;
    r.action = BULWARK__ACTION__ACTION_REJECT;
    r.score = 99;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_RESULT;
    p.result = &r;
    send_pkt(w, &p);
    route_worker(f);
}

static void heartbeat(fx *f, void *w)
{
    Bulwark__Heartbeat hb = BULWARK__HEARTBEAT__INIT;
    hb.load = 1;
    hb.jobs_done = 5;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_HEARTBEAT;
    p.heartbeat = &hb;
    send_pkt(w, &p);
    route_worker(f);
}

static void credit(fx *f, void *w, uint32_t n)
{
    Bulwark__Credit c = BULWARK__CREDIT__INIT;
    c.credit = n;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_CREDIT;
    p.credit = &c;
    send_pkt(w, &p);
    route_worker(f);
}

static void bye(fx *f, void *w, bool final, bool stay, const char *handback)
{
    Bulwark__Bye b = BULWARK__BYE__INIT;
    char *ids[1] = {(char *)handback};
    b.reason = "test";
    b.final = final;
    b.stay = stay;
    if (handback) {
        b.n_handback = 1;
        b.handback = ids;
    }
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_BYE;
    p.bye = &b;
    send_pkt(w, &p);
    route_worker(f);
}

/* The next packet on a peer socket other than a heartbeat, or NULL after `ms`. */
static packet *next_pkt(void *sock, int ms)
{
    uint64_t end = mono_ms() + (uint64_t)ms;
    for (;;) {
        uint64_t now = mono_ms();
        if (!readable(sock, now >= end ? 0 : (int)(end - now)))
            return NULL;
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, sock, 0) >= 0);
        assert_false(zmq_msg_more(&m)); /* DEALER peers get the Packet frame alone */
        packet *p = zx_decode(zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
        assert_non_null(p);
        if (p->body_case != BULWARK__PACKET__BODY_HEARTBEAT)
            return p;
        zx_packet_free(&p);
    }
}

/* Asserts the node gets job `job_id` (the client's bytes, unchanged). */
static void expect_job(void *w, const char *job_id)
{
    packet *p = next_pkt(w, WAIT_MS);
    if (!p)
        fail_msg("node did not get job %s", job_id);
    assert_int_equal(p->body_case, BULWARK__PACKET__BODY_JOB);
    assert_string_equal(p->job->job_id, job_id);
    assert_int_equal(p->job->message.len, 21);
    assert_memory_equal(p->job->message.data, "Subject: hi\r\n\r\nbody\r\n", 21);
    zx_packet_free(&p);
}

/* Asserts the client gets the answer to `job_id` with `action` from `node_id`;
 * returns nothing, checks `reason` when not NULL. */
static void expect_answer(void *client, const char *job_id, Bulwark__Action action,
                          const char *node_id, const char *reason)
{
    packet *p = next_pkt(client, WAIT_MS);
    if (!p)
        fail_msg("client got no answer for %s", job_id);
    assert_int_equal(p->body_case, BULWARK__PACKET__BODY_RESULT);
    assert_string_equal(p->result->job_id, job_id);
    assert_int_equal(p->result->action, action);
    assert_string_equal(p->result->node_id, node_id);
    if (reason)
        assert_string_equal(p->result->reason, reason);
    zx_packet_free(&p);
}

static void expect_nothing(void *sock, int ms)
{
    packet *p = next_pkt(sock, ms);
    if (p) {
        int bc = p->body_case;
        zx_packet_free(&p);
        fail_msg("unexpected packet of type %d", bc);
    }
}

static Bulwark__StatusReply status(fx *f)
{
    Bulwark__StatusReply r = BULWARK__STATUS_REPLY__INIT;
    dispatch_status(f->d, &r);
    return r;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_result_reaches_client_once(void **state)
{
    fx *f = *state;
    start(f, NULL);
    hello(f, f->wa, "node-a", 2, 2);
    assert_int_equal(dispatch_node_count(f->d), 1);
    submit_job(f, "j1");
    expect_job(f->wa, "j1");
    assert_int_equal(dispatch_open_jobs(f->d), 1);

    Bulwark__StatusReply s = status(f);
    assert_int_equal(s.queue_depth, 0);
    assert_int_equal(s.in_flight, 1);
    assert_int_equal(s.n_nodes, 1);
    assert_string_equal(s.nodes[0]->node_id, "node-a");
    assert_string_equal(s.nodes[0]->peer, "anonymous");
    assert_int_equal(s.nodes[0]->capacity, 2);
    assert_int_equal(s.nodes[0]->credit, 1);
    assert_int_equal(s.nodes[0]->load, 1);
    dispatch_status_free(&s);

    result(f, f->wa, "j1", "node-a");
    expect_answer(f->client, "j1", BULWARK__ACTION__ACTION_REJECT, "node-a", NULL);
    assert_int_equal(dispatch_open_jobs(f->d), 0);

    /* The same result again (a node retrying, or a late twin) finds nothing. */
    result(f, f->wa, "j1", "node-a");
    expect_nothing(f->client, 100);
    const dispatch_stats *st = dispatch_get_stats(f->d);
    assert_int_equal(st->received, 1);
    assert_int_equal(st->answered, 1);
    assert_int_equal(st->dropped_results, 1);
    assert_int_equal(st->redispatched, 0);

    /* A result for a job that never existed is dropped as well. */
    result(f, f->wa, "never-was", "node-a");
    expect_nothing(f->client, 50);
    assert_int_equal(st->dropped_results, 2);

    /* Credit never grows past the capacity the node announced. */
    s = status(f);
    assert_int_equal(s.nodes[0]->credit, 2);
    assert_int_equal(s.nodes[0]->load, 0);
    assert_int_equal(s.jobs_answered, 1);
    assert_int_equal(s.results_dropped, 2);
    dispatch_status_free(&s);
}

static void test_no_credit_queues(void **state)
{
    fx *f = *state;
    start(f, NULL);
    hello(f, f->wa, "node-a", 1, 1);
    submit_job(f, "j1");
    expect_job(f->wa, "j1");
    submit_job(f, "j2");
    expect_nothing(f->wa, 100); /* no credit: j2 waits */
    Bulwark__StatusReply s = status(f);
    assert_int_equal(s.queue_depth, 1);
    assert_int_equal(s.in_flight, 1);
    assert_int_equal(s.nodes[0]->credit, 0);
    dispatch_status_free(&s);

    /* The result gives the credit back, and the waiting job goes out at once. */
    result(f, f->wa, "j1", "node-a");
    expect_answer(f->client, "j1", BULWARK__ACTION__ACTION_REJECT, "node-a", NULL);
    expect_job(f->wa, "j2");
    s = status(f);
    assert_int_equal(s.queue_depth, 0);
    assert_int_equal(s.in_flight, 1);
    dispatch_status_free(&s);
    result(f, f->wa, "j2", "node-a");
    expect_answer(f->client, "j2", BULWARK__ACTION__ACTION_REJECT, "node-a", NULL);
}

static void test_credit_packet_and_zero_credit_hello(void **state)
{
    fx *f = *state;
    start(f, NULL);
    hello(f, f->wa, "node-a", 4, 0); /* connected but busy */
    submit_job(f, "j1");
    expect_nothing(f->wa, 100);
    credit(f, f->wa, 1);
    expect_job(f->wa, "j1");
    /* Credit beyond the capacity is capped. */
    credit(f, f->wa, 1000);
    Bulwark__StatusReply s = status(f);
    assert_int_equal(s.nodes[0]->credit, 4);
    dispatch_status_free(&s);
}

static void test_most_free_credit_first(void **state)
{
    fx *f = *state;
    start(f, NULL);
    hello(f, f->wa, "node-a", 1, 1);
    hello(f, f->wb, "node-b", 3, 3);
    submit_job(f, "j1");
    expect_job(f->wb, "j1"); /* B has more free credit */
    submit_job(f, "j2");
    expect_job(f->wb, "j2"); /* still 2 against 1 */
    expect_nothing(f->wa, 50);
}

static void test_dead_node_job_redispatched(void **state)
{
    fx *f = *state;
    static const char *const kv[] = {"heartbeat_interval", "50ms", "heartbeat_liveness", "4", NULL};
    start(f, kv);
    hello(f, f->wa, "node-a", 1, 1);
    uint64_t a_seen = mono_ms();
    submit_job(f, "j1");
    expect_job(f->wa, "j1");
    hello(f, f->wb, "node-b", 1, 1);
    assert_int_equal(dispatch_node_count(f->d), 2);

    /* B keeps heartbeating, A says nothing more. */
    uint64_t end = mono_ms() + 5000;
    while (dispatch_node_count(f->d) == 2 && mono_ms() < end) {
        heartbeat(f, f->wb);
        dispatch_tick(f->d);
        usleep(10000);
    }
    uint64_t gone_after = mono_ms() - a_seen;
    assert_int_equal(dispatch_node_count(f->d), 1);
    assert_true(gone_after >= 190); /* not before liveness x interval (200 ms) */

    expect_job(f->wb, "j1");
    Bulwark__StatusReply s = status(f);
    assert_int_equal(s.n_nodes, 1);
    assert_string_equal(s.nodes[0]->node_id, "node-b");
    assert_int_equal(s.nodes[0]->jobs_done, 5); /* from B's heartbeats */
    assert_int_equal(s.jobs_redispatched, 1);
    dispatch_status_free(&s);

    result(f, f->wb, "j1", "node-b");
    expect_answer(f->client, "j1", BULWARK__ACTION__ACTION_REJECT, "node-b", NULL);
    expect_nothing(f->client, 50);

    /* A, presumed dead, speaks again without Hello: it is told to introduce itself. */
    heartbeat(f, f->wa);
    packet *p = next_pkt(f->wa, WAIT_MS);
    assert_non_null(p);
    assert_int_equal(p->body_case, BULWARK__PACKET__BODY_BYE);
    assert_string_equal(p->bye->reason, "unknown node: send Hello");
    zx_packet_free(&p);
    assert_int_equal(dispatch_node_count(f->d), 1);
}

static void test_heartbeats_carry_config_version(void **state)
{
    fx *f = *state;
    start(f, NULL);
    hello(f, f->wa, "node-a", 1, 1);
    dispatch_set_config_version(f->d, 7);
    assert_int_equal(dispatch_next_tick_ms(f->d), 0); /* due now */
    dispatch_tick(f->d);
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(readable(f->wa, WAIT_MS));
    assert_true(zmq_msg_recv(&m, f->wa, 0) >= 0);
    packet *p = zx_decode(zmq_msg_data(&m), zmq_msg_size(&m));
    zmq_msg_close(&m);
    assert_non_null(p);
    assert_int_equal(p->body_case, BULWARK__PACKET__BODY_HEARTBEAT);
    assert_int_equal(p->heartbeat->config_version, 7);
    zx_packet_free(&p);
    /* The next one is an interval away. */
    int next = dispatch_next_tick_ms(f->d);
    assert_true(next > 0 && next <= 1000);
}

static void test_attempt_timeout_redispatch(void **state)
{
    fx *f = *state;
    static const char *const kv[] = {"attempt_timeout", "100ms", NULL};
    start(f, kv);
    hello(f, f->wa, "node-a", 1, 1);
    submit_job(f, "j1");
    expect_job(f->wa, "j1");
    hello(f, f->wb, "node-b", 1, 1);

    /* A is alive but sits on the job: it goes to B. */
    packet *p = NULL;
    uint64_t end = mono_ms() + 3000;
    while (!p && mono_ms() < end) {
        dispatch_tick(f->d);
        p = next_pkt(f->wb, 20);
    }
    assert_non_null(p);
    assert_int_equal(p->body_case, BULWARK__PACKET__BODY_JOB);
    assert_string_equal(p->job->job_id, "j1");
    zx_packet_free(&p);
    assert_int_equal(dispatch_get_stats(f->d)->redispatched, 1);

    /* Whichever answers first is the answer; the other is dropped. */
    result(f, f->wa, "j1", "node-a");
    expect_answer(f->client, "j1", BULWARK__ACTION__ACTION_REJECT, "node-a", NULL);
    result(f, f->wb, "j1", "node-b");
    expect_nothing(f->client, 100);
    assert_int_equal(dispatch_get_stats(f->d)->dropped_results, 1);
    assert_int_equal(dispatch_open_jobs(f->d), 0);
}

static void test_deadline_expires_tempfail(void **state)
{
    fx *f = *state;
    start(f, NULL);
    /* No node at all: the job waits, then its deadline passes. */
    uint64_t t0 = mono_ms();
    submit(f, f->client, "late", now_ms() + 150);
    assert_int_equal(dispatch_open_jobs(f->d), 1);
    packet *p = NULL;
    while (!p && mono_ms() < t0 + 3000) {
        dispatch_tick(f->d);
        p = next_pkt(f->client, 10);
    }
    assert_non_null(p);
    assert_true(mono_ms() - t0 >= 140);
    assert_int_equal(p->body_case, BULWARK__PACKET__BODY_RESULT);
    assert_string_equal(p->result->job_id, "late");
    assert_int_equal(p->result->action, BULWARK__ACTION__ACTION_TEMPFAIL);
    assert_string_equal(p->result->reason, "scan deadline expired");
    assert_string_equal(p->result->node_id, "master-test");
    zx_packet_free(&p);
    assert_int_equal(dispatch_open_jobs(f->d), 0);
    assert_int_equal(dispatch_get_stats(f->d)->expired, 1);
    assert_int_equal(dispatch_get_stats(f->d)->answered, 1);

    /* A deadline already past when the job arrives: answered at the next tick even
     * though a node took it, and the node's late result is dropped. */
    hello(f, f->wa, "node-a", 1, 1);
    submit(f, f->client, "past", now_ms() - 1000);
    expect_job(f->wa, "past");
    usleep(110000); /* the deadline walk runs at most every 100 ms */
    dispatch_tick(f->d);
    expect_answer(f->client, "past", BULWARK__ACTION__ACTION_TEMPFAIL, "master-test",
                  "scan deadline expired");
    result(f, f->wa, "past", "node-a");
    expect_nothing(f->client, 50);
    assert_int_equal(dispatch_get_stats(f->d)->expired, 2);
}

static void test_bye_handback_not_an_attempt(void **state)
{
    fx *f = *state;
    /* With one attempt allowed, a handback that counted would tempfail the job. */
    static const char *const kv[] = {"max_attempts", "1", NULL};
    start(f, kv);
    hello(f, f->wa, "node-a", 2, 2);
    submit_job(f, "j1");
    expect_job(f->wa, "j1");
    hello(f, f->wb, "node-b", 1, 1);

    bye(f, f->wa, false, false, "j1"); /* draining: hands j1 back unscanned */
    expect_job(f->wb, "j1");
    expect_nothing(f->client, 50);
    assert_int_equal(dispatch_node_count(f->d), 2); /* A is draining, not gone */
    assert_int_equal(dispatch_get_stats(f->d)->redispatched, 1);

    /* A draining node gets no new work even with credit; B is full, so j2 waits. */
    submit_job(f, "j2");
    expect_nothing(f->wa, 50);
    Bulwark__StatusReply s = status(f);
    assert_int_equal(s.queue_depth, 1);
    dispatch_status_free(&s);

    result(f, f->wb, "j1", "node-b");
    expect_answer(f->client, "j1", BULWARK__ACTION__ACTION_REJECT, "node-b", NULL);
    expect_job(f->wb, "j2");

    /* Handing back a job the node does not hold changes nothing. */
    bye(f, f->wa, false, false, "j2");
    expect_nothing(f->wb, 50);
    assert_int_equal(dispatch_get_stats(f->d)->redispatched, 1);

    /* A Hello ends draining. */
    hello(f, f->wa, "node-a", 2, 2);
    submit_job(f, "j3");
    expect_job(f->wa, "j3");
}

static void test_bye_stay_keeps_node(void **state)
{
    fx *f = *state;
    static const char *const kv[] = {"max_attempts", "1", NULL};
    start(f, kv);
    hello(f, f->wa, "node-a", 1, 1);
    submit_job(f, "j1");
    expect_job(f->wa, "j1");
    /* "Take this one back, I keep working": the node is not drained, the job is
     * not counted as an attempt, and it is dispatched again. */
    bye(f, f->wa, false, true, "j1");
    expect_job(f->wa, "j1");
    expect_nothing(f->client, 50);
    result(f, f->wa, "j1", "node-a");
    expect_answer(f->client, "j1", BULWARK__ACTION__ACTION_REJECT, "node-a", NULL);
    submit_job(f, "j2");
    expect_job(f->wa, "j2");
}

static void test_final_bye_and_max_attempts(void **state)
{
    fx *f = *state;
    static const char *const kv[] = {"max_attempts", "2", NULL};
    start(f, kv);
    hello(f, f->wa, "node-a", 1, 1);
    submit_job(f, "j1");
    expect_job(f->wa, "j1");
    hello(f, f->wb, "node-b", 1, 1);

    bye(f, f->wa, true, false, NULL); /* A leaves for good: attempt 1 lost */
    assert_int_equal(dispatch_node_count(f->d), 1);
    expect_job(f->wb, "j1");
    expect_nothing(f->client, 50);

    bye(f, f->wb, true, false, NULL); /* attempt 2 lost: no more tries */
    assert_int_equal(dispatch_node_count(f->d), 0);
    expect_answer(f->client, "j1", BULWARK__ACTION__ACTION_TEMPFAIL, "master-test",
                  "no node could scan the message");
    expect_nothing(f->client, 50);
    assert_int_equal(dispatch_open_jobs(f->d), 0);
    const dispatch_stats *st = dispatch_get_stats(f->d);
    assert_int_equal(st->redispatched, 1);
    assert_int_equal(st->answered, 1);
}

static void test_rehello_requeues(void **state)
{
    fx *f = *state;
    start(f, NULL);
    hello(f, f->wa, "node-a", 1, 1);
    submit_job(f, "j1");
    expect_job(f->wa, "j1");
    /* The node restarted on the same connection: what it held is lost to it. */
    hello(f, f->wa, "node-a", 1, 1);
    expect_job(f->wa, "j1");
    assert_int_equal(dispatch_node_count(f->d), 1);
    assert_int_equal(dispatch_get_stats(f->d)->redispatched, 1);
}

static void test_queue_max_overflow(void **state)
{
    fx *f = *state;
    static const char *const kv[] = {"queue_max", "2", NULL};
    start(f, kv);
    submit_job(f, "q1");
    submit_job(f, "q2");
    expect_nothing(f->client, 50);
    submit_job(f, "q3");
    expect_answer(f->client, "q3", BULWARK__ACTION__ACTION_TEMPFAIL, "master-test",
                  "cluster overloaded");
    assert_int_equal(dispatch_open_jobs(f->d), 2);
    assert_int_equal(dispatch_get_stats(f->d)->rejected_full, 1);
    Bulwark__StatusReply s = status(f);
    assert_int_equal(s.queue_depth, 2);
    assert_int_equal(s.jobs_received, 3);
    dispatch_status_free(&s);

    /* Room again once a queued job is done. */
    hello(f, f->wa, "node-a", 1, 1);
    expect_job(f->wa, "q1");
    result(f, f->wa, "q1", "node-a");
    expect_answer(f->client, "q1", BULWARK__ACTION__ACTION_REJECT, "node-a", NULL);
    expect_job(f->wa, "q2");
    submit_job(f, "q4");
    expect_nothing(f->client, 50);
    assert_int_equal(dispatch_open_jobs(f->d), 2);
}

static void test_duplicate_submit_answered_once(void **state)
{
    fx *f = *state;
    start(f, NULL);
    submit_job(f, "dup");
    submit(f, f->c2, "dup", now_ms() + 60000); /* the client retried on a new connection */
    assert_int_equal(dispatch_open_jobs(f->d), 1);
    hello(f, f->wa, "node-a", 2, 2);
    expect_job(f->wa, "dup");
    expect_nothing(f->wa, 50); /* sent once */
    result(f, f->wa, "dup", "node-a");
    expect_answer(f->c2, "dup", BULWARK__ACTION__ACTION_REJECT, "node-a", NULL);
    expect_nothing(f->client, 50); /* only the latest connection gets it */
}

static void test_bad_job_id(void **state)
{
    fx *f = *state;
    start(f, NULL);
    submit_job(f, "");
    char longid[260];
    memset(longid, 'x', 201);
    longid[201] = '\0';
    submit_job(f, longid);
    expect_nothing(f->client, 50);
    assert_int_equal(dispatch_open_jobs(f->d), 0);
    assert_int_equal(dispatch_get_stats(f->d)->bad_client, 2);
    longid[200] = '\0'; /* 200 characters is still fine */
    submit_job(f, longid);
    assert_int_equal(dispatch_open_jobs(f->d), 1);
}

static void test_fail_all(void **state)
{
    fx *f = *state;
    start(f, NULL);
    hello(f, f->wa, "node-a", 1, 1);
    submit_job(f, "f1");
    expect_job(f->wa, "f1");
    submit_job(f, "f2");
    submit_job(f, "f3");
    assert_int_equal(dispatch_open_jobs(f->d), 3);

    dispatch_fail_all(f->d, "master shutting down");
    assert_int_equal(dispatch_open_jobs(f->d), 0);
    /* Every open job answered once, in arrival order. */
    expect_answer(f->client, "f1", BULWARK__ACTION__ACTION_TEMPFAIL, "master-test",
                  "master shutting down");
    expect_answer(f->client, "f2", BULWARK__ACTION__ACTION_TEMPFAIL, "master-test",
                  "master shutting down");
    expect_answer(f->client, "f3", BULWARK__ACTION__ACTION_TEMPFAIL, "master-test",
                  "master shutting down");
    expect_nothing(f->client, 50);

    result(f, f->wa, "f1", "node-a");
    expect_nothing(f->client, 50);
    assert_int_equal(dispatch_get_stats(f->d)->dropped_results, 1);
    assert_int_equal(dispatch_get_stats(f->d)->answered, 3);
    dispatch_fail_all(f->d, "again"); /* nothing left: no-op */
    expect_nothing(f->client, 50);
}

/* A node speaking another protocol version gets a 505 Error, is not registered, gets
 * no jobs; the same node saying Hello with our version then works. */
static void test_protocol_mismatch_refused(void **state)
{
    fx *f = *state;
    start(f, NULL);
    Bulwark__Hello h = BULWARK__HELLO__INIT;
    h.node_id = "future";
    h.capacity = 4;
    h.credit = 4;
    h.protocol = BW_PROTOCOL + 1;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_HELLO;
    p.hello = &h;
    send_pkt(f->wa, &p);
    route_worker(f);
    packet *e = next_pkt(f->wa, WAIT_MS);
    assert_non_null(e);
    assert_int_equal(e->body_case, BULWARK__PACKET__BODY_ERROR);
    assert_int_equal(e->error->code, 505);
    assert_non_null(strstr(e->error->text, "not supported"));
    zx_packet_free(&e);
    assert_int_equal(dispatch_node_count(f->d), 0);
    assert_int_equal(dispatch_get_stats(f->d)->bad_worker, 1);
    submit_job(f, "j1");
    expect_nothing(f->wa, 100);
    hello(f, f->wa, "future", 4, 4);
    expect_job(f->wa, "j1");
}

static void test_stop_accepting(void **state)
{
    fx *f = *state;
    start(f, NULL);
    hello(f, f->wa, "node-a", 1, 1);
    submit_job(f, "s1");
    expect_job(f->wa, "s1");
    dispatch_stop_accepting(f->d);
    submit_job(f, "s2");
    expect_answer(f->client, "s2", BULWARK__ACTION__ACTION_TEMPFAIL, "master-test",
                  "master shutting down");
    expect_nothing(f->wa, 50);
    /* The job in hand is still answered normally. */
    result(f, f->wa, "s1", "node-a");
    expect_answer(f->client, "s1", BULWARK__ACTION__ACTION_REJECT, "node-a", NULL);
}

/* ---- the recorder hook ------------------------------------------------------------------- */

typedef struct {
    int calls;
    char job_id[64];
    char client[64];
    packet *job, *result; /* decoded from the frames the hook was given */
} hook_seen;

static void hook(void *arg, const void *client, size_t client_len, zmq_msg_t *job_frame,
                 zmq_msg_t *result_frame, const char *job_id)
{
    hook_seen *h = arg;
    h->calls++;
    snprintf(h->job_id, sizeof h->job_id, "%s", job_id);
    snprintf(h->client, sizeof h->client, "%.*s", (int)client_len, (const char *)client);
    zx_packet_free(&h->job);
    zx_packet_free(&h->result);
    h->job = zx_decode(zmq_msg_data(job_frame), zmq_msg_size(job_frame));
    h->result = zx_decode(zmq_msg_data(result_frame), zmq_msg_size(result_frame));
    zmq_msg_close(job_frame); /* the hook owns both frames */
    zmq_msg_close(result_frame);
}

static void hook_clear(hook_seen *h)
{
    zx_packet_free(&h->job);
    zx_packet_free(&h->result);
}

static void test_record_job_goes_to_hook_once(void **state)
{
    fx *f = *state;
    hook_seen h = {0};
    start(f, NULL);
    dispatch_set_recorder(f->d, hook, &h);
    hello(f, f->wa, "node-a", 2, 2);
    submit_rec(f, f->client, "r1", now_ms() + 60000, true);
    expect_job(f->wa, "r1");
    result(f, f->wa, "r1", "node-a");
    /* The client hears nothing from the dispatcher: the hook answers after recording. */
    expect_nothing(f->client, 100);
    assert_int_equal(h.calls, 1);
    assert_string_equal(h.job_id, "r1");
    assert_string_equal(h.client, "client");
    assert_non_null(h.job);
    assert_int_equal(h.job->body_case, BULWARK__PACKET__BODY_JOB);
    assert_string_equal(h.job->job->job_id, "r1");
    assert_true(h.job->job->record);
    assert_memory_equal(h.job->job->message.data, "Subject: hi\r\n\r\nbody\r\n", 21);
    assert_non_null(h.result);
    assert_int_equal(h.result->result->action, BULWARK__ACTION__ACTION_REJECT);
    assert_int_equal(dispatch_open_jobs(f->d), 0);
    const dispatch_stats *st = dispatch_get_stats(f->d);
    assert_int_equal(st->answered, 1);
    assert_int_equal(st->to_recorder, 1);

    /* A second result for the same job finds no job: not recorded twice. */
    result(f, f->wa, "r1", "node-a");
    expect_nothing(f->client, 50);
    assert_int_equal(h.calls, 1);
    assert_int_equal(st->dropped_results, 1);

    /* A job without `record` is answered directly, the hook never sees it. */
    submit_job(f, "plain");
    expect_job(f->wa, "plain");
    result(f, f->wa, "plain", "node-a");
    expect_answer(f->client, "plain", BULWARK__ACTION__ACTION_REJECT, "node-a", NULL);
    assert_int_equal(h.calls, 1);
    assert_int_equal(st->to_recorder, 1);
    hook_clear(&h);
}

static void test_record_job_tempfail_and_no_hook(void **state)
{
    fx *f = *state;
    hook_seen h = {0};
    start(f, NULL);
    /* Without a recorder a record job is answered like any other. */
    hello(f, f->wa, "node-a", 1, 1);
    submit_rec(f, f->client, "r2", now_ms() + 60000, true);
    expect_job(f->wa, "r2");
    result(f, f->wa, "r2", "node-a");
    expect_answer(f->client, "r2", BULWARK__ACTION__ACTION_REJECT, "node-a", NULL);

    /* A tempfail the master makes itself (deadline) is not a verdict: no hook. */
    dispatch_set_recorder(f->d, hook, &h);
    submit_rec(f, f->client, "r3", now_ms() + 200, true);
    expect_job(f->wa, "r3");
    usleep(300000);
    dispatch_tick(f->d);
    expect_answer(f->client, "r3", BULWARK__ACTION__ACTION_TEMPFAIL, "master-test",
                  "scan deadline expired");
    assert_int_equal(h.calls, 0);
    /* The node's late result is dropped, not recorded. */
    result(f, f->wa, "r3", "node-a");
    assert_int_equal(h.calls, 0);
    hook_clear(&h);
}

/* The master's own jobs (learn jobs for released quarantine entries): no client
 * routing id. The result goes to the hook with an empty client; an expiry is dropped
 * quietly (there is nobody to tell) and not counted as a lost reply. */
static void internal_job(fx *f, const char *job_id, uint64_t deadline_ms)
{
    Bulwark__ScanJob j = BULWARK__SCAN_JOB__INIT;
    j.job_id = (char *)job_id;
    j.record = true;
    j.learn = BULWARK__LEARN_AS__LEARN_HAM;
    j.message.data = (uint8_t *)"Subject: hi\r\n\r\nbody\r\n";
    j.message.len = 21;
    j.deadline_ms = deadline_ms;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_JOB;
    p.job = &j;
    zmq_msg_t frame;
    zx_pack(&p, &frame);
    dispatch_job(f->d, "", 0, &frame, &j);
}

static void test_internal_job_without_client(void **state)
{
    fx *f = *state;
    hook_seen h = {0};
    start(f, NULL);
    dispatch_set_recorder(f->d, hook, &h);
    hello(f, f->wa, "node-a", 1, 1);
    internal_job(f, "q1:learn-ham", now_ms() + 60000);
    packet *p = next_pkt(f->wa, 1000);
    assert_non_null(p);
    assert_int_equal(p->body_case, BULWARK__PACKET__BODY_JOB);
    assert_int_equal(p->job->learn, BULWARK__LEARN_AS__LEARN_HAM);
    zx_packet_free(&p);
    result(f, f->wa, "q1:learn-ham", "node-a");
    assert_int_equal(h.calls, 1);
    assert_string_equal(h.client, "");
    assert_string_equal(h.job_id, "q1:learn-ham");
    assert_int_equal(h.job->job->learn, BULWARK__LEARN_AS__LEARN_HAM);
    expect_nothing(f->client, 50);

    /* The node sits on it: it expires at its deadline without an answer to anyone. */
    internal_job(f, "q2:learn-ham", now_ms() + 100);
    expect_job(f->wa, "q2:learn-ham");
    usleep(250000);
    dispatch_tick(f->d);
    expect_nothing(f->client, 50);
    assert_int_equal(h.calls, 1);
    assert_int_equal(dispatch_open_jobs(f->d), 0);
    assert_int_equal(dispatch_get_stats(f->d)->expired, 1);
    hook_clear(&h);
}

int main(void)
{
    log_set_level(LOG_ERROR);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_result_reaches_client_once),
        T(test_no_credit_queues),
        T(test_credit_packet_and_zero_credit_hello),
        T(test_most_free_credit_first),
        T(test_dead_node_job_redispatched),
        T(test_heartbeats_carry_config_version),
        T(test_attempt_timeout_redispatch),
        T(test_deadline_expires_tempfail),
        T(test_bye_handback_not_an_attempt),
        T(test_bye_stay_keeps_node),
        T(test_final_bye_and_max_attempts),
        T(test_rehello_requeues),
        T(test_queue_max_overflow),
        T(test_duplicate_submit_answered_once),
        T(test_bad_job_id),
        T(test_fail_all),
        T(test_protocol_mismatch_refused),
        T(test_stop_accepting),
        T(test_record_job_goes_to_hook_once),
        T(test_record_job_tempfail_and_no_hook),
        T(test_internal_job_without_client),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
