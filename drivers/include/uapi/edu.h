/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The userspace ABI of /dev/eduN, shared by the Rust edu driver and its C
 * twin edu_c (docs/edu-abi.md).
 */
#ifndef _UAPI_EDU_H
#define _UAPI_EDU_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* The file is the device's DMA buffer: this many bytes. */
#define EDU_BUF_SIZE 4096

/*
 * In: n. Out: n! modulo 2^32, computed by the device, which signals the
 * result with an interrupt.
 */
#define EDU_IOC_FACTORIAL _IOWR('E', 0x01, __u32)

#endif /* _UAPI_EDU_H */
