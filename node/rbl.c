/* rbl.c - block list query names, Received hop addresses, and the Redis answer cache.
 *
 * Names: an address becomes its reversed form under the list's zone (dns.h's
 * dns_reverse_name, nibbles for IPv6); a domain is lower-cased, its Unicode labels made
 * A-labels (libidn2) and checked to be a host name; a URL host is asked as its
 * registrable domain (libpsl, html.h's url_base_domain) and as itself. The cache stores
 * what a list answered, not what it means (codes change with the configuration): "-"
 * or the A records; temporary failures never. Redis trouble goes back to the caller,
 * which then asks DNS: the cache saves lookups, it never decides. Owns nothing between
 * calls (the Redis connection is redisx.h's, one per thread). */
#include "rbl.h"
#include "html.h"
#include "redisx.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEY_PREFIX "bw:rbl:"

/* ---- names -------------------------------------------------------------------------- */

bool rbl_address(const char *in, char *out, size_t outlen)
{
    char buf[80];
    size_t n = in ? strlen(in) : 0;
    if (n >= 2 && in[0] == '[' && in[n - 1] == ']') {
        in++;
        n -= 2;
    }
    if (n > 5 && strncasecmp(in, "IPv6:", 5) == 0) {
        in += 5;
        n -= 5;
    }
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, in, n);
    buf[n] = '\0';
    unsigned char b[16];
    struct in_addr a4;
    if (inet_pton(AF_INET6, buf, b) == 1) {
        static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
        if (memcmp(b, mapped, 12) == 0)
            return inet_ntop(AF_INET, b + 12, out, (socklen_t)outlen) != NULL;
        return inet_ntop(AF_INET6, b, out, (socklen_t)outlen) != NULL;
    }
    /* inet_aton reads what browsers read in a URL (1 to 4 parts, 0x hex, 0 octal);
     * it also stops at white space, which no address here holds. */
    if (strspn(buf, "0123456789abcdefABCDEFxX.") != n || inet_aton(buf, &a4) == 0)
        return false;
    return inet_ntop(AF_INET, &a4, out, (socklen_t)outlen) != NULL;
}

bool rbl_domain(const char *in, char *out, size_t outlen)
{
    char buf[RBL_NAME_MAX * 4];
    if (!in)
        return false;
    while (isspace((unsigned char)*in))
        in++;
    size_t n = strlen(in);
    while (n && isspace((unsigned char)in[n - 1]))
        n--;
    if (n && in[n - 1] == '.')
        n--;
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, in, n);
    buf[n] = '\0';
    char *ascii = NULL;
    const char *name = buf;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)buf[i] >= 0x80) {
            if (idn2_to_ascii_8z(buf, &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK)
                return false;
            name = ascii;
            break;
        }
    }
    size_t len = strlen(name), label = 0, labels = 1, last = 0;
    bool ok = len > 0 && len <= 253 && len < outlen;
    for (size_t i = 0; ok && i < len; i++) {
        int c = tolower((unsigned char)name[i]);
        if (c == '.') {
            ok = label > 0;
            label = 0;
            labels++;
            last = i + 1;
        } else {
            ok = (isalnum(c) || c == '-' || c == '_') && ++label <= 63;
        }
        out[i] = (char)c;
    }
    /* A top-level label is never all digits: such a "name" is an address. */
    ok = ok && label > 0 && labels >= 2 && strspn(name + last, "0123456789") != len - last;
    if (ok)
        out[len] = '\0';
    else if (outlen)
        out[0] = '\0';
    idn2_free(ascii);
    return ok;
}

size_t rbl_host_subjects(const char *host, rbl_subject out[2])
{
    char name[RBL_NAME_MAX], base[RBL_NAME_MAX];
    if (rbl_address(host, out[0].text, sizeof out[0].text)) {
        out[0].ip = true;
        return 1;
    }
    if (!rbl_domain(host, name, sizeof name))
        return 0;
    url_base_domain(name, base, sizeof base);
    if (!rbl_domain(base, out[0].text, sizeof out[0].text))
        snprintf(out[0].text, sizeof out[0].text, "%s", name);
    out[0].ip = false;
    if (strcmp(out[0].text, name) == 0)
        return 1;
    snprintf(out[1].text, sizeof out[1].text, "%s", name);
    out[1].ip = false;
    return 2;
}

