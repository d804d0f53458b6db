// SPDX-License-Identifier: GPL-2.0-only
#include "timeq.h"

#include <errno.h>
#include <stdlib.h>

static void ent_put(struct timeq *q, size_t i, struct timeq_ent ent)
{
	q->v[i] = ent;
	ent.slot->pos = i;
}

static void ent_up(struct timeq *q, size_t i)
{
	struct timeq_ent ent = q->v[i];

	while (i && q->v[(i - 1) / 2].due_us > ent.due_us) {
		ent_put(q, i, q->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	ent_put(q, i, ent);
}

static void ent_down(struct timeq *q, size_t i)
{
	struct timeq_ent ent = q->v[i];
	size_t c;

	while ((c = 2 * i + 1) < q->n) {
		if (c + 1 < q->n && q->v[c + 1].due_us < q->v[c].due_us)
			c++;
		if (q->v[c].due_us >= ent.due_us)
			break;
		ent_put(q, i, q->v[c]);
		i = c;
	}
	ent_put(q, i, ent);
}

int timeq_reserve(struct timeq *q, size_t n)
{
	size_t cap = q->cap ? q->cap : 64;
	struct timeq_ent *v;

	while (cap < n)
		cap *= 2;
	if (cap == q->cap)
		return 0;
	v = realloc(q->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	q->v = v;
	q->cap = cap;
	return 0;
}

int timeq_add(struct timeq *q, struct timeq_slot *e)
{
	if (timeq_reserve(q, q->n + 1))
		return -ENOMEM;
	q->v[q->n++] = (struct timeq_ent){ .due_us = e->due_us, .slot = e };
	ent_up(q, q->n - 1);
	return 0;
}

/* The entry at i has a new due time: up or down to its place. */
static void ent_moved(struct timeq *q, size_t i)
{
	struct timeq_slot *e = q->v[i].slot;

	ent_up(q, i);
	ent_down(q, e->pos);
}

void timeq_del(struct timeq *q, struct timeq_slot *e)
{
	size_t i = e->pos;

	if (i >= q->n || q->v[i].slot != e)
		return;		/* not in it */
	e->pos = SIZE_MAX;
	if (i == --q->n)
		return;
	ent_put(q, i, q->v[q->n]);
	ent_moved(q, i);
}

void timeq_moved(struct timeq *q, struct timeq_slot *e)
{
	q->v[e->pos].due_us = e->due_us;
	ent_moved(q, e->pos);
}

struct timeq_slot *timeq_first(const struct timeq *q)
{
	return q->n ? q->v[0].slot : NULL;
}

void timeq_free(struct timeq *q)
{
	free(q->v);
	*q = (struct timeq){ 0 };
}

void timeq_arm(const struct timeq *q, sd_event_source *src)
{
	const struct timeq_slot *first = timeq_first(q);

	if (!first) {
		sd_event_source_set_enabled(src, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_time(src, first->due_us);
	sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}
