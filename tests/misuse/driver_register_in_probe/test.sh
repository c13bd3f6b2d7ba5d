#!/bin/sh
# The driver binds edu and, in its probe, registers a second driver that
# matches edu too: refused with EDEADLK (insmod returns instead of hanging).

. /guest/lib/ktap.sh

edu=$(pci_find 0x1234 0x11e8)
ktap_plan 4
ktap_check module_loads insmod /lib/modules/misuse_reg_probe.ko
ktap_check driver_bound test -e "$edu/driver"
ktap_check inner_driver_absent test ! -e /sys/bus/pci/drivers/misuse_reg_probe_inner
ktap_check module_unloads rmmod misuse_reg_probe
ktap_done
