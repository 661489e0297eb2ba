/* dnscheck.c - DNS sanity of the connection: the client's reverse DNS, the HELO name and
 * the envelope sender's domain.
 *
 * start submits the client's PTR, the sender domain's MX/A/AAAA and the HELO's A/AAAA
 * with the other checks' lookups; run collects them (the batch returns the same
 * queries) and asks the PTR names' addresses (forward confirmation: one more round
 * trip, only when there is a PTR). Symbols: RDNS_NONE, RDNS_NOT_FCRDNS,
 * SENDER_DOMAIN_NO_MX_A (also a null MX, RFC 7505), HELO_NOT_FQDN, HELO_BARE_IP,
 * HELO_NXDOMAIN, HELO_MISMATCH_IP; a failed lookup decides nothing (DNSCHECK_TEMPERROR).
 * Not for rbl.trusted_networks, authenticated submitters, or without a resolver. */
#include "checks.h"
#include "log.h"
#include "netlist.h"
#include "rbl.h"
#include "util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FCRDNS_NAMES_MAX 3 /* PTR names whose addresses are looked up */

typedef struct {
    netlist trusted;
} dnscheck_state;

static const symbol_def dnscheck_symbols[] = {
    {"RDNS_NONE", 1.0, "The client address has no reverse DNS (PTR) name"},
    {"RDNS_NOT_FCRDNS", 0.5,
     "The client's PTR name does not resolve back to the client address (not "
     "forward-confirmed)"},
    {"SENDER_DOMAIN_NO_MX_A", 1.5,
     "The envelope sender's domain cannot receive mail: no such domain, no MX and no "
     "address, or a null MX (RFC 7505)"},
    {"HELO_NOT_FQDN", 0.5, "The HELO name is not a fully qualified domain name"},
    {"HELO_BARE_IP", 1.0, "The HELO is an IP address not in [brackets] (RFC 5321 4.1.3)"},
    {"HELO_NXDOMAIN", 0.5, "The HELO name does not exist in DNS (or has no address)"},
    {"HELO_MISMATCH_IP", 0.2, "The HELO name's addresses do not include the client's"},
    {"DNSCHECK_TEMPERROR", 0.0,
     "A DNS lookup of these checks timed out or failed: they decide nothing for it"},
    {NULL, 0, NULL},
};

static bool dnscheck_init(const params *cfg, void **state, char *err, size_t errlen)
{
    dnscheck_state *s = xcalloc(1, sizeof *s);
    if (!netlist_param(cfg, "rbl.trusted_networks", &s->trusted, err, errlen)) {
        free(s);
        return false;
    }
    *state = s;
    return true;
}

/* What a message offers: the client in canonical text, the HELO as a name (or why
 * it is not one), the MAIL FROM domain. False when nothing is to be checked. */
typedef struct {
    char ip[64];
    bool v6;
    char ptr[80]; /* the client's reverse name */
    char helo[256]; /* "" when the HELO is not a name to look up */
    char sender[256]; /* "" for the null sender or a domain literal */
} subjects;

static bool gather(scan_task *t, const dnscheck_state *s, subjects *o)
{
    memset(o, 0, sizeof *o);
    const Bulwark__Envelope *env = task_envelope(t);
    if (!env || !env->client_ip || !*env->client_ip || !task_dns(t))
        return false;
    if (env->auth_user && *env->auth_user)
        return false;
    if (!rbl_address(env->client_ip, o->ip, sizeof o->ip) || netlist_match(&s->trusted, o->ip))
        return false;
    o->v6 = strchr(o->ip, ':') != NULL;
    dns_reverse_name(o->ip, NULL, o->ptr, sizeof o->ptr);
    char addr[64];
    if (env->helo && strchr(env->helo, '.') && env->helo[0] != '[' &&
        !rbl_address(env->helo, addr, sizeof addr))
        rbl_domain(env->helo, o->helo, sizeof o->helo);
    const char *at = env->mail_from ? strrchr(env->mail_from, '@') : NULL;
    if (at && at[1] != '[')
        rbl_domain(at + 1, o->sender, sizeof o->sender);
    return true;
}

