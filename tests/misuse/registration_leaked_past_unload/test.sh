#!/bin/sh
# The module leaks a misc device and a PCI driver registration in its init.
# After rmmod neither may remain: /dev/dmabridge_leak and the driver's sysfs
# directory are gone. The leak itself is the module's (mem::forget of two
# handles, each holding its registration's shared allocation): kmemleak must
# see exactly those four objects, all allocated by insmod; they are then
# cleared so that the boot's final kmemleak check judges the other cases.

. /guest/lib/ktap.sh
. /guest/lib/kmemleak.sh

# four_leaks_from_insmod: kmemleak reports four objects, each allocated by
# insmod (a leak of an earlier case would add to them: this fails then).
four_leaks_from_insmod() {
	comms=$(kmemleak_report | sed -n 's/^  comm "\([^"]*\)".*/\1/p' | tr '\n' ' ')
	echo "leaked by: $comms"
	[ "$comms" = "insmod insmod insmod insmod " ]
}

ktap_plan 7
ktap_check module_loads insmod /lib/modules/misuse_leak.ko
ktap_check misc_device_exists test -c /dev/dmabridge_leak
ktap_check driver_registered test -d /sys/bus/pci/drivers/misuse_leak
ktap_check module_unloads rmmod misuse_leak
ktap_check misc_device_gone test ! -e /sys/class/misc/dmabridge_leak
ktap_check driver_gone test ! -e /sys/bus/pci/drivers/misuse_leak
ktap_check kmemleak_sees_the_four_leaked_objects four_leaks_from_insmod
kmemleak_clear
ktap_done
