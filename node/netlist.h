/* netlist.h - lists of IP networks: trusted networks, signing networks.
 *
 * Several checks take a list of addresses and CIDR networks from the configuration
 * (check.spf.trusted_networks, check.dmarc.trusted_networks, check.dkim.sign_networks,
 * rbl.trusted_networks) and ask whether a client address is in one of them. One type,
 * one parser and one matcher for all of them, on SPF's address type (node/spf.h). */
#ifndef BW_NETLIST_H
#define BW_NETLIST_H

#include "params.h"
#include "spf.h"

#include <stdbool.h>
#include <stddef.h>

#define NETLIST_MAX 64
typedef struct {
    spf_ip net[NETLIST_MAX];
    unsigned prefix[NETLIST_MAX];
    size_t n;
} netlist;

/* Addresses and CIDR networks separated by commas or white space; false with the
 * reason for one that is neither, or for more than NETLIST_MAX. */
bool netlist_parse(const char *list, netlist *out, char *err, size_t errlen);
/* The list parameter `key` (read like every list parameter, check_param_list); false
 * with "KEY: reason". */
bool netlist_param(const params *cfg, const char *key, netlist *out, char *err, size_t errlen);
/* Whether the address is in one of the networks. */
bool netlist_contains(const netlist *n, const spf_ip *ip);
/* Same for an address as text; false when it is no address. */
bool netlist_match(const netlist *n, const char *ip);

#endif
