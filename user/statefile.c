// SPDX-License-Identifier: GPL-2.0-only
#include "statefile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "fileio.h"
#include "maglev.h"

/* ------------------------------------------------------------------ */
/* Writing */

static json_t *override_json(const struct state_override *o)
{
	json_t *j = json_object();

	if (o->has_state)
		json_object_set_new(j, "state", json_string(state_admin_name(o->state)));
	if (o->has_weight)
		json_object_set_new(j, "weight", json_integer(o->weight));
	json_object_set_new(j, "since_ms", json_integer((json_int_t)o->since_ms));
	return j;
}

static json_t *health_json(const struct state_health_info *h)
{
	return json_pack("{s:s, s:I, s:s}", "state", state_health_name(h->health), "since_ms",
			 (json_int_t)h->since_ms, "reason", h->reason);
}

/* Only what a restart could not work out again; NULL for nothing. */
static json_t *backend_json(const struct state_backend *b)
{
	bool ovr = b->ovr.has_state || b->ovr.has_weight;
	json_t *j;

	if (!ovr && b->hl.health == STATE_HEALTH_UNKNOWN && !b->kept)
		return NULL;
	j = json_pack("{s:s, s:{s:s, s:i}}", "address", b->cfg->address, "config", "state",
		      state_admin_name(b->cfg->state), "weight", (int)b->cfg->weight);
	if (ovr)
		json_object_set_new(j, "override", override_json(&b->ovr));
	if (b->hl.health != STATE_HEALTH_UNKNOWN)
		json_object_set_new(j, "health", health_json(&b->hl));
	if (b->kept)
		json_object_set_new(j, "kept", json_true());
	return j;
}

static json_t *vip_json(const struct state_vip *v)
{
	json_t *bes = json_array(), *j, *b;
	char key[96];
	size_t k;

	for (k = 0; k < v->cfg->n_backends; k++) {
		b = backend_json(&v->be[k]);
		if (b)
			json_array_append_new(bes, b);
	}
	if (!json_array_size(bes) && !v->all_down) {
		json_decref(bes);
		return NULL;
	}
	state_vip_key_text(v->cfg, key, sizeof(key));
	j = json_pack("{s:s, s:s}", "vip", key, "name", v->cfg->name);
	if (v->all_down)
		json_object_set_new(j, "all_down_since_ms",
				    json_integer((json_int_t)v->all_down_since_ms));
	json_object_set_new(j, "backends", bes);
	return j;
}

/* The operator's deny rules, in the order added. */
static json_t *blocks_json(const struct state *st)
{
	json_t *a = json_array();
	char prefix[64];
	size_t i;

	for (i = 0; i < st->n_blocks; i++) {
		if (blocklist_prefix_format(&st->blocks[i].rule, prefix, sizeof(prefix)))
			continue;
		json_array_append_new(a, json_pack("{s:s, s:I}", "prefix", prefix, "since_ms",
						   (json_int_t)st->blocks[i].since_ms));
	}
	return a;
}

static json_t *state_json(const struct state *st, __u64 now_ms)
{
	json_t *vips = json_array(), *v, *j;
	size_t i;

	for (i = 0; i < st->cfg->n_vips; i++) {
		v = vip_json(&st->vips[i]);
		if (v)
			json_array_append_new(vips, v);
	}
	j = json_pack("{s:i, s:I, s:o}", "format", STATEFILE_FORMAT, "saved_ms",
		      (json_int_t)now_ms, "vips", vips);
	if (j && st->n_blocks)
		json_object_set_new(j, "blocks", blocks_json(st));
	if (j && st->node.drained)
		json_object_set_new(j, "node", json_pack("{s:b, s:I}", "drained", 1, "since_ms",
							 (json_int_t)st->node.since_ms));
	return j;
}

/* Make path, and make its new entry durable: fsync its parent, or a crash
 * soon after the first save could lose the directory with the file. */
