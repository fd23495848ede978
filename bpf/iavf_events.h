/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * iavf_events.h: the one record layout shared by the BPF programs (bpf/NAME.bpf.c)
 * and the user-space shim (CShims/CIavfShim). Every ring buffer record starts
 * with struct iavf_ev_hdr; hdr.kind says which struct follows and hdr.size is
 * the record's full size in bytes.
 *
 * Only fixed-width types, natural alignment, explicit padding: the same bytes
 * mean the same thing to clang -target bpf and to the host compiler. Every
 * struct's size is asserted below (IAVF_*_SIZE), so a layout change fails both
 * compiles (BPF objects and CShims/CIavfEvents); the Swift tests compare the
 * imported structs against the same numbers.
 *
 * User space imports this file as the C module CIavfEvents
 * (CShims/CIavfEvents/include/iavf_events.h is a link to it).
 *
 * Kernel enum values (iavf_vlan_state_t, virtchnl_ops) travel as raw numbers;
 * user space names them from the running kernel's BTF. Nothing here hard-codes
 * what a state number means.
 */
#ifndef IAVF_EVENTS_H
#define IAVF_EVENTS_H

#ifdef __bpf__
/* BPF side: <linux/types.h> is included by the .bpf.c before this file. */
typedef __u8 iavf_u8;
typedef __u16 iavf_u16;
typedef __u32 iavf_u32;
typedef __s32 iavf_s32;
typedef __u64 iavf_u64;
#else
#include <stdint.h>
typedef uint8_t iavf_u8;
typedef uint16_t iavf_u16;
typedef uint32_t iavf_u32;
typedef int32_t iavf_s32;
typedef uint64_t iavf_u64;
#endif

#define IAVF_EV_ABI_VERSION 1

/* Bounds of the variable parts (fixed-size records; counts say how many are valid). */
#define IAVF_EV_MAX_FILTERS 64   /* snapshot entries; the walk stops here (truncated flag) */
#define IAVF_EV_MAX_VIDS 512     /* VIDs decoded from one ADD/DEL message */
#define IAVF_EV_NAME_LEN 16

/* Record kinds. These are our own numbers, not kernel enum values. */
enum iavf_ev_kind {
	IAVF_EV_ADD_VID = 1,      /* iavf_vlan_rx_add_vid          struct iavf_ev_vid */
	IAVF_EV_KILL_VID = 2,     /* iavf_vlan_rx_kill_vid         struct iavf_ev_vid */
	IAVF_EV_ADD_VLANS = 3,    /* iavf_add_vlans                struct iavf_ev_hdr */
	IAVF_EV_DEL_VLANS = 4,    /* iavf_del_vlans                struct iavf_ev_hdr */
	IAVF_EV_SEND = 5,         /* iavf_send_pf_msg entry        struct iavf_ev_send */
	IAVF_EV_REPLY = 6,        /* iavf_virtchnl_completion      struct iavf_ev_reply */
	IAVF_EV_DOWN = 7,         /* iavf_down                     struct iavf_ev_hdr */
	IAVF_EV_OPEN = 8,         /* iavf_open                     struct iavf_ev_hdr (ret at exit) */
	IAVF_EV_CLOSE = 9,        /* iavf_close                    struct iavf_ev_hdr (ret at exit) */
	IAVF_EV_UP_COMPLETE = 10, /* iavf_up_complete              struct iavf_ev_hdr */
	IAVF_EV_RESET = 11,       /* iavf_reset_task               struct iavf_ev_hdr */
	IAVF_EV_SNAPSHOT = 12,    /* walk of vlan_filter_list      struct iavf_ev_snapshot */
	IAVF_EV_BENCH = 13,       /* selftest/bench filler         struct iavf_ev_bench */
	IAVF_EV_KIND_MAX = 13,
};

enum iavf_ev_phase {
	IAVF_PH_NONE = 0,
	IAVF_PH_ENTER = 1,
	IAVF_PH_EXIT = 2,
};

/* iavf.bpf.c's snapshot_mask knob (set by user space before load): where the
 * filter list is snapshotted. The default is IAVF_SNAP_AT_EXIT. */
#define IAVF_SNAP_AT_ENTER 0x1
#define IAVF_SNAP_AT_EXIT 0x2

/* hdr.flags */
#define IAVF_EVF_HAS_RET 0x01   /* hdr.ret is meaningful (exit of a function returning int) */
#define IAVF_EVF_SYNTHETIC 0x02 /* produced by the selftest program, not by iavf */

