/* bulwarkctl.c - the operator's command-line tool (in the manner of rspamc/postconf).
 *
 *   bulwarkctl [global options] COMMAND [options] [args]
 *
 * Commands talk to the master's client socket (a DEALER with CURVE), except
 * `scan --local`, which runs the node's pipeline in this process, `keygen` and
 * `config doc`. Cluster scans keep a window of jobs in flight and print each
 * result as it arrives; every result received is printed, so a duplicate answer
 * from the cluster would show as two lines for one file. Exit status: 0 when
 * every request got an answer, 1 when something failed, 2 for usage errors. */
#include "clam.h"
#include "cli.h"
#include "dkimctl.h"
#include "dns.h"
#include "fuzzy.h"
#include "hdr.h"
#include "json.h"
#include "keys.h"
#include "learn.h"
#include "log.h"
#include "params.h"
#include "pipeline.h"
#include "redisx.h"
#include "spfctl.h"
#include "util.h"
#include "zmqx.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    params *cfg;
    const char *master, *key, *server_key;
    bool no_curve, json;
    int64_t timeout_ms;
    void *ctx, *sock;
} ctl;

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static const char *usage_text =
    "usage: bulwarkctl [global options] COMMAND [options] [args]\n"
    "\n"
    "commands:\n"
    "  status [--json]                      nodes, load, config version, queue depth\n"
    "  scan [--local] [--record] [--json] [envelope] PATH...\n"
    "                                       scan files (directories recursively)\n"
    "      --ip IP --helo NAME --from ADDR --rcpt ADDR (repeatable)\n"
    "      --local: run the pipeline here; --set KEY=VALUE and --config FILE\n"
    "               give cluster parameters (default: built-in defaults)\n"
    "      --clamav-db DIR: (--local) scan with ClamAV using the signatures in DIR\n"
    "               (without it, ClamAV reports CLAM_UNAVAILABLE)\n"
    "      --record: have the master log the verdict (and quarantine) as for mail\n"
    "      --redis HOST:PORT: (--local) Redis for Bayes/fuzzy (default: redis_server)\n"
    "      --dns HOST:PORT: (--local) the DNS server for SPF/DKIM/DMARC lookups\n"
    "               (repeatable; without it the checks that need DNS stay silent)\n"
    "      --dns-stub ZONE=HOST:PORT: (--local) names in ZONE go to that server\n"
    "               (authoritative, e.g. rbldnsd for a block list; repeatable)\n"
    "  learn --spam|--ham [--scope global|domain:D|user:ADDR] [--redis HOST:PORT]\n"
    "        PATH...                        teach the Bayes classifier (directories\n"
    "                                       recursively; per file: learned, already\n"
    "                                       learned, moved)\n"
    "      --set KEY=VALUE, --config FILE: cluster parameters (check.bayes.max_tokens,\n"
    "               check.bayes.osb_window: the tokens must be those the scans use)\n"
    "      --cluster [--json]: through the master to a node (no Redis access needed;\n"
    "                          one result line per file, LEARNED_SPAM/LEARNED_HAM)\n"
    "  fuzzy learn --spam|--ham [--redis HOST:PORT] PATH...   near-duplicate hashes\n"
    "  fuzzy check [--redis HOST:PORT] PATH...  similarity to learned spam\n"
    "  dkim verify [--dns HOST:PORT] [--json] [--time EPOCH] FILE...\n"
    "                                       every DKIM signature's result (exit 0 when\n"
    "                                       each file has a passing one)\n"
    "  dkim sign --domain D --selector S --key PEM [--algorithm A] [--canon H/B]\n"
    "            [--headers LIST] [--identity I] [--expire S] [--length] [--header-only]\n"
    "            FILE                       print the message with a DKIM-Signature\n"
    "  dkim keygen --type rsa|ed25519 [--bits 2048] --selector S --domain D --out PEM\n"
    "                                       a signing key and the TXT record to publish\n"
    "  dkim secret --out FILE               the cluster key for the nodes' dkim_key_file\n"
    "  dkim seal --secret FILE --domain D --selector S PEM\n"
    "                                       the sealed key as a dkim.sign.D.S config line\n"
    "  spf [--dns HOST:PORT] [--timeout DURATION] [--json] [--identity mailfrom|helo]\n"
    "      [--receiver NAME] [--default-exp TEXT] --ip IP [--helo NAME] [--mail-from ADDR]\n"
    "                                       the SPF result (RFC 7208) for a client, with\n"
    "                                       the deciding mechanism, the explanation and\n"
    "                                       the lookups used; --batch: cases from stdin,\n"
    "                                       IP<TAB>HELO<TAB>MAIL-FROM a line\n"
    "  dns lookup [--dns HOST:PORT] [--dns-stub ZONE=HOST:PORT] [--timeout DURATION]\n"
    "             [--repeat N [--interval D]]\n"
    "             [--json] NAME [TYPE...]   ask the node's resolver (types A, AAAA, MX,\n"
    "                                       TXT, PTR, NS, CNAME, SPF or a number; default\n"
    "                                       A, or PTR when NAME is an IP address); --repeat:\n"
    "                                       ask again in the same process (cache), D apart;\n"
    "                                       without --dns: full recursion from the roots\n"
    "  dmarc report --day YYYY-MM-DD|yesterday [--domain D] [--out DIR] [--send]\n"
    "               [--resend] [--json]     DMARC aggregate reports of one UTC day, built\n"
    "                                       by the master, one per policy domain; --out:\n"
    "                                       write each as DIR/<report name>.xml; --send:\n"
    "                                       mail them gzipped to their rua addresses via\n"
    "                                       dmarc.report.relay (admin; once per domain and\n"
    "                                       day unless --resend)\n"
    "  config get [--changed] [--version N] [KEY]\n"
    "  config set [--comment TEXT] [--base N] KEY=VALUE... | KEY VALUE\n"
    "  config unset [--comment TEXT] KEY...\n"
    "  config history [--limit N]\n"
    "  config doc                           the parameter reference (Markdown)\n"
    "  quarantine list [--recipient R] [--sender S] [--since T] [--until T]\n"
    "                  [--status held|released] [--limit N] [--json]\n"
    "  quarantine show [--raw] ID           metadata, symbols, headers (--raw: the message)\n"
    "  quarantine release [--no-learn] ID...  deliver to quarantine.release_relay\n"
    "                                       (admin); learned as ham unless --no-learn\n"
    "                                       (quarantine.learn_on_release)\n"
    "  quarantine delete ID...              (admin)\n"
    "  log search [--id ID] [--sender S] [--recipient R] [--ip IP] [--action A]\n"
    "             [--since T] [--until T] [--limit N] [--csv|--json]\n"
    "      T: 2026-11-24, 2026-11-24T10:00:00Z (UTC) or an age: 30m, 2h, 7d;\n"
    "      S and R match any part of the address; newest first, --limit 1..10000\n"
    "      (default 100)\n"
    "  keygen [--dir DIR] [--role ROLES] NAME\n"
    "                                       write DIR/NAME.key and DIR/NAME.pub; ROLES\n"
    "                                       (node|client|admin, default node) goes in\n"
    "                                       the allow-list line it prints\n"
    "  version\n"
    "\n"
    "global options:\n"
    "  -c FILE            client configuration (default $BULWARK_CTL_CONF or\n"
    "                     /etc/bulwark/bulwarkctl.conf if it exists)\n"
    "  --master EP        master client endpoint (tcp://HOST:PORT)\n"
    "  --key FILE         this client's CURVE key file\n"
    "  --server-key FILE  the master's public key file\n"
    "  --no-curve         talk to a master running without CURVE\n"
    "  --timeout SECONDS  reply and scan timeout\n";

static void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bulwarkctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see bulwarkctl --help)\n", stderr);
    va_end(ap);
    exit(2);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bulwarkctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---- connection ------------------------------------------------------------------ */

static void ctl_connect(ctl *c)
{
    char err[512];
    c->ctx = zmq_ctx_new();
    c->sock = zx_socket(c->ctx, ZMQ_DEALER, 0);
    if (!c->no_curve) {
        curve_key mine, server;
        if (!key_load_client(c->key, c->server_key, &mine, &server, err, sizeof err))
            die("%s", err);
        zx_curve_client(c->sock, &mine, &server);
    }
    if (zmq_connect(c->sock, c->master) != 0)
        die("cannot connect to %s: %s", c->master, zmq_strerror(zmq_errno()));
}

static void ctl_close(ctl *c)
{
    if (c->sock)
        zmq_close(c->sock);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    c->sock = c->ctx = NULL;
}

/* Waits up to the timeout for one packet. */
static packet *recv_packet(ctl *c, int64_t timeout_ms)
{
    zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, (long)timeout_ms) <= 0)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, c->sock, 0) < 0) {
        zmq_msg_close(&m);
        return NULL;
    }
    packet *p = zx_decode(zmq_msg_data(&m), zmq_msg_size(&m));
    if (zmq_msg_more(&m))
        zx_drain(c->sock);
    zmq_msg_close(&m);
    return p;
}

static packet *request(ctl *c, const packet *req, Bulwark__Packet__BodyCase want)
{
    ctl_connect(c);
    if (zx_send_packet(c->sock, req, 0) != 0)
        die("send to %s: %s", c->master, zmq_strerror(zmq_errno()));
    packet *p = recv_packet(c, c->timeout_ms);
    if (!p)
        die("no reply from master at %s within %lld ms (is it running, and is this client's key on "
            "its allow-list?)",
            c->master, (long long)c->timeout_ms);
    if (p->body_case == BULWARK__PACKET__BODY_ERROR)
        die("master: %u %s", p->error->code, p->error->text);
    if (p->body_case != want)
        die("unexpected reply type %d from master", p->body_case);
    return p;
}

/* ---- scan ------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_failure(bool json, const char *file, const char *why);

/* Expands directories into the regular files below them, sorted. A path that
 * cannot be read still gets its result line (tempfail with the error). */
static void collect(const char *path, strlist *out, int *errors, bool json)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "bulwarkctl: %s: %s\n", path, strerror(errno));
        print_failure(json, path, strerror(errno));
        (*errors)++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        strlist_add(out, path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "bulwarkctl: %s: %s\n", path, strerror(errno));
        print_failure(json, path, strerror(errno));
        (*errors)++;
        return;
    }
    strlist names = {0};
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            strlist_add(&names, e->d_name);
    closedir(d);
    qsort(names.v, names.n, sizeof *names.v, cmp_str);
    for (size_t i = 0; i < names.n; i++) {
        char *child = xasprintf("%s/%s", path, names.v[i]);
        collect(child, out, errors, json);
        free(child);
    }
    strlist_free(&names);
}

