#!/bin/sh
# Runs every /guest/tests/*.sh as one KTAP subtest each (the script prints
# its own KTAP header and plan), then checks that the
# run-time checkers (dma-debug, kmemleak) found nothing. Prints one KTAP
# document; the host counts its leaves.

set -o pipefail
tests=$(ls /guest/tests/*.sh 2>/dev/null)
n=0
for t in $tests; do n=$((n + 1)); done

echo "KTAP version 1"
echo "1..$((n + 2))"
i=0
rc=0
for t in $tests; do
	i=$((i + 1))
	name=$(basename "$t" .sh)
	echo "    # Subtest: $name"
	if sh "$t" 2>&1 | sed 's/^/    /'; then
		echo "ok $i $name"
	else
		echo "not ok $i $name"
		rc=1
	fi
done

# dma-debug counts every contract violation it saw since boot.
i=$((i + 1))
errors=$(cat /sys/kernel/debug/dma-api/error_count 2>/dev/null)
if [ "$errors" = "0" ]; then
	echo "ok $i checkers.dma_api_debug_error_count_zero"
else
	echo "# dma-api error_count: ${errors:-missing}"
	echo "not ok $i checkers.dma_api_debug_error_count_zero"
	rc=1
fi

# kmemleak reports only objects unreferenced for 5 seconds: wait, then scan.
i=$((i + 1))
leaks=/sys/kernel/debug/kmemleak
if [ -w $leaks ]; then
	sleep 6
	echo scan > $leaks
	echo scan > $leaks
	if [ -s $leaks ]; then
		cat $leaks
		echo "not ok $i checkers.kmemleak_no_leaks"
		rc=1
	else
		echo "ok $i checkers.kmemleak_no_leaks"
	fi
else
	echo "ok $i checkers.kmemleak_no_leaks # SKIP kmemleak not in this kernel"
fi
exit $rc
