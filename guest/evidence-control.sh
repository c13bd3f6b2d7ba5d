#!/bin/sh
# The control of `cargo xtask evidence`: the unpatched edu_c runs the
# exercise of every bug class under /evidence/<class>/ in turn (load, run,
# unload), then kmemleak scans. Nothing may be reported; the host compares
# each exercise's exit status with its class.txt.

leaks=/sys/kernel/debug/kmemleak
[ -w $leaks ] && echo clear > $leaks
for ex in /evidence/*/exercise.sh; do
	slug=$(basename "$(dirname "$ex")")
	insmod /lib/modules/edu_c.ko || exit 125
	echo "evidence: begin $slug"
	sh "$ex"
	echo "evidence: exercise $slug exit status $?"
	rmmod edu_c || echo "evidence: rmmod edu_c failed after $slug"
done
if [ -w $leaks ]; then
	sleep 6
	echo scan > $leaks
	echo scan > $leaks
	cat $leaks
fi
echo "evidence: end"
