#!/bin/sh
# What `cargo xtask run` shows without --script: the kernel, the loaded
# modules and the PCI devices.

echo "kernel: $(uname -r)"
echo "loaded modules:"
cat /proc/modules
echo "PCI devices (slot vendor:device class):"
for d in /sys/bus/pci/devices/*; do
	echo "  ${d##*/} $(cat "$d/vendor"):$(cat "$d/device") $(cat "$d/class")"
done
