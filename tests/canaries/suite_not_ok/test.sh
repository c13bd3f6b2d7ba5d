#!/bin/sh
# Canary suite_not_ok: every test it prints passes, but the script fails, so
# the runner's line for this suite says `not ok`.

. /guest/lib/ktap.sh

ktap_plan 1
ktap_ok passing_leaf
exit 1
