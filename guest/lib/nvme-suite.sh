#!/bin/sh
# Data through an NVMe controller and back, run against one driver:
# nvme_data_suite PREFIX DISK, where DISK is the block device (rnvme1n1 for
# the Rust driver, nvme0n1 for the kernel's) of the file-backed controller
# (serial dmabridge1, 64 MiB, empty at boot; the suite never writes its 32 MiB
# to 32 MiB + 64 KiB). Prints KTAP lines (no plan):
# 8 tests named PREFIX_*.

. /guest/lib/ktap.sh

# nvme_data_slot: the PCI address of the file-backed controller, the last
# NVMe controller (QEMU adds them in command-line order).
nvme_data_slot() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/class)" = 0x010802 ] && s=${d##*/}
	done
	echo "$s"
}

# Scratch files, and the data the tests write: 1 MiB, different in every boot.
nvme_tmp=${nvme_tmp:-$(mktemp -d)}
nvme_pattern=$nvme_tmp/pattern
[ -s $nvme_pattern ] || dd if=/dev/urandom of=$nvme_pattern bs=1M count=1 2>/dev/null

# roundtrip DEV BS COUNT SEEK: writes BS*COUNT bytes of the pattern with
# O_DIRECT at block SEEK (of BS bytes), reads them back with O_DIRECT and
# compares.
roundtrip() {
	dd if=$nvme_pattern of=/dev/$1 bs=$2 count=$3 seek=$4 oflag=direct conv=notrunc 2>$nvme_tmp/dd.err ||
		{ cat $nvme_tmp/dd.err; return 1; }
	dd if=/dev/$1 of=$nvme_tmp/back bs=$2 count=$3 skip=$4 iflag=direct 2>$nvme_tmp/dd.err ||
		{ cat $nvme_tmp/dd.err; return 1; }
	dd if=$nvme_pattern of=$nvme_tmp/want bs=$2 count=$3 2>/dev/null
	cmp $nvme_tmp/want $nvme_tmp/back
}

# sizes DEV: every request size from 512 B to 128 KiB, and 1 MiB (which the
# block layer splits), at offsets that are and are not multiples of them.
sizes() {
	for bs in 512 4096 8192 65536 131072 1048576; do
		roundtrip "$1" $bs 1 3 || { echo "# bs=$bs failed"; return 1; }
	done
	roundtrip "$1" 512 2048 1 || { echo "# 1 MiB in 512-byte requests failed"; return 1; }
}

# parallel DEV: one writer per CPU on disjoint regions, read back.
parallel() {
	i=0
	for cpu in 0 1; do
		taskset -c $cpu dd if=$nvme_pattern of=/dev/$1 bs=4096 count=256 \
			seek=$((1024 + cpu * 256)) oflag=direct conv=notrunc 2>/dev/null &
	done
	wait || return 1
	for cpu in 0 1; do
		dd if=/dev/$1 of=$nvme_tmp/back bs=4096 count=256 skip=$((1024 + cpu * 256)) \
			iflag=direct 2>/dev/null || return 1
		cmp $nvme_pattern $nvme_tmp/back || return 1
	done
}

# size_is DEV BYTES
size_is() {
	got=$(($(cat /sys/block/$1/size) * 512))
	[ "$got" = "$2" ] || { echo "# size $got, want $2"; return 1; }
}

nvme_data_suite() {
	p=$1
	disk=$2
	ktap_check "${p}_disk_size" size_is "$disk" 67108864
	ktap_check "${p}_fresh_disk_reads_zeroes" sh -c \
		"dd if=/dev/$disk bs=4096 count=16 skip=8192 iflag=direct 2>/dev/null | cmp - /dev/zero 2>&1 | grep -q EOF"
	ktap_check "${p}_write_read_back_512b_to_1mib" sizes "$disk"
	ktap_check "${p}_parallel_writers_per_cpu" parallel "$disk"
	ktap_check "${p}_flush_on_fsync" dd if=$nvme_pattern of=/dev/$disk bs=4096 count=1 \
		seek=4096 conv=fsync,notrunc
	ktap_check "${p}_read_past_end_fails" sh -c \
		"! dd if=/dev/$disk of=/dev/null bs=512 count=1 skip=131072 iflag=direct 2>/dev/null ||
		 [ \$(dd if=/dev/$disk bs=512 count=1 skip=131072 iflag=direct 2>/dev/null | wc -c) = 0 ]"
	ktap_check "${p}_write_past_end_fails" sh -c \
		"! dd if=$nvme_pattern of=/dev/$disk bs=512 count=1 seek=131072 oflag=direct conv=notrunc 2>/dev/null"
	ktap_check "${p}_last_block_round_trip" roundtrip "$disk" 512 1 131071
}
