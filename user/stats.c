// SPDX-License-Identifier: GPL-2.0-only
#include "stats.h"

const char *const stats_verdict_names[LB_VERDICT_MAX] = {
	"aborted", "drop", "pass", "tx", "redirect",
};

const char *const stats_drop_names[LB_DROP_MAX] = {
	[LB_DROP_NONE] = "none",
	[LB_DROP_ETH_TRUNC] = "eth_trunc",
	[LB_DROP_IP4_TRUNC] = "ip4_trunc",
	[LB_DROP_IP4_BAD_IHL] = "ip4_bad_ihl",
	[LB_DROP_IP4_BAD_LEN] = "ip4_bad_len",
	[LB_DROP_IP6_TRUNC] = "ip6_trunc",
	[LB_DROP_IP6_BAD_VER] = "ip6_bad_ver",
	[LB_DROP_IP6_BAD_LEN] = "ip6_bad_len",
	[LB_DROP_IP6_EXT] = "ip6_ext",
	[LB_DROP_L4_TRUNC] = "l4_trunc",
	[LB_DROP_FRAG] = "frag",
	[LB_DROP_NO_BACKEND] = "no_backend",
	[LB_DROP_BAD_BACKEND] = "bad_backend",
	[LB_DROP_NO_CONFIG] = "no_config",
	[LB_DROP_TOO_BIG] = "too_big",
	[LB_DROP_ADJUST] = "adjust",
	[LB_DROP_ALL_DOWN] = "all_down",
	[LB_DROP_TCP_BAD_DOFF] = "tcp_bad_doff",
	[LB_DROP_UDP_BAD_LEN] = "udp_bad_len",
	[LB_DROP_ICMP_BAD_QUOTE] = "icmp_bad_quote",
	[LB_DROP_DENIED] = "denied",
	[LB_DROP_NOT_ALLOWED] = "not_allowed",
};

const char *const stats_event_names[LB_EV_MAX] = {
	[LB_EV_ICMP_ECHO] = "icmp_echo",
	[LB_EV_TOO_BIG_SENT] = "too_big_sent",
	[LB_EV_ICMP_STEERED] = "icmp_steered",
	[LB_EV_FLOW_REPICK] = "flow_repick",
	[LB_EV_FLOW_INSERT_FAIL] = "flow_insert_fail",
	[LB_EV_GUARD_SKIP] = "guard_skip",
};

const char *const stats_vip_fields[STATS_VIP_FIELDS] = {
	"packets", "bytes", "new_flows", "nonsyn_miss",
};

const char *const stats_backend_fields[STATS_BACKEND_FIELDS] = {
	"packets", "bytes",
};
