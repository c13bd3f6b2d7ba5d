#!/bin/sh
# A device that stops answering, for both edu drivers: with edu's interrupts
# switched off behind the driver's back (INTx disabled and MSI turned off in
# config space, through sysfs), an operation must end with ETIMEDOUT after
# the driver's 5 s timeout, later ones with EIO, and the driver must unload
# cleanly (no checker report: the host scans the whole log).

. /guest/lib/ktap.sh

cfg_byte() { # FILE OFFSET: one byte of config space, in decimal
	od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '
}

cfg_set_byte() { # FILE OFFSET VALUE
	printf "\\$(printf %o "$3")" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
}

# silence DEVICE: no interrupt can reach the CPU any more.
silence() {
	cfg=$1/config
	# Command register bit 10: INTx disable.
	v=$(cfg_byte "$cfg" 5)
	cfg_set_byte "$cfg" 5 $((v | 4))
	# Walk the capability list to MSI (ID 5); clear its enable bit.
	cap=$(cfg_byte "$cfg" 52)
	while [ "${cap:-0}" -ne 0 ]; do
		if [ "$(cfg_byte "$cfg" "$cap")" -eq 5 ]; then
			v=$(cfg_byte "$cfg" $((cap + 2)))
			cfg_set_byte "$cfg" $((cap + 2)) $((v & 254))
			return 0
		fi
		cap=$(cfg_byte "$cfg" $((cap + 1)))
	done
	echo "# no MSI capability"
	return 1
}

# expect_errno NAME CMD...: CMD must fail with errno NAME (eductl prints it).
expect_errno() {
	want=$1
	shift
	out=$("$@" 2>&1)
	rc=$?
	[ $rc = 1 ] && echo "$out" | grep -q "($want)\$" || {
		echo "exit $rc: $out (want $want)"
		return 1
	}
}

edu=$(pci_find 0x1234 0x11e8)
ktap_plan 12
for drv in edu edu_c; do
	ktap_check ${drv}_loads insmod /lib/modules/$drv.ko
	ktap_check ${drv}_answers_before eductl factorial 5
	ktap_check ${drv}_interrupts_silenced silence "$edu"
	ktap_check ${drv}_times_out expect_errno ETIMEDOUT eductl factorial 5
	ktap_check ${drv}_then_eio expect_errno EIO eductl factorial 5
	ktap_check ${drv}_unloads rmmod $drv
done
ktap_done
