// SPDX-License-Identifier: GPL-2.0-only
/*
 * What lbd tells systemd (sd_notify(3)): READY=1 once the program is
 * attached and the config applied, RELOADING=1 and READY=1 around each
 * reload, STOPPING=1 at exit, and a one-line STATUS= that says what runs
 * and what is wrong. Without NOTIFY_SOCKET (not under systemd) every call
 * is a no-op.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "clock.h"
#include "lbd.h"

/* "l0: 2 VIPs, 5 backends (4 in); generation 3; all_down: api", short
 * enough for systemctl status. */
static void status_line(const struct lbd *d, char *buf, size_t len)
{
	const struct state *st = d->st;
	size_t i, j, bes = 0, in = 0, down = 0, used;

	for (i = 0; i < st->cfg->n_vips; i++) {
		down += st->vips[i].all_down;
		for (j = 0; j < st->cfg->vips[i].n_backends; j++) {
			bes++;
			in += st->vips[i].be[j].eff == STATE_IN;
		}
	}
	used = (size_t)snprintf(buf, len, "%s: %zu VIPs, %zu backends (%zu in); generation %llu",
				st->cfg->interface, st->cfg->n_vips, bes, in,
				(unsigned long long)st->generation);
	if (used < len && down)
		used += (size_t)snprintf(buf + used, len - used, "; %zu VIPs in all_down", down);
	if (used < len && (d->full_due || d->save_failing))
		snprintf(buf + used, len - used, "; %s failing, retrying",
			 d->full_due ? "map writes" : "state saves");
}

/* What systemd shows now, so that lbd_notify_status() sends only news. */
static void status_sent(struct lbd *d, const char *status)
{
	snprintf(d->status_sent, sizeof(d->status_sent), "%s", status);
}

void lbd_notify_ready(struct lbd *d)
{
	char status[256];

	status_line(d, status, sizeof(status));
	status_sent(d, status);
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

/* Only when the line changed: the state model calls this after every
 * apply, which health can make frequent. */
void lbd_notify_status(struct lbd *d)
{
	char status[256];

	status_line(d, status, sizeof(status));
	if (!strcmp(status, d->status_sent))
		return;
	status_sent(d, status);
	sd_notifyf(0, "STATUS=%s", status);
}

void lbd_notify_reloading(struct lbd *d)
{
	struct timespec ts;

	status_sent(d, "reloading");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
		   (unsigned long long)ts.tv_sec * 1000000ULL +
		   (unsigned long long)ts.tv_nsec / 1000);
}

void lbd_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping; the data path stays attached");
}
