/* pipeline.h - the one scan pipeline: checks add symbols, policy picks the action.
 *
 * A pipeline is one configuration generation made ready to scan: the cluster
 * parameters of a version, each enabled check's state built from them, and the
 * weight of every symbol. It is immutable and reference-counted; a worker takes
 * a reference for the length of one job, so a new generation can be swapped in
 * between jobs while old jobs finish on the old one. The same code runs in
 * bulwark-node and in `bulwarkctl scan --local`. */
#ifndef BW_PIPELINE_H
#define BW_PIPELINE_H

#include "action.h"
#include "arc.h"
#include "bulwark.pb-c.h"
#include "dkim.h"
#include "dns.h"
#include "files.h"
#include "hdr.h"
#include "message.h"
#include "params.h"
#include "spf.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

typedef struct pipeline pipeline;
typedef struct scan_task scan_task;

typedef struct {
    const char *name; /* UPPER_SNAKE; unique across all checks */
    double score; /* default weight; `score.NAME` in the cluster config overrides it */
    const char *desc;
} symbol_def;

/* The interface every check implements (node/checks/<name>.c). */
typedef struct {
    const char *name; /* enabled by the cluster parameter check.<name>.enabled */
    const symbol_def *symbols; /* ends with {NULL} */
    /* Builds the check's state for a generation; NULL state is fine. Returns false
     * with a reason in err if the configuration cannot work. */
    bool (*init)(const params *cfg, void **state, char *err, size_t errlen);
    void (*run)(scan_task *t, const void *state);
    void (*free)(void *state);
    /* Optional: symbols known only once the state is built (the rule engine's rules,
     * node/rules.h). Called after init; they are registered like the static ones,
     * `score.NAME` overrides included, and must not reuse a registered name. The
     * array is owned by the state and lives as long as it. */
    const symbol_def *(*dynamic_symbols)(const void *state, size_t *n);
    /* Optional: called for every enabled check that has one before any check's run,
     * so a check submits its lookups here (task_dns, dns_submit) and collects them in
     * run: the lookups of all checks are in flight together. */
    void (*start)(scan_task *t, const void *state);
    /* Optional: called for every enabled check that has one after the policy, with the
     * verdict in scan_result(t) (the DKIM signer signs only mail that leaves as it is). */
    void (*finish)(scan_task *t, const void *state);
} check_def;

/* Builds a generation. `cfg` is copied. NULL with err set if a check refuses it. */
pipeline *pipeline_new(const params *cfg, uint64_t version, char *err, size_t errlen);
pipeline *pipeline_ref(pipeline *p);
void pipeline_release(pipeline **p);
uint64_t pipeline_version(const pipeline *p);
const params *pipeline_config(const pipeline *p);
/* Every symbol any check can add, for `bulwarkctl symbols` and the docs. */
const check_def *const *pipeline_checks(size_t *n);

/* One scan. The raw message is borrowed and must outlive the task. */
scan_task *scan_task_new(pipeline *p, const char *job_id, const Bulwark__Envelope *env,
                         const uint8_t *raw, size_t len);
/* Bounds the scan's waits (DNS lookups) by an absolute deadline, epoch milliseconds;
 * 0 (the default): only each wait's own timeout. Set before scan_run. */
void scan_task_set_deadline(scan_task *t, uint64_t deadline_ms);
/* Runs every enabled check's start, then every run, then the policy. */
void scan_run(scan_task *t);
/* The verdict; owned by the task (valid until scan_task_destroy). */
const Bulwark__ScanResult *scan_result(const scan_task *t);
void scan_task_destroy(scan_task **t);

/* ---- for checks ---- */
/* A check's `*.action` parameter: false for "none" (leave it to the score), else true
 * with the action in *a. */
bool check_param_action(const params *cfg, const char *key, Bulwark__Action *a);
/* A comma/space-separated list parameter, lower-cased, leading dots removed (".exe"
 * and "exe" are one extension, ".example.com" one domain), empty items dropped. */
void check_param_list(const params *cfg, const char *key, strlist *out);

/* Adds a symbol with its configured weight; the detail is what an administrator
 * reads to understand the verdict. */
