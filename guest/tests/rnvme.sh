#!/bin/sh
# The Rust NVMe driver on QEMU's NVMe controller (1 GiB on null-co, serial
# dmabridge0): controller reset, the admin queue completed by interrupt,
# Identify, Set Features (Number of Queues), shutdown at unbind, and 20
# unbind/bind and 20 load/unload cycles.

. /guest/lib/ktap.sh

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

dmesg -c > /dev/null
ktap_plan 11
ktap_check rnvme_module_loads insmod /lib/modules/rnvme.ko
ktap_check rnvme_binds_controller test -e "$drv/$slot"
ktap_check rnvme_identify_controller once "QEMU NVMe Ctrl, serial dmabridge0, firmware "
ktap_check rnvme_identify_namespace once "nsid 1: 2097152 blocks of 512 bytes"
ktap_check rnvme_queue_count_per_cpu once "1 namespace(s) usable; $ncpus I/O queue pair(s) granted"
ktap_check rnvme_admin_interrupt_msix once "granted; MSI-X interrupt;"
ktap_check rnvme_unbind_shuts_down sh -c "echo $slot > $drv/unbind && [ \$(dmesg | grep -c 'rnvme $slot: controller shut down') = 1 ]"
ktap_check rnvme_20_unbind_bind cycles 20 rebind "echo $slot > $drv/bind && echo $slot > $drv/unbind"
ktap_check rnvme_module_unloads rmmod rnvme
ktap_check rnvme_20_load_unload cycles 20 reload \
	"insmod /lib/modules/rnvme.ko && test -e $drv/$slot && rmmod rnvme"
ktap_check rnvme_controller_left_unbound test ! -e "$ctrl/driver"
ktap_done
