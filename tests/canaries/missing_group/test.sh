#!/bin/sh
# Canary missing_group: a boot without the Rust doctests (kunit.enable=0)
# and without any of the real test scripts; what it runs passes.

. /guest/lib/ktap.sh

ktap_plan 1
ktap_ok the_only_test
ktap_done
