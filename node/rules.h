/* rules.h - the rule engine: rules as data, compiled into Hyperscan databases.
 *
 * A rule set is parsed from text (one rule per line, docs/rules.md), from the
 * starter set built into the binary and from extra files, then compiled once per
 * configuration generation: every regex of one input kind goes into one Hyperscan
 * block-mode database; what Hyperscan cannot compile (backreferences, lookaround)
 * is matched with PCRE2 JIT under a match limit. A compiled set is immutable and
 * shared by all workers; ruleset_match() borrows a scratch from a small pool so any
 * number of threads can match at once. Meta rules combine hits (and other checks'
 * symbols) with && || ! ( ) + and comparisons, evaluated after the regex rules. */
#ifndef BW_RULES_H
#define BW_RULES_H

#include "hdr.h"
#include "html.h"
#include "message.h"
#include "pipeline.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The starter rule set (the .rules files of node/rules/), embedded at build time. */
typedef struct {
    const char *name;
    const char *text;
    size_t len;
} rules_source;
extern const rules_source rules_builtin[];
extern const size_t rules_builtin_count;

typedef struct ruleset ruleset;

ruleset *ruleset_new(void);
/* A compiled set is reference-counted so generations with the same rules share it:
 * ruleset_ref() adds a reference, ruleset_destroy() drops one (freeing with the last)
 * and sets *rs to NULL. */
ruleset *ruleset_ref(ruleset *rs);
void ruleset_destroy(ruleset **rs);
/* Adds the rules of one text; `origin` names it in errors ("origin:LINE: reason").
 * A rule named like one from an earlier origin replaces it; twice in one origin is
 * an error. Nothing of a refused text is kept. */
bool ruleset_parse(ruleset *rs, const char *origin, const char *text, size_t len, char *err,
                   size_t errlen);
bool ruleset_load_file(ruleset *rs, const char *path, char *err, size_t errlen);
/* Resolves meta references (to rules, or to names `known` accepts: other checks'
 * symbols), rejects cycles and names `known` already uses, and compiles the
 * regexes. `known` may be NULL. No rule can be added afterwards. */
bool ruleset_compile(ruleset *rs, bool (*known)(const char *name, void *ctx), void *ctx, char *err,
                     size_t errlen);
/* Rules that add a symbol (all but `__` sub-rules), as symbol_defs; after compile. */
const symbol_def *ruleset_symbols(const ruleset *rs, size_t *n);
size_t ruleset_count(const ruleset *rs);
/* Regexes Hyperscan took, and those left to PCRE2. */
void ruleset_stats(const ruleset *rs, size_t *hyperscan, size_t *pcre);

/* What one message offers the rules; any field may be empty. */
typedef struct {
    const hdr_block *hdrs; /* header rules */
    const char *text; /* body rules: the visible text, UTF-8 */
    size_t text_len;
    const msg_part *parts; /* rawbody rules: the decoded text parts */
    size_t nparts;
    const html_url *urls; /* uri rules */
    size_t nurls;
    const uint8_t *raw; /* full rules: the raw message */
    size_t raw_len;
    /* Meta rules' references to other checks' symbols; NULL: none is present. */
    bool (*has_symbol)(void *ctx, const char *name);
    void *ctx;
} rules_input;

/* Called once per hit rule (sub-rules excepted), in rule order, metas last.
 * `matched` is a short printable excerpt of what matched ("" for metas). */
typedef void (*rules_hit_fn)(void *ctx, const char *name, const char *desc, const char *matched);

/* Matches every rule once; returns the number of hits reported. */
size_t ruleset_match(const ruleset *rs, const rules_input *in, rules_hit_fn hit, void *ctx);

#endif
