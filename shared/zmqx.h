/* zmqx.h - ZeroMQ socket setup, CURVE, and Packet frames on the wire.
 *
 * Every cluster message is routing frames plus one protobuf Packet frame (see
 * proto/bulwark.proto). zx_decode() is the only place a Packet is parsed from the
 * network: it returns NULL for anything malformed, so handlers can count and drop. */
#ifndef BW_ZMQX_H
#define BW_ZMQX_H

#include "bulwark.pb-c.h"
#include "keys.h"

#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#define BW_PROTOCOL 1

typedef Bulwark__Packet packet;

/* A socket with linger 0, the given max frame size (0: unlimited) and high-water
 * marks large enough not to drop under burst. Dies on failure (out of fds). */
void *zx_socket(void *ctx, int type, int64_t max_frame);
/* Server side: CURVE with our key pair; ZAP asks the handler about every peer,
 * telling it `domain` (which socket: client, worker, publish, snapshot). */
void zx_curve_server(void *sock, const curve_key *mine, const char *domain);
/* Client side: our key pair and the server's public key. */
void zx_curve_client(void *sock, const curve_key *mine, const curve_key *server);

/* Packs `p` into a new message *out (initialised here; the caller sends or closes it). */
void zx_pack(const packet *p, zmq_msg_t *out);
/* Packs the ScanResult a master makes itself, not a node: TEMPFAIL for job_id with
 * a reason, from node_id (the master's id) at config_version. */
void zx_pack_tempfail(const char *job_id, const char *reason, const char *node_id,
                      uint64_t config_version, zmq_msg_t *out);
/* Sends `p` as one frame (ZMQ_SNDMORE not set unless flags say so). -1 on error. */
int zx_send_packet(void *sock, const packet *p, int flags);
/* Sends a routing frame (more follows). */
int zx_send_id(void *sock, const void *id, size_t len);
/* Decodes a Packet frame; NULL when malformed or when no body is set. */
packet *zx_decode(const void *data, size_t len);
void zx_packet_free(packet **p);

/* Reads one event from a zmq_socket_monitor() PAIR without waiting: the event
 * number and its value. False when no event waits. */
bool zx_monitor_event(void *mon, uint16_t *event, uint32_t *value);
/* Receives all remaining frames of the current message and throws them away. */
void zx_drain(void *sock);
/* Number of frames still to read in the message after frame `m`. */
bool zx_more(const zmq_msg_t *m);

/* Hex of a routing id, for dictionary keys and logs (out: 2*len+1 bytes). */
void zx_hex(const void *id, size_t len, char *out);

#endif
