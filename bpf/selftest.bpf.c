// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Host pipeline self-test and benchmark source. A raw tracepoint on sys_enter
 * turns one prctl(IAVF_SELFTEST_MAGIC, mode, param, count) call of the target
 * process into records of the same layouts iavf.bpf.c writes, through the same
 * ring buffer, drop counter and VLAN message decoder (iavf_common.bpf.h).
 * It needs neither fentry nor kprobes nor the iavf module.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include "iavf_core_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "iavf_common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space before load. */
const volatile __u32 target_tgid = 0;
const volatile __u64 trigger_nr = 0;
const volatile __u32 op_add_v1 = 0, op_del_v1 = 0, op_add_v2 = 0, op_del_v2 = 0;

/* A message buffer (SEND mode) or a flat filter array (SNAPSHOT mode), written by user space. */
struct fake_msg {
	__u8 bytes[IAVF_FAKE_MSG_SIZE];
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fake_msg);
} fake_msg SEC(".maps");

#define ST_MAX_BURST 256

static __always_inline void synth_dev(struct iavf_ev_hdr *h)
{
	h->flags |= IAVF_EVF_SYNTHETIC;
	h->dev_key = 0x5e1f7e57ULL;
	h->ifindex = 1;
	h->ifname[0] = 's'; h->ifname[1] = 't'; h->ifname[2] = '0'; h->ifname[3] = 0;
	__builtin_memcpy(h->bus, "0000:00:00.0", 13);
}

static __always_inline void emit_bench(__u64 count, __u64 param)
{
	for (__u32 i = 0; i < ST_MAX_BURST; i++) {
		if (i >= count)
			break;
		struct iavf_ev_bench *e = iavf_reserve(sizeof(*e));
		if (!e)
			continue;
		iavf_hdr_init(&e->hdr, IAVF_EV_BENCH, IAVF_PH_NONE, sizeof(*e));
		e->hdr.flags |= IAVF_EVF_SYNTHETIC;
		e->seq = i;
		e->value = param;
		bpf_ringbuf_submit(e, 0);
	}
}

static __always_inline void emit_vid(__u64 count, __u64 param)
{
	for (__u32 i = 0; i < ST_MAX_BURST; i++) {
		if (i >= count)
			break;
		struct iavf_ev_vid *e = iavf_reserve(sizeof(*e));
		if (!e)
			continue;
		iavf_hdr_init(&e->hdr, IAVF_EV_ADD_VID, IAVF_PH_EXIT, sizeof(*e));
		synth_dev(&e->hdr);
		e->hdr.flags |= IAVF_EVF_HAS_RET;
		e->hdr.ret = -(int)i;
		e->vid = (__u16)((param + i) & 0x0fff);
		e->tpid = 0x8100;
		e->pad = 0;
		bpf_ringbuf_submit(e, 0);
	}
}

static __always_inline void emit_reply(__u64 count, __u64 param)
{
	for (__u32 i = 0; i < ST_MAX_BURST; i++) {
		if (i >= count)
			break;
		struct iavf_ev_reply *e = iavf_reserve(sizeof(*e));
		if (!e)
			continue;
		iavf_hdr_init(&e->hdr, IAVF_EV_REPLY, IAVF_PH_ENTER, sizeof(*e));
		synth_dev(&e->hdr);
		e->op = (__u32)param;
		e->retval = -(int)i;
		e->msglen = 0;
		e->pad0 = 0;
		e->pad1 = 0;
		bpf_ringbuf_submit(e, 0);
	}
}

static __always_inline void emit_send(__u64 op, __u64 msglen)
{
	__u32 k = 0;
	struct fake_msg *m = bpf_map_lookup_elem(&fake_msg, &k);
	struct iavf_vlan_ops ops = { op_add_v1, op_del_v1, op_add_v2, op_del_v2 };
	struct iavf_ev_send *e;

	if (!m)
		return;
	e = iavf_reserve(sizeof(*e));
	if (!e)
		return;
	iavf_hdr_init(&e->hdr, IAVF_EV_SEND, IAVF_PH_ENTER, sizeof(*e));
	synth_dev(&e->hdr);
	if (msglen > IAVF_FAKE_MSG_SIZE)
		msglen = IAVF_FAKE_MSG_SIZE;
	iavf_decode_vlan_msg(e, m->bytes, (__u32)msglen, (__u32)op, &ops);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void emit_snapshot(__u64 nfilters, __u64 count_field)
{
	__u32 k = 0;
	struct fake_msg *m = bpf_map_lookup_elem(&fake_msg, &k);
	struct iavf_ev_snapshot *s;
	__u32 i;

	if (!m)
		return;
	s = iavf_reserve(sizeof(*s));
	if (!s)
		return;
	iavf_hdr_init(&s->hdr, IAVF_EV_SNAPSHOT, IAVF_PH_EXIT, sizeof(*s));
	synth_dev(&s->hdr);
	s->at_kind = IAVF_EV_ADD_VID;
	s->snap_flags = nfilters > IAVF_EV_MAX_FILTERS ? IAVF_SNAPF_TRUNCATED : 0;
	s->count = (__s32)count_field;
	s->adapter_state = 0;
	s->aq_required = 0;
	s->current_op = 0;
	s->adapter_flags = 0;
	s->vf_cap_flags = 0;
	s->max_filters = 8;
	s->pad = 0;
	s->filtering_outer = 0;
	s->filtering_inner = 0;
	s->nfilters = 0;
	for (i = 0; i < IAVF_EV_MAX_FILTERS; i++) {
		if (i >= nfilters)
			break;
		struct iavf_ev_filter f;
		if (bpf_probe_read_kernel(&f, sizeof(f), m->bytes + i * sizeof(f))) {
			s->snap_flags |= IAVF_SNAPF_READ_ERR;
			break;
		}
		s->filters[i] = f;
		s->nfilters = i + 1;
	}
	bpf_ringbuf_submit(s, 0);
}

static __always_inline void emit_plain(__u64 kind)
{
	struct iavf_ev_hdr *h;

	if (kind < IAVF_EV_ADD_VLANS || kind > IAVF_EV_RESET || kind == IAVF_EV_SEND || kind == IAVF_EV_REPLY)
		return;
	h = iavf_reserve(sizeof(*h));
	if (!h)
		return;
	iavf_hdr_init(h, (__u16)kind, IAVF_PH_EXIT, sizeof(*h));
	synth_dev(h);
	h->flags |= IAVF_EVF_HAS_RET;
	h->ret = 0;
	bpf_ringbuf_submit(h, 0);
}

SEC("raw_tp/sys_enter")
int st_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs;
	__u64 magic, mode, param, count;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid || ctx->args[1] != trigger_nr)
		return 0;
	regs = (struct pt_regs *)ctx->args[0];
	magic = PT_REGS_PARM1_CORE_SYSCALL(regs);
	if (magic != IAVF_SELFTEST_MAGIC)
		return 0;
	mode = PT_REGS_PARM2_CORE_SYSCALL(regs);
	param = PT_REGS_PARM3_CORE_SYSCALL(regs);
	count = PT_REGS_PARM4_CORE_SYSCALL(regs);

	switch (mode) {
	case IAVF_ST_BENCH: emit_bench(count, param); break;
	case IAVF_ST_VID: emit_vid(count, param); break;
	case IAVF_ST_SEND: emit_send(param, count); break;
	case IAVF_ST_REPLY: emit_reply(count, param); break;
	case IAVF_ST_SNAPSHOT: emit_snapshot(param, count); break;
	case IAVF_ST_PLAIN: emit_plain(param); break;
	}
	return 0;
}
