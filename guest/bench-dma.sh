#!/bin/sh
# `cargo xtask bench dma`: loads the Rust and the C benchmark module in turn,
# several rounds, so both run in the same boot under the same conditions.
# Each load prints one line per operation; the host compares them.

echo "bench: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
rounds=${DMABRIDGE_BENCH_ROUNDS:-5}
i=0
while [ $i -lt "$rounds" ]; do
	i=$((i + 1))
	echo "dma_bench: round $i of $rounds"
	for m in dma_bench dma_bench_c; do
		insmod /lib/modules/$m.ko || exit 1
		rmmod $m || exit 1
	done
done
echo "dma_bench: done"
