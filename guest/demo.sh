#!/bin/sh
# The guest half of `cargo xtask demo`: what a newcomer sees.

name_of() {
	case "$1:$2" in
	0x1234:0x11e8) echo "QEMU edu (DMA engine + interrupts)" ;;
	*:0x010802) echo "NVMe controller" ;;
	*) echo "" ;;
	esac
}

echo "dmabridge-demo: begin"
echo "Kernel: Linux $(uname -r)"
echo "Devices the drivers will use:"
for d in /sys/bus/pci/devices/*; do
	what=$(name_of "$(cat "$d/vendor")" "$(cat "$d/class")")
	[ -z "$what" ] && what=$(name_of "$(cat "$d/vendor")" "$(cat "$d/device")")
	[ -n "$what" ] && echo "  ${d##*/}  $what"
done
echo "DMA-API debugging errors so far: $(cat /sys/kernel/debug/dma-api/error_count)"
echo "dmabridge-demo: end"
