// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Read-only probes on the iavf functions that exist in both driver generations
 * (iavf-vlan-state-machine.md 5.3). Each function has an fentry/fexit pair and
 * a kprobe/kretprobe pair with the same effect; user space loads one pair per
 * function according to what the running kernel offers (the rest are set not
 * to autoload). Nothing here writes kernel memory or changes a return value.
 *
 * Records: iavf_events.h. State and opcode values are sent raw and named from
 * BTF; the generation comes from whether IAVF_VLAN_REMOVING exists (core_report).
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include "iavf_core_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "iavf_common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Knobs, set by user space before load (IAVF_SNAP_AT_*: iavf_events.h). */
const volatile __u32 snapshot_mask = IAVF_SNAP_AT_EXIT; /* where list snapshots are taken */
const volatile __s32 filter_ifindex = 0;                /* 0: every iavf adapter */

/* Filled by core_report (BPF_PROG_TEST_RUN once after load). */
struct iavf_core_info core_info = {};

/* Entry arguments kept for the kretprobe fallback, per thread and function. */
struct stash_key {
	__u64 pid_tgid;
	__u32 kind;
	__u32 pad;
};
struct stash_val {
	__u64 a0, a1, a2;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct stash_key);
	__type(value, struct stash_val);
} stash SEC(".maps");

static __always_inline void stash_put(__u32 kind, __u64 a0, __u64 a1, __u64 a2)
{
	struct stash_key k = { .pid_tgid = bpf_get_current_pid_tgid(), .kind = kind };
	struct stash_val v = { a0, a1, a2 };
	bpf_map_update_elem(&stash, &k, &v, BPF_ANY);
}

static __always_inline int stash_take(__u32 kind, struct stash_val *out)
{
	struct stash_key k = { .pid_tgid = bpf_get_current_pid_tgid(), .kind = kind };
	struct stash_val *v = bpf_map_lookup_elem(&stash, &k);
	if (!v)
		return -1;
	*out = *v;
	bpf_map_delete_elem(&stash, &k);
	return 0;
}

/* netdev_priv(): the adapter follows struct net_device, aligned to 32 bytes. */
static __always_inline struct iavf_adapter *adapter_of_netdev(struct net_device *nd)
{
	__u64 sz = bpf_core_type_size(struct net_device);
	sz = (sz + 31) & ~31ULL;
	return (struct iavf_adapter *)((void *)nd + sz);
}

static __always_inline struct iavf_adapter *adapter_of_reset_work(struct work_struct *w)
{
	return (struct iavf_adapter *)((void *)w - bpf_core_field_offset(struct iavf_adapter, reset_task));
}

static __always_inline int dev_wanted(struct iavf_adapter *a)
{
	if (!filter_ifindex)
		return 1;
	struct net_device *nd = BPF_CORE_READ(a, netdev);
	return nd && BPF_CORE_READ(nd, ifindex) == filter_ifindex;
}

static __always_inline void hdr_dev(struct iavf_ev_hdr *h, struct iavf_adapter *a)
{
	struct net_device *nd = BPF_CORE_READ(a, netdev);
	const char *bus = BPF_CORE_READ(a, pdev, dev.kobj.name);

	h->dev_key = (__u64)a;
	if (nd) {
		h->ifindex = BPF_CORE_READ(nd, ifindex);
		BPF_CORE_READ_STR_INTO(&h->ifname, nd, name);
	}
	if (bus)
		bpf_probe_read_kernel_str(h->bus, sizeof(h->bus), bus);
}

