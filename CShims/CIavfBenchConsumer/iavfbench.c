/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The bench consumer and the selftest trigger: see include/iavfbench.h. */
#define _GNU_SOURCE
#include "iavfbench.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int neg_errno(int fallback)
{
	return errno ? -errno : -fallback;
}

long iavfshim_selftest_syscall_nr(void)
{
	return SYS_prctl;
}

long iavfshim_selftest_trigger(uint64_t mode, uint64_t param, uint64_t count)
{
	/* Not a real prctl option: the kernel answers EINVAL after the tracepoint fired. */
	return syscall(SYS_prctl, (unsigned long)IAVF_SELFTEST_MAGIC, (unsigned long)mode,
		       (unsigned long)param, (unsigned long)count, 0UL);
}

struct iavfshim_c_consumer {
	iavfshim_object *obj;
	struct ring_buffer *rb;
	uint64_t received;
	uint64_t checksum;
	uint64_t target;
};

static int c_consume_one(void *ctx, void *data, size_t size)
{
	struct iavfshim_c_consumer *c = ctx;
	const struct iavf_ev_hdr *h = data;
	if (size < sizeof(*h) || h->size != size)
		return -EINVAL;
	if (h->kind == IAVF_EV_BENCH && size >= sizeof(struct iavf_ev_bench)) {
		const struct iavf_ev_bench *b = data;
		c->checksum += b->seq + b->value + h->ts_ns;
	} else {
		c->checksum += h->ts_ns;
	}
	c->received++;
	return c->received >= c->target ? 1 : 0;
}

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

int iavfshim_c_consumer_new(iavfshim_object *obj, const char *map, iavfshim_c_consumer **out)
{
	*out = NULL;
	int fd = iavfshim_map_fd(obj, map);
	if (fd < 0)
		return fd;
	iavfshim_c_consumer *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	errno = 0;
	c->rb = ring_buffer__new(fd, c_consume_one, c, NULL);
	if (!c->rb) {
		int err = neg_errno(EINVAL);
		free(c);
		return err;
	}
	c->obj = obj;
	*out = c;
	return 0;
}

int iavfshim_c_consumer_run(iavfshim_c_consumer *c, const char *drops_map, uint64_t target, int timeout_ms,
			    bool busy, uint64_t *received, uint64_t *checksum, uint64_t *ns)
{
	c->received = 0;
	c->checksum = 0;
	c->target = target;
	uint64_t drops0 = 0, drops = 0;
	bool have_drops = drops_map && iavfshim_percpu_u64_sum(c->obj, drops_map, 0, &drops0) == 0;
	drops = drops0;
	uint64_t t0 = mono_ns();
	uint64_t deadline = t0 + (uint64_t)timeout_ms * 1000000ULL;
	int err = 0;
	while (c->received + (drops - drops0) < target) {
		int n = ring_buffer__poll(c->rb, busy ? 0 : 50);
		if (n < 0 && n != -EINTR) {
			err = n;
			break;
		}
		if (c->received >= target)
			break;
		if (have_drops && iavfshim_percpu_u64_sum(c->obj, drops_map, 0, &drops) != 0)
			drops = drops0;
		if (mono_ns() > deadline) {
			err = -ETIMEDOUT;
			break;
		}
	}
	*ns = mono_ns() - t0;
	*received = c->received;
	*checksum = c->checksum;
	return err;
}

void iavfshim_c_consumer_free(iavfshim_c_consumer *c)
{
	if (!c)
		return;
	ring_buffer__free(c->rb);
	free(c);
}
