/* dict.h - a string-keyed hash table of opaque pointers.
 *
 * Keys are copied; values are owned by the caller. dict_get() returns NULL when
 * the key is missing; dict_xget() treats a missing key as a broken invariant. */
#ifndef BW_DICT_H
#define BW_DICT_H

#include <stddef.h>

typedef struct dict dict;

dict *dict_new(void);
/* Frees the table and its keys; calls free_value on each value if not NULL. */
void dict_destroy(dict **d, void (*free_value)(void *));
/* Inserts or replaces; returns the previous value or NULL. */
void *dict_set(dict *d, const char *key, void *value);
void *dict_get(const dict *d, const char *key);
void *dict_xget(const dict *d, const char *key);
/* Removes and returns the value, NULL if absent. */
void *dict_del(dict *d, const char *key);
size_t dict_size(const dict *d);

/* Iteration: while ((v = dict_next(d, &it, &key))) ...; it starts at 0.
 * The table must not change while iterating except by dict_del of the current key. */
void *dict_next(const dict *d, size_t *it, const char **key);

#endif
