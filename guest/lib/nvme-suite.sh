#!/bin/sh
# Data through an NVMe controller and back, run against one driver:
# nvme_data_suite PREFIX DISK, where DISK is the block device (rnvme1n1 for
# the Rust driver, nvme0n1 for the kernel's) of the file-backed controller
# (serial dmabridge1, 64 MiB, empty at boot; the suite never writes its 32 MiB
# to 32 MiB + 64 KiB). Prints KTAP lines (no plan):
# 22 tests named PREFIX_*.

. /guest/lib/ktap.sh

# nvme_data_slot: the PCI address of the file-backed controller, the last
# NVMe controller (QEMU adds them in command-line order).
nvme_data_slot() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/class)" = 0x010802 ] && s=${d##*/}
	done
	echo "$s"
}

# nvme_c_disk NSID: the kernel's nvme disk of namespace NSID (its names
# follow the order namespaces are scanned in, not their identifiers).
nvme_c_disk() {
	for b in /sys/block/nvme*n*; do
		[ "$(cat $b/nsid 2>/dev/null)" = "$1" ] && echo "${b##*/}"
	done
}

# Scratch files, and the data the tests write: 1 MiB, different in every boot;
# and that megabyte with its second 256 KiB zeroed, as the write-zeroes and
# discard tests expect it back.
nvme_tmp=${nvme_tmp:-$(mktemp -d)}
nvme_pattern=$nvme_tmp/pattern
[ -s $nvme_pattern ] || dd if=/dev/urandom of=$nvme_pattern bs=1M count=1 2>/dev/null
[ -s $nvme_tmp/holed ] || { head -c 262144 $nvme_pattern; head -c 262144 /dev/zero; tail -c 524288 $nvme_pattern; } \
	>$nvme_tmp/holed

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

# tool_check NAME TOOL CMD...: ktap_check NAME CMD..., or a skip where the
# guest lacks TOOL (arm64's has none of the userspace tools built here).
tool_check() {
	name=$1
	tool=$2
	shift 2
	if [ -x /usr/bin/$tool ] || [ -x /sbin/$tool ]; then
		ktap_check "$name" "$@"
	else
		ktap_ok "$name # SKIP no $tool in this guest"
	fi
}

# zeroes_by DEV LIMIT MIB CMD: the driver takes the requests CMD makes (its
# queue LIMIT is not 0); 1 MiB of the pattern at MIB MiB, then
# `CMD DEV OFFSET LENGTH` on its second 256 KiB, read back: zeroes there,
# the pattern around them.
zeroes_by() {
	max=$(cat /sys/block/$1/queue/$2)
	[ "$max" -gt 0 ] || { echo "# $2 is $max"; return 1; }
	dd if=$nvme_pattern of=/dev/$1 bs=1M count=1 seek=$3 oflag=direct conv=notrunc 2>/dev/null ||
		return 1
	$4 /dev/$1 $(($3 * 1048576 + 262144)) 262144 || return 1
	dd if=/dev/$1 of=$nvme_tmp/back bs=1M count=1 skip=$3 iflag=direct 2>/dev/null || return 1
	cmp $nvme_tmp/holed $nvme_tmp/back
}

# discard_range DEV OFFSET LENGTH: blkdiscard in blkzero's argument order.
discard_range() {
	blkdiscard -o $2 -l $3 $1
}

# fio_verify DEV RW BS QD: one fio job per CPU, each pinned to its CPU and
# given its own 2 MiB from 40 MiB on, writes with O_DIRECT through io_uring
# at queue depth QD, in BS blocks (RW: randwrite or write), then reads
# everything back and checks each block's crc32c and header (offset, job).
# Fails on any I/O error, verify error, or a job that moved no data.
fio_verify() {
	n=$(nproc)
	fio --name=verify --filename=/dev/$1 --direct=1 --ioengine=io_uring \
		--rw=$2 --bs=$3 --iodepth=$4 --numjobs=$n --cpus_allowed=0-$((n - 1)) \
		--cpus_allowed_policy=split --offset=40M --size=2M --offset_increment=2M \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
		--minimal >$nvme_tmp/fio.out 2>$nvme_tmp/fio.err ||
		{ cat $nvme_tmp/fio.err $nvme_tmp/fio.out; return 1; }
	# --minimal: one line per job; field 5 is its error, 6 the KiB read
	# (the verify pass), 47 the KiB written.
	# (fio also prints notes on standard output: only the terse lines count.)
	grep '^3;' $nvme_tmp/fio.out >$nvme_tmp/fio.terse
	bad=$(awk -F';' '$5 != 0 || $6 != 2048 || $47 != 2048' $nvme_tmp/fio.terse)
	[ -z "$bad" ] || { echo "# error, or not 2 MiB written and verified:"; cat $nvme_tmp/fio.out; return 1; }
	jobs=$(wc -l <$nvme_tmp/fio.terse)
	[ $jobs = $n ] || { echo "# $jobs of $n jobs reported"; return 1; }
}

