#!/bin/sh
# Runs in the guest with the buggy edu_c loaded (guest/evidence.sh), in
# the scratch directory guest/init starts scripts in.

# A 100-byte write at offset 4000 crosses the end: the driver moves 96.
head -c 100 /dev/urandom > 100
eductl write 100 --offset 4000
