/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The ABI shared by the BPF programs and user space: limits, map keys and
 * values, counters and drop reasons. Defined once, here; both sides include
 * this file. Every struct has a fixed size, explicit padding and a static
 * size check, because a pinned map outlives the program that created it.
 *
 * Byte order: fields typed __be16/__be32 are network order, the rest host.
 */
#ifndef LB_ABI_H
#define LB_ABI_H

#include <linux/types.h>
#include <linux/bpf.h>

/* Limits. Map sizes are fixed when the maps are created. */
#define LB_MAX_VIPS		4096	/* VIP ids 0 .. LB_MAX_VIPS - 1 */
#define LB_MAX_BACKENDS		65536	/* backend ids 1 .. LB_MAX_BACKENDS - 1 */
#define LB_BACKEND_INVALID	0	/* id 0 is never a backend: arrays start zeroed */
#define LB_TABLE_SIZE_DEFAULT	65537
#define LB_TABLE_SIZE_MAX	4194301	/* largest table size accepted (a prime) */
#define LB_FLOW_TABLE_DEFAULT	1048576
#define LB_MAX_VLAN_TAGS	2
#define LB_MAX_IPV6_EXT_HDRS	6
#define LB_ICMP6_QUOTE_MAX	128	/* bytes of the offending packet quoted in a packet-too-big */

/* Address families as stored in keys (not AF_*: the kernel headers the BPF
 * side sees do not define those). */
#define LB_FAMILY_IPV4		4
#define LB_FAMILY_IPV6		6

/*
 * VIP lookup key. IPv4 addresses use addr[0] with the rest zero.
 * port 0 is an all-ports VIP. Two kinds of entries share the map:
 *  - flags 0: a service, (address, port, protocol); protocol TCP or UDP.
 *    ICMP echo is answered for an address that has a key with
 *    protocol ICMP (or ICMPv6) and port 0.
 *  - LB_VIP_KEY_FRAG: (address, protocol), port 0: where non-first
 *    fragments, which carry no ports, of that protocol go.
 */
#define LB_VIP_KEY_FRAG		0x01

struct lb_vip_key {
	__be32 addr[4];
	__be16 port;
	__u8 proto;		/* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP(V6) */
	__u8 family;		/* LB_FAMILY_IPV4 or LB_FAMILY_IPV6 */
	__u8 flags;		/* LB_VIP_KEY_* */
	__u8 pad[3];
};
_Static_assert(sizeof(struct lb_vip_key) == 24, "lb_vip_key layout");

/*
 * A bitmap over VIP addresses, so traffic for other addresses is passed
 * without a hash-map lookup: bit lb_addr_hash(address) % LB_VIP_FILTER_BITS
 * is set for every address with an entry in vip_map. A set bit only means
 * "maybe": vip_map decides.
 *
 * An address with an l3 VIP also sets LB_VIP_FILTER_L3(bit), in the same
 * 64-byte line: its flows' entries have no ports, so the data path skips
 * the 5-tuple flow lookup it makes before the VIP lookup for other VIPs.
 * That bit, too, only means "maybe": a collision costs a VIP lookup, never
 * a wrong backend.
 */
#define LB_VIP_FILTER_BITS	65536
#define LB_VIP_FILTER_L3(bit)	((bit) ^ 256)

struct lb_vip_filter {
	__u64 bits[LB_VIP_FILTER_BITS / 64];
};

/* Per-VIP flags. */
#define LB_VIP_F_HASH_L3	0x01	/* hash on addresses only; fragments balanced */
#define LB_VIP_F_ALL_DOWN	0x02	/* health took every backend down and the VIP's
					 * all_down policy is drop: its packets that
					 * follow no flow are dropped (all_down) */

struct lb_vip {
	__u32 id;		/* index into vip_tables and vip_stats */
	__u32 flags;		/* LB_VIP_F_* */
};
_Static_assert(sizeof(struct lb_vip) == 8, "lb_vip layout");