static void print_result(bool json, const char *file, const Bulwark__ScanResult *r, double ms)
{
    buf_t b = {0};
    if (json) {
        buf_puts(&b, "{\"file\":");
        json_cstr(&b, file);
        buf_puts(&b, ",\"action\":");
        json_cstr(&b, action_name(r->action));
        buf_puts(&b, ",\"score\":");
        json_num(&b, r->score);
        buf_puts(&b, ",\"symbols\":");
        json_symbols_write_pb(&b, r->symbols, r->n_symbols);
        buf_puts(&b, ",\"ms\":");
        json_num(&b, ms);
        buf_puts(&b, ",\"job_id\":");
        json_cstr(&b, r->job_id);
        buf_puts(&b, ",\"node\":");
        json_cstr(&b, r->node_id);
        buf_printf(&b, ",\"config_version\":%llu", (unsigned long long)r->config_version);
        buf_puts(&b, ",\"reason\":");
        json_cstr(&b, r->reason);
        buf_printf(&b, ",\"recorded\":%s", r->recorded ? "true" : "false");
        buf_puts(&b, ",\"headers\":[");
        for (size_t i = 0; i < r->n_add_headers; i++) {
            buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
            json_cstr(&b, r->add_headers[i]->name);
            buf_puts(&b, ",\"value\":");
            json_cstr(&b, r->add_headers[i]->value);
            buf_puts(&b, "}");
        }
        buf_puts(&b, "],\"remove_headers\":[");
        for (size_t i = 0; i < r->n_remove_headers; i++) {
            buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
            json_cstr(&b, r->remove_headers[i]->name);
            buf_printf(&b, ",\"index\":%u}", r->remove_headers[i]->index);
        }
        buf_puts(&b, "]}\n");
    } else {
        buf_printf(&b, "%s: %s score=%.2f", file, action_name(r->action), r->score);
        if (r->reason && *r->reason)
            buf_printf(&b, " reason=\"%s\"", r->reason);
        buf_printf(&b, " node=%s config=%llu ms=%.1f%s\n",
                   r->node_id && *r->node_id ? r->node_id : "local",
                   (unsigned long long)r->config_version, ms, r->recorded ? " recorded" : "");
        for (size_t i = 0; i < r->n_symbols; i++)
            buf_printf(&b, "    %-22s %8.2f  %s\n", r->symbols[i]->name, r->symbols[i]->score,
                       r->symbols[i]->detail);
    }
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
}

static void print_failure(bool json, const char *file, const char *why)
{
    if (json) {
        buf_t b = {0};
        buf_puts(&b, "{\"file\":");
        json_cstr(&b, file);
        buf_puts(&b, ",\"action\":\"tempfail\",\"score\":0,\"symbols\":[],\"ms\":0,\"error\":");
        json_cstr(&b, why);
        buf_puts(&b, "}\n");
        fwrite(b.data, 1, b.len, stdout);
        buf_free(&b);
    } else {
        printf("%s: tempfail error=\"%s\"\n", file, why);
    }
}

typedef struct {
    Bulwark__Envelope env;
    strlist rcpt;
    strlist sets;
    const char *config_file;
    const char *clamav_db;
    const char *redis;
    strlist dns; /* --dns, for --local */
    strlist dns_stub; /* --dns-stub */
    bool local, record;
    Bulwark__LearnAs learn; /* learn --cluster: learn jobs instead of scans */
    const char *learn_scope;
} scan_opts;

/* The resolver for --dns (a list of servers) and --dns-stub (ZONE=SERVER items) with
 * the given per-query timeout (0: the default); a bad address is a usage error. */
static dns_resolver *ctl_resolver(const strlist *servers, const strlist *stubs, unsigned timeout_ms)
{
    dns_opts o;
    dns_opts_default(&o);
    for (size_t i = 0; i < servers->n; i++)
        dns_opts_add_forwarders(&o, servers->v[i]);
    for (size_t i = 0; stubs && i < stubs->n; i++)
        dns_opts_add_stub_zones(&o, stubs->v[i]);
    if (timeout_ms)
        o.timeout_ms = timeout_ms;
    char err[512];
    dns_resolver *r = dns_new(&o, err, sizeof err);
    dns_opts_clear(&o);
    if (!r)
        die_usage("--dns: %s", err);
    return r;
}

/* --redis, else the client configuration's redis_server. */
static void setup_redis(ctl *c, const char *opt, unsigned timeout_ms)
{
    char err[256];
    const char *server = opt ? opt : params_str(c->cfg, "redis_server");
    if (!redisx_configure(server, timeout_ms, err, sizeof err))
        die_usage("--redis: %s", err);
}

/* Cluster parameters from --config FILE (may be NULL) and --set KEY=VALUE items, as
 * a node would have them (scan --local, learn). */
static params *cluster_params(const char *config_file, strlist *sets)
{
    char err[1024];
    params *p = params_new(&params_cluster);
    if (config_file && !params_load_file(p, config_file, err, sizeof err))
        die("%s", err);
    for (size_t i = 0; i < sets->n; i++) {
        char *eq = strchr(sets->v[i], '=');
        if (!eq)
            die_usage("--set wants KEY=VALUE, got '%s'", sets->v[i]);
        *eq = '\0';
        if (!params_set(p, str_trim(sets->v[i]), str_trim(eq + 1), err, sizeof err))
            die("--set: %s", err);
    }
    return p;
}

static int scan_local(ctl *c, scan_opts *o, strlist *files)
{
    char err[1024];
    params *p = cluster_params(o->config_file, &o->sets);
    pipeline *pl = pipeline_new(p, 0, err, sizeof err);
    params_destroy(&p);
    if (!pl)
        die("configuration refused: %s", err);
    params *node_cfg = NULL;
    if (o->clamav_db) { /* the node's clamav_* limits at their defaults, no reloader */
        node_cfg = params_new(&params_node);
        clam_config cc;
        clam_config_from_params(node_cfg, &cc);
        cc.db_dir = o->clamav_db;
        cc.reload_interval_ms = 0;
        if (!clam_start(&cc, err, sizeof err))
            die("--clamav-db: %s", err);
    }
    setup_redis(c, o->redis, 1000);
    /* As on a node: one resolver (one cache) for every file of the run. */
    dns_resolver *dns = o->dns.n || o->dns_stub.n ? ctl_resolver(&o->dns, &o->dns_stub, 0) : NULL;
    dns_process_set(dns);
    int failures = 0;
    for (size_t i = 0; i < files->n; i++) {
        size_t len;
        char *raw = file_read(files->v[i], &len);
        if (!raw) {
            fprintf(stderr, "bulwarkctl: %s: %s\n", files->v[i], strerror(errno));
            print_failure(c->json, files->v[i], strerror(errno));
            failures++;
            continue;
        }
        char id[32];
        snprintf(id, sizeof id, "local-%zu", i + 1);
        uint64_t t0 = mono_us();
        scan_task *t = scan_task_new(pl, id, &o->env, (const uint8_t *)raw, len);
        /* A file gets the --timeout a cluster scan would give its job. */
        scan_task_set_deadline(t, now_ms() + (uint64_t)c->timeout_ms);
        scan_run(t);
        print_result(c->json, files->v[i], scan_result(t), (double)(mono_us() - t0) / 1000.0);
        scan_task_destroy(&t);
        free(raw);
    }
    pipeline_release(&pl);
    dns_process_set(NULL);
    dns_destroy(&dns);
    redisx_thread_done();
    if (o->clamav_db)
        clam_stop();
    params_destroy(&node_cfg);
    return failures ? 1 : 0;
}

typedef struct {
    char id[64];
    uint64_t sent_us;
    bool answered;
} inflight;

/* Sends file i as job `fl[i].id`; false if the file cannot be read. */
static bool send_one(ctl *c, scan_opts *o, strlist *files, inflight *fl, size_t i)
{
    size_t len;
    char *raw = file_read(files->v[i], &len);
    if (!raw)
        return false;
    Bulwark__ScanJob job = BULWARK__SCAN_JOB__INIT;
    job.job_id = fl[i].id;
    job.envelope = &o->env;
    job.message.data = (uint8_t *)raw;
    job.message.len = len;
    job.submitted_ms = now_ms();
    job.deadline_ms = job.submitted_ms + (uint64_t)c->timeout_ms;
    job.record = o->record;
    job.learn = o->learn;
    job.learn_scope = (char *)(o->learn_scope ? o->learn_scope : "");
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_JOB;
    p.job = &job;
    fl[i].sent_us = mono_us();
    if (zx_send_packet(c->sock, &p, 0) != 0)
        die("send: %s", zmq_strerror(zmq_errno()));
    free(raw);
    return true;
}

/* Reads the connection's monitor events; true when a handshake succeeded after the
 * connection had been lost (the master restarted, or the network came back). */
static bool reconnected(void *mon, bool *lost)
{
    bool again = false;
    uint16_t ev;
    uint32_t val;
    while (zx_monitor_event(mon, &ev, &val)) {
        if (ev == ZMQ_EVENT_DISCONNECTED) {
            *lost = true;
        } else if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && *lost) {
            *lost = false;
            again = true;
        }
    }
    return again;
}

/* Keeps a window of jobs in flight and prints each result as it comes. Jobs sent to
 * a master that then died are lost with it: when the connection comes back, every
 * job without an answer is sent again under the same id (a master that still has
 * it open answers it once; the Lazy Pirate client of the ZeroMQ guide). */
