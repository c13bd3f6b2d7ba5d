#!/bin/sh
# The driver binds edu and raises an interrupt; the threaded half of its
# handler drops the last owner of its own registration. The IRQ is then freed
# (gone from /proc/interrupts) with nothing hung; the host checks the log
# lines and that no checker reported anything.

. /guest/lib/ktap.sh

edu=$(pci_find 0x1234 0x11e8)
ktap_plan 4
ktap_check module_loads insmod /lib/modules/misuse_irq_thread.ko
ktap_check driver_bound test -e "$edu/driver"
ktap_check irq_freed sh -c "sleep 1; ! grep -q misuse_irq_thread /proc/interrupts"
ktap_check module_unloads rmmod misuse_irq_thread
ktap_done
