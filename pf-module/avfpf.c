// SPDX-License-Identifier: GPL-2.0
/*
 * avfpf: the kernel half of iavf-check's emulated AVF PF.
 *
 * It puts N Intel Adaptive Virtual Functions (8086:1889) on a virtual PCI root bus in a
 * fresh PCI domain, so the stock iavf driver binds to them. The BARs live in guest RAM
 * reserved with memmap=2M$0x7e000000 (the bus window lies strictly inside that range),
 * config space is emulated in software, and MSI-X goes through a parent-less MSI domain
 * so vectors can be raised from process context. Everything the PF does (admin queue,
 * virtchnl, resets) is done by a user-space emulator through /dev/avfpf and
 * /dev/avfpf-mem (see avfpf_uapi.h). This module only moves bytes and interrupts.
 *
 * Written for iavf-check from the design notes in docs/avf-device-emulation.md.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/msi.h>
#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <linux/interrupt.h>
#include <linux/miscdevice.h>
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/uaccess.h>
#include <linux/ioport.h>
#include <linux/slab.h>
#include "avfpf_uapi.h"

static unsigned long base = 0x7e000000;
module_param(base, ulong, 0444);
MODULE_PARM_DESC(base, "start of the RAM range reserved with memmap=SIZE$BASE");
static unsigned long reserved = 0x200000;
module_param(reserved, ulong, 0444);
MODULE_PARM_DESC(reserved, "size of that reserved range; the bus window must be strictly smaller");
static unsigned int nvfs = 2;
module_param(nvfs, uint, 0444);
MODULE_PARM_DESC(nvfs, "number of virtual functions (1..7)");
static unsigned int vectors = 5;
module_param(vectors, uint, 0444);
MODULE_PARM_DESC(vectors, "MSI-X table size per VF (2..64)");
static unsigned int poll_us = 1000;
module_param(poll_us, uint, 0444);
MODULE_PARM_DESC(poll_us, "period of the mailbox change detector, microseconds");
static int domain_nr = -1;
module_param(domain_nr, int, 0444);
MODULE_PARM_DESC(domain_nr, "(read-only) the PCI domain the VFs were put in");

/* BAR0 registers the change detector watches (driver-owned). */
static const u32 watched[] = {
	0x8400, /* ATQT */   0x6800, /* ATQLEN */  0x7c00, /* ATQBAL */ 0x7800, /* ATQBAH */
	0x7000, /* ARQT */   0x8000, /* ARQLEN */  0x6c00, /* ARQBAL */ 0x6000, /* ARQBAH */
	0x5c00, /* DYN_CTL01 */ 0x5000, /* ICR0_ENA1 */
};

/* Data-path doorbells the detector also watches (driver-owned, no write trap): the Tx and Rx
 * tail of each queue and the queue vectors' DYN_CTLN1 (INTENA re-enable, SWINT_TRIG). A change
 * raises AVFPF_EV_QUEUE for the VF. */
#define QTX_TAIL(q)     (0x0000 + 4 * (q))
#define QRX_TAIL(q)     (0x2000 + 4 * (q))
#define DYN_CTLN1(v)    (0x3800 + 4 * (v))
#define WATCH_QUEUES    4
#define WATCH_VECTORS   16
#define NDOORBELLS      (2 * WATCH_QUEUES + WATCH_VECTORS)

#define CFG_SIZE 4096
#define CAP_MSIX 0x70
#define CAP_EXP  0xa0

struct avfpf_fn {
	u8 cfg[CFG_SIZE];
	u8 wmask[CFG_SIZE];
	void __iomem *regs;
	struct pci_dev *pdev;
	u32 shadow[ARRAY_SIZE(watched)];
	u32 doorbell[NDOORBELLS];
};

static struct {
	struct avfpf_fn fn[AVFPF_MAX_VFS];
	raw_spinlock_t cfg_lock;
	struct resource window;
	bool window_inserted;
	void __iomem *win;
	size_t win_size;
	struct device *parent;
	struct pci_sysdata *sysdata;
	struct fwnode_handle *fwnode;
	struct irq_domain *msi_domain;
	struct pci_bus *bus;
	struct task_struct *detector;
	unsigned long pending;          /* event bits, set with set_bit from any context */
	atomic_long_t reported;         /* bits seen by the detector, handed to readers */
	wait_queue_head_t wq;
	atomic_t open;
	struct mutex inject_lock;
} avf;

