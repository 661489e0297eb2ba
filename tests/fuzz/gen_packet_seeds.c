/* gen_packet_seeds.c - writes the seed corpus of fuzz_packet: one valid Packet per body.
 *
 * Usage: gen_packet_seeds DIR. Each file is a packed Packet as it crosses a socket
 * (a scan job with envelope and message, a result with symbols and headers, the
 * node handshake, config messages, status). The fields are filled so that every
 * wire type the schema uses appears: varints, doubles, strings, bytes, repeated
 * and nested messages. The files are committed; rerun only when the schema grows. */
#include "zmqx.h"

#include <stdio.h>
#include <stdlib.h>

static const char *dir;

static void put(const char *name, Bulwark__Packet *p)
{
    size_t n = bulwark__packet__get_packed_size(p);
    uint8_t *b = malloc(n ? n : 1);
    bulwark__packet__pack(p, b);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    free(b);
    printf("%s: %zu bytes\n", path, n);
}

static void job(void)
{
    static const char msg[] = "From: a@example.com\r\nTo: b@example.org\r\n"
                              "Subject: hi\r\nDate: Mon, 2 Jan 2023 10:00:00 +0000\r\n"
                              "Message-ID: <1@example.com>\r\n\r\nhello\r\n";
    static char *rcpt[] = {"b@example.org", "c@example.org"};
    Bulwark__Envelope env = BULWARK__ENVELOPE__INIT;
    env.client_ip = "192.0.2.1";
    env.client_name = "mx.example.com";
    env.helo = "mx.example.com";
    env.mail_from = "a@example.com";
    env.n_rcpt = 2;
    env.rcpt = rcpt;
    env.auth_user = "alice";
    env.tls = true;
    env.tls_version = "TLSv1.3";
    env.tls_cipher = "TLS_AES_256_GCM_SHA384";
    env.queue_id = "4Xyz1";
    Bulwark__ScanJob j = BULWARK__SCAN_JOB__INIT;
    j.job_id = "job-1";
    j.envelope = &env;
    j.message.data = (uint8_t *)msg;
    j.message.len = sizeof msg - 1;
    j.deadline_ms = 1700000030000;
    j.submitted_ms = 1700000000000;
    Bulwark__Packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_JOB;
    p.job = &j;
    put("job", &p);
}

static void result(void)
{
    Bulwark__Symbol s1 = BULWARK__SYMBOL__INIT, s2 = BULWARK__SYMBOL__INIT;
    s1.name = "MISSING_DATE";
    s1.score = 1.0;
    s1.detail = "no Date field";
    s2.name = "GTUBE";
    s2.score = 1000.0;
    s2.detail = "GTUBE test string in body";
    Bulwark__Symbol *sv[] = {&s2, &s1};
    Bulwark__Header h = BULWARK__HEADER__INIT;
    h.name = "X-Bulwark-Status";
    h.value = "reject score=1001.00";
    Bulwark__Header *hv[] = {&h};
    Bulwark__ScanResult r = BULWARK__SCAN_RESULT__INIT;
    r.job_id = "job-1";
    r.action = BULWARK__ACTION__ACTION_REJECT;
    r.score = 1001.0;
    r.n_symbols = 2;
    r.symbols = sv;
    r.n_add_headers = 1;
    r.add_headers = hv;
    r.scan_us = 42;
    r.node_id = "node-a";
    r.config_version = 7;
    r.reason = "GTUBE test message";
    r.subject_prefix = "[SPAM]";
    Bulwark__Packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_RESULT;
    p.result = &r;
    put("result", &p);
}

static void node_messages(void)
{
    Bulwark__Packet p = BULWARK__PACKET__INIT;
    Bulwark__Hello hello = BULWARK__HELLO__INIT;
    hello.node_id = "node-a";
    hello.capacity = 8;
    hello.credit = 8;
    hello.config_version = 3;
    hello.protocol = BW_PROTOCOL;
    hello.software = "bulwark-node 0.1.0";
    p.body_case = BULWARK__PACKET__BODY_HELLO;
    p.hello = &hello;
    put("hello", &p);

    Bulwark__Heartbeat hb = BULWARK__HEARTBEAT__INIT;
    hb.capacity = 8;
    hb.load = 3;
    hb.config_version = 3;
    hb.jobs_done = 12345;
    hb.load_avg = 0.75;
    p.body_case = BULWARK__PACKET__BODY_HEARTBEAT;
    p.heartbeat = &hb;
    put("heartbeat", &p);

    Bulwark__Credit cr = BULWARK__CREDIT__INIT;
    cr.credit = 2;
    p.body_case = BULWARK__PACKET__BODY_CREDIT;
    p.credit = &cr;
    put("credit", &p);

    static char *handback[] = {"job-2", "job-3"};
    Bulwark__Bye bye = BULWARK__BYE__INIT;
    bye.reason = "shutdown";
    bye.n_handback = 2;
    bye.handback = handback;
    bye.final = true;
    p.body_case = BULWARK__PACKET__BODY_BYE;
    p.bye = &bye;
    put("bye", &p);
    bye.final = false;
    bye.stay = true;
    bye.reason = "over capacity";
    put("bye-stay", &p);

    Bulwark__Error e = BULWARK__ERROR__INIT;
    e.code = 451;
    e.text = "no scanner available";
    p.body_case = BULWARK__PACKET__BODY_ERROR;
    p.error = &e;
    put("error", &p);
}

