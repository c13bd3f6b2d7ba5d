#!/bin/sh
# The first open of /dev/dmabridge_opener drops a registration it holds
# (deferred: /dev/dmabridge_dropped goes away), the next ones try to register
# another misc device (refused: EDEADLK). Every open fails and none hangs:
# the misc lock was not deadlocked.

. /guest/lib/ktap.sh

ktap_plan 5
ktap_check module_loads insmod /lib/modules/misuse_misc_open.ko
ktap_check first_open_drops_registration sh -c "! cat /dev/dmabridge_opener 2>/dev/null"
ktap_check second_open_registers_refused sh -c "! cat /dev/dmabridge_opener 2>/dev/null"
ktap_check dropped_device_gone sh -c "sleep 1; test ! -e /sys/class/misc/dmabridge_dropped"
ktap_check module_unloads rmmod misuse_misc_open
ktap_done
