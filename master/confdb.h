/* confdb.h - the master's database thread: configuration versions off the hot path.
 *
 * MariaDB calls can block for seconds (a Galera node losing quorum, a hung server),
 * and the dispatcher must never wait for them. So one thread owns the store: the main
 * loop hands it requests (config set, an old version, history; message log and
 * quarantine requests; the periodic aging) as jobs over an inproc PAIR and gets
 * each job back with the packed reply to send; the thread also polls for versions
 * written by another master and hands back each newer one to install.
 * Jobs travel as pointers; whoever holds the pointer owns the job. */
#ifndef BW_CONFDB_H
#define BW_CONFDB_H

#include "params.h"
#include "records.h"
#include "store.h"
#include "zmqx.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct confdb confdb;

typedef enum {
    CONFDB_SET, /* req->config_set: make a new version */
    CONFDB_GET, /* req->config_get: one stored version */
    CONFDB_HISTORY, /* req->config_history */
    CONFDB_VERSION, /* from the thread: a newer version appeared; no reply */
    CONFDB_LOG_SEARCH, /* req->log_search */
    CONFDB_QUARANTINE_LIST, /* req->quarantine_list */
    CONFDB_QUARANTINE_SHOW, /* req->quarantine_show */
    CONFDB_QUARANTINE_RELEASE, /* req->quarantine_release; relay set */
    CONFDB_QUARANTINE_DELETE, /* req->quarantine_delete */
    CONFDB_AGING, /* no request: delete rows past log_days / quarantine_days; no reply */
    CONFDB_LEARN_CLAIM, /* no request: released entries due to be learned (learn_items) */
    CONFDB_LEARN_DONE, /* no request: a node's answer to a learn job (learn_id...); no reply */
    CONFDB_DMARC_REPORT, /* req->dmarc_report; dmarc_* set from the current configuration */
} confdb_kind;

typedef struct {
    confdb_kind kind;
    void *reply_sock; /* main-thread socket for the reply; the db thread never touches it */
    uint8_t id[256]; /* routing id of the requester */
    size_t idlen;
    char peer[65]; /* CURVE key name of the requester, for the audit trail */
    packet *req; /* the decoded request; owned by the job */
    bool has_reply;
    zmq_msg_t reply; /* the packed Packet to send back */
    store_version *installed; /* newest version, to make current; NULL if none */
    char *relay; /* CONFDB_QUARANTINE_RELEASE: quarantine.release_relay (owned) */
    unsigned log_days, quarantine_days; /* CONFDB_AGING */
    bool learn; /* CONFDB_QUARANTINE_RELEASE: quarantine.learn_on_release */
    unsigned learn_max; /* CONFDB_LEARN_CLAIM: at most this many */
    records_learn_item *learn_items; /* CONFDB_LEARN_CLAIM: what the thread found (owned) */
    size_t n_learn_items;
    char *learn_id, *learn_reply; /* CONFDB_LEARN_DONE (owned) */
    bool learn_ok;
    unsigned dmarc_days; /* CONFDB_AGING: dmarc.report.retention_days (0: keep) */
    /* CONFDB_DMARC_REPORT: the dmarc.report.* parameters (owned) */
    char *dmarc_org, *dmarc_email, *dmarc_extra, *dmarc_relay;
} confdb_job;

/* Starts the thread. The store is created from the master's parameters. */
confdb *confdb_new(void *ctx, const params *master_cfg);
/* Stops and joins the thread (waits for a database call in progress). */
void confdb_destroy(confdb **db);
/* The socket the main loop polls for finished jobs. */
void *confdb_socket(confdb *db);

/* Takes a request; the job (and `req`) now belong to the thread. Returns false
 * (and takes nothing) when too many jobs wait: the caller answers 451 itself. */
confdb_job *confdb_job_new(confdb_kind kind, void *reply_sock, const void *id, size_t idlen,
                           const char *peer, packet *req);
bool confdb_submit(confdb *db, confdb_job *job);
/* A finished job, or NULL when none waits. The caller owns it. */
confdb_job *confdb_recv(confdb *db);
void confdb_job_free(confdb_job **job);
/* True while the thread holds a working database connection. */
bool confdb_connected(const confdb *db);

/* Packs a ConfigSnapshot of (version, params) into *out. */
void conf_pack_snapshot(uint64_t version, const char *author, const char *comment,
                        uint64_t created_ms, const params *p, zmq_msg_t *out);
/* Packs an Error (SMTP-like code, text) into *out. */
void conf_pack_error(uint32_t code, const char *text, zmq_msg_t *out);
/* Parses a stored version's content; NULL with err on a bad line. */
params *conf_parse(const store_version *v, char *err, size_t errlen);

#endif
