#!/bin/sh
# The driver binds edu and starts a work item that holds a guard of edu's BAR
# across a 2 s sleep, then reads the ID register. rmmod (unbind) runs at once:
# it must wait for the guard, and the read must succeed.

. /guest/lib/ktap.sh

edu=$(pci_find 0x1234 0x11e8)
ktap_plan 3
ktap_check module_loads insmod /lib/modules/misuse_guard_sleep.ko
ktap_check module_unloads rmmod misuse_guard_sleep
ktap_check device_unbound test ! -e "$edu/driver"
ktap_done
