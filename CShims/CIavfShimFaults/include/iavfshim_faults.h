/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Fault injection into the shim, for tests only (no product depends on this target):
 * the first call of any function here installs the shim's fault hook. Then
 * iavfshim_fault_set() makes a chosen call fail with a chosen errno, so tests drive
 * every error path without root.
 */
#ifndef IAVFSHIM_FAULTS_H
#define IAVFSHIM_FAULTS_H

#include <stdint.h>

#include "iavfshim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The call of `op` after `skip` more successful calls fails with -err (err > 0). Once. */
void iavfshim_fault_set(iavfshim_op op, int err, unsigned skip);
/* Remove every pending fault and zero the call counters. */
void iavfshim_fault_clear(void);
/* Calls of `op` made through the shim since the last iavfshim_fault_clear(). */
uint64_t iavfshim_call_count(iavfshim_op op);

#ifdef __cplusplus
}
#endif
#endif /* IAVFSHIM_FAULTS_H */
