/* store.h - the master's durable state in MariaDB (Galera in production).
 *
 * Schema migrations, the versioned configuration, the message log and the
 * quarantine. Every call is synchronous and reports failure instead of dying;
 * store_ok() says if it is connected. A store is used by one thread only (the
 * master's confdb thread has one, the recorder thread another). Times are UTC. */
#ifndef BW_STORE_H
#define BW_STORE_H

#include "params.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

/* One configuration generation as stored. */
typedef struct {
    uint64_t version;
    uint64_t created_ms;
    char *author, *comment, *changes, *content;
} store_version;

void store_version_free(store_version *v);

store *store_new(const params *master_cfg);
void store_destroy(store **s);
/* Connects (if not connected) and applies pending migrations. */
bool store_connect(store *s, char *err, size_t errlen);
bool store_ok(const store *s);

/* Newest version number; 0 when the table is empty. */
bool store_latest_version(store *s, uint64_t *out, char *err, size_t errlen);
/* Loads one version (0: the newest). false with err "not found" if absent. */
bool store_get_version(store *s, uint64_t version, store_version *out, char *err, size_t errlen);
/* Adds version max+1 with this content, atomically; *out gets the new number.
 * If base != 0 and the newest version is not base, refuses (compare-and-set). */
bool store_add_version(store *s, uint64_t base, const char *author, const char *comment,
                       const char *changes, const char *content, uint64_t *out, char *err,
                       size_t errlen);
/* Transactions: around a configuration change, the recorder's group commit, a
 * quarantine release. */
bool store_begin(store *s, char *err, size_t errlen);
bool store_commit(store *s, char *err, size_t errlen);
void store_rollback(store *s);

/* A configuration change in one transaction: begin opens it, locks and returns the
 * newest version (version 0, content "" when there is none); insert adds a row;
 * store_commit or store_rollback ends it. Another master's concurrent change waits
 * for ours. */
bool store_change_begin(store *s, store_version *cur, char *err, size_t errlen);
bool store_change_insert(store *s, uint64_t version, const char *author, const char *comment,
                         const char *changes, const char *content, char *err, size_t errlen);

/* Newest `limit` versions, newest first. */
bool store_history(store *s, unsigned limit, store_version **out, size_t *n, char *err,
                   size_t errlen);

/* ---- message log and quarantine ---- */

/* One message log row or quarantine entry, as written and as read back. Strings
 * are owned (store_record_free) when read; when writing they are borrowed and
 * must be valid UTF-8 (the caller scrubs and clips them). */
typedef struct {
    char *id, *client_ip, *helo, *sender;
    char *rcpt; /* every recipient, one per line */
    char *subject, *message_id, *node_id, *queue_id, *reason;
    char *action; /* log: pass|tag|quarantine|reject|tempfail */
    char *symbols; /* JSON array (json_symbols_write) */
    uint64_t time_ms, size, config_version;
    double score;
    uint32_t scan_us;
    char *status, *released_by, *release_reply; /* quarantine */
    char *learn, *learn_reply; /* quarantine: learning as ham after release */
    uint64_t released_ms;
} store_record;

void store_record_free(store_record *r);

/* Filters of a search; NULL or empty strings and zero numbers match everything.
 * sender and recipient match substrings; the others match exactly. */
typedef struct {
    const char *id, *sender, *recipient, *client_ip;
    const char *action; /* log: the verdict; quarantine: the status */
    uint64_t since_ms, until_ms; /* [since, until) */
    unsigned limit; /* newest first; at most this many */
} store_query;

/* INSERT IGNORE of a log row; *inserted is false when the job was recorded before. */
bool store_log_insert(store *s, const store_record *r, bool *inserted, char *err, size_t errlen);
/* The stored verdict of a job (action, score, reason); *found false if none. */
bool store_log_verdict(store *s, const char *id, store_record *out, bool *found, char *err,
                       size_t errlen);
/* INSERT IGNORE of a quarantine entry with the compressed message z[0..zlen). */
bool store_quarantine_insert(store *s, const store_record *r, const void *z, size_t zlen, char *err,
                             size_t errlen);

/* Newest matching rows first, at most q->limit of them. */
bool store_log_search(store *s, const store_query *q, store_record **out, size_t *n, char *err,
                      size_t errlen);
