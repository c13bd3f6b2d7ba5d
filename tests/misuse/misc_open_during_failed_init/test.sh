#!/bin/sh
# insmod runs the failing init in the background while this script opens
# /dev/dmabridge_failing as often as it can: every open that reaches the
# driver is refused with EAGAIN, insmod fails, and nothing is left behind.

. /guest/lib/ktap.sh

err=$(mktemp)
insmod /lib/modules/misuse_misc_failing.ko 2>/dev/null &
pid=$!
refused=0
opened=0
while kill -0 $pid 2>/dev/null; do
	[ -c /dev/dmabridge_failing ] || continue
	if (exec 3</dev/dmabridge_failing) 2>"$err"; then
		opened=$((opened + 1))
	elif grep -q "Resource temporarily unavailable" "$err"; then
		refused=$((refused + 1))
	fi
done
wait $pid
status=$?

ktap_plan 5
ktap_check insmod_fails test $status -ne 0
ktap_check opens_refused_while_loading test $refused -gt 0
ktap_check no_open_succeeded test $opened -eq 0
ktap_check device_gone test ! -e /sys/class/misc/dmabridge_failing
# The unload waited for the refused opens and freed the file operations.
ktap_check file_operations_freed sh -c "! dmesg | grep -q 'misuse_misc_failing: still in use'"
ktap_done
