// SPDX-License-Identifier: GPL-2.0

//! Must build: the same through the handle that `Device::bus_master` gives,
//! which fails with `ENXIO` once the device was unbound.

use kernel::{devres::Devres, pci, prelude::*};

pub fn kick(master: &Devres<pci::BusMaster>) -> Result {
    master.try_access_with(|m| m.clear()).ok_or(ENXIO)
}

include!("case_module.rs");
