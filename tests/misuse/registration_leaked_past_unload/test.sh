#!/bin/sh
# The module leaks a misc device and a PCI driver registration in its init.
# After rmmod neither may remain: /dev/dmabridge_leak and the driver's sysfs
# directory are gone. The leak itself is the module's (mem::forget of two
# handles, each holding its registration's shared allocation), and kmemleak
# reports it: the script checks that nothing leaked before the case (so it
# hides no other case's leak), shows what kmemleak found after it, and
# clears that, so the boot's final kmemleak check judges the later cases.

. /guest/lib/ktap.sh
. /guest/lib/kmemleak.sh

no_leaks() {
	found=$(kmemleak_report) || return 1
	[ -z "$found" ] || { echo "$found"; return 1; }
}

ktap_plan 7
ktap_check no_leaks_before_the_case no_leaks
ktap_check module_loads insmod /lib/modules/misuse_leak.ko
ktap_check misc_device_exists test -c /dev/dmabridge_leak
ktap_check driver_registered test -d /sys/bus/pci/drivers/misuse_leak
ktap_check module_unloads rmmod misuse_leak
ktap_check misc_device_gone test ! -e /sys/class/misc/dmabridge_leak
ktap_check driver_gone test ! -e /sys/bus/pci/drivers/misuse_leak
echo "# kmemleak: $(kmemleak_report | grep -c '^unreferenced object') objects leaked by the forgotten handles"
kmemleak_clear
ktap_done
