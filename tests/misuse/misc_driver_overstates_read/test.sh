#!/bin/sh
# A 4-byte read from a device whose driver claims 100 bytes: the read fails
# with EIO instead of returning a count userspace would trust. A write that
# leaves a negative position fails with EINVAL; an open asking for data of
# the wrong type fails with EINVAL.

. /guest/lib/ktap.sh

overstated_read_is_eio() {
	out=$(dd if=/dev/dmabridge_liar of=/dev/null bs=4 count=1 2>&1)
	echo "$out" | grep -q "Input/output error" || { echo "$out"; return 1; }
}

internal_errno_is_eio() {
	out=$(dd if=/dev/dmabridge_liar of=/dev/null bs=8 count=1 2>&1)
	echo "$out" | grep -q "Input/output error" || { echo "$out"; return 1; }
}

copy_under_spinlock_moves_nothing() {
	n=$(dd if=/dev/dmabridge_liar bs=16 count=1 2>/dev/null | wc -c)
	[ "$n" -eq 0 ] || { echo "# $n bytes"; return 1; }
}

negative_position_is_einval() {
	out=$(echo x 2>&1 > /dev/dmabridge_liar)
	echo "$out" | grep -q "Invalid argument" || { echo "$out"; return 1; }
}

wrong_data_type_is_einval() {
	out=$( (exec 3<>/dev/dmabridge_liar) 2>&1)
	echo "$out" | grep -q "Invalid argument" || { echo "$out"; return 1; }
}

ktap_plan 7
ktap_check module_loads insmod /lib/modules/misuse_misc_liar.ko
ktap_check overstated_read_is_eio overstated_read_is_eio
ktap_check internal_errno_is_eio internal_errno_is_eio
ktap_check copy_under_spinlock_moves_nothing copy_under_spinlock_moves_nothing
ktap_check negative_position_is_einval negative_position_is_einval
ktap_check wrong_data_type_is_einval wrong_data_type_is_einval
ktap_check module_unloads rmmod misuse_misc_liar
ktap_done
