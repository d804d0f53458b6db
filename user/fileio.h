/* SPDX-License-Identifier: GPL-2.0-only */
/* Writing files so that a crash leaves the old one or the new one, whole. */
#ifndef LB_FILEIO_H
#define LB_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Write all of buf to fd. 0 or -errno. */
int fileio_write_all(int fd, const void *buf, size_t len);

/*
 * Replace the file name in the directory dfd with len bytes of data, mode
 * mode: NAME.tmp is written and fsync-ed, renamed over NAME, and the
 * directory fsync-ed. 0, or -errno with *what saying which step failed
 * ("creating NAME.tmp", ...); on error NAME is as it was.
 */
int fileio_replace(int dfd, const char *name, const void *data, size_t len, mode_t mode,
		   char *what, size_t whatlen);

/* The same for a path. */
int fileio_replace_path(const char *path, const void *data, size_t len, mode_t mode,
			char *what, size_t whatlen);

#endif /* LB_FILEIO_H */
