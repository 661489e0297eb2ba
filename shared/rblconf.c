/* rblconf.c - the rbl.list.<name>.<attribute> keys: their syntax, and the lists they make.
 *
 * Values are operator input checked before they reach the database: every parser
 * reads a bounded string, writes nothing on failure and says what is wrong with which
 * part. Return codes are kept as host-order IPv4 intervals (an address is the interval
 * of one, a CIDR network its first to last address) or a bit mask over the last byte,
 * so matching an answer is a few comparisons. Owns nothing beyond what rblconf_lists
 * hands its caller. */
#include "rblconf.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define VALUE_MAX 4096

static const char *const attrs[] = {"zone", "type", "on", "codes", "symbol"};
#define NATTRS (sizeof attrs / sizeof attrs[0])

static const struct {
    const char *name;
    unsigned bit;
} sources[] = {
    {"client", RBLCONF_ON_CLIENT},   {"received", RBLCONF_ON_RECEIVED}, {"helo", RBLCONF_ON_HELO},
    {"rdns", RBLCONF_ON_RDNS},       {"envfrom", RBLCONF_ON_ENVFROM},   {"from", RBLCONF_ON_FROM},
    {"replyto", RBLCONF_ON_REPLYTO}, {"url", RBLCONF_ON_URL},
};
#define NSOURCES (sizeof sources / sizeof sources[0])

static bool name_char(int c)
{
    return islower(c) || isdigit(c) || c == '_' || c == '-';
}

const char *rblconf_key(const char *key, char *name, size_t namelen)
{
    if (strncmp(key, "rbl.list.", 9) != 0)
        return NULL;
    const char *n = key + 9, *dot = strchr(n, '.');
    if (!dot || dot == n || dot - n > RBLCONF_NAME_MAX)
        return NULL;
    for (const char *c = n; c < dot; c++)
        if (!name_char((unsigned char)*c))
            return NULL;
    for (size_t i = 0; i < NATTRS; i++) {
        if (strcmp(dot + 1, attrs[i]) == 0) {
            if (name && namelen)
                snprintf(name, namelen, "%.*s", (int)(dot - n), n);
            return dot + 1;
        }
    }
    return NULL;
}

/* A copy of value without the white space around it (NULL when over VALUE_MAX). */
static char *trimmed(const char *value)
{
    if (strlen(value) > VALUE_MAX)
        return NULL;
    char *copy = xstrdup(value);
    char *t = str_trim(copy);
    memmove(copy, t, strlen(t) + 1);
    return copy;
}

bool rblconf_parse_zone(const char *value, char *zone, size_t zonelen, char *err, size_t errlen)
{
    char z[RBLCONF_ZONE_MAX + 2];
    size_t n = 0, label = 0, labels = 1;
    const char *v = value;
    while (isspace((unsigned char)*v))
        v++;
    size_t len = strlen(v);
    while (len && isspace((unsigned char)v[len - 1]))
        len--;
    if (len && v[len - 1] == '.')
        len--;
    if (len == 0) {
        snprintf(err, errlen, "a zone name is needed (e.g. zen.dnsbl.example)");
        return false;
    }
    if (len > RBLCONF_ZONE_MAX) {
        snprintf(err, errlen, "zone longer than %d characters", RBLCONF_ZONE_MAX);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        int c = tolower((unsigned char)v[i]);
        if (c == '.') {
            if (label == 0) {
                snprintf(err, errlen, "'%.*s' has an empty label", (int)len, v);
                return false;
            }
            label = 0;
            labels++;
        } else if (!name_char(c)) {
            snprintf(err, errlen, "'%.*s' is not a zone name (letters, digits, '-', '_', dots)",
                     (int)len, v);
            return false;
        } else if (++label > 63) {
            snprintf(err, errlen, "'%.*s' has a label over 63 characters", (int)len, v);
            return false;
        }
        z[n++] = (char)c;
    }
    z[n] = '\0';
    if (label == 0 || labels < 2) {
        snprintf(err, errlen, "'%s' is not a zone name (at least two labels, no empty one)", z);
        return false;
    }
    if (n >= zonelen) {
        snprintf(err, errlen, "zone too long");
        return false;
    }
    memcpy(zone, z, n + 1);
    return true;
}