static void config_messages(void)
{
    Bulwark__Packet p = BULWARK__PACKET__INIT;
    Bulwark__ConfigEntry e1 = BULWARK__CONFIG_ENTRY__INIT, e2 = BULWARK__CONFIG_ENTRY__INIT;
    e1.key = "policy.tag_score";
    e1.value = "4.5";
    e2.key = "score.MISSING_DATE";
    e2.value = "2.5";
    Bulwark__ConfigEntry *ev[] = {&e1, &e2};

    Bulwark__ConfigSnapshot snap = BULWARK__CONFIG_SNAPSHOT__INIT;
    snap.version = 9;
    snap.n_entries = 2;
    snap.entries = ev;
    snap.author = "admin";
    snap.created_ms = 1700000000000;
    snap.comment = "lower tag threshold";
    p.body_case = BULWARK__PACKET__BODY_SNAPSHOT;
    p.snapshot = &snap;
    put("snapshot", &p);

    Bulwark__ConfigGet get = BULWARK__CONFIG_GET__INIT;
    get.version = 0;
    p.body_case = BULWARK__PACKET__BODY_CONFIG_GET;
    p.config_get = &get;
    put("config_get", &p);

    static char *unset[] = {"policy.subject_prefix"};
    Bulwark__ConfigSet set = BULWARK__CONFIG_SET__INIT;
    set.n_set = 2;
    set.set = ev;
    set.n_unset = 1;
    set.unset = unset;
    set.author = "admin";
    set.comment = "tune";
    set.base_version = 8;
    p.body_case = BULWARK__PACKET__BODY_CONFIG_SET;
    p.config_set = &set;
    put("config_set", &p);

    Bulwark__ConfigHistory hist = BULWARK__CONFIG_HISTORY__INIT;
    hist.limit = 10;
    p.body_case = BULWARK__PACKET__BODY_CONFIG_HISTORY;
    p.config_history = &hist;
    put("config_history", &p);

    Bulwark__ConfigVersionInfo v = BULWARK__CONFIG_VERSION_INFO__INIT;
    v.version = 9;
    v.author = "admin";
    v.created_ms = 1700000000000;
    v.comment = "lower tag threshold";
    v.change = "policy.tag_score: 5 -> 4.5";
    Bulwark__ConfigVersionInfo *vv[] = {&v};
    Bulwark__ConfigHistoryReply hr = BULWARK__CONFIG_HISTORY_REPLY__INIT;
    hr.n_versions = 1;
    hr.versions = vv;
    p.body_case = BULWARK__PACKET__BODY_HISTORY;
    p.history = &hr;
    put("history", &p);
}

static void status_messages(void)
{
    Bulwark__Packet p = BULWARK__PACKET__INIT;
    Bulwark__StatusRequest req = BULWARK__STATUS_REQUEST__INIT;
    p.body_case = BULWARK__PACKET__BODY_STATUS;
    p.status = &req;
    put("status", &p);

    Bulwark__NodeStatus ns = BULWARK__NODE_STATUS__INIT;
    ns.node_id = "node-a";
    ns.peer = "node-a";
    ns.capacity = 8;
    ns.load = 2;
    ns.credit = 6;
    ns.config_version = 9;
    ns.jobs_done = 100;
    ns.last_seen_ms = 250;
    ns.load_avg = 1.5;
    Bulwark__NodeStatus *nv[] = {&ns};
    Bulwark__StatusReply sr = BULWARK__STATUS_REPLY__INIT;
    sr.master_id = "master-1";
    sr.config_version = 9;
    sr.queue_depth = 1;
    sr.in_flight = 2;
    sr.n_nodes = 1;
    sr.nodes = nv;
    sr.jobs_received = 1000;
    sr.jobs_answered = 998;
    sr.jobs_redispatched = 3;
    sr.jobs_expired = 1;
    sr.results_dropped = 0;
    sr.bad_frames_client = 2;
    sr.bad_frames_worker = 0;
    sr.uptime_ms = 86400000;
    sr.zap_refused = 1;
    p.body_case = BULWARK__PACKET__BODY_STATUS_REPLY;
    p.status_reply = &sr;
    put("status_reply", &p);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_packet_seeds DIR\n");
        return 2;
    }
    dir = argv[1];
    job();
    result();
    node_messages();
    config_messages();
    status_messages();
    return 0;
}
