/* arena.c - a bump allocator over a chain of chunks, plus deferred destructors.
 *
 * Requests larger than a quarter chunk get a chunk of their own, so one large
 * decode does not waste the remainder of the current chunk. */
#include "arena.h"
#include "util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk {
    struct chunk *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
} chunk;

typedef struct deferred {
    struct deferred *next;
    void (*fn)(void *);
    void *arg;
} deferred;

struct arena {
    chunk *head;
    size_t chunk_size;
    deferred *defers;
};

arena *arena_new(size_t chunk_size)
{
    arena *a = xcalloc(1, sizeof *a);
    a->chunk_size = chunk_size ? chunk_size : 8192;
    return a;
}

void arena_destroy(arena **ap)
{
    arena *a = *ap;
    if (!a)
        return;
    for (deferred *d = a->defers; d;) {
        deferred *n = d->next;
        d->fn(d->arg);
        d = n;
    }
    for (chunk *c = a->head; c;) {
        chunk *n = c->next;
        free(c);
        c = n;
    }
    free(a);
    *ap = NULL;
}

void *arena_alloc(arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > a->chunk_size / 4) {
        chunk *c = xmalloc(sizeof *c + n);
        c->used = c->size = n;
        if (a->head) { /* keep the current chunk in front for small requests */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = NULL;
            a->head = c;
        }
        return c->data;
    }
    if (!a->head || a->head->size - a->head->used < n) {
        chunk *c = xmalloc(sizeof *c + a->chunk_size);
        c->used = 0;
        c->size = a->chunk_size;
        c->next = a->head;
        a->head = c;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void arena_defer(arena *a, void (*fn)(void *), void *arg)
{
    deferred *d = arena_alloc(a, sizeof *d);
    d->fn = fn;
    d->arg = arg;
    d->next = a->defers;
    a->defers = d;
}
