/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* iavfshim: see include/iavfshim.h. */
#define _GNU_SOURCE
#include "iavfshim.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

struct iavfshim_object {
	struct bpf_object *obj;
	bool loaded;
};

struct iavfshim_link {
	struct bpf_link *link;
};

struct iavfshim_ringbuf {
	struct ring_buffer *rb;
};

struct iavfshim_btf {
	struct btf *btf;
	struct btf *base; /* owned when btf is a module's split BTF */
	bool is_module;
};

/* ---- log capture ------------------------------------------------------------- */

#define LOG_CAP (64 * 1024)
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[LOG_CAP];
static size_t log_len; /* bytes in log_buf (always < LOG_CAP) */
static size_t log_total;
static bool log_debug;
static bool log_installed;

static void log_append(const char *s, size_t n)
{
	pthread_mutex_lock(&log_lock);
	log_total += n;
	if (n >= LOG_CAP - 1) {
		s += n - (LOG_CAP - 1);
		n = LOG_CAP - 1;
	}
	if (log_len + n >= LOG_CAP) { /* keep the newest text */
		size_t drop = log_len + n - (LOG_CAP - 1);
		memmove(log_buf, log_buf + drop, log_len - drop);
		log_len -= drop;
	}
	memcpy(log_buf + log_len, s, n);
	log_len += n;
	log_buf[log_len] = 0;
	pthread_mutex_unlock(&log_lock);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char tmp[2048];
	if (level == LIBBPF_DEBUG && !log_debug)
		return 0;
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	if (n > 0)
		log_append(tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
	return n;
}

void iavfshim_log_install(bool debug)
{
	pthread_mutex_lock(&log_lock);
	log_debug = debug;
	bool first = !log_installed;
	log_installed = true;
	pthread_mutex_unlock(&log_lock);
	if (first)
		libbpf_set_print(libbpf_print);
}

void iavfshim_log_clear(void)
{
	pthread_mutex_lock(&log_lock);
	log_len = 0;
	log_total = 0;
	log_buf[0] = 0;
	pthread_mutex_unlock(&log_lock);
}

size_t iavfshim_log_copy(char *buf, size_t cap)
{
	pthread_mutex_lock(&log_lock);
	size_t n = log_len;
	if (cap) {
		size_t c = n < cap - 1 ? n : cap - 1;
		memcpy(buf, log_buf + (n - c), c);
		buf[c] = 0;
	}
	pthread_mutex_unlock(&log_lock);
	return n;
}

/* ---- test seam ------------------------------------------------------------------ */

static iavfshim_fault_fn fault_hook; /* NULL unless a test installed one */

void iavfshim_fault_hook_set(iavfshim_fault_fn fn)
{
	__atomic_store_n(&fault_hook, fn, __ATOMIC_RELEASE);
}

void iavfshim_log_note(const char *text)
{
	if (text)
		log_append(text, strlen(text));
}

/* Every wrapped libbpf call passes here first: returns -errno to fail, or 0. */
static inline int seam(iavfshim_op op)
{
	iavfshim_fault_fn fn = __atomic_load_n(&fault_hook, __ATOMIC_ACQUIRE);
	return fn ? fn(op) : 0;
}

static int neg_errno(int fallback)
{
	return errno ? -errno : -fallback;
}

/* ---- objects ---------------------------------------------------------------- */

int iavfshim_object_open_mem(const void *data, size_t size, const char *name, iavfshim_object **out)
{
	int err = seam(IAVFSHIM_OP_OPEN);
	if (err)
		return err;
	if (!data || !size || !out)
		return -EINVAL;
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name);
	errno = 0;
	struct bpf_object *o = bpf_object__open_mem(data, size, &opts);
	if (!o)
		return neg_errno(EINVAL);
	iavfshim_object *s = calloc(1, sizeof(*s));
	if (!s) {
		bpf_object__close(o);
		return -ENOMEM;
	}
	s->obj = o;
	*out = s;
	return 0;
}

