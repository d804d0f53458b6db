/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control socket: a Unix stream socket on lbd's event loop, one JSON
 * request per line in, one JSON reply per line out (docs/control-api.md),
 * for lbctl and automation. Who may read and who may change things comes
 * from the peer's credentials (SO_PEERCRED, SO_PEERGROUPS); the commands
 * themselves are ctlcmd.c's.
 *
 * No client can hold the others up: every socket is non-blocking, a request
 * is at most CONTROL_REQUEST_MAX bytes, a client reads its reply before its
 * next request is taken, and one that stalls half-way through a request is
 * closed after CONTROL_STALL_S. Nor take lbd down: replies are sent with
 * MSG_NOSIGNAL, so a client that left early is an EPIPE, not a SIGPIPE.
 */
#ifndef LB_CONTROL_H
#define LB_CONTROL_H

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "ctlcmd.h"

#define CONTROL_REQUEST_MAX	65536	/* bytes of one request, its newline included */
#define CONTROL_CLIENTS_MAX	64
#define CONTROL_STALL_S		10	/* a request begun and not finished */
#define CONTROL_IDLE_S		300	/* a connection with nothing to do */
#define CONTROL_WAIT_POLL_MS	1000	/* drain --wait looks at the flows this often */

struct control;

/* Who may do what: members of group read; root, and members of admin
 * (when has_admin) change. */
struct control_access {
	gid_t group;
	bool has_admin;
	gid_t admin;
};

/* control_group and control_admin_group by id. 0, or -ENOENT with the
 * group that does not exist named in err. */
int control_access_resolve(const struct config *cfg, struct control_access *acc, char *err,
			   size_t errlen);

/*
 * Listen on path (replacing a stale socket there, creating its directory)
 * with mode 0660 and group acc->group. NULL with a reason in err.
 */
struct control *control_new(sd_event *loop, const char *path,
			    const struct control_access *acc, const struct ctl_env *env,
			    char *err, size_t errlen);

/* New groups (a reload): the socket's group and who may do what. 0 or
 * -errno. */
int control_access_set(struct control *c, const struct control_access *acc);

/* Close every client and the socket, and remove its path. */
void control_free(struct control *c);

#endif /* LB_CONTROL_H */