bool rbl_query_name(const rbl_subject *s, const char *zone, char *out, size_t outlen)
{
    if (s->ip)
        return dns_reverse_name(s->text, zone, out, outlen);
    char q[RBL_NAME_MAX * 2];
    int n = snprintf(q, sizeof q, "%s.%s", s->text, zone);
    return n > 0 && (size_t)n <= 253 && dns_name_normalize(q, out, outlen) && !strchr(out, '\\');
}

/* An address in s[0..n) written by an MTA: strict forms only (no browser shorthand). */
static bool hop_address(const char *s, size_t n, char *ip, size_t iplen)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    const char *a = strncasecmp(buf, "IPv6:", 5) == 0 ? buf + 5 : buf;
    unsigned char b[16];
    if (inet_pton(AF_INET, a, b) != 1 && inet_pton(AF_INET6, a, b) != 1)
        return false;
    return rbl_address(a, ip, iplen);
}

bool rbl_received_ip(const char *v, char *ip, size_t iplen)
{
    /* The from clause: "from" at comment depth 0, up to the next "by"/"with"/"id"/
     * "for"/"via" at depth 0 or the ';' before the date. */
    size_t end = strcspn(v, ";"), from = SIZE_MAX, stop = end;
    int depth = 0;
    for (size_t i = 0; i < end; i++) {
        char c = v[i];
        depth += c == '(' ? 1 : c == ')' && depth > 0 ? -1 : 0;
        if (depth || c == '(' || c == ')' || (i && v[i - 1] != ' ' && v[i - 1] != ')'))
            continue;
        static const char *const kw[] = {"from ", "by ", "with ", "id ", "for ", "via "};
        for (size_t k = 0; k < sizeof kw / sizeof kw[0]; k++) {
            size_t kl = strlen(kw[k]);
            if (i + kl > end || strncasecmp(v + i, kw[k], kl) != 0)
                continue;
            if (k == 0 && from == SIZE_MAX)
                from = i + kl;
            else if (k > 0 && from != SIZE_MAX && stop == end)
                stop = i;
            break;
        }
    }
    if (from == SIZE_MAX || from >= stop)
        return false;
    /* Pass 0: inside a comment, what the receiving MTA saw; pass 1: a bracketed
     * address anywhere (the HELO itself, when there is no comment). */
    for (int pass = 0; pass < 2; pass++) {
        depth = 0;
        for (size_t i = from; i < stop; i++) {
            char c = v[i];
            depth += c == '(' ? 1 : c == ')' && depth > 0 ? -1 : 0;
            bool opener = c == '[' || (pass == 0 && (c == '(' || c == ' '));
            if (!opener || (pass == 0 && depth == 0))
                continue;
            size_t s = i + 1, len = strcspn(v + s, "] ()");
            if (s + len > stop)
                continue;
            if (hop_address(v + s, len, ip, iplen))
                return true;
        }
    }
    return false;
}

/* ---- answers and the cache ---------------------------------------------------------- */

void rbl_answer_from_dns(const dns_answer *d, rbl_answer *out)
{
    memset(out, 0, sizeof *out);
    switch (d->status) {
    case DNS_OK:
        out->state = RBL_LISTED;
        for (size_t i = 0; i < d->n && out->n < RBL_ADDRS_MAX; i++)
            if (d->rr[i].type == DNS_T_A)
                out->addr[out->n++] = (uint32_t)d->rr[i].u.a[0] << 24 |
                                      (uint32_t)d->rr[i].u.a[1] << 16 |
                                      (uint32_t)d->rr[i].u.a[2] << 8 | d->rr[i].u.a[3];
        if (!out->n)
            out->state = RBL_NOT_LISTED;
        return;
    case DNS_NXDOMAIN:
    case DNS_NODATA:
    case DNS_BADNAME: out->state = RBL_NOT_LISTED; return;
    case DNS_SERVFAIL:
    case DNS_TIMEOUT: out->state = RBL_TEMPFAIL; return;
    }
    out->state = RBL_TEMPFAIL;
}

