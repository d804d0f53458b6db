/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lbd's configuration: one JSON file, described in docs/config.md and
 * docs/lbd.schema.json, parsed and validated into plain structs.
 *
 * Validation does not stop at the first problem: every error found is
 * listed, one line each, naming where it is with a JSON pointer (RFC 6901)
 * or, for a syntax error, with the file, line and column:
 *
 *	/vips/2/backends/0/address: not an IP address
 *	lbd.json:12:5: duplicate object key near '"port"'
 *
 * Canonical order: on success the VIPs are sorted by (family, address,
 * port, protocol) and each VIP's backends by (family, address), addresses
 * compared as bytes in network order. Two files that differ only in the
 * order of their VIPs, backends or keys therefore give identical structs,
 * so lbd builds byte-identical tables from them and can diff an old config
 * against a new one entry by entry. Indexes in the error lines are those of
 * the file, not of the sorted arrays.
 */
#ifndef LB_CONFIG_H
#define LB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "blocklist.h"

#define CONFIG_GROUP_MAX	32	/* bytes of a group name */
#define CONFIG_FILE_MAX		(32 * 1024 * 1024)	/* bytes; larger files are refused */

enum config_backend_state {
	CONFIG_BACKEND_ACTIVE = 0,	/* in the table */
	CONFIG_BACKEND_DRAIN,		/* out of the table; its flows stay on it */
	CONFIG_BACKEND_DOWN,		/* out of the table; its flows move too */
};

#define CONFIG_HC_PATH_MAX	255	/* bytes of an HTTP check's path */
#define CONFIG_HC_HOST_MAX	253	/* bytes of its Host header */

struct config_backend {
	char address[64];	/* canonical text form, for messages */
	__u8 family;		/* LB_FAMILY_IPV4 or LB_FAMILY_IPV6 */
	__be32 addr[4];		/* IPv4 in addr[0], the rest zero */
	__u32 weight;		/* 1 .. MAGLEV_WEIGHT_MAX */
	enum config_backend_state state;
	/* Its own "health_check": {"port", "path"}; 0 / NULL: the VIP's. */
	__u16 hc_port;
	char *hc_path;
};

enum config_hc_type {
	CONFIG_HC_TCP = 0,	/* a connection opens */
	CONFIG_HC_NONE,
	CONFIG_HC_HTTP,		/* a GET answered with the expected status */
	CONFIG_HC_HTTPS,
};

/* Where a check's connection goes (docs/architecture.md, tunnel probes). */
enum config_hc_via {
	CONFIG_HC_DIRECT = 0,	/* to the backend's own address */
	CONFIG_HC_TUNNEL,	/* to the VIP, in the data path's tunnel to the backend */
};

/* Always filled with the defaults, even when checks are off. */
struct config_health {
	bool enabled;		/* a "health_check" block whose type is not "none" */
	enum config_hc_type type;
	enum config_hc_via via;
	__u16 port;		/* host order; defaults to the VIP's port */
	__u32 interval_ms;
	__u32 timeout_ms;	/* <= interval_ms */
	__u32 rise;		/* successes in a row that bring a backend up */
	__u32 fall;		/* failures in a row that take it down */
	char path[CONFIG_HC_PATH_MAX + 1];	/* http(s): what to GET; "/" */
	char host[CONFIG_HC_HOST_MAX + 1];	/* http(s): the Host header; "": none */
	__u16 status;		/* http(s): the status that passes; 200 */
	bool tls_verify;	/* https: check the certificate and name */
};

