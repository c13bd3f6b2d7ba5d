#!/bin/sh
# Surprise for the drivers (`cargo xtask test hotplug`): in a machine with a
# PCI-to-PCI bridge whose hot-plug controller (SHPC, shpchp) serves three
# slots, each holding a device from boot (xtask/src/qemu.rs, `hotplug_devices`),
# each device is removed (QMP device_del) while its driver does I/O: an edu
# under the Rust edu driver (eductl writes and reads in a loop), an NVMe
# controller under rnvme and one under the kernel's nvme (direct reads in a
# loop). The removal must unbind the driver, end the I/O (done, or failed
# with an errno), and leave the slot empty; the checkers run over all of it.

. /guest/lib/ktap.sh

hp_tmp=$(mktemp -d)

# The bridge (the only PCI-to-PCI bridge of the machine).
bridge=$(pci_find_class 0x060400)

# slot_dev N: the device in slot N (0, 1, 2: device 1, 2, 3 behind the
# bridge), if any.
slot_dev() {
	for d in "$bridge"/0000:*:0$(($1 + 1)).0; do
		[ -e "$d/vendor" ] && echo "$d"
	done
}

# filled N: exactly N of the three slots hold a device.
filled() {
	n=0
	for i in 0 1 2; do
		[ -n "$(slot_dev $i)" ] && n=$((n + 1))
	done
	[ $n = "$1" ] || { echo "# $n slots hold a device"; return 1; }
}

# only N CLASS: every device of CLASS but the one in slot N is kept from
# the drivers (driver_override none); "only - CLASS" clears the overrides.
only() {
	keep=
	[ "$1" = - ] || keep=$(slot_dev $1)
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/class)" = $2 ] || continue
		if [ "$1" = - ] || [ "$(readlink -f $d)" = "$(readlink -f $keep)" ]; then
			echo > $d/driver_override
		else
			echo none > $d/driver_override
		fi
	done
}

# pull_during N ID DRIVER IOCMD: with slot N's device bound to DRIVER, runs
# IOCMD in a loop, removes the device (QEMU id ID) under it, and waits for
# the slot to empty and the loop to end (at its first failing command).
pull_during() {
	d=$(slot_dev $1)
	[ -n "$d" ] || { echo "# slot $1 is empty"; return 1; }
	drv=$(basename "$(readlink $d/driver)")
	[ "$drv" = $3 ] || { echo "# slot $1's device is bound to '$drv', not $3"; return 1; }
	out=$(sh -c "$4" 2>&1) || { echo "# the I/O fails before the removal: $out"; return 1; }
	( while sh -c "$4" >/dev/null 2>&1; do :; done ) &
	io=$!
	sleep 1
	kill -0 $io 2>/dev/null || { echo "# the I/O failed before the removal"; return 1; }
	qmp device_del id=$2
	wait_for "removal of slot $1's device" "[ -z \"\$(slot_dev $1)\" ]" || { kill $io; return 1; }
	wait_for "end of the I/O" "! kill -0 $io" || { kill $io; return 1; }
	wait $io
	return 0
}

# edu_case: edu in slot 0, alone under the Rust edu driver, as /dev/edu0.
edu_case() {
	only 0 0x00ff00
	insmod /lib/modules/edu.ko || return 1
	wait_for /dev/edu0 '[ -c /dev/edu0 ]' || return 1
	dd if=/dev/urandom of=$hp_tmp/buf bs=4096 count=1 2>/dev/null
	pull_during 0 hpedu edu \
		"eductl write $hp_tmp/buf && eductl read --len 4096 | cmp - $hp_tmp/buf" || return 1
	[ ! -e /dev/edu0 ] || { echo "# /dev/edu0 is still there"; return 1; }
	rmmod edu
}

# nvme_case N ID DRIVER MODULES: the NVMe controller in slot N, alone under
# DRIVER (loaded from MODULES after the others were kept from it); direct
# reads of its disk, the only one whose name starts with DRIVER.
nvme_case() {
	only $1 0x010802
	for m in $4; do insmod /lib/modules/$m.ko || return 1; done
	wait_for "a disk of slot $1's controller" "ls -d /sys/block/$3*n1 >/dev/null" || return 1
	disk=/dev/$(basename $(ls -d /sys/block/$3*n1))
	pull_during $1 $2 $3 "dd if=$disk of=/dev/null bs=65536 count=64 iflag=direct" || return 1
	[ ! -e "$disk" ] || { echo "# $disk is still there"; return 1; }
}

ktap_plan 5
ktap_check hotplug_three_slots_filled filled 3
ktap_check hotplug_edu_removed_during_io edu_case
ktap_check hotplug_rnvme_removed_during_io nvme_case 1 hpnvme1 rnvme rnvme
rmmod rnvme
ktap_check hotplug_nvme_removed_during_io nvme_case 2 hpnvme2 nvme "nvme-core nvme"
rmmod nvme nvme-core
only - 0x010802
only - 0x00ff00
ktap_check hotplug_slots_empty filled 0
rm -rf $hp_tmp
ktap_done
