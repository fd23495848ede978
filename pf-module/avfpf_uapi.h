/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * avfpf: the user-space interface of the emulated AVF PF transport.
 *
 * /dev/avfpf      (one opener at a time: the PF emulator)
 *   mmap(offset 0)  the BAR window, UC-: VF n's BAR0 at n * AVFPF_VF_STRIDE,
 *                   its BAR3 (MSI-X table, PBA) at n * AVFPF_VF_STRIDE + AVFPF_BAR3_OFFSET.
 *   read(8 bytes)   blocks until an event is pending, then returns and clears the
 *                   pending mask (u64, little endian): bit AVFPF_EV_BIT(vf, kind).
 *                   O_NONBLOCK: -EAGAIN when nothing is pending. poll(): POLLIN.
 *   write(8 bytes)  one struct avfpf_cmd.
 * /dev/avfpf-mem  pread/pwrite at offset = guest-physical address: DMA into System RAM
 *                 only (at most AVFPF_DMA_MAX bytes per call; anything else is -EFAULT).
 *
 * The geometry is in /sys/module/avfpf/parameters/{base,nvfs,vectors,domain_nr}.
 */
#ifndef AVFPF_UAPI_H
#define AVFPF_UAPI_H

#define AVFPF_VF_STRIDE      0x40000u
#define AVFPF_BAR0_SIZE      0x20000u
#define AVFPF_BAR3_OFFSET    0x20000u
#define AVFPF_BAR3_SIZE      0x4000u
#define AVFPF_MAX_VFS        7u
#define AVFPF_DMA_MAX        0x10000u

/* Event kinds, 4 bits per VF. */
#define AVFPF_EV_MAILBOX     0u  /* a driver-owned mailbox register changed */
#define AVFPF_EV_FLR         1u  /* the driver (PCI core) started a function-level reset */
#define AVFPF_EV_COMMAND     2u  /* the PCI COMMAND register changed (memory / bus master) */
#define AVFPF_EV_MSIX        3u  /* the MSI-X enable or function-mask bit changed */
#define AVFPF_EV_BIT(vf, kind) (1ull << ((vf) * 4u + (kind)))
/* A data-path doorbell changed: a queue's Tx or Rx tail (QTX_TAIL/QRX_TAIL, queues 0..3) or a
 * queue vector's DYN_CTLN1 (vectors 1..16). One bit per VF above the 4-bit groups. */
#define AVFPF_EV_QUEUE_BIT(vf) (32u + (vf))
#define AVFPF_EV_QUEUE(vf)     (1ull << AVFPF_EV_QUEUE_BIT(vf))

/* Commands (write). */
#define AVFPF_CMD_INJECT     1u  /* raise MSI-X vector `arg` of VF `vf`; -ENXIO if MSI-X is off */

struct avfpf_cmd {
	unsigned int cmd;
	unsigned short vf;
	unsigned short arg;
};

#endif
