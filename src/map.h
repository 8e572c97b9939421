/* map.h - a string-keyed hash table (chained, power-of-two buckets).
 *
 * Keys are copied; values are borrowed pointers the caller owns.  Lookups
 * take (pointer, length) so a prefix of a longer string can be looked up
 * without copying it - the bus does that for prefix subscriptions.
 */
#ifndef SB_MAP_H
#define SB_MAP_H

#include <stddef.h>
#include <stdint.h>

struct map_entry {
	struct map_entry *next;
	uint64_t hash;
	size_t keylen;
	void *value;
	char key[];            /* NUL-terminated copy */
};

struct map {
	struct map_entry **buckets;
	size_t n_buckets;      /* 0 or a power of two */
	size_t count;
};

/* Value for key, or NULL. */
void *map_get(const struct map *m, const char *key, size_t keylen);
/* Insert or replace; returns the previous value or NULL. */
void *map_put(struct map *m, const char *key, size_t keylen, void *value);
/* Remove; returns the removed value or NULL. */
void *map_remove(struct map *m, const char *key, size_t keylen);
/* Calls fn for every entry; fn must not modify the map. */
void map_each(const struct map *m, void (*fn)(const char *key, void *value, void *ctx), void *ctx);
/* Frees the table (not the values). */
void map_clear(struct map *m);

#endif
