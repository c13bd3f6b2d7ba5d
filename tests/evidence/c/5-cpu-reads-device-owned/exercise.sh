#!/bin/sh
# Runs in the guest with the buggy edu_c loaded (guest/evidence.sh), in
# the scratch directory guest/init starts scripts in.

# Write 64 random bytes, read them back, compare.
head -c 64 /dev/urandom > 64
eductl write 64
eductl read --len 64 > back
if ! cmp -s 64 back; then
	echo "evidence: data differs: the bytes read back are not the bytes written"
fi