static int scan_cluster(ctl *c, scan_opts *o, strlist *files)
{
    ctl_connect(c);
    if (zmq_socket_monitor(c->sock, "inproc://bulwarkctl-monitor",
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0)
        die("zmq_socket_monitor: %s", zmq_strerror(zmq_errno()));
    void *mon = zx_socket(c->ctx, ZMQ_PAIR, 0);
    zmq_connect(mon, "inproc://bulwarkctl-monitor");
    bool lost = false;
    size_t window = (size_t)params_int(c->cfg, "window");
    inflight *fl = xcalloc(files->n ? files->n : 1, sizeof *fl);
    uint8_t rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
        die("getrandom: %s", strerror(errno));
    char prefix[17];
    zx_hex(rnd, sizeof rnd, prefix);
    size_t next = 0, outstanding = 0, answered = 0;
    int failures = 0;
    uint64_t last_progress = mono_us();
    int64_t wait_ms = c->timeout_ms + 2000; /* the master answers tempfail at the deadline */

    while (answered < files->n) {
        while (next < files->n && outstanding < window) {
            snprintf(fl[next].id, sizeof fl[next].id, "ctl-%s-%zu", prefix, next);
            if (!send_one(c, o, files, fl, next)) {
                fprintf(stderr, "bulwarkctl: %s: %s\n", files->v[next], strerror(errno));
                print_failure(c->json, files->v[next], strerror(errno));
                fl[next].answered = true;
                failures++;
                answered++;
            } else {
                outstanding++;
            }
            next++;
        }
        if (answered >= files->n)
            break;
        zmq_pollitem_t items[] = {{c->sock, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
        zmq_poll(items, 2, 200);
        uint64_t now = mono_us();
        if ((items[1].revents & ZMQ_POLLIN) && reconnected(mon, &lost)) {
            size_t n = 0;
            for (size_t i = 0; i < next; i++)
                if (!fl[i].answered && send_one(c, o, files, fl, i))
                    n++;
            if (n)
                fprintf(stderr,
                        "bulwarkctl: connection to %s re-established: sent %zu unanswered "
                        "jobs again\n",
                        c->master, n);
            last_progress = now;
        }
        packet *p = (items[0].revents & ZMQ_POLLIN) ? recv_packet(c, 0) : NULL;
        if (!p) {
            if ((int64_t)(now - last_progress) / 1000 > wait_ms) {
                for (size_t i = 0; i < next; i++) {
                    if (!fl[i].answered) {
                        print_failure(c->json, files->v[i], "no reply from master");
                        failures++;
                    }
                }
                fprintf(stderr, "bulwarkctl: no reply from master at %s for %lld ms\n", c->master,
                        (long long)wait_ms);
                break;
            }
            continue;
        }
        last_progress = now;
        if (p->body_case != BULWARK__PACKET__BODY_RESULT || !p->result->job_id) {
            fprintf(stderr, "bulwarkctl: unexpected packet type %d from master\n", p->body_case);
            zx_packet_free(&p);
            continue;
        }
        /* Job ids are ctl-PREFIX-INDEX. */
        const char *dash = strrchr(p->result->job_id, '-');
        size_t idx = dash ? strtoul(dash + 1, NULL, 10) : (size_t)-1;
        if (idx >= next || strcmp(fl[idx].id, p->result->job_id) != 0) {
            fprintf(stderr, "bulwarkctl: result for unknown job %s\n", p->result->job_id);
        } else {
            print_result(c->json, files->v[idx], p->result,
                         (double)(now - fl[idx].sent_us) / 1000.0);
            if (fl[idx].answered) {
                fprintf(stderr, "bulwarkctl: duplicate result for %s\n", p->result->job_id);
            } else {
                if (o->learn && p->result->action != BULWARK__ACTION__ACTION_PASS)
                    failures++; /* not learned: tempfail (retry) or a bad request */
                fl[idx].answered = true;
                answered++;
                outstanding--;
            }
        }
        zx_packet_free(&p);
    }
    fflush(stdout);
    free(fl);
    zmq_socket_monitor(c->sock, NULL, 0);
    zmq_close(mon);
    ctl_close(c);
    return failures ? 1 : 0;
}

static int cmd_scan(ctl *c, int argc, char **argv)
{
    scan_opts o = {0};
    bulwark__envelope__init(&o.env);
    static const struct option opts[] = {
        {"local", no_argument, 0, 'l'},
        {"json", no_argument, 0, 'j'},
        {"ip", required_argument, 0, 'i'},
        {"helo", required_argument, 0, 'H'},
        {"from", required_argument, 0, 'f'},
        {"rcpt", required_argument, 0, 'r'},
        {"set", required_argument, 0, 's'},
        {"config", required_argument, 0, 'C'},
        {"record", no_argument, 0, 'R'},
        {"clamav-db", required_argument, 0, 'A'},
        {"redis", required_argument, 0, 'D'},
        {"dns", required_argument, 0, 'N'},
        {"dns-stub", required_argument, 0, 'Z'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+lj", opts, NULL)) != -1) {
        switch (opt) {
        case 'l': o.local = true; break;
        case 'j': c->json = true; break;
        case 'i': o.env.client_ip = optarg; break;
        case 'H': o.env.helo = optarg; break;
        case 'f': o.env.mail_from = optarg; break;
        case 'r': strlist_add(&o.rcpt, optarg); break;
        case 's': strlist_add(&o.sets, optarg); break;
        case 'C': o.config_file = optarg; break;
        case 'R': o.record = true; break;
        case 'A':
            if (!*optarg)
                die_usage("scan: --clamav-db wants a directory");
            o.clamav_db = optarg;
            break;
        case 'D': o.redis = optarg; break;
        case 'N': strlist_add(&o.dns, optarg); break;
        case 'Z': strlist_add(&o.dns_stub, optarg); break;
        case 'h': fputs(usage_text, stdout); exit(0);
        default: die_usage("scan: bad option");
        }
    }
    if (optind >= argc)
        die_usage("scan: no files given");
    if (!o.local && (o.sets.n || o.config_file))
        die_usage("scan: --set and --config only apply with --local");
    if (o.local && o.record)
        die_usage("scan: --record needs the cluster (not --local)");
    if (!o.local && o.clamav_db)
        die_usage("scan: --clamav-db only applies with --local (nodes use their clamav_db_dir)");
    if (!o.local && o.redis)
        die_usage("scan: --redis only applies with --local (nodes use their redis_server)");
    if (!o.local && (o.dns.n || o.dns_stub.n))
        die_usage("scan: --dns and --dns-stub only apply with --local (nodes use their "
                  "dns_forwarders and dns_stub_zones)");
    o.env.rcpt = o.rcpt.v;
    o.env.n_rcpt = o.rcpt.n;
    strlist files = {0};
    int errors = 0;
    for (int i = optind; i < argc; i++)
        collect(argv[i], &files, &errors, c->json);
    int rc = o.local ? scan_local(c, &o, &files) : scan_cluster(c, &o, &files);
    strlist_free(&files);
    strlist_free(&o.rcpt);
    strlist_free(&o.sets);
    strlist_free(&o.dns);
    strlist_free(&o.dns_stub);
    return rc || errors ? 1 : 0;
}

/* ---- learn ------------------------------------------------------------------------- */

static int cmd_learn(ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"spam", no_argument, 0, 's'},        {"ham", no_argument, 0, 'H'},
        {"scope", required_argument, 0, 'S'}, {"redis", required_argument, 0, 'D'},
        {"cluster", no_argument, 0, 'C'},     {"json", no_argument, 0, 'j'},
        {"set", required_argument, 0, 'X'},   {"config", required_argument, 0, 'F'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0},
    };
    bool cluster = false;
    int cls = -1, opt;
    const char *scope_arg = "global", *redis = NULL, *config_file = NULL;
    strlist sets = {0};
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
        case 'H':
            if (cls != -1 && cls != (opt == 's'))
                die_usage("learn: --spam or --ham, not both");
            cls = opt == 's';
            break;
        case 'S': scope_arg = optarg; break;
        case 'D': redis = optarg; break;
        case 'C': cluster = true; break;
        case 'j': c->json = true; break;
        case 'X': strlist_add(&sets, optarg); break;
        case 'F': config_file = optarg; break;
        case 'h': fputs(usage_text, stdout); exit(0);
        default: die_usage("learn: bad option");
        }
    }
    if (cls == -1)
        die_usage("learn: say --spam or --ham");
    if (optind >= argc)
        die_usage("learn: no files given");
    char scope[BAYES_SCOPE_MAX + 4];
    if (!learn_scope_parse(scope_arg, scope, sizeof scope))
        die_usage("learn: --scope wants global, domain:DOMAIN or user:ADDRESS, not '%s'",
                  scope_arg);
    if (cluster) {
        /* Through the master to a node, which learns into the cluster's Redis: for
         * operators without direct access to Redis. */
        if (redis)
            die_usage("learn: --redis and --cluster exclude each other");
        if (sets.n || config_file)
            die_usage("learn: --set and --config do not apply with --cluster (the node learns "
                      "with the cluster's configuration)");
        scan_opts o = {0};
        bulwark__envelope__init(&o.env);
        o.learn = cls == 1 ? BULWARK__LEARN_AS__LEARN_SPAM : BULWARK__LEARN_AS__LEARN_HAM;
        o.learn_scope = scope_arg;
        strlist files = {0};
        int errors = 0;
        for (int i = optind; i < argc; i++)
            collect(argv[i], &files, &errors, false);
        int rc = files.n ? scan_cluster(c, &o, &files) : 0;
        strlist_free(&files);
        return rc || errors ? 1 : 0;
    }
    /* The tokens must be made as the scans make them: same max_tokens and window. */
    params *cp = cluster_params(config_file, &sets);
    size_t max_tokens = (size_t)params_int(cp, "check.bayes.max_tokens");
    unsigned window = (unsigned)params_int(cp, "check.bayes.osb_window");
    params_destroy(&cp);
    strlist_free(&sets);
    setup_redis(c, redis, 5000);
    if (!redisx_configured())
        die_usage("learn: no Redis: give --redis HOST:PORT (or redis_server in the config)");
    char err[512];
    if (!redisx_get(err, sizeof err))
        die("%s", err);
    strlist files = {0};
    int errors = 0;
    for (int i = optind; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0) {
            collect(argv[i], &files, &errors, false);
        } else {
            printf("%s: error %s\n", argv[i], strerror(errno));
            errors++;
        }
    }
    size_t counts[3] = {0};
    uint64_t t0 = mono_us();
    for (size_t i = 0; i < files.n; i++) {
        size_t len;
        char *raw = file_read(files.v[i], &len);
        if (!raw) {
            printf("%s: error %s\n", files.v[i], strerror(errno));
            errors++;
            continue;
        }
        bayes_learn_result res;
        if (learn_raw((const uint8_t *)raw, len, cls == 1, scope, max_tokens, window, &res, err,
                      sizeof err)) {
            counts[res]++;
            printf("%s: %s\n", files.v[i], bayes_learn_result_name(res));
        } else {
            printf("%s: error %s\n", files.v[i], err);
            errors++;
        }
        free(raw);
    }
    double secs = (double)(mono_us() - t0) / 1e6;
    printf("%s into %s: %zu learned, %zu already learned, %zu moved, %d errors (%.1f s)\n",
           cls == 1 ? "spam" : "ham", scope, counts[BAYES_LEARNED], counts[BAYES_ALREADY],
           counts[BAYES_MOVED], errors, secs);
    strlist_free(&files);
    redisx_thread_done();
    return errors ? 1 : 0;
}

