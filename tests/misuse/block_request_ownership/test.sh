#!/bin/sh
# The driver binds edu (for a DmaDevice) and adds /dev/misuseblk. A read is
# mapped and ended twice while mapped (the end waits for the unmapping); a write's
# queue_rq fails while keeping its request, which stays in flight until
# unbind ends it with EIO.

. /guest/lib/ktap.sh

edu=$(pci_find 0x1234 0x11e8)
ktap_plan 6
ktap_check module_loads insmod /lib/modules/misuse_block.ko
ktap_check read_ends_cleanly dd if=/dev/misuseblk of=/dev/null bs=512 count=1 iflag=direct
rm -f /tmp/wrc
( dd if=/dev/zero of=/dev/misuseblk bs=512 count=1 oflag=direct 2>/tmp/werr; echo $? > /tmp/wrc ) &
sleep 1
ktap_check kept_write_still_in_flight test ! -e /tmp/wrc
ktap_check module_unloads rmmod misuse_block
wait
ktap_check kept_write_failed_eio sh -c "[ \"\$(cat /tmp/wrc)\" != 0 ] && grep -q 'I/O error' /tmp/werr"
ktap_check driver_unbound test ! -e "$edu/driver"
ktap_done
