// SPDX-License-Identifier: GPL-2.0-only
#include "tables.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datapath.h"
#include "lb_abi.h"

/* What an installed table was built from, and each backend's share. */
struct table_memo {
	bool known;
	__u32 size;		/* 0: the empty table */
	size_t n;
	struct maglev_backend *mb;
	__u32 *slots;		/* slots of mb[i] in the table */
};

struct pending {
	__u32 vip_id;
	int fd;
	struct table_memo memo;
};

struct tables {
	int vip_tables;
	struct table_memo memo[LB_MAX_VIPS];
	struct pending queue[TABLES_BATCH];
	__u32 ids[TABLES_BATCH];
	int fds[TABLES_BATCH];
	size_t n_queued;
	__u32 *scratch;		/* LB_TABLE_SIZE_MAX slots */
	__u32 *counts;		/* LB_MAX_BACKENDS, zero between uses */
	struct tables_stats st;
};

struct tables *tables_new(int vip_tables_fd)
{
	struct tables *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->vip_tables = vip_tables_fd;
	t->scratch = malloc(LB_TABLE_SIZE_MAX * sizeof(*t->scratch));
	t->counts = calloc(LB_MAX_BACKENDS, sizeof(*t->counts));
	if (!t->scratch || !t->counts) {
		free(t->scratch);
		free(t->counts);
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

static void memo_clear(struct table_memo *m)
{
	free(m->mb);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static void queue_drop(struct tables *t)
{
	size_t i;

	for (i = 0; i < t->n_queued; i++) {
		close(t->queue[i].fd);
		memo_clear(&t->queue[i].memo);
	}
	t->n_queued = 0;
}

void tables_free(struct tables *t)
{
	size_t i;

	if (!t)
		return;
	queue_drop(t);
	for (i = 0; i < LB_MAX_VIPS; i++)
		memo_clear(&t->memo[i]);
	free(t->scratch);
	free(t->counts);
	free(t);
}

static bool backend_same(const struct maglev_backend *a, const struct maglev_backend *b)
{
	return a->id == b->id && a->weight == b->weight && a->family == b->family &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

static bool memo_same(const struct table_memo *m, const struct maglev_backend *mb, size_t n,
		      __u32 size)
{
	size_t i;

	if (!m->known || m->n != n || m->size != size)
		return false;
	for (i = 0; i < n; i++)
		if (!backend_same(&m->mb[i], &mb[i]))
			return false;
	return true;
}

/* Each backend's slots in the table just built (t->scratch). */
static void memo_count(struct tables *t, struct table_memo *m)
{
	size_t i;

	for (i = 0; i < m->size; i++)
		t->counts[t->scratch[i]]++;
	for (i = 0; i < m->n; i++) {
		m->slots[i] = t->counts[m->mb[i].id];
		t->counts[m->mb[i].id] = 0;
	}
}

static int memo_make(struct tables *t, struct table_memo *m, const struct maglev_backend *mb,
		     size_t n, __u32 size)
{
	m->mb = n ? malloc(n * sizeof(*mb)) : NULL;
	m->slots = n ? calloc(n, sizeof(*m->slots)) : NULL;
	if (n && (!m->mb || !m->slots)) {
		memo_clear(m);
		return -ENOMEM;
	}
	if (n)
		memcpy(m->mb, mb, n * sizeof(*mb));
	m->n = n;
	m->size = size;
	m->known = true;
	memo_count(t, m);
	return 0;
}

/* After a start: is what is installed what we would build? */
static bool installed_same(const struct tables *t, __u32 vip_id, const __u32 *table,
			   __u32 size)
{
	__u32 *have = NULL, have_size = 0;
	bool same;
	int rc = datapath_table_read(t->vip_tables, vip_id, &have, &have_size);

	if (rc == -ENOENT)
		return size == 0;	/* no table, or the empty one */
	same = !rc && have_size == size && !memcmp(have, table, size * sizeof(*table));
	free(have);
	return same;
}

/* The queue holds only VIPs with no install pending in it. */
static int queue_add(struct tables *t, __u32 vip_id, const __u32 *table, __u32 size,
		     struct table_memo *memo, char *err, size_t errlen)
{
	struct pending *p;
	int fd, rc;
	size_t i;

	for (i = 0; i < t->n_queued; i++) {
		if (t->queue[i].vip_id != vip_id)
			continue;
		/* Set twice before a flush: the later one wins. */
		rc = tables_flush(t, err, errlen);
		if (rc)
			return rc;
		break;
	}
	if (t->n_queued == TABLES_BATCH) {
		rc = tables_flush(t, err, errlen);
		if (rc)
			return rc;
	}
	fd = datapath_table_new(table, size);
	if (fd < 0) {
		snprintf(err, errlen, "creating a table for VIP id %u: %s", vip_id, strerror(-fd));
		return fd;
	}
	p = &t->queue[t->n_queued++];
	p->vip_id = vip_id;
	p->fd = fd;
	p->memo = *memo;
	memset(memo, 0, sizeof(*memo));
	return 0;
}

static bool queued(const struct tables *t, __u32 vip_id)
{
	size_t i;

	for (i = 0; i < t->n_queued; i++)
		if (t->queue[i].vip_id == vip_id)
			return true;
	return false;
}

static int table_set(struct tables *t, __u32 vip_id, const struct maglev_backend *mb, size_t n,
		     __u32 size, char *err, size_t errlen)
{
	struct table_memo memo = { 0 };
	__u32 slots = n ? size : 0;
	int rc;

	if (vip_id >= LB_MAX_VIPS)
		return -EINVAL;
	/* The memo is what is installed: with another table queued for the
	 * VIP, the installed one must be queued again, after it. */
	if (!queued(t, vip_id) && memo_same(&t->memo[vip_id], mb, n, slots))
		return 0;
	if (n) {
		rc = maglev_build(mb, n, size, t->scratch, err, errlen);
		if (rc)
			return rc;
	}
	rc = memo_make(t, &memo, mb, n, slots);
	if (!rc && !t->memo[vip_id].known && !queued(t, vip_id) &&
	    installed_same(t, vip_id, t->scratch, slots)) {
		memo_clear(&t->memo[vip_id]);
		t->memo[vip_id] = memo;
		return 0;
	}
	if (!rc)
		rc = queue_add(t, vip_id, t->scratch, slots, &memo, err, errlen);
	else
		snprintf(err, errlen, "building tables: %s", strerror(-rc));
	memo_clear(&memo);
	return rc;
}

/* A failure drops the tables queued before it: the apply that failed
 * ends here, and a later one installing them would put back what this
 * one meant to replace. The memos still say what is installed. */
int tables_set(struct tables *t, __u32 vip_id, const struct maglev_backend *mb, size_t n,
	       __u32 size, char *err, size_t errlen)
{
	int rc = table_set(t, vip_id, mb, n, size, err, errlen);

	if (rc)
		queue_drop(t);
	return rc;
}

int tables_flush(struct tables *t, char *err, size_t errlen)
{
	__u32 n = (__u32)t->n_queued, i;
	int rc;

	if (!n)
		return 0;
	for (i = 0; i < n; i++) {
		t->ids[i] = t->queue[i].vip_id;
		t->fds[i] = t->queue[i].fd;
	}
	rc = datapath_tables_install(t->vip_tables, t->ids, t->fds, &n);
	t->st.batches++;
	for (i = 0; i < t->n_queued; i++) {
		struct pending *p = &t->queue[i];

		memo_clear(&t->memo[p->vip_id]);
		/* What failed may or may not be in: read it again next time. */
		if (i < n) {
			t->memo[p->vip_id] = p->memo;
			memset(&p->memo, 0, sizeof(p->memo));
			if (t->memo[p->vip_id].size)
				t->st.swapped++;
			else
				t->st.emptied++;
		}
	}
	queue_drop(t);
	if (rc)
		snprintf(err, errlen, "installing tables: %s", strerror(-rc));
	return rc;
}

void tables_forget(struct tables *t, __u32 vip_id)
{
	if (vip_id < LB_MAX_VIPS)
		memo_clear(&t->memo[vip_id]);
}

void tables_stats_take(struct tables *t, struct tables_stats *ts)
{
	*ts = t->st;
	memset(&t->st, 0, sizeof(t->st));
}

void tables_slots(const struct tables *t, __u32 *slots)
{
	const struct table_memo *m;
	size_t v, i;

	for (v = 0; v < LB_MAX_VIPS; v++) {
		m = &t->memo[v];
		for (i = 0; i < m->n; i++)
			slots[m->mb[i].id] = m->slots[i];
	}
}