/*
 * The VIP index: vip_map's entries again, in an array the data path reads
 * without a call. A hash-map lookup is a call that hashes the key and
 * compares it out of line; in the live benchmark it was about 3% of a
 * held-back SYN's time, enough to leave a flood behind established flows
 * (docs/performance.md). Key words w (the key's 24 bytes as three 64-bit
 * words) go in bucket lb_vip_index_bucket(w) (lb_hash.h), in
 * either of its LB_VIP_INDEX_WAYS slots; a key whose bucket is full is
 * left out, and the data path asks vip_map for any key the index lacks.
 * The controller writes a whole new index and swaps it in (vip_index is a
 * map of maps, its one slot holds an array of one element), so a packet
 * reads one index or the other, never one half written; and an entry is in
 * the index only while vip_map holds it with the same value.
 */
#define LB_VIP_INDEX_BUCKETS	4096
#define LB_VIP_INDEX_WAYS	2

struct lb_vip_slot {
	__u64 key[3];		/* the struct lb_vip_key; all 0: free */
	struct lb_vip vip;
};

struct lb_vip_index {
	struct lb_vip_slot slot[LB_VIP_INDEX_BUCKETS][LB_VIP_INDEX_WAYS];
};
_Static_assert(sizeof(struct lb_vip_key) == 3 * sizeof(__u64), "lb_vip_key is three words");
_Static_assert(sizeof(struct lb_vip_slot) == 32, "two slots to a cache line");

/*
 * Flow table key: the 5-tuple as the client sent it. For an l3 VIP the
 * ports are zero, so every packet between the two addresses is one flow.
 */
struct lb_flow_key {
	__be32 src[4];
	__be32 dst[4];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};
_Static_assert(sizeof(struct lb_flow_key) == 40, "lb_flow_key layout");

/*
 * The flow table: an array map of sets of LB_FLOW_WAYS entries, one 64-byte
 * cache line each, then one struct lb_flow_head; a flow's set is picked by
 * a hash of its 5-tuple seeded by the head (lb_flowtab.h).
 * An entry holds no key but a 48-bit tag of it, in one 8-byte word with the
 * backend id: a reader on another CPU sees a tag with its own backend id or
 * not at all, never the tag of one flow with the backend of another. A new
 * flow takes a free way of its set, else the way seen longest ago.
 */
#define LB_FLOW_WAYS		4
#define LB_FLOW_ID_MASK		0xffffULL	/* the backend id in tag_id */
#define LB_FLOW_TAG_MASK	(~LB_FLOW_ID_MASK)
/* Array maps created with this flag can be mapped by user space, which
 * walks the table that way (the whole of it at 16 bytes an entry). */
#define LB_FLOW_MAP_FLAGS	BPF_F_MMAPABLE

struct lb_flow_slot {
	__u64 tag_id;		/* lb_flow_tag() | backend id; 0: a free way */
	__u32 seen;		/* low 32 bits of bpf_jiffies64() at the latest packet */
	__u32 block_gen;	/* lb_config.block_gen when the flow's source last passed
				 * the block lists: while it is current, the flow's
				 * packets need not be checked again */
};
_Static_assert(sizeof(struct lb_flow_slot) == 16, "lb_flow_slot layout");

struct lb_flow_set {
	struct lb_flow_slot way[LB_FLOW_WAYS];
};
_Static_assert(sizeof(struct lb_flow_set) == 64, "lb_flow_set: one cache line");
_Static_assert(LB_MAX_BACKENDS - 1 <= LB_FLOW_ID_MASK, "backend ids fit tag_id");

/*
 * The flow table's last element: the seeds of its set and tag hashes,
 * drawn at random when lbd creates the table, so nobody off the node can
 * tell which flows share a set. The program has them as load-time knobs
 * (lb_flow_seed_set, lb_flow_seed_tag); lbd reads them here when it reuses
 * a pinned table. A table created otherwise (tests, benchmarks) has no
 * magic and seeds 0, as the program's defaults are.
 */
#define LB_FLOW_HEAD_MAGIC	0x31776f6c66626cULL	/* "lbflow1" */

struct lb_flow_head {
	__u64 magic;		/* LB_FLOW_HEAD_MAGIC once lbd drew the seeds */
	__u32 seed_set;
	__u32 seed_tag;
	__u8 pad[48];
};
_Static_assert(sizeof(struct lb_flow_head) == sizeof(struct lb_flow_set), "lb_flow_head layout");

