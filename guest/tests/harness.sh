#!/bin/sh
# The guest machine the other tests rely on: the emulated devices, the
# checkers, two CPUs and a preemptible kernel.

. /guest/lib/ktap.sh

bar0_size() {
	read -r start end flags < "$1/resource" || return 1
	echo $((end - start + 1))
}

# Eight long result lines printed while the kernel prints forty messages:
# they travel on separate serial ports, so the host sees every line whole
# (and this suite's plan met). On one port, a message lands inside a line.
lines_under_kernel_messages() {
	(
		j=0
		while [ $j -lt 40 ]; do
			echo "harness: kernel message $j while the script prints" > /dev/kmsg
			j=$((j + 1))
		done
	) &
	pad=$(printf '%0200d' 0)
	for k in 1 2 3 4 5 6 7 8; do
		ktap_ok "line_${k}_whole_while_the_kernel_prints_$pad"
	done
	wait
}

ktap_plan 19
edu=$(pci_find 0x1234 0x11e8)
ktap_check edu_device_present test -n "$edu"
ktap_check edu_bar0_is_1MiB test "$(bar0_size "$edu")" = 1048576
nvme=$(pci_find_class 0x010802)
ktap_check nvme_controller_present test -n "$nvme"
ktap_check dma_api_debug_enabled test -r /sys/kernel/debug/dma-api/error_count
ktap_check kasan_enabled sh -c "dmesg | grep -q KernelAddressSanitizer"
ktap_check kmemleak_enabled test -w /sys/kernel/debug/kmemleak
# Races can happen: both CPUs run, and the kernel preempts.
ktap_check two_cpus_online test "$(cat /sys/devices/system/cpu/online)" = 0-1
ktap_check kernel_preemptible sh -c "uname -v | grep -q ' PREEMPT '"
ktap_check lockdep_enabled test -r /proc/lockdep
# 4-level paging: with LA57, KASAN misreads an interrupt taken while the
# boot CPU re-reads its features (a false wild-memory-access at boot).
if [ "$(uname -m)" = x86_64 ]; then
	ktap_check four_level_paging sh -c "! grep -qw la57 /proc/cpuinfo"
else
	ktap_ok "four_level_paging # SKIP LA57 is x86-64's"
fi
ktap_check rcu_lockdep_enabled sh -c "dmesg | grep -q 'RCU lockdep checking is enabled'"
lines_under_kernel_messages
ktap_done
