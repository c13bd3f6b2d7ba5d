// SPDX-License-Identifier: GPL-2.0
/*
 * Driver for QEMU's edu device (1234:11e8), in C: the twin of the Rust edu
 * driver (drivers/edu), with the same /dev/eduN ABI (uapi/edu.h,
 * docs/edu-abi.md). Data moves by streaming DMA in both directions; the
 * device signals completion with its interrupt.
 */

#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "uapi/edu.h"

#define EDU_ID			0x00
#define EDU_FACTORIAL		0x08
#define EDU_STATUS		0x20
#define EDU_IRQ_STATUS		0x24
#define EDU_IRQ_ACK		0x64
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_COUNT		0x90
#define EDU_DMA_CMD		0x98

#define EDU_STATUS_IRQ_FACTORIAL	0x80
#define EDU_CMD_START		0x1
#define EDU_CMD_TO_RAM		0x2
#define EDU_CMD_IRQ		0x4
#define EDU_DEV_BUF		0x40000
#define EDU_TIMEOUT_MS		5000

static DEFINE_IDA(edu_ida);

struct edu {
	struct kref ref;
	struct pci_dev *pdev;
	void __iomem *regs;
	struct miscdevice misc;
	char name[16];
	int number;
	struct mutex busy;		/* one operation at a time; guards gone */
	struct completion done;
	bool gone;			/* unbound: every operation fails */
	bool dead;			/* stopped answering: every operation fails */
};

static void edu_free(struct kref *ref)
{
	kfree(container_of(ref, struct edu, ref));
}

static irqreturn_t edu_irq(int irq, void *data)
{
	struct edu *edu = data;
	u32 status = readl(edu->regs + EDU_IRQ_STATUS);

	if (!status)
		return IRQ_NONE;
	writel(status, edu->regs + EDU_IRQ_ACK);
	complete_all(&edu->done);
	return IRQ_HANDLED;
}

/*
 * Waits for the interrupt of the operation just started; called with busy
 * held. A signal does not abandon the operation, which may be writing a
 * buffer: wait for the device, then restart the system call. A device that
 * does not answer loses bus mastering, so its buffers can be released.
 */
static int edu_wait(struct edu *edu)
{
	unsigned long t = msecs_to_jiffies(EDU_TIMEOUT_MS);
	long ret;

	ret = wait_for_completion_interruptible_timeout(&edu->done, t);
	if (ret > 0)
		return 0;
	if (ret < 0 && wait_for_completion_timeout(&edu->done, t))
		return -ERESTARTSYS;
	pci_err(edu->pdev, "device did not answer within %d ms; disabling it\n",
		EDU_TIMEOUT_MS);
	pci_clear_master(edu->pdev);
	edu->dead = true;
	return -ETIMEDOUT;
}

static int edu_check(struct edu *edu)
{
	if (edu->gone)
		return -ENXIO;
	if (edu->dead)
		return -EIO;
	return 0;
}

/* Moves len bytes between buf and the device buffer at offset. */
static int edu_dma(struct edu *edu, void *buf, size_t len, loff_t offset,
		   enum dma_data_direction dir)
{
	struct device *dev = &edu->pdev->dev;
	bool to_ram = dir == DMA_FROM_DEVICE;
	dma_addr_t handle;
	int ret;

	mutex_lock(&edu->busy);
	ret = edu_check(edu);
	if (ret)
		goto unlock;
	handle = dma_map_single(dev, buf, len, dir);
	ret = dma_mapping_error(dev, handle);
	if (ret)
		goto unlock;
	reinit_completion(&edu->done);
	writeq(to_ram ? EDU_DEV_BUF + offset : handle,
	       edu->regs + EDU_DMA_SRC);
	writeq(to_ram ? handle : EDU_DEV_BUF + offset,
	       edu->regs + EDU_DMA_DST);
	writeq(len, edu->regs + EDU_DMA_COUNT);
	writeq(EDU_CMD_START | EDU_CMD_IRQ | (to_ram ? EDU_CMD_TO_RAM : 0),
	       edu->regs + EDU_DMA_CMD);
	ret = edu_wait(edu);
	dma_unmap_single(dev, handle, len, dir);
unlock:
	mutex_unlock(&edu->busy);
	return ret;
}

static size_t edu_span(loff_t pos, size_t want)
{
	if (pos >= EDU_BUF_SIZE)
		return 0;
	return min_t(size_t, want, EDU_BUF_SIZE - pos);
}

