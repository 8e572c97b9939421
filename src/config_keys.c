/* config_keys.c - the key-table engine: key paths, one-line errors, type
 * and range checks, "did you mean" hints (see config_keys.h). */
#include "config_keys.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Appends to c->path, truncating quietly (messages stay one line). */
static void path_appendf(struct ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void path_appendf(struct ctx *c, const char *fmt, ...)
{
	if (c->plen >= sizeof(c->path) - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->path + c->plen, sizeof(c->path) - c->plen, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->plen += (size_t)n;
	if (c->plen > sizeof(c->path) - 1)
		c->plen = sizeof(c->path) - 1;
}

static bool is_ident(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(*s == '_' || *s == '-' || *s == '$' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return false;
	return true;
}

/* Push ".key" (or `["key"]` for keys like "/"); returns the length to pop to. */
size_t keys_push(struct ctx *c, const char *key)
{
	size_t old = c->plen;
	if (is_ident(key))
		path_appendf(c, "%s%s", c->plen ? "." : "", key);
	else
		path_appendf(c, "[\"%s\"]", key);
	return old;
}

size_t keys_push_index(struct ctx *c, size_t i)
{
	size_t old = c->plen;
	path_appendf(c, "[%zu]", i);
	return old;
}

void keys_pop(struct ctx *c, size_t len)
{
	c->plen = len;
	c->path[len] = '\0';
}

void keys_set_path(struct ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void keys_set_path(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->path, sizeof(c->path), fmt, ap);
	va_end(ap);
	c->plen = n < 0 ? 0 : (size_t)n < sizeof(c->path) ? (size_t)n : sizeof(c->path) - 1;
}

/* "SOURCE: PATH: message" into c->err; always returns -1. */
int keys_reject(struct ctx *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->err && c->errlen) {
		if (c->plen)
			snprintf(c->err, c->errlen, "%s: %s: %s", c->source, c->path, msg);
		else
			snprintf(c->err, c->errlen, "%s: %s", c->source, msg);
		for (char *s = c->err; *s; s++)    /* keys may hold "\n": one line */
			if ((unsigned char)*s < 0x20)
				*s = '?';
	}
	return -1;
}

/* ---- tables ------------------------------------------------------------- */



static unsigned type_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING: return T_STR;
	case JSON_INTEGER: return T_INT;
	case JSON_REAL: return T_REAL;
	case JSON_TRUE:
	case JSON_FALSE: return T_BOOL;
	case JSON_OBJECT: return T_OBJ;
	case JSON_ARRAY: return T_ARR;
	case JSON_NULL: return T_NULL;
	}
	return 0;
}

/* "a string or an integer" for a T_* mask. */
static void types_text(unsigned types, char *out, size_t n)
{
	static const struct { unsigned t; const char *name; } names[] = {
		{T_STR, "a string"}, {T_NUM, "a number"}, {T_INT, "an integer"},
		{T_REAL, "a number"}, {T_BOOL, "a boolean"}, {T_OBJ, "an object"},
		{T_ARR, "an array"}, {T_NULL, "null"},
	};
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((types & names[i].t) != names[i].t)
			continue;
		types &= ~names[i].t;
		int w = snprintf(out + len, n - len, "%s%s", len ? " or " : "", names[i].name);
		if (w < 0 || (size_t)w >= n - len)
			return;
		len += (size_t)w;
	}
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return SIZE_MAX;
	size_t row[64];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static int unknown_key(struct ctx *c, const char *key, const struct field *table)
{
	const char *best = NULL;
	size_t best_d = 3;         /* suggest only close misspellings */
	for (const struct field *f = table; f->key; f++) {
		size_t d = edit_distance(key, f->key);
		if (d < best_d && d < strlen(f->key)) {
			best_d = d;
			best = f->key;
		}
	}
	if (best)
		return keys_reject(c, "unknown key \"%s\" (did you mean \"%s\"?)", key, best);
	return keys_reject(c, "unknown key \"%s\"", key);
}

void keys_defaults(const struct field *table, void *obj)
{
	for (const struct field *f = table; f->key; f++) {
		char *at = (char *)obj + f->off;
		switch (f->store) {
		case S_NONE: break;
		case S_BOOL: *(bool *)at = f->def != 0; break;
		case S_INT: *(int *)at = (int)f->def; break;
		case S_SIZE: *(size_t *)at = (size_t)f->def; break;
		case S_LONG: *(long *)at = (long)f->def; break;
		}
	}
}

/* Check every key of o against table (unknown key, type, handler), then
 * the required keys.  c->path names o. */
