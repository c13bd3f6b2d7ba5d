#!/bin/sh
# Runs in the guest with the buggy edu_c loaded (guest/evidence.sh).

# A 4096-byte write interrupted by a signal after 20 ms (the DMA takes 100).
head -c 4096 /dev/urandom > /tmp/4096
eductl write /tmp/4096 --signal-after 20
