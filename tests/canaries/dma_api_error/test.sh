#!/bin/sh
# Canary dma_api_error: loads the module that unmaps with the wrong size (see module/).

. /guest/lib/ktap.sh

ktap_plan 1
ktap_check mismatched_unmap_module_loads insmod /lib/modules/canary_dma_api_error.ko
ktap_done
