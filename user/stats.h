/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Names of the data path's counters, indexed by the enums of lb_abi.h.
 * These are the stable keys of every JSON output and of the tests.
 */
#ifndef LB_STATS_NAMES_H
#define LB_STATS_NAMES_H

#include "lb_abi.h"

#define STATS_VIP_FIELDS	(sizeof(struct lb_vip_stats) / sizeof(__u64))
#define STATS_BACKEND_FIELDS	(sizeof(struct lb_backend_stats) / sizeof(__u64))

extern const char *const stats_verdict_names[LB_VERDICT_MAX];
extern const char *const stats_drop_names[LB_DROP_MAX];
extern const char *const stats_event_names[LB_EV_MAX];
extern const char *const stats_vip_fields[STATS_VIP_FIELDS];
extern const char *const stats_backend_fields[STATS_BACKEND_FIELDS];

#endif /* LB_STATS_NAMES_H */
