#!/bin/sh
# Runs in the guest with the buggy edu_c loaded (guest/evidence.sh), in
# the scratch directory guest/init starts scripts in.

# Write 64 random bytes, read them back, compare.
head -c 64 /dev/urandom > 64
# Both calls must succeed: only then is a difference the bug's.
eductl write 64 || exit 1
eductl read --len 64 > back || exit 1
if ! cmp -s 64 back; then
	echo "evidence: data differs: the bytes read back are not the bytes written" > /dev/kmsg
fi
