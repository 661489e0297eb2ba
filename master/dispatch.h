/* dispatch.h - the load-balancing job broker between clients and scanner nodes.
 *
 * Clients (milters, bulwarkctl) send ScanJobs to the client ROUTER; nodes connect
 * to the worker ROUTER, say Hello with their credit, and get jobs while they have
 * credit. Heartbeats both ways detect dead peers (the ZeroMQ guide's Paranoid
 * Pirate); a dead or silent node's jobs go to another node; each job is answered
 * exactly once, by its first result or by a tempfail at its deadline. */
#ifndef BW_DISPATCH_H
#define BW_DISPATCH_H

#include "params.h"
#include "zmqx.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct dispatch dispatch;

typedef struct {
    uint64_t received, answered, redispatched, expired, dropped_results;
    uint64_t bad_client, bad_worker, rejected_full;
    uint64_t to_recorder; /* results handed to the recorder */
} dispatch_stats;

dispatch *dispatch_new(void *client_sock, void *worker_sock, const params *master_cfg,
                       const char *master_id);
void dispatch_destroy(dispatch **d);

/* A ScanJob packet from a client. `frame` (the packed Packet) is taken over. */
void dispatch_job(dispatch *d, const void *client, size_t client_len, zmq_msg_t *frame,
                  const Bulwark__ScanJob *job);
/* Any packet from a node. `frame` is taken over; `peer` is the CURVE key name. */
void dispatch_worker(dispatch *d, const void *wid, size_t wid_len, zmq_msg_t *frame,
                     const packet *p, const char *peer);
/* Timers: heartbeats out, dead nodes, attempt timeouts, deadlines. Call often
 * (every poll wakeup); it does nothing until something is due. */
void dispatch_tick(dispatch *d);
/* Milliseconds until dispatch_tick has something to do (for the poll timeout). */
int dispatch_next_tick_ms(const dispatch *d);

/* Jobs whose ScanJob.record is set are not answered by the dispatcher: their first
 * result goes to `fn` instead, with the client's routing id, the job frame and the
 * result frame (both taken over by fn), and the job is forgotten as if answered, so
 * a second result still finds nothing. fn must answer the client (after recording
 * the verdict). Without a recorder, record jobs are answered like any other. */
typedef void (*dispatch_record_fn)(void *arg, const void *client, size_t client_len,
                                   zmq_msg_t *job_frame, zmq_msg_t *result_frame,
                                   const char *job_id);
void dispatch_set_recorder(dispatch *d, dispatch_record_fn fn, void *arg);

/* The config version sent in heartbeats to nodes (nodes behind it catch up). */
void dispatch_set_config_version(dispatch *d, uint64_t v);
/* Stop taking jobs (they get tempfail); jobs in hand are still answered. */
void dispatch_stop_accepting(dispatch *d);
/* Answers every job still open with tempfail. */
void dispatch_fail_all(dispatch *d, const char *reason);
size_t dispatch_open_jobs(const dispatch *d);

/* Fills the node list and counters of a status reply; free with dispatch_status_free. */
void dispatch_status(const dispatch *d, Bulwark__StatusReply *r);
void dispatch_status_free(Bulwark__StatusReply *r);
const dispatch_stats *dispatch_get_stats(const dispatch *d);
dispatch_stats *dispatch_stats_mut(dispatch *d);
size_t dispatch_node_count(const dispatch *d);

#endif
