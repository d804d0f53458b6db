// SPDX-License-Identifier: GPL-2.0-only
/*
 * lbctl: lbd's control socket from the command line.
 *
 *	lbctl [-s SOCKET] [-j | -p] OBJECT COMMAND [ARGS]
 *
 * Each command is a row of one table, which both dispatches it and writes
 * the help. A command turns its arguments into one request
 * (docs/control-api.md), sends it, and prints the reply: as text, or with
 * -j / -p as the reply's JSON (errors too, as {"error": ..., "code": ...}).
 *
 * Exit codes (lbctl(8)): 0 done; 64 usage; 65 bad input (no such VIP or
 * backend, a bad value); 69 lbd not reachable; 75 timed out (drain
 * --wait); 77 permission denied; 78 the config is not valid; 1 lbd could
 * not do it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <jansson.h>

#include "clock.h"
#include "ctlfmt.h"
#include "fileio.h"

#define EXIT_USAGE	64	/* EX_USAGE */
#define EXIT_DATAERR	65	/* EX_DATAERR */
#define EXIT_UNAVAIL	69	/* EX_UNAVAILABLE */
#define EXIT_TEMPFAIL	75	/* EX_TEMPFAIL */
#define EXIT_NOPERM	77	/* EX_NOPERM */
#define EXIT_CONFIG	78	/* EX_CONFIG */

#define SOCKET_DEFAULT	"/run/sluice/lbd.sock"
#define REPLY_WAIT_S	30	/* for a reply, past any drain --wait */
#define REPLY_MAX	(256 * 1024 * 1024)

struct opts {
	const char *socket;
	int json;		/* 0 text, 1 compact JSON, 2 pretty */
};

/* Fill req from positional arguments (and options), and *file with a file
 * to send along: 0, or the exit code (EXIT_USAGE, EXIT_DATAERR for a bad
 * value) with a message in err. */
typedef int (*build_fn)(json_t *req, int argc, char **argv, int *file, char *err,
			size_t errlen);
typedef void (*show_fn)(FILE *f, json_t *result, __u64 now_ms);

struct cmd {
	const char *object;	/* "status" and "stats" have no command */
	const char *command;
	const char *usage;	/* the arguments */
	const char *help;
	const char *wire;	/* the request's "cmd" */
	int min_args, max_args;
	build_fn build;
	show_fn show;
};

/* ------------------------------------------------------------------ */
/* Arguments into requests */

static bool to_uint(const char *s, long long min, long long max, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return !errno && *s && !*end && *out >= min && *out <= max;
}

static int b_none(json_t *req, int argc, char **argv, int *file, char *err,
		   size_t errlen)
{
	return 0;
}

static int b_vip(json_t *req, int argc, char **argv, int *file, char *err,
		   size_t errlen)
{
	if (argc)
		json_object_set_new(req, "vip", json_string(argv[0]));
	return 0;
}

static int b_vip_backend(json_t *req, int argc, char **argv, int *file, char *err,
		   size_t errlen)
{
	json_object_set_new(req, "vip", json_string(argv[0]));
	json_object_set_new(req, "backend", json_string(argv[1]));
	return 0;
}

static int b_weight(json_t *req, int argc, char **argv, int *file, char *err,
		   size_t errlen)
{
	long long w;

	if (!to_uint(argv[2], 1, 65535, &w)) {
		snprintf(err, errlen, "weight \"%s\": must be an integer in 1..65535", argv[2]);
		return EXIT_DATAERR;
	}
	b_vip_backend(req, argc, argv, file, err, errlen);
	json_object_set_new(req, "weight", json_integer(w));
	return 0;
}

/* drain VIP BACKEND [--wait [--timeout SECONDS] [--idle SECONDS]] */
static int b_drain(json_t *req, int argc, char **argv, int *file, char *err,
		   size_t errlen)
{
	long long n;
	int i;

	b_vip_backend(req, argc, argv, file, err, errlen);
	for (i = 2; i < argc; i++) {
		bool value = !strcmp(argv[i], "--timeout") || !strcmp(argv[i], "--idle");

		if (!strcmp(argv[i], "--wait")) {
			json_object_set_new(req, "wait", json_true());
			continue;
		}
		/* lbd's limits: timeout_s 1..86400, idle_s 1..3600. */
		if (!value || i + 1 == argc ||
		    !to_uint(argv[i + 1], 1, strcmp(argv[i], "--idle") ? 86400 : 3600, &n)) {
			snprintf(err, errlen, "%s: expected --wait, --timeout SECONDS (1..86400) or "
				 "--idle SECONDS (1..3600)", argv[i]);
			return EXIT_USAGE;
		}
		json_object_set_new(req, !strcmp(argv[i], "--timeout") ? "timeout_s" : "idle_s",
				    json_integer(n));
		i++;
	}
	if ((json_object_get(req, "timeout_s") || json_object_get(req, "idle_s")) &&
	    !json_object_get(req, "wait")) {
		snprintf(err, errlen, "--timeout and --idle go with --wait");
		return EXIT_USAGE;
	}
	return 0;
}

