/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a new config would change, before it is applied: VIPs added and
 * removed, backends added, removed and changed, and for each VIP the share
 * of its table (so of its new flows) that would go to another backend,
 * from the table installed now and the one the new config would build
 * (lbctl config diff; docs/control-api.md).
 */
#ifndef LB_CFGDIFF_H
#define LB_CFGDIFF_H

#include <jansson.h>

#include "apply.h"
#include "state.h"

/*
 * cur is the running state, whose VIPs have the ids ap gave them and
 * whose tables are in m->vip_tables; next is the state the new config
 * would make (state_new(), then state_carry() from cur). Returns the diff,
 * or NULL with errno.
 */
json_t *cfgdiff(const struct state *cur, const struct apply *ap, const struct apply_maps *m,
		const struct state *next);

#endif /* LB_CFGDIFF_H */
