#!/bin/sh
# Canary warn_in_kunit: a KUnit suite whose only case passes while the kernel
# WARNs, loaded by the same helper as the real suites (guest/tests/dma.sh).

. /guest/lib/ktap.sh

ktap_plan 2
kunit_module canary_warn_in_kunit canary_warn
ktap_done
