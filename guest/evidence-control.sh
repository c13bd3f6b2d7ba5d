#!/bin/sh
# The control of `cargo xtask evidence`: the unpatched edu_c runs the
# exercise of every bug class under /evidence/<class>/ in turn (load, run,
# unload), then kmemleak scans. Nothing may be reported; the host compares
# each exercise's exit status with its class.txt.

. /guest/lib/kmemleak.sh
kmemleak_clear
# Each class's span (begin .. exit status) covers the driver's probe, the
# exercise and the unbind: a report at load or unload is charged to it. Every
# line the host places in a span goes into the kernel's log, in order with
# the reports (the script's own output comes on another serial port).
for ex in /evidence/*/exercise.sh; do
	slug=$(basename "$(dirname "$ex")")
	echo "evidence: begin $slug" > /dev/kmsg
	insmod /lib/modules/edu_c.ko || exit 125
	sh "$ex"
	status=$?
	rmmod edu_c || echo "evidence: rmmod edu_c failed after $slug" > /dev/kmsg
	echo "evidence: exercise $slug exit status $status" > /dev/kmsg
done
kmemleak_report
echo "evidence: end"
