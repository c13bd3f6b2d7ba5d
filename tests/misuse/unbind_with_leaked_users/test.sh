#!/bin/sh
# The driver binds edu and leaks a DMA access scope and a guard of its BAR.
# Unbinding (rmmod) takes about 10 s (one bounded wait; the second gives up
# at once) and then ends: no hung task. The device can be bound again afterwards.

. /guest/lib/ktap.sh

edu=$(pci_find 0x1234 0x11e8)
ktap_plan 4
ktap_check module_loads insmod /lib/modules/misuse_leaked_users.ko
ktap_check driver_bound test -e "$edu/driver"
ktap_check module_unloads rmmod misuse_leaked_users
ktap_check device_unbound test ! -e "$edu/driver"
ktap_done
