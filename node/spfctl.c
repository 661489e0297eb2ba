/* spfctl.c - `bulwarkctl spf`: the operator's SPF diagnostic, in the manner of spfquery.
 *
 *   spf [--dns HOST:PORT] [--timeout DURATION] [--json] [--identity mailfrom|helo]
 *       [--receiver NAME] [--default-exp TEXT] --ip IP [--helo NAME] [--mail-from ADDR]
 *   spf --batch [options]      cases from stdin, one "IP<TAB>HELO<TAB>MAIL-FROM" a line
 *
 * Each case is one check_host() evaluation (node/spf.c) in a DNS batch of its own, so
 * its lookups count from zero, on one resolver (libunbound: the --dns forwarders, else
 * full recursion) whose cache the cases of a run share. The output says the result,
 * the mechanism that decided, the explanation or the reason, and the lookups used. */
#include "spfctl.h"
#include "dns.h"
#include "json.h"
#include "params.h"
#include "spf.h"
#include "util.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 7208 4.6.4: a limit on the time of one evaluation "SHOULD allow at least 20
 * seconds"; then it is a temperror. */
#define SPFCTL_DEADLINE_MS 20000
#define SPFCTL_LINE_MAX 4096

typedef struct {
    strlist servers;
    unsigned timeout_ms;
    bool json, batch;
    spf_identity identity;
    spf_opts opts;
    const char *ip, *helo, *mail_from;
} spfctl_opts;

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bulwarkctl spf: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see bulwarkctl --help)\n", stderr);
    va_end(ap);
    return 2;
}

/* A duration with the units and bounds of the node's dns_timeout. */
static bool parse_timeout(const char *s, unsigned *ms)
{
    char err[256];
    params *p = params_new(&params_node);
    bool ok = params_set(p, "dns_timeout", s, err, sizeof err);
    if (ok)
        *ms = (unsigned)params_int(p, "dns_timeout");
    else
        fprintf(stderr, "bulwarkctl spf: --timeout: %s\n", err);
    params_destroy(&p);
    return ok;
}

static void print_outcome(const spfctl_opts *o, const char *ip, const char *helo,
                          const char *mail_from, const spf_outcome *r, double ms)
{
    const char *identity = o->identity == SPF_ID_HELO ? "helo" : "mailfrom";
    buf_t b = {0};
    if (o->json) {
        buf_puts(&b, "{\"identity\":");
        json_cstr(&b, identity);
        buf_puts(&b, ",\"ip\":");
        json_cstr(&b, ip);
        buf_puts(&b, ",\"helo\":");
        json_cstr(&b, helo);
        buf_puts(&b, ",\"mail_from\":");
        json_cstr(&b, mail_from);
        buf_puts(&b, ",\"domain\":");
        json_cstr(&b, r->domain);
        buf_puts(&b, ",\"result\":");
        json_cstr(&b, spf_result_name(r->result));
        buf_puts(&b, ",\"mechanism\":");
        json_cstr(&b, r->mechanism);
        buf_puts(&b, ",\"explanation\":");
        json_cstr(&b, r->explanation);
        buf_puts(&b, ",\"reason\":");
        json_cstr(&b, r->reason);
        buf_printf(&b, ",\"lookups\":%u,\"void_lookups\":%u,\"queries\":%u,\"ms\":", r->lookups,
                   r->void_lookups, r->queries);
        json_num(&b, ms);
        buf_puts(&b, "}\n");
    } else {
        buf_printf(&b, "identity:    %s %s\n", identity, r->domain[0] ? r->domain : "(none)");
        buf_printf(&b, "client:      %s\n", ip);
        buf_printf(&b, "result:      %s\n", spf_result_name(r->result));
        if (r->mechanism[0])
            buf_printf(&b, "mechanism:   %s\n", r->mechanism);
        if (r->explanation[0])
            buf_printf(&b, "explanation: %s\n", r->explanation);
        if (r->reason[0])
            buf_printf(&b, "reason:      %s\n", r->reason);
        buf_printf(&b, "lookups:     %u of %d, void %u of %d, %u DNS queries, %.1f ms\n",
                   r->lookups, SPF_LOOKUPS_MAX, r->void_lookups, SPF_VOID_MAX, r->queries, ms);
    }
    fwrite(b.data, 1, b.len, stdout);
    fflush(stdout);
    buf_free(&b);
}

/* One evaluation; false (after saying why) when ip is not an address. */
static bool evaluate(const spfctl_opts *o, dns_resolver *r, const char *ip, const char *helo,
                     const char *mail_from)
{
    spf_ip addr;
    if (!spf_ip_parse(ip, &addr)) {
        if (o->json) {
            buf_t b = {0};
            buf_puts(&b, "{\"error\":");
            json_cstr(&b, "not an IP address");
            buf_puts(&b, ",\"ip\":");
            json_cstr(&b, ip);
            buf_puts(&b, "}\n");
            fwrite(b.data, 1, b.len, stdout);
            fflush(stdout);
            buf_free(&b);
        }
        fprintf(stderr, "bulwarkctl spf: '%s' is not an IP address\n", ip);
        return false;
    }
    dns_batch *b = dns_batch_new(r, now_ms() + SPFCTL_DEADLINE_MS);
    spf_outcome out;
    uint64_t t0 = mono_us();
    spf_check(b, &o->opts, o->identity, &addr, helo, mail_from, &out);
    double ms = (double)(mono_us() - t0) / 1000.0;
    dns_batch_destroy(&b);
    print_outcome(o, ip, helo, mail_from, &out, ms);
    return true;
}

