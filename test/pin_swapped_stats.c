// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pins, at PATH, a backend_stats map of exactly the type, sizes and flags
 * lbd wants, whose value struct has its two fields the other way round
 * (bytes, then packets): the layout change that sizes alone cannot see.
 * For test/lbd_test.sh.
 *
 * Usage: pin_swapped_stats PATH   (root)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "lb_abi.h"

int main(int argc, char **argv)
{
	struct btf *btf = btf__new_empty();
	int u32, u64, val, fd;

	if (argc != 2 || !btf) {
		fprintf(stderr, "usage: pin_swapped_stats PATH\n");
		return EXIT_FAILURE;
	}
	u32 = btf__add_int(btf, "__u32", 4, 0);
	u64 = btf__add_int(btf, "__u64", 8, 0);
	val = btf__add_struct(btf, "lb_backend_stats", sizeof(struct lb_backend_stats));
	if (u32 < 0 || u64 < 0 || val < 0 || btf__add_field(btf, "bytes", u64, 0, 0) ||
	    btf__add_field(btf, "packets", u64, 64, 0) || btf__load_into_kernel(btf)) {
		fprintf(stderr, "pin_swapped_stats: cannot make the BTF: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	LIBBPF_OPTS(bpf_map_create_opts, opts, .btf_fd = (__u32)btf__fd(btf),
		    .btf_key_type_id = (__u32)u32, .btf_value_type_id = (__u32)val);
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "backend_stats", sizeof(__u32),
			    sizeof(struct lb_backend_stats), LB_MAX_BACKENDS, &opts);
	if (fd < 0 || bpf_obj_pin(fd, argv[1])) {
		fprintf(stderr, "pin_swapped_stats: cannot create or pin %s: %s\n", argv[1],
			strerror(errno));
		return EXIT_FAILURE;
	}
	close(fd);
	btf__free(btf);
	return EXIT_SUCCESS;
}
