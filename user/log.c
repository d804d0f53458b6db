// SPDX-License-Identifier: GPL-2.0-only
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static const char *const level_names[] = { "err", "warn", "info", "debug" };
/* syslog(3) priorities, as the journal reads them from a "<N>" prefix. */
static const char *const journal_prio[] = { "<3>", "<4>", "<6>", "<7>" };
static const char *log_prog = "lbd";
static enum log_level log_max = LOG_LVL_INFO;
static bool log_journal;

/* Is stderr the journal's stream (systemd sets JOURNAL_STREAM to its
 * device and inode)? Then each line says its priority. */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 && !fstat(STDERR_FILENO, &st) &&
	       st.st_dev == dev && st.st_ino == ino;
}

void log_init(const char *prog, enum log_level max)
{
	log_prog = prog;
	log_max = max;
	log_journal = stderr_is_journal();
}

int log_level_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcmp(name, level_names[i]))
			return (int)i;
	return -1;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl > log_max)
		return;
	fprintf(stderr, "%s%s[%s]: ", log_journal ? journal_prio[lvl] : "", log_prog,
		level_names[lvl]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