/* ---- fuzzy ------------------------------------------------------------------------- */

/* `fuzzy learn --spam|--ham FILE...` stores the min-hash signature of each message's
 * visible text in Redis (a released false positive learned as ham stops matching);
 * `fuzzy check FILE...` prints how much of each matches learned spam. */
static int cmd_fuzzy(ctl *c, int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "learn") != 0 && strcmp(argv[1], "check") != 0))
        die_usage("fuzzy: say learn or check");
    bool learn = strcmp(argv[1], "learn") == 0;
    static const struct option opts[] = {
        {"spam", no_argument, 0, 's'},
        {"ham", no_argument, 0, 'H'},
        {"redis", required_argument, 0, 'D'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int cls = -1, opt;
    const char *redis = NULL;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
        case 'H':
            if (!learn)
                die_usage("fuzzy check: --spam and --ham are for learn");
            if (cls != -1 && cls != (opt == 's'))
                die_usage("fuzzy learn: --spam or --ham, not both");
            cls = opt == 's';
            break;
        case 'D': redis = optarg; break;
        case 'h': fputs(usage_text, stdout); exit(0);
        default: die_usage("fuzzy: bad option");
        }
    }
    if (learn && cls == -1)
        die_usage("fuzzy learn: say --spam or --ham");
    if (optind >= argc)
        die_usage("fuzzy: no files given");
    setup_redis(c, redis, 5000);
    if (!redisx_configured())
        die_usage("fuzzy: no Redis: give --redis HOST:PORT (or redis_server in the config)");
    char err[512];
    if (!redisx_get(err, sizeof err))
        die("%s", err);
    strlist files = {0};
    int errors = 0;
    for (int i = optind; i < argc; i++)
        collect(argv[i], &files, &errors, false);
    fuzzy_opts fo;
    fuzzy_opts_default(&fo);
    size_t done = 0, skipped = 0;
    for (size_t i = 0; i < files.n; i++) {
        size_t len, tlen;
        char *raw = file_read(files.v[i], &len);
        if (!raw) {
            printf("%s: error %s\n", files.v[i], strerror(errno));
            errors++;
            continue;
        }
        msg_model *m = msg_parse((const uint8_t *)raw, len);
        const char *text = msg_text(m, &tlen);
        fuzzy_match fm;
        fuzzy_status st = learn ? fuzzy_learn_opts(text, tlen, cls == 1 ? FUZZY_SPAM : FUZZY_HAM,
                                                   &fo, err, sizeof err)
                                : fuzzy_check(text, tlen, &fo, &fm, err, sizeof err);
        if (st == FUZZY_ERROR) {
            printf("%s: error %s\n", files.v[i], err);
            errors++;
        } else if (st == FUZZY_SKIPPED) {
            printf("%s: skipped (%s)\n", files.v[i], err);
            skipped++;
        } else if (learn) {
            printf("%s: learned\n", files.v[i]);
            done++;
        } else {
            printf("%s: similarity %.2f (%u spam, %u ham of %d positions)%s%s\n", files.v[i],
                   fm.similarity, fm.spam, fm.ham, FUZZY_K, fm.campaign[0] ? " campaign " : "",
                   fm.campaign);
            done++;
        }
        msg_destroy(&m);
        free(raw);
    }
    printf("fuzzy %s: %zu %s, %zu skipped (too little text), %d errors\n",
           learn ? (cls == 1 ? "spam" : "ham") : "check", done, learn ? "learned" : "checked",
           skipped, errors);
    strlist_free(&files);
    redisx_thread_done();
    return errors ? 1 : 0;
}

/* ---- status ------------------------------------------------------------------------ */

static int cmd_status(ctl *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            c->json = true;
        else
            die_usage("status: unknown argument '%s'", argv[i]);
    }
    Bulwark__StatusRequest sr = BULWARK__STATUS_REQUEST__INIT;
    packet req = BULWARK__PACKET__INIT;
    req.body_case = BULWARK__PACKET__BODY_STATUS;
    req.status = &sr;
    packet *p = request(c, &req, BULWARK__PACKET__BODY_STATUS_REPLY);
    const Bulwark__StatusReply *r = p->status_reply;
    buf_t b = {0};
    if (c->json) {
        buf_puts(&b, "{\"master\":");
        json_cstr(&b, r->master_id);
        buf_printf(
            &b,
            ",\"config_version\":%llu,\"queue_depth\":%u,\"in_flight\":%u,\"uptime_ms\":%llu,"
            "\"jobs_received\":%llu,\"jobs_answered\":%llu,\"jobs_redispatched\":%llu,"
            "\"jobs_expired\":%llu,\"results_dropped\":%llu,\"bad_frames_client\":%llu,"
            "\"bad_frames_worker\":%llu,\"zap_refused\":%llu,\"db_connected\":%s,\"nodes\":[",
            (unsigned long long)r->config_version, r->queue_depth, r->in_flight,
            (unsigned long long)r->uptime_ms, (unsigned long long)r->jobs_received,
            (unsigned long long)r->jobs_answered, (unsigned long long)r->jobs_redispatched,
            (unsigned long long)r->jobs_expired, (unsigned long long)r->results_dropped,
            (unsigned long long)r->bad_frames_client, (unsigned long long)r->bad_frames_worker,
            (unsigned long long)r->zap_refused, r->db_connected ? "true" : "false");
        for (size_t i = 0; i < r->n_nodes; i++) {
            const Bulwark__NodeStatus *n = r->nodes[i];
            buf_puts(&b, i ? ",{\"node\":" : "{\"node\":");
            json_cstr(&b, n->node_id);
            buf_puts(&b, ",\"key\":");
            json_cstr(&b, n->peer);
            buf_printf(&b,
                       ",\"capacity\":%u,\"load\":%u,\"credit\":%u,\"config_version\":%llu,"
                       "\"jobs_done\":%llu,\"last_seen_ms\":%u,\"load_avg\":",
                       n->capacity, n->load, n->credit, (unsigned long long)n->config_version,
                       (unsigned long long)n->jobs_done, n->last_seen_ms);
            json_num(&b, n->load_avg);
            buf_puts(&b, "}");
        }
        buf_puts(&b, "]}\n");
    } else {
        buf_printf(
            &b, "master %s  config version %llu  up %llus  queue %u  in flight %u  database %s\n",
            r->master_id, (unsigned long long)r->config_version,
            (unsigned long long)(r->uptime_ms / 1000), r->queue_depth, r->in_flight,
            r->db_connected ? "connected" : "UNAVAILABLE");
        buf_printf(
            &b,
            "jobs: received %llu answered %llu redispatched %llu expired %llu  "
            "dropped results %llu  bad frames client %llu worker %llu  refused keys %llu\n\n",
            (unsigned long long)r->jobs_received, (unsigned long long)r->jobs_answered,
            (unsigned long long)r->jobs_redispatched, (unsigned long long)r->jobs_expired,
            (unsigned long long)r->results_dropped, (unsigned long long)r->bad_frames_client,
            (unsigned long long)r->bad_frames_worker, (unsigned long long)r->zap_refused);
        buf_printf(&b, "%-20s %-14s %8s %5s %6s %7s %10s %8s %6s\n", "NODE", "KEY", "CAPACITY",
                   "LOAD", "CREDIT", "CONFIG", "DONE", "SEEN", "LOADAVG");
        for (size_t i = 0; i < r->n_nodes; i++) {
            const Bulwark__NodeStatus *n = r->nodes[i];
            buf_printf(&b, "%-20s %-14s %8u %5u %6u %7llu %10llu %7.1fs %6.2f\n", n->node_id,
                       n->peer, n->capacity, n->load, n->credit,
                       (unsigned long long)n->config_version, (unsigned long long)n->jobs_done,
                       n->last_seen_ms / 1000.0, n->load_avg);
        }
        if (!r->n_nodes)
            buf_puts(&b, "(no nodes connected)\n");
    }
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
    zx_packet_free(&p);
    ctl_close(c);
    return 0;
}

/* ---- config ------------------------------------------------------------------------ */

static char *author_name(void)
{
    const char *u = getenv("SUDO_USER");
    struct passwd *pw = getpwuid(getuid());
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    return xasprintf("%s@%s", u && *u ? u : pw ? pw->pw_name : "?", host);
}

