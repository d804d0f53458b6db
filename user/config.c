// SPDX-License-Identifier: GPL-2.0-only
/*
 * lbd's configuration file: read, parse with jansson, validate, sort.
 *
 * Validation walks the JSON tree once and carries on after an error, so one
 * run lists every problem. A context holds the JSON pointer of the value
 * being looked at, and each error becomes "POINTER: message". Within an
 * object, unknown keys are reported first, then the known keys in the order
 * of docs/config.md; arrays in file order; checks that span several values
 * (duplicates, tunnel source families, totals) come last.
 *
 * A value that failed is left unusable (family 0, a cleared flag) and the
 * checks that span several values skip it, so one mistake is reported once,
 * not again by every check that depends on it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "lb_abi.h"
#include "maglev.h"

#define CONFIG_IFNAME_MAX	15
#define CONFIG_NAME_MAX		63
#define CONFIG_MTU_MIN		1280
#define CONFIG_MTU_MAX		9216
#define CONFIG_FLOW_TABLE_MIN	1024
#define CONFIG_FLOW_TABLE_MAX	67108864
#define CONFIG_TABLE_SLOTS_MAX	67108864	/* in all VIPs: 128 MiB of kernel memory */
/* The flood guard: flow entries one CPU may create per second (0: no cap).
 * The default is argued in docs/architecture.md ("New-flow flood guard"). */
#define CONFIG_NEW_FLOW_CAP_DEFAULT	65536
#define CONFIG_NEW_FLOW_CAP_MAX		16777216
#define CONFIG_SRC4_PLEN_MIN	16
#define CONFIG_SRC6_PLEN_MIN	96	/* per-flow IPv6 sources vary only the low 32 bits */
#define CONFIG_WEIGHT_DEFAULT	100
#define CONFIG_HC_INTERVAL_MIN	100
#define CONFIG_HC_INTERVAL_MAX	3600000
#define CONFIG_HC_INTERVAL_DEF	2000
#define CONFIG_HC_TIMEOUT_MIN	50
#define CONFIG_HC_TIMEOUT_DEF	1000
#define CONFIG_HC_COUNT_MAX	100
#define CONFIG_HC_RISE_DEF	2
#define CONFIG_HC_FALL_DEF	3
#define CONFIG_HC_STATUS_DEF	200
#define CONFIG_SOCKET_DEFAULT	"/run/sluice/lbd.sock"
#define CONFIG_STATE_DEFAULT	"/var/lib/sluice"
#define CONFIG_GROUP_DEFAULT	"root"
#define CONFIG_NEED_DEFAULT	1
/* Routing tables the kernel keeps for itself: default, main, local. */
#define CONFIG_TABLE_KERNEL_MIN	253
#define CONFIG_TABLE_KERNEL_MAX	255
#define CONFIG_KEY_SHOWN	64	/* bytes of an unknown key shown in a pointer */
#define CONFIG_READ_CHUNK	65536

_Static_assert(sizeof(((struct config *)0)->control_socket) ==
	       sizeof(((struct sockaddr_un *)0)->sun_path), "control_socket fits sun_path");
_Static_assert(LB_TABLE_SIZE_DEFAULT <= LB_TABLE_SIZE_MAX, "default table size");
_Static_assert(LB_MAX_BACKENDS - 1 < LB_TABLE_SIZE_DEFAULT,
	       "any backend count fits the default table");

/* VIP fields that the checks across VIPs rely on, once they parsed. */
#define VIP_OK_NAME		0x01
#define VIP_OK_PORT		0x02
#define VIP_OK_KEY		0x04	/* address, port and protocol */

struct config_ctx {
	const char *name;		/* the file, for syntax and top-level errors */
	struct config_errors *errs;	/* NULL: count only */
	size_t n_errors;
	bool oom;
	char *path;			/* JSON pointer of the current value */
	size_t path_len, path_cap;
	unsigned char *vip_ok;		/* VIP_OK_* per VIP, in file order */
	bool tunnel_seen;		/* tunnel_source was an object */
	bool src_given[2];		/* a key for IPv4 / IPv6 was there, valid or not */
};

static const char *const xdp_modes[] = { "native", "generic", NULL };
static const char *const protocols[] = { "tcp", "udp", NULL };
static const __u8 protocol_nums[] = { IPPROTO_TCP, IPPROTO_UDP };
static const char *const hashes[] = { "5tuple", "l3", NULL };
static const char *const hc_types[] = { "tcp", "none", "http", "https", NULL };
static const char *const hc_vias[] = { "direct", "tunnel", NULL };
static const char *const all_downs[] = { "keep", "drop", NULL };
static const char *const states[] = { "active", "drain", "down", NULL };

/* ------------------------------------------------------------------ */
/* Error lines */

__attribute__((format(printf, 2, 0)))
static int errs_addv(struct config_errors *errs, const char *fmt, va_list ap)
{
	char **lines, *line;

	if (vasprintf(&line, fmt, ap) < 0)
		return -ENOMEM;
	lines = realloc(errs->lines, (errs->n + 1) * sizeof(*lines));
	if (!lines) {
		free(line);
		return -ENOMEM;
	}
	lines[errs->n++] = line;
	errs->lines = lines;
	return 0;
}

__attribute__((format(printf, 2, 3)))
static int errs_add(struct config_errors *errs, const char *fmt, ...)
{
	va_list ap;
	int ret;

	if (!errs)
		return 0;
	va_start(ap, fmt);
	ret = errs_addv(errs, fmt, ap);
	va_end(ap);
	return ret;
}

void config_errors_clear(struct config_errors *errs)
{
	size_t i;

	if (!errs)
		return;
	for (i = 0; i < errs->n; i++)
		free(errs->lines[i]);
	free(errs->lines);
	errs->lines = NULL;
	errs->n = 0;
}

/* An error about the current value. The document itself is named by the file. */
__attribute__((format(printf, 2, 3)))
static void ctx_err(struct config_ctx *c, const char *fmt, ...)
{
	char *msg;
	va_list ap;

	c->n_errors++;
	if (!c->errs)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0) {
		c->oom = true;
		va_end(ap);
		return;
	}
	va_end(ap);
	if (errs_add(c->errs, "%s: %s", c->path_len ? c->path : c->name, msg))
		c->oom = true;
	free(msg);
}

/* ------------------------------------------------------------------ */
/* The JSON pointer of the current value */

static void path_put(struct config_ctx *c, const char *s, size_t n)
{
	char *p;
	size_t cap;

	if (c->path_len + n + 1 > c->path_cap) {
		cap = (c->path_len + n + 1) * 2;
		p = realloc(c->path, cap);
		if (!p) {
			c->oom = true;
			return;
		}
		c->path = p;
		c->path_cap = cap;
	}
	memcpy(c->path + c->path_len, s, n);
	c->path_len += n;
	c->path[c->path_len] = '\0';
}

/*
 * Append "/key", escaped as RFC 6901 says ('~' as "~0", '/' as "~1"). An
 * error line must stay one readable line whatever a stray key holds, so
 * control characters show as '?' and a long key is cut (at a UTF-8
 * character boundary) with "...". Returns the length to restore.
 */
static size_t path_push(struct config_ctx *c, const char *key)
{
	size_t mark = c->path_len, i, n = strlen(key);
	unsigned char ch;

	path_put(c, "/", 1);
	for (i = 0; i < n; i++) {
		ch = (unsigned char)key[i];
		if (i >= CONFIG_KEY_SHOWN && (ch & 0xc0) != 0x80) {
			path_put(c, "...", 3);
			break;
		}
		if (ch == '~')
			path_put(c, "~0", 2);
		else if (ch == '/')
			path_put(c, "~1", 2);
		else if (ch < 0x20 || ch == 0x7f)
			path_put(c, "?", 1);
		else
			path_put(c, key + i, 1);
	}
	return mark;
}

