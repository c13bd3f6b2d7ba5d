#!/bin/sh
# KUnit suite `dma` (module dma_test): the DMA bindings move data through
# QEMU's edu device: coherent, streaming (borrowed and owned, every
# direction), scatter-gather and pool paths, bad input, and unbind.

. /guest/lib/ktap.sh

results=/sys/kernel/debug/kunit/dma/results
edu=$(pci_find 0x1234 0x11e8)

ktap_plan 4
# KUnit runs the suite while insmod loads the module. Keep its lines off the
# console (they are read from debugfs below, nested in this test's output).
level=$(cut -f1 /proc/sys/kernel/printk)
echo 4 > /proc/sys/kernel/printk
ktap_check dma_test_module_loads insmod /lib/modules/dma_test.ko
echo "$level" > /proc/sys/kernel/printk

if [ -r $results ]; then
	sed 's/^/    /' $results
	if grep -q "^ *not ok" $results; then
		ktap_fail kunit_suite_dma
	else
		ktap_ok kunit_suite_dma
	fi
else
	echo "# $results is missing"
	ktap_fail kunit_suite_dma
fi
# The last case unregistered the driver: edu is unbound, nothing is pending.
ktap_check edu_unbound_after_suite test ! -e "$edu/driver"
ktap_check dma_test_module_unloads rmmod dma_test
ktap_done
