/* zmqx.c - the thin layer between ZeroMQ sockets and protobuf-c Packets.
 *
 * Packing writes straight into a zmq_msg_t buffer (one allocation, no copy).
 * Decoding uses protobuf-c's own bounds checks; a frame that does not decode,
 * names no body, or carries field number 0 is reported as NULL and the caller
 * counts it. */
#include "zmqx.h"
#include "log.h"
#include "util.h"

#include <string.h>

void *zx_socket(void *ctx, int type, int64_t max_frame)
{
    void *s = zmq_socket(ctx, type);
    if (!s)
        log_fatal("event=zmq_socket error=\"%s\"", zmq_strerror(zmq_errno()));
    int linger = 0, hwm = 100000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (max_frame > 0)
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_frame, sizeof max_frame);
    return s;
}

void zx_curve_server(void *sock, const curve_key *mine, const char *domain)
{
    int one = 1;
    zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain));
    zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one);
    if (zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, mine->secret_z85, 40) != 0)
        log_fatal("event=curve_setup error=\"%s\"", zmq_strerror(zmq_errno()));
}

void zx_curve_client(void *sock, const curve_key *mine, const curve_key *server)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server->public_z85, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, mine->public_z85, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, mine->secret_z85, 40) != 0)
        log_fatal("event=curve_setup error=\"%s\"", zmq_strerror(zmq_errno()));
}

void zx_pack(const packet *p, zmq_msg_t *out)
{
    if (zmq_msg_init_size(out, bulwark__packet__get_packed_size(p)) != 0)
        log_panic("event=zmq_msg_init_size error=\"%s\"", zmq_strerror(zmq_errno()));
    bulwark__packet__pack(p, zmq_msg_data(out));
}

void zx_pack_tempfail(const char *job_id, const char *reason, const char *node_id,
                      uint64_t config_version, zmq_msg_t *out)
{
    Bulwark__ScanResult r = BULWARK__SCAN_RESULT__INIT;
    r.job_id = (char *)job_id;
    r.action = BULWARK__ACTION__ACTION_TEMPFAIL;
    r.reason = (char *)reason;
    r.node_id = (char *)node_id;
    r.config_version = config_version;
    packet p = BULWARK__PACKET__INIT;
    p.body_case = BULWARK__PACKET__BODY_RESULT;
    p.result = &r;
    zx_pack(&p, out);
}

int zx_send_packet(void *sock, const packet *p, int flags)
{
    size_t n = bulwark__packet__get_packed_size(p);
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, n) != 0)
        return -1;
    bulwark__packet__pack(p, zmq_msg_data(&m));
    if (zmq_msg_send(&m, sock, flags) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    return 0;
}

int zx_send_id(void *sock, const void *id, size_t len)
{
    return zmq_send(sock, id, len, ZMQ_SNDMORE) < 0 ? -1 : 0;
}

/* Field number 0 is never valid. protobuf-c 1.4 refuses the one-byte tag 0x00 but
 * keeps an overlong tag of 0 (e.g. 80 00) as an unknown field, and packs it back as
 * 0x00, which it then refuses: such a frame would decode here and be dropped by
 * the next hop after re-encoding. Unknown fields with a real number stay allowed. */
static const void *member(const ProtobufCMessage *m, unsigned offset)
{
    return (const char *)m + offset;
}

static bool has_field_zero(const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return true;
    for (unsigned i = 0; i < m->descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &m->descriptor->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)member(m, f->quantifier_offset) != f->id)
            continue; /* not the member the oneof holds */
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)member(m, f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)member(m, f->offset);
            for (size_t j = 0; j < n; j++)
                if (has_field_zero(v[j]))
                    return true;
        } else {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)member(m, f->offset);
            if (sub && has_field_zero(sub))
                return true;
        }
    }
    return false;
}

packet *zx_decode(const void *data, size_t len)
{
    packet *p = bulwark__packet__unpack(NULL, len, data);
    if (p && (p->body_case == BULWARK__PACKET__BODY__NOT_SET || has_field_zero(&p->base))) {
        bulwark__packet__free_unpacked(p, NULL);
        return NULL;
    }
    return p;
}

void zx_packet_free(packet **p)
{
    if (*p)
        bulwark__packet__free_unpacked(*p, NULL);
    *p = NULL;
}

bool zx_monitor_event(void *mon, uint16_t *event, uint32_t *value)
{
    zmq_msg_t a;
    zmq_msg_init(&a);
    if (zmq_msg_recv(&a, mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&a);
        return false;
    }
    *event = 0;
    *value = 0;
    if (zmq_msg_size(&a) >= 6) { /* frame 1: 16-bit event, 32-bit value; frame 2: address */
        memcpy(event, zmq_msg_data(&a), 2);
        memcpy(value, (char *)zmq_msg_data(&a) + 2, 4);
    }
    if (zmq_msg_more(&a))
        zx_drain(mon);
    zmq_msg_close(&a);
    return true;
}

bool zx_more(const zmq_msg_t *m)
{
    return zmq_msg_more((zmq_msg_t *)m) != 0;
}

void zx_drain(void *sock)
{
    int more = 1;
    size_t sz = sizeof more;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            return;
        }
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
}

void zx_hex(const void *id, size_t len, char *out)
{
    static const char hx[] = "0123456789abcdef";
    const unsigned char *p = id;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * len] = '\0';
}