bool rblconf_parse_type(const char *value, rblconf_type *type, char *err, size_t errlen)
{
    static const rblconf_type types[] = {RBLCONF_IP, RBLCONF_DOMAIN, RBLCONF_URI};
    char *v = trimmed(value);
    for (size_t i = 0; v && i < sizeof types / sizeof types[0]; i++) {
        if (strcasecmp(v, rblconf_type_name(types[i])) == 0) {
            *type = types[i];
            free(v);
            return true;
        }
    }
    snprintf(err, errlen, "'%.40s' is not one of ip|domain|uri", v ? v : value);
    free(v);
    return false;
}

bool rblconf_parse_on(const char *value, unsigned *on, char *err, size_t errlen)
{
    char *copy = trimmed(value);
    if (!copy) {
        snprintf(err, errlen, "value too long");
        return false;
    }
    unsigned bits = 0;
    char *save = NULL;
    for (char *w = strtok_r(copy, ", \t", &save); w; w = strtok_r(NULL, ", \t", &save)) {
        size_t i = 0;
        while (i < NSOURCES && strcasecmp(w, sources[i].name) != 0)
            i++;
        if (i == NSOURCES) {
            snprintf(err, errlen,
                     "'%.40s' is not a source (client, received, helo, rdns, envfrom, from, "
                     "replyto, url)",
                     w);
            free(copy);
            return false;
        }
        bits |= sources[i].bit;
    }
    free(copy);
    if (!bits) {
        snprintf(err, errlen,
                 "no source given (client, received, helo, rdns, envfrom, from, "
                 "replyto, url)");
        return false;
    }
    *on = bits;
    return true;
}