static size_t path_push_index(struct config_ctx *c, size_t i)
{
	size_t mark = c->path_len;
	char buf[32];

	snprintf(buf, sizeof(buf), "/%zu", i);
	path_put(c, buf, strlen(buf));
	return mark;
}

static void path_pop(struct config_ctx *c, size_t mark)
{
	c->path_len = mark;
	if (c->path)
		c->path[mark] = '\0';
}

/*
 * An error about obj[key], which may be missing. The message is formatted
 * before the key is pushed: its arguments may point into c->path, which the
 * push can move.
 */
__attribute__((format(printf, 3, 4)))
static void ctx_err_at(struct config_ctx *c, const char *key, const char *fmt, ...)
{
	size_t mark;
	char *msg;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (ret < 0) {
		c->n_errors++;
		c->oom = true;
		return;
	}
	mark = path_push(c, key);
	ctx_err(c, "%s", msg);
	path_pop(c, mark);
	free(msg);
}

/* ------------------------------------------------------------------ */
/* Typed fields. Getters return 1 when *out was set, 0 when the key is absent
 * (reported if required), -1 when an error was reported. */

static const char *type_kind(json_type t)
{
	switch (t) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "an unknown type";
}

/* Check the type of the current value. */
static bool expect_type(struct config_ctx *c, const json_t *j, json_type t)
{
	if (json_typeof(j) == t)
		return true;
	ctx_err(c, "expected %s, got %s", type_kind(t), type_kind(json_typeof(j)));
	return false;
}

static void check_keys(struct config_ctx *c, json_t *obj, const char *const *known)
{
	const char *key;
	json_t *val;
	size_t i, mark;

	json_object_foreach(obj, key, val) {
		for (i = 0; known[i] && strcmp(known[i], key); i++)
			;
		if (known[i])
			continue;
		mark = path_push(c, key);
		ctx_err(c, "unknown key");
		path_pop(c, mark);
	}
}

static json_t *field(struct config_ctx *c, json_t *obj, const char *key, bool required)
{
	json_t *v = json_object_get(obj, key);

	if (!v && required)
		ctx_err_at(c, key, "missing required key");
	return v;
}

/* obj[key], if present and of type t. */
static int get_typed(struct config_ctx *c, json_t *obj, const char *key, bool required,
		     json_type t, json_t **out)
{
	json_t *v = field(c, obj, key, required);
	size_t mark;
	bool ok;

	if (!v)
		return 0;
	mark = path_push(c, key);
	ok = expect_type(c, v, t);
	path_pop(c, mark);
	*out = v;
	return ok ? 1 : -1;
}

static int get_bool(struct config_ctx *c, json_t *obj, const char *key, bool *out)
{
	json_t *v = field(c, obj, key, false);

	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		ctx_err_at(c, key, "expected true or false, got %s", type_kind(json_typeof(v)));
		return -1;
	}
	*out = json_is_true(v);
	return 1;
}

static int get_int(struct config_ctx *c, json_t *obj, const char *key, bool required,
		   long long lo, long long hi, long long *out)
{
	json_t *v;
	long long n;
	int ret;

	ret = get_typed(c, obj, key, required, JSON_INTEGER, &v);
	if (ret <= 0)
		return ret;
	n = json_integer_value(v);
	if (n < lo || n > hi) {
		ctx_err_at(c, key, "%lld is out of range %lld..%lld", n, lo, hi);
		return -1;
	}
	*out = n;
	return 1;
}

static int get_string(struct config_ctx *c, json_t *obj, const char *key, bool required,
		      const char **out)
{
	json_t *v;
	int ret;

	ret = get_typed(c, obj, key, required, JSON_STRING, &v);
	if (ret > 0)
		*out = json_string_value(v);
	return ret;
}

/* "a" or "b"; "a", "b" or "c" */
static void enum_list(const char *const *names, char *buf, size_t len)
{
	size_t i, n, off = 0;

	for (n = 0; names[n]; n++)
		;
	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++)
		off += snprintf(buf + off, len - off, "%s\"%s\"",
				!i ? "" : i == n - 1 ? " or " : ", ", names[i]);
}

