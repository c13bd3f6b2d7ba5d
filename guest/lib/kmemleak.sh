#!/bin/sh
# kmemleak helpers for guest scripts: source this file.

kmemleak=/sys/kernel/debug/kmemleak

# kmemleak_clear: forget what was allocated so far (boot's own objects).
kmemleak_clear() {
	[ -w $kmemleak ] && echo clear > $kmemleak
}

# kmemleak_report: prints every leak kmemleak finds now (nothing when there
# is none); fails when kmemleak is not in this kernel. kmemleak reports only
# objects unreferenced for 5 seconds: wait, then scan (twice: one scan can
# miss an object that moved).
kmemleak_report() {
	[ -w $kmemleak ] || return 1
	sleep 6
	echo scan > $kmemleak
	echo scan > $kmemleak
	cat $kmemleak
}
