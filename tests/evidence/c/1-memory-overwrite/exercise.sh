#!/bin/sh
# Runs in the guest with the buggy edu_c loaded (guest/evidence.sh).

# A 100-byte write at offset 4000 crosses the end: the driver moves 96.
head -c 100 /dev/urandom > /tmp/100
eductl write /tmp/100 --offset 4000
