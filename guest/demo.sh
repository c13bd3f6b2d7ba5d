#!/bin/sh
# The guest half of `cargo xtask demo`: what a newcomer sees. The host loaded
# the Rust edu driver before this script.

fail() {
	echo "FAILED: $*"
	echo "dmabridge-demo: end"
	exit 1
}

irqs() {
	awk '/ edu$/ { n = 0; for (i = 2; i < NF; i++) if ($i ~ /^[0-9]+$/) n += $i; print n }' /proc/interrupts
}

echo "dmabridge-demo: begin"
echo "Kernel: Linux $(uname -r), with Rust"
edu=$(dmesg | grep -m1 'edu: edu0:')
echo
echo "1. The Rust driver 'edu' (no unsafe code) found QEMU's edu device:"
echo "     ${edu#*] }"
[ -c /dev/edu0 ] || fail "/dev/edu0 is missing"
echo "     /dev/edu0 is the device's 4096-byte buffer"

echo
echo "2. A message goes into the device by DMA (RAM -> device), then comes"
echo "   back by DMA (device -> RAM):"
msg="Hello from Linux 6.12: these bytes crossed the DMA bridge twice."
before=$(irqs)
printf '%s' "$msg" > /tmp/msg
eductl write /tmp/msg --offset 100 2>/dev/null || fail "eductl write"
back=$(eductl read --offset 100 --len ${#msg} 2>/dev/null) || fail "eductl read"
echo "     wrote: $msg"
echo "     read:  $back"
[ "$back" = "$msg" ] || fail "the message came back different"
echo "     device interrupts for the two transfers: $(($(irqs) - before))"

echo
echo "3. The device computes a factorial and signals the result by interrupt:"
before=$(irqs)
out=$(eductl factorial 10) || fail "eductl factorial"
echo "     $out"
echo "     device interrupts: $(($(irqs) - before))"

echo
echo "4. eductl selftest: the whole /dev/edu0 interface, good and bad input"
echo "   (round trips at 25 sizes and odd offsets, EFAULT/ENOTTY/EINVAL/ENOSPC,"
echo "   signals, concurrent writers):"
eductl selftest > /tmp/selftest 2>&1
rc=$?
grep '^not ok' /tmp/selftest | sed 's/^/     /'
echo "     $(grep '^# [0-9]* passed' /tmp/selftest | sed 's/^# //')"
[ $rc = 0 ] || fail "eductl selftest"

echo
echo "5. Unloading the driver, then asking the kernel's DMA checker:"
rmmod edu || fail "rmmod edu"
echo "     DMA-API debug errors: $(cat /sys/kernel/debug/dma-api/error_count)"
echo "dmabridge-demo: end"
