/* log.c - the log line writer (see log.h for the format). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

enum log_level log_threshold = LOG_INFO;

int log_level_parse(const char *name)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	for (int i = 0; i < 4; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

void log_write(enum log_level level, const char *subsystem, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info ", "warn ", "error"};
	char line[1024], stamp[32];
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

	int n = snprintf(line, sizeof line, "%s.%03dZ %s %s: ", stamp,
			 (int)(tv.tv_usec / 1000), names[level], subsystem);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so lines from several threads never interleave. */
	for (char *p = line + n; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "%s\n", line);
}
