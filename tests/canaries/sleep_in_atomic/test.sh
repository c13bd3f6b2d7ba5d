#!/bin/sh
# Canary sleep_in_atomic: loads the module that takes a mutex under a spinlock (see module/).

. /guest/lib/ktap.sh

ktap_plan 1
ktap_check sleeping_module_loads insmod /lib/modules/canary_sleep_in_atomic.ko
ktap_done
