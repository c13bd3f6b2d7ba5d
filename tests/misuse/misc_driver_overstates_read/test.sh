#!/bin/sh
# A 4-byte read from a device whose driver claims 100 bytes: the read fails
# with EIO instead of returning a count userspace would trust.

. /guest/lib/ktap.sh

overstated_read_is_eio() {
	out=$(dd if=/dev/dmabridge_liar of=/dev/null bs=4 count=1 2>&1)
	echo "$out" | grep -q "Input/output error" || { echo "$out"; return 1; }
}

ktap_plan 3
ktap_check module_loads insmod /lib/modules/misuse_misc_liar.ko
ktap_check overstated_read_is_eio overstated_read_is_eio
ktap_check module_unloads rmmod misuse_misc_liar
ktap_done
