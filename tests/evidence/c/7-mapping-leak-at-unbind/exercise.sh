#!/bin/sh
# Runs in the guest with the buggy edu_c loaded (guest/evidence.sh), in
# the scratch directory guest/init starts scripts in.

# A 4096-byte write interrupted by a signal after 20 ms (the DMA takes 100).
head -c 4096 /dev/urandom > 4096
# A signal that comes before the write starts (a very slow guest) lets it
# complete: then try again.
for try in 1 2 3; do
	eductl write 4096 --signal-after 20 || break
done
