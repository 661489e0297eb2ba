/* util.h - allocation that never returns NULL, clocks, small string helpers.
 *
 * Allocation failure is not recoverable in a scanner: x*alloc() log and abort,
 * so call sites stay free of NULL checks (Postfix mymalloc, Redis zmalloc). */
#ifndef BW_UTIL_H
#define BW_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall clock, Unix epoch milliseconds. */
uint64_t now_ms(void);
/* Monotonic clock in milliseconds and microseconds, for timeouts and timings. */
uint64_t mono_ms(void);
uint64_t mono_us(void);

/* Unix milliseconds as "YYYY-MM-DD HH:MM:SSZ" (UTC) into out (21 bytes suffice). */
void time_text(uint64_t ms, char *out, size_t n);

/* Case-insensitive ASCII prefix test. */
bool str_iprefix(const char *s, const char *prefix);
/* Strip ASCII whitespace in place at both ends; returns s. */
char *str_trim(char *s);

/* Reads a whole file; NULL with errno set on failure. *len gets the size.
 * The buffer is NUL-terminated (not counted in *len). */
char *file_read(const char *path, size_t *len);

/* A growable list of owned strings. */
typedef struct {
    char **v;
    size_t n;
} strlist;
/* Appends a copy of s. */
void strlist_add(strlist *l, const char *s);
/* Frees the strings and the list; leaves it empty and usable. */
void strlist_free(strlist *l);

/* Growable byte buffer. */
typedef struct {
    char *data;
    size_t len, cap;
} buf_t;
void buf_append(buf_t *b, const void *p, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(buf_t *b);

#endif
