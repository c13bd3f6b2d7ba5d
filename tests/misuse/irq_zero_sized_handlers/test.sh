#!/bin/sh
# Two zero-sized handlers on edu's shared INTx line; the driver drops the
# second: /proc/interrupts must list the first and not the second.

. /guest/lib/ktap.sh

ktap_plan 4
ktap_check module_loads insmod /lib/modules/misuse_irq_zst.ko
ktap_check first_handler_installed grep -q misuse_zst_first /proc/interrupts
ktap_check second_handler_removed sh -c '! grep -q misuse_zst_second /proc/interrupts'
ktap_check module_unloads rmmod misuse_irq_zst
ktap_done
