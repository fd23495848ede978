/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * CIavfEvents: bpf/iavf_events.h, the record layout shared by the BPF programs
 * and user space, as a C module. Compiling this file with the host compiler runs
 * the header's _Static_asserts on the host side (clang -target bpf runs them for
 * the BPF objects).
 */
#include "iavf_events.h"

const unsigned iavf_events_abi_version = IAVF_EV_ABI_VERSION;
