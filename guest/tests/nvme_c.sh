#!/bin/sh
# The C twin of rnvme: the kernel's own nvme driver, steered with
# driver_override to QEMU's file-backed controller (serial dmabridge1), runs
# the data suite rnvme runs (guest/lib/nvme-suite.sh).

. /guest/lib/ktap.sh
. /guest/lib/nvme-suite.sh

dslot=$(nvme_data_slot)

# steer DRIVER: the file-backed controller to DRIVER, every other NVMe
# controller to none (driver_override also keeps a driver off the devices
# whose override names another).
steer() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/class)" = 0x010802 ] || continue
		if [ "${d##*/}" = "$dslot" ]; then
			echo "$1" > $d/driver_override
		else
			echo "${2-none}" > $d/driver_override
		fi
	done
}

ktap_plan 27
ktap_check nvme_c_override steer nvme
ktap_check nvme_c_modules_load sh -c "insmod /lib/modules/nvme-core.ko && insmod /lib/modules/nvme.ko"
wait_for "disks of nvme" '[ -n "$(nvme_c_disk 1)" ] && [ -n "$(nvme_c_disk 2)" ]'
ktap_check nvme_c_binds_only_its_controller sh -c \
	"[ \$(ls /sys/bus/pci/drivers/nvme | grep -c :) = 1 ] && [ -e /sys/bus/pci/drivers/nvme/$dslot ]"
nvme_data_suite nvme_c "$(nvme_c_disk 1)"
nvme_partition_suite nvme_c "$(nvme_c_disk 2)"
echo "$dslot" > /sys/bus/pci/drivers/nvme/unbind
rmmod nvme nvme-core
steer "" ""
ktap_done
