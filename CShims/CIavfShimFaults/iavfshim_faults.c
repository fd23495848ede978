/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Test-only fault injection through the shim's fault hook: see include/iavfshim_faults.h. */
#include "iavfshim_faults.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct fault {
	int err;
	unsigned skip;
	bool armed;
};
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault faults[IAVFSHIM_OP_COUNT];
static uint64_t calls[IAVFSHIM_OP_COUNT];
static const char *op_names[IAVFSHIM_OP_COUNT] = {
	"open", "load", "attach", "ringbuf_new", "ringbuf_poll", "map_lookup", "map_update", "test_run", "btf_load",
};

/* The hook: counts the call, fails it when a fault is due. */
static int fault_check(iavfshim_op op)
{
	int err = 0;
	if ((unsigned)op >= IAVFSHIM_OP_COUNT)
		return 0;
	pthread_mutex_lock(&fault_lock);
	calls[op]++;
	if (faults[op].armed) {
		if (faults[op].skip == 0) {
			err = -faults[op].err;
			faults[op].armed = false;
		} else {
			faults[op].skip--;
		}
	}
	pthread_mutex_unlock(&fault_lock);
	if (err) {
		char msg[128];
		snprintf(msg, sizeof(msg), "iavfshim: injected fault: %s fails with %s\n", op_names[op], strerror(-err));
		iavfshim_log_note(msg);
	}
	return err;
}

void iavfshim_fault_set(iavfshim_op op, int err, unsigned skip)
{
	iavfshim_fault_hook_set(fault_check);
	if ((unsigned)op >= IAVFSHIM_OP_COUNT)
		return;
	pthread_mutex_lock(&fault_lock);
	faults[op] = (struct fault){ .err = err > 0 ? err : -err, .skip = skip, .armed = true };
	pthread_mutex_unlock(&fault_lock);
}

void iavfshim_fault_clear(void)
{
	iavfshim_fault_hook_set(fault_check);
	pthread_mutex_lock(&fault_lock);
	memset(faults, 0, sizeof(faults));
	memset(calls, 0, sizeof(calls));
	pthread_mutex_unlock(&fault_lock);
}

uint64_t iavfshim_call_count(iavfshim_op op)
{
	if ((unsigned)op >= IAVFSHIM_OP_COUNT)
		return 0;
	pthread_mutex_lock(&fault_lock);
	uint64_t n = calls[op];
	pthread_mutex_unlock(&fault_lock);
	return n;
}
