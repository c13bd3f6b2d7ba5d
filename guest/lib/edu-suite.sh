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

# fault_done KIND: a call of KIND that exited 0 did its work: a write's 300
# bytes ($tmp/new) are in the buffer at 5, a read returned the 300 bytes the
# buffer holds there ($tmp/old), a factorial printed 7!.
fault_done() {
	case $1 in
	write)
		eductl read --offset 5 --len 300 2>/dev/null | cmp -s - $tmp/new ||
			{ echo "the buffer does not hold the written bytes"; return 1; }
		;;
	read)
		cmp -s $tmp/got $tmp/old ||
			{ echo "it returned other bytes than the buffer holds"; return 1; }
		;;
	factorial)
		grep -qx '7! = 5040 (modulo 2^32, computed by the device)' $tmp/got ||
			{ echo "it printed: $(cat $tmp/got)"; return 1; }
		;;
	esac
}

# fault_sweep MIN MAX KIND: `eductl --fail-nth N` on one call of KIND (write:
# 300 bytes at offset 5; read: those 300 bytes; factorial: 7!) for N = 1, 2,
# ... until the call reaches fewer than N injection points (it must reach at
# least MIN and at most MAX). Every injected failure (an allocation or a
# user copy) must end in a clean ENOMEM or EFAULT, or in success when the
# kernel recovers by itself. Every success, injected or not, must have done
# its work (fault_done); before each write the span holds other bytes
# ($tmp/old), so a success cannot pass on an earlier call's data. A failed
# write leaves the span as it was or wholly written (a transfer is atomic).
# Afterwards the device works.
fault_sweep() {
	min=$1
	max=$2
	kind=$3
	head -c 300 /dev/urandom > $tmp/old
	head -c 300 /dev/urandom > $tmp/new
	eductl write $tmp/old --offset 5 2>/dev/null ||
		{ echo "cannot write the known bytes"; return 1; }
	n=1
	while [ $n -le 100 ]; do
		case $kind in
		write) out=$(eductl --fail-nth $n write $tmp/new --offset 5 2>&1 >/dev/null) ;;
		read) out=$(eductl --fail-nth $n read --offset 5 --len 300 2>&1 >$tmp/got) ;;
		factorial) out=$(eductl --fail-nth $n factorial 7 2>&1 >$tmp/got) ;;
		esac
		rc=$?
		case "$out" in
		*"fault not injected"*) injected=no ;;
		*"fault injected"*) injected=yes ;;
		*) echo "fail-nth $n: exit $rc, no word on the injection: $out"; return 1 ;;
		esac
		if [ $rc = 0 ]; then
			why=$(fault_done $kind) ||
				{ echo "fail-nth $n: fault $injected injected, exit 0, but $why"; return 1; }
		elif [ $injected = no ] || ! echo "$out" | grep -Eq '\((ENOMEM|EFAULT)\)$'; then
			echo "fail-nth $n: fault $injected injected, exit $rc: $out"
			return 1
		elif [ $kind = write ]; then
			eductl read --offset 5 --len 300 > $tmp/span 2>/dev/null
			cmp -s $tmp/span $tmp/old || cmp -s $tmp/span $tmp/new || {
				echo "fail-nth $n: the failed write left the span neither old nor new: $out"
				return 1
			}
		fi
		[ $injected = yes ] || break
		if [ $kind = write ]; then
			eductl write $tmp/old --offset 5 2>/dev/null ||
				{ echo "cannot write the known bytes back"; return 1; }
		fi
		n=$((n + 1))
	done
	[ $n -le 100 ] || { echo "more than 100 injection points?"; return 1; }
	n=$((n - 1))
	[ $n -ge $min ] && [ $n -le $max ] ||
		{ echo "the call reached $n injection points, want $min to $max"; return 1; }
	printf 'still works' > $tmp/works
	eductl write $tmp/works --offset 7 2>/dev/null &&
		eductl read --offset 7 --len 11 2>/dev/null | cmp - $tmp/works
}

# eductl_interrupted CMD...: `eductl CMD... --signal-after 20` ends in EINTR
# (a signal during the transfer, no SA_RESTART). A signal that comes before
# the call starts (a very slow guest) lets it complete: tried 3 times.
eductl_interrupted() {
	for i in 1 2 3; do
		out=$(eductl "$@" --signal-after 20 2>&1 >/dev/null)
		rc=$?
		[ $rc = 0 ] || break
	done
	[ $rc = 1 ] && echo "$out" | grep -q '(EINTR)$' ||
		{ echo "eductl $* --signal-after 20: exit $rc: $out"; return 1; }
	# The device finished the interrupted transfer and works.
	printf 'after a signal' > $tmp/works
	eductl write $tmp/works --offset 9 2>/dev/null &&
		eductl read --offset 9 --len 14 2>/dev/null | cmp - $tmp/works
}

