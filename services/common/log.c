/*
 * log: leveled lines on stderr. Each line is written with one fprintf-to-buffer and one
 * fputs so concurrent writers (ingest and its children in tests) do not interleave mid-line.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_current_level = LOG_INFO;
static const char *log_program = "coldtrace";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *name, int *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -1;
}

void log_init(const char *program, const char *level_name)
{
	int level;

	log_program = program;
	if (level_name && log_level_parse(level_name, &level) == 0)
		log_current_level = level;
}

void log_write(int level, const char *fmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%d] %s: ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     (int)(tv.tv_usec / 1000), log_program, (int)getpid(), level_names[level]);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}
