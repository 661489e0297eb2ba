/* bayes.h - the Bayesian classifier: token counts in Redis and the combiner.
 *
 * A scope is a name: "g" (global), "d:<domain>" or "u:<address>" (lower case).
 * Redis keys of a scope (see docs/bayes.md):
 *   bw:b:<scope>:n            hash: spam, ham = messages learned; scheme = the
 *                             token scheme and OSB window they were learned with
 *                             (bayes_scheme_mark)
 *   bw:b:<scope>:learned      hash: <sha256 hex> = "s" | "h"
 *   bw:b:<scope>:t:<4 hex>    hash: <6 bytes>s, <6 bytes>h = token counts; the 4 hex
 *                             are the token's top 16 bits (65,536 buckets, so each
 *                             hash stays small and compact), the 6 raw bytes its
 *                             other 48 (big-endian).
 * Every operation on one message is one pipelined round trip (plus one for the
 * learned-once check when learning). The combiner is pure. */
#ifndef BW_BAYES_H
#define BW_BAYES_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BAYES_SCOPE_MAX 300
/* The token scheme: what node/tokens.c counts and how fields are written. Counts
 * learned with another scheme are not used (the scope must be deleted and learned
 * again). 1: OSB word pairs, hex fields; 2: unigrams and header tokens, binary fields. */
#define BAYES_SCHEME 2u
#define BAYES_FIELD_LEN 7

/* The scheme marker of counts learned with OSB window w (check.bayes.osb_window):
 * BAYES_SCHEME without pairs (w below 2), 100 * BAYES_SCHEME + w with them (202..205),
 * so a build that knows only scheme 2 refuses counts with pairs instead of mixing. */
unsigned bayes_scheme_mark(unsigned osb_window);
/* A marker in words for details: "token scheme 2 without word pairs", "token scheme
 * 2 with OSB window 3 (check.bayes.osb_window)", "token scheme 1". */
void bayes_scheme_name(unsigned mark, char *out, size_t outlen);
/* The first remedy for a scope of marker was met with marker now: "learn and scan
 * with the same check.bayes.osb_window, or " when either has word pairs, else "". */
const char *bayes_scheme_hint(unsigned was, unsigned now);

typedef struct {
    uint32_t spam, ham; /* learned counts of one token */
} bayes_count;

typedef struct {
    double s, x; /* Robinson's strength and assumed probability (1, 0.5) */
    double min_strength; /* tokens with |f - 0.5| below are ignored (0.1) */
    unsigned min_hits; /* tokens seen fewer times (spam + ham) are ignored (1) */
    unsigned max_used; /* the most significant tokens used (150) */
} bayes_opts;

void bayes_opts_default(bayes_opts *o);

/* Robinson's f(w) for one token given the scope's learned message counts. */
double bayes_token_prob(bayes_count c, uint64_t nspam, uint64_t nham, const bayes_opts *o);
/* Fisher's chi-square combination (SpamBayes's chi2_spamprob) of the most
 * significant tokens: the spam probability 0..1, 0.5 when no token counts. *used
 * gets the number of tokens combined. */
double bayes_classify(const bayes_count *c, size_t n, uint64_t nspam, uint64_t nham,
                      const bayes_opts *o, size_t *used);
/* Q(x2 | v): the probability that chi-square with v (even) degrees of freedom
 * exceeds x2. */
double bayes_chi2q(double x2, unsigned v);

/* Scope names; false when the value is empty or too long. */
bool bayes_scope_domain(const char *domain, char *out, size_t outlen);
bool bayes_scope_user(const char *address, char *out, size_t outlen);

/* ---- Redis ---- */
/* Learned message counts of n scopes and, when scheme is not NULL, the scheme marker
 * of each (bayes_scheme_mark; 0: nothing learned; 1: counts from before the scheme
 * was recorded). One pipelined round trip. */
bool bayes_scope_counts(redisContext *c, const char *const *scopes, size_t n, uint64_t *spam,
                        uint64_t *ham, unsigned *scheme, char *err, size_t errlen);
/* Counts of n tokens in a scope (one pipelined round trip). */
bool bayes_fetch(redisContext *c, const char *scope, const uint64_t *tok, size_t n,
                 bayes_count *out, char *err, size_t errlen);

typedef enum {
    BAYES_LEARNED, /* new message: counted */
    BAYES_ALREADY, /* learned before as this class: nothing changed */
    BAYES_MOVED, /* learned before as the other class: moved to this one */
} bayes_learn_result;

/* Learns a message (its digest and tokens, made with the scheme marker mark) into a
 * scope as spam or ham. Fails with a clear error, changing nothing, when the scope
 * holds counts of another marker (another scheme or OSB window). */
bool bayes_store(redisContext *c, const char *scope, const char *digest_hex, bool spam,
                 const uint64_t *tok, size_t n, unsigned mark, bayes_learn_result *res, char *err,
                 size_t errlen);
const char *bayes_learn_result_name(bayes_learn_result r);

#endif
