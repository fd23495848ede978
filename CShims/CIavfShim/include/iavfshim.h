/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * iavfshim: the thin C API iavf-check uses over libbpf. Every exported symbol
 * carries the iavfshim_ prefix. Functions return 0 or a count on success and a
 * negative errno on failure; libbpf's own messages are captured (see
 * iavfshim_log_*) so callers can show why something failed.
 *
 * Ownership: every result of an _open, _new or _attach call must be released
 * with the matching _close, _free or _destroy. Links and ring buffers must be released
 * before the object they came from (the Swift owners guarantee this order).
 *
 * Test seam: every wrapped libbpf call first asks a fault hook, when one is set
 * (iavfshim_fault_hook_set; the test-only target CIavfShimFaults installs it), so
 * tests can drive every error path without root.
 *
 * Not here: SIGINT/SIGTERM (StopSignal, in Swift), the C consumer of `bench
 * pipeline` and the selftest trigger (CIavfBenchConsumer), the record layout
 * (iavf_events.h, module CIavfEvents).
 */
#ifndef IAVFSHIM_H
#define IAVFSHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The one record layout shared with the BPF programs (module CIavfEvents). */
#include "iavf_events.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iavfshim_object iavfshim_object;
typedef struct iavfshim_link iavfshim_link;
typedef struct iavfshim_ringbuf iavfshim_ringbuf;
typedef struct iavfshim_btf iavfshim_btf;

/* ---- libbpf log capture ---------------------------------------------------- */
/* Route libbpf's messages into an internal buffer (idempotent). debug: keep LIBBPF_DEBUG lines too. */
void iavfshim_log_install(bool debug);
/* Forget what was captured so far. */
void iavfshim_log_clear(void);
/* Copy up to cap-1 bytes of the captured text (the newest part if it is longer); returns its full length. */
size_t iavfshim_log_copy(char *buf, size_t cap);

/* ---- test seam ------------------------------------------------------------------ */
/* The calls a test can make fail. */
typedef enum iavfshim_op {
	IAVFSHIM_OP_OPEN = 0,
	IAVFSHIM_OP_LOAD,
	IAVFSHIM_OP_ATTACH,
	IAVFSHIM_OP_RINGBUF_NEW,
	IAVFSHIM_OP_RINGBUF_POLL,
	IAVFSHIM_OP_MAP_LOOKUP,
	IAVFSHIM_OP_MAP_UPDATE,
	IAVFSHIM_OP_TEST_RUN,
	IAVFSHIM_OP_BTF_LOAD,
	IAVFSHIM_OP_COUNT
} iavfshim_op;

/* Asked before each call of `op`: 0 to go on, a negative errno to fail the call with it. */
typedef int (*iavfshim_fault_fn)(iavfshim_op op);
/* Install (or, with NULL, remove) the hook. Nothing in the shim sets one: the test-only
 * target CIavfShimFaults does (iavfshim_fault_set & co.). */
void iavfshim_fault_hook_set(iavfshim_fault_fn fn);
/* Append a line of our own to the captured libbpf log. */
void iavfshim_log_note(const char *text);

/* ---- objects ---------------------------------------------------------------- */
/* Open an ELF BPF object from memory (copied by libbpf). name: object name. */
int iavfshim_object_open_mem(const void *data, size_t size, const char *name, iavfshim_object **out);
void iavfshim_object_close(iavfshim_object *obj);
int iavfshim_object_load(iavfshim_object *obj);
bool iavfshim_object_loaded(const iavfshim_object *obj);

int iavfshim_program_count(const iavfshim_object *obj);
const char *iavfshim_program_name(const iavfshim_object *obj, int index);
const char *iavfshim_program_section(const iavfshim_object *obj, int index);
bool iavfshim_program_autoload(const iavfshim_object *obj, int index);
int iavfshim_program_set_autoload(iavfshim_object *obj, int index, bool autoload);
int iavfshim_program_fd(const iavfshim_object *obj, int index);
/* Kernel program id (after load), or negative errno. */
int64_t iavfshim_program_id(const iavfshim_object *obj, int index);
/* Run-time statistics (kernel.bpf_stats_enabled or iavfshim_stats_enable). */
int iavfshim_program_stats(const iavfshim_object *obj, int index, uint64_t *run_cnt, uint64_t *run_time_ns);
/* BPF_PROG_TEST_RUN without input (SEC("syscall") programs). */
int iavfshim_program_test_run(iavfshim_object *obj, int index, int *retval);

