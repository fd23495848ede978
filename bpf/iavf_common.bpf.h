/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared by iavf.bpf.c and selftest.bpf.c: the ring buffer, the per-CPU drop
 * counter, record reservation and the virtchnl VLAN message decoder. The
 * selftest exercises exactly this code on the host kernel.
 */
#ifndef IAVF_COMMON_BPF_H
#define IAVF_COMMON_BPF_H

#include "iavf_events.h"

/* Ring buffer size; user space may change it before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* Records that did not fit in the ring buffer, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Keeps a value opaque to the optimiser so the verifier sees the bound check. */
#define iavf_barrier_var(v) asm volatile("" : "+r"(v))

static __always_inline __u64 *iavf_drop_slot(void)
{
	__u32 k = 0;
	return bpf_map_lookup_elem(&drops, &k);
}

/* Reserve a record of `size` bytes or count a drop. */
static __always_inline void *iavf_reserve(__u64 size)
{
	void *p = bpf_ringbuf_reserve(&events, size, 0);
	if (!p) {
		__u64 *d = iavf_drop_slot();
		if (d)
			*d += 1; /* per-CPU slot: no other writer */
	}
	return p;
}

/* Fill the device-independent part of a header. */
static __always_inline void iavf_hdr_init(struct iavf_ev_hdr *h, __u16 kind, __u8 phase, __u16 size)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 *d = iavf_drop_slot();

	h->kind = kind;
	h->phase = phase;
	h->flags = 0;
	h->size = size;
	h->cpu = (__u16)bpf_get_smp_processor_id();
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->ts_ns = bpf_ktime_get_ns();
	h->cpu_drops = d ? *d : 0;
	h->dev_key = 0;
	h->ifindex = 0;
	h->ret = 0;
	h->ifname[0] = 0;
	h->bus[0] = 0;
}

struct iavf_vlan_ops {
	__u32 add_v1, del_v1, add_v2, del_v2;
};

/*
 * Decode the VIDs of an ADD/DEL VLAN message (spec section 6) at `msg` (kernel
 * memory, `msglen` bytes) into e. Messages of other ops leave nvids 0.
 */
static __always_inline void iavf_decode_vlan_msg(struct iavf_ev_send *e, const void *msg, __u32 msglen,
						 __u32 op, const struct iavf_vlan_ops *ops)
{
	__u16 num = 0;
	__u32 n, fit, i;

	e->op = op;
	e->msglen = (__u16)msglen;
	e->num_elements = 0;
	e->nvids = 0;
	e->msg_flags = 0;
	e->pad = 0;
	if (!msg)
		return;
	if (op == ops->add_v1 || op == ops->del_v1) {
		e->msg_flags |= IAVF_SENDF_VLAN_V1;
		if (msglen < sizeof(struct iavf_wire_vlan_v1_hdr) ||
		    bpf_probe_read_kernel(&num, sizeof(num), msg + 2)) {
			e->msg_flags |= IAVF_SENDF_READ_ERR;
			return;
		}
		e->num_elements = num;
		fit = (msglen - sizeof(struct iavf_wire_vlan_v1_hdr)) / sizeof(__u16);
		n = num;
		if (n > fit || n > IAVF_EV_MAX_VIDS) {
			e->msg_flags |= IAVF_SENDF_TRUNCATED;
			n = n > fit ? fit : n;
			n = n > IAVF_EV_MAX_VIDS ? IAVF_EV_MAX_VIDS : n;
		}
		__u32 bytes = n * sizeof(__u16);
		iavf_barrier_var(bytes);
		if (bytes > sizeof(e->vid))
			bytes = sizeof(e->vid);
		if (bytes && bpf_probe_read_kernel(e->vid, bytes, msg + sizeof(struct iavf_wire_vlan_v1_hdr))) {
			e->msg_flags |= IAVF_SENDF_READ_ERR;
			return;
		}
		for (i = 0; i < IAVF_EV_MAX_VIDS; i++) {
			if (i >= n)
				break;
			e->vid[i] &= 0x0fff;
			e->tpid[i] = 0;
		}
		e->nvids = (__u16)n;
	} else if (op == ops->add_v2 || op == ops->del_v2) {
		e->msg_flags |= IAVF_SENDF_VLAN_V2;
		if (msglen < sizeof(struct iavf_wire_vlan_v2_hdr) ||
		    bpf_probe_read_kernel(&num, sizeof(num), msg + 2)) {
			e->msg_flags |= IAVF_SENDF_READ_ERR;
			return;
		}
		e->num_elements = num;
		fit = (msglen - sizeof(struct iavf_wire_vlan_v2_hdr)) / sizeof(struct iavf_wire_vlan_filter);
		n = num;
		if (n > fit || n > IAVF_EV_MAX_VIDS) {
			e->msg_flags |= IAVF_SENDF_TRUNCATED;
			n = n > fit ? fit : n;
			n = n > IAVF_EV_MAX_VIDS ? IAVF_EV_MAX_VIDS : n;
		}
		for (i = 0; i < IAVF_EV_MAX_VIDS; i++) {
			struct iavf_wire_vlan pair[2]; /* inner, outer */
			if (i >= n)
				break;
			if (bpf_probe_read_kernel(pair, sizeof(pair),
						  msg + sizeof(struct iavf_wire_vlan_v2_hdr) +
						  i * sizeof(struct iavf_wire_vlan_filter))) {
				e->msg_flags |= IAVF_SENDF_READ_ERR;
				break;
			}
			/* The driver fills outer when the PF offers outer filtering, else inner. */
			struct iavf_wire_vlan *v = pair[1].tpid ? &pair[1] : &pair[0];
			e->vid[i] = v->tci & 0x0fff;
			e->tpid[i] = v->tpid;
			e->nvids = (__u16)(i + 1);
		}
	}
}

#endif /* IAVF_COMMON_BPF_H */
