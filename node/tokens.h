/* tokens.h - the features the Bayes classifier counts: 64-bit token hashes.
 *
 * tok_extract() turns a parsed message (node/message.h) and its header block
 * (shared/hdr.h) into a sorted set of distinct 64-bit hashes:
 *   - body words (msg_text): maximal runs of Unicode letters/digits, lower-cased,
 *     2..40 code points, pure numbers skipped; longer runs become "LONG:<len>/<first 6>";
 *   - Subject words ("S:" prefix, RFC 2047 decoded);
 *   - with an OSB window w (2..TOK_OSB_MAX; 0: none, the default since token scheme
 *     2), the orthogonal sparse bigrams of the body words and of the Subject words:
 *     each word paired with each of the w-1 words before it, the distance part of the
 *     pair's hash (tok_pair);
 *   - header features: "F:" From domain, "FN:" From display-name words, "R:"
 *     Reply-To domain, "M:" X-Mailer or User-Agent (digits folded to '#'), "I:"
 *     Message-ID domain, "L:list" when List-Id is present, "HN:" the name of every
 *     header field present, "RH:" registrable domains of the Received chain's hosts,
 *     "H:rcvd:<shape>" of the first Received "from" host, "CT:" each part's declared
 *     Content-Type and "CS:" charset; shapes (digits '#', letters 'a', runs folded)
 *     of the Message-ID local part "IL:", the Date "D:" and the From local part
 *     "FL:"; "CTE:" the top-level transfer encoding; "TO:" how many To addresses;
 *   - "U:" registrable domain of every URL host, "UH:" the whole host, "UP:" its
 *     scheme and the alphanumeric pieces of its path and query (digits '#');
 *     "A:" the detected type of every non-text part.
 * The hash is FNV-1a 64 over the token bytes finished with MurmurHash3's fmix64
 * (FNV alone mixes the high bits poorly; Redis keys are bucketed by the high bits).
 * It is a fixed, unkeyed function: tokens learned by one build must match the
 * next. Pure: no global state, no I/O. */
#ifndef BW_TOKENS_H
#define BW_TOKENS_H

#include "hdr.h"
#include "message.h"

#include <stddef.h>
#include <stdint.h>

#define TOK_MAX_DEFAULT 1000
#define TOK_WORD_MIN 2
#define TOK_WORD_MAX 40
#define TOK_OSB_MAX 5 /* the widest OSB window */

/* The hash of one token (the bytes as given). */
uint64_t tok_hash(const char *s, size_t n);
/* The hash of an OSB pair: word hash a, then word hash b `dist` words later. */
uint64_t tok_pair(uint64_t a, uint64_t b, unsigned dist);

/* Every token of the message, sorted ascending, distinct, at most max (0: the
 * default), with the OSB pairs of window osb_window (below 2: none; above
 * TOK_OSB_MAX: TOK_OSB_MAX). Returns a malloc'd array (free() it; NULL when n is 0)
 * and its size in *n. h may be NULL (no header tokens). */
uint64_t *tok_extract(const msg_model *m, const hdr_block *h, size_t max, unsigned osb_window,
                      size_t *n);

/* The words of utf8 text, each with prefix before it (e.g. "S:" or ""), then the OSB
 * pairs of each word with the osb_window - 1 words before it (osb_window below 2:
 * none), appended to *v (grown with xrealloc). For tests and for tok_extract. */
void tok_words(const char *utf8, size_t len, const char *prefix, unsigned osb_window, uint64_t **v,
               size_t *n, size_t *cap);

#endif