int keys_parse_object(struct ctx *c, json_t *o, const struct field *table, void *obj)
{
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v) {
		const struct field *f = table;
		while (f->key && strcmp(f->key, key) != 0)
			f++;
		if (!f->key)
			return unknown_key(c, key, table);
		size_t mark = keys_push(c, key);
		unsigned t = type_of(v);
		if (!(t & f->types)) {
			char want[96], got[32];
			types_text(f->types, want, sizeof(want));
			types_text(t, got, sizeof(got));
			return keys_reject(c, "expected %s, not %s", want, got);
		}
		if (f->sub && keys_parse_object(c, v, f->sub, obj) < 0)
			return -1;
		if (f->fn && f->fn(c, v, obj, f) < 0)
			return -1;
		keys_pop(c, mark);
	}
	for (const struct field *f = table; f->key; f++)
		if (f->required && !json_object_get(o, f->key))
			return keys_reject(c, "missing required key \"%s\"", f->key);
	return 0;
}

int keys_store(struct ctx *c, json_t *v, void *obj, const struct field *f)
{
	char *at = (char *)obj + f->off;
	if (f->store == S_BOOL) {
		*(bool *)at = json_is_true(v);
		return 0;
	}
	long long n;
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (!(d >= (double)f->min && d <= (double)f->max))
			return keys_reject(c, "%g is out of range (%lld..%lld)", d, f->min, f->max);
		n = (long long)(d < 0 ? d - 0.5 : d + 0.5);   /* round half away */
	} else {
		n = json_integer_value(v);
		if (n < f->min || n > f->max)
			return keys_reject(c, "%lld is out of range (%lld..%lld)", n, f->min, f->max);
	}
	switch (f->store) {
	case S_INT: *(int *)at = (int)n; break;
	case S_SIZE: *(size_t *)at = (size_t)n; break;
	case S_LONG: *(long *)at = (long)n; break;
	default: break;
	}
	return 0;
}

/* Replaces *dst with a copy of v's string; refuses "". */
int keys_take_string(struct ctx *c, json_t *v, char **dst)
{
	const char *s = json_string_value(v);
	if (!*s)
		return keys_reject(c, "must not be empty");
	free(*dst);
	*dst = xstrdup(s);
	return 0;
}

/* The "type" of a discriminated object: required, a string. */
int keys_get_type(struct ctx *c, json_t *o, const char **type)
{
	json_t *t = json_object_get(o, "type");
	if (!t)
		return keys_reject(c, "missing required key \"type\"");
	if (!json_is_string(t)) {
		keys_push(c, "type");
		return keys_reject(c, "expected a string");
	}
	*type = json_string_value(t);
	return 0;
}

int keys_expect_object(struct ctx *c, json_t *v)
{
	if (json_is_object(v))
		return 0;
	char got[32];
	types_text(type_of(v), got, sizeof(got));
	return keys_reject(c, "expected an object, not %s", got);
}

/* Every element of array v must be a string (optionally from allowed[]). */
int keys_string_array(struct ctx *c, json_t *v, const char *const *allowed)
{
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		size_t mark = keys_push_index(c, i);
		if (!json_is_string(e))
			return keys_reject(c, "expected a string");
		if (allowed) {
			const char *const *a = allowed;
			while (*a && strcmp(*a, json_string_value(e)) != 0)
				a++;
			if (!*a)
				return keys_reject(c, "unknown value \"%s\"", json_string_value(e));
		}
		keys_pop(c, mark);
	}
	return 0;
}

/* Absolute path: p as is if absolute, else CBDIR/p. */
char *keys_resolve(const struct ctx *c, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	if (!*p || !strcmp(p, "."))
		return xstrdup(c->cfg->cbdir);
	if (!strcmp(c->cfg->cbdir, "/"))
		return xasprintf("/%s", p);
	return xasprintf("%s/%s", c->cfg->cbdir, p);
}


int keys_match(struct ctx *c, json_t *v, enum uri_match *out)
{
	int m = uri_match_parse(json_string_value(v));
	if (m < 0)
		return keys_reject(c, "unknown match \"%s\" (use \"exact\", \"prefix\" or \"wildcard\")",
			    json_string_value(v));
	*out = (enum uri_match)m;
	return 0;
}

/* Crossbar expands ${VAR} in a ticket and a wampcra secret; we do it for
 * every secret (JWT, signing, webhook), so none has to sit in the file. */
int keys_take_secret(struct ctx *c, json_t *v, char **dst)
{
	const char *s = json_string_value(v);
	size_t len = strlen(s);
	if (len > 3 && s[0] == '$' && s[1] == '{' && s[len - 1] == '}') {
		char *name = xstrndup(s + 2, len - 3);
		const char *value = getenv(name);
		int rc = 0;
		if (!value || !*value) {
			rc = keys_reject(c, "environment variable %s is not set", name);
		} else {
			free(*dst);
			*dst = xstrdup(value);
		}
		free(name);
		return rc;
	}
	return keys_take_string(c, v, dst);
}
