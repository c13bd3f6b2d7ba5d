#!/bin/sh
# The driver binds edu, writes a pool block full of 0xa5, frees it and
# allocates again (dmapool hands back the same block): the host checks that
# both the fresh and the reused block read as zeros.

. /guest/lib/ktap.sh

edu=$(pci_find 0x1234 0x11e8)
ktap_plan 3
ktap_check module_loads insmod /lib/modules/misuse_pool_reuse.ko
ktap_check driver_bound test -e "$edu/driver"
ktap_check module_unloads rmmod misuse_pool_reuse
ktap_done
