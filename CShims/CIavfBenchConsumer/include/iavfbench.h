/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The C side of `bench pipeline` and of the host pipeline self-test: the prctl()
 * trigger selftest.bpf.c reacts to, and the practical limit the Swift consumer is
 * measured against, a C consumer that only counts and checksums records. Not part
 * of the libbpf shim (CIavfShim), whose public calls it uses.
 */
#ifndef IAVFBENCH_H
#define IAVFBENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "iavfshim.h"

#ifdef __cplusplus
extern "C" {
#endif

long iavfshim_selftest_syscall_nr(void);
/* prctl(IAVF_SELFTEST_MAGIC, mode, param, count): what selftest.bpf.c reacts to. */
long iavfshim_selftest_trigger(uint64_t mode, uint64_t param, uint64_t count);

/* The consumer keeps its own ring_buffer on the map (mapped once), so repeated runs
 * measure consumption, not set-up. */
typedef struct iavfshim_c_consumer iavfshim_c_consumer;
int iavfshim_c_consumer_new(iavfshim_object *obj, const char *map, iavfshim_c_consumer **out);
/* Consume until `target` records were received or dropped (per-CPU counter drops_map,
 * may be NULL), or timeout_ms passed (-ETIMEDOUT). `busy`: poll with a zero timeout
 * (a drain of a pre-filled ring) instead of sleeping in epoll. `ns`: time spent, from
 * the first poll. Returns 0 or -errno. */
int iavfshim_c_consumer_run(iavfshim_c_consumer *c, const char *drops_map, uint64_t target, int timeout_ms,
			    bool busy, uint64_t *received, uint64_t *checksum, uint64_t *ns);
void iavfshim_c_consumer_free(iavfshim_c_consumer *c);

#ifdef __cplusplus
}
#endif
#endif /* IAVFBENCH_H */