struct iavf_ev_hdr {
	iavf_u16 kind;      /* enum iavf_ev_kind */
	iavf_u8 phase;      /* enum iavf_ev_phase */
	iavf_u8 flags;      /* IAVF_EVF_* */
	iavf_u16 size;      /* whole record, bytes */
	iavf_u16 cpu;       /* CPU that produced it */
	iavf_u32 pid;       /* tgid */
	iavf_u32 tid;
	iavf_u64 ts_ns;     /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	iavf_u64 cpu_drops; /* this CPU's drop counter when the record was made */
	iavf_u64 dev_key;   /* the adapter's address: one key per adapter for its lifetime */
	iavf_s32 ifindex;
	iavf_s32 ret;       /* valid when flags & IAVF_EVF_HAS_RET */
	char ifname[IAVF_EV_NAME_LEN]; /* netdev name at the time of the event */
	char bus[IAVF_EV_NAME_LEN];    /* PCI address (e.g. 0000:41:01.0) or "" */
};

struct iavf_ev_vid {
	struct iavf_ev_hdr hdr;
	iavf_u16 vid;
	iavf_u16 tpid; /* host order (ntohs of the ndo proto argument) */
	iavf_u32 pad;
};

/* send.msg_flags */
#define IAVF_SENDF_VLAN_V1 0x01   /* ADD_VLAN / DEL_VLAN: VIDs only, tpid implied 0x8100 */
#define IAVF_SENDF_VLAN_V2 0x02   /* ADD_VLAN_V2 / DEL_VLAN_V2: tci+tpid per element */
#define IAVF_SENDF_TRUNCATED 0x04 /* num_elements > IAVF_EV_MAX_VIDS, or msglen too short */
#define IAVF_SENDF_READ_ERR 0x08  /* the message buffer could not be read */

struct iavf_ev_send {
	struct iavf_ev_hdr hdr;
	iavf_u32 op;           /* enum virtchnl_ops, raw */
	iavf_u16 msglen;
	iavf_u16 num_elements; /* as written in the message */
	iavf_u16 nvids;        /* valid entries in vid[]/tpid[] */
	iavf_u16 msg_flags;    /* IAVF_SENDF_* */
	iavf_u32 pad;
	iavf_u16 vid[IAVF_EV_MAX_VIDS];
	iavf_u16 tpid[IAVF_EV_MAX_VIDS]; /* 0 under V1 */
};

struct iavf_ev_reply {
	struct iavf_ev_hdr hdr;
	iavf_u32 op;     /* enum virtchnl_ops, raw */
	iavf_s32 retval; /* v_retval: 0 success, negative virtchnl status */
	iavf_u16 msglen;
	iavf_u16 pad0;
	iavf_u32 pad1;
};

struct iavf_ev_filter {
	iavf_u16 vid;
	iavf_u16 tpid;
	iavf_u32 state; /* enum iavf_vlan_state_t, raw: name it from BTF */
};

/* snapshot.snap_flags */
#define IAVF_SNAPF_TRUNCATED 0x01 /* the list had more than IAVF_EV_MAX_FILTERS entries */
#define IAVF_SNAPF_READ_ERR 0x02  /* a list node could not be read */
#define IAVF_SNAPF_TORN 0x04      /* num_vlan_filters changed during the lockless walk */

struct iavf_ev_snapshot {
	struct iavf_ev_hdr hdr;       /* hdr.phase = phase of the function it was taken at */
	iavf_u16 at_kind;             /* enum iavf_ev_kind of that function */
	iavf_u16 snap_flags;          /* IAVF_SNAPF_* */
	iavf_s32 count;               /* num_vlan_filters */
	iavf_u32 nfilters;            /* valid entries in filters[] */
	iavf_u32 adapter_state;       /* enum iavf_state_t, raw */
	iavf_u64 aq_required;
	iavf_u32 current_op;          /* enum virtchnl_ops, raw */
	iavf_u32 adapter_flags;
	iavf_u32 vf_cap_flags;        /* vf_res->vf_cap_flags, 0 if no vf_res */
	iavf_u16 max_filters;         /* vlan_v2_caps.filtering.max_filters */
	iavf_u16 pad;
	iavf_u32 filtering_outer;     /* vlan_v2_caps.filtering.filtering_support.outer */
	iavf_u32 filtering_inner;
	struct iavf_ev_filter filters[IAVF_EV_MAX_FILTERS];
};

struct iavf_ev_bench {
	struct iavf_ev_hdr hdr;
	iavf_u64 seq;   /* per-trigger index */
	iavf_u64 value; /* the trigger's parameter */
};

/*
 * What CO-RE resolved against the running kernel, written by the SEC("syscall")
 * program core_report of iavf.bpf.c into its .bss (run once with BPF_PROG_TEST_RUN).
 * State values are -1 when the enumerator does not exist in this kernel.
 */
enum iavf_core_state_index {
	IAVF_CS_INVALID = 0, IAVF_CS_ADD, IAVF_CS_IS_NEW, IAVF_CS_ADDING, IAVF_CS_ACTIVE,
	IAVF_CS_DISABLE, IAVF_CS_INACTIVE, IAVF_CS_REMOVE, IAVF_CS_REMOVING, IAVF_CS_COUNT
};

