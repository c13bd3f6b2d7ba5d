#!/bin/sh
# The driver binds edu (for a DmaDevice) and adds /dev/misuseblk. Its first
# read (the partition scan's) is mapped and ended twice while mapped (the end
# waits for the unmapping); the next is refused twice with EBUSY (the block
# layer must queue it again by itself: nothing else is in flight, so no end
# would; `timeout` turns a stall into a failure); later reads are unmapped
# with `unmap` and ended with the reference it hands back; a write's
# queue_rq fails while keeping its request, which stays in flight (the open
# disk pins the module: rmmod is refused) until unbind ends it with EIO.

. /guest/lib/ktap.sh

edu=$(pci_find 0x1234 0x11e8)
work=$(mktemp -d)
slot=${edu##*/}
ktap_plan 9
ktap_check module_loads insmod /lib/modules/misuse_block.ko
ktap_check refused_read_ends timeout 30 dd if=/dev/misuseblk of=/dev/null bs=512 count=1 iflag=direct
ktap_check unmapped_read_ends timeout 30 dd if=/dev/misuseblk of=/dev/null bs=4096 count=1 iflag=direct
rm -f $work/wrc
# conv=fsync: busybox dd may write through the page cache, then the error
# comes with fsync.
( dd if=/dev/zero of=/dev/misuseblk bs=512 count=1 oflag=direct conv=fsync 2>$work/werr
  echo $? > $work/wrc ) &
sleep 1
ktap_check kept_write_still_in_flight test ! -e $work/wrc
# The open disk pins the module: rmmod is refused while dd holds it.
ktap_check module_pinned_while_disk_open sh -c "! rmmod misuse_block 2>/dev/null"
ktap_check unbind_ends_kept_write sh -c "echo $slot > /sys/bus/pci/drivers/misuse_block/unbind"
wait
ktap_check kept_write_failed_eio sh -c "[ \"\$(cat $work/wrc)\" != 0 ] &&
	grep -q -e 'I/O error' -e 'Input/output error' $work/werr || { cat $work/wrc $work/werr; exit 1; }"
ktap_check driver_unbound test ! -e "$edu/driver"
ktap_check module_unloads rmmod misuse_block
ktap_done