static __always_inline void emit_snapshot(struct iavf_adapter *a, __u16 at_kind, __u8 phase)
{
	struct iavf_ev_snapshot *s;
	struct list_head *head, *pos;
	struct virtchnl_vf_resource *res;
	__u32 i;

	if (!(snapshot_mask & (phase == IAVF_PH_ENTER ? IAVF_SNAP_AT_ENTER : IAVF_SNAP_AT_EXIT)))
		return;
	s = iavf_reserve(sizeof(*s));
	if (!s)
		return;
	iavf_hdr_init(&s->hdr, IAVF_EV_SNAPSHOT, phase, sizeof(*s));
	hdr_dev(&s->hdr, a);
	s->at_kind = at_kind;
	s->snap_flags = 0;
	s->count = BPF_CORE_READ(a, num_vlan_filters);
	s->adapter_state = BPF_CORE_READ(a, state);
	s->aq_required = BPF_CORE_READ(a, aq_required);
	s->current_op = BPF_CORE_READ(a, current_op);
	s->adapter_flags = BPF_CORE_READ(a, flags);
	res = BPF_CORE_READ(a, vf_res);
	s->vf_cap_flags = res ? BPF_CORE_READ(res, vf_cap_flags) : 0;
	s->max_filters = BPF_CORE_READ(a, vlan_v2_caps.filtering.max_filters);
	s->pad = 0;
	s->filtering_outer = BPF_CORE_READ(a, vlan_v2_caps.filtering.filtering_support.outer);
	s->filtering_inner = BPF_CORE_READ(a, vlan_v2_caps.filtering.filtering_support.inner);
	s->nfilters = 0;

	head = &a->vlan_filter_list; /* address only, CO-RE relocated */
	pos = BPF_CORE_READ(a, vlan_filter_list.next);
	for (i = 0; i < IAVF_EV_MAX_FILTERS; i++) {
		if (!pos || pos == head)
			break;
		struct iavf_vlan_filter *f = (void *)pos - bpf_core_field_offset(struct iavf_vlan_filter, list);
		s->filters[i].vid = BPF_CORE_READ(f, vlan.vid);
		s->filters[i].tpid = BPF_CORE_READ(f, vlan.tpid);
		s->filters[i].state = BPF_CORE_READ(f, state);
		s->nfilters = i + 1;
		pos = BPF_CORE_READ(pos, next);
	}
	/* The walk holds no lock: another CPU (the watchdog, an ndo) may have edited the list. */
	if (BPF_CORE_READ(a, num_vlan_filters) != s->count)
		s->snap_flags |= IAVF_SNAPF_TORN;
	if (pos && pos != head && i == IAVF_EV_MAX_FILTERS)
		s->snap_flags |= IAVF_SNAPF_TRUNCATED;
	if (!pos)
		s->snap_flags |= IAVF_SNAPF_READ_ERR;
	bpf_ringbuf_submit(s, 0);
}

static __always_inline void emit_plain(struct iavf_adapter *a, __u16 kind, __u8 phase, int has_ret, int ret)
{
	struct iavf_ev_hdr *h = iavf_reserve(sizeof(*h));
	if (!h)
		return;
	iavf_hdr_init(h, kind, phase, sizeof(*h));
	hdr_dev(h, a);
	if (has_ret) {
		h->flags |= IAVF_EVF_HAS_RET;
		h->ret = ret;
	}
	bpf_ringbuf_submit(h, 0);
}

/* An adapter function: snapshot before the enter record, after the exit record. */
static __always_inline void on_adapter(__u16 kind, struct iavf_adapter *a, __u8 phase, int has_ret, int ret)
{
	if (!a || !dev_wanted(a))
		return;
	if (phase == IAVF_PH_ENTER)
		emit_snapshot(a, kind, phase);
	emit_plain(a, kind, phase, has_ret, ret);
	if (phase == IAVF_PH_EXIT)
		emit_snapshot(a, kind, phase);
}

static __always_inline void on_vid(__u16 kind, struct net_device *nd, __u16 proto_be, __u16 vid,
				   __u8 phase, int has_ret, int ret)
{
	struct iavf_adapter *a;
	struct iavf_ev_vid *e;

	if (!nd)
		return;
	a = adapter_of_netdev(nd);
	if (!dev_wanted(a))
		return;
	if (phase == IAVF_PH_ENTER)
		emit_snapshot(a, kind, phase);
	e = iavf_reserve(sizeof(*e));
	if (e) {
		iavf_hdr_init(&e->hdr, kind, phase, sizeof(*e));
		hdr_dev(&e->hdr, a);
		if (has_ret) {
			e->hdr.flags |= IAVF_EVF_HAS_RET;
			e->hdr.ret = ret;
		}
		e->vid = vid;
		e->tpid = bpf_ntohs(proto_be);
		e->pad = 0;
		bpf_ringbuf_submit(e, 0);
	}
	if (phase == IAVF_PH_EXIT)
		emit_snapshot(a, kind, phase);
}