static int b_flow(json_t *req, int argc, char **argv, int *file, char *err,
		   size_t errlen)
{
	long long sport, dport;

	if (!to_uint(argv[2], 0, 65535, &sport) || !to_uint(argv[4], 0, 65535, &dport)) {
		snprintf(err, errlen, "ports must be integers in 0..65535");
		return EXIT_DATAERR;
	}
	json_object_set_new(req, "proto", json_string(argv[0]));
	json_object_set_new(req, "src", json_string(argv[1]));
	json_object_set_new(req, "sport", json_integer(sport));
	json_object_set_new(req, "dst", json_string(argv[3]));
	json_object_set_new(req, "dport", json_integer(dport));
	return 0;
}

#define CONFIG_COPY_MAX	(32 * 1024 * 1024 + 1)	/* lbd refuses more (CONFIG_FILE_MAX) */

/* What a pipe or other stream holds, copied into a file of our own: lbd
 * reads only regular files (it will not wait on a writer). fd or -errno. */
static int stream_copy(int in)
{
	int out = memfd_create("lbctl-config", MFD_CLOEXEC), rc = 0;
	size_t total = 0;
	char buf[65536];
	ssize_t n;

	if (out < 0)
		return -errno;
	while (!rc && total < CONFIG_COPY_MAX && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0)
			rc = errno == EINTR ? 0 : -errno;
		else if (!(rc = fileio_write_all(out, buf, (size_t)n)))
			total += (size_t)n;
	}
	if (!rc && lseek(out, 0, SEEK_SET) < 0)
		rc = -errno;
	if (rc) {
		close(out);
		return rc;
	}
	return out;
}

/* The config file goes with the request, as an open file: lbd reads what
 * the caller can read, whatever mount namespace lbd runs in. */
static int b_config(json_t *req, int argc, char **argv, int *file, char *err,
		    size_t errlen)
{
	int fd = open(argv[0], O_RDONLY | O_CLOEXEC), copy;
	struct stat sb;

	if (fd >= 0 && !fstat(fd, &sb) && !S_ISREG(sb.st_mode)) {
		copy = stream_copy(fd);
		close(fd);
		fd = copy;
		if (copy < 0)
			errno = -copy;
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", argv[0], strerror(errno));
		return EXIT_DATAERR;
	}
	*file = fd;
	json_object_set_new(req, "name", json_string(argv[0]));
	return 0;
}

static int b_prefix(json_t *req, int argc, char **argv, int *file, char *err,
		    size_t errlen)
{
	json_object_set_new(req, "prefix", json_string(argv[0]));
	return 0;
}

static void show_drain(FILE *f, json_t *r, __u64 now_ms)
{
	if (json_object_get(r, "waited_ms"))
		ctlfmt_drained(f, r, now_ms);
	else
		ctlfmt_backend(f, r, now_ms);
}

