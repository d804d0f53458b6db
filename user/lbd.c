// SPDX-License-Identifier: GPL-2.0-only
/*
 * lbd, the controller: reads the JSON config, loads and pins the balancer
 * (or adopts or upgrades the one already pinned), writes the maps, and then
 * runs one event loop: signals (SIGHUP reloads, SIGTERM/SIGINT exit and
 * leave the data path running), netlink (the next hop's MAC) and a timer
 * that retries a failed next-hop read or map write every second.
 *
 * Exit codes: 0 done; 1 runtime failure; 2 usage; 78 invalid config.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "apply.h"
#include "config.h"
#include "loader.h"
#include "log.h"
#include "nexthop.h"

#define EXIT_USAGE	2
#define EXIT_CONFIG	78	/* EX_CONFIG */

#define NEXT_HOP_RETRY_SEC	1

struct lbd {
	const char *config_path;
	struct config *cfg;
	struct loader ld;
	struct apply_maps maps;
	struct apply_env env;	/* env.next_hop: the MAC last written to lb_cfg */
	struct nexthop *nh;
	int sig_fd;
	int ep_fd;
	int retry_fd;		/* timerfd, ticking while nexthop_retry_due() */
	bool retry_armed;
	bool read_failing;	/* failures are logged once per streak */
	bool write_failing;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lbd --config FILE [--log-level err|warn|info|debug]\n"
		"       lbd --check FILE\n"
		"       lbd --unload INTERFACE\n"
		"\n"
		"  --config FILE     run in the foreground with this config; SIGHUP re-reads it\n"
		"  --check FILE      validate FILE, list every error; exit 0 (valid) or 78\n"
		"  --unload IFACE    detach sluice from IFACE and remove its pinned maps\n"
		"\n"
		"SIGTERM and SIGINT stop lbd and leave the data path attached.\n");
}

/* Load a config, logging every error. Returns 0, or the exit code to use. */
static int config_read(const char *path, struct config **cfg)
{
	struct config_errors errs = { 0 };
	size_t i;
	int rc;

	rc = config_load(path, cfg, &errs);
	for (i = 0; i < errs.n; i++)
		log_err("%s", errs.lines[i]);
	config_errors_clear(&errs);
	if (rc == -EINVAL)
		return EXIT_CONFIG;
	return rc ? EXIT_FAILURE : 0;
}

static int cmd_check(const char *path)
{
	struct config *cfg = NULL;
	int rc = config_read(path, &cfg);

	if (!rc)
		printf("%s: valid (%zu VIPs)\n", path, cfg->n_vips);
	config_free(cfg);
	return rc;
}

static int cmd_unload(const char *ifname)
{
	char err[256];

	if (loader_unload(ifname, err, sizeof(err))) {
		log_err("cannot unload %s: %s", ifname, err);
		return EXIT_FAILURE;
	}
	log_info("unloaded %s: XDP detached, pins removed", ifname);
	return 0;
}

/* The interface's MAC and MTU, for lb_cfg. */
static int iface_read(const char *ifname, struct apply_env *env)
{
	struct ifreq ifr;
	int fd, rc = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		rc = -errno;
	else
		memcpy(env->src_mac, ifr.ifr_hwaddr.sa_data, 6);
	if (!rc && ioctl(fd, SIOCGIFMTU, &ifr))
		rc = -errno;
	else if (!rc)
		env->mtu = (__u32)ifr.ifr_mtu;
	close(fd);
	return rc;
}

static const char *mac_text(const __u8 mac[6])
{
	static char buf[18];

	snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	return buf;
}

static void maps_find(struct lbd *d)
{
	struct apply_maps *m = &d->maps;

	m->vip_map = loader_map_fd(&d->ld, "vip_map");
	m->vip_tables = loader_map_fd(&d->ld, "vip_tables");
	m->backends = loader_map_fd(&d->ld, "backends");
	m->flow_table = loader_map_fd(&d->ld, "flow_table");
	m->lb_cfg = loader_map_fd(&d->ld, "lb_cfg");
	m->vip_filter = loader_map_fd(&d->ld, "vip_filter");
	m->vip_stats = loader_map_fd(&d->ld, "vip_stats");
	m->backend_stats = loader_map_fd(&d->ld, "backend_stats");
}

