#!/bin/sh
# The guest half of `cargo xtask evidence` for one bug class: load the C twin
# with the class's bug, run the class's exercise, unload the driver (unbind
# checks), then let kmemleak scan. The host reads the log from the
# `evidence: begin` marker on; the markers go into the kernel's log, in order
# with the reports (the script's own output comes on another serial port).

. /guest/lib/kmemleak.sh
insmod /lib/modules/edu_c.ko || exit 125
# Only what the exercise leaks may count: forget what boot left.
kmemleak_clear
echo "evidence: begin" > /dev/kmsg
sh /evidence/exercise.sh
echo "evidence: exercise exit status $?" > /dev/kmsg
rmmod edu_c
kmemleak_report
echo "evidence: end"