static const struct cmd cmds[] = {
	{ "status", NULL, "", "lbd's version, interface, program, config, and what is degraded",
	  "status", 0, 0, b_none, ctlfmt_status },
	{ "vip", "list", "", "every VIP with its counters", "vip.list", 0, 0, b_none,
	  ctlfmt_vip_list },
	{ "vip", "show", "VIP", "one VIP and its backends", "vip.show", 1, 1, b_vip,
	  ctlfmt_vip_show },
	{ "backend", "list", "[VIP]",
	  "backends: weight, config, override, health, effective state, slots, flows",
	  "backend.list", 0, 1, b_vip, ctlfmt_backend_list },
	{ "backend", "drain", "VIP BACKEND [--wait [--timeout SECONDS] [--idle SECONDS]]",
	  "no new flows; its flows stay. --wait: until none is left (a flow is over when not "
	  "seen for --idle, default 30 s), or --timeout (default 300 s, exit 75)",
	  "backend.drain", 2, 7, b_drain, show_drain },
	{ "backend", "undrain", "VIP BACKEND", "take new flows again", "backend.undrain", 2, 2,
	  b_vip_backend, ctlfmt_backend },
	{ "backend", "down", "VIP BACKEND", "out now: its flows move to other backends",
	  "backend.down", 2, 2, b_vip_backend, ctlfmt_backend },
	{ "backend", "weight", "VIP BACKEND N", "set its weight (1..65535)", "backend.weight", 3,
	  3, b_weight, ctlfmt_backend },
	{ "backend", "reset", "VIP BACKEND", "drop the operator's overrides: back to the config",
	  "backend.reset", 2, 2, b_vip_backend, ctlfmt_backend },
	{ "stats", NULL, "[VIP]", "counters: verdicts, drops by reason, events, per VIP or "
	  "per backend", "stats", 0, 1, b_vip, ctlfmt_stats },
	{ "flow", "explain", "tcp|udp SRC SPORT DST DPORT",
	  "which backend a flow goes to, from where, and why", "flow.explain", 5, 5, b_flow,
	  ctlfmt_flow },
	{ "config", "validate", "FILE", "check FILE as lbd would take it (exit 78 and every "
	  "error if it is not valid)", "config.validate", 1, 1, b_config, ctlfmt_config_valid },
	{ "config", "diff", "FILE", "what FILE would change: VIPs, backends, and the share of "
	  "each table (so of new flows) that would move", "config.diff", 1, 1, b_config,
	  ctlfmt_config_diff },
	{ "config", "apply", "FILE", "validate and apply FILE, then make it lbd's config file",
	  "config.apply", 1, 1, b_config, ctlfmt_config_applied },
	{ "config", "show", "", "the running config, as its file was", "config.show", 0, 0,
	  b_none, ctlfmt_config_show },
	{ "block", "list", "", "the deny list and every VIP's allow list: where each rule "
	  "comes from, packets dropped", "block.list", 0, 0, b_none, ctlfmt_block_list },
	{ "block", "add", "PREFIX", "drop PREFIX's packets at every VIP, established flows "
	  "too; kept across reloads and restarts", "block.add", 1, 1, b_prefix,
	  ctlfmt_block_added },
	{ "block", "del", "PREFIX", "remove PREFIX from the operator's deny list",
	  "block.del", 1, 1, b_prefix, ctlfmt_block_removed },
	{ "node", "drain", "", "withdraw every VIP of this node from BGP (before maintenance); "
	  "kept across reloads and restarts", "node.drain", 0, 0, b_none, ctlfmt_node },
	{ "node", "undrain", "", "announce the node's VIPs again, each while it has its need "
	  "of healthy backends", "node.undrain", 0, 0, b_none, ctlfmt_node },
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: lbctl [-s SOCKET] [-j | -p] OBJECT COMMAND [ARGS]\n\n");
	for (i = 0; i < N_CMDS; i++)
		fprintf(f, "  %s%s%s%s%s\n      %s\n", cmds[i].object, cmds[i].command ? " " : "",
			cmds[i].command ? cmds[i].command : "", *cmds[i].usage ? " " : "",
			cmds[i].usage, cmds[i].help);
	fprintf(f, "\n  -s SOCKET  lbd's control socket (default %s)\n"
		   "  -j, -p     print the reply as JSON, compact or pretty\n"
		   "  --commands every OBJECT [COMMAND], one a line (for shell completion)\n"
		   "  --version  print lbctl's version\n"
		   "A VIP is its name or ADDRESS:PORT/PROTO ([ADDRESS]:PORT/PROTO for IPv6);\n"
		   "a backend is its address.\n", SOCKET_DEFAULT);
}

/* The table's commands, for completion: the same rows as help. */
static void commands_list(FILE *f)
{
	size_t i;

	for (i = 0; i < N_CMDS; i++)
		fprintf(f, "%s%s%s\n", cmds[i].object, cmds[i].command ? " " : "",
			cmds[i].command ? cmds[i].command : "");
}

/* ------------------------------------------------------------------ */
/* The socket */

struct failure {
	int exit;
	char msg[320];
	char code[32];		/* the reply's, or ours: "unreachable", "permission" */
};