# Concurrent transfers at overlapping offsets (docs/edu-abi.md: transfers are
# serialized per device, each atomic). Three writer processes; writer k's
# span is [CONC_BASE + k*CONC_HALF, CONC_BASE + (k+2)*CONC_HALF): its left
# half is writer k-1's right half, its right half writer k+1's left half.
# Each writer writes its span twice with dd (one write(2) each; round r's
# bytes are those of its own random 4096-byte pattern pat.k.r at the span's
# buffer positions, so a byte that lands elsewhere is wrong there), and
# after each write reads its span back with dd (one read(2)).
#
# The accept rule for that read: each half of the span holds, whole, either
# this write's bytes or the bytes of one write X of the neighbour sharing
# that half, where X had started when the read returned, X had not returned
# when this write started (else this write came after X and overwrote it),
# and the neighbour's next write had not returned when the read started
# (else it overwrote X); seeing X otherwise is a lost update. A half that
# mixes two writes (a torn transfer) or holds bytes of no write fails. At the
# end the whole buffer must equal the model: the baseline outside every span,
# and in each half the last write of one of the writers sharing it.
CONC_BASE=5
CONC_HALF=997
CONC_WRITERS=3

# conc_is FILE FILE_OFF AT WRITE: FILE's CONC_HALF bytes at FILE_OFF are
# WRITE's bytes at buffer position AT.
conc_is() {
	cmp -s -n $CONC_HALF "$1" $c/pat.$4 $2 $3
}

# conc_half K R H J: half H (0 left, 1 right) of writer K's read in round R,
# under the accept rule; J is the writer that shares the half.
conc_half() {
	local rel=$(($3 * CONC_HALF))
	local at=$((CONC_BASE + $1 * CONC_HALF + rel))
	local got=$c/got.$1.$2 s
	conc_is $got $rel $at $1.$2 && return 0
	if [ $4 -ge 0 ] && [ $4 -lt $CONC_WRITERS ]; then
		for s in 1 2; do
			conc_is $got $rel $at $4.$s || continue
			grep -qx "start.$4.$s" $c/after.$1.$2 || {
				echo "round $2: bytes [$at, $((at + CONC_HALF))) are writer $4's round $s, which had not started"
				return 1
			}
			! grep -qx "end.$4.$s" $c/before.$1.$2 || {
				echo "round $2: bytes [$at, $((at + CONC_HALF))) are still writer $4's round $s, which had returned before this write started: a lost update"
				return 1
			}
			! grep -qx "end.$4.$((s + 1))" $c/mid.$1.$2 || {
				echo "round $2: bytes [$at, $((at + CONC_HALF))) are still writer $4's round $s, though its round $((s + 1)) had returned before this read started: a lost update"
				return 1
			}
			return 0
		done
	fi
	if [ $4 -ge 0 ] && [ $4 -lt $CONC_WRITERS ]; then
		echo "round $2: bytes [$at, $((at + CONC_HALF))) are neither this write's nor one whole write of writer $4's:"
	else
		echo "round $2: bytes [$at, $((at + CONC_HALF))) are not this write's (no other writer shares them):"
	fi
	# (busybox cmp -n lists every difference: the first says where.)
	for s in $1.$2 $4.1 $4.2; do
		[ -f $c/pat.$s ] && echo "vs writer ${s%.*}'s round ${s#*.}: $(
			cmp -n $CONC_HALF $got $c/pat.$s $rel $at | head -n 1)"
	done
	return 1
}

# conc_writer K: writer K's two rounds. Markers: start.K.R just before the
# write, end.K.R just after it returned; before.K.R lists the markers when
# the write started, mid.K.R when the read started, after.K.R when the read
# had returned.
conc_writer() {
	local off=$((CONC_BASE + $1 * CONC_HALF)) len=$((2 * CONC_HALF)) r
	for r in 1 2; do
		ls $c > $c/before.$1.$r
		touch $c/start.$1.$r
		dd if=$c/pat.$1.$r of=$dev bs=$len count=1 skip=$off seek=$off \
			iflag=skip_bytes oflag=seek_bytes conv=notrunc 2>/dev/null ||
			{ echo "round $r: the write failed"; return 1; }
		touch $c/end.$1.$r
		ls $c > $c/mid.$1.$r
		dd if=$dev of=$c/got.$1.$r bs=$len count=1 skip=$off iflag=skip_bytes 2>/dev/null ||
			{ echo "round $r: the read failed"; return 1; }
		ls $c > $c/after.$1.$r
		[ $(wc -c < $c/got.$1.$r) = $len ] ||
			{ echo "round $r: the read returned $(wc -c < $c/got.$1.$r) bytes"; return 1; }
		conc_half $1 $r 0 $(($1 - 1)) || return 1
		conc_half $1 $r 1 $(($1 + 1)) || return 1
	done
}

