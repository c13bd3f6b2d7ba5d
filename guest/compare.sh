#!/bin/sh
# The guest half of `cargo xtask compare`: the same edu suite against the Rust
# driver and its C twin, each between markers with the checkers' counts. The
# script's lines and the kernel's come on two serial ports: each driver's run
# has markers in both.

. /guest/lib/edu-suite.sh

errors() {
	cat /sys/kernel/debug/dma-api/error_count
}

# kmemleak reports objects unreferenced for 5 seconds: wait, scan twice.
leaks() {
	sleep 6
	echo scan > /sys/kernel/debug/kmemleak
	echo scan > /sys/kernel/debug/kmemleak
	grep -c '^unreferenced object' /sys/kernel/debug/kmemleak
}

# Only what the suites leak may count: forget what boot left.
echo clear > /sys/kernel/debug/kmemleak
for drv in edu edu_c; do
	before=$(errors)
	echo "compare: kernel log of $drv begins" > /dev/kmsg
	echo "compare: begin $drv"
	edu_suite $drv
	echo "compare: dma-api-errors $drv $(($(errors) - before))"
	echo "compare: kmemleak $drv $(leaks)"
	echo clear > /sys/kernel/debug/kmemleak
	echo "compare: kernel log of $drv ends" > /dev/kmsg
	echo "compare: end $drv"
done
