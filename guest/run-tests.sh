#!/bin/sh
# Runs every test script in $DMABRIDGE_TESTS (default /guest/tests) as one
# KTAP subtest each (the script prints its own KTAP header and plan), then
# checks that the run-time checkers (dma-debug, kmemleak) found nothing, and
# prints the whole kernel log between markers for the host to scan (lines
# the console's log level held back). Prints one KTAP document; the host
# counts its leaves and requires the groups of tests/manifest.txt.

set -o pipefail
dir=${DMABRIDGE_TESTS:-/guest/tests}
tests=$(ls "$dir"/*.sh 2>/dev/null)
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

# kmemleak's debugfs file always has size 0: read what it reports.
i=$((i + 1))
. /guest/lib/kmemleak.sh
if ! found=$(kmemleak_report); then
	echo "# kmemleak is not in this kernel"
	echo "not ok $i checkers.kmemleak_no_leaks"
	rc=1
elif [ -n "$found" ]; then
	echo "$found"
	echo "not ok $i checkers.kmemleak_no_leaks"
	rc=1
else
	echo "ok $i checkers.kmemleak_no_leaks"
fi

echo "dmabridge: dmesg begin"
dmesg
echo "dmabridge: dmesg end"
exit $rc
