/* map.c - chained hash table with string keys (see map.h). */
#include "map.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static struct map_entry **slot(const struct map *m, const char *key, size_t keylen, uint64_t h)
{
	struct map_entry **e = &m->buckets[h & (m->n_buckets - 1)];
	for (; *e; e = &(*e)->next)
		if ((*e)->hash == h && (*e)->keylen == keylen && !memcmp((*e)->key, key, keylen))
			break;
	return e;
}

void *map_get(const struct map *m, const char *key, size_t keylen)
{
	if (!m->n_buckets)
		return NULL;
	struct map_entry *e = *slot(m, key, keylen, hash_bytes(key, keylen));
	return e ? e->value : NULL;
}

static void grow(struct map *m)
{
	size_t n = m->n_buckets ? m->n_buckets * 2 : 16;
	struct map_entry **b = xcalloc(n, sizeof *b);
	for (size_t i = 0; i < m->n_buckets; i++) {
		for (struct map_entry *e = m->buckets[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = n;
}

void *map_put(struct map *m, const char *key, size_t keylen, void *value)
{
	if (m->count >= m->n_buckets)
		grow(m);
	uint64_t h = hash_bytes(key, keylen);
	struct map_entry **e = slot(m, key, keylen, h);
	if (*e) {
		void *old = (*e)->value;
		(*e)->value = value;
		return old;
	}
	struct map_entry *n = xmalloc(sizeof *n + keylen + 1);
	n->next = NULL;
	n->hash = h;
	n->keylen = keylen;
	n->value = value;
	memcpy(n->key, key, keylen);
	n->key[keylen] = '\0';
	*e = n;
	m->count++;
	return NULL;
}

void *map_remove(struct map *m, const char *key, size_t keylen)
{
	if (!m->n_buckets)
		return NULL;
	struct map_entry **e = slot(m, key, keylen, hash_bytes(key, keylen));
	if (!*e)
		return NULL;
	struct map_entry *dead = *e;
	void *value = dead->value;
	*e = dead->next;
	free(dead);
	m->count--;
	return value;
}

void map_each(const struct map *m, void (*fn)(const char *key, void *value, void *ctx), void *ctx)
{
	for (size_t i = 0; i < m->n_buckets; i++)
		for (struct map_entry *e = m->buckets[i]; e; e = e->next)
			fn(e->key, e->value, ctx);
}

void map_clear(struct map *m)
{
	for (size_t i = 0; i < m->n_buckets; i++) {
		for (struct map_entry *e = m->buckets[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->buckets);
	memset(m, 0, sizeof *m);
}
