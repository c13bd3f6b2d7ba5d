#!/bin/sh
# Runs in the guest with the buggy edu_c loaded (guest/evidence.sh), in
# the scratch directory guest/init starts scripts in.

# Only a write (the device reads RAM): a read would let the device write
# to the wrong address.
printf 'sixteen bytes ..' > 16
eductl write 16
