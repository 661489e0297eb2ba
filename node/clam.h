/* clam.h - ClamAV in process: one libclamav engine per process, reloaded live.
 *
 * The engine (signatures compiled into matchers: ~1 GB with the official
 * databases) is shared by every scanning thread of the process and lives outside
 * the configuration generations: the check (node/checks/clamav.c) reads the
 * process-wide holder. Each scan takes a reference to the current engine, so a
 * reload that builds a new engine beside it never blocks or drops a scan; the old
 * engine is freed when its last scan ends. The whole raw message is scanned once,
 * as clamd and clamav-milter do: libclamav decodes MIME and opens archives itself,
 * within the limits set here. */
#ifndef BW_CLAM_H
#define BW_CLAM_H

#include "params.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *db_dir; /* signature directory (freshclam's); required */
    const char *tmpdir; /* libclamav's temp files; "" or NULL: a private directory
                           under /dev/shm (else $TMPDIR or /tmp), removed by clam_stop */
    uint64_t reload_interval_ms; /* 0: no reloader thread (call clam_reload_check) */
    uint64_t max_filesize; /* bytes */
    uint64_t max_scansize; /* bytes */
    unsigned max_recursion;
    unsigned max_files;
    unsigned max_scantime_ms;
} clam_config;

/* The node table's clamav_* parameters (params_node); the strings stay owned by p. */
void clam_config_from_params(const params *p, clam_config *c);

/* Loads the first engine and, with a reload interval, starts the reloader thread.
 * False with the reason in err when the directory cannot be read, has no loadable
 * signature, or a database is broken. Call before any scan thread starts; once
 * per process until clam_stop. */
bool clam_start(const clam_config *c, char *err, size_t errlen);

typedef enum {
    CLAM_RELOAD_UNCHANGED, /* the signature files are the ones loaded */
    CLAM_RELOAD_DONE, /* a new engine is in use */
    CLAM_RELOAD_FAILED, /* the files changed but did not load: the old engine stays */
} clam_reload_status;

/* Looks at the signature directory now (the reloader thread does this every
 * interval) and, if its files changed, loads a new engine in the calling thread
 * and swaps it in. */
clam_reload_status clam_reload_check(char *err, size_t errlen);

/* Stops the reloader and frees the engines. No scan may be running. */
void clam_stop(void);

typedef enum {
    CLAM_CLEAN,
    CLAM_VIRUS, /* a signature matched: name */
    CLAM_HEURISTIC, /* a heuristic other than limits matched: name (Heuristics.*) */
    CLAM_LIMITS, /* not scanned in full: name (Heuristics.Limits.Exceeded.*, or why) */
    CLAM_ERROR, /* the scan failed: name is the reason */
    CLAM_UNAVAILABLE, /* no engine in this process (clam_start not called) */
} clam_status;

typedef struct {
    clam_status status;
    char name[256];
    unsigned engine; /* number of the engine that scanned (1 = first loaded) */
} clam_result;

/* Scans one buffer (a whole message, or any file) with the current engine.
 * `name` is for libclamav's log lines (the job id). `heuristics` turns on the
 * heuristic detections (check.clamav.heuristics); limits are always detected.
 * Thread-safe; never blocks on a reload. */
void clam_scan(const uint8_t *data, size_t len, const char *name, bool heuristics, clam_result *r);

/* Whether an engine is loaded. */
bool clam_available(void);
/* Signatures in the current engine (0 without one). */
unsigned clam_signatures(void);
/* The current engine's number: 1 after clam_start, +1 per successful reload; 0
 * without an engine. */
unsigned clam_engine_number(void);
/* libclamav's version ("1.4.6"). */
const char *clam_version(void);
/* The status's name in lower case ("virus"), for logs and JSON. */
const char *clam_status_name(clam_status s);

#endif
