/* netlist.c - lists of IP networks (netlist.h).
 *
 * Items are parsed with spf_cidr_parse ("192.0.2.0/24", "2001:db8::/32", or a bare
 * address for its own /32 or /128) into a fixed array; matching compares the prefix
 * bits with spf_ip_match, so IPv4-mapped IPv6 clients match IPv4 networks as in SPF. */
#include "netlist.h"
#include "pipeline.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool add(netlist *out, const char *item, char *err, size_t errlen)
{
    if (out->n == NETLIST_MAX) {
        snprintf(err, errlen, "more than %d networks", NETLIST_MAX);
        return false;
    }
    if (!spf_cidr_parse(item, &out->net[out->n], &out->prefix[out->n])) {
        snprintf(err, errlen, "'%.60s' is not an address or CIDR network", item);
        return false;
    }
    out->n++;
    return true;
}

bool netlist_parse(const char *list, netlist *out, char *err, size_t errlen)
{
    char *copy = xstrdup(list ? list : ""), *save = NULL;
    bool ok = true;
    out->n = 0;
    for (char *w = strtok_r(copy, ", \t", &save); ok && w; w = strtok_r(NULL, ", \t", &save))
        ok = add(out, w, err, errlen);
    free(copy);
    return ok;
}

bool netlist_param(const params *cfg, const char *key, netlist *out, char *err, size_t errlen)
{
    strlist items = {0};
    check_param_list(cfg, key, &items);
    char why[200] = "";
    bool ok = true;
    out->n = 0;
    for (size_t i = 0; ok && i < items.n; i++)
        ok = add(out, items.v[i], why, sizeof why);
    if (!ok)
        snprintf(err, errlen, "%s: %s", key, why);
    strlist_free(&items);
    return ok;
}

bool netlist_contains(const netlist *n, const spf_ip *ip)
{
    for (size_t i = 0; i < n->n; i++)
        if (spf_ip_match(ip, &n->net[i], n->prefix[i]))
            return true;
    return false;
}

bool netlist_match(const netlist *n, const char *ip)
{
    spf_ip a;
    return spf_ip_parse(ip, &a) && netlist_contains(n, &a);
}
