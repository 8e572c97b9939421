/* log.h - one line per event on stderr: time, level, subsystem, message.
 *
 *   2026-11-25T21:40:00.123Z info  http: 127.0.0.1:5555: message
 *
 * Messages name the peer when there is one and say what to do when the
 * operator must act.  The level is checked before anything is formatted.
 */
#ifndef SB_LOG_H
#define SB_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

extern enum log_level log_threshold;

/* "debug" | "info" | "warn" | "error" -> level; -1 if unknown. */
int log_level_parse(const char *name);

void log_write(enum log_level level, const char *subsystem, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_msg(level, subsystem, ...)                              \
	do {                                                        \
		if ((level) >= log_threshold)                       \
			log_write((level), (subsystem), __VA_ARGS__); \
	} while (0)

#endif