void rbl_cache_encode(const rbl_answer *a, char *out, size_t outlen)
{
    size_t o = 0;
    if (!outlen)
        return;
    out[0] = '\0';
    if (a->state == RBL_NOT_LISTED) {
        snprintf(out, outlen, "-");
        return;
    }
    if (a->state != RBL_LISTED)
        return;
    for (size_t i = 0; i < a->n && o < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%s%u.%u.%u.%u", i ? "," : "", a->addr[i] >> 24,
                              a->addr[i] >> 16 & 0xff, a->addr[i] >> 8 & 0xff, a->addr[i] & 0xff);
}

bool rbl_cache_decode(const char *value, size_t len, rbl_answer *out)
{
    memset(out, 0, sizeof *out);
    if (len == 1 && value[0] == '-') {
        out->state = RBL_NOT_LISTED;
        return true;
    }
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && value[j] != ',')
            j++;
        char buf[INET_ADDRSTRLEN];
        struct in_addr a;
        if (j == i || j - i >= sizeof buf || out->n == RBL_ADDRS_MAX)
            break;
        memcpy(buf, value + i, j - i);
        buf[j - i] = '\0';
        if (inet_pton(AF_INET, buf, &a) != 1)
            break;
        out->addr[out->n++] = ntohl(a.s_addr);
        if (j == len) {
            out->state = RBL_LISTED;
            return true;
        }
        i = j + 1;
    }
    memset(out, 0, sizeof *out);
    return false;
}

static char *cache_key(const char *name)
{
    return xasprintf(KEY_PREFIX "%s", name);
}

bool rbl_cache_get(const char *const *names, size_t n, rbl_answer *out, char *err, size_t errlen)
{
    if (!n)
        return true;
    redisContext *c = redisx_get(err, errlen);
    if (!c)
        return false;
    const char **argv = xcalloc(n + 1, sizeof *argv);
    argv[0] = "MGET";
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = cache_key(names[i]);
    redisReply *r = redisCommandArgv(c, (int)(n + 1), argv, NULL);
    for (size_t i = 0; i < n; i++)
        free((char *)argv[i + 1]);
    free(argv);
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == n;
    if (!ok) {
        snprintf(err, errlen, "MGET: %s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str
                 : c->err                          ? c->errstr
                                                   : "unexpected reply");
        if (!r || c->err)
            redisx_reset();
        freeReplyObject(r);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        rbl_answer a;
        if (e->type == REDIS_REPLY_STRING && rbl_cache_decode(e->str, e->len, &a)) {
            a.cached = true;
            out[i] = a;
        }
    }
    freeReplyObject(r);
    return true;
}

bool rbl_cache_put(const char *const *names, const rbl_answer *a, size_t n, unsigned ttl_s,
                   char *err, size_t errlen)
{
    size_t sent = 0;
    redisContext *c = NULL;
    for (size_t i = 0; i < n; i++) {
        char value[RBL_ADDRS_MAX * 16 + 2];
        rbl_cache_encode(&a[i], value, sizeof value);
        if (a[i].cached || !*value)
            continue;
        if (!c && !(c = redisx_get(err, errlen)))
            return false;
        char *key = cache_key(names[i]);
        int rc = redisAppendCommand(c, "SETEX %s %u %s", key, ttl_s ? ttl_s : 1, value);
        free(key);
        if (rc != REDIS_OK) {
            snprintf(err, errlen, "SETEX: %s", c->errstr);
            redisx_reset();
            return false;
        }
        sent++;
    }
    bool ok = true;
    for (size_t i = 0; i < sent; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            snprintf(err, errlen, "SETEX: %s", c->errstr);
            redisx_reset();
            return false;
        }
        if (ok && r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "SETEX: %s", r->str);
            ok = false;
        }
        freeReplyObject(r);
    }
    return ok;
}
