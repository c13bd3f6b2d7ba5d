#!/bin/sh
# Canary leak: loads the module that leaks 160 bytes (see module/).

. /guest/lib/ktap.sh

ktap_plan 1
ktap_check leaking_module_loads insmod /lib/modules/canary_leak.ko
ktap_done