/* SYMBOL: what score.SYMBOL accepts, and not the reserved ERROR. */
static bool symbol_ok(const char *s, size_t n)
{
    if (n == 0 || n > RBLCONF_SYMBOL_MAX || !isupper((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isupper((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
            return false;
    return true;
}

static bool weight_parse(const char *s, double *w)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(d) || fabs(d) > RBLCONF_WEIGHT_MAX)
        return false;
    *w = d;
    return true;
}

/* "SYMBOL[:WEIGHT]" in s (trimmed, no other colon); weighted says whether a weight
 * was given. */
static bool symbol_weight(const char *s, char *symbol, size_t symlen, double *weight,
                          bool *weighted, char *err, size_t errlen)
{
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (!symbol_ok(s, n) || (n == 5 && strncmp(s, "ERROR", 5) == 0)) {
        snprintf(err, errlen,
                 "'%.*s' is not a symbol name (A-Z, 0-9 and '_', starting with a letter, at "
                 "most %d; ERROR is reserved)",
                 (int)(n > 70 ? 70 : n), s, RBLCONF_SYMBOL_MAX);
        return false;
    }
    double w = 1;
    if (colon) {
        const char *ws = colon + 1;
        while (isspace((unsigned char)*ws))
            ws++;
        if (!weight_parse(ws, &w)) {
            snprintf(err, errlen, "weight '%.40s' of %.*s is not a number in [-%g, %g]", ws, (int)n,
                     s, RBLCONF_WEIGHT_MAX, RBLCONF_WEIGHT_MAX);
            return false;
        }
    }
    if (n >= symlen) {
        snprintf(err, errlen, "symbol too long");
        return false;
    }
    memcpy(symbol, s, n);
    symbol[n] = '\0';
    *weight = w;
    *weighted = colon != NULL;
    return true;
}

bool rblconf_parse_symbol(const char *value, char *symbol, size_t symlen, double *weight, char *err,
                          size_t errlen)
{
    char *v = trimmed(value);
    if (!v) {
        snprintf(err, errlen, "value too long");
        return false;
    }
    bool weighted;
    const char *colon = strchr(v, ':');
    bool ok = true;
    if (colon && strchr(colon + 1, ':')) {
        snprintf(err, errlen, "'%.60s' is not SYMBOL[:WEIGHT]", v);
        ok = false;
    }
    ok = ok && symbol_weight(v, symbol, symlen, weight, &weighted, err, errlen);
    free(v);
    return ok;
}

/* A dotted quad, exactly (inet_pton: no shorthand, no octal), in host order. */
static bool quad(const char *s, size_t n, uint32_t *out)
{
    char buf[INET_ADDRSTRLEN];
    struct in_addr a;
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, &a) != 1)
        return false;
    *out = ntohl(a.s_addr);
    return true;
}

static bool in127(uint32_t a)
{
    return a >> 24 == 127;
}

/* The MATCH part of a codes entry, s[0..n). */
static bool match_parse(const char *s, size_t n, rblconf_code *c, char *err, size_t errlen)
{
    const char *dash = memchr(s, '-', n), *slash = memchr(s, '/', n);
    if (n && s[0] == '&') {
        char buf[16];
        if (n - 1 == 0 || n - 1 >= sizeof buf) {
            snprintf(err, errlen, "'%.*s' is not a bit mask (&1 to &255)", (int)(n > 40 ? 40 : n),
                     s);
            return false;
        }
        memcpy(buf, s + 1, n - 1);
        buf[n - 1] = '\0';
        bool hex = buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X');
        const char *digits = hex ? buf + 2 : buf;
        char *end;
        unsigned long m = strtoul(digits, &end, hex ? 16 : 10);
        if (!*digits || *end || !(isxdigit((unsigned char)*digits)) || m < 1 || m > 255) {
            snprintf(err, errlen, "'%.*s' is not a bit mask (&1 to &255, or &0x01 to &0xff)",
                     (int)n, s);
            return false;
        }
        c->mask = (uint8_t)m;
        c->lo = 0x7f000000u;
        c->hi = 0x7f0000ffu;
        return true;
    }
    bool ok;
    if (dash) {
        ok = quad(s, (size_t)(dash - s), &c->lo) &&
             quad(dash + 1, n - (size_t)(dash - s) - 1, &c->hi) && c->lo <= c->hi;
    } else if (slash) {
        char *end;
        char pbuf[8];
        size_t pl = n - (size_t)(slash - s) - 1;
        unsigned long prefix = 0;
        ok = pl > 0 && pl < sizeof pbuf && quad(s, (size_t)(slash - s), &c->lo);
        if (ok) {
            memcpy(pbuf, slash + 1, pl);
            pbuf[pl] = '\0';
            prefix = strtoul(pbuf, &end, 10);
            ok = isdigit((unsigned char)pbuf[0]) && !*end && prefix >= 8 && prefix <= 32;
        }
        if (ok) {
            uint32_t hostbits = prefix == 32 ? 0 : 0xffffffffu >> prefix;
            if (c->lo & hostbits) {
                snprintf(err, errlen, "'%.*s' has bits set after the /%lu prefix", (int)n, s,
                         prefix);
                return false;
            }
            c->hi = c->lo | hostbits;
        }
    } else {
        ok = quad(s, n, &c->lo);
        c->hi = c->lo;
    }
    if (!ok) {
        snprintf(err, errlen,
                 "'%.*s' is not a return code (127.0.0.2, 127.0.0.10-127.0.0.11, "
                 "127.0.1.0/24 or &4)",
                 (int)(n > 60 ? 60 : n), s);
        return false;
    }
    if (!in127(c->lo) || !in127(c->hi)) {
        snprintf(err, errlen, "'%.*s' is outside 127.0.0.0/8, where block lists answer", (int)n, s);
        return false;
    }
    return true;
}

/* One "MATCH:SYMBOL[:WEIGHT]" or "MATCH:ERROR" entry (trimmed, non-empty). */
static bool entry_parse(const char *e, rblconf_code *c, bool *weighted, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    *weighted = false;
    const char *colon = strchr(e, ':');
    if (!colon) {
        snprintf(err, errlen, "'%.60s' is not MATCH:SYMBOL[:WEIGHT]", e);
        return false;
    }
    size_t mn = (size_t)(colon - e);
    while (mn && isspace((unsigned char)e[mn - 1]))
        mn--;
    if (!match_parse(e, mn, c, err, errlen))
        return false;
    const char *rest = colon + 1;
    while (isspace((unsigned char)*rest))
        rest++;
    const char *second = strchr(rest, ':');
    if (second && strchr(second + 1, ':')) {
        snprintf(err, errlen, "'%.60s' is not MATCH:SYMBOL[:WEIGHT]", e);
        return false;
    }
    size_t sn = second ? (size_t)(second - rest) : strlen(rest);
    while (sn && isspace((unsigned char)rest[sn - 1]))
        sn--;
    if (sn == 5 && strncmp(rest, "ERROR", 5) == 0) {
        if (second) {
            snprintf(err, errlen, "'%.60s': an ERROR code has no weight", e);
            return false;
        }
        c->error = true;
        return true;
    }
    return symbol_weight(rest, c->symbol, sizeof c->symbol, &c->weight, weighted, err, errlen);
}

bool rblconf_parse_codes(const char *value, rblconf_code *codes, size_t max, size_t *n, char *err,
                         size_t errlen)
{
    char *copy = trimmed(value);
    if (!copy) {
        snprintf(err, errlen, "value too long (at most %d bytes)", VALUE_MAX);
        return false;
    }
    rblconf_code parsed[RBLCONF_CODES_MAX];
    bool weighted[RBLCONF_CODES_MAX];
    size_t count = 0;
    bool ok = true;
    if (max > RBLCONF_CODES_MAX)
        max = RBLCONF_CODES_MAX;
    for (char *s = copy; ok && *copy;) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = '\0';
        char *e = str_trim(s);
        if (!*e) {
            snprintf(err, errlen, "an empty entry (two commas, or one at an end)");
            ok = false;
        } else if (count == max) {
            snprintf(err, errlen, "more than %zu entries", max);
            ok = false;
        } else {
            ok = entry_parse(e, &parsed[count], &weighted[count], err, errlen);
            count += ok;
        }
        if (!comma)
            break;
        s = comma + 1;
    }
    free(copy);
    /* One weight per symbol: the one given (twice the same is fine), else 1. */
    for (size_t i = 0; ok && i < count; i++) {
        if (parsed[i].error)
            continue;
        for (size_t j = 0; ok && j < count; j++) {
            if (j == i || parsed[j].error || strcmp(parsed[i].symbol, parsed[j].symbol) != 0)
                continue;
            if (weighted[i] && weighted[j] && parsed[i].weight != parsed[j].weight) {
                snprintf(err, errlen, "%s is given two weights (%g and %g)", parsed[i].symbol,
                         parsed[i].weight, parsed[j].weight);
                ok = false;
            } else if (weighted[j] && !weighted[i]) {
                parsed[i].weight = parsed[j].weight;
            }
        }
    }
    if (!ok)
        return false;
    memcpy(codes, parsed, count * sizeof *codes);
    *n = count;
    return true;
}

