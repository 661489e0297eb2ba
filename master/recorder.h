/* recorder.h - the master's recorder thread: verdicts made durable before answers.
 *
 * For a job whose ScanJob.record is set, the dispatcher hands the main loop the
 * client's routing id, the job frame and the result frame; the main loop passes
 * them here as an item over an inproc PAIR. The thread writes the message log row
 * (and, for a quarantine verdict, the quarantine row with the compressed message),
 * commits, and hands the item back with the reply to send: the result with
 * `recorded` set, or a tempfail when the write failed. Items travel as pointers;
 * whoever holds the pointer owns the item. */
#ifndef BW_RECORDER_H
#define BW_RECORDER_H

#include "params.h"
#include "zmqx.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECORDER_MAX_ITEMS 10000 /* waiting or in progress; beyond: tempfail */
#define RECORDER_BATCH 256 /* items per transaction (group commit) */

typedef struct recorder recorder;

typedef struct {
    uint8_t client[256]; /* routing id of the client to answer */
    size_t client_len;
    char job_id[201];
    zmq_msg_t job, result; /* the frames to record (closed by the thread) */
    zmq_msg_t reply; /* filled by the thread: the packed Packet to send */
    bool recorded; /* the rows are committed (reply has recorded = true) */
} recorder_item;

/* Starts the thread with its own database connection. */
recorder *recorder_new(void *ctx, const params *master_cfg, const char *master_id);
/* Lets the thread finish every item submitted so far, then joins it. The finished
 * items still wait on the socket for recorder_recv. */
void recorder_stop(recorder *r);
/* Stops (if not yet) and frees everything, unanswered items included. */
void recorder_destroy(recorder **r);
void *recorder_socket(recorder *r);

/* Takes over both frames (they are moved into the item). */
recorder_item *recorder_item_new(const void *client, size_t client_len, zmq_msg_t *job,
                                 zmq_msg_t *result, const char *job_id);
void recorder_item_free(recorder_item **it);
/* Hands the item to the thread; false (nothing taken) when RECORDER_MAX_ITEMS are
 * already out: the caller answers tempfail itself. */
bool recorder_submit(recorder *r, recorder_item *it);
/* A finished item, or NULL when none waits. The caller owns it. */
recorder_item *recorder_recv(recorder *r);
/* Items submitted and not yet received back. */
size_t recorder_pending(const recorder *r);

#endif