/* ---------------------------------------------------------------- config space */

static void put8(struct avfpf_fn *f, int off, u8 v, u8 m) { f->cfg[off] = v; f->wmask[off] = m; }
static void put16(struct avfpf_fn *f, int off, u16 v, u16 m)
{
	put8(f, off, v & 0xff, m & 0xff);
	put8(f, off + 1, v >> 8, m >> 8);
}
static void put32(struct avfpf_fn *f, int off, u32 v, u32 m)
{
	put16(f, off, v & 0xffff, m & 0xffff);
	put16(f, off + 2, v >> 16, m >> 16);
}

static void avfpf_init_config(struct avfpf_fn *f, phys_addr_t bar0, phys_addr_t bar3)
{
	memset(f->cfg, 0, sizeof(f->cfg));
	memset(f->wmask, 0, sizeof(f->wmask));
	put16(f, PCI_VENDOR_ID, PCI_VENDOR_ID_INTEL, 0);
	put16(f, PCI_DEVICE_ID, 0x1889, 0);
	/* memory space, bus master, INTx disable */
	put16(f, PCI_COMMAND, 0, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	put16(f, PCI_STATUS, PCI_STATUS_CAP_LIST, 0);
	put8(f, PCI_REVISION_ID, 0x01, 0);
	put8(f, PCI_CLASS_PROG, 0, 0);
	put16(f, PCI_CLASS_DEVICE, PCI_CLASS_NETWORK_ETHERNET, 0);
	put8(f, PCI_CACHE_LINE_SIZE, 0, 0xff);
	put8(f, PCI_LATENCY_TIMER, 0, 0xff);
	/* 64-bit prefetchable BARs, pre-assigned ("firmware") inside the window. The write mask
	 * keeps the size bits at zero, so writing all-ones reads back the size. */
	put32(f, PCI_BASE_ADDRESS_0, lower_32_bits(bar0) | 0xc, ~(AVFPF_BAR0_SIZE - 1));
	put32(f, PCI_BASE_ADDRESS_1, upper_32_bits(bar0), 0xffffffff);
	put32(f, PCI_BASE_ADDRESS_3, lower_32_bits(bar3) | 0xc, ~(AVFPF_BAR3_SIZE - 1));
	put32(f, PCI_BASE_ADDRESS_4, upper_32_bits(bar3), 0xffffffff);
	put16(f, PCI_SUBSYSTEM_VENDOR_ID, PCI_VENDOR_ID_INTEL, 0);
	put16(f, PCI_SUBSYSTEM_ID, 0, 0);
	put8(f, PCI_CAPABILITY_LIST, CAP_MSIX, 0);
	put8(f, PCI_INTERRUPT_LINE, 0, 0xff);
	put8(f, PCI_INTERRUPT_PIN, 0, 0);          /* VFs have no INTx */
	/* MSI-X: table at BAR3 + 0, PBA at BAR3 + 0x2000; enable and function mask writable */
	put8(f, CAP_MSIX, PCI_CAP_ID_MSIX, 0);
	put8(f, CAP_MSIX + 1, CAP_EXP, 0);
	put16(f, CAP_MSIX + PCI_MSIX_FLAGS, vectors - 1, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	put32(f, CAP_MSIX + PCI_MSIX_TABLE, 0x00000003, 0);
	put32(f, CAP_MSIX + PCI_MSIX_PBA, 0x00002003, 0);
	/* PCI Express v2 endpoint with function-level reset, MPS 256 */
	put8(f, CAP_EXP, PCI_CAP_ID_EXP, 0);
	put8(f, CAP_EXP + 1, 0, 0);
	put16(f, CAP_EXP + PCI_EXP_FLAGS, 0x0002, 0);
	put32(f, CAP_EXP + PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_FLR | 0x1, 0);
	/* DevCtl: writable except Initiate FLR (bit 15), which only raises an event */
	put16(f, CAP_EXP + PCI_EXP_DEVCTL, 0x2810, 0x7fff);
	put16(f, CAP_EXP + PCI_EXP_DEVSTA, 0, 0);
}

static struct avfpf_fn *avfpf_fn_of(struct pci_bus *bus, unsigned int devfn, unsigned int *vf)
{
	if (bus->number != 0 || PCI_FUNC(devfn) != 0 || PCI_SLOT(devfn) >= nvfs)
		return NULL;
	*vf = PCI_SLOT(devfn);
	return &avf.fn[*vf];
}

static int avfpf_cfg_read(struct pci_bus *bus, unsigned int devfn, int where, int size, u32 *val)
{
	struct avfpf_fn *f;
	unsigned long flags;
	unsigned int vf;
	u32 v = 0;
	int i;

	f = avfpf_fn_of(bus, devfn, &vf);
	if (!f || where < 0 || where + size > CFG_SIZE) {
		*val = ~0u;
		return PCIBIOS_DEVICE_NOT_FOUND;
	}
	raw_spin_lock_irqsave(&avf.cfg_lock, flags);
	for (i = 0; i < size; i++)
		v |= (u32)f->cfg[where + i] << (8 * i);
	raw_spin_unlock_irqrestore(&avf.cfg_lock, flags);
	*val = v;
	return PCIBIOS_SUCCESSFUL;
}

static int avfpf_cfg_write(struct pci_bus *bus, unsigned int devfn, int where, int size, u32 val)
{
	struct avfpf_fn *f;
	unsigned long flags;
	unsigned int vf;
	u16 cmd_before, msix_before;
	bool flr = false;
	int i;

	f = avfpf_fn_of(bus, devfn, &vf);
	if (!f || where < 0 || where + size > CFG_SIZE)
		return PCIBIOS_DEVICE_NOT_FOUND;
	raw_spin_lock_irqsave(&avf.cfg_lock, flags);
	cmd_before = f->cfg[PCI_COMMAND] | f->cfg[PCI_COMMAND + 1] << 8;
	msix_before = f->cfg[CAP_MSIX + PCI_MSIX_FLAGS + 1];
	for (i = 0; i < size; i++) {
		int off = where + i;
		u8 b = (val >> (8 * i)) & 0xff;

		if (off == CAP_EXP + PCI_EXP_DEVCTL + 1 && (b & 0x80))
			flr = true;
		f->cfg[off] = (f->cfg[off] & ~f->wmask[off]) | (b & f->wmask[off]);
	}
	if (flr) {
		/* What the function does on FLR: decode and DMA off, MSI-X off. The PCI core
		 * restores both afterwards; the emulator resets the VF's registers. */
		f->cfg[PCI_COMMAND] &= ~(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
		f->cfg[CAP_MSIX + PCI_MSIX_FLAGS + 1] &= ~((PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8);
		set_bit(AVFPF_EV_FLR + 4 * vf, &avf.pending);
	}
	if ((f->cfg[PCI_COMMAND] | f->cfg[PCI_COMMAND + 1] << 8) != cmd_before)
		set_bit(AVFPF_EV_COMMAND + 4 * vf, &avf.pending);
	if (f->cfg[CAP_MSIX + PCI_MSIX_FLAGS + 1] != msix_before)
		set_bit(AVFPF_EV_MSIX + 4 * vf, &avf.pending);
	raw_spin_unlock_irqrestore(&avf.cfg_lock, flags);
	/* No wake-up here: we may be under the PCI core's raw pci_lock. The detector
	 * thread hands the bits to readers within one period. */
	return PCIBIOS_SUCCESSFUL;
}

static struct pci_ops avfpf_pci_ops = {
	.read = avfpf_cfg_read,
	.write = avfpf_cfg_write,
};

/* ---------------------------------------------------------------- MSI domain */

static void avfpf_irq_ack(struct irq_data *d) { }

static void avfpf_compose_msi_msg(struct irq_data *d, struct msi_msg *msg)
{
	/* Nothing decodes this message: interrupts are raised by software. */
	msg->address_hi = 0;
	msg->address_lo = 0xfee00000;
	msg->data = (u32)(d->hwirq & 0xffff);
}

static int avfpf_set_affinity(struct irq_data *d, const struct cpumask *mask, bool force)
{
	return -EINVAL;
}

static struct irq_chip avfpf_msi_chip = {
	.name = "AVFPF-MSI",
	.irq_ack = avfpf_irq_ack,
	.irq_compose_msi_msg = avfpf_compose_msi_msg,
	.irq_set_affinity = avfpf_set_affinity,
};

static struct msi_domain_ops avfpf_msi_ops;

static struct msi_domain_info avfpf_msi_info = {
	.flags = MSI_FLAG_USE_DEF_DOM_OPS | MSI_FLAG_USE_DEF_CHIP_OPS | MSI_FLAG_PCI_MSIX,
	.ops = &avfpf_msi_ops,
	.chip = &avfpf_msi_chip,
	.handler = handle_edge_irq,
	.handler_name = "edge",
};

static int avfpf_inject(unsigned int vf, unsigned int vector)
{
	struct pci_dev *pdev;
	struct msi_desc *desc;
	unsigned int virq = 0;
	int ret = -ENXIO;

	if (vf >= nvfs || !avf.fn[vf].pdev)
		return -ENODEV;
	pdev = avf.fn[vf].pdev;
	mutex_lock(&avf.inject_lock);      /* one injector at a time */
	/* The descriptor store exists only while MSI-X is (being) used; it is freed with the
	 * driver's devres after remove, and remove disables MSI-X first. So: no MSI-X, no touch. */
	if (!pdev->msix_enabled || !READ_ONCE(pdev->dev.msi.data)) {
		mutex_unlock(&avf.inject_lock);
		return -ENXIO;
	}
	msi_lock_descs(&pdev->dev);         /* excludes pci_disable_msix while we raise */
	if (pdev->msix_enabled) {
		msi_for_each_desc(desc, &pdev->dev, MSI_DESC_ASSOCIATED) {
			if (desc->msi_index == vector) {
				virq = desc->irq;
				break;
			}
		}
		if (virq) {
			local_bh_disable();
			ret = generic_handle_irq_safe(virq);
			local_bh_enable();
		}
	}
	msi_unlock_descs(&pdev->dev);
	mutex_unlock(&avf.inject_lock);
	return ret;
}

/* ---------------------------------------------------------------- change detector */

static int avfpf_detector(void *unused)
{
	while (!kthread_should_stop()) {
		unsigned int vf, i;

		for (vf = 0; vf < nvfs; vf++) {
			struct avfpf_fn *f = &avf.fn[vf];
			bool changed = false;

			for (i = 0; i < ARRAY_SIZE(watched); i++) {
				u32 v = readl(f->regs + watched[i]);

				if (v != f->shadow[i]) {
					f->shadow[i] = v;
					changed = true;
				}
			}
			if (changed)
				set_bit(AVFPF_EV_MAILBOX + 4 * vf, &avf.pending);
			changed = false;
			for (i = 0; i < NDOORBELLS; i++) {
				u32 off = i < WATCH_QUEUES ? QTX_TAIL(i) :
					  i < 2 * WATCH_QUEUES ? QRX_TAIL(i - WATCH_QUEUES) :
					  DYN_CTLN1(i - 2 * WATCH_QUEUES);
				u32 v = readl(f->regs + off);

				if (v != f->doorbell[i]) {
					f->doorbell[i] = v;
					changed = true;
				}
			}
			if (changed)
				set_bit(AVFPF_EV_QUEUE_BIT(vf), &avf.pending);
		}
		if (READ_ONCE(avf.pending)) {
			unsigned long bits = xchg(&avf.pending, 0);

			atomic_long_or(bits, &avf.reported);
			wake_up_interruptible(&avf.wq);
		}
		usleep_range(poll_us, poll_us + poll_us / 4 + 50);
	}
	return 0;
}

/* ---------------------------------------------------------------- /dev/avfpf */

static int avfpf_open(struct inode *inode, struct file *file)
{
	if (atomic_cmpxchg(&avf.open, 0, 1) != 0)
		return -EBUSY;
	return 0;
}

static int avfpf_release(struct inode *inode, struct file *file)
{
	atomic_set(&avf.open, 0);
	return 0;
}

static ssize_t avfpf_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	u64 bits;
	int ret;

	if (len < sizeof(bits))
		return -EINVAL;
	for (;;) {
		bits = atomic_long_xchg(&avf.reported, 0);
		if (bits)
			break;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(avf.wq, atomic_long_read(&avf.reported) != 0);
		if (ret)
			return ret;
	}
	if (copy_to_user(buf, &bits, sizeof(bits)))
		return -EFAULT;
	return sizeof(bits);
}

static __poll_t avfpf_poll(struct file *file, poll_table *wait)
{
	poll_wait(file, &avf.wq, wait);
	return atomic_long_read(&avf.reported) ? EPOLLIN | EPOLLRDNORM : 0;
}

static ssize_t avfpf_write(struct file *file, const char __user *buf, size_t len, loff_t *ppos)
{
	struct avfpf_cmd cmd;
	int ret;

	if (len != sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(&cmd, buf, sizeof(cmd)))
		return -EFAULT;
	switch (cmd.cmd) {
	case AVFPF_CMD_INJECT:
		if (cmd.arg >= vectors)
			return -EINVAL;
		ret = avfpf_inject(cmd.vf, cmd.arg);
		return ret < 0 ? ret : sizeof(cmd);
	default:
		return -EINVAL;
	}
}

static int avfpf_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long size = vma->vm_end - vma->vm_start;
	unsigned long off = vma->vm_pgoff << PAGE_SHIFT;

	if (off >= avf.win_size || size > avf.win_size - off)
		return -EINVAL;
	/* UC-, like every other mapping of the BARs (a WB mapping would break iavf's ioremap) */
	vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	return io_remap_pfn_range(vma, vma->vm_start, (base + off) >> PAGE_SHIFT, size, vma->vm_page_prot);
}

static const struct file_operations avfpf_fops = {
	.owner = THIS_MODULE,
	.open = avfpf_open,
	.release = avfpf_release,
	.read = avfpf_read,
	.write = avfpf_write,
	.poll = avfpf_poll,
	.mmap = avfpf_mmap,
	.llseek = noop_llseek,
};

static struct miscdevice avfpf_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "avfpf",
	.fops = &avfpf_fops,
	.mode = 0600,
};

/* ---------------------------------------------------------------- /dev/avfpf-mem (DMA) */

/* Only whole System RAM pages with a struct page; the BAR window itself is not RAM. */
static int avfpf_dma_check(loff_t pos, size_t len)
{
	phys_addr_t pa = pos;
	unsigned long pfn;

	if (pos < 0 || len == 0 || len > AVFPF_DMA_MAX || pa + len < pa)
		return -EINVAL;
	if (region_intersects(pa, len, IORESOURCE_SYSTEM_RAM, IORES_DESC_NONE) != REGION_INTERSECTS)
		return -EFAULT;
	for (pfn = PHYS_PFN(pa); pfn <= PHYS_PFN(pa + len - 1); pfn++)
		if (!pfn_valid(pfn))
			return -EFAULT;
	return 0;
}

static ssize_t avfpf_mem_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	phys_addr_t pa = *ppos;
	size_t done = 0;
	int ret = avfpf_dma_check(*ppos, len);

	if (ret)
		return ret;
	while (done < len) {
		size_t chunk = min_t(size_t, len - done, PAGE_SIZE - offset_in_page(pa + done));

		if (copy_to_user(buf + done, phys_to_virt(pa + done), chunk))
			return done ? done : -EFAULT;
		done += chunk;
	}
	*ppos += done;
	return done;
}

