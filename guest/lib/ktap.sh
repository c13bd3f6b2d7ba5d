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

# kunit_module NAME SUITE: loads module NAME, whose KUnit suite SUITE runs
# while insmod loads it, and nests the suite's results (read from debugfs) in
# this test's output. KUnit's own lines are info level: the console's log
# level is lowered just enough to hold them back (they would be counted
# twice), never so far that warnings (level 4) or messages without a level
# disappear. Passes when the module loaded and every case passed.
kunit_module() {
	results=/sys/kernel/debug/kunit/$2/results
	level=$(cut -f1 /proc/sys/kernel/printk)
	echo 6 > /proc/sys/kernel/printk
	ktap_check "$1_module_loads" insmod "/lib/modules/$1.ko"
	echo "$level" > /proc/sys/kernel/printk
	if [ -r "$results" ]; then
		sed 's/^/    /' "$results"
		if grep -q "^ *not ok" "$results"; then
			ktap_fail "kunit_suite_$2"
		else
			ktap_ok "kunit_suite_$2"
		fi
	else
		echo "# $results is missing"
		ktap_fail "kunit_suite_$2"
	fi
}

# pci_find_class CLASS: the sysfs folder of the first PCI device of CLASS.
pci_find_class() {
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat $d/class)" = "$1" ]; then
			echo "$d"
			return 0
		fi
	done
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

# edu_probe_case MODULE: the whole test of a misuse case whose driver binds
# edu and checks everything in its probe (a failed check fails the probe):
# the module loads, its driver binds edu, and the module unloads.
edu_probe_case() {
	edu=$(pci_find 0x1234 0x11e8)
	ktap_plan 3
	ktap_check module_loads insmod "/lib/modules/$1.ko"
	ktap_check driver_bound test -e "$edu/driver"
	ktap_check module_unloads rmmod "$1"
	ktap_done
}

# wait_for WHAT CMD: waits up to 20 s for the shell command line CMD to
# succeed; otherwise says that WHAT did not happen, and fails.
wait_for() {
	_w=0
	while ! eval "$2" 2>/dev/null; do
		_w=$((_w + 1))
		[ $_w -lt 200 ] || { echo "# no $1 after 20 s"; return 1; }
		sleep 0.1
	done
}

# qmp COMMAND ARGS: asks the host to send COMMAND (device_del, of a device
# of the hot-plug machine) with ARGS (id=...) to QEMU's monitor
# (xtask/src/qmp.rs). The line goes to the output port itself, not to the
# script's output, which a check may be holding back.
qmp() {
	echo "dmabridge: qmp $1 $2" > "$DMABRIDGE_OUT"
}
