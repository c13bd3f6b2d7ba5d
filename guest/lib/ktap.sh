#!/bin/sh
# KTAP helpers for guest tests: source this file, call ktap_plan N, then one
# ktap_check/ktap_ok/ktap_fail per test, then ktap_done (the exit status).

ktap_n=0
ktap_failed=0

ktap_plan() {
	ktap_n=0
	ktap_failed=0
	echo "KTAP version 1"
	echo "1..$1"
}

ktap_ok() {
	ktap_n=$((ktap_n + 1))
	echo "ok $ktap_n $*"
}

ktap_fail() {
	ktap_n=$((ktap_n + 1))
	ktap_failed=$((ktap_failed + 1))
	echo "not ok $ktap_n $*"
}

# ktap_check NAME CMD...: passes when CMD exits 0; shows its output otherwise.
ktap_check() {
	name=$1
	shift
	if out=$("$@" 2>&1); then
		ktap_ok "$name"
	else
		echo "$out" | sed 's/^/# /'
		ktap_fail "$name"
	fi
}

ktap_done() {
	[ $ktap_failed -eq 0 ]
}

# pci_find VENDOR DEVICE: the sysfs folder of the first matching PCI device.
pci_find() {
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat $d/vendor)" = "$1" ] && [ "$(cat $d/device)" = "$2" ]; then
			echo "$d"
			return 0
		fi
	done
}