/*
 * The flow table as it was before (an LRU hash map of struct lb_flow_key
 * to this), read only to carry its flows into the new table when lbd is
 * upgraded over it (user/flowtab.c).
 */
struct lb_flow_lru {
	__u32 backend_id;
	__u32 block_gen;
	__u64 last_seen;	/* kernel jiffies (bpf_jiffies64()) of the latest packet */
};
_Static_assert(sizeof(struct lb_flow_lru) == 16, "lb_flow_lru layout");

/* Backend flags. */
#define LB_BACKEND_F_UP		0x01	/* flows recorded on it may keep using it */
/* Its VIP hashes on addresses only (LB_VIP_F_HASH_L3): lb_probe, which has
 * no VIP lookup, hashes a tunnel probe without ports too, as lb_xdp would
 * a client's packet, so both get the same outer source. */
#define LB_BACKEND_F_L3		0x02

/*
 * A backend id belongs to one (VIP, address) pair, so draining or taking
 * down a backend of one VIP never moves another VIP's flows. The entry of a
 * removed backend stays, flags cleared, until no flow can point at its id:
 * the maps alone say which ids are free, so a restarted controller needs no
 * other record. The data path counts a flow that follows its entry for
 * vip_id, without looking the VIP up; once the VIP itself is removed, its
 * backends' entries name LB_BACKEND_VIP_NONE, so a new service given the
 * VIP's id can never revive them.
 */
#define LB_BACKEND_VIP_NONE	0xffff
struct lb_backend {
	__be32 addr[4];
	__u8 family;		/* 0: id never used */
	__u8 flags;		/* LB_BACKEND_F_* */
	__u16 vip_id;		/* the VIP it serves; LB_BACKEND_VIP_NONE: retired */
};
_Static_assert(sizeof(struct lb_backend) == 20, "lb_backend layout");

/*
 * A VIP's Maglev table is an inner array map (created with BPF_F_INNER_MAP
 * so sizes may differ between VIPs) of __u64 entries: entry 0 holds M, and
 * each entry after it the backend ids of LB_TABLE_LANES slots, 16 bits
 * each: slot s is in entry LB_TABLE_HDR + s / 4, at bit 16 * (s % 4). An
 * array map spends 8 bytes on an entry whatever its value size, so packing
 * four ids to an entry takes a quarter of the memory, and of the cache
 * lines that new flows touch, of one id per entry. Keeping the size inside
 * the table makes one map update replace size and content together.
 */
#define LB_TABLE_HDR		1
#define LB_TABLE_LANES		4

/* Inner table maps are created with these flags (a map of maps takes only
 * inner maps with the flags of its template). BPF_F_MMAPABLE lets the
 * controller fill a new table and read an installed one through a memory
 * mapping: a map update a 8-byte entry cost it a third of a 1,000-VIP
 * apply (docs/performance.md). */
#define LB_TABLE_MAP_FLAGS	(BPF_F_INNER_MAP | BPF_F_MMAPABLE)
_Static_assert(LB_MAX_BACKENDS <= 65536, "backend ids fit a table lane");

/* Entries of the inner map of a table of m slots. */
#define LB_TABLE_ENTRIES(m)	(LB_TABLE_HDR + ((m) + LB_TABLE_LANES - 1) / LB_TABLE_LANES)

static inline __u32 lb_table_entry_of(__u32 slot)
{
	return LB_TABLE_HDR + slot / LB_TABLE_LANES;
}

static inline __u32 lb_table_lane(__u64 entry, __u32 slot)
{
	return (__u32)(entry >> (16 * (slot % LB_TABLE_LANES))) & 0xffff;
}

/* Put id (below 65536) in slot's lane of its entry, which starts zero. */
static inline void lb_table_lane_set(__u64 *entry, __u32 slot, __u32 id)
{
	*entry |= (__u64)id << (16 * (slot % LB_TABLE_LANES));
}