struct config_vip {
	char name[64];		/* unique; [a-zA-Z0-9_.-]{1,63} */
	char address[64];	/* canonical text form, for messages */
	__u8 family;		/* LB_FAMILY_IPV4 or LB_FAMILY_IPV6 */
	__be32 addr[4];		/* IPv4 in addr[0], the rest zero */
	__u16 port;		/* host order; 0 = all ports */
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	bool hash_l3;		/* hash on addresses only (LB_VIP_F_HASH_L3) */
	__u32 table_size;	/* a prime, 2 .. LB_TABLE_SIZE_MAX */
	struct config_health health;
	bool all_down_drop;	/* no backend up: drop rather than keep the last table */
	__u32 need;		/* healthy backends it needs to be announced; 1.. */
	struct config_backend *backends;
	size_t n_backends;
	/* "allow": only these source prefixes may reach the VIP (none: all
	 * may). Family, plen and addr are set, sorted and unique; vip and
	 * flags are left 0: the VIP's id is the controller's to fill in. */
	struct blocklist_rule *allow;
	size_t n_allow;
};

struct config {
	char interface[16];	/* IFNAMSIZ */
	bool xdp_generic;	/* "xdp_mode": "generic" */
	bool next_hop_auto;	/* follow the default gateway's MAC */
	__u8 next_hop[6];	/* when !next_hop_auto */
	/* Outer sources, as in struct lb_config: a plen below 32 (128) is a
	 * per-flow prefix, whose host bits come from the flow hash. */
	__be32 src4;
	__u8 src4_plen;		/* 16 .. 32 */
	__be32 src6[4];
	__u8 src6_plen;		/* 96 .. 128 */
	bool has_src4, has_src6;
	__u32 mtu;		/* 1280 .. 9216; 0: the interface's MTU */
	__u32 flow_table_size;
	__u32 new_flow_cap;	/* lb_config.flow_cap: flow entries per CPU per second, 0: no cap */
	/* "deny": source prefixes dropped at every VIP, as rules with vip
	 * BLOCKLIST_DENY, flags 0; sorted and unique. */
	struct blocklist_rule *deny;
	size_t n_deny;
	char control_socket[108];	/* sizeof(sun_path) */
	/* "metrics_listen": where Prometheus scrapes, "" (off) or as written
	 * ("127.0.0.1:9650", "[::]:9650"); the address and port parsed. */
	char metrics_listen[64];
	__u8 metrics_family;		/* LB_FAMILY_IPV4 or _IPV6; 0: off */
	__be32 metrics_addr[4];
	__u16 metrics_port;		/* host order */
	/* Who may use it: members of control_group read; changes need root
	 * or, when set (not ""), a member of control_admin_group. */
	char control_group[CONFIG_GROUP_MAX + 1];
	char control_admin_group[CONFIG_GROUP_MAX + 1];
	char state_dir[4096];		/* PATH_MAX */
	/* "announce": the kernel routing table lbd keeps a host route in for
	 * each VIP address to announce (docs/scale-out.md); 0: off. */
	__u32 announce_table;
	struct config_vip *vips;
	size_t n_vips;
};

/* Each line is "POINTER: message" or "FILE:LINE:COLUMN: message". */
struct config_errors {
	char **lines;
	size_t n;
};

/*
 * Read and validate the file at path. Returns 0 and a new config in *out
 * (freed with config_free()); or -EINVAL, the file being invalid; or -errno
 * when it cannot be read (also listed in errs, as "PATH: reason"); or
 * -ENOMEM. *out is NULL on error. errs may be NULL; otherwise it is emptied
 * first and holds the error lines, in the order of the file.
 */
int config_load(const char *path, struct config **out, struct config_errors *errs);

/* The bytes of the file at path, at most CONFIG_FILE_MAX + 1 of them (so
 * that a file too large shows as such), in a new buffer. 0 or -errno. */
int config_file_read(const char *path, char **text, size_t *len);

/* The same from an open file (one sent over the control socket). */
int config_fd_read(int fd, char **text, size_t *len);

/* The same, from len bytes of memory; name stands for the file in messages. */
int config_parse(const char *text, size_t len, const char *name, struct config **out,
		 struct config_errors *errs);

void config_free(struct config *cfg);

void config_errors_clear(struct config_errors *errs);

#endif /* LB_CONFIG_H */
