/* fuzzy.h - near-duplicate detection: min-hash signatures of a message's visible text,
 * learned in Redis for the whole cluster.
 *
 * A signature is FUZZY_K 64-bit minimums, one per hash function, over the hashes of
 * every run of FUZZY_SHINGLE consecutive normalised words. Two texts agree on a
 * position with a probability equal to the Jaccard similarity of their shingle sets,
 * so the fraction of equal positions estimates how much text they share: a campaign
 * whose names, numbers and links change between copies still agrees on most of them.
 * Learning stores one Redis key per position (bw:fz:<i>:<hex> for spam, bw:fzh:<i>:<hex>
 * for ham), so a lookup is one MGET.
 */
#ifndef BW_FUZZY_H
#define BW_FUZZY_H

#include "params.h"
#include "util.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FUZZY_K 32 /* positions in a signature */
#define FUZZY_SHINGLE 3 /* words per shingle */
#define FUZZY_MIN_WORD 3 /* shorter words (in characters) are dropped */
#define FUZZY_MAX_TEXT (512 * 1024) /* bytes of text read; the rest is ignored */

typedef struct {
    uint64_t h[FUZZY_K];
    size_t words; /* normalised words the signature was built from */
} fuzzy_sig;

typedef enum { FUZZY_SPAM, FUZZY_HAM } fuzzy_class;

typedef enum {
    FUZZY_OK, /* learned, or looked up (see the match) */
    FUZZY_SKIPPED, /* too little text to hash: nothing learned or looked up */
    FUZZY_ERROR, /* Redis unset, down or answering nonsense: err says which */
} fuzzy_status;

typedef struct {
    size_t min_words; /* fewer normalised words: not hashed */
    int64_t ttl_s; /* how long a learned signature lives */
} fuzzy_opts;

typedef struct {
    unsigned spam; /* positions that match learned spam */
    unsigned ham; /* positions that match learned ham */
    double similarity; /* spam / FUZZY_K */
    char campaign[17]; /* the learned signature most positions point to (hex), or "" */
} fuzzy_match;

/* The defaults of the check.fuzzy parameters, and those parameters read from a
 * cluster configuration. */
void fuzzy_opts_default(fuzzy_opts *o);
void fuzzy_opts_from_params(const params *cfg, fuzzy_opts *o);

/* Appends the normalised words of text to out, separated by single spaces: lower
 * case, runs of letters and digits (every digit folded to '0', so changed numbers
 * still match), words shorter than FUZZY_MIN_WORD characters dropped. Invalid UTF-8
 * separates words. Returns the number of words. */
size_t fuzzy_normalize(const char *text, size_t len, buf_t *out);
/* The signature of text; false (and *out untouched) with fewer than min_words
 * normalised words (at least FUZZY_SHINGLE are always needed). */
bool fuzzy_signature(const char *text, size_t len, size_t min_words, fuzzy_sig *out);
/* Fraction of positions two signatures share, 0..1. */
double fuzzy_similarity(const fuzzy_sig *a, const fuzzy_sig *b);
/* A short name for a signature (16 hex digits): the campaign id in details. */
void fuzzy_sig_id(const fuzzy_sig *s, char out[17]);

/* ---- Redis, on a given connection (one pipelined round trip each) ---- */
/* Stores every position of the signature as `cls` for ttl_s seconds (spam also
 * removes this signature's own ham marks; ham leaves learned spam in place). */
bool fuzzy_store(redisContext *rc, const fuzzy_sig *s, fuzzy_class cls, int64_t ttl_s, char *err,
                 size_t errlen);
/* Reads the positions, spam and ham, in one MGET into m. */
bool fuzzy_lookup(redisContext *rc, const fuzzy_sig *s, fuzzy_match *m, char *err, size_t errlen);

/* ---- the same on this thread's connection to the process's Redis (redisx.h) ---- */
/* Learns text as spam or ham (the learning path and `bulwarkctl fuzzy learn`).
 * opts NULL: the defaults. */
fuzzy_status fuzzy_learn_opts(const char *text, size_t len, fuzzy_class cls, const fuzzy_opts *o,
                              char *err, size_t errlen);
fuzzy_status fuzzy_learn(const char *text, size_t len, fuzzy_class cls, char *err, size_t errlen);
/* The same for a whole raw message: its visible text (msg_text) is learned. */
fuzzy_status fuzzy_learn_message(const uint8_t *raw, size_t len, fuzzy_class cls,
                                 const fuzzy_opts *o, char *err, size_t errlen);
/* Looks text up; on FUZZY_OK *m says how much of it matches learned spam and ham.
 * A match counts when m->similarity reaches the threshold and m->spam > m->ham
 * (fuzzy_is_spam). */
fuzzy_status fuzzy_check(const char *text, size_t len, const fuzzy_opts *o, fuzzy_match *m,
                         char *err, size_t errlen);

/* The match says spam: enough positions, and closer to learned spam than to ham. */
bool fuzzy_is_spam(const fuzzy_match *m, double threshold);

#endif
