/* fuzz_dns.c - the resolver's rdata decoder (dns_rdata_parse) and its name helpers.
 *
 * The first byte picks the record type (A, NS, CNAME, PTR, MX, TXT, AAAA or an
 * unknown one); the rest is one record's rdata, as a server could send it, in a heap
 * buffer of exactly that size so ASan sees any read past it. An accepted record must
 * have the shape the checks rely on: addresses of the right size, names in lower-case
 * printable ASCII without a trailing dot and at most four characters per wire byte,
 * TXT data no longer than the rdata and NUL-terminated. The same bytes, as text, go
 * through dns_name_normalize (an accepted name is its input lower-cased, a space
 * written \032, with no empty label) and dns_reverse_name with and without a zone. */
#include "dns.h"
#include "fuzz.h"
#include "util.h"

#include <ctype.h>
#include <string.h>

static const uint16_t types[] = {DNS_T_A,  DNS_T_NS,  DNS_T_CNAME, DNS_T_PTR,
                                 DNS_T_MX, DNS_T_TXT, DNS_T_AAAA,  99};

static void check_name(const char *name, size_t wire_len)
{
    size_t n = strlen(name);
    FUZZ_ASSERT(n <= 4 * wire_len);
    FUZZ_ASSERT(n == 0 || name[n - 1] != '.' || (n >= 2 && name[n - 2] == '\\'));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        FUZZ_ASSERT(c > 0x20 && c < 0x7f);
        FUZZ_ASSERT(!isupper(c));
    }
}

static void check_rr(uint16_t type, const dns_rr *rr, size_t len)
{
    FUZZ_ASSERT(rr->type == type);
    switch (type) {
    case DNS_T_A: FUZZ_ASSERT(len == 4); break;
    case DNS_T_AAAA: FUZZ_ASSERT(len == 16); break;
    case DNS_T_MX:
        FUZZ_ASSERT(len >= 3);
        check_name(rr->u.mx.host, len - 2);
        break;
    case DNS_T_NS:
    case DNS_T_CNAME:
    case DNS_T_PTR: check_name(rr->u.name, len); break;
    case DNS_T_TXT:
        FUZZ_ASSERT(rr->u.txt.data != NULL);
        FUZZ_ASSERT(rr->u.txt.len + rr->u.txt.nstrings == len);
        FUZZ_ASSERT(rr->u.txt.data[rr->u.txt.len] == '\0');
        break;
    default: FUZZ_ASSERT(rr->u.raw.len == len); FUZZ_ASSERT(rr->u.raw.data != NULL);
    }
}

static void check_text(const uint8_t *data, size_t size)
{
    char *s = xstrndup((const char *)data, size);
    char out[256], rev[300];
    if (dns_name_normalize(s, out, sizeof out)) {
        /* The input lower-cased, without its trailing dot, a space written \032. */
        size_t n = strlen(out), in = strlen(s), k = 0;
        FUZZ_ASSERT(n > 0 && out[n - 1] != '.' && in <= 254);
        FUZZ_ASSERT(!strstr(out, ".."));
        for (size_t i = 0; i < in && !(i == in - 1 && s[i] == '.'); i++) {
            if (s[i] == ' ') {
                FUZZ_ASSERT(strncmp(out + k, "\\032", 4) == 0);
                k += 4;
            } else {
                FUZZ_ASSERT(out[k++] == (char)tolower((unsigned char)s[i]));
            }
        }
        FUZZ_ASSERT(k == n);
    }
    if (dns_reverse_name(s, NULL, rev, sizeof rev))
        FUZZ_ASSERT(strlen(rev) <= 253);
    if (dns_reverse_name("192.0.2.1", s, rev, sizeof rev))
        FUZZ_ASSERT(strncmp(rev, "1.2.0.192.", 10) == 0);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint16_t type = types[data[0] % (sizeof types / sizeof *types)];
    size_t len = size - 1;
    uint8_t *rdata = xmalloc(len ? len : 1);
    memcpy(rdata, data + 1, len);
    arena *a = arena_new(1024);
    dns_rr rr;
    if (dns_rdata_parse(type, rdata, len, a, &rr))
        check_rr(type, &rr, len);
    arena_destroy(&a);
    free(rdata);
    if (size <= 512)
        check_text(data + 1, len);
    return 0;
}
