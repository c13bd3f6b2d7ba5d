#!/bin/sh
# The driver binds edu and tries sizes and indexes the C core cannot serve;
# each is refused with EINVAL or EBUSY (the host checks the log lines and
# that no WARN appeared).

. /guest/lib/ktap.sh

edu=$(pci_find 0x1234 0x11e8)
ktap_plan 3
ktap_check module_loads insmod /lib/modules/misuse_dma_bad_sizes.ko
ktap_check driver_bound test -e "$edu/driver"
ktap_check module_unloads rmmod misuse_dma_bad_sizes
ktap_done
