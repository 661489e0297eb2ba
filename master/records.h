/* records.h - the message log and quarantine requests of the client socket.
 *
 * Run on the master's database thread (confdb.c) with its store: log search,
 * quarantine list/show/release/delete, and the periodic aging of old rows. Each
 * request handler packs its whole reply (a RecordList, a QuarantineOpReply or an
 * Error) into *reply. Also the action names the log stores. */
#ifndef BW_RECORDS_H
#define BW_RECORDS_H

#include "store.h"
#include "zmqx.h"

#include <stdbool.h>

/* "pass", "tag", "quarantine", "reject", "tempfail" (and back; unknown -> tempfail). */
Bulwark__Action records_action_parse(const char *name);

/* RecordQuery -> RecordList (quarantine: the `action` filter is the status). */
void records_search(store *st, const Bulwark__RecordQuery *q, bool quarantine, zmq_msg_t *reply);
/* QuarantineShow -> RecordList with one Record, message included; Error 404 if none. */
void records_show(store *st, const Bulwark__QuarantineShow *q, zmq_msg_t *reply);
/* QuarantineOp -> QuarantineOpReply. `who` is recorded as the releaser; `relay` is
 * quarantine.release_relay of the current configuration. */
void records_release(store *st, const Bulwark__QuarantineOp *op, const char *who, const char *relay,
                     bool learn, zmq_msg_t *reply);
void records_delete(store *st, const Bulwark__QuarantineOp *op, const char *who, zmq_msg_t *reply);
/* Released entries due to be learned as ham (store_learn_claim), each with its
 * message decompressed; entries that cannot be read are marked failed. */
typedef struct {
    char *id;
    char *msg;
    size_t len;
} records_learn_item;
void records_learn_claim(store *st, unsigned max, records_learn_item **items, size_t *n);
/* Records a node's answer to a learn job. */
void records_learn_done(store *st, const char *id, bool ok, const char *reply);

/* Deletes log and quarantine rows past their retention (days); logs the counts. */
void records_age(store *st, unsigned log_days, unsigned quarantine_days);

#endif
