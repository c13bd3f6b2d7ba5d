#!/bin/sh
# The module registers the PCI driver dmabridge_dup_drv twice: the second is
# refused with EBUSY; the first stays registered until the module unloads.

. /guest/lib/ktap.sh

ktap_plan 3
ktap_check module_loads insmod /lib/modules/misuse_driver_dup.ko
ktap_check first_driver_registered test -d /sys/bus/pci/drivers/dmabridge_dup_drv
ktap_check module_unloads rmmod misuse_driver_dup
ktap_done