void iavfshim_object_close(iavfshim_object *obj)
{
	if (!obj)
		return;
	bpf_object__close(obj->obj);
	free(obj);
}

int iavfshim_object_load(iavfshim_object *obj)
{
	int err = seam(IAVFSHIM_OP_LOAD);
	if (err)
		return err;
	err = bpf_object__load(obj->obj);
	if (err)
		return err < 0 ? err : -err;
	obj->loaded = true;
	return 0;
}

bool iavfshim_object_loaded(const iavfshim_object *obj)
{
	return obj && obj->loaded;
}

static struct bpf_program *prog_at(const iavfshim_object *obj, int index)
{
	struct bpf_program *p;
	int i = 0;
	if (!obj || index < 0)
		return NULL;
	bpf_object__for_each_program(p, obj->obj) {
		if (i++ == index)
			return p;
	}
	return NULL;
}

int iavfshim_program_count(const iavfshim_object *obj)
{
	struct bpf_program *p;
	int n = 0;
	bpf_object__for_each_program(p, obj->obj) n++;
	return n;
}

const char *iavfshim_program_name(const iavfshim_object *obj, int index)
{
	struct bpf_program *p = prog_at(obj, index);
	return p ? bpf_program__name(p) : NULL;
}

const char *iavfshim_program_section(const iavfshim_object *obj, int index)
{
	struct bpf_program *p = prog_at(obj, index);
	return p ? bpf_program__section_name(p) : NULL;
}

bool iavfshim_program_autoload(const iavfshim_object *obj, int index)
{
	struct bpf_program *p = prog_at(obj, index);
	return p ? bpf_program__autoload(p) : false;
}

int iavfshim_program_set_autoload(iavfshim_object *obj, int index, bool autoload)
{
	struct bpf_program *p = prog_at(obj, index);
	if (!p)
		return -ENOENT;
	return bpf_program__set_autoload(p, autoload);
}

int iavfshim_program_fd(const iavfshim_object *obj, int index)
{
	struct bpf_program *p = prog_at(obj, index);
	if (!p)
		return -ENOENT;
	int fd = bpf_program__fd(p);
	return fd >= 0 ? fd : -EBADF;
}

static int prog_info(int fd, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);
	memset(info, 0, sizeof(*info));
	int err = bpf_obj_get_info_by_fd(fd, info, &len);
	return err ? neg_errno(EINVAL) : 0;
}

int64_t iavfshim_program_id(const iavfshim_object *obj, int index)
{
	struct bpf_prog_info info;
	int fd = iavfshim_program_fd(obj, index);
	if (fd < 0)
		return fd;
	int err = prog_info(fd, &info);
	return err ? err : (int64_t)info.id;
}

int iavfshim_program_stats(const iavfshim_object *obj, int index, uint64_t *run_cnt, uint64_t *run_time_ns)
{
	struct bpf_prog_info info;
	int fd = iavfshim_program_fd(obj, index);
	if (fd < 0)
		return fd;
	int err = prog_info(fd, &info);
	if (err)
		return err;
	*run_cnt = info.run_cnt;
	*run_time_ns = info.run_time_ns;
	return 0;
}

int iavfshim_program_test_run(iavfshim_object *obj, int index, int *retval)
{
	int err = seam(IAVFSHIM_OP_TEST_RUN);
	if (err)
		return err;
	int fd = iavfshim_program_fd(obj, index);
	if (fd < 0)
		return fd;
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	err = bpf_prog_test_run_opts(fd, &opts);
	if (err)
		return neg_errno(EINVAL);
	if (retval)
		*retval = (int)opts.retval;
	return 0;
}

static struct bpf_map *map_named(const iavfshim_object *obj, const char *name)
{
	return obj ? bpf_object__find_map_by_name(obj->obj, name) : NULL;
}

