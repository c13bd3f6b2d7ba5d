#!/bin/sh
# The module registers /dev/dmabridge_dup, then the same name again: the
# second registration is refused with EEXIST; the first stays usable.

. /guest/lib/ktap.sh

ktap_plan 3
ktap_check module_loads insmod /lib/modules/misuse_misc_dup.ko
ktap_check first_device_exists test -c /dev/dmabridge_dup
ktap_check module_unloads rmmod misuse_misc_dup
ktap_done