/*
 * Source block lists: a global deny list and per-VIP allow lists of source
 * prefixes, in LPM tries (deny4, deny6, allow4, allow6). Keys are
 * prefixlen, then the bits the prefix length counts, in network order. An
 * allow list's key starts with the VIP id, so its prefix length is 32 plus
 * the address prefix. Each rule has an id, the index of its packet counter
 * in the per-CPU block_stats array; ids are shared by all four tries.
 */
#define LB_BLOCK_RULES_MAX	65536	/* rule ids 0 .. LB_BLOCK_RULES_MAX - 1 */
#define LB_ALLOW_VIP_BITS	32

struct lb_deny4_key {
	__u32 prefixlen;	/* 0 .. 32 */
	__be32 addr;
};
_Static_assert(sizeof(struct lb_deny4_key) == 8, "lb_deny4_key layout");

struct lb_deny6_key {
	__u32 prefixlen;	/* 0 .. 128 */
	__be32 addr[4];
};
_Static_assert(sizeof(struct lb_deny6_key) == 20, "lb_deny6_key layout");

struct lb_allow4_key {
	__u32 prefixlen;	/* 32 + 0 .. 32 */
	__be32 vip;		/* VIP id, network order: the first 32 bits matched */
	__be32 addr;
};
_Static_assert(sizeof(struct lb_allow4_key) == 12, "lb_allow4_key layout");

struct lb_allow6_key {
	__u32 prefixlen;	/* 32 + 0 .. 128 */
	__be32 vip;		/* VIP id, network order */
	__be32 addr[4];
};
_Static_assert(sizeof(struct lb_allow6_key) == 24, "lb_allow6_key layout");

/*
 * Which sources the deny list may hold, read before its tries so that a
 * source no rule comes near costs an inlined array read rather than a trie
 * walk (several hundred ns with thousands of prefixes). IPv4: bit
 * lb_deny4_bit(src), the source's /16, set exactly when some rule overlaps
 * that /16. IPv6: bit lb_deny6_bit(src), a hash of the source's /32, set
 * for every /32 a rule overlaps (all of them for rules shorter than /16):
 * a set bit only means maybe. Kept by user/blocklist.c.
 */
#define LB_DENY_FILTER_BITS	65536

struct lb_deny_filter {
	__u64 v4[LB_DENY_FILTER_BITS / 64];
	__u64 v6[LB_DENY_FILTER_BITS / 64];
};

/* Where a rule came from: the config (replaced on reload) or an operator
 * (lbctl, kept across reloads). */
#define LB_RULE_F_OPERATOR	0x01

struct lb_block_rule {
	__u32 id;		/* index into block_stats */
	__u8 flags;		/* LB_RULE_F_* */
	__u8 plen;		/* the address prefix length: an LPM lookup returns the
				 * value of the longest match, so user space tells an
				 * exact one by this */
	__u8 pad[2];
};
_Static_assert(sizeof(struct lb_block_rule) == 8, "lb_block_rule layout");

/* Per-CPU, indexed by rule id: packets the rule matched (a deny rule: dropped;
 * an allow rule: let through). */
struct lb_block_stats {
	__u64 packets;
};
_Static_assert(sizeof(struct lb_block_stats) == 8, "lb_block_stats layout");

/* Global runtime settings, one entry, written by the controller. */
struct lb_config {
	__u8 src_mac[6];	/* the interface's MAC */
	__u8 next_hop_mac[6];	/* where every encapsulated frame goes */
	__u16 mtu;		/* largest IP packet the interface may send */
	__u8 src4_plen;		/* 32: src4 fixed; less: low bits per flow */
	__u8 src6_plen;		/* 128: src6 fixed; less: low bits per flow */
	__be32 src4;		/* outer source for IPv4 tunnels */
	__be32 src6[4];		/* outer source for IPv6 tunnels */
	__u32 flow_cap;		/* flow entries one CPU may create per second; 0: no cap
				 * (the new-flow flood guard, lb_guard_admit()) */
	/* Rules in the block lists, kept by user/blocklist.c: a list whose
	 * count is 0 is not looked up, so empty lists cost a compare. */
	__u32 deny4_rules;	/* entries in deny4 */
	__u32 deny6_rules;	/* entries in deny6 */
	__u32 allow_rules;	/* entries in allow4 and allow6, all VIPs together */
	__u32 block_gen;	/* moved on by every change to the lists, so flow
				 * entries stamped before it are checked again */
};
_Static_assert(sizeof(struct lb_config) == 56, "lb_config layout");