static void dnscheck_start(scan_task *t, const void *state)
{
    subjects o;
    if (!gather(t, state, &o))
        return;
    dns_batch *b = task_dns(t);
    dns_submit(b, o.ptr, DNS_T_PTR);
    if (*o.sender) {
        dns_submit(b, o.sender, DNS_T_MX);
        dns_submit(b, o.sender, DNS_T_A);
        dns_submit(b, o.sender, DNS_T_AAAA);
    }
    if (*o.helo) {
        dns_submit(b, o.helo, DNS_T_A);
        dns_submit(b, o.helo, DNS_T_AAAA);
    }
}

static bool temporary(const dns_answer *a)
{
    return a->status == DNS_SERVFAIL || a->status == DNS_TIMEOUT;
}

static bool negative(const dns_answer *a)
{
    return a->status == DNS_NXDOMAIN || a->status == DNS_NODATA || a->status == DNS_BADNAME;
}

/* Whether an A/AAAA answer holds the client's address. */
static bool holds(const dns_answer *a, const subjects *o)
{
    unsigned char bin[16];
    if (inet_pton(o->v6 ? AF_INET6 : AF_INET, o->ip, bin) != 1)
        return false;
    for (size_t i = 0; a->status == DNS_OK && i < a->n; i++) {
        if (!o->v6 && a->rr[i].type == DNS_T_A && memcmp(a->rr[i].u.a, bin, 4) == 0)
            return true;
        if (o->v6 && a->rr[i].type == DNS_T_AAAA && memcmp(a->rr[i].u.aaaa, bin, 16) == 0)
            return true;
    }
    return false;
}

static void check_rdns(scan_task *t, const subjects *o, buf_t *temp)
{
    dns_batch *b = task_dns(t);
    const dns_answer *ptr = dns_lookup(b, o->ptr, DNS_T_PTR);
    if (temporary(ptr)) {
        buf_printf(temp, "%sPTR of %s: %s", temp->len ? "; " : "", o->ip,
                   dns_status_name(ptr->status));
        return;
    }
    if (negative(ptr)) {
        task_symbol(t, "RDNS_NONE", "%s has no PTR record (%s)", o->ip,
                    dns_status_name(ptr->status));
        return;
    }
    size_t n = ptr->n < FCRDNS_NAMES_MAX ? ptr->n : FCRDNS_NAMES_MAX;
    uint16_t type = o->v6 ? DNS_T_AAAA : DNS_T_A;
    dns_query *q[FCRDNS_NAMES_MAX];
    for (size_t i = 0; i < n; i++) /* together: one round trip for all names */
        q[i] = dns_submit(b, ptr->rr[i].u.name, type);
    bool failed = false;
    buf_t seen = {0};
    for (size_t i = 0; i < n; i++) {
        const dns_answer *a = dns_wait(q[i]);
        if (holds(a, o)) {
            buf_free(&seen);
            return;
        }
        failed |= temporary(a);
        buf_printf(&seen, "%s%s: %s", seen.len ? ", " : "", ptr->rr[i].u.name,
                   a->status == DNS_OK ? "other addresses" : dns_status_name(a->status));
    }
    if (failed)
        buf_printf(temp, "%saddresses of the PTR names of %s (%s)", temp->len ? "; " : "", o->ip,
                   seen.data);
    else
        task_symbol(t, "RDNS_NOT_FCRDNS", "%s: PTR %s, which does not resolve to it (%s)", o->ip,
                    ptr->rr[0].u.name, seen.data);
    buf_free(&seen);
}

