/* store.h - the master's durable state in MariaDB (Galera in production).
 *
 * Schema migrations and the versioned configuration. Every call is synchronous
 * and reports failure instead of dying; store_ok() says if it is connected. A
 * store is used by one thread only (the master's confdb thread). */
#ifndef BW_STORE_H
#define BW_STORE_H

#include "params.h"

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
/* A configuration change in one transaction: begin locks and returns the newest
 * version (version 0, content "" when there is none); insert adds a row; commit or
 * rollback ends it. Another master's concurrent change waits for ours. */
bool store_change_begin(store *s, store_version *cur, char *err, size_t errlen);
bool store_change_insert(store *s, uint64_t version, const char *author, const char *comment,
                         const char *changes, const char *content, char *err, size_t errlen);
bool store_change_commit(store *s, char *err, size_t errlen);
void store_change_rollback(store *s);

/* Newest `limit` versions, newest first. */
bool store_history(store *s, unsigned limit, store_version **out, size_t *n, char *err,
                   size_t errlen);

/* Sets up the client library before any thread uses it (it is not thread-safe
 * to initialise lazily from two threads). */
void store_library_init(void);
/* Frees the client library's global state at exit (leak-free shutdown). */
void store_library_end(void);

#endif
