/* test_dns.c - the resolver's parsing of untrusted rdata, names, and its bounded waits.
 *
 * The rdata decoder gets well-formed records of every type and then cut, overlong and
 * hostile ones (compression pointers, labels past the end, bytes left over), which
 * must be refused without reading past the buffer (ASan). Reverse names, name
 * normalisation and forwarder syntax are checked on edge cases. The waits run against
 * real sockets on 127.0.0.1 that never answer (a bound UDP socket nobody reads) or
 * refuse (a closed port): every wait must end within the timeout or the batch
 * deadline, also with several threads sharing the resolver, and nothing may leak
 * when batches are destroyed with queries in flight. Answers from a real server are
 * covered by tests/integration/test_dns.py. */
#include "dns.h"
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool parse(uint16_t type, const void *p, size_t len, arena *a, dns_rr *rr)
{
    /* A heap copy of exactly len bytes, so ASan sees any read past the rdata. */
    uint8_t *copy = xmalloc(len ? len : 1);
    memcpy(copy, p, len);
    bool ok = dns_rdata_parse(type, copy, len, a, rr);
    free(copy);
    return ok;
}

#define RD(type, lit, a, rr) parse(type, lit, sizeof lit - 1, a, rr)

static void test_rdata_addresses(void **state)
{
    (void)state;
    arena *a = arena_new(1024);
    dns_rr rr;
    assert_true(RD(DNS_T_A, "\xc0\x00\x02\x01", a, &rr));
    assert_int_equal(rr.type, DNS_T_A);
    assert_memory_equal(rr.u.a, "\xc0\x00\x02\x01", 4);
    assert_false(RD(DNS_T_A, "\xc0\x00\x02", a, &rr));
    assert_false(RD(DNS_T_A, "\xc0\x00\x02\x01\x00", a, &rr));
    assert_false(parse(DNS_T_A, "", 0, a, &rr));
    assert_true(RD(DNS_T_AAAA, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", a, &rr));
    assert_memory_equal(rr.u.aaaa, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    assert_false(RD(DNS_T_AAAA, "\xc0\x00\x02\x01", a, &rr));
    arena_destroy(&a);
}

static void test_rdata_names(void **state)
{
    (void)state;
    arena *a = arena_new(1024);
    dns_rr rr;
    assert_true(RD(DNS_T_MX,
                   "\x00\x0a\x04MAIL\x07"
                   "Example\x03"
                   "com\x00",
                   a, &rr));
    assert_int_equal(rr.u.mx.pref, 10);
    assert_string_equal(rr.u.mx.host, "mail.example.com");
    /* RFC 7505 null MX: preference 0, the root. */
    assert_true(RD(DNS_T_MX, "\x00\x00\x00", a, &rr));
    assert_int_equal(rr.u.mx.pref, 0);
    assert_string_equal(rr.u.mx.host, "");
    assert_true(RD(DNS_T_MX, "\xff\xff\x01x\x00", a, &rr));
    assert_int_equal(rr.u.mx.pref, 65535);
    assert_false(RD(DNS_T_MX, "\x00\x0a", a, &rr)); /* no name */
    assert_false(RD(DNS_T_MX, "\x00\x0a\x04mail", a, &rr)); /* no root label */
    assert_false(RD(DNS_T_MX, "\x00\x0a\xc0\x0c", a, &rr)); /* compression pointer */
    assert_false(RD(DNS_T_MX, "\x00\x0a\x41xx\x00", a, &rr)); /* extended label type */
    assert_false(RD(DNS_T_MX, "\x00\x0a\x01x\x00\x00", a, &rr)); /* bytes left over */

    assert_true(RD(DNS_T_PTR,
                   "\x04mail\x07"
                   "example\x03"
                   "com\x00",
                   a, &rr));
    assert_string_equal(rr.u.name, "mail.example.com");
    assert_true(RD(DNS_T_CNAME, "\x03WWW\x01X\x00", a, &rr));
    assert_string_equal(rr.u.name, "www.x");
    assert_true(RD(DNS_T_NS, "\x00", a, &rr));
    assert_string_equal(rr.u.name, "");
    /* A dot, a backslash, a space, NUL and a high byte inside labels stay readable and
     * cannot be mistaken for label boundaries. */
    assert_true(RD(DNS_T_PTR,
                   "\x03"
                   "a.b\x05"
                   "c\\ \x00\xff\x00",
                   a, &rr));
    assert_string_equal(rr.u.name, "a\\.b.c\\\\\\032\\000\\255");
    /* Label length past the end of the rdata. */
    assert_false(RD(DNS_T_PTR,
                    "\x3f"
                    "abc",
                    a, &rr));
    assert_false(RD(DNS_T_PTR, "", a, &rr));

    /* The longest legal name (255 bytes on the wire) passes; one byte more does not. */
    uint8_t wire[300];
    size_t o = 0;
    for (int i = 0; i < 4; i++) {
        size_t l = i < 3 ? 63 : 61;
        wire[o++] = (uint8_t)l;
        memset(wire + o, 'a' + i, l);
        o += l;
    }
    wire[o++] = 0;
    assert_int_equal(o, 255);
    assert_true(parse(DNS_T_PTR, wire, o, a, &rr));
    assert_int_equal(strlen(rr.u.name), 253);
    wire[192] = 62; /* the last label one byte longer: 256 bytes */
    memset(wire + 193, 'd', 62);
    wire[255] = 0;
    assert_false(parse(DNS_T_PTR, wire, 256, a, &rr));
    /* Every byte escaped: the text is about four times the wire form. */
    memset(wire, 0x01, sizeof wire);
    for (int i = 0; i < 3; i++)
        wire[i * 64] = 63;
    wire[192] = 0;
    assert_true(parse(DNS_T_PTR, wire, 193, a, &rr));
    assert_int_equal(strlen(rr.u.name), 3 * 63 * 4 + 2);
    assert_string_equal(rr.u.name + 3 * 63 * 4 + 2 - 4, "\\001");
    arena_destroy(&a);
}

static void test_rdata_txt(void **state)
{
    (void)state;
    arena *a = arena_new(1024);
    dns_rr rr;
    assert_true(RD(DNS_T_TXT, "\x0bv=spf1 -all", a, &rr));
    assert_int_equal(rr.u.txt.nstrings, 1);
    assert_int_equal(rr.u.txt.len, 11);
    assert_string_equal(rr.u.txt.data, "v=spf1 -all");
    /* Several strings are one record, concatenated without a separator. */
    assert_true(RD(DNS_T_TXT, "\x08v=DKIM1;\x04p=MI\x00\x03IjA", a, &rr));
    assert_int_equal(rr.u.txt.nstrings, 4);
    assert_int_equal(rr.u.txt.len, 15);
    assert_string_equal(rr.u.txt.data, "v=DKIM1;p=MIIjA");
    /* NUL and high bytes kept as they are; the data is still NUL-terminated. */
    assert_true(RD(DNS_T_TXT,
                   "\x04"
                   "a\x00\xff"
                   "b",
                   a, &rr));
    assert_int_equal(rr.u.txt.len, 4);
    assert_memory_equal(rr.u.txt.data,
                        "a\x00\xff"
                        "b\x00",
                        5);
    /* No strings at all (rdlength 0), as the SPF test suite's empty record. */
    assert_true(parse(DNS_T_TXT, "", 0, a, &rr));
    assert_int_equal(rr.u.txt.nstrings, 0);
    assert_int_equal(rr.u.txt.len, 0);
    assert_string_equal(rr.u.txt.data, "");
    /* A string running past the rdata is refused, wherever it is. */
    assert_false(RD(DNS_T_TXT,
                    "\x05"
                    "abc",
                    a, &rr));
    assert_false(RD(DNS_T_TXT,
                    "\x02"
                    "ab\x02"
                    "c",
                    a, &rr));
    /* 255-byte strings, the most a character-string holds. */
    uint8_t big[2 * 256];
    for (int i = 0; i < 2; i++) {
        big[i * 256] = 255;
        memset(big + i * 256 + 1, 'x', 255);
    }
    assert_true(parse(DNS_T_TXT, big, sizeof big, a, &rr));
    assert_int_equal(rr.u.txt.len, 510);
    assert_int_equal(rr.u.txt.nstrings, 2);
    arena_destroy(&a);
}

static void test_rdata_other_types(void **state)
{
    (void)state;
    arena *a = arena_new(1024);
    dns_rr rr;
    assert_true(RD(99, "\x0bv=spf1 -all", a, &rr));
    assert_int_equal(rr.type, 99);
    assert_int_equal(rr.u.raw.len, 12);
    assert_memory_equal(rr.u.raw.data, "\x0bv=spf1 -all", 12);
    assert_true(parse(6, "", 0, a, &rr));
    assert_int_equal(rr.u.raw.len, 0);
    arena_destroy(&a);
}

static void test_reverse_names(void **state)
{
    (void)state;
    char out[256];
    assert_true(dns_reverse_name("192.0.2.1", NULL, out, sizeof out));
    assert_string_equal(out, "1.2.0.192.in-addr.arpa");
    assert_true(dns_reverse_name("127.0.0.2", "zen.example.", out, sizeof out));
    assert_string_equal(out, "2.0.0.127.zen.example");
    assert_true(dns_reverse_name("192.0.2.1", "", out, sizeof out));
    assert_string_equal(out, "1.2.0.192.in-addr.arpa");
    assert_true(dns_reverse_name("2001:DB8::1", NULL, out, sizeof out));
    assert_string_equal(out,
                        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    assert_true(dns_reverse_name("cafe:babe::3", "Dnsbl.Example", out, sizeof out));
    assert_string_equal(
        out, "3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.b.a.b.e.f.a.c.dnsbl.example");
    /* An IPv4-mapped address is the IPv4 sender. */
    assert_true(dns_reverse_name("::ffff:198.51.100.7", NULL, out, sizeof out));
    assert_string_equal(out, "7.100.51.198.in-addr.arpa");

    const char *bad[] = {"",         "1.2.3",       "1.2.3.4.5",  "256.1.1.1",
                         "1.2.3.4 ", " 1.2.3.4",    "[1.2.3.4]",  "::g",
                         "1:2:3",    "example.com", "1.2.3.4/24", "fe80::1%eth0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        strcpy(out, "unchanged");
        assert_false(dns_reverse_name(bad[i], NULL, out, sizeof out));
    }
    assert_false(dns_reverse_name(NULL, NULL, out, sizeof out));
    /* The output does not fit: refused, not cut. */
    assert_false(dns_reverse_name("192.0.2.1", NULL, out, 10));
    assert_false(dns_reverse_name("192.0.2.1", "bad..zone", out, sizeof out));
    /* A zone so long that the name would pass 253 characters. */
    char zone[250];
    memset(zone, 'a', sizeof zone - 1);
    zone[sizeof zone - 1] = '\0';
    for (size_t i = 60; i < sizeof zone - 1; i += 61)
        zone[i] = '.';
    assert_false(dns_reverse_name("2001:db8::1", zone, out, sizeof out));
}

static void test_name_normalize(void **state)
{
    (void)state;
    char out[256];
    assert_true(dns_name_normalize("Mail.Example.COM.", out, sizeof out));
    assert_string_equal(out, "mail.example.com");
    assert_true(dns_name_normalize("_dmarc.example.org", out, sizeof out));
    assert_string_equal(out, "_dmarc.example.org");
    assert_true(dns_name_normalize("x", out, sizeof out));
    assert_string_equal(out, "x");
    assert_true(dns_name_normalize("caf\xc3\xa9.example", out, sizeof out)); /* raw UTF-8 */
    assert_string_equal(out, "caf\xc3\xa9.example");
    assert_true(dns_name_normalize("Macro%Percent  Space.example", out, sizeof out));
    assert_string_equal(out, "macro%percent\\032\\032space.example"); /* SPF's %_ */

    const char *bad[] = {"",
                         ".",
                         "..",
                         "a..b",
                         ".a",
                         "a\\.b",
                         "a\tb",
                         "a\x7f"
                         "b",
                         "a\nb",
                         "a..",
                         "a.b.."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(dns_name_normalize(bad[i], out, sizeof out));
    assert_false(dns_name_normalize(NULL, out, sizeof out));

    char name[300];
    memset(name, 'a', 63);
    strcpy(name + 63, ".example");
    assert_true(dns_name_normalize(name, out, sizeof out));
    memset(name, 'a', 64);
    strcpy(name + 64, ".example");
    assert_false(dns_name_normalize(name, out, sizeof out));
    /* 253 characters is the longest name; 254 is not (255 bytes on the wire with the
     * root label is the limit). */
    memset(name, 'b', sizeof name);
    for (size_t i = 50; i < 253; i += 51)
        name[i] = '.';
    name[253] = '\0';
    assert_true(dns_name_normalize(name, out, sizeof out));
    name[253] = 'b';
    name[254] = '\0';
    assert_false(dns_name_normalize(name, out, sizeof out));
    /* Too small an output buffer is a refusal, not a cut name. */
    assert_false(dns_name_normalize("example.com", out, 5));
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(dns_status_name(DNS_OK), "ok");
    assert_string_equal(dns_status_name(DNS_NXDOMAIN), "nxdomain");
    assert_string_equal(dns_status_name(DNS_NODATA), "nodata");
    assert_string_equal(dns_status_name(DNS_SERVFAIL), "servfail");
    assert_string_equal(dns_status_name(DNS_TIMEOUT), "timeout");
    assert_string_equal(dns_status_name(DNS_BADNAME), "badname");
}

static dns_resolver *resolver(const char *fwd, unsigned timeout_ms)
{
    dns_opts o;
    dns_opts_default(&o);
    assert_int_equal(o.timeout_ms, 2000);
    o.timeout_ms = timeout_ms;
    if (fwd)
        strlist_add(&o.forwarders, fwd);
    char err[256] = "";
    dns_resolver *r = dns_new(&o, err, sizeof err);
    strlist_free(&o.forwarders);
    assert_non_null(r);
    return r;
}

static void test_forwarder_syntax(void **state)
{
    (void)state;
    const char *good[] = {"127.0.0.1", "127.0.0.1:5353", "[::1]:5353", "::1", "[2001:db8::1]"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        dns_resolver *r = resolver(good[i], 500);
        dns_destroy(&r);
        assert_null(r);
    }
    const char *bad[] = {
        "",     "dns.example:53", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:",
        "[::1", "[::1]x",         "1.2.3:53",    "[1.2.3.4]:53",    "127.0.0.1:53x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dns_opts o;
        dns_opts_default(&o);
        strlist_add(&o.forwarders, bad[i]);
        char err[256] = "";
        assert_null(dns_new(&o, err, sizeof err));
        assert_non_null(strstr(err, "bad DNS forwarder"));
        strlist_free(&o.forwarders);
    }
    dns_resolver *none = NULL;
    dns_destroy(&none); /* NULL is fine */
}

/* A UDP socket on 127.0.0.1 that is never read: queries sent there get no answer. */
static int silent_server(char *fwd, size_t len)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    snprintf(fwd, len, "127.0.0.1:%d", ntohs(a.sin_port));
    return fd;
}

static void test_badname_and_dedup(void **state)
{
    (void)state;
    char fwd[64];
    int fd = silent_server(fwd, sizeof fwd);
    dns_resolver *r = resolver(fwd, 300);
    dns_batch *b = dns_batch_new(r, 0);
    const dns_answer *a = dns_lookup(b, "a..example", DNS_T_A);
    assert_int_equal(a->status, DNS_BADNAME);
    assert_int_equal(a->n, 0);
    assert_int_equal(dns_lookup(b, "", DNS_T_TXT)->status, DNS_BADNAME);
    assert_int_equal(dns_lookup(b, NULL, DNS_T_TXT)->status, DNS_BADNAME);
    /* The same (name, type) is one query, whatever the case or trailing dot. */
    dns_query *q1 = dns_submit(b, "Example.COM.", DNS_T_MX);
    dns_query *q2 = dns_submit(b, "example.com", DNS_T_MX);
    dns_query *q3 = dns_submit(b, "example.com", DNS_T_TXT);
    assert_ptr_equal(q1, q2);
    assert_ptr_not_equal(q1, q3);
    assert_int_equal(dns_batch_queries(b), 4);
    dns_batch_destroy(&b); /* two queries in flight: cancelled, nothing leaks */
    assert_null(b);
    dns_destroy(&r);
    close(fd);
}

static void test_timeout_bounded(void **state)
{
    (void)state;
    char fwd[64];
    int fd = silent_server(fwd, sizeof fwd);
    dns_resolver *r = resolver(fwd, 400);
    dns_batch *b = dns_batch_new(r, 0);
    uint64_t t0 = mono_ms();
    /* Submitted together: the waits overlap, the batch takes one timeout, not three. */
    dns_query *q[3] = {dns_submit(b, "a.example", DNS_T_A), dns_submit(b, "b.example", DNS_T_A),
                       dns_submit(b, "c.example", DNS_T_TXT)};
    for (int i = 0; i < 3; i++)
        assert_int_equal(dns_wait(q[i])->status, DNS_TIMEOUT);
    uint64_t took = mono_ms() - t0;
    assert_true(took >= 390);
    assert_true(took < 1000);
    assert_int_equal(dns_batch_timeouts(b), 3);
    /* A second wait on an answered query returns at once, the same answer. */
    t0 = mono_ms();
    assert_int_equal(dns_wait(q[0])->status, DNS_TIMEOUT);
    assert_true(mono_ms() - t0 < 50);
    dns_batch_destroy(&b);

    /* The batch deadline cuts the per-query timeout short... */
    b = dns_batch_new(r, now_ms() + 100);
    t0 = mono_ms();
    assert_int_equal(dns_lookup(b, "d.example", DNS_T_A)->status, DNS_TIMEOUT);
    took = mono_ms() - t0;
    assert_true(took >= 90 && took < 350);
    dns_batch_destroy(&b);
    /* ...and one already past ends every wait at once. */
    b = dns_batch_new(r, now_ms() - 1);
    t0 = mono_ms();
    assert_int_equal(dns_lookup(b, "e.example", DNS_T_A)->status, DNS_TIMEOUT);
    assert_true(mono_ms() - t0 < 50);
    dns_batch_destroy(&b);
    dns_destroy(&r);
    close(fd);
}

static void test_refused_port(void **state)
{
    (void)state;
    /* A port nobody listens on: ICMP unreachable. The answer is a failure or a
     * timeout, never a hang and never "no such name". */
    char fwd[64];
    int fd = silent_server(fwd, sizeof fwd);
    close(fd);
    dns_resolver *r = resolver(fwd, 500);
    dns_batch *b = dns_batch_new(r, 0);
    uint64_t t0 = mono_ms();
    const dns_answer *a = dns_lookup(b, "example.com", DNS_T_MX);
    assert_true(a->status == DNS_SERVFAIL || a->status == DNS_TIMEOUT);
    assert_true(mono_ms() - t0 < 1000);
    dns_batch_destroy(&b);
    dns_destroy(&r);
}

typedef struct {
    dns_resolver *r;
    int index;
    int timeouts;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int round = 0; round < 3; round++) {
        dns_batch *b = dns_batch_new(w->r, 0);
        char name[64];
        dns_query *q[8];
        for (int i = 0; i < 8; i++) {
            snprintf(name, sizeof name, "n%d.w%d.r%d.example", i, w->index, round);
            q[i] = dns_submit(b, name, i % 2 ? DNS_T_TXT : DNS_T_A);
        }
        for (int i = 0; i < 4; i++) /* the other half is cancelled by destroy */
            w->timeouts += dns_wait(q[i])->status == DNS_TIMEOUT;
        dns_batch_destroy(&b);
    }
    return NULL;
}

static void test_threads_share_resolver(void **state)
{
    (void)state;
    char fwd[64];
    int fd = silent_server(fwd, sizeof fwd);
    dns_resolver *r = resolver(fwd, 200);
    dns_process_set(r);
    assert_ptr_equal(dns_process(), r);
    pthread_t t[4];
    worker w[4];
    uint64_t t0 = mono_ms();
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){r, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].timeouts, 12);
    }
    /* Three rounds of one 200 ms timeout each, in parallel: not 4 x 3 x 8 timeouts. */
    assert_true(mono_ms() - t0 < 1500);
    dns_process_set(NULL);
    assert_null(dns_process());
    dns_destroy(&r);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rdata_addresses),   cmocka_unit_test(test_rdata_names),
        cmocka_unit_test(test_rdata_txt),         cmocka_unit_test(test_rdata_other_types),
        cmocka_unit_test(test_reverse_names),     cmocka_unit_test(test_name_normalize),
        cmocka_unit_test(test_status_names),      cmocka_unit_test(test_forwarder_syntax),
        cmocka_unit_test(test_badname_and_dedup), cmocka_unit_test(test_timeout_bounded),
        cmocka_unit_test(test_refused_port),      cmocka_unit_test(test_threads_share_resolver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