static int apply(struct lbd *d, const struct config *cfg, const char *why)
{
	struct apply_stats st;
	char err[256];

	if (cfg->mtu > d->env.mtu)
		log_warn("%s: mtu %u is above %s's MTU %u: frames in between will be lost",
			 why, cfg->mtu, cfg->interface, d->env.mtu);
	if (apply_config(&d->maps, cfg, &d->env, &st, err, sizeof(err))) {
		log_err("%s: cannot apply the config: %s", why, err);
		return -1;
	}
	log_info("%s: %zu VIPs; tables swapped %zu, removed %zu; VIPs +%zu -%zu; "
		 "backends +%zu ~%zu retired %zu",
		 why, cfg->n_vips, st.tables_swapped, st.tables_removed, st.vips_added,
		 st.vips_removed, st.backends_added, st.backends_changed, st.backends_retired);
	return 0;
}

/* Tick while the next hop owes a retry, and only then. */
static void retry_arm(struct lbd *d)
{
	bool due = d->nh && nexthop_retry_due(d->nh);
	struct itimerspec its = { 0 };

	if (due == d->retry_armed)
		return;
	if (due) {
		its.it_value.tv_sec = NEXT_HOP_RETRY_SEC;
		its.it_interval.tv_sec = NEXT_HOP_RETRY_SEC;
	}
	if (timerfd_settime(d->retry_fd, 0, &its, NULL))
		log_err("cannot set the retry timer: %s", strerror(errno));
	else
		d->retry_armed = due;
}

/*
 * env.next_hop changes only once the write succeeded; after a failure the
 * nexthop is asked to report the MAC again, so that the next event or the
 * retry timer writes it, even if the MAC does not change meanwhile.
 */
static void next_hop_write(struct lbd *d, const __u8 mac[6])
{
	int rc = apply_next_hop(&d->maps, mac);

	if (rc) {
		if (!d->write_failing)
			log_err("cannot write the next hop %s: %s; retrying every %d s",
				mac_text(mac), strerror(-rc), NEXT_HOP_RETRY_SEC);
		d->write_failing = true;
		nexthop_retell(d->nh);
		return;
	}
	d->write_failing = false;
	memcpy(d->env.next_hop, mac, 6);
	log_info("next hop %s is %s", nexthop_gateway(d->nh), mac_text(mac));
}

static void next_hop_update(struct lbd *d)
{
	__u8 mac[6];
	int rc = nexthop_mac(d->nh, mac);

	if (!rc && memcmp(mac, d->env.next_hop, 6)) {
		next_hop_write(d, mac);
		return;
	}
	/* Nothing to write now: a write still owed is moot. */
	d->write_failing = false;
	if (rc)
		log_warn("next hop %s: %s; keeping the last known MAC", nexthop_gateway(d->nh),
			 rc == -ENOENT ? "no default route" : "not resolved yet");
}

/* What nexthop_process() or nexthop_retry() returned. */
static void next_hop_result(struct lbd *d, int rc)
{
	if (rc < 0 && !d->read_failing)
		log_err("reading routes and neighbours: %s; retrying every %d s",
			strerror(-rc), NEXT_HOP_RETRY_SEC);
	else if (rc >= 0 && d->read_failing)
		log_info("routes and neighbours read again");
	d->read_failing = rc < 0;
	if (rc > 0)
		next_hop_update(d);
	retry_arm(d);
}

static void next_hop_event(struct lbd *d)
{
	next_hop_result(d, nexthop_process(d->nh));
}