static void check_sender(scan_task *t, const subjects *o, buf_t *temp)
{
    dns_batch *b = task_dns(t);
    const dns_answer *mx = dns_lookup(b, o->sender, DNS_T_MX);
    if (mx->status == DNS_OK) {
        /* RFC 7505: a single MX with the root as exchange says "no mail here". */
        if (mx->n == 1 && !*mx->rr[0].u.mx.host)
            task_symbol(t, "SENDER_DOMAIN_NO_MX_A",
                        "%s publishes a null MX (RFC 7505): it takes no mail, bounces included",
                        o->sender);
        return;
    }
    if (temporary(mx)) {
        buf_printf(temp, "%sMX of %s: %s", temp->len ? "; " : "", o->sender,
                   dns_status_name(mx->status));
        return;
    }
    if (mx->status == DNS_NXDOMAIN) {
        task_symbol(t, "SENDER_DOMAIN_NO_MX_A", "%s does not exist (NXDOMAIN)", o->sender);
        return;
    }
    /* No MX: mail goes to the domain's own address (RFC 5321 5.1). */
    const dns_answer *a4 = dns_lookup(b, o->sender, DNS_T_A);
    const dns_answer *a6 = dns_lookup(b, o->sender, DNS_T_AAAA);
    if (a4->status == DNS_OK || a6->status == DNS_OK)
        return;
    if (temporary(a4) || temporary(a6)) {
        buf_printf(temp, "%saddress of %s: %s", temp->len ? "; " : "", o->sender,
                   dns_status_name(temporary(a4) ? a4->status : a6->status));
        return;
    }
    task_symbol(t, "SENDER_DOMAIN_NO_MX_A", "%s has no MX, A or AAAA record", o->sender);
}

static void check_helo(scan_task *t, const subjects *o, buf_t *temp)
{
    const Bulwark__Envelope *env = task_envelope(t);
    const char *helo = env->helo ? env->helo : "";
    char addr[64];
    if (!*helo)
        return; /* no HELO at all is the MTA's to refuse */
    if (helo[0] != '[' && rbl_address(helo, addr, sizeof addr) &&
        strspn(helo, "0123456789abcdefABCDEF.:") == strlen(helo)) {
        task_symbol(t, "HELO_BARE_IP", "HELO %s: an address without [brackets]", helo);
        return;
    }
    if (helo[0] == '[') {
        size_t n = strlen(helo);
        char inner[80];
        snprintf(inner, sizeof inner, "%.*s", n > 2 && helo[n - 1] == ']' ? (int)(n - 2) : 0,
                 helo + 1);
        if (rbl_address(inner, addr, sizeof addr) && strcmp(addr, o->ip) != 0)
            task_symbol(t, "HELO_MISMATCH_IP", "HELO %s is not the client %s", helo, o->ip);
        return;
    }
    if (!strchr(helo, '.') || !*o->helo) {
        task_symbol(t, "HELO_NOT_FQDN", "HELO '%.100s' is not a fully qualified domain name", helo);
        return;
    }
    dns_batch *b = task_dns(t);
    const dns_answer *a4 = dns_lookup(b, o->helo, DNS_T_A);
    const dns_answer *a6 = dns_lookup(b, o->helo, DNS_T_AAAA);
    if (temporary(a4) || temporary(a6)) {
        if (!holds(o->v6 ? a6 : a4, o))
            buf_printf(temp, "%saddress of HELO %s: %s", temp->len ? "; " : "", o->helo,
                       dns_status_name(temporary(a4) ? a4->status : a6->status));
        return;
    }
    if (negative(a4) && negative(a6)) {
        task_symbol(t, "HELO_NXDOMAIN", "HELO %s: %s", o->helo,
                    a4->status == DNS_NXDOMAIN ? "no such name" : "no address");
        return;
    }
    if (!holds(o->v6 ? a6 : a4, o))
        task_symbol(t, "HELO_MISMATCH_IP", "HELO %s does not resolve to the client %s", o->helo,
                    o->ip);
}

static void dnscheck_run(scan_task *t, const void *state)
{
    subjects o;
    if (!gather(t, state, &o))
        return;
    buf_t temp = {0};
    check_rdns(t, &o, &temp);
    if (*o.sender)
        check_sender(t, &o, &temp);
    check_helo(t, &o, &temp);
    if (temp.len)
        task_symbol(t, "DNSCHECK_TEMPERROR", "%s", temp.data);
    buf_free(&temp);
}

const check_def check_dnscheck = {
    .name = "dnscheck",
    .symbols = dnscheck_symbols,
    .init = dnscheck_init,
    .start = dnscheck_start,
    .run = dnscheck_run,
    .free = free,
};
