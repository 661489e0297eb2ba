/* scanclient.h - many threads submit scan jobs over one connection to the master.
 *
 * A scanclient owns one background thread and one DEALER to the master's client
 * socket. Any thread may call scanclient_scan(): it queues the job, the thread
 * sends it, and the caller sleeps until its result arrives or its timeout passes.
 * When the connection comes back after a disconnect, every job still waiting is
 * sent again under the same id (the master answers an open job once; a master
 * that died has lost it). Results for ids nobody waits for are dropped and counted. */
#ifndef BW_SCANCLIENT_H
#define BW_SCANCLIENT_H

#include "bulwark.pb-c.h"
#include "keys.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct scanclient scanclient;

typedef struct {
    const char *endpoint; /* the master's client_endpoint, tcp://HOST:PORT */
    const curve_key *mine, *server; /* both NULL: no CURVE */
    int64_t max_frame; /* largest result frame accepted; 0: unlimited */
    int reconnect_ms; /* ZeroMQ reconnect interval (first try); 0: 100 ms */
} scanclient_opts;

typedef struct {
    uint64_t sent; /* job frames written to the socket, resends included */
    uint64_t resent; /* jobs sent again after a reconnect */
    uint64_t answered; /* results handed to a waiting caller */
    uint64_t dropped; /* results nobody waited for (unknown, late or malformed) */
    uint64_t timeouts; /* callers that gave up waiting */
    uint64_t reconnects; /* handshakes after a lost connection */
    uint32_t waiting; /* callers waiting now */
    bool connected;
} scanclient_stats;

/* Starts the thread and connects (in the background). NULL with err set if the
 * endpoint or keys are refused. */
scanclient *scanclient_new(const scanclient_opts *o, char *err, size_t errlen);
/* Submits `job` (its job_id must be unique among jobs in flight) and waits up to
 * timeout_ms for its result. True with *out set (free it with
 * scanclient_result_free); false with a short reason in err on timeout, on a
 * duplicate id, or when the client is stopping. Thread-safe. */
bool scanclient_scan(scanclient *c, const Bulwark__ScanJob *job, int64_t timeout_ms,
                     Bulwark__ScanResult **out, char *err, size_t errlen);
void scanclient_result_free(Bulwark__ScanResult **r);
void scanclient_get_stats(scanclient *c, scanclient_stats *out);
/* Stops the thread: callers still waiting return false ("client stopping"), later
 * calls fail at once; waits for the callers to leave, then frees everything and
 * sets *c to NULL. */
void scanclient_destroy(scanclient **c);

#endif
