/* config_keys.h - the key-table engine behind config.c (internal).
 *
 * Each kind of config object is a table of fields {key, accepted JSON
 * types, handler or generic store, range, default}.  keys_parse_object()
 * walks an object against its table: an unknown key, a wrong type, a value
 * out of range or a missing required key becomes one message naming the
 * key path ("workers[0].transports[1].paths.sse.options: unknown key
 * \"hearbeat\" (did you mean \"heartbeat\"?)").  Only config.c uses it.
 */
#ifndef SB_CONFIG_KEYS_H
#define SB_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config.h"

#define MIB (1024LL * 1024)

/* ---- parse context and key paths --------------------------------------- */

struct where {                 /* where an object came from, for messages */
	size_t worker, index;
};

struct ctx {
	struct sb_config *cfg;
	const char *source;        /* borrowed: file name for messages */
	char *err;                 /* caller's buffer */
	size_t errlen;
	char path[512];            /* "workers[0].transports[1].paths.sse" */
	size_t plen;
	size_t worker;             /* index of the worker being parsed */
	struct where *realm_at;    /* parallel to cfg->realms */
	struct where *transport_at; /* parallel to cfg->transports */
};

enum {
	T_STR = 1 << 0,
	T_INT = 1 << 1,
	T_REAL = 1 << 2,
	T_BOOL = 1 << 3,
	T_OBJ = 1 << 4,
	T_ARR = 1 << 5,
	T_NULL = 1 << 6,
	T_NUM = T_INT | T_REAL,
	T_ANY = 0x7f,
};

enum store {                   /* what a generic field writes at .off */
	S_NONE,
	S_BOOL,                /* bool */
	S_INT,                 /* int, range-checked (reals rounded if allowed) */
	S_SIZE,                /* size_t, range-checked */
	S_LONG,                /* long, range-checked */
};

struct field;
typedef int (*field_fn)(struct ctx *c, json_t *v, void *obj, const struct field *f);

struct field {
	const char *key;
	unsigned types;            /* T_* mask the value must have */
	field_fn fn;               /* NULL: accepted and ignored */
	bool required;
	enum store store;          /* generic fields: where and how to store */
	size_t off;
	long long min, max, def;   /* range and default (applied before parsing) */
	const struct field *sub;   /* an object whose keys fill the same struct */
};

#define F(k, t)                 {.key = (k), .types = (t)}
#define FN(k, t, h)             {.key = (k), .types = (t), .fn = (h)}
#define REQ(k, t, h)            {.key = (k), .types = (t), .fn = (h), .required = true}
#define STORE_FN(k, t, h, s, st, m, lo, hi, d) \
	{.key = (k), .types = (t), .fn = (h), .store = (s), \
	 .off = offsetof(st, m), .min = (lo), .max = (hi), .def = (d)}
#define STORE(k, t, s, st, m, lo, hi, d) STORE_FN(k, t, keys_store, s, st, m, lo, hi, d)
#define BOOL(k, st, m, d)       STORE(k, T_BOOL, S_BOOL, st, m, 0, 1, d)
#define INT(k, st, m, lo, hi, d)  STORE(k, T_INT, S_INT, st, m, lo, hi, d)
#define SIZE(k, st, m, lo, hi, d) STORE(k, T_INT, S_SIZE, st, m, lo, hi, d)
#define LONG(k, st, m, lo, hi, d) STORE(k, T_INT, S_LONG, st, m, lo, hi, d)
#define SUB(k, table)           {.key = (k), .types = T_OBJ, .sub = (table)}
#define SUBREQ(k, table)        {.key = (k), .types = T_OBJ, .sub = (table), .required = true}
#define END                     {.key = NULL}

/* Key paths: push a key or an index, pop back to a mark. */
size_t keys_push(struct ctx *c, const char *key);
size_t keys_push_index(struct ctx *c, size_t i);
void keys_pop(struct ctx *c, size_t mark);
void keys_set_path(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "SOURCE: PATH: message" to the caller's buffer; returns -1. */
int keys_reject(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets every table default in obj (before parsing, so absent keys have them). */
void keys_defaults(const struct field *table, void *obj);
/* Checks object o against table and runs its handlers on obj. 0 or -1. */
int keys_parse_object(struct ctx *c, json_t *o, const struct field *table, void *obj);
/* The generic handler: stores a bool or a range-checked number at f->off. */
int keys_store(struct ctx *c, json_t *v, void *obj, const struct field *f);

/* Helpers for handlers; each returns 0 or -1 after keys_reject(). */
int keys_take_string(struct ctx *c, json_t *v, char **dst);   /* copy; "" refused */
int keys_take_secret(struct ctx *c, json_t *v, char **dst);   /* the same, ${VAR} expanded */
int keys_get_type(struct ctx *c, json_t *o, const char **type);
int keys_expect_object(struct ctx *c, json_t *v);
int keys_string_array(struct ctx *c, json_t *v, const char *const *allowed);
/* p resolved against the config's directory; new string. */
char *keys_resolve(const struct ctx *c, const char *p);
/* "exact", "prefix" or "wildcard" into *out. */
int keys_match(struct ctx *c, json_t *v, enum uri_match *out);

/* ---- config_auth.c: a path's "auth" object -------------------------------- */

int config_path_auth(struct ctx *c, json_t *v, void *obj, const struct field *f);
void config_free_auth(struct sb_auth *auth);

/* ---- config_components.c: container workers and router components ------- */

int config_router_components(struct ctx *c, json_t *v, void *obj, const struct field *f);
int config_container_components(struct ctx *c, json_t *v, void *obj, const struct field *f);
/* After the whole file: roles, realms and permissions the components need. */
int config_check_components(struct ctx *c);
void config_free_components(struct sb_config *cfg);

#endif
