#!/bin/sh
# Canary lockdep: loads the module that takes two locks in both orders (see module/).

. /guest/lib/ktap.sh

ktap_plan 1
ktap_check ab_ba_module_loads insmod /lib/modules/canary_lockdep.ko
ktap_done
