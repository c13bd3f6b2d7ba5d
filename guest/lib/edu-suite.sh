#!/bin/sh
# The /dev/eduN ABI (docs/edu-abi.md), run against one driver: edu_suite NAME,
# where NAME is edu (Rust) or edu_c (C). Prints one KTAP document, with
# `eductl selftest`'s own KTAP nested in it.

. /guest/lib/ktap.sh

# eductl's errors: a usage error exits 2, a refused operation exits 1 with
# the errno's name.
eductl_bad_input() {
	eductl read --offset -1 >/dev/null 2>&1
	rc=$?
	[ $rc = 2 ] || { echo "negative offset: exit $rc, want 2"; return 1; }
	out=$(eductl --dev /dev/edu9 factorial 3 2>&1)
	rc=$?
	[ $rc = 1 ] && echo "$out" | grep -q 'cannot open /dev/edu9' ||
		{ echo "missing device: exit $rc: $out"; return 1; }
	printf x > $tmp/x
	out=$(eductl write $tmp/x --offset 4096 2>&1)
	rc=$?
	[ $rc = 1 ] && echo "$out" | grep -q '(ENOSPC)$' ||
		{ echo "write at the end: exit $rc: $out"; return 1; }
}

# Kernel fault injection for one thread at a time (eductl --fail-nth): quiet
# (no stack dumps), and for sleeping allocations too.
fault_setup() {
	echo 0 > /sys/kernel/debug/failslab/verbose
	echo 0 > /sys/kernel/debug/fail_usercopy/verbose
	echo N > /sys/kernel/debug/failslab/ignore-gfp-wait
}

# fault_sweep MIN CMD...: `eductl --fail-nth N CMD...` for N = 1, 2, ...
# until the call reaches fewer than N injection points (it must reach at
# least MIN). Every injected failure (an allocation or a user copy) must end
# in a clean ENOMEM or EFAULT, or in success when the kernel recovers by
# itself; afterwards the device works.
fault_sweep() {
	min=$1
	shift
	n=1
	while [ $n -le 100 ]; do
		out=$(eductl --fail-nth $n "$@" 2>&1 >/dev/null)
		rc=$?
		case "$out" in
		*"fault not injected"*)
			[ $rc = 0 ] || { echo "fail-nth $n: not injected, yet: $out"; return 1; }
			break
			;;
		esac
		if [ $rc != 0 ] && ! echo "$out" | grep -Eq '\((ENOMEM|EFAULT)\)$'; then
			echo "fail-nth $n: exit $rc: $out"
			return 1
		fi
		n=$((n + 1))
	done
	[ $((n - 1)) -ge $min ] ||
		{ echo "the call reached $((n - 1)) injection points, want $min"; return 1; }
	[ $n -le 100 ] || { echo "more than 100 injection points?"; return 1; }
	printf 'still works' > $tmp/works
	eductl write $tmp/works --offset 7 2>/dev/null &&
		eductl read --offset 7 --len 11 2>/dev/null | cmp - $tmp/works
}

# eductl_selftest NAME: eductl selftest's KTAP as the subtest NAME.
eductl_selftest() {
	eductl selftest > $tmp/selftest 2>&1
	rc=$?
	echo "    # Subtest: $1"
	sed 's/^/    /' $tmp/selftest
	if [ $rc = 0 ]; then ktap_ok "$1"; else ktap_fail "$1"; fi
}

