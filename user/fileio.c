// SPDX-License-Identifier: GPL-2.0-only
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int fileio_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The new file is complete and on disk before its name replaces the old
 * one's, and the rename is on disk before we say it is done. */
int fileio_replace(int dfd, const char *name, const void *data, size_t len, mode_t mode,
		   char *what, size_t whatlen)
{
	char tmp[NAME_MAX + 1];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	snprintf(what, whatlen, "creating %s", tmp);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	snprintf(what, whatlen, "writing %s", tmp);
	rc = fileio_write_all(fd, data, len);
	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc) {
		snprintf(what, whatlen, "renaming %s", tmp);
		if (renameat(dfd, tmp, dfd, name))
			rc = -errno;
	}
	if (rc) {
		unlinkat(dfd, tmp, 0);
		return rc;
	}
	snprintf(what, whatlen, "syncing the directory");
	return fsync(dfd) ? -errno : 0;
}

int fileio_replace_path(const char *path, const void *data, size_t len, mode_t mode,
			char *what, size_t whatlen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int dfd, rc;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	snprintf(what, whatlen, "opening %s", dir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	rc = fileio_replace(dfd, slash ? slash + 1 : path, data, len, mode, what, whatlen);
	close(dfd);
	return rc;
}
