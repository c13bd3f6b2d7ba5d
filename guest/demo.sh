#!/bin/sh
# The guest half of `cargo xtask demo`: what a newcomer sees. It runs in the
# scratch directory guest/init starts scripts in. The host loaded
# the Rust edu driver before this script.

# The host shows only the lines that say() prints, without kernel messages.
say() {
	echo "demo| $*"
}

fail() {
	say "FAILED: $*"
	exit 1
}

irqs() {
	awk '/ edu$/ { n = 0; for (i = 2; i < NF; i++) if ($i ~ /^[0-9]+$/) n += $i; print n }' /proc/interrupts
}

say "Kernel: Linux $(uname -r), with Rust"
edu=$(dmesg | grep -m1 'edu: edu0:')
say
say "1. The Rust driver 'edu' (no unsafe code) found QEMU's edu device:"
say "     ${edu#*] }"
[ -c /dev/edu0 ] || fail "/dev/edu0 is missing"
say "     /dev/edu0 is the device's 4096-byte buffer"

say
say "2. A message goes into the device by DMA (RAM -> device), then comes"
say "   back by DMA (device -> RAM):"
msg="Hello from Linux 6.12: these bytes crossed the DMA bridge twice."
before=$(irqs)
printf '%s' "$msg" > msg
eductl write msg --offset 100 2>/dev/null || fail "eductl write"
back=$(eductl read --offset 100 --len ${#msg} 2>/dev/null) || fail "eductl read"
say "     wrote: $msg"
say "     read:  $back"
[ "$back" = "$msg" ] || fail "the message came back different"
say "     device interrupts for the two transfers: $(($(irqs) - before))"

say
say "3. The device computes a factorial and signals the result by interrupt:"
before=$(irqs)
out=$(eductl factorial 10) || fail "eductl factorial"
say "     $out"
say "     device interrupts: $(($(irqs) - before))"

say
say "4. eductl selftest: the whole /dev/edu0 interface, good and bad input"
say "   (round trips at 25 sizes and odd offsets, EFAULT/ENOTTY/EINVAL/ENOSPC,"
say "   signals, concurrent writers):"
eductl selftest > selftest 2>&1
rc=$?
grep '^not ok' selftest | sed 's/^/demo|      /'
say "     $(grep '^# [0-9]* passed' selftest | sed 's/^# //')"
[ $rc = 0 ] || fail "eductl selftest"

say
say "5. Unloading the driver, then asking the kernel's DMA checker:"
rmmod edu || fail "rmmod edu"
say "     DMA-API debug errors: $(cat /sys/kernel/debug/dma-api/error_count)"