/* Offset and size of `var` inside DATASEC `section`. */
static int datasec_var(const iavfshim_object *obj, const char *section, const char *var, __u32 *off, __u32 *size)
{
	struct btf *btf = bpf_object__btf(obj->obj);
	if (!btf)
		return -ENODATA;
	int id = btf__find_by_name_kind(btf, section, BTF_KIND_DATASEC);
	if (id < 0)
		return -ENOENT;
	const struct btf_type *t = btf__type_by_id(btf, id);
	const struct btf_var_secinfo *vs = btf_var_secinfos(t);
	for (int i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *vt = btf__type_by_id(btf, vs->type);
		const char *n = btf__name_by_offset(btf, vt->name_off);
		if (n && !strcmp(n, var)) {
			*off = vs->offset;
			*size = vs->size;
			return 0;
		}
	}
	return -ENOENT;
}

int iavfshim_global_set(iavfshim_object *obj, const char *section, const char *var, const void *value, size_t size)
{
	__u32 off, vsize;
	size_t msize = 0;
	if (obj->loaded)
		return -EBUSY;
	int err = datasec_var(obj, section, var, &off, &vsize);
	if (err)
		return err;
	if (vsize != size)
		return -EINVAL;
	struct bpf_map *m = map_named(obj, section);
	if (!m)
		return -ENOENT;
	char *data = bpf_map__initial_value(m, &msize);
	if (!data || off + size > msize)
		return -EINVAL;
	memcpy(data + off, value, size);
	return 0;
}

int iavfshim_global_get(iavfshim_object *obj, const char *section, const char *var, void *value, size_t size)
{
	__u32 off, vsize, key = 0;
	int err = seam(IAVFSHIM_OP_MAP_LOOKUP);
	if (err)
		return err;
	if (!obj->loaded)
		return -EINVAL;
	err = datasec_var(obj, section, var, &off, &vsize);
	if (err)
		return err;
	if (vsize != size)
		return -EINVAL;
	struct bpf_map *m = map_named(obj, section);
	if (!m)
		return -ENOENT;
	size_t vs = bpf_map__value_size(m);
	char *buf = calloc(1, vs);
	if (!buf)
		return -ENOMEM;
	err = bpf_map_lookup_elem(bpf_map__fd(m), &key, buf);
	if (err) {
		err = neg_errno(EINVAL);
	} else if (off + size > vs) {
		err = -EINVAL;
	} else {
		memcpy(value, buf + off, size);
	}
	free(buf);
	return err;
}

int iavfshim_map_set_max_entries(iavfshim_object *obj, const char *map, uint32_t max_entries)
{
	struct bpf_map *m = map_named(obj, map);
	if (!m)
		return -ENOENT;
	return bpf_map__set_max_entries(m, max_entries);
}

int iavfshim_map_fd(const iavfshim_object *obj, const char *map)
{
	struct bpf_map *m = map_named(obj, map);
	if (!m)
		return -ENOENT;
	int fd = bpf_map__fd(m);
	return fd >= 0 ? fd : -EBADF;
}

int iavfshim_map_update(iavfshim_object *obj, const char *map, const void *key, size_t key_size,
			const void *value, size_t value_size)
{
	int err = seam(IAVFSHIM_OP_MAP_UPDATE);
	if (err)
		return err;
	struct bpf_map *m = map_named(obj, map);
	if (!m)
		return -ENOENT;
	err = bpf_map__update_elem(m, key, key_size, value, value_size, 0);
	return err < 0 ? err : 0;
}

int iavfshim_percpu_u64_sum(iavfshim_object *obj, const char *map, uint32_t key, uint64_t *sum)
{
	int err = seam(IAVFSHIM_OP_MAP_LOOKUP);
	if (err)
		return err;
	struct bpf_map *m = map_named(obj, map);
	if (!m)
		return -ENOENT;
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	/* per-CPU values are padded to 8 bytes each */
	uint64_t *vals = calloc((size_t)ncpu, sizeof(uint64_t));
	if (!vals)
		return -ENOMEM;
	err = bpf_map_lookup_elem(bpf_map__fd(m), &key, vals);
	if (err) {
		err = neg_errno(EINVAL);
	} else {
		uint64_t s = 0;
		for (int i = 0; i < ncpu; i++)
			s += vals[i];
		*sum = s;
	}
	free(vals);
	return err;
}