bool rblconf_check(const char *key, const char *value, char *err, size_t errlen)
{
    char name[RBLCONF_NAME_MAX + 1], why[400];
    const char *attr = rblconf_key(key, name, sizeof name);
    if (!attr) {
        const char *n = strncmp(key, "rbl.list.", 9) == 0 ? key + 9 : "";
        const char *dot = strchr(n, '.');
        if (!dot || dot == n)
            snprintf(err, errlen,
                     "'%.80s' is not rbl.list.NAME.ATTRIBUTE (zone, type, on, codes, symbol)", key);
        else if (strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_-") != (size_t)(dot - n) ||
                 dot - n > RBLCONF_NAME_MAX)
            snprintf(err, errlen,
                     "list name '%.*s' in '%.80s': use a-z, 0-9, '_' and '-', at most %d "
                     "characters",
                     (int)(dot - n > 40 ? 40 : dot - n), n, key, RBLCONF_NAME_MAX);
        else
            snprintf(err, errlen,
                     "unknown attribute '%.40s' of list %.*s (zone, type, on, codes, symbol)",
                     dot + 1, (int)(dot - n), n);
        return false;
    }
    bool ok;
    if (strcmp(attr, "zone") == 0) {
        char zone[RBLCONF_ZONE_MAX + 1];
        ok = rblconf_parse_zone(value, zone, sizeof zone, why, sizeof why);
    } else if (strcmp(attr, "type") == 0) {
        rblconf_type t;
        ok = rblconf_parse_type(value, &t, why, sizeof why);
    } else if (strcmp(attr, "on") == 0) {
        unsigned on;
        ok = rblconf_parse_on(value, &on, why, sizeof why);
    } else if (strcmp(attr, "codes") == 0) {
        rblconf_code codes[RBLCONF_CODES_MAX];
        size_t n;
        ok = rblconf_parse_codes(value, codes, RBLCONF_CODES_MAX, &n, why, sizeof why);
    } else {
        char sym[RBLCONF_SYMBOL_MAX + 1];
        double w;
        ok = rblconf_parse_symbol(value, sym, sizeof sym, &w, why, sizeof why);
    }
    if (!ok)
        snprintf(err, errlen, "bad value for '%s': %s", key, why);
    return ok;
}

