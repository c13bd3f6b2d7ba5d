#!/bin/sh
# arm64 only. QEMU's virt machine has no RAM below 1 GiB, out of reach of
# edu's 28-bit DMA mask. edu and edu_c ask for the 28 bits the real device
# addresses, so the platform refuses the mask: each probe must fail with
# EIO, leave the device unbound, and unload cleanly; the Rust binding also
# says why (edu_c, like most C drivers, returns the error silently). The
# kernel log is read after a marker, never cleared: the host scans all of it.

. /guest/lib/ktap.sh

edu=$(pci_find 0x1234 0x11e8)

ktap_plan 10
ktap_check edu_device_present test -n "$edu"
for drv in edu edu_c; do
	mark="edu_mask: loading $drv"
	echo "$mark" > /dev/kmsg
	ktap_check "${drv}_loads" insmod /lib/modules/$drv.ko
	ktap_check "${drv}_leaves_edu_unbound" test -n "$edu" -a ! -e "$edu/driver"
	ktap_check "${drv}_probe_fails_with_eio" sh -c \
		"dmesg | sed -n '/$mark/,\$p' | grep -q 'probe with driver $drv failed with error -5'"
	[ $drv = edu ] && ktap_check edu_logs_the_refused_mask sh -c \
		"dmesg | sed -n '/$mark/,\$p' | grep -q 'refused a 28-bit mask (EIO)'"
	ktap_check "${drv}_unloads" rmmod $drv
done
ktap_done