# fio_matrix PREFIX DISK: fio_verify at 512 B, 4 KiB and 128 KiB, random and
# sequential, at queue depths 1 and 32: 12 tests (skipped where the guest
# has no fio: arm64's).
fio_matrix() {
	for rw in randwrite write; do
		for bs in 512 4k 128k; do
			for qd in 1 32; do
				tool_check "$1_fio_verify_${rw}_${bs}_qd$qd" fio fio_verify "$2" $rw $bs $qd
			done
		done
	done
}

# size_is DEV BYTES
size_is() {
	got=$(($(cat /sys/block/$1/size) * 512))
	[ "$got" = "$2" ] || { echo "# size $got, want $2"; return 1; }
}

# partition_is DISK: DISK (the controller's second namespace, 32 MiB) has the
# GUID partition table the host wrote (xtask/src/gpt.rs): one partition,
# DISKp1, from sector 2048 to 65502; what is written through the partition
# is read back from the disk at sector 2048.
partition_is() {
	part=/sys/block/$1/$1p1
	[ -e $part ] || { echo "# no $part:"; ls /sys/block/$1; return 1; }
	[ "$(cat $part/start) $(cat $part/size)" = "2048 63455" ] ||
		{ echo "# partition at $(cat $part/start), $(cat $part/size) sectors"; return 1; }
	dd if=$nvme_pattern of=/dev/$1p1 bs=4096 count=4 oflag=direct conv=notrunc 2>/dev/null || return 1
	dd if=/dev/$1 of=$nvme_tmp/back bs=512 count=32 skip=2048 iflag=direct 2>/dev/null || return 1
	head -c 16384 $nvme_pattern | cmp - $nvme_tmp/back
}

# ext4_round_trip PART: a new ext4 filesystem on PART, mounted; files of
# 1 B to 1 MiB written, unmounted, mounted again and read back; unmounted,
# and `fsck.ext4 -f` finds it clean.
ext4_round_trip() {
	mnt=$nvme_tmp/mnt
	mkdir -p $mnt
	mkfs.ext4 -q -F /dev/$1 || return 1
	mount -t ext4 /dev/$1 $mnt || return 1
	for n in 1 4095 4096 65537 1048576; do
		head -c $n $nvme_pattern > $mnt/f$n || { umount $mnt; return 1; }
	done
	mkdir $mnt/dir && cp $mnt/f65537 $mnt/dir/copy
	umount $mnt || return 1
	mount -t ext4 /dev/$1 $mnt || return 1
	ok=1
	for n in 1 4095 4096 65537 1048576; do
		head -c $n $nvme_pattern | cmp - $mnt/f$n || ok=0
	done
	cmp $mnt/f65537 $mnt/dir/copy || ok=0
	umount $mnt || return 1
	fsck.ext4 -f -n /dev/$1 || { echo "# fsck.ext4 -f found problems"; return 1; }
	[ $ok = 1 ]
}

# nvme_partition_suite PREFIX DISK: the GPT on the second namespace and an
# ext4 filesystem in its partition (skipped where the guest has no
# mkfs.ext4: arm64's).
nvme_partition_suite() {
	ktap_check "$1_gpt_partition_read" partition_is "$2"
	tool_check "$1_ext4_mkfs_mount_write_read_fsck" mkfs.ext4 ext4_round_trip "$2p1"
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
	tool_check "${p}_write_zeroes" blkzero zeroes_by "$disk" write_zeroes_max_bytes 48 blkzero
	ktap_check "${p}_discard" zeroes_by "$disk" discard_max_bytes 50 discard_range
	fio_matrix "$p" "$disk"
}
