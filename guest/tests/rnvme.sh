#!/bin/sh
# The Rust NVMe driver on QEMU's two NVMe controllers (serial dmabridge0:
# 1 GiB on null-co; dmabridge1: 64 MiB in a file): controller reset, the
# admin queue completed by interrupt, Identify, Set Features (Number of
# Queues), the block devices (data written and read back through them, also
# by the kernel's own nvme driver), unbind during I/O, shutdown at unbind,
# and 20 unbind/bind and 20 load/unload cycles.

. /guest/lib/ktap.sh
. /guest/lib/nvme-suite.sh

drv=/sys/bus/pci/drivers/rnvme
ctrl=$(pci_find_class 0x010802)
slot=${ctrl##*/}
ncpus=$(cat /sys/devices/system/cpu/possible)
ncpus=$((${ncpus##*-} + 1))

# logged TEXT: how many kernel log lines of this controller's rnvme contain TEXT.
logged() {
	dmesg | grep "rnvme $slot: " | grep -cF "$1"
}

# once TEXT: the controller's log has TEXT exactly once since the last clear.
once() {
	n=$(logged "$1")
	[ "$n" = 1 ] || { echo "# '$1' logged $n times"; dmesg | grep "rnvme" | tail -20; return 1; }
}

# cycles N WHAT CMD: runs CMD N times; each must bind the controller again,
# reset and identify it, and shut it down at the next unbind.
cycles() {
	dmesg -c > /dev/null
	i=0
	while [ $i -lt "$1" ]; do
		sh -c "$3" || { echo "# $2 $i failed"; return 1; }
		i=$((i + 1))
	done
	ids=$(logged "serial dmabridge0")
	downs=$(logged "controller shut down")
	[ "$ids" = "$1" ] && [ "$downs" = "$1" ] ||
		{ echo "# $1 $2: $ids identified, $downs shut down"; return 1; }
}

dslot=$(nvme_data_slot)

# data_disk: the disk rnvme made last for the file-backed controller.
data_disk() {
	dmesg | grep "rnvme $dslot: rnvme[0-9]*n1: " | tail -1 | sed 's/.*: \(rnvme[0-9]*n1\): .*/\1/'
}

# c_reads_rust_data DISK: the kernel's nvme driver, given the file-backed
# controller, reads what rnvme wrote (the last megabyte of the size test).
c_reads_rust_data() {
	echo "$dslot" > $drv/unbind || return 1
	echo nvme > /sys/bus/pci/devices/$dslot/driver_override
	insmod /lib/modules/nvme-core.ko && insmod /lib/modules/nvme.ko || return 1
	wait_for "disk of nvme" '[ -n "$(nvme_c_disk 1)" ]'
	ok=0
	dd if=/dev/$(nvme_c_disk 1) of=$nvme_tmp/back bs=512 count=2048 skip=1 iflag=direct 2>/dev/null &&
		cmp $nvme_pattern $nvme_tmp/back && ok=1
	echo "$dslot" > /sys/bus/pci/drivers/nvme/unbind
	rmmod nvme nvme-core
	echo > /sys/bus/pci/devices/$dslot/driver_override
	echo "$dslot" > $drv/bind
	[ $ok = 1 ]
}

# unbind_during_io DISK: reads run while the controller is unbound; they end
# (with EIO) and the unbind returns.
unbind_during_io() {
	( while dd if=/dev/$1 of=/dev/null bs=131072 iflag=direct 2>/dev/null; do :; done ) &
	reader=$!
	sleep 1
	echo "$dslot" > $drv/unbind || return 1
	wait $reader
	[ ! -e /sys/block/$1 ] || { echo "# /sys/block/$1 still there"; return 1; }
	echo "$dslot" > $drv/bind
}

dmesg -c > /dev/null
ktap_plan 37
ktap_check rnvme_module_loads insmod /lib/modules/rnvme.ko
ktap_check rnvme_binds_controller test -e "$drv/$slot"
ktap_check rnvme_identify_controller once "QEMU NVMe Ctrl, serial dmabridge0, firmware "
ktap_check rnvme_identify_namespace once "nsid 1: 2097152 blocks of 512 bytes"
ktap_check rnvme_queue_count_per_cpu once "1 namespace(s) usable; $ncpus I/O queue pair(s) granted"
ktap_check rnvme_admin_interrupt_msix once "granted; MSI-X interrupt;"
disk=$(data_disk)
nvme_data_suite rnvme "$disk"
nvme_partition_suite rnvme "${disk%n1}n2"
ktap_check rnvme_data_read_by_c_nvme c_reads_rust_data "$disk"
disk=$(data_disk)
ktap_check rnvme_unbind_during_io unbind_during_io "$disk"
ktap_check rnvme_unbind_shuts_down sh -c "echo $slot > $drv/unbind && [ \$(dmesg | grep -c 'rnvme $slot: controller shut down') = 1 ]"
ktap_check rnvme_20_unbind_bind cycles 20 rebind "echo $slot > $drv/bind && echo $slot > $drv/unbind"
ktap_check rnvme_module_unloads rmmod rnvme
ktap_check rnvme_20_load_unload cycles 20 reload \
	"insmod /lib/modules/rnvme.ko && test -e $drv/$slot && rmmod rnvme"
ktap_check rnvme_controller_left_unbound test ! -e "$ctrl/driver"
ktap_done
