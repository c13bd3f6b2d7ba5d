#!/bin/sh
# Runs in the guest with the buggy edu_c loaded (guest/evidence.sh).

printf 'sixteen bytes ..' > /tmp/16
eductl write /tmp/16