/* ---- links ---------------------------------------------------------------- */

int iavfshim_link_attach(iavfshim_object *obj, int index, iavfshim_link **out)
{
	int err = seam(IAVFSHIM_OP_ATTACH);
	if (err)
		return err;
	struct bpf_program *p = prog_at(obj, index);
	if (!p)
		return -ENOENT;
	errno = 0;
	struct bpf_link *l = bpf_program__attach(p);
	if (!l)
		return neg_errno(EINVAL);
	iavfshim_link *s = calloc(1, sizeof(*s));
	if (!s) {
		bpf_link__destroy(l);
		return -ENOMEM;
	}
	s->link = l;
	*out = s;
	return 0;
}

void iavfshim_link_destroy(iavfshim_link *link)
{
	if (!link)
		return;
	bpf_link__destroy(link->link);
	free(link);
}

int64_t iavfshim_link_id(const iavfshim_link *link)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	memset(&info, 0, sizeof(info));
	int fd = bpf_link__fd(link->link);
	if (fd < 0)
		return -EBADF;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return neg_errno(EINVAL); /* e.g. a perf-event attachment without a BPF link */
	return info.id;
}

/* ---- ring buffer ---------------------------------------------------------- */

int iavfshim_ringbuf_new(iavfshim_object *obj, const char *map, iavfshim_record_fn fn, void *ctx,
			 iavfshim_ringbuf **out)
{
	int err = seam(IAVFSHIM_OP_RINGBUF_NEW);
	if (err)
		return err;
	int fd = iavfshim_map_fd(obj, map);
	if (fd < 0)
		return fd;
	errno = 0;
	struct ring_buffer *rb = ring_buffer__new(fd, (ring_buffer_sample_fn)fn, ctx, NULL);
	if (!rb)
		return neg_errno(EINVAL);
	iavfshim_ringbuf *s = calloc(1, sizeof(*s));
	if (!s) {
		ring_buffer__free(rb);
		return -ENOMEM;
	}
	s->rb = rb;
	*out = s;
	return 0;
}

int iavfshim_ringbuf_add_wake_fd(iavfshim_ringbuf *rb, int fd)
{
	/* Edge-triggered and tagged as ring 0 (libbpf reads data.fd as a ring index): a write
	 * to fd makes a blocked poll return at once; it then consumes ring 0, which is harmless. */
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.fd = 0 };
	errno = 0;
	return epoll_ctl(ring_buffer__epoll_fd(rb->rb), EPOLL_CTL_ADD, fd, &ev) ? neg_errno(EINVAL) : 0;
}

int iavfshim_ringbuf_poll(iavfshim_ringbuf *rb, int timeout_ms)
{
	int err = seam(IAVFSHIM_OP_RINGBUF_POLL);
	if (err)
		return err;
	return ring_buffer__poll(rb->rb, timeout_ms);
}

int iavfshim_ringbuf_consume(iavfshim_ringbuf *rb)
{
	return ring_buffer__consume(rb->rb);
}

void iavfshim_ringbuf_free(iavfshim_ringbuf *rb)
{
	if (!rb)
		return;
	ring_buffer__free(rb->rb);
	free(rb);
}

/* ---- BTF ---------------------------------------------------------------------- */

int iavfshim_btf_load(const char *module, iavfshim_btf **out)
{
	int err = seam(IAVFSHIM_OP_BTF_LOAD);
	if (err)
		return err;
	iavfshim_btf *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	errno = 0;
	struct btf *base = btf__load_vmlinux_btf();
	if (!base) {
		err = neg_errno(ENOENT);
		free(s);
		return err;
	}
	if (!module) {
		s->btf = base;
	} else {
		char path[256];
		snprintf(path, sizeof(path), "/sys/kernel/btf/%s", module);
		errno = 0;
		struct btf *m = btf__parse_split(path, base);
		if (!m) {
			err = neg_errno(ENOENT);
			btf__free(base);
			free(s);
			return err;
		}
		s->btf = m;
		s->base = base;
		s->is_module = true;
	}
	*out = s;
	return 0;
}

