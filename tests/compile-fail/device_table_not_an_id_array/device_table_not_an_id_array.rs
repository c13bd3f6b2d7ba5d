// SPDX-License-Identifier: GPL-2.0

//! Must not build: `module_device_table!` exports a symbol that modpost turns
//! into `alias=` lines. It takes only a table that `pci_device_table!` built,
//! so a driver cannot export bytes of its own choosing under that name.

use kernel::prelude::*;

/// Not an ID table.
const FAKE: [u8; 32] = [0xff; 32];

kernel::module_device_table!("pci", MODULE_FAKE_TABLE, FAKE);

include!("case_module.rs");
