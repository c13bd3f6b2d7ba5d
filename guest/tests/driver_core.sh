#!/bin/sh
# The driver-core bindings on QEMU's edu device, through the pci_test driver:
# binding, BAR access, MSI and INTx interrupts, devres revocation at unbind,
# the misc device (read_iter/write_iter, show_fdinfo, mmap), and 50
# unbind/bind cycles.

. /guest/lib/ktap.sh

drv=/sys/bus/pci/drivers/pci_test
edu=$(pci_find 0x1234 0x11e8)
slot=${edu##*/}
err=$(mktemp)

# cmd COMMAND: runs COMMAND on a fresh open of /dev/pcitest, prints the reply.
cmd() {
	exec 3<>/dev/pcitest || return 1
	echo "$1" >&3 || { exec 3>&-; return 1; }
	cat <&3
	exec 3>&-
}

expect() {
	got=$(cmd "$2" 2>&1)
	[ "$got" = "$3" ] || { echo "# $2: got '$got', want '$3'"; return 1; }
}

# irq_check KIND NAME: the device uses KIND interrupts, and one raised
# interrupt reaches the handler's hard half, which reads and acknowledges its
# status, and then its threaded half (which sleeps).
irq_check() {
	kind=$(cmd kind)
	irq=$(cmd irq)
	if [ "$kind" = "$1" ] && [ "$irq" = "irqs=1 threaded=1 status=0xabc" ]; then
		ktap_ok "$2"
	else
		echo "# kind: $kind, irq: $irq"
		ktap_fail "$2"
	fi
}

ktap_plan 15
ktap_check pci_module_loads insmod /lib/modules/pci_test.ko
ktap_check pci_probe_binds_edu test -e "$drv/$slot"
ktap_check misc_device_node_exists test -c /dev/pcitest
ktap_check pci_bar_reads_identification expect id id 0x010000ed
ktap_check pci_bar_liveness_register expect live live 0xedcba987
ktap_check pci_bar_runtime_offset_past_end_einval expect oob oob EINVAL
ktap_check misc_unknown_command_einval sh -c \
	"exec 3<>/dev/pcitest; echo bogus >&3 2>$err; grep -q 'Invalid argument' $err"
irq_check msi irq_msi_raise_and_ack

# show_fdinfo: /proc/PID/fdinfo of an open file has the driver's line, with
# the length of the reply waiting to be read (the 11 bytes of "0x010000ed\n").
fdinfo() {
	exec 3<>/dev/pcitest || return 1
	echo id >&3
	got=$(grep pcitest-reply-bytes /proc/self/fdinfo/3)
	exec 3>&-
	[ "$got" = "$(printf 'pcitest-reply-bytes:\t11')" ] || { echo "# got '$got'"; return 1; }
}
ktap_check misc_show_fdinfo fdinfo

# mmap: the driver maps one shared page; what one mapping writes, another
# reads (eductl is built for x86-64 guests only).
if command -v eductl >/dev/null; then
	ktap_check misc_mmap_shares_page eductl --dev /dev/pcitest mmap --seed 7
else
	ktap_ok "misc_mmap_shares_page # SKIP eductl is x86-64's"
fi

# INTx: forbid MSI for this device and bind again.
echo "$slot" > $drv/unbind
echo 0 > "$edu/msi_bus"
echo "$slot" > $drv/bind
irq_check intx irq_intx_raise_and_ack
echo "$slot" > $drv/unbind
echo 1 > "$edu/msi_bus"
echo "$slot" > $drv/bind

# A file kept open across unbind: its BAR handle is revoked.
exec 4<>/dev/pcitest
echo "$slot" > $drv/unbind
if echo id >&4 2>"$err"; then
	echo "# a command after unbind succeeded"
	ktap_fail devres_handle_after_unbind_enxio
elif grep -q 'No such device or address' "$err"; then
	ktap_ok devres_handle_after_unbind_enxio
else
	echo "# $(cat "$err")"
	ktap_fail devres_handle_after_unbind_enxio
fi
exec 4>&-

# marks: how many times unbind dropped the data probe tied to the binding.
marks() { dmesg | grep -c 'pci_test: registered data dropped at unbind'; }
before=$(marks)
ok=0
i=0
while [ $i -lt 50 ]; do
	echo "$slot" > $drv/bind && [ "$(cmd id)" = 0x010000ed ] &&
		echo "$slot" > $drv/unbind && ok=$((ok + 1))
	i=$((i + 1))
done
ktap_check pci_bind_unbind_50_cycles test $ok = 50
ktap_check devres_register_drops_at_unbind test $(($(marks) - before)) = 50
ktap_check pci_module_unloads rmmod pci_test
ktap_done
