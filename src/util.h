/* util.h - allocation that never returns NULL, and small string helpers. */
#ifndef SB_UTIL_H
#define SB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Allocators that abort with a message on out-of-memory, so error paths
 * are left for real errors (as Redis' zmalloc). */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* New string from a printf format; free() it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Milliseconds since the epoch (wall clock) and monotonic nanoseconds. */
int64_t now_ms(void);
uint64_t mono_ns(void);

/* Growable byte buffer. */
struct buf {
	char *data;
	size_t len, cap;
};
void buf_append(struct buf *b, const void *p, size_t n);
void buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);
/* Appends the whole file at path to b.  0, or -1 with errno set. */
int buf_read_file(struct buf *b, const char *path);

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if the bytes there
 * are not one (truncated, overlong, surrogate, above U+10FFFF). */
size_t utf8_sequence(const unsigned char *s, size_t avail);
/* True if s[0..n) is entirely valid UTF-8. */
bool utf8_valid(const char *s, size_t n);

struct sockaddr;
/* "127.0.0.1:5555" or "[::1]:5555" into out (always terminated). */
void format_peer(const struct sockaddr *addr, char *out, size_t size);

/* FNV-1a over n bytes; the hash of every table in the gateway. */
uint64_t hash_bytes(const void *p, size_t n);

#endif
