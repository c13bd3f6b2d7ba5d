#!/bin/sh
# Canary kasan_oob: loads the module that reads past an allocation (see module/).

. /guest/lib/ktap.sh

ktap_plan 1
ktap_check out_of_bounds_module_loads insmod /lib/modules/canary_kasan_oob.ko
ktap_done
