#!/bin/sh
# Runs in the guest with the buggy edu_c loaded (guest/evidence.sh).

# Write 64 random bytes, read them back, compare.
head -c 64 /dev/urandom > /tmp/64
eductl write /tmp/64
eductl read --len 64 > /tmp/back
if ! cmp -s /tmp/64 /tmp/back; then
	echo "evidence: data differs: the bytes read back are not the bytes written"
fi
