#!/bin/sh
# Runs in the guest with the buggy edu_c loaded (guest/evidence.sh), in
# the scratch directory guest/init starts scripts in.

# Reads into a NULL buffer: the driver's copy_to_user fails (EFAULT).
for i in 1 2 3; do
	eductl read --len 16 --bad-buffer
done