/* --batch: "IP<TAB>HELO<TAB>MAIL-FROM" lines (HELO and MAIL-FROM may be empty). */
static int run_batch(const spfctl_opts *o, dns_resolver *r)
{
    char *line = xmalloc(SPFCTL_LINE_MAX);
    int rc = 0;
    while (fgets(line, SPFCTL_LINE_MAX, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        char *helo = strchr(line, '\t'), *from = helo ? strchr(helo + 1, '\t') : NULL;
        if (!from) {
            fprintf(stderr, "bulwarkctl spf: --batch wants IP<TAB>HELO<TAB>MAIL-FROM, not '%s'\n",
                    line);
            rc = 2;
            continue;
        }
        *helo++ = '\0';
        *from++ = '\0';
        if (!evaluate(o, r, line, helo, from))
            rc = 2;
    }
    free(line);
    return rc;
}

int spfctl_main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"dns", required_argument, 0, 'N'},
        {"timeout", required_argument, 0, 't'},
        {"json", no_argument, 0, 'j'},
        {"batch", no_argument, 0, 'b'},
        {"identity", required_argument, 0, 'I'},
        {"receiver", required_argument, 0, 'R'},
        {"default-exp", required_argument, 0, 'E'},
        {"ip", required_argument, 0, 'i'},
        {"helo", required_argument, 0, 'H'},
        {"mail-from", required_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    spfctl_opts o = {.identity = SPF_ID_MAILFROM};
    int opt, rc = 0;
    optind = 1;
    while (rc == 0 && (opt = getopt_long(argc, argv, "+j", lopts, NULL)) != -1) {
        switch (opt) {
        case 'N': strlist_add(&o.servers, optarg); break;
        case 't':
            if (!parse_timeout(optarg, &o.timeout_ms))
                rc = 2;
            break;
        case 'j': o.json = true; break;
        case 'b': o.batch = true; break;
        case 'I':
            if (strcmp(optarg, "mailfrom") == 0)
                o.identity = SPF_ID_MAILFROM;
            else if (strcmp(optarg, "helo") == 0)
                o.identity = SPF_ID_HELO;
            else
                rc = usage("--identity wants mailfrom or helo, not '%s'", optarg);
            break;
        case 'R': o.opts.receiver = optarg; break;
        case 'E':
            if (!spf_macro_valid(optarg, strlen(optarg), SPF_MACRO_EXPLAIN))
                rc = usage("--default-exp: not a valid macro-string: '%s'", optarg);
            o.opts.default_exp = optarg;
            break;
        case 'i': o.ip = optarg; break;
        case 'H': o.helo = optarg; break;
        case 'f': o.mail_from = optarg; break;
        case 'h':
            puts("usage: bulwarkctl spf [--dns HOST:PORT] [--timeout DURATION] [--json]\n"
                 "         [--identity mailfrom|helo] [--receiver NAME] [--default-exp TEXT]\n"
                 "         --ip IP [--helo NAME] [--mail-from ADDR]\n"
                 "       bulwarkctl spf --batch [options]   (stdin: IP<TAB>HELO<TAB>MAIL-FROM)");
            strlist_free(&o.servers);
            return 0;
        default: rc = usage("bad option"); break;
        }
    }
    if (rc == 0 && optind < argc)
        rc = usage("unexpected argument '%s'", argv[optind]);
    if (rc == 0 && !o.batch && !o.ip)
        rc = usage("--ip is required (or --batch)");
    if (rc == 0 && o.batch && (o.ip || o.helo || o.mail_from))
        rc = usage("--batch reads the cases from stdin: no --ip, --helo or --mail-from");
    if (rc == 0 && o.identity == SPF_ID_HELO && !o.batch && !o.helo)
        rc = usage("--identity helo needs --helo");
    dns_resolver *r = NULL;
    if (rc == 0) {
        dns_opts d;
        dns_opts_default(&d);
        for (size_t i = 0; i < o.servers.n; i++)
            dns_opts_add_forwarders(&d, o.servers.v[i]);
        if (o.timeout_ms)
            d.timeout_ms = o.timeout_ms;
        char err[512];
        r = dns_new(&d, err, sizeof err);
        strlist_free(&d.forwarders);
        if (!r)
            rc = usage("--dns: %s", err);
    }
    if (rc == 0)
        rc = o.batch ? run_batch(&o, r)
             : evaluate(&o, r, o.ip, o.helo ? o.helo : "", o.mail_from ? o.mail_from : "") ? 0
                                                                                           : 2;
    dns_destroy(&r);
    strlist_free(&o.servers);
    return rc;
}