static ssize_t avfpf_mem_write(struct file *file, const char __user *buf, size_t len, loff_t *ppos)
{
	phys_addr_t pa = *ppos;
	size_t done = 0;
	int ret = avfpf_dma_check(*ppos, len);

	if (ret)
		return ret;
	while (done < len) {
		size_t chunk = min_t(size_t, len - done, PAGE_SIZE - offset_in_page(pa + done));

		if (copy_from_user(phys_to_virt(pa + done), buf + done, chunk))
			return done ? done : -EFAULT;
		done += chunk;
	}
	*ppos += done;
	return done;
}

static const struct file_operations avfpf_mem_fops = {
	.owner = THIS_MODULE,
	.read = avfpf_mem_read,
	.write = avfpf_mem_write,
	.llseek = default_llseek,
};

static struct miscdevice avfpf_mem_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "avfpf-mem",
	.fops = &avfpf_mem_fops,
	.mode = 0600,
};

/* ---------------------------------------------------------------- bus */

static int avfpf_free_domain(void)
{
	struct pci_bus *bus = NULL;
	int max = 0xffff;

	while ((bus = pci_find_next_bus(bus)) != NULL)
		max = max_t(int, max, pci_domain_nr(bus));
	return max + 1;
}

static int avfpf_create_bus(void)
{
	struct resource busn = { .name = "avfpf bus", .start = 0, .end = 0, .flags = IORESOURCE_BUS };
	LIST_HEAD(resources);
	struct pci_bus *bus;
	unsigned int vf;

	avf.sysdata = kzalloc(sizeof(*avf.sysdata), GFP_KERNEL);
	if (!avf.sysdata)
		return -ENOMEM;
	avf.sysdata->domain = avfpf_free_domain();
	avf.sysdata->node = NUMA_NO_NODE;
	domain_nr = avf.sysdata->domain;

	avf.fwnode = irq_domain_alloc_named_id_fwnode("AVFPF-MSI", domain_nr);
	if (!avf.fwnode)
		return -ENOMEM;
	avf.msi_domain = pci_msi_create_irq_domain(avf.fwnode, &avfpf_msi_info, NULL);
	if (!avf.msi_domain)
		return -ENOMEM;
	irq_domain_update_bus_token(avf.msi_domain, DOMAIN_BUS_VMD_MSI);

	avf.parent = root_device_register("avfpf");
	if (IS_ERR(avf.parent)) {
		int err = PTR_ERR(avf.parent);

		avf.parent = NULL;
		return err;
	}
	pci_add_resource(&resources, &avf.window);
	pci_add_resource(&resources, &busn);
	bus = pci_create_root_bus(avf.parent, 0, &avfpf_pci_ops, avf.sysdata, &resources);
	if (!bus) {
		pci_free_resource_list(&resources);
		return -ENODEV;
	}
	avf.bus = bus;
	/* before the scan: pci_device_add copies the bus's MSI domain to each device */
	dev_set_msi_domain(&bus->dev, avf.msi_domain);

	pci_lock_rescan_remove();
	pci_scan_child_bus(bus);
	pci_bus_claim_resources(bus);
	for (vf = 0; vf < nvfs; vf++) {
		avf.fn[vf].pdev = pci_get_slot(bus, PCI_DEVFN(vf, 0));
		if (avf.fn[vf].pdev)
			pci_dev_put(avf.fn[vf].pdev);   /* the bus keeps it until teardown */
	}
	pci_bus_add_devices(bus);
	pci_unlock_rescan_remove();
	return 0;
}

