/* arena.h - one allocation region per scan job, freed with the job in one call.
 *
 * Many small allocations (symbol details, header copies, result strings) live as
 * long as the job; an arena makes them one free and cannot leak one of them. */
#ifndef BW_ARENA_H
#define BW_ARENA_H

#include <stddef.h>

typedef struct arena arena;

arena *arena_new(size_t chunk);
void arena_destroy(arena **a);
void *arena_alloc(arena *a, size_t n); /* 16-byte aligned, never NULL */
char *arena_strdup(arena *a, const char *s);
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Registers a destructor for a foreign resource, run (last first) at destroy. */
void arena_defer(arena *a, void (*fn)(void *), void *arg);

#endif