/* Write `size` bytes into a global variable of .rodata/.data/.bss before load. */
int iavfshim_global_set(iavfshim_object *obj, const char *section, const char *var, const void *value, size_t size);
/* Read a global variable of .bss/.data after load (from the kernel map). */
int iavfshim_global_get(iavfshim_object *obj, const char *section, const char *var, void *value, size_t size);

int iavfshim_map_set_max_entries(iavfshim_object *obj, const char *map, uint32_t max_entries);
int iavfshim_map_fd(const iavfshim_object *obj, const char *map);
int iavfshim_map_update(iavfshim_object *obj, const char *map, const void *key, size_t key_size,
			const void *value, size_t value_size);
/* Sum of a per-CPU array's u64 slot `key` over all possible CPUs. */
int iavfshim_percpu_u64_sum(iavfshim_object *obj, const char *map, uint32_t key, uint64_t *sum);

/* ---- links ------------------------------------------------------------------ */
/* Attach a loaded program by its section (fentry/fexit/kprobe/raw_tp/...). */
int iavfshim_link_attach(iavfshim_object *obj, int index, iavfshim_link **out);
void iavfshim_link_destroy(iavfshim_link *link);
int64_t iavfshim_link_id(const iavfshim_link *link);

/* ---- ring buffer ------------------------------------------------------------ */
/* Called for every record; return 0 (or positive) to go on, a negative errno to stop the poll with it. */
typedef int (*iavfshim_record_fn)(void *ctx, void *data, size_t size);
int iavfshim_ringbuf_new(iavfshim_object *obj, const char *map, iavfshim_record_fn fn, void *ctx,
			 iavfshim_ringbuf **out);
/* Wait up to timeout_ms and consume what is there: records handled, or -errno (-EINTR on a signal). */
int iavfshim_ringbuf_poll(iavfshim_ringbuf *rb, int timeout_ms);
/* Add fd (e.g. a self-pipe's read end) to the ring buffer's epoll set: writing to it wakes
 * a blocked iavfshim_ringbuf_poll (edge-triggered; the caller owns fd). */
int iavfshim_ringbuf_add_wake_fd(iavfshim_ringbuf *rb, int fd);
/* Consume without waiting. */
int iavfshim_ringbuf_consume(iavfshim_ringbuf *rb);
void iavfshim_ringbuf_free(iavfshim_ringbuf *rb);

/* ---- BTF of the running kernel ---------------------------------------------- */
/* module NULL: vmlinux; otherwise /sys/kernel/btf/<module> split on vmlinux. */
int iavfshim_btf_load(const char *module, iavfshim_btf **out);
void iavfshim_btf_free(iavfshim_btf *btf);
typedef void (*iavfshim_enum_fn)(void *ctx, const char *name, int64_t value);
/* Calls fn for each enumerator of `enum name`; returns their number or -ENOENT. */
int iavfshim_btf_enum(const iavfshim_btf *btf, const char *name, iavfshim_enum_fn fn, void *ctx);
/* 1 when `name` is a BTF FUNC (own types only for a module), 0 if not. */
int iavfshim_btf_has_func(const iavfshim_btf *btf, const char *name);
/* Size of struct `name`, or -ENOENT. */
int64_t iavfshim_btf_struct_size(const iavfshim_btf *btf, const char *name);

/* ---- system ------------------------------------------------------------------ */
/* 1 if the kernel loads fentry/fexit (BPF_PROG_TYPE_TRACING) programs, 0 if not, or -errno. */
int iavfshim_probe_tracing(void);
/* The same for kprobe programs (the kprobe PMU is a separate question). */
int iavfshim_probe_kprobe_prog(void);
int iavfshim_num_possible_cpus(void);
/* Turn on run-time stats while the returned fd is open (BPF_ENABLE_STATS). */
int iavfshim_stats_enable(void);
void iavfshim_close_fd(int fd);
/* Walk all programs in the kernel: next id after `id`, or -ENOENT at the end. */
int64_t iavfshim_prog_next_id(uint32_t id);
int iavfshim_prog_info_by_id(uint32_t id, char name[16], uint32_t *type, uint64_t *run_cnt, uint64_t *run_time_ns);
int iavfshim_link_exists(uint32_t id);

#ifdef __cplusplus
}
#endif
#endif /* IAVFSHIM_H */