static void avfpf_teardown(void)
{
	unsigned int vf;

	if (avf.detector)
		kthread_stop(avf.detector);
	if (avf.bus) {
		pci_lock_rescan_remove();
		pci_stop_root_bus(avf.bus);
		for (vf = 0; vf < nvfs; vf++)
			avf.fn[vf].pdev = NULL;
		pci_remove_root_bus(avf.bus);
		pci_unlock_rescan_remove();
	}
	if (avf.parent)
		root_device_unregister(avf.parent);
	if (avf.msi_domain)
		irq_domain_remove(avf.msi_domain);
	if (avf.fwnode)
		irq_domain_free_fwnode(avf.fwnode);
	kfree(avf.sysdata);
	if (avf.win)
		iounmap(avf.win);
	if (avf.window_inserted)
		release_resource(&avf.window);
}

static int __init avfpf_init(void)
{
	unsigned int vf;
	int err;

	if (nvfs < 1 || nvfs > AVFPF_MAX_VFS || vectors < 2 || vectors > 64 || poll_us < 50 ||
	    !IS_ALIGNED(base, AVFPF_VF_STRIDE)) {
		pr_err("avfpf: bad parameters (nvfs 1..%u, vectors 2..64, poll_us >= 50, base aligned to 0x%x)\n",
		       AVFPF_MAX_VFS, AVFPF_VF_STRIDE);
		return -EINVAL;
	}
	avf.win_size = (size_t)nvfs * AVFPF_VF_STRIDE;
	/* A window as large as the memmap range would become the parent of the e820 "Reserved"
	 * entry, and every BAR claim would then conflict with it. */
	if (avf.win_size >= reserved) {
		pr_err("avfpf: %u VFs need 0x%zx bytes, which must be strictly less than the reserved 0x%lx\n",
		       nvfs, avf.win_size, reserved);
		return -EINVAL;
	}
	raw_spin_lock_init(&avf.cfg_lock);
	init_waitqueue_head(&avf.wq);
	mutex_init(&avf.inject_lock);

	avf.window.name = "avfpf window";
	avf.window.start = base;
	avf.window.end = base + avf.win_size - 1;
	avf.window.flags = IORESOURCE_MEM;
	err = insert_resource(&iomem_resource, &avf.window);
	if (err) {
		pr_err("avfpf: cannot insert the window [mem %#lx-%#lx] (%d): boot with memmap=2M$%#lx\n",
		       base, base + (unsigned long)avf.win_size - 1, err, base);
		return err;
	}
	avf.window_inserted = true;
	if (region_intersects(base, avf.win_size, IORESOURCE_SYSTEM_RAM, IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("avfpf: [mem %#lx] is System RAM: reserve it with memmap=2M$%#lx\n", base, base);
		err = -EBUSY;
		goto fail;
	}
	avf.win = ioremap(base, avf.win_size);
	if (!avf.win) {
		err = -ENOMEM;
		goto fail;
	}
	memset_io(avf.win, 0, avf.win_size);   /* VFGEN_RSTAT = 0: in reset until the emulator attaches */
	for (vf = 0; vf < nvfs; vf++) {
		phys_addr_t b0 = base + (phys_addr_t)vf * AVFPF_VF_STRIDE;

		avf.fn[vf].regs = avf.win + (size_t)vf * AVFPF_VF_STRIDE;
		avfpf_init_config(&avf.fn[vf], b0, b0 + AVFPF_BAR3_OFFSET);
	}
	err = avfpf_create_bus();
	if (err)
		goto fail;
	err = misc_register(&avfpf_misc);
	if (err)
		goto fail;
	err = misc_register(&avfpf_mem_misc);
	if (err) {
		misc_deregister(&avfpf_misc);
		goto fail;
	}
	avf.detector = kthread_run(avfpf_detector, NULL, "avfpf-detect");
	if (IS_ERR(avf.detector)) {
		err = PTR_ERR(avf.detector);
		avf.detector = NULL;
		misc_deregister(&avfpf_mem_misc);
		misc_deregister(&avfpf_misc);
		goto fail;
	}
	pr_info("avfpf: %u VFs [8086:1889] in domain %04x, window [mem %#lx-%#lx], %u MSI-X vectors each\n",
		nvfs, domain_nr, base, base + (unsigned long)avf.win_size - 1, vectors);
	return 0;
fail:
	avfpf_teardown();
	return err;
}

static void __exit avfpf_exit(void)
{
	misc_deregister(&avfpf_mem_misc);
	misc_deregister(&avfpf_misc);
	avfpf_teardown();
}

module_init(avfpf_init);
module_exit(avfpf_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("iavf-check: emulated Intel AVF PF transport (virtual PCI bus, BARs in reserved RAM, MSI-X injection)");