bool store_quarantine_list(store *s, const store_query *q, store_record **out, size_t *n, char *err,
                           size_t errlen);
/* One entry and its compressed message (*z owned by the caller); *found false if
 * none. With lock, the row is locked (SELECT ... FOR UPDATE) until the transaction
 * the caller began ends. */
bool store_quarantine_get(store *s, const char *id, bool lock, store_record *out, char **z,
                          size_t *zlen, bool *found, char *err, size_t errlen);
/* Marks an entry released; with learn, also due to be learned as ham (learn = 'pending'). */
bool store_quarantine_mark_released(store *s, const char *id, const char *by, const char *reply,
                                    bool learn, char *err, size_t errlen);
/* Released entries due to be learned as ham: at most max ids into *ids, each claimed by
 * pushing its next attempt back (1 minute, doubling to 1 hour), so a lost learn job is
 * sent again later and two masters do not send it at once. Entries past 10 attempts
 * are marked 'failed' instead. */
bool store_learn_claim(store *s, unsigned max, strlist *ids, char *err, size_t errlen);
/* A node's answer to a learn job: 'done' with what it did, or 'failed' for good. */
bool store_learn_done(store *s, const char *id, bool ok, const char *reply, char *err,
                      size_t errlen);
bool store_quarantine_delete(store *s, const char *id, bool *found, char *err, size_t errlen);
/* ---- DMARC results (aggregate reports) ---- */

/* One message's DMARC evaluation (sql/005_dmarc.sql). Borrowed strings when written;
 * when read back as a group (store_dmarc_groups) they are owned (store_dmarc_free) and
 * `count` says how many rows had these values. */
typedef struct {
    char *id, *policy_domain, *from_domain, *rua; /* rua: addresses, comma-separated */
    char *adkim, *aspf, *p, *sp, *fo;
    unsigned pct;
    char *source_ip, *envelope_from, *envelope_to;
    char *result, *disposition, *dkim_aligned, *spf_aligned; /* "pass"/"fail" */
    char *override, *override_comment;
    char *spf_domain, *spf_scope, *spf_result;
    char *dkim; /* "domain selector result" lines */
    uint64_t time_ms, count;
} store_dmarc;

void store_dmarc_free(store_dmarc *d);
/* INSERT IGNORE, keyed by job id. */
bool store_dmarc_insert(store *s, const store_dmarc *d, char *err, size_t errlen);
/* Policy domains with results in [begin_ms, end_ms) (all, or only `domain` when not
 * NULL/empty), sorted. */
bool store_dmarc_domains(store *s, uint64_t begin_ms, uint64_t end_ms, const char *domain,
                         strlist *out, char *err, size_t errlen);
/* The newest row of a domain in the range: the policy as last published (and rua). */
bool store_dmarc_latest(store *s, const char *domain, uint64_t begin_ms, uint64_t end_ms,
                        store_dmarc *out, bool *found, char *err, size_t errlen);
/* The domain's rows in the range grouped by source IP, disposition, results and
 * identifiers, largest groups first. */
bool store_dmarc_groups(store *s, const char *domain, uint64_t begin_ms, uint64_t end_ms,
                        store_dmarc **out, size_t *n, char *err, size_t errlen);
/* Whether the report of (domain, day "YYYY-MM-DD") was mailed; *reply gets what the
 * relay said then (owned) when it was. */
bool store_dmarc_sent(store *s, const char *domain, const char *day, bool *sent, char **reply,
                      char *err, size_t errlen);
bool store_dmarc_mark_sent(store *s, const char *domain, const char *day, const char *report_id,
                           const char *reply, char *err, size_t errlen);

/* Deletes rows of `table` ("message_log", "quarantine" or "dmarc_result") older than
 * `days`, in chunks of 10,000 rows each committed on its own; *deleted counts them. */
bool store_age(store *s, const char *table, unsigned days, uint64_t *deleted, char *err,
               size_t errlen);

/* Sets up the client library before any thread uses it (it is not thread-safe
 * to initialise lazily from two threads). */
void store_library_init(void);
/* Frees the client library's global state at exit (leak-free shutdown). */
void store_library_end(void);

#endif