/* Why a packet was dropped. Each reason has a counter. */
enum lb_drop_reason {
	LB_DROP_NONE = 0,
	LB_DROP_ETH_TRUNC,	/* Ethernet or VLAN header cut short */
	LB_DROP_IP4_TRUNC,	/* IPv4 header cut short */
	LB_DROP_IP4_BAD_IHL,	/* IHL < 5 or version != 4 */
	LB_DROP_IP4_BAD_LEN,	/* total length below the header or past the frame */
	LB_DROP_IP6_TRUNC,	/* IPv6 header cut short */
	LB_DROP_IP6_BAD_VER,	/* version != 6 */
	LB_DROP_IP6_BAD_LEN,	/* payload length past the frame */
	LB_DROP_IP6_EXT,	/* extension header cut short, or too many of them */
	LB_DROP_L4_TRUNC,	/* TCP, UDP or ICMP header cut short */
	LB_DROP_FRAG,		/* fragment to a 5tuple VIP */
	LB_DROP_NO_BACKEND,	/* the VIP has no table, or the slot holds no backend */
	LB_DROP_BAD_BACKEND,	/* backend id with no usable backend entry */
	LB_DROP_NO_CONFIG,	/* no tunnel source for the backend's family */
	LB_DROP_TOO_BIG,	/* too big to encapsulate and no ICMP could be sent */
	LB_DROP_ADJUST,		/* the kernel refused to grow or shrink the frame */
	LB_DROP_ALL_DOWN,	/* every backend of the VIP is down by health, policy drop */
	LB_DROP_TCP_BAD_DOFF,	/* TCP data offset under 5, or past the end of the IP packet */
	LB_DROP_UDP_BAD_LEN,	/* UDP length under 8, or (unfragmented) past the IP payload */
	LB_DROP_ICMP_BAD_QUOTE,	/* ICMP error to a VIP address whose quoted header is no
				 * valid IP header of its family (version, IHL, lengths) */
	LB_DROP_DENIED,		/* source in the deny list */
	LB_DROP_NOT_ALLOWED,	/* source not in the VIP's allow list */
	LB_DROP_MAX,
};

/* Things worth counting that are not drops. */
enum lb_event {
	LB_EV_ICMP_ECHO = 0,	/* echo request to a VIP answered */
	LB_EV_TOO_BIG_SENT,	/* frag-needed / packet-too-big sent to a client */
	LB_EV_ICMP_STEERED,	/* frag-needed / packet-too-big steered to a backend */
	LB_EV_FLOW_REPICK,	/* flow's backend gone: picked again from the table */
	LB_EV_FLOW_INSERT_FAIL,	/* flow table update failed */
	LB_EV_GUARD_SKIP,	/* new flow not recorded: this CPU reached flow_cap this second */
	LB_EV_MAX,
};

#define LB_VERDICT_MAX		5	/* XDP_ABORTED .. XDP_REDIRECT */

/* Counter arrays are sized with room to spare, so that a new reason or
 * event keeps the pinned lb_stats map's layout and an upgrade adopts it. */
#define LB_DROP_SLOTS		48
#define LB_EV_SLOTS		16
_Static_assert(LB_DROP_MAX <= LB_DROP_SLOTS, "room for every drop reason");
_Static_assert(LB_EV_MAX <= LB_EV_SLOTS, "room for every event");

/* Per-CPU, one entry. */
struct lb_global_stats {
	__u64 verdict[LB_VERDICT_MAX];	/* packets per XDP action */
	__u64 drop[LB_DROP_SLOTS];	/* packets per drop reason */
	__u64 event[LB_EV_SLOTS];
};
_Static_assert(sizeof(struct lb_global_stats) ==
	       (LB_VERDICT_MAX + LB_DROP_SLOTS + LB_EV_SLOTS) * 8, "lb_global_stats layout");