void iavfshim_btf_free(iavfshim_btf *btf)
{
	if (!btf)
		return;
	btf__free(btf->btf);
	btf__free(btf->base);
	free(btf);
}

/* First type id that belongs to this BTF (module BTF starts after its base). */
static __u32 btf_first_own_id(const iavfshim_btf *b)
{
	return b->is_module ? btf__type_cnt(b->base) : 1;
}

int iavfshim_btf_enum(const iavfshim_btf *b, const char *name, iavfshim_enum_fn fn, void *ctx)
{
	__u32 n = btf__type_cnt(b->btf);
	for (__u32 id = btf_first_own_id(b); id < n; id++) {
		const struct btf_type *t = btf__type_by_id(b->btf, id);
		if (!btf_is_any_enum(t))
			continue;
		const char *tn = btf__name_by_offset(b->btf, t->name_off);
		if (!tn || strcmp(tn, name))
			continue;
		int cnt = btf_vlen(t);
		for (int i = 0; i < cnt; i++) {
			if (btf_is_enum(t)) {
				const struct btf_enum *e = btf_enum(t) + i;
				bool is_signed = btf_kflag(t);
				int64_t v = is_signed ? (int64_t)(int32_t)e->val : (int64_t)(uint32_t)e->val;
				fn(ctx, btf__name_by_offset(b->btf, e->name_off), v);
			} else {
				const struct btf_enum64 *e = btf_enum64(t) + i;
				fn(ctx, btf__name_by_offset(b->btf, e->name_off), (int64_t)btf_enum64_value(e));
			}
		}
		return cnt;
	}
	return -ENOENT;
}

int iavfshim_btf_has_func(const iavfshim_btf *b, const char *name)
{
	__u32 n = btf__type_cnt(b->btf);
	for (__u32 id = btf_first_own_id(b); id < n; id++) {
		const struct btf_type *t = btf__type_by_id(b->btf, id);
		if (!btf_is_func(t))
			continue;
		const char *tn = btf__name_by_offset(b->btf, t->name_off);
		if (tn && !strcmp(tn, name))
			return 1;
	}
	return 0;
}

int64_t iavfshim_btf_struct_size(const iavfshim_btf *b, const char *name)
{
	int id = btf__find_by_name_kind(b->btf, name, BTF_KIND_STRUCT);
	if (id < 0)
		return -ENOENT;
	return btf__type_by_id(b->btf, id)->size;
}

/* ---- system --------------------------------------------------------------- */

int iavfshim_probe_tracing(void)
{
	return libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACING, NULL);
}

int iavfshim_probe_kprobe_prog(void)
{
	return libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_KPROBE, NULL);
}

int iavfshim_num_possible_cpus(void)
{
	return libbpf_num_possible_cpus();
}

int iavfshim_stats_enable(void)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	return fd >= 0 ? fd : neg_errno(EINVAL);
}

void iavfshim_close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

int64_t iavfshim_prog_next_id(uint32_t id)
{
	__u32 next = 0;
	if (bpf_prog_get_next_id(id, &next))
		return neg_errno(ENOENT);
	return next;
}

int iavfshim_prog_info_by_id(uint32_t id, char name[16], uint32_t *type, uint64_t *run_cnt, uint64_t *run_time_ns)
{
	struct bpf_prog_info info;
	int fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return neg_errno(ENOENT);
	int err = prog_info(fd, &info);
	close(fd);
	if (err)
		return err;
	memcpy(name, info.name, 16);
	name[15] = 0;
	*type = info.type;
	*run_cnt = info.run_cnt;
	*run_time_ns = info.run_time_ns;
	return 0;
}

int iavfshim_link_exists(uint32_t id)
{
	int fd = bpf_link_get_fd_by_id(id);
	if (fd < 0)
		return errno == ENOENT ? 0 : neg_errno(EINVAL);
	close(fd);
	return 1;
}