void task_symbol(scan_task *t, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with the weight multiplied by factor (e.g. a probability). */
void task_symbol_scaled(scan_task *t, const char *name, double factor, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets an action whatever the score; the most severe forced action wins. */
void task_force(scan_task *t, Bulwark__Action a, const char *reason);
/* Asks for a header field in the delivered message (ScanResult.add_headers; the milter
 * puts DKIM-Signature and Authentication-Results on top, others at the end). Name and
 * value are copied; the value may be folded with CRLF and white space. False when the
 * task has no room left (TASK_MAX_HEADERS beyond its own X-Bulwark-* fields and
 * Authentication-Results). */
bool task_add_header(scan_task *t, const char *name, const char *value);
#define TASK_MAX_HEADERS 8
/* Whether a check that ran before this one added the symbol (the rule engine's meta
 * rules over other checks' findings). */
bool task_has_symbol(const scan_task *t, const char *name);
const hdr_block *task_headers(scan_task *t);
/* The MIME model (GMime), parsed on first use. */
const msg_model *task_message(scan_task *t);
/* Every file in the message: MIME leaf parts and archive members (node/files.h),
 * walked on first use within the check.archives.* limits (archives stay closed when
 * that check is disabled). */
const file_set *task_files(scan_task *t);
const uint8_t *task_raw(const scan_task *t, size_t *len);
const Bulwark__Envelope *task_envelope(const scan_task *t);
time_t task_time(const scan_task *t);
const char *task_job_id(const scan_task *t);
/* The deadline given to scan_task_set_deadline (0: none). */
uint64_t task_deadline(const scan_task *t);
/* Memory a check keeps for the length of the task (what its start submitted, a
 * cache's answers): task_alloc gives zeroed bytes from the task's arena, freed with
 * the task; task_slot is one pointer per check and task, NULL until the check sets it
 * (the check's start stores there what its run picks up). */
void *task_alloc(scan_task *t, size_t n);
void **task_slot(scan_task *t, const check_def *c);
/* The task's DNS batch (node/dns.h), made on first use from the process's resolver
 * with the task's deadline and destroyed with the task; NULL when the process has no
 * resolver (no dns_* configuration, no `--dns`): checks then stay silent. */
dns_batch *task_dns(scan_task *t);

#define AUTH_DKIM_MAX 8 /* DKIM results kept per task */

/* Sender authentication results, for checks that combine them (DMARC reads SPF's):
 * each check fills its part as it runs; all zero before. */
typedef struct {
    bool spf_done; /* the SPF check evaluated the MAIL FROM identity */
    spf_result spf; /* its result (node/spf.h) */
    char spf_domain[SPF_NAME_MAX]; /* the domain checked: MAIL FROM's, HELO's for <> */
    bool dkim_done; /* the DKIM check ran (a resolver was there) */
    size_t ndkim; /* entries in dkim[]: the verified signatures, topmost first */
    struct {
        dkim_res result;
        char domain[256]; /* d=, lower case: DMARC's candidate for alignment; "" when
                           * the signature did not parse that far */
        char selector[128];
        bool testing; /* the key says t=y */
    } dkim[AUTH_DKIM_MAX];
    bool dmarc_done; /* the DMARC check evaluated the From domain */
    char dmarc[16]; /* its result: none, pass, fail, temperror, permerror */
    char dmarc_from[256]; /* the From domain ("" when there was no single one) */
    bool arc_done; /* the ARC check ran */
    arc_res arc; /* the chain's result (node/arc.h) */
    unsigned arc_sets; /* ARC sets on the message (the newest instance) */
    char arc_sealer[ARC_NAME_MAX]; /* d= of the newest ARC-Seal (when it passed) */
    /* The chain passed and its newest sealer is in check.arc.trusted_sealers; then
     * arc_aar holds the results recorded by the oldest sealer of the unbroken run of
     * trusted sealers ending at the newest (the oldest AAR when all are trusted), for
     * DMARC's override. Without trust, arc_aar is the oldest AAR (i=1), informative. */
    bool arc_trusted;
    arc_aar arc_aar;
} auth_results;
/* The task's sender authentication results (owned by the task). */
auth_results *task_auth(scan_task *t);
/* Attaches the message's DMARC evaluation to the result (ScanResult.dmarc, for the
 * master's aggregate reports); copied into the task. */
void task_set_dmarc(scan_task *t, const Bulwark__DmarcResult *d);

#endif