static int mkdir_synced(char *path)
{
	char *slash = strrchr(path, '/');
	int fd, rc = 0;

	if (mkdir(path, 0750))
		return errno == EEXIST ? 0 : -errno;
	if (slash == path)
		fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else if (slash) {
		*slash = '\0';
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		*slash = '/';
	} else {
		fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0 || fsync(fd))
		rc = -errno;
	if (fd >= 0)
		close(fd);
	return rc;
}

static int mkdir_p(const char *dir)
{
	char path[4096], *p;
	int rc;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		rc = mkdir_synced(path);
		if (rc)
			return rc;
		*p = '/';
	}
	return mkdir_synced(path);
}

int statefile_save(const struct state *st, const char *dir, __u64 now_ms, char *err,
		   size_t errlen)
{
	char what[128] = "creating the directory";
	json_t *j = state_json(st, now_ms);
	char *text = j ? json_dumps(j, JSON_INDENT(1)) : NULL;
	int dfd = -1, rc;

	json_decref(j);
	if (!text) {
		snprintf(err, errlen, "%s: out of memory", dir);
		return -ENOMEM;
	}
	rc = mkdir_p(dir);
	if (!rc) {
		snprintf(what, sizeof(what), "opening the directory");
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		rc = dfd < 0 ? -errno : 0;
	}
	if (!rc)
		rc = fileio_replace(dfd, STATEFILE_NAME, text, strlen(text), 0600, what,
				    sizeof(what));
	if (rc)
		snprintf(err, errlen, "%s: %s: %s", dir, what, strerror(-rc));
	if (dfd >= 0)
		close(dfd);
	free(text);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reading: the whole file is checked before anything is restored. */

struct load_ctx {
	char *err;
	size_t errlen;
	char path[128];		/* JSON pointer of the entry being read */
};

static int bad(struct load_ctx *c, const char *key, const char *what)
{
	snprintf(c->err, c->errlen, "%s/%s: %s", c->path, key, what);
	return -EINVAL;
}

static int get_u64(struct load_ctx *c, json_t *o, const char *key, bool required, __u64 *out)
{
	json_t *v = json_object_get(o, key);

	if (!v && !required)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(c, key, v ? "not a non-negative integer" : "missing");
	*out = (__u64)json_integer_value(v);
	return 0;
}

static int get_enum(struct load_ctx *c, json_t *o, const char *key,
		    const char *(*name)(int), int n, int *out)
{
	const char *s = json_string_value(json_object_get(o, key));
	int i;

	for (i = 0; s && i < n; i++) {
		if (!strcmp(s, name(i))) {
			*out = i;
			return 0;
		}
	}
	return bad(c, key, s ? "unknown value" : "missing, or not a string");
}

static const char *admin_name(int i)
{
	return state_admin_name((enum config_backend_state)i);
}

static const char *health_name(int i)
{
	return state_health_name((enum state_health)i);
}

static int weight_get(struct load_ctx *c, json_t *o, const char *key, __u32 *out)
{
	__u64 w = 0;
	int rc = get_u64(c, o, key, true, &w);

	if (!rc && (w < 1 || w > MAGLEV_WEIGHT_MAX))
		return bad(c, key, "weight out of range");
	*out = (__u32)w;
	return rc;
}

static int override_read(struct load_ctx *c, json_t *o, struct state_override *ovr)
{
	int s = 0, rc = 0;
	size_t mark = strlen(c->path);

	if (!o)
		return 0;
	strncat(c->path, "/override", sizeof(c->path) - mark - 1);
	if (!json_is_object(o))
		return bad(c, "", "not an object");
	ovr->has_state = json_object_get(o, "state") != NULL;
	ovr->has_weight = json_object_get(o, "weight") != NULL;
	if (ovr->has_state && !(rc = get_enum(c, o, "state", admin_name, 3, &s)))
		ovr->state = (enum config_backend_state)s;
	if (!rc && ovr->has_weight)
		rc = weight_get(c, o, "weight", &ovr->weight);
	if (!rc)
		rc = get_u64(c, o, "since_ms", true, &ovr->since_ms);
	c->path[mark] = '\0';
	return rc;
}

static int health_read(struct load_ctx *c, json_t *h, struct state_health_info *hl)
{
	const char *reason;
	size_t mark = strlen(c->path);
	int s = 0, rc;

	if (!h)
		return 0;
	strncat(c->path, "/health", sizeof(c->path) - mark - 1);
	if (!json_is_object(h))
		return bad(c, "", "not an object");
	rc = get_enum(c, h, "state", health_name, 3, &s);
	hl->health = (enum state_health)s;
	if (!rc)
		rc = get_u64(c, h, "since_ms", true, &hl->since_ms);
	reason = json_string_value(json_object_get(h, "reason"));
	if (!rc && !reason)
		rc = bad(c, "reason", "missing, or not a string");
	if (!rc)
		snprintf(hl->reason, sizeof(hl->reason), "%s", reason);
	c->path[mark] = '\0';
	return rc;
}

static bool addr_valid(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* One saved backend, and where it belongs now (be = -1: forgotten). */
struct saved_backend {
	long vip, be;
	struct state_saved s;
};

struct saved_vip {
	long vip;
	__u64 all_down_since_ms;
	bool all_down;
};

static int backend_read(struct load_ctx *c, json_t *b, const struct state *st, long vip,
			struct saved_backend *out)
{
	const char *addr = json_string_value(json_object_get(b, "address"));
	json_t *cfg = json_object_get(b, "config");
	int s = 0, rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(b))
		return bad(c, "", "not an object");
	if (!addr)
		return bad(c, "address", "missing, or not a string");
	if (!json_is_object(cfg))
		return bad(c, "config", "missing, or not an object");
	rc = get_enum(c, cfg, "state", admin_name, 3, &s);
	out->s.cfg_state = (enum config_backend_state)s;
	if (!rc)
		rc = weight_get(c, cfg, "weight", &out->s.cfg_weight);
	if (!rc)
		rc = override_read(c, json_object_get(b, "override"), &out->s.ovr);
	if (!rc)
		rc = health_read(c, json_object_get(b, "health"), &out->s.hl);
	out->s.kept = json_is_true(json_object_get(b, "kept"));
	if (!rc && !addr_valid(addr))
		rc = bad(c, "address", "not an IP address");
	out->vip = vip;
	out->be = vip < 0 ? -1 : state_backend_find(st, (size_t)vip, addr);
	return rc;
}

struct saved {
	struct state_node node;
	struct saved_vip *vips;
	size_t n_vips;
	struct state_block *blocks;
	size_t n_blocks;
	struct saved_backend *bes;
	size_t n_bes, cap;
};

static int saved_add(struct saved *sv, const struct saved_backend *b)
{
	if (sv->n_bes == sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 256;
		struct saved_backend *n = realloc(sv->bes, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		sv->bes = n;
		sv->cap = cap;
	}
	sv->bes[sv->n_bes++] = *b;
	return 0;
}

static int vip_read(struct load_ctx *c, json_t *v, const struct state *st, struct saved *sv,
		    struct saved_vip *out)
{
	const char *key = json_string_value(json_object_get(v, "vip"));
	json_t *bes = json_object_get(v, "backends"), *b;
	size_t mark = strlen(c->path), k;
	struct config_vip probe;
	struct saved_backend sb;
	int rc = 0;

	if (!json_is_object(v))
		return bad(c, "", "not an object");
	if (!key)
		return bad(c, "vip", "missing, or not a string");
	if (!json_is_array(bes))
		return bad(c, "backends", "missing, or not an array");
	/* A name is not an identity: the address, port and protocol are. */
	if (!state_vip_key_parse(key, &probe))
		return bad(c, "vip", "not ADDRESS:PORT/PROTOCOL");
	out->vip = state_vip_find(st, key);
	out->all_down = json_object_get(v, "all_down_since_ms") != NULL;
	rc = get_u64(c, v, "all_down_since_ms", false, &out->all_down_since_ms);
	json_array_foreach(bes, k, b) {
		if (rc)
			break;
		snprintf(c->path + mark, sizeof(c->path) - mark, "/backends/%zu", k);
		rc = backend_read(c, b, st, out->vip, &sb);
		if (!rc)
			rc = saved_add(sv, &sb);
	}
	c->path[mark] = '\0';
	return rc;
}

static int block_read(struct load_ctx *c, json_t *b, struct state_block *out)
{
	const char *prefix = json_string_value(json_object_get(b, "prefix"));

	memset(out, 0, sizeof(*out));
	if (!json_is_object(b))
		return bad(c, "", "not an object");
	if (!prefix)
		return bad(c, "prefix", "missing, or not a string");
	if (blocklist_prefix_parse(prefix, &out->rule))
		return bad(c, "prefix", "not a prefix (ADDRESS/LENGTH, host bits zero)");
	out->rule.vip = BLOCKLIST_DENY;
	out->rule.flags = LB_RULE_F_OPERATOR;
	return get_u64(c, b, "since_ms", true, &out->since_ms);
}

/* A saved rule and where it was in the file. */
struct block_at {
	struct blocklist_rule rule;
	size_t i;
};

static int block_cmp(const void *a, const void *b)
{
	const struct block_at *x = a, *y = b;
	int c = (int)x->rule.family - (int)y->rule.family;

	if (!c)
		c = memcmp(x->rule.addr, y->rule.addr, sizeof(x->rule.addr));
	if (!c)
		c = (int)x->rule.plen - (int)y->rule.plen;
	return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

/* A prefix saved twice is a file something else wrote. */
static int blocks_unique(struct load_ctx *c, const struct saved *sv)
{
	struct block_at *sorted = malloc((sv->n_blocks + 1) * sizeof(*sorted));
	size_t i;
	int rc = 0;

	if (!sorted)
		return -ENOMEM;
	for (i = 0; i < sv->n_blocks; i++) {
		sorted[i].rule = sv->blocks[i].rule;
		sorted[i].i = i;
	}
	qsort(sorted, sv->n_blocks, sizeof(*sorted), block_cmp);
	for (i = 1; i < sv->n_blocks && !rc; i++) {
		if (sorted[i - 1].rule.family != sorted[i].rule.family ||
		    sorted[i - 1].rule.plen != sorted[i].rule.plen ||
		    memcmp(sorted[i - 1].rule.addr, sorted[i].rule.addr, sizeof(sorted[i].rule.addr)))
			continue;
		snprintf(c->path, sizeof(c->path), "/blocks/%zu", sorted[i].i);
		rc = bad(c, "prefix", "the same prefix as an entry before it");
	}
	free(sorted);
	return rc;
}

static int blocks_read(struct load_ctx *c, json_t *blocks, struct saved *sv)
{
	json_t *b;
	size_t i;
	int rc;

	if (!blocks)
		return 0;
	c->path[0] = '\0';
	if (!json_is_array(blocks))
		return bad(c, "blocks", "not an array");
	sv->blocks = calloc(json_array_size(blocks) + 1, sizeof(*sv->blocks));
	if (!sv->blocks)
		return -ENOMEM;
	json_array_foreach(blocks, i, b) {
		snprintf(c->path, sizeof(c->path), "/blocks/%zu", i);
		rc = block_read(c, b, &sv->blocks[sv->n_blocks++]);
		if (rc)
			return rc;
	}
	return blocks_unique(c, sv);
}

/* "node": the operator's drain of the whole node. */
static int node_read(struct load_ctx *c, json_t *n, struct state_node *out)
{
	json_t *drained = json_object_get(n, "drained");

	if (!n)
		return 0;
	snprintf(c->path, sizeof(c->path), "/node");
	if (!json_is_object(n))
		return bad(c, "", "not an object");
	if (!json_is_boolean(drained))
		return bad(c, "drained", "missing, or not true or false");
	out->drained = json_is_true(drained);
	return get_u64(c, n, "since_ms", out->drained, &out->since_ms);
}

static int saved_read(struct load_ctx *c, json_t *root, const struct state *st,
		      struct saved *sv)
{
	json_t *vips = json_object_get(root, "vips"), *v;
	__u64 format = 0;
	size_t i;
	int rc;

	if (!json_is_object(root))
		return bad(c, "", "not an object");
	rc = get_u64(c, root, "format", true, &format);
	if (!rc && format != STATEFILE_FORMAT)
		return bad(c, "format", "a format this lbd does not know");
	if (!rc && !json_is_array(vips))
		return bad(c, "vips", "missing, or not an array");
	sv->vips = calloc(json_array_size(vips) + 1, sizeof(*sv->vips));
	if (!rc && !sv->vips)
		return -ENOMEM;
	json_array_foreach(vips, i, v) {
		if (rc)
			break;
		snprintf(c->path, sizeof(c->path), "/vips/%zu", i);
		rc = vip_read(c, v, st, sv, &sv->vips[sv->n_vips++]);
	}
	if (!rc)
		rc = blocks_read(c, json_object_get(root, "blocks"), sv);
	return rc ? rc : node_read(c, json_object_get(root, "node"), &sv->node);
}

static void saved_restore(struct saved *sv, struct state *st, __u64 now_ms,
			  struct statefile_stats *fs)
{
	size_t i;

	for (i = 0; i < sv->n_vips; i++)
		if (sv->vips[i].vip >= 0 && sv->vips[i].all_down)
			state_vip_restore(st, (size_t)sv->vips[i].vip,
					  sv->vips[i].all_down_since_ms);
	for (i = 0; i < sv->n_bes; i++) {
		const struct saved_backend *b = &sv->bes[i];

		if (b->be < 0) {
			fs->forgotten++;
			continue;
		}
		state_backend_restore(st, (size_t)b->vip, (size_t)b->be, &b->s, &fs->rs);
		fs->backends++;
	}
	free(st->blocks);
	st->blocks = sv->blocks;
	st->n_blocks = sv->n_blocks;
	fs->blocks = sv->n_blocks;
	state_node_restore(st, &sv->node);
	state_resolve_all(st, now_ms);
}

static json_t *file_parse(const char *path, char *err, size_t errlen, int *rc)
{
	json_error_t je;
	struct stat sb;
	json_t *root;

	if (stat(path, &sb)) {
		*rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (sb.st_size > STATEFILE_MAX) {
		*rc = -EFBIG;
		snprintf(err, errlen, "%s: larger than %d bytes", path, STATEFILE_MAX);
		return NULL;
	}
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		*rc = -EINVAL;
		snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
	}
	return root;
}

int statefile_load(struct state *st, const char *dir, __u64 now_ms,
		   struct statefile_stats *fs, char *err, size_t errlen)
{
	struct load_ctx c = { .err = err, .errlen = errlen };
	struct saved sv = { 0 };
	char path[4200], where[160];
	json_t *root;
	int rc = 0;

	memset(fs, 0, sizeof(*fs));
	snprintf(path, sizeof(path), "%s/%s", dir, STATEFILE_NAME);
	root = file_parse(path, err, errlen, &rc);
	if (!root)
		return rc;
	rc = saved_read(&c, root, st, &sv);
	if (rc == -EINVAL) {
		snprintf(where, sizeof(where), "%s", err);
		snprintf(err, errlen, "%s: %s", path, where);
	} else if (rc) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	} else {
		saved_restore(&sv, st, now_ms, fs);
		sv.blocks = NULL;	/* the state's now */
	}
	json_decref(root);
	free(sv.vips);
	free(sv.bes);
	free(sv.blocks);
	return rc;
}

int statefile_set_aside(const char *dir, __u64 now_ms, char *name, size_t len)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	snprintf(name, len, STATEFILE_NAME ".unusable-%llu", (unsigned long long)now_ms);
	if (dfd < 0)
		return -errno;
	if (renameat(dfd, STATEFILE_NAME, dfd, name) || fsync(dfd))
		rc = -errno;
	close(dfd);
	return rc;
}
