#!/bin/sh
# The guest half of `cargo xtask evidence` for one bug class: load the C twin
# with the class's bug, run the class's exercise, unload the driver (unbind
# checks), then let kmemleak scan. The host reads the console from the
# `evidence: begin` marker on.

leaks=/sys/kernel/debug/kmemleak
insmod /lib/modules/edu_c.ko || exit 125
# Only what the exercise leaks may count: forget what boot left.
[ -w $leaks ] && echo clear > $leaks
echo "evidence: begin"
sh /evidence/exercise.sh
echo "evidence: exercise exit status $?"
rmmod edu_c
if [ -w $leaks ]; then
	# kmemleak reports objects unreferenced for 5 seconds.
	sleep 6
	echo scan > $leaks
	echo scan > $leaks
	cat $leaks
fi
echo "evidence: end"
