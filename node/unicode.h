/* unicode.h - lookalike text: mixed scripts, confusable skeletons, IDNA hosts, and
 * RFC 2047 encoded words, for the header check's impersonation symbols.
 *
 * A uni_checker is ICU's spoof checker (UTS #39) configured once: restriction level
 * MODERATELY_RESTRICTIVE (one script per word, Latin may mix with any script except
 * Cyrillic, Greek and Cherokee) plus the mixed-script-confusable test. After
 * uni_checker_new() it is only read: ICU documents the check and skeleton functions
 * on a const USpoofChecker as safe to call from many threads at once, so one checker
 * per configuration generation serves every worker without a lock.
 *
 * Text is UTF-8 throughout; invalid bytes are tolerated (they never match), never
 * trusted. */
#ifndef BW_UNICODE_H
#define BW_UNICODE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct uni_checker uni_checker;

/* NULL with a reason in err when ICU has no spoof data. */
uni_checker *uni_checker_new(char *err, size_t errlen);
void uni_checker_destroy(uni_checker **u);

/* True when one word of utf8 mixes scripts the restriction level refuses (Latin with
 * Cyrillic in "PаyPal") or is a mixed-script confusable. Words are runs of letters,
 * digits and marks, split at anything else ('.' and '-' too), so "Re: Привет", a
 * Russian subject naming "Amazon" or "PDF-файл" is not mixed. The first offending
 * word is copied into word (may be NULL). */
bool uni_mixed_script(const uni_checker *u, const char *utf8, char *word, size_t wordlen);

/* The UTS #39 skeleton of the case-folded text: two strings with the same skeleton
 * look alike ("раураl.com", "paypa1.com" and "PayPal.com" all give the skeleton of
 * "paypal.com"). False (out = "") on invalid UTF-8 or when out is too small. */
bool uni_skeleton(const uni_checker *u, const char *utf8, char *out, size_t outlen);

/* True when a and b look alike (same skeleton) but are different text after case
 * folding: the shape of a lookalike. Equal strings are not confusable. */
bool uni_confusable(const uni_checker *u, const char *a, const char *b);

/* True when a label is written entirely in non-Latin letters that all look like
 * Latin ones (Cyrillic "аррӏе"), the whole-script homograph browsers refuse to show
 * in Unicode. */
bool uni_whole_script_latin_lookalike(const uni_checker *u, const char *label);

/* The Unicode form of a host (libidn2, IDNA 2008 with transitional fallback), lower
 * case, into out. A host without xn-- labels is copied. False when a punycode label
 * does not decode (out then holds the host as written). */
bool uni_idna_to_unicode(const char *host, char *out, size_t outlen);

/* What uni_decode_2047 saw. */
typedef struct {
    unsigned words; /* encoded words decoded */
    unsigned malformed; /* "=?charset?X?" that did not decode: unknown encoding letter,
                           bad base64/QP, unknown charset, no closing "?=" */
    unsigned b64_ascii; /* B-encoded words whose bytes are all printable ASCII */
    unsigned controls; /* decoded control characters (C0 but TAB, DEL, C1) and bidi
                          overrides (U+202A-202E, U+2066-2069), each replaced by '?' */
    char bad[80]; /* the first malformed word, as written (cut) */
} uni_2047_info;

/* Decodes the RFC 2047 encoded words of an unstructured text into UTF-8 (charsets
 * converted with ICU), dropping the white space between adjacent encoded words
 * (RFC 2047 6.2). Text outside encoded words and malformed words are copied as
 * written. out is always NUL-terminated (cut at outlen); returns its length. info may
 * be NULL. */
size_t uni_decode_2047(const char *in, char *out, size_t outlen, uni_2047_info *info);

#endif