/* A connection lbd closed before the request was out (it serves at most
 * 64 clients): as unreachable as no lbd at all. */
static void send_failed(struct failure *fl, int rc)
{
	fl->exit = rc == -EPIPE || rc == -ECONNRESET ? EXIT_UNAVAIL : 1;
	if (fl->exit == EXIT_UNAVAIL)
		snprintf(fl->code, sizeof(fl->code), "unreachable");
	snprintf(fl->msg, sizeof(fl->msg), "sending the request: %s", strerror(-rc));
}

static int sock_open(const char *path, struct failure *fl)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fl->exit = EXIT_USAGE;
		snprintf(fl->msg, sizeof(fl->msg), "%s: path too long", path);
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return fd;
	fl->exit = errno == EACCES || errno == EPERM ? EXIT_NOPERM : EXIT_UNAVAIL;
	snprintf(fl->code, sizeof(fl->code), "%s",
		 fl->exit == EXIT_NOPERM ? "permission" : "unreachable");
	snprintf(fl->msg, sizeof(fl->msg), "cannot reach lbd at %s: %s%s", path, strerror(errno),
		 fl->exit == EXIT_NOPERM ? " (root, or a member of the socket's group)" :
		 " (is lbd running? -s names another socket)");
	if (fd >= 0)
		close(fd);
	return -1;
}

/* One line of reply, waiting at most wait_s for it. */
static char *reply_read(int fd, int wait_s, struct failure *fl)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap), *nl = NULL;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	__u64 deadline = clock_wall_ms() + (__u64)wait_s * 1000;
	ssize_t n;

	while (buf && !nl) {
		__u64 now = clock_wall_ms();

		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) == 0) {
			fl->exit = EXIT_UNAVAIL;
			snprintf(fl->msg, sizeof(fl->msg), "lbd did not answer within %d s", wait_s);
			break;
		}
		if (len + 1 >= cap) {
			char *grown = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;

			if (!grown) {
				snprintf(fl->msg, sizeof(fl->msg), "lbd's answer is over %zu bytes, "
					 "more than lbctl takes or can hold", cap);
				break;
			}
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fl->exit = EXIT_UNAVAIL;
			snprintf(fl->msg, sizeof(fl->msg), "lbd closed the connection");
			break;
		}
		buf[len + (size_t)n] = '\0';
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	if (!nl) {
		free(buf);
		return NULL;
	}
	*nl = '\0';
	return buf;
}

static int code_exit(const char *code)
{
	static const struct {
		const char *code;
		int exit;
	} map[] = {
		{ "bad_request", EXIT_DATAERR }, { "not_found", EXIT_DATAERR },
		{ "conflict", EXIT_DATAERR }, { "permission", EXIT_NOPERM },
		{ "timeout", EXIT_TEMPFAIL }, { "bad_config", EXIT_CONFIG },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(code, map[i].code))
			return map[i].exit;
	return EXIT_FAILURE;
}

/* The request line, with file (if not -1) passed along its first byte. */
static int request_send(int fd, const char *text, size_t len, int file)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { .iov_base = (void *)text, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (file >= 0) {
		mh.msg_control = ctrl.buf;
		mh.msg_controllen = sizeof(ctrl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &file, sizeof(int));
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) != 1)
		return -errno;
	return fileio_write_all(fd, text + 1, len - 1);
}

/* Send req, and return the reply's result (or fill fl, and *errors with a
 * bad config's error lines). */
static json_t *call(const struct opts *o, json_t *req, int file, int wait_s,
		    struct failure *fl, json_t **errors)
{
	char *text = json_dumps(req, JSON_COMPACT), *line = NULL;
	json_t *reply = NULL, *result = NULL;
	int fd = sock_open(o->socket, fl), rc;

