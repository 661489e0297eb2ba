/* dict.c - separate-chaining hash table with a seeded FNV-1a hash.
 *
 * The seed comes from getrandom() at creation, so a peer choosing job ids cannot
 * aim them at one bucket. The table doubles when the load passes 1. Iteration
 * walks buckets in order with a cursor (bucket index << 16 | entries left in chain). */
#include "dict.h"
#include "log.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    void *value;
    char key[];
} entry;

struct dict {
    entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    uint64_t seed;
};

static uint64_t hash_key(const dict *d, const char *k)
{
    uint64_t h = 1469598103934665603ULL ^ d->seed;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

dict *dict_new(void)
{
    dict *d = xcalloc(1, sizeof *d);
    d->nbuckets = 64;
    d->buckets = xcalloc(d->nbuckets, sizeof *d->buckets);
    if (getrandom(&d->seed, sizeof d->seed, GRND_NONBLOCK) != sizeof d->seed)
        d->seed = (uint64_t)(uintptr_t)d ^ mono_us();
    return d;
}

void dict_destroy(dict **dp, void (*free_value)(void *))
{
    dict *d = *dp;
    if (!d)
        return;
    for (size_t i = 0; i < d->nbuckets; i++) {
        entry *e = d->buckets[i];
        while (e) {
            entry *n = e->next;
            if (free_value)
                free_value(e->value);
            free(e);
            e = n;
        }
    }
    free(d->buckets);
    free(d);
    *dp = NULL;
}

static void grow(dict *d)
{
    size_t nb = d->nbuckets * 2;
    entry **b = xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < d->nbuckets; i++) {
        entry *e = d->buckets[i];
        while (e) {
            entry *n = e->next;
            size_t j = e->hash & (nb - 1);
            e->next = b[j];
            b[j] = e;
            e = n;
        }
    }
    free(d->buckets);
    d->buckets = b;
    d->nbuckets = nb;
}

static entry **find(const dict *d, const char *key, uint64_t h)
{
    entry **pp = &d->buckets[h & (d->nbuckets - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

void *dict_set(dict *d, const char *key, void *value)
{
    uint64_t h = hash_key(d, key);
    entry **pp = find(d, key, h);
    if (*pp) {
        void *old = (*pp)->value;
        (*pp)->value = value;
        return old;
    }
    size_t kl = strlen(key);
    entry *e = xmalloc(sizeof *e + kl + 1);
    memcpy(e->key, key, kl + 1);
    e->hash = h;
    e->value = value;
    e->next = NULL;
    *pp = e;
    if (++d->count > d->nbuckets)
        grow(d);
    return NULL;
}

void *dict_get(const dict *d, const char *key)
{
    entry **pp = find(d, key, hash_key(d, key));
    return *pp ? (*pp)->value : NULL;
}

void *dict_xget(const dict *d, const char *key)
{
    void *v = dict_get(d, key);
    if (!v)
        log_panic("dict_xget: missing key '%s'", key);
    return v;
}

void *dict_del(dict *d, const char *key)
{
    entry **pp = find(d, key, hash_key(d, key));
    entry *e = *pp;
    if (!e)
        return NULL;
    void *v = e->value;
    *pp = e->next;
    free(e);
    d->count--;
    return v;
}

size_t dict_size(const dict *d)
{
    return d->count;
}

void *dict_next(const dict *d, size_t *it, const char **key)
{
    /* The cursor is (bucket << 16 | r): r is 0 before a bucket's first entry, else 1 +
     * the number of entries after the one returned last. Counting what is left, not
     * what was seen, keeps the place when that entry is deleted: the chain shortens
     * before the cursor, and the entries still to visit are untouched. */
    size_t b = *it >> 16, r = *it & 0xffff;
    for (; b < d->nbuckets; b++, r = 0) {
        size_t len = 0;
        for (const entry *e = d->buckets[b]; e; e = e->next)
            len++;
        size_t idx = r == 0 ? 0 : r - 1 <= len ? len - (r - 1) : len;
        if (idx >= len)
            continue;
        entry *e = d->buckets[b];
        for (size_t i = 0; i < idx; i++)
            e = e->next;
        *it = (b << 16) | (len - idx);
        if (key)
            *key = e->key;
        return e->value;
    }
    *it = d->nbuckets << 16;
    return NULL;
}
