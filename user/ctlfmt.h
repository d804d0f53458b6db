/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lbctl's human output: each command's reply (the "result" of
 * docs/control-api.md) as text. Kept apart from lbctl.c so the golden
 * tests can feed it replies without a running lbd. now_ms is the wall
 * clock that "since" times are shown against.
 */
#ifndef LB_CTLFMT_H
#define LB_CTLFMT_H

#include <stdio.h>
#include <linux/types.h>
#include <jansson.h>

void ctlfmt_status(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_vip_list(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_vip_show(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_backend_list(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_backend(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_drained(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_stats(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_flow(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_config_valid(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_config_diff(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_config_applied(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_config_show(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_block_list(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_block_added(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_block_removed(FILE *f, json_t *r, __u64 now_ms);
void ctlfmt_node(FILE *f, json_t *r, __u64 now_ms);

#endif /* LB_CTLFMT_H */