static int cmd_config(ctl *c, int argc, char **argv)
{
    if (argc < 2)
        die_usage("config: say get, set, unset, history or doc");
    const char *sub = argv[1];
    if (strcmp(sub, "doc") == 0) {
        const param_table *tables[] = {&params_cluster, &params_master, &params_node,
                                       &params_milter, &params_ctl};
        printf("# Bulwark configuration reference\n\n"
               "Generated by `bulwarkctl config doc` from the parameter tables in "
               "`shared/params.c`; do not edit by hand.\n\n"
               "Files use one `name = value` per line; `#` starts a comment. Sizes take "
               "k/m/g suffixes, durations ms/s/m/h/d (a bare number is seconds), booleans "
               "yes/no. A bad line stops the daemon with `FILE:LINE: reason`.\n\n");
        for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
            char *doc;
            params_doc(tables[i], &doc);
            fputs(doc, stdout);
            free(doc);
        }
        size_t n;
        const check_def *const *checks = pipeline_checks(&n);
        printf("## Symbols\n\nEvery symbol a check can add, with its default weight "
               "(override with `score.NAME`).\n\n| symbol | check | weight | meaning "
               "|\n|---|---|---|---|\n");
        for (size_t i = 0; i < n; i++)
            for (const symbol_def *s = checks[i]->symbols; s->name; s++)
                printf("| `%s` | %s | %g | %s |\n", s->name, checks[i]->name, s->score, s->desc);
        return 0;
    }
    static const struct option opts[] = {
        {"comment", required_argument, 0, 'm'}, {"base", required_argument, 0, 'b'},
        {"version", required_argument, 0, 'v'}, {"limit", required_argument, 0, 'n'},
        {"changed", no_argument, 0, 'c'},       {0, 0, 0, 0}};
    const char *comment = "";
    uint64_t base = 0, version = 0;
    unsigned limit = 20;
    bool changed = false;
    int opt;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "+m:", opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'm': comment = optarg; break;
        case 'b':
            base = strtoull(optarg, &end, 10);
            if (*end)
                die_usage("--base: not a number");
            break;
        case 'v':
            version = strtoull(optarg, &end, 10);
            if (*end)
                die_usage("--version: not a number");
            break;
        case 'n':
            limit = (unsigned)strtoul(optarg, &end, 10);
            if (*end || !limit)
                die_usage("--limit: not a positive number");
            break;
        case 'c': changed = true; break;
        default: die_usage("config %s: bad option", sub);
        }
    }
    packet req = BULWARK__PACKET__INIT;
    if (strcmp(sub, "get") == 0) {
        if (argc - optind > 1)
            die_usage("config get: at most one KEY");
        const char *key = optind < argc ? argv[optind] : NULL;
        char err[512];
        if (key && !params_check(&params_cluster, key, "0", err, sizeof err) &&
            strstr(err, "unknown"))
            die("%s", err);
        Bulwark__ConfigGet g = BULWARK__CONFIG_GET__INIT;
        g.version = version;
        req.body_case = BULWARK__PACKET__BODY_CONFIG_GET;
        req.config_get = &g;
        packet *p = request(c, &req, BULWARK__PACKET__BODY_SNAPSHOT);
        const Bulwark__ConfigSnapshot *s = p->snapshot;
        params *cfg = params_new(&params_cluster);
        for (size_t i = 0; i < s->n_entries; i++)
            if (!params_set(cfg, s->entries[i]->key, s->entries[i]->value, err, sizeof err))
                fprintf(stderr, "bulwarkctl: version %llu: %s\n", (unsigned long long)s->version,
                        err);
        /* Keys outside the table (score.*, policy.*, dkim.sign.*, rbl.list.*) are only
         * in the snapshot's entries. */
        bool in_table = false;
        for (size_t i = 0; key && i < params_cluster.n; i++)
            in_table |= strcmp(params_cluster.defs[i].name, key) == 0;
        if (key) {
            double d;
            const char *raw = NULL;
            for (size_t j = 0; j < s->n_entries; j++)
                if (strcmp(s->entries[j]->key, key) == 0)
                    raw = s->entries[j]->value;
            if (in_table)
                printf("%s\n", params_str(cfg, key));
            else if (strncmp(key, "score.", 6) == 0 && params_dynamic(cfg, key, &d))
                printf("%g\n", d);
            else
                printf("%s\n", raw ? raw : "(default)");
        } else {
            char when[64];
            time_text(s->created_ms, when, sizeof when);
            printf("# version %llu by %s at %s%s%s\n", (unsigned long long)s->version, s->author,
                   when, *s->comment ? ": " : "", s->comment);
            const param_table *t = &params_cluster;
            for (size_t i = 0; i < t->n; i++) {
                bool set = false;
                for (size_t j = 0; j < s->n_entries; j++)
                    set |= strcmp(s->entries[j]->key, t->defs[i].name) == 0;
                if (!changed || set)
                    printf("%s = %s\n", t->defs[i].name, params_str(cfg, t->defs[i].name));
            }
            for (size_t j = 0; j < s->n_entries; j++)
                if (strncmp(s->entries[j]->key, "score.", 6) == 0 ||
                    strncmp(s->entries[j]->key, "rbl.list.", 9) == 0)
                    printf("%s = %s\n", s->entries[j]->key, s->entries[j]->value);
        }
        params_destroy(&cfg);
        zx_packet_free(&p);
        ctl_close(c);
        return 0;
    }
    if (strcmp(sub, "set") == 0 || strcmp(sub, "unset") == 0) {
        bool set = strcmp(sub, "set") == 0;
        Bulwark__ConfigSet cs = BULWARK__CONFIG_SET__INIT;
        size_t nargs = (size_t)(argc - optind);
        if (!nargs)
            die_usage("config %s: nothing to change", sub);
        Bulwark__ConfigEntry *e = xcalloc(nargs, sizeof *e);
        Bulwark__ConfigEntry **ev = xcalloc(nargs, sizeof *ev);
        char **unset = xcalloc(nargs, sizeof *unset);
        char err[512];
        if (set && nargs == 2 && !strchr(argv[optind], '=')) {
            bulwark__config_entry__init(&e[0]);
            e[0].key = argv[optind];
            e[0].value = argv[optind + 1];
            ev[cs.n_set++] = &e[0];
        } else {
            for (size_t i = 0; i < nargs; i++) {
                char *a = argv[optind + (int)i];
                if (!set) {
                    unset[cs.n_unset++] = a;
                    continue;
                }
                char *eq = strchr(a, '=');
                if (!eq)
                    die_usage("config set: expected KEY=VALUE, got '%s'", a);
                *eq = '\0';
                bulwark__config_entry__init(&e[i]);
                e[i].key = str_trim(a);
                e[i].value = str_trim(eq + 1);
                ev[cs.n_set++] = &e[i];
            }
        }
        for (size_t i = 0; i < cs.n_set; i++) /* refuse early, with the same words as the master */
            if (!params_check(&params_cluster, ev[i]->key, ev[i]->value, err, sizeof err))
                die("%s", err);
        char *author = author_name();
        cs.set = ev;
        cs.unset = unset;
        cs.author = author;
        cs.comment = (char *)comment;
        cs.base_version = base;
        req.body_case = BULWARK__PACKET__BODY_CONFIG_SET;
        req.config_set = &cs;
        packet *p = request(c, &req, BULWARK__PACKET__BODY_SNAPSHOT);
        printf("config version %llu\n", (unsigned long long)p->snapshot->version);
        zx_packet_free(&p);
        free(author);
        free(e);
        free(ev);
        free(unset);
        ctl_close(c);
        return 0;
    }
    if (strcmp(sub, "history") == 0) {
        if (optind < argc)
            die_usage("config history: unexpected argument '%s'", argv[optind]);
        Bulwark__ConfigHistory h = BULWARK__CONFIG_HISTORY__INIT;
        h.limit = limit;
        req.body_case = BULWARK__PACKET__BODY_CONFIG_HISTORY;
        req.config_history = &h;
        packet *p = request(c, &req, BULWARK__PACKET__BODY_HISTORY);
        for (size_t i = 0; i < p->history->n_versions; i++) {
            const Bulwark__ConfigVersionInfo *v = p->history->versions[i];
            char when[64];
            time_text(v->created_ms, when, sizeof when);
            printf("version %llu  %s  %s%s%s\n", (unsigned long long)v->version, when, v->author,
                   *v->comment ? "  # " : "", v->comment);
            char *changes = xstrdup(v->change ? v->change : "");
            char *save = NULL;
            for (char *l = strtok_r(changes, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                printf("    %s\n", l);
            free(changes);
        }
        zx_packet_free(&p);
        ctl_close(c);
        return 0;
    }
    die_usage("config: unknown subcommand '%s'", sub);
}

/* ---- message log and quarantine ---------------------------------------------------- */

typedef struct {
    Bulwark__RecordQuery q;
    bool json, csv, raw;
} rec_opts;

static const char *const quarantine_states[] = {"held", "released", NULL};

static bool one_of(const char *s, const char *const *v)
{
    for (; *v; v++)
        if (strcmp(s, *v) == 0)
            return true;
    return false;
}

static uint64_t time_arg(const char *opt, const char *s)
{
    char err[256];
    uint64_t ms;
    if (!cli_parse_time(s, now_ms(), &ms, err, sizeof err))
        die_usage("%s: %s", opt, err);
    return ms;
}

/* Parses the filter options of `quarantine list` (quarantine) or `log search`. */
static void parse_query(const char *cmd, int argc, char **argv, bool quarantine, rec_opts *o)
{
    static const struct option opts[] = {{"id", required_argument, 0, 'I'},
                                         {"sender", required_argument, 0, 'S'},
                                         {"recipient", required_argument, 0, 'R'},
                                         {"ip", required_argument, 0, 'i'},
                                         {"action", required_argument, 0, 'a'},
                                         {"status", required_argument, 0, 's'},
                                         {"since", required_argument, 0, 'f'},
                                         {"until", required_argument, 0, 'u'},
                                         {"limit", required_argument, 0, 'n'},
                                         {"json", no_argument, 0, 'j'},
                                         {"csv", no_argument, 0, 'c'},
                                         {0, 0, 0, 0}};
    bulwark__record_query__init(&o->q);
    int opt;
    uint64_t v;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        bool log_only = opt == 'I' || opt == 'i' || opt == 'a' || opt == 'c';
        if ((quarantine && log_only) || (!quarantine && opt == 's'))
            die_usage("%s: option %s does not apply here", cmd, argv[optind - 1]);
        switch (opt) {
        case 'I': o->q.id = optarg; break;
        case 'S': o->q.sender = optarg; break;
        case 'R': o->q.recipient = optarg; break;
        case 'i': o->q.client_ip = optarg; break;
        case 'a':
        case 's':
            if (opt == 'a' ? !action_parse(optarg, &(Bulwark__Action){0})
                           : !one_of(optarg, quarantine_states))
                die_usage("%s: --%s wants %s, not '%s'", cmd, opt == 'a' ? "action" : "status",
                          opt == 'a' ? "pass, tag, quarantine, reject or tempfail"
                                     : "held or released",
                          optarg);
            o->q.action = optarg;
            break;
        case 'f': o->q.since_ms = time_arg("--since", optarg); break;
        case 'u': o->q.until_ms = time_arg("--until", optarg); break;
        case 'n':
            if (!cli_parse_uint(optarg, 1, 10000, &v))
                die_usage("%s: --limit wants a number from 1 to 10000, not '%s'", cmd, optarg);
            o->q.limit = (uint32_t)v;
            break;
        case 'j': o->json = true; break;
        case 'c': o->csv = true; break;
        default: die_usage("%s: bad option", cmd);
        }
    }
    if (optind < argc)
        die_usage("%s: unexpected argument '%s'", cmd, argv[optind]);
    if (o->json && o->csv)
        die_usage("%s: --json or --csv, not both", cmd);
    if (o->q.since_ms && o->q.until_ms && o->q.since_ms >= o->q.until_ms)
        die_usage("%s: --since must be before --until", cmd);
}

