// SPDX-License-Identifier: GPL-2.0

//! Must build: the same export of a table that `pci_device_table!` built.

use kernel::{pci, prelude::*};

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    (),
    [(pci::DeviceId::from_id(pci::Vendor::REDHAT, 0x0005), ())]
);

include!("case_module.rs");
