#!/bin/sh
# KUnit suite `dma` (module dma_test): the DMA bindings move data through
# QEMU's edu device: coherent, streaming (borrowed and owned, every
# direction), scatter-gather and pool paths, bad input, and unbind.

. /guest/lib/ktap.sh

edu=$(pci_find 0x1234 0x11e8)

ktap_plan 4
kunit_module dma_test dma
# The last case unregistered the driver: edu is unbound, nothing is pending.
ktap_check edu_unbound_after_suite test ! -e "$edu/driver"
ktap_check dma_test_module_unloads rmmod dma_test
ktap_done