static __always_inline void on_send(struct iavf_adapter *a, __u32 op, const void *msg, __u32 len)
{
	struct iavf_vlan_ops ops = {
		.add_v1 = bpf_core_enum_value(enum virtchnl_ops___l, VIRTCHNL_OP_ADD_VLAN___l),
		.del_v1 = bpf_core_enum_value(enum virtchnl_ops___l, VIRTCHNL_OP_DEL_VLAN___l),
		.add_v2 = bpf_core_enum_value(enum virtchnl_ops___l, VIRTCHNL_OP_ADD_VLAN_V2___l),
		.del_v2 = bpf_core_enum_value(enum virtchnl_ops___l, VIRTCHNL_OP_DEL_VLAN_V2___l),
	};
	struct iavf_ev_send *e;

	if (!a || !dev_wanted(a))
		return;
	e = iavf_reserve(sizeof(*e));
	if (!e)
		return;
	iavf_hdr_init(&e->hdr, IAVF_EV_SEND, IAVF_PH_ENTER, sizeof(*e));
	hdr_dev(&e->hdr, a);
	iavf_decode_vlan_msg(e, msg, len, op, &ops);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void on_reply(struct iavf_adapter *a, __u32 op, int retval, __u32 len)
{
	struct iavf_ev_reply *e;

	if (!a || !dev_wanted(a))
		return;
	emit_snapshot(a, IAVF_EV_REPLY, IAVF_PH_ENTER);
	e = iavf_reserve(sizeof(*e));
	if (!e)
		return;
	iavf_hdr_init(&e->hdr, IAVF_EV_REPLY, IAVF_PH_ENTER, sizeof(*e));
	hdr_dev(&e->hdr, a);
	e->op = op;
	e->retval = retval;
	e->msglen = (__u16)len;
	e->pad0 = 0;
	e->pad1 = 0;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void on_reply_exit(struct iavf_adapter *a)
{
	if (!a || !dev_wanted(a))
		return;
	emit_snapshot(a, IAVF_EV_REPLY, IAVF_PH_EXIT);
}

/* ---- iavf_vlan_rx_add_vid / iavf_vlan_rx_kill_vid: int (struct net_device *, __be16, u16) ---- */
#define VID_PROBES(fn, tag, KIND)                                                          \
SEC("fentry/" #fn)                                                                         \
int BPF_PROG(fe_##tag, struct net_device *nd, __u16 proto, __u16 vid)                      \
{ on_vid(KIND, nd, proto, vid, IAVF_PH_ENTER, 0, 0); return 0; }                           \
SEC("fexit/" #fn)                                                                          \
int BPF_PROG(fx_##tag, struct net_device *nd, __u16 proto, __u16 vid, int ret)             \
{ on_vid(KIND, nd, proto, vid, IAVF_PH_EXIT, 1, ret); return 0; }                          \
SEC("kprobe/" #fn)                                                                         \
int BPF_KPROBE(kp_##tag, struct net_device *nd, __u16 proto, __u16 vid)                    \
{ stash_put(KIND, (__u64)nd, proto, vid); on_vid(KIND, nd, proto, vid, IAVF_PH_ENTER, 0, 0); return 0; } \
SEC("kretprobe/" #fn)                                                                      \
int BPF_KRETPROBE(kr_##tag, int ret)                                                       \
{ struct stash_val v; if (!stash_take(KIND, &v))                                           \
	on_vid(KIND, (struct net_device *)v.a0, (__u16)v.a1, (__u16)v.a2, IAVF_PH_EXIT, 1, ret); return 0; }

VID_PROBES(iavf_vlan_rx_add_vid, add_vid, IAVF_EV_ADD_VID)
VID_PROBES(iavf_vlan_rx_kill_vid, kill_vid, IAVF_EV_KILL_VID)

/* ---- void (struct iavf_adapter *) ---- */
#define ADAPTER_PROBES(fn, tag, KIND)                                                      \
SEC("fentry/" #fn)                                                                         \
int BPF_PROG(fe_##tag, struct iavf_adapter *a)                                             \
{ on_adapter(KIND, a, IAVF_PH_ENTER, 0, 0); return 0; }                                    \
SEC("fexit/" #fn)                                                                          \
int BPF_PROG(fx_##tag, struct iavf_adapter *a)                                             \
{ on_adapter(KIND, a, IAVF_PH_EXIT, 0, 0); return 0; }                                     \
SEC("kprobe/" #fn)                                                                         \
int BPF_KPROBE(kp_##tag, struct iavf_adapter *a)                                           \
{ stash_put(KIND, (__u64)a, 0, 0); on_adapter(KIND, a, IAVF_PH_ENTER, 0, 0); return 0; }   \
SEC("kretprobe/" #fn)                                                                      \
int BPF_KRETPROBE(kr_##tag)                                                                \
{ struct stash_val v; if (!stash_take(KIND, &v))                                           \
	on_adapter(KIND, (struct iavf_adapter *)v.a0, IAVF_PH_EXIT, 0, 0); return 0; }

ADAPTER_PROBES(iavf_add_vlans, add_vlans, IAVF_EV_ADD_VLANS)
ADAPTER_PROBES(iavf_del_vlans, del_vlans, IAVF_EV_DEL_VLANS)
ADAPTER_PROBES(iavf_down, down, IAVF_EV_DOWN)
ADAPTER_PROBES(iavf_up_complete, up_complete, IAVF_EV_UP_COMPLETE)

/* ---- int (struct net_device *) ---- */
#define NETDEV_PROBES(fn, tag, KIND)                                                       \
SEC("fentry/" #fn)                                                                         \
int BPF_PROG(fe_##tag, struct net_device *nd)                                              \
{ on_adapter(KIND, nd ? adapter_of_netdev(nd) : 0, IAVF_PH_ENTER, 0, 0); return 0; }       \
SEC("fexit/" #fn)                                                                          \
int BPF_PROG(fx_##tag, struct net_device *nd, int ret)                                     \
{ on_adapter(KIND, nd ? adapter_of_netdev(nd) : 0, IAVF_PH_EXIT, 1, ret); return 0; }      \
SEC("kprobe/" #fn)                                                                         \
int BPF_KPROBE(kp_##tag, struct net_device *nd)                                            \
{ stash_put(KIND, (__u64)nd, 0, 0);                                                        \
  on_adapter(KIND, nd ? adapter_of_netdev(nd) : 0, IAVF_PH_ENTER, 0, 0); return 0; }       \
SEC("kretprobe/" #fn)                                                                      \
int BPF_KRETPROBE(kr_##tag, int ret)                                                       \
{ struct stash_val v; if (!stash_take(KIND, &v) && v.a0)                                   \
	on_adapter(KIND, adapter_of_netdev((struct net_device *)v.a0), IAVF_PH_EXIT, 1, ret); return 0; }

NETDEV_PROBES(iavf_open, open, IAVF_EV_OPEN)
NETDEV_PROBES(iavf_close, close, IAVF_EV_CLOSE)

/* ---- iavf_reset_task: void (struct work_struct *) ---- */
SEC("fentry/iavf_reset_task")
int BPF_PROG(fe_reset, struct work_struct *w)
{ on_adapter(IAVF_EV_RESET, w ? adapter_of_reset_work(w) : 0, IAVF_PH_ENTER, 0, 0); return 0; }
SEC("fexit/iavf_reset_task")
int BPF_PROG(fx_reset, struct work_struct *w)
{ on_adapter(IAVF_EV_RESET, w ? adapter_of_reset_work(w) : 0, IAVF_PH_EXIT, 0, 0); return 0; }
SEC("kprobe/iavf_reset_task")
int BPF_KPROBE(kp_reset, struct work_struct *w)
{
	stash_put(IAVF_EV_RESET, (__u64)w, 0, 0);
	on_adapter(IAVF_EV_RESET, w ? adapter_of_reset_work(w) : 0, IAVF_PH_ENTER, 0, 0);
	return 0;
}
SEC("kretprobe/iavf_reset_task")
int BPF_KRETPROBE(kr_reset)
{
	struct stash_val v;
	if (!stash_take(IAVF_EV_RESET, &v) && v.a0)
		on_adapter(IAVF_EV_RESET, adapter_of_reset_work((struct work_struct *)v.a0), IAVF_PH_EXIT, 0, 0);
	return 0;
}

/* ---- iavf_send_pf_msg: int (struct iavf_adapter *, enum virtchnl_ops, u8 *msg, u16 len) ---- */
SEC("fentry/iavf_send_pf_msg")
int BPF_PROG(fe_send, struct iavf_adapter *a, __u32 op, __u8 *msg, __u16 len)
{ on_send(a, op, msg, len); return 0; }
SEC("kprobe/iavf_send_pf_msg")
int BPF_KPROBE(kp_send, struct iavf_adapter *a, __u32 op, __u8 *msg, __u16 len)
{ on_send(a, op, msg, len); return 0; }

/* ---- iavf_virtchnl_completion: void (adapter, enum virtchnl_ops, enum iavf_status, u8 *, u16) ---- */
SEC("fentry/iavf_virtchnl_completion")
int BPF_PROG(fe_reply, struct iavf_adapter *a, __u32 op, int retval, __u8 *msg, __u16 len)
{ on_reply(a, op, retval, len); return 0; }
SEC("fexit/iavf_virtchnl_completion")
int BPF_PROG(fx_reply, struct iavf_adapter *a)
{ on_reply_exit(a); return 0; }
SEC("kprobe/iavf_virtchnl_completion")
int BPF_KPROBE(kp_reply, struct iavf_adapter *a, __u32 op, int retval, __u8 *msg, __u16 len)
{ stash_put(IAVF_EV_REPLY, (__u64)a, 0, 0); on_reply(a, op, retval, len); return 0; }
SEC("kretprobe/iavf_virtchnl_completion")
int BPF_KRETPROBE(kr_reply)
{
	struct stash_val v;
	if (!stash_take(IAVF_EV_REPLY, &v))
		on_reply_exit((struct iavf_adapter *)v.a0);
	return 0;
}

/* ---- what CO-RE resolved on this kernel (run with BPF_PROG_TEST_RUN) ---- */
#define STATE_VALUE(NAME) \
	(bpf_core_enum_value_exists(enum iavf_vlan_state_t___l, NAME##___l) ? \
	 (__s32)bpf_core_enum_value(enum iavf_vlan_state_t___l, NAME##___l) : -1)
#define OP_VALUE(NAME) \
	(bpf_core_enum_value_exists(enum virtchnl_ops___l, NAME##___l) ? \
	 (__u32)bpf_core_enum_value(enum virtchnl_ops___l, NAME##___l) : 0)

SEC("syscall")
int core_report(void *ctx)
{
	struct iavf_core_info *o = &core_info;

	o->has_adapter = bpf_core_type_exists(struct iavf_adapter);
	if (o->has_adapter) {
		o->adapter_size = bpf_core_type_size(struct iavf_adapter);
		o->off_vlan_filter_list = bpf_core_field_offset(struct iavf_adapter, vlan_filter_list);
		o->off_num_vlan_filters = bpf_core_field_offset(struct iavf_adapter, num_vlan_filters);
	}
	if (bpf_core_type_exists(struct iavf_vlan_filter))
		o->filter_size = bpf_core_type_size(struct iavf_vlan_filter);
	o->netdev_priv_off = (bpf_core_type_size(struct net_device) + 31) & ~31U;
	o->state_value[IAVF_CS_INVALID] = STATE_VALUE(IAVF_VLAN_INVALID);
	o->state_value[IAVF_CS_ADD] = STATE_VALUE(IAVF_VLAN_ADD);
	o->state_value[IAVF_CS_IS_NEW] = STATE_VALUE(IAVF_VLAN_IS_NEW);
	o->state_value[IAVF_CS_ADDING] = STATE_VALUE(IAVF_VLAN_ADDING);
	o->state_value[IAVF_CS_ACTIVE] = STATE_VALUE(IAVF_VLAN_ACTIVE);
	o->state_value[IAVF_CS_DISABLE] = STATE_VALUE(IAVF_VLAN_DISABLE);
	o->state_value[IAVF_CS_INACTIVE] = STATE_VALUE(IAVF_VLAN_INACTIVE);
	o->state_value[IAVF_CS_REMOVE] = STATE_VALUE(IAVF_VLAN_REMOVE);
	o->state_value[IAVF_CS_REMOVING] = STATE_VALUE(IAVF_VLAN_REMOVING);
	o->op_add_vlan = OP_VALUE(VIRTCHNL_OP_ADD_VLAN);
	o->op_del_vlan = OP_VALUE(VIRTCHNL_OP_DEL_VLAN);
	o->op_add_vlan_v2 = OP_VALUE(VIRTCHNL_OP_ADD_VLAN_V2);
	o->op_del_vlan_v2 = OP_VALUE(VIRTCHNL_OP_DEL_VLAN_V2);
	if (bpf_core_enum_value_exists(enum iavf_vlan_state_t___l, IAVF_VLAN_REMOVING___l))
		o->generation = IAVF_GEN_PATCHED;
	else if (bpf_core_enum_value_exists(enum iavf_vlan_state_t___l, IAVF_VLAN_DISABLE___l))
		o->generation = IAVF_GEN_UNPATCHED;
	else
		o->generation = IAVF_GEN_UNKNOWN;
	o->ran = 1;
	return 0;
}