edu_suite() {
	drv=$1
	dev=/dev/edu0
	edu=$(pci_find 0x1234 0x11e8)
	slot=${edu##*/}
	tmp=$(mktemp -d)

	ktap_plan 21
	ktap_check "${drv}_loads" insmod /lib/modules/$drv.ko
	ktap_check "${drv}_creates_dev_edu0" test -c $dev

	dd if=/dev/urandom of=$tmp/full bs=4096 count=1 2>/dev/null
	dd if=$tmp/full of=$dev bs=4096 2>/dev/null
	dd if=$dev of=$tmp/back bs=4096 2>/dev/null
	ktap_check "${drv}_full_buffer_roundtrip" cmp $tmp/full $tmp/back

	# 7 bytes at the odd offset 1001, read back from there.
	printf 'dmabrdg' | dd of=$dev bs=1 seek=1001 conv=notrunc 2>/dev/null
	got=$(dd if=$dev bs=1 skip=1001 count=7 2>/dev/null)
	ktap_check "${drv}_odd_offset_roundtrip" test "$got" = dmabrdg

	# The same ABI from a program: tools/eductl.
	printf 'Hello through DMA' > $tmp/msg
	eductl write $tmp/msg --offset 3 2>/dev/null
	ktap_check "${drv}_eductl_write_read" sh -c \
		"eductl read --offset 3 --len 17 2>/dev/null | cmp - $tmp/msg"
	ktap_check "${drv}_eductl_factorial" sh -c \
		"eductl factorial 12 | grep -qx '12! = 479001600 (modulo 2^32, computed by the device)'"
	ktap_check "${drv}_eductl_rejects_bad_input" eductl_bad_input
	eductl_selftest "${drv}_eductl_selftest"

	# Every allocation and user copy of a transfer or a factorial fails in
	# turn; the checkers at the end of the run see any leak or bad unmap.
	fault_setup
	head -c 300 /dev/urandom > $tmp/300
	ktap_check "${drv}_fault_injection_write" fault_sweep 2 write $tmp/300 --offset 5
	ktap_check "${drv}_fault_injection_read" fault_sweep 2 read --offset 5 --len 300
	# The Rust driver copies n in and out with UserSlice (2 injection
	# points); edu_c's get_user/put_user are not injection points.
	points=2
	[ $drv = edu_c ] && points=0
	ktap_check "${drv}_fault_injection_factorial" fault_sweep $points factorial 7

	# A read crossing the end is short; at the end it returns 0 bytes.
	n=$(dd if=$dev bs=100 skip=40 count=1 2>/dev/null | wc -c)
	ktap_check "${drv}_read_crossing_end_is_short" test "$n" = 96
	n=$(dd if=$dev bs=1 skip=4096 count=1 2>/dev/null | wc -c)
	ktap_check "${drv}_read_at_end_returns_0" test "$n" = 0

	# A write crossing the end is short; at the end it fails with ENOSPC.
	# (dd then tries the remaining 4 bytes at the end, which fail with ENOSPC.)
	head -c 100 $tmp/back > $tmp/100
	head -c 96 $tmp/back > $tmp/96
	dd if=$tmp/100 of=$dev bs=100 seek=40 conv=notrunc 2>/dev/null
	dd if=$dev of=$tmp/tail bs=4000 skip=1 2>/dev/null
	ktap_check "${drv}_write_crossing_end_is_short" cmp $tmp/96 $tmp/tail
	ktap_check "${drv}_write_at_end_is_ENOSPC" sh -c \
		"printf x | dd of=$dev bs=1 seek=4096 2>&1 | grep -q 'No space left on device'"

	# Concurrent writers: each 4096-byte transfer is atomic, so the buffer
	# holds one writer's data whole.
	dd if=/dev/zero bs=4096 count=1 2>/dev/null | tr '\0' 'a' > $tmp/a
	dd if=/dev/zero bs=4096 count=1 2>/dev/null | tr '\0' 'b' > $tmp/b
	for i in 1 2 3; do dd if=$tmp/a of=$dev bs=4096 2>/dev/null & done
	for i in 1 2 3; do dd if=$tmp/b of=$dev bs=4096 2>/dev/null & done
	wait
	dd if=$dev of=$tmp/mix bs=4096 2>/dev/null
	ktap_check "${drv}_concurrent_writers_atomic" sh -c "cmp -s $tmp/mix $tmp/a || cmp -s $tmp/mix $tmp/b"

	# rmmod is refused while a file is open.
	exec 3<>$dev
	ktap_check "${drv}_rmmod_refused_while_open" sh -c "! rmmod $drv 2>/dev/null"
	# Unbind with the file open: later I/O fails cleanly with ENXIO/ENODEV.
	echo "$slot" > /sys/bus/pci/drivers/$drv/unbind
	out=$(dd if=/dev/zero bs=16 count=1 2>/dev/null | dd bs=16 count=1 2>&1 >&3)
	ktap_check "${drv}_io_after_unbind_fails_cleanly" sh -c \
		"echo '$out' | grep -Eq 'No such device|No such device or address'"
	exec 3>&-
	echo "$slot" > /sys/bus/pci/drivers/$drv/bind
	ktap_check "${drv}_rebinds" test -c $dev

	ktap_check "${drv}_unloads" rmmod $drv
	fail=0
	i=0
	while [ $i -lt 50 ]; do
		i=$((i + 1))
		insmod /lib/modules/$drv.ko && test -c $dev && rmmod $drv || { fail=$i; break; }
	done
	ktap_check "${drv}_50_load_unload_cycles" test $fail = 0
	rm -rf $tmp
	ktap_done
}