const char *rblconf_type_name(rblconf_type t)
{
    switch (t) {
    case RBLCONF_IP: return "ip";
    case RBLCONF_DOMAIN: return "domain";
    case RBLCONF_URI: return "uri";
    }
    return "?";
}

const char *rblconf_source_name(unsigned on_bit)
{
    for (size_t i = 0; i < NSOURCES; i++)
        if (sources[i].bit == on_bit)
            return sources[i].name;
    return "?";
}

void rblconf_default_symbol(const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "RBL_%s", name);
    for (char *c = out; *c; c++)
        *c = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
}

/* The names of the sources in bits, comma-separated, for an error. */
static void source_names(unsigned bits, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < NSOURCES; i++)
        if (bits & sources[i].bit && o < outlen)
            o += (size_t)snprintf(out + o, outlen - o, "%s%s", o ? ", " : "", sources[i].name);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const rblconf_list *)a)->name, ((const rblconf_list *)b)->name);
}

/* Sets one attribute of l from its (already checked) value. */
static bool set_attr(rblconf_list *l, const char *attr, const char *value, unsigned *have,
                     char *err, size_t errlen)
{
    char why[400];
    bool ok = true;
    if (strcmp(attr, "zone") == 0) {
        ok = rblconf_parse_zone(value, l->zone, sizeof l->zone, why, sizeof why);
        *have |= 1;
    } else if (strcmp(attr, "type") == 0) {
        ok = rblconf_parse_type(value, &l->type, why, sizeof why);
        *have |= 2;
    } else if (strcmp(attr, "on") == 0) {
        ok = rblconf_parse_on(value, &l->on, why, sizeof why);
        *have |= 4;
    } else if (strcmp(attr, "codes") == 0) {
        ok = rblconf_parse_codes(value, l->codes, RBLCONF_CODES_MAX, &l->ncodes, why, sizeof why);
    } else {
        ok = rblconf_parse_symbol(value, l->symbol, sizeof l->symbol, &l->weight, why, sizeof why);
        *have |= 8;
    }
    if (!ok)
        snprintf(err, errlen, "bad value for 'rbl.list.%s.%s': %s", l->name, attr, why);
    return ok;
}