/* The new-flow flood guard's state, per CPU, one entry: flow entries
 * created in the current one-second window. Not a counter: LB_EV_GUARD_SKIP
 * counts what the guard held back. */
struct lb_guard {
	__u64 window;		/* bpf_ktime_get_coarse_ns() at the window's start */
	__u64 created;		/* entries created since */
	__u64 tick;		/* bpf_jiffies64() when the clock was last read */
};
_Static_assert(sizeof(struct lb_guard) == 24, "lb_guard layout");

/* Per-CPU, indexed by VIP id. */
struct lb_vip_stats {
	__u64 packets;
	__u64 bytes;		/* frame bytes as received */
	__u64 new_flows;	/* flow table entries created */
	__u64 nonsyn_miss;	/* TCP non-SYN with no flow entry: eviction or a moved flow */
};
_Static_assert(sizeof(struct lb_vip_stats) == 32, "lb_vip_stats layout");

/* Per-CPU, indexed by backend id. */
struct lb_backend_stats {
	__u64 packets;
	__u64 bytes;		/* frame bytes as received */
};
_Static_assert(sizeof(struct lb_backend_stats) == 16, "lb_backend_stats layout");

/* The kernel's clocks read together, by lb_clock.bpf.c, for the controller:
 * flow entries carry bpf_jiffies64() times, which user space cannot read
 * otherwise. */
struct lb_clock_reading {
	__u64 jiffies;		/* bpf_jiffies64() */
	__u64 mono_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
};
_Static_assert(sizeof(struct lb_clock_reading) == 16, "lb_clock_reading layout");

/*
 * Health probes through the tunnel (lb_probe.bpf.c, at the egress of the
 * balancer's NIC). lbd marks a probe's socket (SO_MARK) with the tag in
 * the high 16 bits and the backend id in the low 16; the program wraps
 * that socket's packets in the outer header lb_xdp would give a client
 * packet for the backend. A mark without the tag is someone else's and
 * is left alone.
 */
#define LB_PROBE_MARK		0x51ce0000u
#define LB_PROBE_MARK_MASK	0xffff0000u
_Static_assert(LB_MAX_BACKENDS - 1 <= (__u32)~LB_PROBE_MARK_MASK, "backend ids fit a mark");

/* What lb_probe did with marked packets, per-CPU, one entry. Unmarked
 * packets pass uncounted. */
enum lb_probe_counter {
	LB_PROBE_ENCAP = 0,	/* encapsulated and sent on */
	LB_PROBE_NO_BACKEND,	/* the mark names no backend in use: dropped */
	LB_PROBE_NO_CONFIG,	/* no lb_cfg, no next-hop MAC yet, or no tunnel source
				 * for the family: dropped */
	LB_PROBE_NOT_IP,	/* not IPv4 or IPv6 behind Ethernet: dropped */
	LB_PROBE_TOO_BIG,	/* larger than the MTU once encapsulated: dropped */
	LB_PROBE_ADJUST,	/* the kernel refused to grow the packet: dropped */
	LB_PROBE_MAX,
};

struct lb_probe_stats {
	__u64 count[LB_PROBE_MAX];
};

/* Backend-side decapsulation counters, per-CPU, one entry. */
enum lb_decap_counter {
	LB_DECAP_IPIP = 0,	/* IPv4 in IPv4 stripped */
	LB_DECAP_IP6IP,		/* IPv6 in IPv4 stripped */
	LB_DECAP_IPIP6,		/* IPv4 in IPv6 stripped */
	LB_DECAP_IP6IP6,	/* IPv6 in IPv6 stripped */
	LB_DECAP_NOT_LOCAL,	/* tunnel packet not addressed to this host: passed */
	LB_DECAP_MALFORMED,	/* tunnel packet cut short: dropped */
	LB_DECAP_PASS,		/* not a tunnel packet: passed */
	LB_DECAP_ECN_DROP,	/* outer CE over an inner packet that is not ECN-capable:
				 * dropped, as RFC 6040 asks */
	LB_DECAP_MAX,
};

struct lb_decap_stats {
	__u64 count[LB_DECAP_MAX];
};

#endif /* LB_ABI_H */