	if (fd >= 0 && text) {
		size_t len = strlen(text);

		text[len] = '\n';
		rc = request_send(fd, text, len + 1, file);
		if (!rc)
			line = reply_read(fd, wait_s, fl);
		else
			send_failed(fl, rc);
	}
	if (line)
		reply = json_loads(line, 0, NULL);
	if (line && !reply)
		snprintf(fl->msg, sizeof(fl->msg), "lbd's reply is not JSON");
	if (reply && json_is_true(json_object_get(reply, "ok"))) {
		result = json_incref(json_object_get(reply, "result"));
	} else if (reply) {
		snprintf(fl->code, sizeof(fl->code), "%s",
			 json_string_value(json_object_get(reply, "code")) ?: "failed");
		fl->exit = code_exit(fl->code);
		snprintf(fl->msg, sizeof(fl->msg), "%s",
			 json_string_value(json_object_get(reply, "error")) ?: "?");
		*errors = json_incref(json_object_get(reply, "errors"));
	}
	if (!result && !fl->exit)
		fl->exit = EXIT_FAILURE;
	json_decref(reply);
	free(line);
	free(text);
	if (fd >= 0)
		close(fd);
	return result;
}

static int report(const struct opts *o, const struct failure *fl, json_t *errors)
{
	json_t *j, *e;
	size_t i;

	if (!o->json) {
		fprintf(stderr, "lbctl: %s\n", fl->msg);
		json_array_foreach(errors, i, e)
			fprintf(stderr, "%s\n", json_string_value(e));
		json_decref(errors);
		return fl->exit;
	}
	j = json_pack("{s:s, s:s}", "error", fl->msg, "code", fl->code[0] ? fl->code : "failed");
	if (errors)
		json_object_set_new(j, "errors", errors);
	json_dumpf(j, stdout, o->json == 2 ? JSON_INDENT(2) : JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(j);
	return fl->exit;
}

/* ------------------------------------------------------------------ */

static const struct cmd *cmd_find(int argc, char **argv, int *used)
{
	size_t i;

	for (i = 0; argc && i < N_CMDS; i++) {
		if (strcmp(argv[0], cmds[i].object))
			continue;
		if (!cmds[i].command) {
			*used = 1;
			return &cmds[i];
		}
		if (argc > 1 && !strcmp(argv[1], cmds[i].command)) {
			*used = 2;
			return &cmds[i];
		}
	}
	return NULL;
}

static int run(const struct opts *o, const struct cmd *c, int argc, char **argv)
{
	struct failure fl = { 0 };
	json_t *req, *result, *t, *errors = NULL;
	char err[256];
	int rc = 0, wait_s = REPLY_WAIT_S, file = -1;

	if (argc < c->min_args || argc > c->max_args) {
		fprintf(stderr, "lbctl: usage: lbctl %s%s%s%s%s\n", c->object,
			c->command ? " " : "", c->command ? c->command : "", *c->usage ? " " : "",
			c->usage);
		return EXIT_USAGE;
	}
	req = json_pack("{s:s}", "cmd", c->wire);
	rc = c->build(req, argc, argv, &file, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "lbctl: %s\n", err);
		json_decref(req);
		return rc;
	}
	if (json_is_true(json_object_get(req, "wait"))) {
		t = json_object_get(req, "timeout_s");
		wait_s += t ? (int)json_integer_value(t) : 300;
	}
	result = call(o, req, file, wait_s, &fl, &errors);
	json_decref(req);
	if (file >= 0)
		close(file);
	if (!result) {
		rc = report(o, &fl, errors);
	} else if (o->json) {
		json_dumpf(result, stdout, (o->json == 2 ? JSON_INDENT(2) : JSON_COMPACT) |
			   JSON_ENCODE_ANY);
		fputc('\n', stdout);
	} else {
		c->show(stdout, result, clock_wall_ms());
	}
	json_decref(result);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "commands", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct opts o = { .socket = SOCKET_DEFAULT };
	const struct cmd *c;
	int opt, used = 0;

	/* lbd going away mid-request is an error to report, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt_long(argc, argv, "+s:jph", long_opts, NULL)) != -1) {
		switch (opt) {
		case 's': o.socket = optarg; break;
		case 'j': o.json = 1; break;
		case 'p': o.json = 2; break;
		case 'h': usage(stdout); return 0;
		case 'C': commands_list(stdout); return 0;
		case 'V': printf("lbctl (sluice) %s\n", LB_VERSION); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc && (!strcmp(argv[0], "help") || !strcmp(argv[0], "--help"))) {
		usage(stdout);
		return 0;
	}

	c = cmd_find(argc, argv, &used);
	if (!c) {
		if (argc)
			fprintf(stderr, "lbctl: unknown command \"%s%s%s\"\n", argv[0],
				argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
		usage(stderr);
		return EXIT_USAGE;
	}
	return run(&o, c, argc - used, argv + used);
}