static void on_retry(struct lbd *d)
{
	__u64 ticks;

	/* EAGAIN when the timer was disarmed since it fired. */
	if (read(d->retry_fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	if (d->nh)
		next_hop_result(d, nexthop_retry(d->nh));
}

static void next_hop_stop(struct lbd *d)
{
	if (!d->nh)
		return;
	epoll_ctl(d->ep_fd, EPOLL_CTL_DEL, nexthop_fd(d->nh), NULL);
	nexthop_free(d->nh);
	d->nh = NULL;
	memset(d->env.next_hop, 0, sizeof(d->env.next_hop));
	d->read_failing = false;
	d->write_failing = false;
	retry_arm(d);
}

/*
 * lb_cfg may not hold env.next_hop (a reload that failed after
 * next_hop_start()): forget it, so that the retry writes the current MAC.
 */
static void next_hop_unwritten(struct lbd *d)
{
	if (!d->nh)
		return;
	memset(d->env.next_hop, 0, sizeof(d->env.next_hop));
	nexthop_retell(d->nh);
	retry_arm(d);
}

/* A retry is due only when the kernel could not be read, not for a state. */
static void next_hop_first(struct lbd *d)
{
	__u8 mac[6];
	int rc = nexthop_resolve(d->nh, mac);

	if (nexthop_retry_due(d->nh)) {
		next_hop_result(d, rc);
	} else if (!rc) {
		memcpy(d->env.next_hop, mac, 6);
		log_info("next hop %s is %s", nexthop_gateway(d->nh), mac_text(mac));
	} else {
		log_warn("next hop %s: not resolved yet; the data path keeps its last MAC",
			 nexthop_gateway(d->nh));
	}
}

/* Follow the default gateway. What is known now goes into env before the
 * next apply, so the data path never starts with an empty next hop when the
 * kernel already knows the gateway. */
static int next_hop_start(struct lbd *d, const struct config *cfg)
{
	int family = cfg->has_src4 ? AF_INET : AF_INET6;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = -1 };

	d->nh = nexthop_new(d->ld.ifindex, family);
	if (!d->nh) {
		log_err("cannot watch routes and neighbours: %s", strerror(errno));
		return -1;
	}
	ev.data.fd = nexthop_fd(d->nh);
	if (epoll_ctl(d->ep_fd, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
		log_err("epoll: %s", strerror(errno));
		next_hop_stop(d);
		return -1;
	}
	next_hop_first(d);
	return 0;
}

/* Fields that only a restart can change. */
static int reload_allowed(const struct config *old, const struct config *cfg)
{
	if (strcmp(old->interface, cfg->interface)) {
		log_err("reload: interface cannot change from %s to %s while running",
			old->interface, cfg->interface);
		return 0;
	}
	if (old->xdp_generic != cfg->xdp_generic) {
		log_err("reload: xdp_mode cannot change while running");
		return 0;
	}
	if (old->flow_table_size != cfg->flow_table_size)
		log_warn("reload: flow_table_size takes effect only after 'lbd --unload %s'",
			 cfg->interface);
	return 1;
}

static void reload(struct lbd *d)
{
	struct config *cfg = NULL;
	int rc;

	log_info("SIGHUP: reading %s", d->config_path);
	if (config_read(d->config_path, &cfg) || !reload_allowed(d->cfg, cfg)) {
		log_err("reload: the config was not applied; the running config stays");
		config_free(cfg);
		return;
	}
	rc = iface_read(cfg->interface, &d->env);
	if (rc)
		log_warn("reload: cannot read %s again (%s); keeping its MAC and MTU",
			 cfg->interface, strerror(-rc));
	if (!cfg->next_hop_auto)
		next_hop_stop(d);
	else if (!d->nh && next_hop_start(d, cfg))
		log_err("reload: cannot follow the next hop; the data path keeps its last MAC");
	if (apply(d, cfg, "reload")) {
		/* Writes before the failure stay: say so rather than pretend. */
		log_err("reload: the config was applied only in part; fix the cause and reload");
		next_hop_unwritten(d);
		config_free(cfg);
		return;
	}
	config_free(d->cfg);
	d->cfg = cfg;
}

/* Returns 1 to keep running, 0 to exit. */
static int on_signal(struct lbd *d)
{
	struct signalfd_siginfo si;

	if (read(d->sig_fd, &si, sizeof(si)) != sizeof(si))
		return 1;
	if (si.ssi_signo == SIGHUP) {
		reload(d);
		return 1;
	}
	log_info("%s: exiting; the data path stays attached ('lbd --unload %s' removes it)",
		 strsignal((int)si.ssi_signo), d->cfg->interface);
	return 0;
}

static int loop_setup(struct lbd *d)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	d->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	d->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	d->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->sig_fd < 0 || d->ep_fd < 0 || d->retry_fd < 0)
		return -errno;
	ev.data.fd = d->sig_fd;
	if (epoll_ctl(d->ep_fd, EPOLL_CTL_ADD, d->sig_fd, &ev))
		return -errno;
	ev.data.fd = d->retry_fd;
	return epoll_ctl(d->ep_fd, EPOLL_CTL_ADD, d->retry_fd, &ev) ? -errno : 0;
}