concurrent_transfers() {
	c=$tmp/conc
	mkdir $c || return 1
	head -c 4096 /dev/urandom > $c/pat.base
	for k in 0 1 2; do
		for r in 1 2; do head -c 4096 /dev/urandom > $c/pat.$k.$r; done
	done
	dd if=$c/pat.base of=$dev bs=4096 2>/dev/null || { echo "baseline write failed"; return 1; }
	pids=
	for k in 0 1 2; do
		conc_writer $k > $c/log.$k 2>&1 &
		pids="$pids $!"
	done
	fail=0
	k=0
	for pid in $pids; do
		wait $pid || { fail=1; sed "s/^/writer $k: /" $c/log.$k; }
		k=$((k + 1))
	done
	# The model: the baseline, then each half as the last write of one of
	# the (one or two) writers sharing it, then the baseline again.
	dd if=$dev of=$c/final bs=4096 2>/dev/null || { echo "final read failed"; return 1; }
	head -c $CONC_BASE $c/pat.base > $c/model
	for g in 0 1 2 3; do
		at=$((CONC_BASE + g * CONC_HALF))
		pick=
		for k in $((g - 1)) $g; do
			[ $k -ge 0 ] && [ $k -lt $CONC_WRITERS ] || continue
			[ -n "$pick" ] || pick=$k
			conc_is $c/final $at $at $k.2 && pick=$k
		done
		tail -c +$((at + 1)) $c/pat.$pick.2 | head -c $CONC_HALF >> $c/model
	done
	tail -c +$((CONC_BASE + 4 * CONC_HALF + 1)) $c/pat.base >> $c/model
	cmp $c/final $c/model || { echo "the final buffer is not the model"; fail=1; }
	return $fail
}

# rmmod_refused: the file open on fd 3 holds the module, so delete_module(2)
# refuses to unload it with EWOULDBLOCK (= EAGAIN, whose strerror busybox
# rmmod prints), and the module stays loaded.
rmmod_refused() {
	out=$(rmmod $drv 2>&1)
	rc=$?
	[ $rc != 0 ] &&
		[ "$out" = "rmmod: can't unload module '$drv': Resource temporarily unavailable" ] ||
		{ echo "rmmod $drv: exit $rc: $out"; return 1; }
	grep -q "^$drv " /proc/modules || { echo "$drv was unloaded"; return 1; }
}

# io_after_unbind: a write and a read on fd 3, whose device is unbound, fail
# with ENXIO ("No such device or address"; ENODEV would be "No such device").
io_after_unbind() {
	out=$(dd if=/dev/zero bs=16 count=1 2>/dev/null | dd bs=16 count=1 2>&1 >&3)
	echo "$out" | grep -qx "dd: error writing 'standard output': No such device or address" ||
		{ echo "write: $out"; return 1; }
	out=$(dd bs=16 count=1 2>&1 <&3 >/dev/null)
	[ "$out" = "dd: standard input: No such device or address" ] ||
		{ echo "read: $out"; return 1; }
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

	ktap_plan 23
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

	# A signal during a transfer: EINTR (SA_RESTART is in the selftest).
	ktap_check "${drv}_signal_interrupts_read" eductl_interrupted read --len 4096
	ktap_check "${drv}_signal_interrupts_write" eductl_interrupted write $tmp/full

	# Every allocation and user copy of a transfer or a factorial fails in
	# turn; the checkers at the end of the run see any leak or bad unmap.
	fault_setup
	ktap_check "${drv}_fault_injection_write" fault_sweep 2 100 write
	ktap_check "${drv}_fault_injection_read" fault_sweep 2 100 read
	# The Rust driver copies n in and out with UserSlice: exactly 2 points.
	# edu_c reads and writes n with get_user/put_user, which are not
	# injection points, and allocates nothing: no fault reaches its
	# factorial, and its check claims only that (fail-nth 1 is not injected,
	# the call computes 7!).
	if [ $drv = edu_c ]; then
		ktap_check "${drv}_factorial_has_no_injection_points" fault_sweep 0 0 factorial
	else
		ktap_check "${drv}_fault_injection_factorial" fault_sweep 2 2 factorial
	fi

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

	ktap_check "${drv}_concurrent_overlapping_transfers_serialized" concurrent_transfers

	# rmmod is refused while a file is open.
	exec 3<>$dev
	ktap_check "${drv}_rmmod_refused_while_open" rmmod_refused
	# Unbind with the file open: later I/O fails cleanly with ENXIO.
	echo "$slot" > /sys/bus/pci/drivers/$drv/unbind
	ktap_check "${drv}_io_after_unbind_is_ENXIO" io_after_unbind
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