/* At most `width` bytes of s, cut at a character boundary, for a table cell. */
static void cell(buf_t *b, const char *s, int width)
{
    size_t n = strlen(s);
    if (n > (size_t)width) {
        n = (size_t)width - 1;
        while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    char *t = xstrndup(s, n);
    for (char *p = t; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    buf_printf(b, "%-*s%s ", width - (n < strlen(s) ? 1 : 0), t, n < strlen(s) ? "~" : "");
    free(t);
}

static char *rcpt_text(const Bulwark__Record *r, const char *sep)
{
    buf_t b = {0};
    buf_puts(&b, "");
    for (size_t i = 0; i < r->n_rcpt; i++)
        buf_printf(&b, "%s%s", i ? sep : "", r->rcpt[i]);
    return b.data;
}

static void json_record(buf_t *b, const Bulwark__Record *r, bool quarantine)
{
    char when[64];
    time_text(r->time_ms, when, sizeof when);
    buf_puts(b, "{\"id\":");
    json_cstr(b, r->id);
    buf_printf(b,
               ",\"time_ms\":%llu,\"time\":\"%s\",\"client_ip\":", (unsigned long long)r->time_ms,
               when);
    json_cstr(b, r->client_ip);
    const struct {
        const char *k, *v;
    } f[] = {{"helo", r->helo},       {"sender", r->sender},
             {"subject", r->subject}, {"message_id", r->message_id},
             {"node", r->node_id},    {"queue_id", r->queue_id},
             {"reason", r->reason},   {"action", action_name(r->action)}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        buf_printf(b, ",\"%s\":", f[i].k);
        json_cstr(b, f[i].v);
    }
    buf_puts(b, ",\"rcpt\":[");
    for (size_t i = 0; i < r->n_rcpt; i++) {
        buf_puts(b, i ? "," : "");
        json_cstr(b, r->rcpt[i]);
    }
    buf_printf(b, "],\"size\":%llu,\"score\":", (unsigned long long)r->size);
    json_num(b, r->score);
    buf_printf(b, ",\"config_version\":%llu,\"scan_ms\":%u,\"symbols\":",
               (unsigned long long)r->config_version, r->scan_ms);
    json_symbols_write_pb(b, r->symbols, r->n_symbols);
    if (quarantine) {
        buf_puts(b, ",\"status\":");
        json_cstr(b, r->status);
        buf_printf(b, ",\"released_ms\":%llu,\"released_by\":", (unsigned long long)r->released_ms);
        json_cstr(b, r->released_by);
        buf_puts(b, ",\"learn\":");
        json_cstr(b, r->learn);
        buf_puts(b, ",\"learn_reply\":");
        json_cstr(b, r->learn_reply);
    }
    buf_puts(b, "}\n");
}

static void csv_record(buf_t *b, const Bulwark__Record *r)
{
    char when[64], num[64];
    time_text(r->time_ms, when, sizeof when);
    char *rcpt = rcpt_text(r, " ");
    buf_t sym = {0};
    buf_puts(&sym, "");
    for (size_t i = 0; i < r->n_symbols; i++)
        buf_printf(&sym, "%s%s(%g)", i ? " " : "", r->symbols[i]->name, r->symbols[i]->score);
    const char *cols[] = {
        when,         r->id,   action_name(r->action), NULL, r->sender, rcpt,       r->subject,
        r->client_ip, r->helo, r->message_id,          NULL, sym.data,  r->node_id, r->queue_id,
        r->reason};
    snprintf(num, sizeof num, "%.2f", r->score);
    cols[3] = num;
    char size[32];
    snprintf(size, sizeof size, "%llu", (unsigned long long)r->size);
    cols[10] = size;
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        if (i)
            buf_puts(b, ",");
        cli_csv_field(b, cols[i]);
    }
    buf_puts(b, "\r\n");
    free(rcpt);
    buf_free(&sym);
}

/* The id column is as wide as the longest id: ids are what release and show take,
 * so they are never cut. */
static void table_record(buf_t *b, const Bulwark__Record *r, bool quarantine, int idw)
{
    char when[64];
    time_text(r->time_ms, when, sizeof when);
    char *rcpt = rcpt_text(r, ",");
    buf_printf(b, "%-*s ", idw, r->id);
    cell(b, when, 20);
    if (!quarantine)
        cell(b, action_name(r->action), 10);
    cell(b, *r->sender ? r->sender : "<>", 28);
    cell(b, rcpt, 28);
    cell(b, r->subject, 32);
    buf_printf(b, "%7.2f", r->score);
    if (quarantine)
        buf_printf(b, " %s", r->status);
    buf_puts(b, "\n");
    free(rcpt);
}

static int print_records(const rec_opts *o, const Bulwark__RecordList *l, bool quarantine)
{
    buf_t b = {0};
    buf_puts(&b, "");
    if (o->csv)
        buf_puts(&b, "time,id,action,score,sender,rcpt,subject,client_ip,helo,message_id,size,"
                     "symbols,node,queue_id,reason\r\n");
    int idw = 2;
    for (size_t i = 0; i < l->n_records; i++)
        if (strlen(l->records[i]->id) > (size_t)idw)
            idw = (int)strlen(l->records[i]->id);
    if (!o->csv && !o->json)
        buf_printf(&b, "%-*s %-20s %s%-28s %-28s %-32s %7s%s\n", idw, "ID", "TIME",
                   quarantine ? "" : "ACTION     ", "SENDER", "RCPT", "SUBJECT", "SCORE",
                   quarantine ? " STATUS" : "");
    for (size_t i = 0; i < l->n_records; i++) {
        if (o->json)
            json_record(&b, l->records[i], quarantine);
        else if (o->csv)
            csv_record(&b, l->records[i]);
        else
            table_record(&b, l->records[i], quarantine, idw);
    }
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
    if (l->truncated)
        fprintf(stderr, "bulwarkctl: more entries match than shown (--limit %u)\n",
                o->q.limit ? o->q.limit : 100);
    return 0;
}

static int run_query(ctl *c, const char *cmd, int argc, char **argv, bool quarantine)
{
    rec_opts o = {0};
    parse_query(cmd, argc, argv, quarantine, &o);
    packet req = BULWARK__PACKET__INIT;
    req.body_case =
        quarantine ? BULWARK__PACKET__BODY_QUARANTINE_LIST : BULWARK__PACKET__BODY_LOG_SEARCH;
    if (quarantine)
        req.quarantine_list = &o.q;
    else
        req.log_search = &o.q;
    packet *p = request(c, &req, BULWARK__PACKET__BODY_RECORDS);
    int rc = print_records(&o, p->records, quarantine);
    zx_packet_free(&p);
    ctl_close(c);
    return rc;
}

/* Up to 20 lines (2000 bytes) of text from p, indented, control bytes as '.'. */
static void print_preview(buf_t *b, const uint8_t *p, size_t n)
{
    size_t lines = 0, i = 0;
    buf_puts(b, "    ");
    for (; i < n && i < 2000 && lines < 20; i++) {
        if (p[i] == '\r')
            continue;
        if (p[i] == '\n') {
            lines++;
            buf_puts(b, lines < 20 && i + 1 < n ? "\n    " : "\n");
            continue;
        }
        char c = p[i] < 0x20 && p[i] != '\t' ? '.' : (char)p[i];
        buf_append(b, &c, 1);
    }
    if (i < n)
        buf_printf(b, "%s    (%zu more bytes: quarantine show --raw)\n",
                   b->data[b->len - 1] == '\n' ? "" : "\n", n - i);
    else if (b->data[b->len - 1] != '\n')
        buf_puts(b, "\n");
}

/* The header block of a message as parsed, then the start of its body. */
static void print_message(buf_t *b, const ProtobufCBinaryData *m)
{
    hdr_block *h = hdr_parse((const char *)m->data, m->len);
    buf_puts(b, "headers:\n");
    for (size_t i = 0; i < h->n; i++)
        buf_printf(b, "    %s: %s\n", h->f[i].name, h->f[i].value);
    if (h->body_off < m->len) {
        buf_puts(b, "body (first lines):\n");
        print_preview(b, m->data + h->body_off, m->len - h->body_off);
    }
    hdr_destroy(&h);
}

static void show_record(buf_t *b, const Bulwark__Record *r)
{
    char when[64], rel[64];
    time_text(r->time_ms, when, sizeof when);
    char *rcpt = rcpt_text(r, ", ");
    buf_printf(b, "id:          %s\ntime:        %s\nstatus:      %s", r->id, when, r->status);
    if (r->released_ms) {
        time_text(r->released_ms, rel, sizeof rel);
        buf_printf(b, " at %s by %s", rel, r->released_by);
    }
    if (r->learn && *r->learn)
        buf_printf(b, "\nlearned:     %s as ham%s%s", r->learn, *r->learn_reply ? ": " : "",
                   r->learn_reply);
    buf_printf(b,
               "\nclient:      %s (helo %s)\nsender:      %s\nrecipients:  %s\nsubject:     %s\n"
               "message-id:  %s\nsize:        %llu bytes\nscore:       %.2f%s%s\nnode:        %s\n"
               "symbols:\n",
               *r->client_ip ? r->client_ip : "-", *r->helo ? r->helo : "-",
               *r->sender ? r->sender : "<>", rcpt, r->subject, r->message_id,
               (unsigned long long)r->size, r->score, *r->reason ? "  reason: " : "", r->reason,
               r->node_id);
    for (size_t i = 0; i < r->n_symbols; i++)
        buf_printf(b, "    %-22s %8.2f  %s\n", r->symbols[i]->name, r->symbols[i]->score,
                   r->symbols[i]->detail);
    print_message(b, &r->message);
    free(rcpt);
}

static int quarantine_show(ctl *c, int argc, char **argv)
{
    bool raw = false;
    const char *id = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--raw") == 0)
            raw = true;
        else if (argv[i][0] == '-' && argv[i][1])
            die_usage("quarantine show: unknown option '%s'", argv[i]);
        else if (id)
            die_usage("quarantine show: one ID only");
        else
            id = argv[i];
    }
    if (!id || !*id)
        die_usage("quarantine show: ID missing");
    Bulwark__QuarantineShow s = BULWARK__QUARANTINE_SHOW__INIT;
    s.id = (char *)id;
    packet req = BULWARK__PACKET__INIT;
    req.body_case = BULWARK__PACKET__BODY_QUARANTINE_SHOW;
    req.quarantine_show = &s;
    packet *p = request(c, &req, BULWARK__PACKET__BODY_RECORDS);
    if (p->records->n_records != 1)
        die("master sent %zu records for one id", p->records->n_records);
    const Bulwark__Record *r = p->records->records[0];
    if (raw) {
        fwrite(r->message.data, 1, r->message.len, stdout);
    } else {
        buf_t b = {0};
        show_record(&b, r);
        fwrite(b.data, 1, b.len, stdout);
        buf_free(&b);
    }
    zx_packet_free(&p);
    ctl_close(c);
    return 0;
}