bool rblconf_lists(const params *cfg, rblconf_list **lists, size_t *n, char *err, size_t errlen)
{
    rblconf_list *l = xcalloc(RBLCONF_LISTS_MAX, sizeof *l);
    unsigned have[RBLCONF_LISTS_MAX] = {0};
    size_t count = 0;
    const char *key, *value;
    bool ok = true;
    for (size_t it = 0; ok && params_next_set(cfg, &it, &key, &value);) {
        char name[RBLCONF_NAME_MAX + 1];
        const char *attr = rblconf_key(key, name, sizeof name);
        if (!attr)
            continue;
        size_t i = 0;
        while (i < count && strcmp(l[i].name, name) != 0)
            i++;
        if (i == count) {
            if (count == RBLCONF_LISTS_MAX) {
                snprintf(err, errlen, "more than %d block lists (rbl.list.*)", RBLCONF_LISTS_MAX);
                ok = false;
                break;
            }
            snprintf(l[count++].name, sizeof l->name, "%s", name);
        }
        ok = set_attr(&l[i], attr, value, &have[i], err, errlen);
    }
    for (size_t i = 0; ok && i < count; i++) {
        rblconf_list *x = &l[i];
        if (!(have[i] & 1)) {
            snprintf(err, errlen, "block list %s has no zone (rbl.list.%s.zone)", x->name, x->name);
            ok = false;
            break;
        }
        unsigned allowed =
            x->type == RBLCONF_IP ? RBLCONF_ON_IP_SOURCES : RBLCONF_ON_DOMAIN_SOURCES;
        if (!(have[i] & 4))
            x->on = x->type == RBLCONF_IP ? RBLCONF_ON_CLIENT
                    : x->type == RBLCONF_DOMAIN
                        ? RBLCONF_ON_ENVFROM | RBLCONF_ON_FROM | RBLCONF_ON_REPLYTO
                        : RBLCONF_ON_URL;
        if (x->on & ~allowed) {
            char bad[200], good[200];
            source_names(x->on & ~allowed, bad, sizeof bad);
            source_names(allowed, good, sizeof good);
            snprintf(err, errlen,
                     "rbl.list.%s.on: %s cannot be looked up in a list of type %s (it takes %s)",
                     x->name, bad, rblconf_type_name(x->type), good);
            ok = false;
            break;
        }
        if (!(have[i] & 8)) {
            rblconf_default_symbol(x->name, x->symbol, sizeof x->symbol);
            x->weight = 1;
        }
    }
    if (!ok) {
        free(l);
        return false;
    }
    qsort(l, count, sizeof *l, by_name);
    *lists = l;
    *n = count;
    return true;
}

rblconf_verdict rblconf_match(const rblconf_list *l, uint32_t addr, const rblconf_code **hits,
                              size_t *nhits)
{
    *nhits = 0;
    if (!in127(addr))
        return RBLCONF_FOREIGN;
    if ((addr & 0xffffff00u) == 0x7fffff00u)
        return RBLCONF_ERROR; /* 127.255.255.x: Spamhaus and others' "refused" codes */
    for (size_t i = 0; i < l->ncodes; i++) {
        const rblconf_code *c = &l->codes[i];
        bool m = c->mask ? (addr & 0xffffff00u) == 0x7f000000u && (addr & c->mask)
                         : addr >= c->lo && addr <= c->hi;
        if (!m)
            continue;
        if (c->error)
            return RBLCONF_ERROR;
        size_t k = 0;
        while (k < *nhits && strcmp(hits[k]->symbol, c->symbol) != 0)
            k++;
        if (k == *nhits)
            hits[(*nhits)++] = c;
    }
    return RBLCONF_LISTED;
}
