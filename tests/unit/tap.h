/* tap.h - a tiny TAP producer for the C unit tests (automake tap-driver).
 *
 *   plan(N);                      optional: prints "1..N" first
 *   ok(cond, "fmt", ...);         one test line
 *   is_str(got, want, "fmt", ...); is_int(got, want, "fmt", ...)
 *   diag("fmt", ...);             a "# ..." comment line
 *   return done_testing();        prints "1..N" if no plan; 0 if all passed
 */
#ifndef SB_TAP_H
#define SB_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int tap_run, tap_failed, tap_planned;

static void tap_vline(bool pass, const char *fmt, va_list ap)
{
	printf("%s %d - ", pass ? "ok" : "not ok", ++tap_run);
	vprintf(fmt, ap);
	putchar('\n');
	if (!pass)
		tap_failed++;
	fflush(stdout);
}

static inline void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

static inline bool ok(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool ok(bool pass, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	return pass;
}

static inline bool is_str(const char *got, const char *want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline bool is_str(const char *got, const char *want, const char *fmt, ...)
{
	bool pass = (!got && !want) || (got && want && !strcmp(got, want));
	va_list ap;
	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		diag("got \"%s\", want \"%s\"", got ? got : "(null)", want ? want : "(null)");
	return pass;
}

static inline bool is_int(long long got, long long want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline bool is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_vline(got == want, fmt, ap);
	va_end(ap);
	if (got != want)
		diag("got %lld, want %lld", got, want);
	return got == want;
}

static inline int done_testing(void)
{
	if (!tap_planned)
		printf("1..%d\n", tap_run);
	else if (tap_planned != tap_run)
		diag("planned %d tests, ran %d", tap_planned, tap_run);
	return tap_failed || (tap_planned && tap_planned != tap_run) ? 1 : 0;
}

#endif