static int loop_run(struct lbd *d)
{
	struct epoll_event evs[8];
	int n, i;

	for (;;) {
		n = epoll_wait(d->ep_fd, evs, 8, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("epoll: %s", strerror(errno));
			return EXIT_FAILURE;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == d->sig_fd && !on_signal(d))
				return 0;
			if (evs[i].data.fd == d->retry_fd)
				on_retry(d);
			if (d->nh && evs[i].data.fd == nexthop_fd(d->nh))
				next_hop_event(d);
		}
	}
}

static const char *const action_names[] = {
	[LOADER_ATTACHED] = "attached",
	[LOADER_ADOPTED] = "adopted the running program",
	[LOADER_UPGRADED] = "upgraded the running program",
};

static int start(struct lbd *d)
{
	struct loader_opts lo = {
		.ifname = d->cfg->interface,
		.generic = d->cfg->xdp_generic,
		.flow_table_size = d->cfg->flow_table_size,
	};
	char err[320];
	int rc;

	if (loop_setup(d)) {
		log_err("cannot set up signals and epoll: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	rc = iface_read(d->cfg->interface, &d->env);
	if (rc) {
		log_err("cannot read %s: %s", d->cfg->interface, strerror(-rc));
		return EXIT_FAILURE;
	}
	if (loader_start(&d->ld, &lo, err, sizeof(err))) {
		log_err("cannot start on %s: %s", d->cfg->interface, err);
		return EXIT_FAILURE;
	}
	if (d->ld.relinked)
		log_warn("%s: the pinned XDP link had lost its interface (was it re-created?); "
			 "attaching a new link, maps kept", d->cfg->interface);
	log_info("%s: %s (program id %u, %zu pinned maps reused) in %s", d->cfg->interface,
		 action_names[d->ld.action], d->ld.prog_id, d->ld.maps_reused, d->ld.pin_dir);
	maps_find(d);
	if (d->cfg->next_hop_auto && next_hop_start(d, d->cfg))
		return EXIT_FAILURE;
	if (apply(d, d->cfg, "start"))
		return EXIT_FAILURE;
	return loop_run(d);
}

static int cmd_run(const char *path)
{
	struct lbd d = { .config_path = path, .sig_fd = -1, .ep_fd = -1, .retry_fd = -1 };
	int rc;

	rc = config_read(path, &d.cfg);
	if (rc)
		return rc;
	rc = start(&d);
	if (d.nh)
		nexthop_free(d.nh);
	if (d.ld.skel)
		loader_close(&d.ld);
	config_free(d.cfg);
	return rc;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", required_argument, NULL, 'k' },
		{ "unload", required_argument, NULL, 'u' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL, *check = NULL, *unload = NULL;
	int c, level = LOG_LVL_INFO;

	while ((c = getopt_long(argc, argv, "c:k:u:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'k': check = optarg; break;
		case 'u': unload = optarg; break;
		case 'l':
			level = log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr, "lbd: unknown log level '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc || !!config + !!check + !!unload != 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	log_init("lbd", (enum log_level)level);
	libbpf_set_print(libbpf_log);
	if (check)
		return cmd_check(check);
	if (unload)
		return cmd_unload(unload);
	return cmd_run(config);
}
