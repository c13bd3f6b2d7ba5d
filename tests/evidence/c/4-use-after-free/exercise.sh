#!/bin/sh
# Runs in the guest with the buggy edu_c loaded (guest/evidence.sh).

eductl read --len 16 > /dev/null
