/* SPDX-License-Identifier: GPL-2.0-only */
/* Levelled log lines on stderr: "lbd[info]: message". */
#ifndef LB_LOG_H
#define LB_LOG_H

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

void log_init(const char *prog, enum log_level max);
/* Parse "err", "warn", "info" or "debug"; -1 when it is none of them. */
int log_level_parse(const char *name);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif /* LB_LOG_H */