/* *out is the index of the name in names. */
static int get_enum(struct config_ctx *c, json_t *obj, const char *key, bool required,
		    const char *const *names, int *out)
{
	const char *s;
	char list[128];
	int ret, i;

	ret = get_string(c, obj, key, required, &s);
	if (ret <= 0)
		return ret;
	for (i = 0; names[i]; i++) {
		if (!strcmp(names[i], s)) {
			*out = i;
			return 1;
		}
	}
	enum_list(names, list, sizeof(list));
	ctx_err_at(c, key, "must be %s", list);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Addresses */

struct config_addr {
	__u8 family;
	__be32 addr[4];
};

static bool addr_parse(const char *s, int family, struct config_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (family != LB_FAMILY_IPV6 && inet_pton(AF_INET, s, a->addr) == 1) {
		a->family = LB_FAMILY_IPV4;
		return true;
	}
	if (family != LB_FAMILY_IPV4 && inet_pton(AF_INET6, s, a->addr) == 1) {
		a->family = LB_FAMILY_IPV6;
		return true;
	}
	return false;
}

/*
 * Why an address cannot be a VIP, a backend or a tunnel source; NULL when
 * it can. IPv4: 0/8, 127/8 and 224/3 (multicast, reserved, broadcast);
 * IPv6: ::, ::1, ff00::/8 and IPv4-mapped addresses, which would never be
 * matched on the wire.
 */
static const char *addr_problem(const struct config_addr *a)
{
	const __u8 *b = (const __u8 *)a->addr;
	static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const __u8 zero[15];

	if (a->family == LB_FAMILY_IPV4) {
		if (b[0] == 0 || b[0] == 127 || b[0] >= 224)
			return "not a unicast address";
		return NULL;
	}
	if (b[0] == 0xff || (!memcmp(b, zero, 15) && b[15] <= 1))
		return "not a unicast address";
	if (!memcmp(b, mapped, sizeof(mapped)))
		return "an IPv4-mapped address: write it as IPv4";
	return NULL;
}

static void addr_text(const struct config_addr *a, char *buf, size_t len)
{
	int af = a->family == LB_FAMILY_IPV4 ? AF_INET : AF_INET6;

	if (!inet_ntop(af, a->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* family 0: either. a->family stays 0 unless the address is usable. */
static int get_addr(struct config_ctx *c, json_t *obj, const char *key, bool required,
		    int family, struct config_addr *a)
{
	const char *s, *problem;
	int ret;

	memset(a, 0, sizeof(*a));
	ret = get_string(c, obj, key, required, &s);
	if (ret <= 0)
		return ret;
	if (!addr_parse(s, family, a)) {
		ctx_err_at(c, key, "not an %s address", family == LB_FAMILY_IPV4 ? "IPv4" :
			   family == LB_FAMILY_IPV6 ? "IPv6" : "IP");
		return -1;
	}
	problem = addr_problem(a);
	if (problem) {
		a->family = 0;
		ctx_err_at(c, key, "%s", problem);
		return -1;
	}
	return 1;
}

/* "ADDRESS/LENGTH", the length in decimal without leading zeros. */
static bool prefix_parse(const char *s, int family, struct config_addr *a, unsigned int *plen)
{
	const char *slash = strchr(s, '/'), *p;
	char buf[INET6_ADDRSTRLEN];
	unsigned int n = 0;

	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return false;
	memcpy(buf, s, slash - s);
	buf[slash - s] = '\0';
	if (!addr_parse(buf, family, a))
		return false;
	p = slash + 1;
	if (!*p || strlen(p) > 3 || (p[0] == '0' && p[1]))
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		n = n * 10 + (unsigned int)(*p - '0');
	}
	*plen = n;
	return true;
}

/* Clear the host bits; true when some were set. */
static bool prefix_mask(struct config_addr *a, unsigned int plen)
{
	__u8 *b = (__u8 *)a->addr;
	unsigned int bits = a->family == LB_FAMILY_IPV4 ? 32 : 128, i;
	bool set = false;
	__u8 keep;

	for (i = plen / 8; i < bits / 8; i++) {
		keep = i == plen / 8 ? (__u8)(0xff00 >> (plen % 8)) : 0;
		set |= (b[i] & ~keep) != 0;
		b[i] &= keep;
	}
	return set;
}

static int get_prefix(struct config_ctx *c, json_t *obj, const char *key, int family,
		      struct config_addr *a, unsigned int *plen)
{
	unsigned int min = family == LB_FAMILY_IPV4 ? CONFIG_SRC4_PLEN_MIN : CONFIG_SRC6_PLEN_MIN;
	unsigned int max = family == LB_FAMILY_IPV4 ? 32 : 128;
	const char *v = family == LB_FAMILY_IPV4 ? "IPv4" : "IPv6";
	const char *s, *problem;
	char text[INET6_ADDRSTRLEN];
	int ret;

	ret = get_string(c, obj, key, false, &s);
	if (ret <= 0)
		return ret;
	if (!prefix_parse(s, family, a, plen)) {
		ctx_err_at(c, key, "not an %s prefix (ADDRESS/LENGTH)", v);
		return -1;
	}
	if (*plen < min || *plen > max) {
		ctx_err_at(c, key, "prefix length %u is out of range %u..%u", *plen, min, max);
		return -1;
	}
	if (prefix_mask(a, *plen)) {
		addr_text(a, text, sizeof(text));
		ctx_err_at(c, key, "host bits are set: the prefix is %s/%u", text, *plen);
		return -1;
	}
	problem = addr_problem(a);
	if (problem) {
		ctx_err_at(c, key, "%s", problem);
		return -1;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* Top-level settings */

/* What the kernel's dev_valid_name() accepts, in at most 15 bytes. */
static void interface_parse(struct config_ctx *c, json_t *root, struct config *cfg)
{
	size_t len;
	const char *s;

	if (get_string(c, root, "interface", true, &s) <= 0)
		return;
	len = strlen(s);
	if (len < 1 || len > CONFIG_IFNAME_MAX) {
		ctx_err_at(c, "interface", "must be 1..%d bytes long", CONFIG_IFNAME_MAX);
		return;
	}
	if (!strcmp(s, ".") || !strcmp(s, "..") || strpbrk(s, "/: \t\n\v\f\r")) {
		ctx_err_at(c, "interface", "not a valid interface name");
		return;
	}
	memcpy(cfg->interface, s, len + 1);
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Exactly "xx:xx:xx:xx:xx:xx", hex digits in either case. */
static bool mac_parse(const char *s, __u8 mac[6])
{
	int i, hi, lo;

	if (strlen(s) != 17)
		return false;
	for (i = 0; i < 6; i++) {
		hi = hex_digit(s[3 * i]);
		lo = hex_digit(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return false;
		mac[i] = (__u8)(hi << 4 | lo);
	}
	return true;
}

static void next_hop_parse(struct config_ctx *c, json_t *root, struct config *cfg)
{
	static const __u8 zero[6];
	const char *s;

	cfg->next_hop_auto = true;
	if (get_string(c, root, "next_hop", false, &s) <= 0 || !strcmp(s, "auto"))
		return;
	cfg->next_hop_auto = false;
	if (!mac_parse(s, cfg->next_hop))
		ctx_err_at(c, "next_hop", "not \"auto\" or a MAC address (xx:xx:xx:xx:xx:xx)");
	else if ((cfg->next_hop[0] & 0x01) || !memcmp(cfg->next_hop, zero, 6))
		ctx_err_at(c, "next_hop", "not a unicast MAC address");
}

/*
 * One family of tunnel_source: the fixed key or the prefix key, not both.
 * Returns the prefix length of a valid source, 0 otherwise.
 */
static unsigned int tunnel_family(struct config_ctx *c, json_t *ts, int family,
				  struct config_addr *a)
{
	const char *fixed = family == LB_FAMILY_IPV4 ? "ipv4" : "ipv6";
	const char *prefix = family == LB_FAMILY_IPV4 ? "ipv4_prefix" : "ipv6_prefix";
	struct config_addr pa;
	unsigned int plen = 0;
	int rf, rp;

	rf = get_addr(c, ts, fixed, false, family, a);
	rp = get_prefix(c, ts, prefix, family, &pa, &plen);
	c->src_given[family == LB_FAMILY_IPV6] = rf || rp;
	if (rf && rp) {
		ctx_err(c, "%s and %s cannot both be set", fixed, prefix);
		return 0;
	}
	if (rf > 0)
		return family == LB_FAMILY_IPV4 ? 32 : 128;
	if (rp > 0) {
		*a = pa;
		return plen;
	}
	return 0;
}

static void tunnel_parse(struct config_ctx *c, json_t *root, struct config *cfg)
{
	static const char *const keys[] = { "ipv4", "ipv4_prefix", "ipv6", "ipv6_prefix", NULL };
	struct config_addr a;
	unsigned int plen;
	json_t *ts;
	size_t mark;

	if (get_typed(c, root, "tunnel_source", true, JSON_OBJECT, &ts) <= 0)
		return;
	mark = path_push(c, "tunnel_source");
	c->tunnel_seen = true;
	check_keys(c, ts, keys);
	plen = tunnel_family(c, ts, LB_FAMILY_IPV4, &a);
	if (plen) {
		cfg->has_src4 = true;
		cfg->src4 = a.addr[0];
		cfg->src4_plen = (__u8)plen;
	}
	plen = tunnel_family(c, ts, LB_FAMILY_IPV6, &a);
	if (plen) {
		cfg->has_src6 = true;
		memcpy(cfg->src6, a.addr, sizeof(cfg->src6));
		cfg->src6_plen = (__u8)plen;
	}
	if (!c->src_given[0] && !c->src_given[1])
		ctx_err(c, "needs ipv4, ipv4_prefix, ipv6 or ipv6_prefix");
	path_pop(c, mark);
}

static void abspath_parse(struct config_ctx *c, json_t *root, const char *key, char *dst,
			  size_t cap, const char *def)
{
	const char *s;
	size_t len;

	snprintf(dst, cap, "%s", def);
	if (get_string(c, root, key, false, &s) <= 0)
		return;
	len = strlen(s);
	if (s[0] != '/')
		ctx_err_at(c, key, "must be an absolute path");
	else if (len >= cap)
		ctx_err_at(c, key, "must be at most %zu bytes long", cap - 1);
	else
		memcpy(dst, s, len + 1);
}

/* "ADDRESS:PORT", "[IPV6]:PORT": an address to listen on, the
 * unspecified ones (0.0.0.0, ::) included, and a port 1..65535. */
static bool listen_split(const char *s, struct config_addr *a, unsigned long *port)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':'), *p;
	size_t hlen = colon ? (size_t)(colon - s) : 0;
	char *end;

	if (!colon || hlen == 0 || hlen >= sizeof(host) || !colon[1] || colon[1] == '0')
		return false;
	for (p = colon + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	*port = strtoul(colon + 1, &end, 10);
	if (*port < 1 || *port > 65535)
		return false;
	if (s[0] == '[') {
		if (hlen < 3 || s[hlen - 1] != ']')
			return false;
		memcpy(host, s + 1, hlen - 2);
		host[hlen - 2] = '\0';
		return addr_parse(host, LB_FAMILY_IPV6, a);
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	return addr_parse(host, LB_FAMILY_IPV4, a);
}

static void listen_parse(struct config_ctx *c, json_t *root, struct config *cfg)
{
	struct config_addr a;
	unsigned long port;
	const char *s;

	if (get_string(c, root, "metrics_listen", false, &s) <= 0 || !s[0])
		return;
	if (strlen(s) >= sizeof(cfg->metrics_listen) || !listen_split(s, &a, &port)) {
		ctx_err_at(c, "metrics_listen", "must be \"ADDRESS:PORT\" (IPv6: \"[ADDRESS]:PORT\"), "
			   "port 1..65535");
		return;
	}
	snprintf(cfg->metrics_listen, sizeof(cfg->metrics_listen), "%s", s);
	cfg->metrics_family = a.family;
	memcpy(cfg->metrics_addr, a.addr, sizeof(cfg->metrics_addr));
	cfg->metrics_port = (__u16)port;
}

/* A group name as useradd takes it: [a-z_][a-z0-9_-]*, at most 32 bytes,
 * an optional '$' last. Whether the group exists is lbd's to check. */
static bool group_name_ok(const char *s)
{
	size_t i, len = strlen(s);

	if (!len || len > CONFIG_GROUP_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if ((ch >= 'a' && ch <= 'z') || ch == '_' ||
		    (i && ((ch >= '0' && ch <= '9') || ch == '-')) ||
		    (i && i == len - 1 && ch == '$'))
			continue;
		return false;
	}
	return true;
}

static void group_parse(struct config_ctx *c, json_t *root, const char *key, char *dst,
			const char *def)
{
	const char *s;

	snprintf(dst, CONFIG_GROUP_MAX + 1, "%s", def);
	if (get_string(c, root, key, false, &s) <= 0)
		return;
	if (!group_name_ok(s))
		ctx_err_at(c, key, "not a group name (a-z, 0-9, '_' and '-', not starting with "
			   "a digit or '-', at most %d bytes)", CONFIG_GROUP_MAX);
	else
		snprintf(dst, CONFIG_GROUP_MAX + 1, "%s", s);
}

/* ------------------------------------------------------------------ */
/* Duplicates: sort indexes by key, then by index, so the first of each run
 * is the earliest in the file. */

struct dup_sort {
	const char *base;
	size_t size;
	int (*cmp)(const void *a, const void *b);
};

static int dup_order(const void *pa, const void *pb, void *arg)
{
	const struct dup_sort *d = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int r = d->cmp(d->base + a * d->size, d->base + b * d->size);

	if (r)
		return r;
	return a < b ? -1 : a > b;
}

/*
 * first[i] = the earliest item equal to item i, for the items listed in
 * idx[0..n-1] (reordered); first[] of other items is left alone.
 */
static void dups_find(const struct dup_sort *d, size_t *idx, size_t n, size_t *first)
{
	size_t i, head = 0;

	qsort_r(idx, n, sizeof(*idx), dup_order, (void *)d);
	for (i = 0; i < n; i++) {
		if (!i || d->cmp(d->base + idx[i - 1] * d->size, d->base + idx[i] * d->size))
			head = idx[i];
		first[idx[i]] = head;
	}
}

static int addr_cmp(__u8 fa, const __be32 *a, __u8 fb, const __be32 *b)
{
	if (fa != fb)
		return fa < fb ? -1 : 1;
	return memcmp(a, b, 4 * sizeof(*a));
}

static int backend_cmp(const void *pa, const void *pb)
{
	const struct config_backend *a = pa, *b = pb;

	return addr_cmp(a->family, a->addr, b->family, b->addr);
}

/* The fragment entry's key: address and protocol. */
static int vip_frag_cmp(const void *pa, const void *pb)
{
	const struct config_vip *a = pa, *b = pb;
	int r = addr_cmp(a->family, a->addr, b->family, b->addr);

	if (r)
		return r;
	return a->proto < b->proto ? -1 : a->proto > b->proto;
}

/* The canonical order, and the service key: address, port, protocol. */
static int vip_cmp(const void *pa, const void *pb)
{
	const struct config_vip *a = pa, *b = pb;
	int r = addr_cmp(a->family, a->addr, b->family, b->addr);

	if (r)
		return r;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return a->proto < b->proto ? -1 : a->proto > b->proto;
}

static int vip_name_cmp(const void *pa, const void *pb)
{
	const struct config_vip *a = pa, *b = pb;

	return strcmp(a->name, b->name);
}

/* An array with first[i] = i; NULL when out of memory. */
static size_t *dups_new(struct config_ctx *c, size_t n)
{
	size_t *first = calloc(n ? n : 1, sizeof(*first)), i;

	if (!first) {
		c->oom = true;
		return NULL;
	}
	for (i = 0; i < n; i++)
		first[i] = i;
	return first;
}

/* ------------------------------------------------------------------ */
/* Backends */

/* An HTTP request path: '/' first, printable ASCII, no space. */
static bool hc_path_ok(const char *s)
{
	if (s[0] != '/' || strlen(s) > CONFIG_HC_PATH_MAX)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

static void hc_path_parse(struct config_ctx *c, json_t *obj, char *dst)
{
	const char *s;

	if (get_string(c, obj, "path", false, &s) <= 0)
		return;
	if (!hc_path_ok(s))
		ctx_err_at(c, "path", "must start with '/', with no spaces or control characters, "
			   "at most %d bytes", CONFIG_HC_PATH_MAX);
	else
		snprintf(dst, CONFIG_HC_PATH_MAX + 1, "%s", s);
}

/* A backend's own check port and path. */
static void backend_hc_parse(struct config_ctx *c, json_t *obj, struct config_backend *be)
{
	static const char *const keys[] = { "port", "path", NULL };
	char path[CONFIG_HC_PATH_MAX + 1] = "";
	long long n;
	json_t *hc;
	size_t mark;

	if (get_typed(c, obj, "health_check", false, JSON_OBJECT, &hc) <= 0)
		return;
	mark = path_push(c, "health_check");
	check_keys(c, hc, keys);
	if (get_int(c, hc, "port", false, 1, 65535, &n) > 0)
		be->hc_port = (__u16)n;
	hc_path_parse(c, hc, path);
	if (path[0] && !(be->hc_path = strdup(path)))
		c->oom = true;
	path_pop(c, mark);
}

static void backend_parse(struct config_ctx *c, json_t *obj, struct config_backend *be)
{
	static const char *const keys[] = { "address", "weight", "state", "health_check", NULL };
	struct config_addr a;
	json_t *w;
	long long n;
	int state = CONFIG_BACKEND_ACTIVE;

	if (!expect_type(c, obj, JSON_OBJECT))
		return;
	check_keys(c, obj, keys);
	if (get_addr(c, obj, "address", true, 0, &a) > 0) {
		be->family = a.family;
		memcpy(be->addr, a.addr, sizeof(be->addr));
		addr_text(&a, be->address, sizeof(be->address));
	}
	be->weight = CONFIG_WEIGHT_DEFAULT;
	w = json_object_get(obj, "weight");
	if (json_is_integer(w) && json_integer_value(w) == 0)
		ctx_err_at(c, "weight", "0 is out of range 1..%d: to stop new flows, set \"state\": \"drain\"",
			   MAGLEV_WEIGHT_MAX);
	else if (get_int(c, obj, "weight", false, 1, MAGLEV_WEIGHT_MAX, &n) > 0)
		be->weight = (__u32)n;
	get_enum(c, obj, "state", false, states, &state);
	be->state = (enum config_backend_state)state;
	backend_hc_parse(c, obj, be);
}

/* Backends of one VIP with the same address; c->path is the array's. */
static void backends_check_dups(struct config_ctx *c, struct config_vip *vip)
{
	struct dup_sort d = { (const char *)vip->backends, sizeof(*vip->backends), backend_cmp };
	size_t *first, *idx, i, n = 0, mark;

	first = dups_new(c, vip->n_backends);
	idx = dups_new(c, vip->n_backends);
	if (!first || !idx)
		goto out;
	for (i = 0; i < vip->n_backends; i++) {
		if (vip->backends[i].family)
			idx[n++] = i;
	}
	dups_find(&d, idx, n, first);
	mark = c->path_len;
	for (i = 0; i < vip->n_backends; i++) {
		if (first[i] == i)
			continue;
		path_push_index(c, i);
		ctx_err(c, "same address as %.*s/%zu", (int)mark, c->path, first[i]);
		path_pop(c, mark);
	}
out:
	free(first);
	free(idx);
}

static void backends_parse(struct config_ctx *c, json_t *obj, struct config_vip *vip)
{
	json_t *arr, *b;
	size_t i, n, mark, m;

	if (get_typed(c, obj, "backends", true, JSON_ARRAY, &arr) <= 0)
		return;
	mark = path_push(c, "backends");
	n = json_array_size(arr);
	if (n > LB_MAX_BACKENDS - 1)
		ctx_err(c, "%zu backends, at most %d are allowed", n, LB_MAX_BACKENDS - 1);
	vip->backends = calloc(n ? n : 1, sizeof(*vip->backends));
	if (!vip->backends) {
		c->oom = true;
		path_pop(c, mark);
		return;
	}
	vip->n_backends = n;
	json_array_foreach(arr, i, b) {
		m = path_push_index(c, i);
		backend_parse(c, b, &vip->backends[i]);
		path_pop(c, m);
	}
	backends_check_dups(c, vip);
	path_pop(c, mark);
}

/* ------------------------------------------------------------------ */
/* Source prefixes: the deny list and the VIPs' allow lists */

static int prefix_rule_cmp(const void *pa, const void *pb)
{
	const struct blocklist_rule *a = pa, *b = pb;
	int r = addr_cmp(a->family, a->addr, b->family, b->addr);

	return r ? r : (int)a->plen - (int)b->plen;
}

/*
 * An array of prefixes under key: each a string "address/length" (or a
 * bare address) with its host bits zero, none twice. Sorted on success,
 * so that the order in the file changes nothing.
 */
/* Raw text as an error line may show it: control characters as '?', cut
 * after CONFIG_KEY_SHOWN bytes. */
static const char *text_shown(const char *s, char *buf, size_t len)
{
	size_t i, n = 0;

	for (i = 0; s[i] && n + 4 < len && i < CONFIG_KEY_SHOWN; i++)
		buf[n++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s[i] && n + 4 <= len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* What is wrong with a prefix that parsed, or NULL. */
static const char *prefix_problem(const char *text, const struct blocklist_rule *r)
{
	const char *slash = strchr(text, '/');

	if (slash && slash[1] == '0' && slash[2])
		return "its length has a leading zero";
	if (blocklist_prefix_mapped(r))
		return "an IPv4-mapped prefix never matches: write it as IPv4";
	return NULL;
}

/* Check and parse prefix i of the array: true when it is a good one. */
static bool prefix_one(struct config_ctx *c, json_t *v, struct blocklist_rule *r)
{
	const char *text = json_string_value(v), *why;
	char shown[CONFIG_KEY_SHOWN + 8];

	if (!expect_type(c, v, JSON_STRING))
		return false;
	if (blocklist_prefix_parse(text, r)) {
		ctx_err(c, "\"%s\" is not a prefix (address/length, host bits zero)",
			text_shown(text, shown, sizeof(shown)));
		return false;
	}
	why = prefix_problem(text, r);
	if (why)
		ctx_err(c, "\"%s\": %s", text_shown(text, shown, sizeof(shown)), why);
	return !why;
}

static void prefixes_parse(struct config_ctx *c, json_t *obj, const char *key, __u32 vip,
			   __u8 family, struct blocklist_rule **out, size_t *nout)
{
	struct dup_sort by_prefix = { NULL, sizeof(**out), prefix_rule_cmp };
	size_t i, n, mark, m, valid = 0, *first = NULL, *idx = NULL;
	struct blocklist_rule *rules;
	json_t *arr, *v;

	if (get_typed(c, obj, key, false, JSON_ARRAY, &arr) <= 0)
		return;
	mark = path_push(c, key);
	n = json_array_size(arr);
	if (n > LB_BLOCK_RULES_MAX)
		ctx_err(c, "%zu prefixes, at most %d are allowed", n, LB_BLOCK_RULES_MAX);
	rules = calloc(n ? n : 1, sizeof(*rules));
	if (!rules) {
		c->oom = true;
		goto out;
	}
	first = dups_new(c, n);
	idx = dups_new(c, n);
	if (!first || !idx)
		goto out;
	json_array_foreach(arr, i, v) {
		m = path_push_index(c, i);
		rules[i].vip = vip;
		if (prefix_one(c, v, &rules[i]))
			idx[valid++] = i;
		path_pop(c, m);
	}
	by_prefix.base = (const char *)rules;
	dups_find(&by_prefix, idx, valid, first);
	for (i = 0; i < n; i++) {
		if (first[i] == i)
			continue;
		m = path_push_index(c, i);
		ctx_err(c, "same prefix as %.*s/%zu", (int)m, c->path, first[i]);
		path_pop(c, m);
	}
	/* A list may hold both families (one list pushed to a VIP of each),
	 * but an allow list with none of its VIP's takes no source at all. */
	for (i = 0; family && n && valid == n && i < n && rules[i].family != family; i++)
		;
	if (family && n && valid == n && i == n)
		ctx_err(c, "no %s prefix: the VIP would take no source at all",
			family == LB_FAMILY_IPV4 ? "IPv4" : "IPv6");
	qsort(rules, n, sizeof(*rules), prefix_rule_cmp);
	*out = rules;
	*nout = n;
	rules = NULL;
out:
	free(rules);
	free(first);
	free(idx);
	path_pop(c, mark);
}

/* ------------------------------------------------------------------ */
/* VIPs */

static bool name_ok(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= CONFIG_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == len;
}

/*
 * Defaults first: a VIP without a block is not checked, but the numbers are
 * there for whoever reads them. A timeout longer than the interval makes no
 * sense, so the default timeout is capped at the interval.
 */
/*
 * What is wrong with a Host header's host, or NULL: a name, an IPv4
 * address, or an IPv6 address in brackets. No port: the probe adds the
 * check's own, so one written here would be sent twice.
 */
static const char *hc_host_problem(const char *s)
{
	static const char name_chars[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
	struct in6_addr a6;
	char inner[INET6_ADDRSTRLEN];
	size_t len = strlen(s);

	if (!len || len > CONFIG_HC_HOST_MAX)
		return "not a host name or address";
	if (s[0] == '[') {
		if (s[len - 1] != ']' || len - 2 >= sizeof(inner))
			return "not an IPv6 address in brackets";
		memcpy(inner, s + 1, len - 2);
		inner[len - 2] = '\0';
		return inet_pton(AF_INET6, inner, &a6) == 1 ? NULL : "not an IPv6 address in brackets";
	}
	if (inet_pton(AF_INET6, s, &a6) == 1)
		return "an IPv6 address goes in brackets, as in [fd00::1]";
	if (strchr(s, ':'))
		return "takes no port: the check's port is the one sent";
	return strspn(s, name_chars) == len ? NULL : "not a host name or address";
}

/* Keys that only an HTTP check takes. */
static void hc_http_parse(struct config_ctx *c, json_t *hc, struct config_health *h, bool http)
{
	static const char *const only[] = { "path", "host", "status", "tls_verify", NULL };
	const char *s;
	long long n;
	bool b = false;
	size_t i;

	for (i = 0; !http && only[i]; i++)
		if (json_object_get(hc, only[i]))
			ctx_err_at(c, only[i], "only an http or https check takes it");
	if (!http)
		return;
	hc_path_parse(c, hc, h->path);
	if (get_string(c, hc, "host", false, &s) > 0) {
		const char *why = hc_host_problem(s);

		if (why)
			ctx_err_at(c, "host", "%s", why);
		else
			snprintf(h->host, sizeof(h->host), "%s", s);
	}
	/* 1xx answers are interim: the probe reads past them. */
	if (get_int(c, hc, "status", false, 200, 599, &n) > 0)
		h->status = (__u16)n;
	if (get_bool(c, hc, "tls_verify", &b) > 0 && b && h->type != CONFIG_HC_HTTPS)
		ctx_err_at(c, "tls_verify", "only an https check takes it");
	else
		h->tls_verify = b;
}

/*
 * Defaults are filled even without a block, so every VIP's health
 * fields make sense; a timeout longer than the interval would make no
 * sense, so the default timeout is capped at the interval.
 */
static void health_parse(struct config_ctx *c, json_t *obj, struct config_vip *vip,
			 bool port_known)
{
	static const char *const keys[] = { "type", "via", "port", "interval_ms", "timeout_ms",
					    "rise", "fall", "path", "host", "status", "tls_verify",
					    NULL };
	struct config_health *h = &vip->health;
	int type = 0, via = 0, rt, ri;
	long long n;
	json_t *hc;
	size_t mark;

	h->port = vip->port;
	h->interval_ms = CONFIG_HC_INTERVAL_DEF;
	h->timeout_ms = CONFIG_HC_TIMEOUT_DEF;
	h->rise = CONFIG_HC_RISE_DEF;
	h->fall = CONFIG_HC_FALL_DEF;
	h->status = CONFIG_HC_STATUS_DEF;
	snprintf(h->path, sizeof(h->path), "/");
	if (get_typed(c, obj, "health_check", false, JSON_OBJECT, &hc) <= 0)
		return;
	mark = path_push(c, "health_check");
	check_keys(c, hc, keys);
	if (get_enum(c, hc, "type", false, hc_types, &type) < 0)
		type = -1;
	h->type = type < 0 ? CONFIG_HC_NONE : (enum config_hc_type)type;
	if (get_enum(c, hc, "via", false, hc_vias, &via) > 0)
		h->via = (enum config_hc_via)via;
	if (get_int(c, hc, "port", false, 1, 65535, &n) > 0)
		h->port = (__u16)n;
	else if (!json_object_get(hc, "port") && type >= 0 && h->type != CONFIG_HC_NONE &&
		 port_known && !vip->port)
		ctx_err_at(c, "port", "required when the VIP's port is 0");
	ri = get_int(c, hc, "interval_ms", false, CONFIG_HC_INTERVAL_MIN,
		     CONFIG_HC_INTERVAL_MAX, &n);
	if (ri > 0)
		h->interval_ms = (__u32)n;
	rt = get_int(c, hc, "timeout_ms", false, CONFIG_HC_TIMEOUT_MIN, CONFIG_HC_INTERVAL_MAX, &n);
	if (rt > 0)
		h->timeout_ms = (__u32)n;
	if (rt > 0 && ri >= 0 && h->timeout_ms > h->interval_ms)
		ctx_err_at(c, "timeout_ms", "%u is longer than interval_ms (%u)", h->timeout_ms,
			   h->interval_ms);
	else if (!rt && h->timeout_ms > h->interval_ms)
		h->timeout_ms = h->interval_ms;
	if (get_int(c, hc, "rise", false, 1, CONFIG_HC_COUNT_MAX, &n) > 0)
		h->rise = (__u32)n;
	if (get_int(c, hc, "fall", false, 1, CONFIG_HC_COUNT_MAX, &n) > 0)
		h->fall = (__u32)n;
	if (type >= 0)
		hc_http_parse(c, hc, h, h->type == CONFIG_HC_HTTP || h->type == CONFIG_HC_HTTPS);
	h->enabled = type >= 0 && h->type != CONFIG_HC_NONE;
	path_pop(c, mark);
}

/* Returns VIP_OK_* for the fields the checks across VIPs need. */
static unsigned char vip_key_parse(struct config_ctx *c, json_t *obj, struct config_vip *vip)
{
	unsigned char ok = 0;
	struct config_addr a;
	const char *name;
	int proto, rp, rq;
	long long n;

	if (get_string(c, obj, "name", true, &name) > 0) {
		if (name_ok(name)) {
			snprintf(vip->name, sizeof(vip->name), "%s", name);
			ok |= VIP_OK_NAME;
		} else {
			ctx_err_at(c, "name", "must be 1..%d characters from a-z A-Z 0-9 _ . -",
				   CONFIG_NAME_MAX);
		}
	}
	if (get_addr(c, obj, "address", true, 0, &a) > 0) {
		vip->family = a.family;
		memcpy(vip->addr, a.addr, sizeof(vip->addr));
		addr_text(&a, vip->address, sizeof(vip->address));
	}
	rp = get_int(c, obj, "port", true, 0, 65535, &n);
	if (rp > 0) {
		vip->port = (__u16)n;
		ok |= VIP_OK_PORT;
	}
	rq = get_enum(c, obj, "protocol", true, protocols, &proto);
	if (rq > 0)
		vip->proto = protocol_nums[proto];
	if (vip->family && rp > 0 && rq > 0)
		ok |= VIP_OK_KEY;
	return ok;
}

static void table_size_parse(struct config_ctx *c, json_t *obj, struct config_vip *vip)
{
	long long n;

	vip->table_size = LB_TABLE_SIZE_DEFAULT;
	if (get_int(c, obj, "table_size", false, 2, LB_TABLE_SIZE_MAX, &n) <= 0)
		return;
	if (!maglev_is_prime((__u32)n)) {
		ctx_err_at(c, "table_size", "%lld is not a prime", n);
		return;
	}
	vip->table_size = (__u32)n;
}

static unsigned char vip_parse(struct config_ctx *c, json_t *obj, struct config_vip *vip)
{
	static const char *const keys[] = { "name", "address", "port", "protocol", "hash",
					    "table_size", "health_check", "all_down", "need",
					    "backends", "allow", NULL };
	unsigned char ok;
	int hash = 0, down = 0, need;
	long long n;

	if (!expect_type(c, obj, JSON_OBJECT))
		return 0;
	check_keys(c, obj, keys);
	ok = vip_key_parse(c, obj, vip);
	get_enum(c, obj, "hash", false, hashes, &hash);
	vip->hash_l3 = hash == 1;
	table_size_parse(c, obj, vip);
	health_parse(c, obj, vip, ok & VIP_OK_PORT);
	get_enum(c, obj, "all_down", false, all_downs, &down);
	vip->all_down_drop = down == 1;
	vip->need = CONFIG_NEED_DEFAULT;
	need = get_int(c, obj, "need", false, 1, LB_MAX_BACKENDS - 1, &n);
	if (need > 0)
		vip->need = (__u32)n;
	backends_parse(c, obj, vip);
	prefixes_parse(c, obj, "allow", 0, vip->family, &vip->allow, &vip->n_allow);
	/* Equal weights give every backend a slot only if there are as many
	 * slots; uneven ones may round a share under one slot to none
	 * (docs/config.md, weight). */
	if (vip->n_backends > vip->table_size && vip->n_backends <= LB_MAX_BACKENDS - 1)
		ctx_err_at(c, "table_size", "%u is smaller than the number of backends (%zu)",
			   vip->table_size, vip->n_backends);
	/* The default asks for one: a VIP without backends is simply never
	 * announced. A number set by hand that no backend list can meet is a
	 * mistake. */
	if (need > 0 && vip->need > vip->n_backends &&
	    json_is_array(json_object_get(obj, "backends")))
		ctx_err_at(c, "need", "%u is more than the VIP's %zu backends: it could never be "
			   "announced", vip->need, vip->n_backends);
	return ok;
}

/* Indexes of the VIPs with all of the flags in want, and l3 when asked. */
static size_t vips_select(struct config_ctx *c, struct config *cfg, unsigned char want,
			  bool l3_only, size_t *idx)
{
	size_t i, n = 0;

	for (i = 0; i < cfg->n_vips; i++) {
		if ((c->vip_ok[i] & want) == want && (!l3_only || cfg->vips[i].hash_l3))
			idx[n++] = i;
	}
	return n;
}

/*
 * Names and services must be unique. Non-first fragments carry no ports, so
 * at most one l3 VIP may claim an (address, protocol): the data path has a
 * single fragment entry per pair. A VIP with port 0 beside one with a
 * specific port is fine: the specific one is looked up first.
 */
static void vips_check_dups(struct config_ctx *c, struct config *cfg)
{
	struct dup_sort by_name = { (const char *)cfg->vips, sizeof(*cfg->vips), vip_name_cmp };
	struct dup_sort by_key = { (const char *)cfg->vips, sizeof(*cfg->vips), vip_cmp };
	struct dup_sort by_frag = { (const char *)cfg->vips, sizeof(*cfg->vips), vip_frag_cmp };
	size_t *name1, *key1, *frag1, *idx, i, n, mark = c->path_len;

	name1 = dups_new(c, cfg->n_vips);
	key1 = dups_new(c, cfg->n_vips);
	frag1 = dups_new(c, cfg->n_vips);
	idx = dups_new(c, cfg->n_vips);
	if (!name1 || !key1 || !frag1 || !idx)
		goto out;
	n = vips_select(c, cfg, VIP_OK_NAME, false, idx);
	dups_find(&by_name, idx, n, name1);
	n = vips_select(c, cfg, VIP_OK_KEY, false, idx);
	dups_find(&by_key, idx, n, key1);
	for (i = 0; i < cfg->n_vips; i++) {
		if (key1[i] != i)	/* a duplicate is not a second l3 VIP too */
			c->vip_ok[i] &= (unsigned char)~VIP_OK_KEY;
	}
	n = vips_select(c, cfg, VIP_OK_KEY, true, idx);
	dups_find(&by_frag, idx, n, frag1);
	for (i = 0; i < cfg->n_vips; i++) {
		path_push_index(c, i);
		if (name1[i] != i)
			ctx_err_at(c, "name", "\"%s\" is already the name of %.*s/%zu",
				   cfg->vips[i].name, (int)mark, c->path, name1[i]);
		if (key1[i] != i)
			ctx_err(c, "same address, port and protocol as %.*s/%zu", (int)mark,
				c->path, key1[i]);
		if (frag1[i] != i)
			ctx_err(c, "l3 hash on the same address and protocol as %.*s/%zu: fragments, which carry no ports, could not be told apart",
				(int)mark, c->path, frag1[i]);
		path_pop(c, mark);
	}
out:
	free(name1);
	free(key1);
	free(frag1);
	free(idx);
}

static void vips_parse(struct config_ctx *c, json_t *root, struct config *cfg)
{
	size_t i, n, mark, m, total = 0;
	unsigned long long slots = 0;
	json_t *arr, *v;

	if (get_typed(c, root, "vips", true, JSON_ARRAY, &arr) <= 0)
		return;
	mark = path_push(c, "vips");
	n = json_array_size(arr);
	if (n > LB_MAX_VIPS)
		ctx_err(c, "%zu VIPs, at most %d are allowed", n, LB_MAX_VIPS);
	cfg->vips = calloc(n ? n : 1, sizeof(*cfg->vips));
	c->vip_ok = calloc(n ? n : 1, sizeof(*c->vip_ok));
	if (!cfg->vips || !c->vip_ok) {
		c->oom = true;
		path_pop(c, mark);
		return;
	}
	cfg->n_vips = n;
	json_array_foreach(arr, i, v) {
		m = path_push_index(c, i);
		c->vip_ok[i] = vip_parse(c, v, &cfg->vips[i]);
		path_pop(c, m);
		if (cfg->vips[i].n_backends <= LB_MAX_BACKENDS - 1)
			total += cfg->vips[i].n_backends;
		slots += cfg->vips[i].table_size;
	}
	/* Each (VIP, backend) pair takes a backend id of its own. A VIP over
	 * its own limit has said so already. */
	if (total > LB_MAX_BACKENDS - 1)
		ctx_err(c, "%zu backends in all VIPs, at most %d are allowed", total,
			LB_MAX_BACKENDS - 1);
	/* Tables live in kernel memory, and a swap holds two of a VIP's. */
	if (slots > CONFIG_TABLE_SLOTS_MAX)
		ctx_err(c, "table sizes add up to %llu slots in all VIPs, at most %d are "
			"allowed (2 bytes each, in kernel memory)", slots, CONFIG_TABLE_SLOTS_MAX);
	vips_check_dups(c, cfg);
	path_pop(c, mark);
}

/* Every backend family needs an outer source; name the first one that lacks it. */
static void tunnel_check(struct config_ctx *c, const struct config *cfg)
{
	static const char *const fam[2] = { "ipv4", "ipv6" };
	static const char *const up[2] = { "IPv4", "IPv6" };
	bool said[2] = { false, false };
	size_t i, j, mark;
	int f;

	if (!c->tunnel_seen)
		return;
	mark = path_push(c, "tunnel_source");
	for (i = 0; i < cfg->n_vips; i++) {
		for (j = 0; j < cfg->vips[i].n_backends; j++) {
			if (!cfg->vips[i].backends[j].family)
				continue;
			f = cfg->vips[i].backends[j].family == LB_FAMILY_IPV6;
			if (c->src_given[f] || said[f])
				continue;
			said[f] = true;
			ctx_err(c, "no %s source, but /vips/%zu/backends/%zu is %s", fam[f], i, j,
				up[f]);
		}
	}
	path_pop(c, mark);
}

/*
 * IPv6 never fragments in the network: a client learns the path MTU from
 * packet-too-big, and the kernel will not go below 1280. A tunnel MTU that
 * leaves less than 1280 bytes for an IPv6 client's packet would lose every
 * packet between what fits and 1280, for good.
 */
static void mtu_check(struct config_ctx *c, const struct config *cfg)
{
	size_t i, j, mark;
	__u32 need;

	if (!cfg->mtu)
		return;
	for (i = 0; i < cfg->n_vips; i++) {
		if (cfg->vips[i].family != LB_FAMILY_IPV6)
			continue;
		for (j = 0; j < cfg->vips[i].n_backends; j++) {
			need = 1280 + (cfg->vips[i].backends[j].family == LB_FAMILY_IPV6 ? 40 : 20);
			if (cfg->mtu >= need)
				continue;
			mark = path_push(c, "mtu");
			ctx_err(c, "%u leaves IPv6 clients of /vips/%zu less than 1280 bytes inside "
				"the tunnel to /vips/%zu/backends/%zu; at least %u is needed",
				cfg->mtu, i, i, j, need);
			path_pop(c, mark);
			return;
		}
	}
}

/* The deny list and the allow lists share the data path's rule ids. */
static void rules_check(struct config_ctx *c, json_t *root, const struct config *cfg)
{
	size_t i, total = cfg->n_deny;

	/* A list over the limit on its own has been told so already. */
	if (cfg->n_deny > LB_BLOCK_RULES_MAX)
		return;
	for (i = 0; i < cfg->n_vips; i++) {
		if (cfg->vips[i].n_allow > LB_BLOCK_RULES_MAX)
			return;
		total += cfg->vips[i].n_allow;
	}
	if (total > LB_BLOCK_RULES_MAX)
		ctx_err_at(c, json_object_get(root, "deny") ? "deny" : "vips",
			   "%zu prefixes in the deny and allow lists together, at most %d are "
			   "allowed", total, LB_BLOCK_RULES_MAX);
}

/* "announce": {"table": N}, a table of lbd's own: not one the kernel
 * keeps (default, main, local), where a VIP's route would be used. */
static void announce_parse(struct config_ctx *c, json_t *root, struct config *cfg)
{
	static const char *const keys[] = { "table", NULL };
	json_t *an;
	long long n;
	size_t mark;

	if (get_typed(c, root, "announce", false, JSON_OBJECT, &an) <= 0)
		return;
	mark = path_push(c, "announce");
	check_keys(c, an, keys);
	if (get_int(c, an, "table", true, 1, 4294967295LL, &n) > 0) {
		if (n >= CONFIG_TABLE_KERNEL_MIN && n <= CONFIG_TABLE_KERNEL_MAX)
			ctx_err_at(c, "table", "%lld is one of the kernel's own tables (253 default, "
				   "254 main, 255 local): lbd needs one nothing else uses", n);
		else
			cfg->announce_table = (__u32)n;
	}
	path_pop(c, mark);
}

static void root_parse(struct config_ctx *c, json_t *root, struct config *cfg)
{
	static const char *const keys[] = { "interface", "xdp_mode", "next_hop",
					    "tunnel_source", "mtu", "flow_table_size",
					    "new_flow_cap", "deny", "control_socket", "control_group",
					    "control_admin_group", "state_dir", "metrics_listen",
					    "announce", "vips", NULL };
	int mode = 0;
	long long n;

	if (!expect_type(c, root, JSON_OBJECT))
		return;
	check_keys(c, root, keys);
	interface_parse(c, root, cfg);
	get_enum(c, root, "xdp_mode", false, xdp_modes, &mode);
	cfg->xdp_generic = mode == 1;
	next_hop_parse(c, root, cfg);
	tunnel_parse(c, root, cfg);
	if (get_int(c, root, "mtu", false, CONFIG_MTU_MIN, CONFIG_MTU_MAX, &n) > 0)
		cfg->mtu = (__u32)n;
	cfg->flow_table_size = LB_FLOW_TABLE_DEFAULT;
	if (get_int(c, root, "flow_table_size", false, CONFIG_FLOW_TABLE_MIN,
		    CONFIG_FLOW_TABLE_MAX, &n) > 0)
		cfg->flow_table_size = (__u32)n;
	cfg->new_flow_cap = CONFIG_NEW_FLOW_CAP_DEFAULT;
	if (get_int(c, root, "new_flow_cap", false, 0, CONFIG_NEW_FLOW_CAP_MAX, &n) > 0)
		cfg->new_flow_cap = (__u32)n;
	prefixes_parse(c, root, "deny", BLOCKLIST_DENY, 0, &cfg->deny, &cfg->n_deny);
	abspath_parse(c, root, "control_socket", cfg->control_socket,
		      sizeof(cfg->control_socket), CONFIG_SOCKET_DEFAULT);
	group_parse(c, root, "control_group", cfg->control_group, CONFIG_GROUP_DEFAULT);
	group_parse(c, root, "control_admin_group", cfg->control_admin_group, "");
	abspath_parse(c, root, "state_dir", cfg->state_dir, sizeof(cfg->state_dir),
		      CONFIG_STATE_DEFAULT);
	listen_parse(c, root, cfg);
	announce_parse(c, root, cfg);
	vips_parse(c, root, cfg);
	tunnel_check(c, cfg);
	mtu_check(c, cfg);
	rules_check(c, root, cfg);
}

/* ------------------------------------------------------------------ */
/* Entry points */

static void config_sort(struct config *cfg)
{
	size_t i;

	qsort(cfg->vips, cfg->n_vips, sizeof(*cfg->vips), vip_cmp);
	for (i = 0; i < cfg->n_vips; i++)
		qsort(cfg->vips[i].backends, cfg->vips[i].n_backends,
		      sizeof(*cfg->vips[i].backends), backend_cmp);
}

void config_free(struct config *cfg)
{
	size_t i, j;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_vips; i++) {
		for (j = 0; cfg->vips[i].backends && j < cfg->vips[i].n_backends; j++)
			free(cfg->vips[i].backends[j].hc_path);
		free(cfg->vips[i].backends);
		free(cfg->vips[i].allow);
	}
	free(cfg->vips);
	free(cfg->deny);
	free(cfg);
}

/* The JSON document, or NULL with the error listed in c. */
static json_t *config_decode(struct config_ctx *c, const char *text, size_t len, int *err)
{
	json_error_t jerr;
	json_t *root;

	if (len > CONFIG_FILE_MAX) {
		ctx_err(c, "file is larger than %d bytes", CONFIG_FILE_MAX);
		*err = -EINVAL;
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root)
		return root;
	*err = json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
	c->n_errors++;
	if (errs_add(c->errs, "%s:%d:%d: %s", c->name, jerr.line, jerr.column, jerr.text))
		c->oom = true;
	return NULL;
}

int config_parse(const char *text, size_t len, const char *name, struct config **out,
		 struct config_errors *errs)
{
	struct config_ctx c = { .name = name, .errs = errs };
	struct config *cfg = NULL;
	json_t *root;
	int ret = 0;

	*out = NULL;
	config_errors_clear(errs);
	root = config_decode(&c, text, len, &ret);
	if (!root)
		goto out;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		ret = -ENOMEM;
		goto out_root;
	}
	root_parse(&c, root, cfg);
	if (c.oom)
		ret = -ENOMEM;
	else if (c.n_errors)
		ret = -EINVAL;
	if (!ret) {
		config_sort(cfg);
		*out = cfg;
		cfg = NULL;
	}
	config_free(cfg);
out_root:
	json_decref(root);
out:
	free(c.path);
	free(c.vip_ok);
	return c.oom ? -ENOMEM : ret;
}

/* Up to CONFIG_FILE_MAX + 1 bytes: enough to tell that a file is too large. */
int config_fd_read(int fd, char **out, size_t *len)
{
	size_t n = 0, cap = 0, limit = CONFIG_FILE_MAX + 1;
	char *buf = NULL, *p;
	ssize_t r;

	while (n < limit) {
		if (n == cap) {
			cap = cap ? (cap * 2 < limit ? cap * 2 : limit) : CONFIG_READ_CHUNK;
			p = realloc(buf, cap);
			if (!p) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -errno;
		}
		if (!r)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*len = n;
	return 0;
}

int config_file_read(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = config_fd_read(fd, out, len);
	close(fd);
	return ret;
}

int config_load(const char *path, struct config **out, struct config_errors *errs)
{
	char *buf = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	config_errors_clear(errs);
	ret = config_file_read(path, &buf, &len);
	if (ret) {
		if (errs_add(errs, "%s: %s", path, strerror(-ret)))
			return -ENOMEM;
		return ret;
	}
	ret = config_parse(buf ? buf : "", len, path, out, errs);
	free(buf);
	return ret;
}
