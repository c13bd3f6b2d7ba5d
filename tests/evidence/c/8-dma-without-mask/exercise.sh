#!/bin/sh
# Runs in the guest with the buggy edu_c loaded (guest/evidence.sh).

# Only a write (the device reads RAM): a read would let the device write
# to the wrong address.
printf 'sixteen bytes ..' > /tmp/16
eductl write /tmp/16
