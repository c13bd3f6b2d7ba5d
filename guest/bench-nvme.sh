#!/bin/sh
# `cargo xtask bench nvme`: the null-co controller (serial dmabridge0, no
# shadow doorbells) driven by rnvme and by the kernel's nvme in turn, several
# rounds in one boot, the order swapped every round. Each point is a
# time-based fio run, direct I/O through io_uring, one job per CPU pinned to
# it; each prints `nvme_bench: DRIVER POINT IOPS`, which the host compares.

echo "bench: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
rounds=${DMABRIDGE_BENCH_ROUNDS:-3}
runtime=${DMABRIDGE_BENCH_RUNTIME:-1}
n=$(nproc)

slot=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/class)" = 0x010802 ] || continue
	# The first controller is the null-co one; nothing binds the others.
	if [ -z "$slot" ]; then slot=${d##*/}; else echo none > $d/driver_override; fi
done
[ -n "$slot" ] || { echo "nvme_bench: no NVMe controller"; exit 1; }
echo none > /sys/bus/pci/devices/$slot/driver_override
# PRP lists on both sides: the C driver would switch to SGLs (which QEMU
# offers and rnvme does not use) for requests of 32 KiB segments and more.
insmod /lib/modules/nvme-core.ko && insmod /lib/modules/nvme.ko sgl_threshold=0 &&
	insmod /lib/modules/rnvme.ko || exit 1

# disk_of DRIVER: the controller's first disk under DRIVER, if it has one.
disk_of() {
	if [ "$1" = nvme ]; then
		for b in /sys/bus/pci/devices/$slot/nvme/nvme*/nvme*n1; do
			[ -e "$b" ] && echo "${b##*/}"
		done
	else
		dmesg | sed -n "s/.*rnvme $slot: \(rnvme[0-9]*n1\): .*/\1/p" | tail -1
	fi
}

# attach DRIVER: binds the controller to DRIVER; prints its disk.
attach() {
	dmesg -c >/dev/null
	echo "$1" > /sys/bus/pci/devices/$slot/driver_override
	echo "$slot" > /sys/bus/pci/drivers/$1/bind || return 1
	i=0
	while [ $i -lt 100 ]; do
		d=$(disk_of "$1")
		[ -n "$d" ] && [ -b /dev/$d ] && { echo "$d"; return 0; }
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

detach() {
	echo "$slot" > /sys/bus/pci/drivers/$1/unbind
	echo none > /sys/bus/pci/devices/$slot/driver_override
}

# point DRIVER DISK NAME RW BS QD; also prints the KiB per command the disk
# completed (its statistics: sectors over reads and writes), which merging
# in the block layer makes larger than BS.
point() {
	set -- "$@" $(awk '{ print $1 + $5, $3 + $7 }' /sys/block/$2/stat)
	out=$(fio --name=bench --filename=/dev/$2 --direct=1 --ioengine=io_uring \
		--rw=$4 --bs=$5 --iodepth=$6 --numjobs=$n --cpus_allowed=0-$((n - 1)) \
		--cpus_allowed_policy=split --group_reporting --time_based \
		--runtime=$runtime --ramp_time=500ms --norandommap --randrepeat=0 \
		--minimal 2>&1) || { echo "nvme_bench: fio failed: $out"; return 1; }
	# --minimal (group reporting): field 8 is the read IOPS, 49 the write IOPS.
	iops=$(echo "$out" | awk -F';' '/^3;/ { print $8 + $49 }')
	[ -n "$iops" ] || { echo "nvme_bench: fio printed no result: $out"; return 1; }
	echo "nvme_bench: $1 $3 $iops"
	awk -v d="$1 $3" -v n="$7" -v s="$8" '{ n = $1 + $5 - n; s = $3 + $7 - s
		if (n > 0) printf "nvme_size: %s %.1f\n", d, s / n / 2 }' /sys/block/$2/stat
}

run() {
	disk=$(attach "$1") || { echo "nvme_bench: $1 did not make a disk"; exit 1; }
	for bs in 512 4k; do
		for qd in 1 32; do
			point "$1" "$disk" randread_${bs}_qd$qd randread $bs $qd || exit 1
			point "$1" "$disk" randwrite_${bs}_qd$qd randwrite $bs $qd || exit 1
		done
	done
	point "$1" "$disk" read_128k_qd32 read 128k 32 || exit 1
	point "$1" "$disk" write_128k_qd32 write 128k 32 || exit 1
	detach "$1"
}

# `cargo xtask bench nvme-profile`: one window per driver and point, opened
# and closed by the function behind drop_caches (the profiler's mark); each
# window's I/O count from the disk's statistics (reads and writes completed).
# profile_point RW BS
profile_point() {
	rw=$1 bs=$2
	name=${rw}_${bs}_qd32
	set -- $(cat /sys/block/$disk/stat)
	before=$(($1 + $5))
	echo 1 > /proc/sys/vm/drop_caches
	point "$drv" "$disk" "$name" "$rw" "$bs" 32 || exit 1
	echo 1 > /proc/sys/vm/drop_caches
	set -- $(cat /sys/block/$disk/stat)
	echo "nvme_profile: window $w $drv $name $(($1 + $5 - before))"
	w=$((w + 1))
}

case " $(cat /proc/cmdline) " in
*" dmabridge.profile=1 "*)
	# The modules' functions, for the host to name the addresses profiled.
	grep -E ' [tT] .*\[(rnvme|nvme|nvme_core)\]' /proc/kallsyms |
		sed 's/^/nvme_profile: sym /'
	w=0
	for drv in rnvme nvme; do
		disk=$(attach "$drv") || { echo "nvme_bench: $drv did not make a disk"; exit 1; }
		profile_point randread 4k
		profile_point randwrite 4k
		profile_point write 128k
		detach "$drv"
	done
	echo "nvme_bench: done"
	exit 0
	;;
esac

echo "nvme_bench: cpus $n"
i=0
while [ $i -lt "$rounds" ]; do
	i=$((i + 1))
	echo "nvme_bench: round $i of $rounds"
	if [ $((i % 2)) = 1 ]; then run rnvme; run nvme; else run nvme; run rnvme; fi
done
echo "nvme_bench: done"