static ssize_t edu_read(struct file *file, char __user *ubuf, size_t count,
			loff_t *pos)
{
	struct edu *edu = file->private_data;
	size_t len = edu_span(*pos, count);
	void *buf;
	int ret;

	if (!len)
		return 0;
	buf = kzalloc(len, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	ret = edu_dma(edu, buf, len, *pos, DMA_FROM_DEVICE);
	if (!ret && copy_to_user(ubuf, buf, len))
		ret = -EFAULT;
	kfree(buf);
	if (ret)
		return ret;
	*pos += len;
	return len;
}

static ssize_t edu_write(struct file *file, const char __user *ubuf,
			 size_t count, loff_t *pos)
{
	struct edu *edu = file->private_data;
	size_t len;
	void *buf;
	int ret;

	if (*pos >= EDU_BUF_SIZE)
		return -ENOSPC;
	len = edu_span(*pos, count);
	if (!len)
		return 0;
	buf = memdup_user(ubuf, len);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = edu_dma(edu, buf, len, *pos, DMA_TO_DEVICE);
	kfree(buf);
	if (ret)
		return ret;
	*pos += len;
	return len;
}

static loff_t edu_llseek(struct file *file, loff_t offset, int whence)
{
	return fixed_size_llseek(file, offset, whence, EDU_BUF_SIZE);
}

static long edu_factorial(struct edu *edu, u32 __user *arg)
{
	u32 n;
	int ret;

	if (get_user(n, arg))
		return -EFAULT;
	mutex_lock(&edu->busy);
	ret = edu_check(edu);
	if (!ret) {
		reinit_completion(&edu->done);
		writel(EDU_STATUS_IRQ_FACTORIAL, edu->regs + EDU_STATUS);
		writel(n, edu->regs + EDU_FACTORIAL);
		ret = edu_wait(edu);
		if (!ret)
			n = readl(edu->regs + EDU_FACTORIAL);
	}
	mutex_unlock(&edu->busy);
	if (ret)
		return ret;
	return put_user(n, arg);
}

static long edu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	if (cmd != EDU_IOC_FACTORIAL)
		return -ENOTTY;
	return edu_factorial(file->private_data, (u32 __user *)arg);
}

static int edu_open(struct inode *inode, struct file *file)
{
	/* misc_open() set private_data to our miscdevice, under misc_mtx. */
	struct edu *edu = container_of(file->private_data, struct edu, misc);

	kref_get(&edu->ref);
	file->private_data = edu;
	return 0;
}

static int edu_release(struct inode *inode, struct file *file)
{
	struct edu *edu = file->private_data;

	kref_put(&edu->ref, edu_free);
	return 0;
}

static const struct file_operations edu_fops = {
	.owner = THIS_MODULE,
	.open = edu_open,
	.release = edu_release,
	.read = edu_read,
	.write = edu_write,
	.llseek = edu_llseek,
	.unlocked_ioctl = edu_ioctl,
};

static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct edu *edu;
	u32 ident;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(28));
	if (ret)
		return ret;
	edu = kzalloc(sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	kref_init(&edu->ref);
	edu->pdev = pdev;
	mutex_init(&edu->busy);
	init_completion(&edu->done);
	edu->regs = pcim_iomap_region(pdev, 0, "edu_c");
	if (IS_ERR(edu->regs)) {
		ret = PTR_ERR(edu->regs);
		goto put;
	}
	ident = readl(edu->regs + EDU_ID);
	if ((ident & 0xff) != 0xed) {
		pci_err(pdev, "not an edu device: identification 0x%08x\n",
			ident);
		ret = -ENODEV;
		goto put;
	}
	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI | PCI_IRQ_INTX);
	if (ret < 0)
		goto put;
	ret = request_irq(pci_irq_vector(pdev, 0), edu_irq,
			  pdev->msi_enabled ? 0 : IRQF_SHARED, "edu_c", edu);
	if (ret)
		goto put;
	edu->number = ida_alloc_max(&edu_ida, 63, GFP_KERNEL);
	if (edu->number < 0) {
		ret = edu->number;
		goto free_irq;
	}
	snprintf(edu->name, sizeof(edu->name), "edu%d", edu->number);
	edu->misc.minor = MISC_DYNAMIC_MINOR;
	edu->misc.name = edu->name;
	edu->misc.fops = &edu_fops;
	ret = misc_register(&edu->misc);
	if (ret)
		goto free_number;
	pci_set_drvdata(pdev, edu);
	pci_info(pdev, "%s: id 0x%08x, %s interrupt\n", edu->name, ident,
		 pdev->msi_enabled ? "MSI" : "INTx");
	return 0;

free_number:
	ida_free(&edu_ida, edu->number);
free_irq:
	free_irq(pci_irq_vector(pdev, 0), edu);
put:
	kref_put(&edu->ref, edu_free);
	return ret;
}

static void edu_remove(struct pci_dev *pdev)
{
	struct edu *edu = pci_get_drvdata(pdev);

	pci_info(pdev, "%s: unbinding\n", edu->name);
	misc_deregister(&edu->misc);
	/* Wait for the operation in flight; open files then fail with ENXIO. */
	mutex_lock(&edu->busy);
	edu->gone = true;
	mutex_unlock(&edu->busy);
	free_irq(pci_irq_vector(pdev, 0), edu);
	ida_free(&edu_ida, edu->number);
	kref_put(&edu->ref, edu_free);
}

static const struct pci_device_id edu_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};
MODULE_DEVICE_TABLE(pci, edu_ids);

static struct pci_driver edu_driver = {
	.name = "edu_c",
	.id_table = edu_ids,
	.probe = edu_probe,
	.remove = edu_remove,
};
module_pci_driver(edu_driver);

MODULE_AUTHOR("dmabridge");
MODULE_DESCRIPTION("QEMU edu device: DMA to and from its buffer, factorials (C)");
MODULE_LICENSE("GPL");
