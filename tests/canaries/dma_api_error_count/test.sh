#!/bin/sh
# Canary dma_api_error_count: the same wrong-size unmap as dma_api_error, with
# dma-debug told to print nothing (num_errors 0): only its error count shows
# the violation (as for every error after the first, which dma-debug never
# prints by default).

. /guest/lib/ktap.sh

ktap_plan 2
ktap_check dma_debug_silenced sh -c 'echo 0 > /sys/kernel/debug/dma-api/num_errors'
ktap_check mismatched_unmap_module_loads insmod /lib/modules/canary_dma_api_error.ko
ktap_done
