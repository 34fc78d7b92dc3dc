/*
 * log: leveled logging to stderr, one line per event, with an ISO time and the program name.
 * The macros test the level before evaluating their arguments, so a debug line in a hot path
 * costs one comparison when debug is off.
 */
#ifndef COLDTRACE_LOG_H
#define COLDTRACE_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* The one mutable logging setting, written once by main() (through config) before threads. */
extern int log_current_level;

void log_init(const char *program, const char *level_name);
int log_level_parse(const char *name, int *out);
void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(level, ...)                                                                   \
	do {                                                                                 \
		if ((level) <= log_current_level)                                            \
			log_write((level), __VA_ARGS__);                                     \
	} while (0)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)

#endif