enum iavf_core_generation {
	IAVF_GEN_UNKNOWN = 0,
	IAVF_GEN_UNPATCHED = 1, /* IAVF_VLAN_DISABLE/INACTIVE design */
	IAVF_GEN_PATCHED = 2,   /* IAVF_VLAN_ADDING/REMOVING design */
};

struct iavf_core_info {
	iavf_u32 ran;            /* 1 once core_report has run */
	iavf_u32 generation;     /* enum iavf_core_generation */
	iavf_u32 has_adapter;    /* struct iavf_adapter found in BTF */
	iavf_u32 adapter_size;
	iavf_u32 filter_size;
	iavf_u32 off_vlan_filter_list;
	iavf_u32 off_num_vlan_filters;
	iavf_u32 netdev_priv_off;
	iavf_u32 op_add_vlan, op_del_vlan, op_add_vlan_v2, op_del_vlan_v2;
	iavf_s32 state_value[IAVF_CS_COUNT];
	iavf_u32 pad;
};

/* ---- sizes, checked at compile time on both sides -------------------------- */
#define IAVF_EV_HDR_SIZE 80
#define IAVF_EV_VID_SIZE 88
#define IAVF_EV_SEND_SIZE 2144
#define IAVF_EV_REPLY_SIZE 96
#define IAVF_EV_FILTER_SIZE 8
#define IAVF_EV_SNAPSHOT_SIZE 640
#define IAVF_EV_BENCH_SIZE 96
#define IAVF_CORE_INFO_SIZE 88

_Static_assert(sizeof(struct iavf_ev_hdr) == IAVF_EV_HDR_SIZE, "struct iavf_ev_hdr changed size");
_Static_assert(sizeof(struct iavf_ev_vid) == IAVF_EV_VID_SIZE, "struct iavf_ev_vid changed size");
_Static_assert(sizeof(struct iavf_ev_send) == IAVF_EV_SEND_SIZE, "struct iavf_ev_send changed size");
_Static_assert(sizeof(struct iavf_ev_reply) == IAVF_EV_REPLY_SIZE, "struct iavf_ev_reply changed size");
_Static_assert(sizeof(struct iavf_ev_filter) == IAVF_EV_FILTER_SIZE, "struct iavf_ev_filter changed size");
_Static_assert(sizeof(struct iavf_ev_snapshot) == IAVF_EV_SNAPSHOT_SIZE, "struct iavf_ev_snapshot changed size");
_Static_assert(sizeof(struct iavf_ev_bench) == IAVF_EV_BENCH_SIZE, "struct iavf_ev_bench changed size");
_Static_assert(sizeof(struct iavf_core_info) == IAVF_CORE_INFO_SIZE, "struct iavf_core_info changed size");

/* Header field offsets as constants: the Swift decoder reads them without
 * lazily initialised globals on the per-record path. */
enum {
	IAVF_EV_HDR_OFF_DEV_KEY = __builtin_offsetof(struct iavf_ev_hdr, dev_key),
	IAVF_EV_HDR_OFF_IFINDEX = __builtin_offsetof(struct iavf_ev_hdr, ifindex),
	IAVF_EV_HDR_OFF_IFNAME = __builtin_offsetof(struct iavf_ev_hdr, ifname),
	IAVF_EV_HDR_OFF_BUS = __builtin_offsetof(struct iavf_ev_hdr, bus),
};
_Static_assert(IAVF_EV_HDR_OFF_DEV_KEY == 32 && IAVF_EV_HDR_OFF_IFINDEX == 40 &&
	       IAVF_EV_HDR_OFF_IFNAME == 48 && IAVF_EV_HDR_OFF_BUS == 64, "struct iavf_ev_hdr changed layout");

/* Selftest trigger: a prctl() whose first argument is this magic. */
#define IAVF_SELFTEST_MAGIC 0x69617666UL /* "iavf" */

/* Selftest modes (the trigger's second argument). */
enum iavf_selftest_mode {
	IAVF_ST_BENCH = 1,    /* count x IAVF_EV_BENCH, value = param */
	IAVF_ST_VID = 2,      /* count x ADD_VID exit, vid = param + i, ret = -i */
	IAVF_ST_SEND = 3,     /* one SEND decoded from the fake_msg map, op = param */
	IAVF_ST_REPLY = 4,    /* count x REPLY, op = param, retval = -i */
	IAVF_ST_SNAPSHOT = 5, /* one SNAPSHOT walking the fake list of param entries */
	IAVF_ST_PLAIN = 6,    /* one record of kind param (DOWN..RESET), phase exit, ret 0 */
};

/* Selftest fake message buffer (the map value of fake_msg). */
#define IAVF_FAKE_MSG_SIZE 16384

#endif /* IAVF_EVENTS_H */
