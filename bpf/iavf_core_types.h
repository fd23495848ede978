/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Minimal CO-RE type definitions for the iavf probes, written by hand from the
 * field names in the spec (iavf-vlan-state-machine.md sections 1.1 and 1.3).
 *
 * Only the members the probes read are declared. preserve_access_index makes
 * clang record every access as a CO-RE relocation, and libbpf resolves it
 * against the running kernel's BTF (vmlinux, or the iavf module's BTF), so no
 * offset below is an assumption about one build. Type names after "___" are
 * local flavours: libbpf ignores that suffix when it matches types.
 *
 * This is deliberately not a vmlinux.h: nothing here is dumped from a kernel.
 */
#ifndef IAVF_CORE_TYPES_H
#define IAVF_CORE_TYPES_H

/* Tell bpf_tracing.h to use kernel register names (di, si, ...) for pt_regs. */
#ifndef __VMLINUX_H__
#define __VMLINUX_H__
#endif

#define IAVF_CORE __attribute__((preserve_access_index))

struct list_head {
	struct list_head *next, *prev;
} IAVF_CORE;

/* x86-64 kernel register frame (names as the kernel's BTF spells them). */
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
} IAVF_CORE;

struct kobject {
	const char *name;
} IAVF_CORE;

struct device {
	struct kobject kobj;
} IAVF_CORE;

struct pci_dev {
	struct device dev;
} IAVF_CORE;

struct net_device {
	char name[16];
	int ifindex;
} IAVF_CORE;

struct work_struct {
	long data;
} IAVF_CORE;

/* enum iavf_vlan_state_t: every enumerator of both generations. The local
 * numbers mean nothing; values come from bpf_core_enum_value(). */
enum iavf_vlan_state_t___l {
	IAVF_VLAN_INVALID___l,
	IAVF_VLAN_ADD___l,
	IAVF_VLAN_IS_NEW___l,
	IAVF_VLAN_ADDING___l,
	IAVF_VLAN_ACTIVE___l,
	IAVF_VLAN_DISABLE___l,
	IAVF_VLAN_INACTIVE___l,
	IAVF_VLAN_REMOVE___l,
	IAVF_VLAN_REMOVING___l,
};

enum virtchnl_ops___l {
	VIRTCHNL_OP_ADD_VLAN___l,
	VIRTCHNL_OP_DEL_VLAN___l,
	VIRTCHNL_OP_ADD_VLAN_V2___l,
	VIRTCHNL_OP_DEL_VLAN_V2___l,
};

enum iavf_state_t___l { __IAVF_STARTUP___l };

struct iavf_vlan {
	__u16 vid;
	__u16 tpid;
} IAVF_CORE;

struct iavf_vlan_filter {
	struct list_head list;
	struct iavf_vlan vlan;
	enum iavf_vlan_state_t___l state;
} IAVF_CORE;

struct virtchnl_vf_resource {
	__u32 vf_cap_flags;
} IAVF_CORE;

struct virtchnl_vlan_supported_caps {
	__u32 outer;
	__u32 inner;
} IAVF_CORE;

struct virtchnl_vlan_filtering_caps {
	struct virtchnl_vlan_supported_caps filtering_support;
	__u16 max_filters;
} IAVF_CORE;

struct virtchnl_vlan_caps {
	struct virtchnl_vlan_filtering_caps filtering;
} IAVF_CORE;

struct iavf_adapter {
	struct work_struct reset_task;
	struct list_head vlan_filter_list;
	int num_vlan_filters;
	__u32 flags;
	__u64 aq_required;
	struct net_device *netdev;
	struct pci_dev *pdev;
	enum iavf_state_t___l state;
	enum virtchnl_ops___l current_op;
	struct virtchnl_vf_resource *vf_res;
	struct virtchnl_vlan_caps vlan_v2_caps;
} IAVF_CORE;

/*
 * virtchnl wire formats (spec section 6). These are the PF protocol, fixed by
 * the virtchnl ABI rather than by a kernel build, so they are plain structs
 * read at constant offsets from the message buffer.
 */
struct iavf_wire_vlan_v1_hdr {   /* virtchnl_vlan_filter_list */
	__u16 vsi_id;
	__u16 num_elements;
	/* __u16 vlan_id[num_elements] at byte 4 */
};

struct iavf_wire_vlan {          /* virtchnl_vlan */
	__u16 tci;
	__u16 tci_mask;
	__u16 tpid;
	__u16 pad;
};

struct iavf_wire_vlan_filter {   /* virtchnl_vlan_filter, 32 bytes */
	struct iavf_wire_vlan inner;
	struct iavf_wire_vlan outer;
	__u8 pad[16];
};

struct iavf_wire_vlan_v2_hdr {   /* virtchnl_vlan_filter_list_v2 */
	__u16 vport_id;
	__u16 num_elements;
	__u8 pad[4];
	/* struct iavf_wire_vlan_filter filters[num_elements] at byte 8 */
};

#endif /* IAVF_CORE_TYPES_H */