static int quarantine_op(ctl *c, int argc, char **argv, bool release)
{
    int first = 2;
    bool no_learn = false;
    if (release && argc > 2 && strcmp(argv[2], "--no-learn") == 0) {
        no_learn = true;
        first = 3;
    }
    if (argc <= first)
        die_usage("quarantine %s: ID missing", argv[1]);
    for (int i = first; i < argc; i++)
        if (argv[i][0] == '-' || !argv[i][0])
            die_usage("quarantine %s: unexpected option '%s'", argv[1], argv[i]);
    char *author = author_name();
    Bulwark__QuarantineOp op = BULWARK__QUARANTINE_OP__INIT;
    op.ids = argv + first;
    op.n_ids = (size_t)(argc - first);
    op.author = author;
    op.no_learn = no_learn;
    packet req = BULWARK__PACKET__INIT;
    req.body_case = release ? BULWARK__PACKET__BODY_QUARANTINE_RELEASE
                            : BULWARK__PACKET__BODY_QUARANTINE_DELETE;
    if (release)
        req.quarantine_release = &op;
    else
        req.quarantine_delete = &op;
    packet *p = request(c, &req, BULWARK__PACKET__BODY_QUARANTINE_REPLY);
    int failed = 0;
    for (size_t i = 0; i < p->quarantine_reply->n_results; i++) {
        const Bulwark__QuarantineOpResult *r = p->quarantine_reply->results[i];
        printf("%s: %s%s\n", r->id, r->ok ? "" : "FAILED: ", r->text);
        failed += !r->ok;
    }
    zx_packet_free(&p);
    free(author);
    ctl_close(c);
    return failed ? 1 : 0;
}

static int cmd_quarantine(ctl *c, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (strcmp(sub, "list") == 0)
        return run_query(c, "quarantine list", argc, argv, true);
    if (strcmp(sub, "show") == 0)
        return quarantine_show(c, argc, argv);
    if (strcmp(sub, "release") == 0 || strcmp(sub, "delete") == 0)
        return quarantine_op(c, argc, argv, sub[0] == 'r');
    die_usage("quarantine: say list, show, release or delete");
}

static int cmd_log(ctl *c, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "search") != 0)
        die_usage("log: say search");
    return run_query(c, "log search", argc, argv, false);
}

/* ---- dmarc ------------------------------------------------------------------------- */

/* Writes one report's XML to dir/<name without .gz>; false with errno's reason printed. */
static bool write_report(const char *dir, const Bulwark__DmarcReport *r)
{
    char name[700];
    snprintf(name, sizeof name, "%s", r->file_name);
    size_t n = strlen(name);
    if (n > 3 && strcmp(name + n - 3, ".gz") == 0)
        name[n - 3] = '\0';
    if (strchr(name, '/') || name[0] == '.') {
        fprintf(stderr, "bulwarkctl: refusing report name '%s'\n", name);
        return false;
    }
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(r->xml.data, 1, r->xml.len, f) == r->xml.len;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "bulwarkctl: %s: %s\n", path, strerror(errno));
    free(path);
    return ok;
}

static void print_report(bool json, const Bulwark__DmarcReport *r, bool send)
{
    buf_t b = {0};
    if (json) {
        buf_puts(&b, "{\"domain\":");
        json_cstr(&b, r->domain);
        buf_puts(&b, ",\"file\":");
        json_cstr(&b, r->file_name);
        buf_puts(&b, ",\"report_id\":");
        json_cstr(&b, r->report_id);
        buf_printf(&b, ",\"records\":%u,\"messages\":%llu,\"rua\":[", r->records,
                   (unsigned long long)r->messages);
        for (size_t i = 0; i < r->n_rua; i++) {
            buf_puts(&b, i ? "," : "");
            json_cstr(&b, r->rua[i]);
        }
        buf_printf(&b, "],\"sent\":%s,\"send_result\":", r->sent ? "true" : "false");
        json_cstr(&b, r->send_result);
        buf_puts(&b, "}\n");
    } else {
        buf_printf(&b, "%s: %u records, %llu messages, rua ", r->domain, r->records,
                   (unsigned long long)r->messages);
        for (size_t i = 0; i < r->n_rua; i++)
            buf_printf(&b, "%s%s", i ? "," : "", r->rua[i]);
        buf_printf(&b, "%s, %s", r->n_rua ? "" : "-", r->file_name);
        if (send)
            buf_printf(&b, ": %s%s", r->sent ? "sent: " : "", r->send_result);
        buf_puts(&b, "\n");
    }
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
}

static int cmd_dmarc(ctl *c, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "report") != 0)
        die_usage("dmarc: say report");
    static const struct option opts[] = {
        {"day", required_argument, 0, 'd'}, {"domain", required_argument, 0, 'D'},
        {"out", required_argument, 0, 'o'}, {"send", no_argument, 0, 's'},
        {"resend", no_argument, 0, 'r'},    {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},      {0, 0, 0, 0},
    };
    const char *day = NULL, *domain = "", *out = NULL;
    bool send = false, resend = false;
    int opt;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (opt) {
        case 'd': day = optarg; break;
        case 'D': domain = optarg; break;
        case 'o': out = optarg; break;
        case 's': send = true; break;
        case 'r': resend = send = true; break;
        case 'j': c->json = true; break;
        case 'h': fputs(usage_text, stdout); exit(0);
        default: die_usage("dmarc report: bad option");
        }
    }
    if (optind < argc)
        die_usage("dmarc report: unexpected argument '%s'", argv[optind]);
    if (!day)
        die_usage("dmarc report: --day YYYY-MM-DD (or yesterday) is required");
    char yesterday[16];
    if (strcmp(day, "yesterday") == 0) {
        time_t t = time(NULL) - 86400;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(yesterday, sizeof yesterday, "%Y-%m-%d", &tm);
        day = yesterday;
    }
    struct stat st;
    if (out && (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)))
        die_usage("dmarc report: --out %s is not a directory", out);
    char *lower = xstrdup(domain);
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    Bulwark__DmarcReportRequest rq = BULWARK__DMARC_REPORT_REQUEST__INIT;
    rq.day = (char *)day;
    rq.domain = lower;
    rq.send = send;
    rq.resend = resend;
    packet req = BULWARK__PACKET__INIT;
    req.body_case = BULWARK__PACKET__BODY_DMARC_REPORT;
    req.dmarc_report = &rq;
    packet *p = request(c, &req, BULWARK__PACKET__BODY_DMARC_REPORTS);
    int failed = 0;
    const Bulwark__DmarcReportReply *r = p->dmarc_reports;
    for (size_t i = 0; i < r->n_reports; i++) {
        const Bulwark__DmarcReport *rep = r->reports[i];
        print_report(c->json, rep, send);
        if (out && !write_report(out, rep))
            failed++;
        if (send && !rep->sent && strncmp(rep->send_result, "sent before", 11) != 0)
            failed++;
    }
    if (!r->n_reports && !c->json)
        printf("no DMARC results recorded on %s%s%s\n", day, *lower ? " for " : "", lower);
    zx_packet_free(&p);
    free(lower);
    ctl_close(c);
    return failed ? 1 : 0;
}

/* ---- keygen ------------------------------------------------------------------------ */

/* ---- dns ------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    uint16_t type;
} dns_types[] = {
    {"A", DNS_T_A},   {"NS", DNS_T_NS},   {"CNAME", DNS_T_CNAME}, {"SOA", 6},  {"PTR", DNS_T_PTR},
    {"MX", DNS_T_MX}, {"TXT", DNS_T_TXT}, {"AAAA", DNS_T_AAAA},   {"SPF", 99},
};

static const char *dns_type_name(uint16_t type, char *buf, size_t n)
{
    for (size_t i = 0; i < sizeof dns_types / sizeof *dns_types; i++)
        if (dns_types[i].type == type)
            return dns_types[i].name;
    snprintf(buf, n, "TYPE%u", type);
    return buf;
}

/* A, mx, TYPE99 or 99. */
static bool dns_type_parse(const char *s, uint16_t *type)
{
    for (size_t i = 0; i < sizeof dns_types / sizeof *dns_types; i++)
        if (strcasecmp(s, dns_types[i].name) == 0) {
            *type = dns_types[i].type;
            return true;
        }
    const char *num = str_iprefix(s, "TYPE") ? s + 4 : s;
    char *end;
    long v = strtol(num, &end, 10);
    if (!*num || *end || v < 1 || v > 65535)
        return false;
    *type = (uint16_t)v;
    return true;
}

/* TXT data as dig shows it: quoted, bytes outside printable ASCII as \DDD. */
static void txt_text(buf_t *b, const char *p, size_t n)
{
    buf_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '"' || ch == '\\')
            buf_printf(b, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            buf_printf(b, "\\%03u", ch);
        else
            buf_append(b, &ch, 1);
    }
    buf_puts(b, "\"");
}

static void hex(buf_t *b, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_printf(b, "%02x", p[i]);
}

static void rr_json(buf_t *b, const dns_rr *rr)
{
    char ip[INET6_ADDRSTRLEN];
    switch (rr->type) {
    case DNS_T_A: json_cstr(b, inet_ntop(AF_INET, rr->u.a, ip, sizeof ip)); break;
    case DNS_T_AAAA: json_cstr(b, inet_ntop(AF_INET6, rr->u.aaaa, ip, sizeof ip)); break;
    case DNS_T_MX:
        buf_printf(b, "{\"pref\":%u,\"host\":", rr->u.mx.pref);
        json_cstr(b, rr->u.mx.host);
        buf_puts(b, "}");
        break;
    case DNS_T_PTR:
    case DNS_T_NS:
    case DNS_T_CNAME: json_cstr(b, rr->u.name); break;
    case DNS_T_TXT:
        buf_puts(b, "{\"text\":");
        json_str(b, rr->u.txt.data, rr->u.txt.len);
        buf_printf(b, ",\"strings\":%zu,\"hex\":\"", rr->u.txt.nstrings);
        hex(b, (const uint8_t *)rr->u.txt.data, rr->u.txt.len);
        buf_puts(b, "\"}");
        break;
    default:
        buf_puts(b, "{\"hex\":\"");
        hex(b, rr->u.raw.data, rr->u.raw.len);
        buf_puts(b, "\"}");
    }
}

