/* fuzz_packet.c - zx_decode(), the one place a Packet is parsed from the network.
 *
 * Any bytes go to zx_decode(). When they decode, the Packet is packed again, the
 * packed bytes decoded again, and that second Packet packed once more: both packs
 * must decode and be byte-identical (the master forwards frames it re-encodes, so
 * encode(decode(x)) must be a fixed point). The input itself need not round-trip:
 * varints may be overlong, fields out of order or repeated. */
#include "fuzz.h"
#include "util.h"
#include "zmqx.h"

#include <string.h>

static uint8_t *pack(const packet *p, size_t *len)
{
    *len = bulwark__packet__get_packed_size(p);
    uint8_t *out = xmalloc(*len);
    FUZZ_ASSERT(bulwark__packet__pack(p, out) == *len);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    packet *p = zx_decode(data, size);
    if (!p)
        return 0;
    FUZZ_ASSERT(p->body_case != BULWARK__PACKET__BODY__NOT_SET);

    size_t n1, n2;
    uint8_t *b1 = pack(p, &n1);
    packet *q = zx_decode(b1, n1);
    FUZZ_ASSERT(q != NULL);
    FUZZ_ASSERT(q->body_case == p->body_case);
    uint8_t *b2 = pack(q, &n2);
    FUZZ_ASSERT(n1 == n2);
    FUZZ_ASSERT(memcmp(b1, b2, n1) == 0);

    free(b1);
    free(b2);
    zx_packet_free(&q);
    zx_packet_free(&p);
    FUZZ_ASSERT(p == NULL && q == NULL);
    return 0;
}
