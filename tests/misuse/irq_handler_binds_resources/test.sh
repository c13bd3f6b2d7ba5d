#!/bin/sh
# The driver binds edu (after three refused IRQ names) and raises an
# interrupt; both halves of its handler try to tie resources to the binding
# and are refused. The host checks the log lines and that no checker reported
# anything.

. /guest/lib/ktap.sh

edu=$(pci_find 0x1234 0x11e8)
ktap_plan 4
ktap_check module_loads insmod /lib/modules/misuse_irq_bind.ko
ktap_check driver_bound test -e "$edu/driver"
ktap_check handler_ran sh -c "sleep 1; dmesg | grep -q 'misuse: DMA mask in the threaded half'"
ktap_check module_unloads rmmod misuse_irq_bind
ktap_done