static void rr_text(buf_t *b, const dns_rr *rr)
{
    char ip[INET6_ADDRSTRLEN];
    buf_puts(b, "    ");
    switch (rr->type) {
    case DNS_T_A: buf_puts(b, inet_ntop(AF_INET, rr->u.a, ip, sizeof ip)); break;
    case DNS_T_AAAA: buf_puts(b, inet_ntop(AF_INET6, rr->u.aaaa, ip, sizeof ip)); break;
    case DNS_T_MX:
        buf_printf(b, "%u %s", rr->u.mx.pref, *rr->u.mx.host ? rr->u.mx.host : ". (null MX)");
        break;
    case DNS_T_PTR:
    case DNS_T_NS:
    case DNS_T_CNAME: buf_puts(b, rr->u.name); break;
    case DNS_T_TXT:
        txt_text(b, rr->u.txt.data, rr->u.txt.len);
        buf_printf(b, " (%zu string%s)", rr->u.txt.nstrings, rr->u.txt.nstrings == 1 ? "" : "s");
        break;
    default: buf_printf(b, "\\# %zu ", rr->u.raw.len); hex(b, rr->u.raw.data, rr->u.raw.len);
    }
    buf_puts(b, "\n");
}

static void print_dns(bool json, const char *name, uint16_t type, const dns_answer *a, double ms)
{
    char tbuf[16];
    const char *tname = dns_type_name(type, tbuf, sizeof tbuf);
    buf_t b = {0};
    if (json) {
        buf_puts(&b, "{\"name\":");
        json_cstr(&b, name);
        buf_puts(&b, ",\"type\":");
        json_cstr(&b, tname);
        buf_printf(&b, ",\"status\":\"%s\",\"ttl\":%u,\"ms\":", dns_status_name(a->status), a->ttl);
        json_num(&b, ms);
        buf_puts(&b, ",\"answers\":[");
        for (size_t i = 0; i < a->n; i++) {
            if (i)
                buf_puts(&b, ",");
            rr_json(&b, &a->rr[i]);
        }
        buf_puts(&b, "]}\n");
    } else {
        buf_printf(&b, "%s %s: %s ttl=%u ms=%.1f\n", name, tname, dns_status_name(a->status),
                   a->ttl, ms);
        for (size_t i = 0; i < a->n; i++)
            rr_text(&b, &a->rr[i]);
    }
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
}

typedef struct {
    strlist servers, stubs;
    unsigned timeout_ms, interval_ms;
    uint64_t repeat;
    bool json;
} dns_cmd_opts;

/* dns lookup: the types of one name asked together (one batch), --repeat times, each
 * time in a new batch of the same resolver, so the later rounds show its cache. */
static int dns_lookup_cmd(const dns_cmd_opts *o, int argc, char **argv)
{
    if (argc < 1)
        die_usage("dns lookup: no name given");
    const char *name = argv[0];
    char rev[300];
    bool is_ip = dns_reverse_name(name, NULL, rev, sizeof rev);
    if (is_ip)
        name = rev; /* an address: its reverse name, PTR unless types are given */
    uint16_t types[32];
    size_t ntypes = 0;
    for (int i = 1; i < argc; i++) {
        if (ntypes == sizeof types / sizeof *types)
            die_usage("dns lookup: at most %zu types", sizeof types / sizeof *types);
        if (!dns_type_parse(argv[i], &types[ntypes++]))
            die_usage("dns lookup: unknown type '%s' (A, AAAA, MX, TXT, PTR, NS, CNAME, SPF, "
                      "SOA or a number)",
                      argv[i]);
    }
    if (!ntypes)
        types[ntypes++] = is_ip ? DNS_T_PTR : DNS_T_A;
    dns_resolver *r = ctl_resolver(&o->servers, &o->stubs, o->timeout_ms);
    int failures = 0;
    for (uint64_t round = 0; round < o->repeat; round++) {
        if (round && o->interval_ms) {
            struct timespec ts = {(time_t)(o->interval_ms / 1000),
                                  (long)(o->interval_ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
        dns_batch *b = dns_batch_new(r, 0);
        uint64_t t0 = mono_us();
        dns_query *q[32];
        for (size_t i = 0; i < ntypes; i++)
            q[i] = dns_submit(b, name, types[i]);
        for (size_t i = 0; i < ntypes; i++) {
            const dns_answer *a = dns_wait(q[i]);
            print_dns(o->json, name, types[i], a, (double)(mono_us() - t0) / 1000.0);
            failures +=
                a->status == DNS_SERVFAIL || a->status == DNS_TIMEOUT || a->status == DNS_BADNAME;
        }
        fflush(stdout);
        dns_batch_destroy(&b);
    }
    dns_destroy(&r);
    return failures ? 1 : 0;
}

/* A duration option with the units and bounds of the node's dns_timeout. */
static unsigned dns_duration(const char *opt, const char *s)
{
    char err[256];
    params *p = params_new(&params_node);
    if (!params_set(p, "dns_timeout", s, err, sizeof err))
        die_usage("dns lookup: %s: %s", opt, err);
    unsigned ms = (unsigned)params_int(p, "dns_timeout");
    params_destroy(&p);
    return ms;
}

static int cmd_dns(ctl *c, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "lookup") != 0)
        die_usage("dns: the subcommand is lookup");
    static const struct option opts[] = {
        {"dns", required_argument, 0, 'N'},      {"dns-stub", required_argument, 0, 'Z'},
        {"timeout", required_argument, 0, 't'},  {"repeat", required_argument, 0, 'r'},
        {"interval", required_argument, 0, 'i'}, {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
    };
    dns_cmd_opts o = {.repeat = 1};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc - 1, argv + 1, "+j", opts, NULL)) != -1) {
        switch (opt) {
        case 'N': strlist_add(&o.servers, optarg); break;
        case 'Z': strlist_add(&o.stubs, optarg); break;
        case 't': o.timeout_ms = dns_duration("--timeout", optarg); break;
        case 'i': o.interval_ms = dns_duration("--interval", optarg); break;
        case 'r':
            if (!cli_parse_uint(optarg, 1, 1000, &o.repeat))
                die_usage("dns lookup: --repeat wants 1..1000");
            break;
        case 'j': o.json = c->json = true; break;
        case 'h': fputs(usage_text, stdout); exit(0);
        default: die_usage("dns lookup: bad option");
        }
    }
    int rc = dns_lookup_cmd(&o, argc - 1 - optind, argv + 1 + optind);
    strlist_free(&o.servers);
    strlist_free(&o.stubs);
    return rc;
}

static int cmd_keygen(int argc, char **argv)
{
    const char *dir = ".";
    const char *name = NULL, *role = "node";
    unsigned roles;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
            role = argv[++i];
        else if (argv[i][0] == '-')
            die_usage("keygen: unknown option '%s'", argv[i]);
        else if (name)
            die_usage("keygen: one NAME only");
        else
            name = argv[i];
    }
    if (!name)
        die_usage("keygen: NAME missing");
    if (!key_roles_parse(role, &roles))
        die_usage("keygen: --role wants node, client or admin (comma-separated), not '%s'", role);
    curve_key k;
    char err[512];
    if (!key_generate(name, &k, err, sizeof err) || !key_write(dir, &k, err, sizeof err))
        die("%s", err);
    printf("wrote %s/%s.key (secret) and %s/%s.pub\nallow-list line: %s %s %s\n", dir, name, dir,
           name, name, k.public_z85, role);
    return 0;
}

/* ---- main --------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    log_init("bulwarkctl");
    log_set_level(LOG_WARN);
    ctl c = {0};
    const char *conf = getenv("BULWARK_CTL_CONF");
    bool conf_explicit = conf != NULL;
    const char *timeout = NULL;
    static const struct option opts[] = {{"master", required_argument, 0, 'm'},
                                         {"key", required_argument, 0, 'k'},
                                         {"server-key", required_argument, 0, 's'},
                                         {"no-curve", no_argument, 0, 'n'},
                                         {"timeout", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            conf = optarg;
            conf_explicit = true;
            break;
        case 'm': c.master = optarg; break;
        case 'k': c.key = optarg; break;
        case 's': c.server_key = optarg; break;
        case 'n': c.no_curve = true; break;
        case 't': timeout = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (optind >= argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    char err[1024];
    c.cfg = params_new(&params_ctl);
    if (!conf)
        conf = "/etc/bulwark/bulwarkctl.conf";
    if ((conf_explicit || access(conf, F_OK) == 0) &&
        !params_load_file(c.cfg, conf, err, sizeof err))
        die("%s", err);
    if (timeout && !params_set(c.cfg, "timeout", timeout, err, sizeof err))
        die_usage("--timeout: %s", err);
    if (!c.master)
        c.master = params_str(c.cfg, "master_endpoint");
    if (!c.key)
        c.key = params_str(c.cfg, "curve_secret_key");
    if (!c.server_key)
        c.server_key = params_str(c.cfg, "curve_server_key");
    if (!params_bool(c.cfg, "curve_enable"))
        c.no_curve = true;
    c.timeout_ms = params_int(c.cfg, "timeout");

    const char *cmd = argv[optind];
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    int rc;
    if (strcmp(cmd, "scan") == 0)
        rc = cmd_scan(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "status") == 0)
        rc = cmd_status(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "config") == 0)
        rc = cmd_config(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "quarantine") == 0)
        rc = cmd_quarantine(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "log") == 0)
        rc = cmd_log(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "fuzzy") == 0)
        rc = cmd_fuzzy(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "learn") == 0)
        rc = cmd_learn(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "dns") == 0)
        rc = cmd_dns(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "dkim") == 0)
        rc = dkimctl_main(sub_argc, sub_argv);
    else if (strcmp(cmd, "spf") == 0)
        rc = spfctl_main(sub_argc, sub_argv);
    else if (strcmp(cmd, "dmarc") == 0)
        rc = cmd_dmarc(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "keygen") == 0)
        rc = cmd_keygen(sub_argc, sub_argv);
    else if (strcmp(cmd, "version") == 0)
        rc = printf("bulwarkctl %s (protocol %d)\n", BULWARK_VERSION, BW_PROTOCOL) < 0;
    else
        die_usage("unknown command '%s'", cmd);
    params_destroy(&c.cfg);
    return rc;
}
