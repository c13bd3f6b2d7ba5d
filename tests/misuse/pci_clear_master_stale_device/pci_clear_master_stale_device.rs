// SPDX-License-Identifier: GPL-2.0

//! Must not build: clearing bus mastering through a kept `ARef<pci::Device>`,
//! which may outlive the binding (the device may be bound to another driver
//! by then, and `pci_clear_master` is an unlocked read-modify-write of its
//! command register). Only a bound device, or a `Devres<BusMaster>` (revoked
//! at unbind), can stop a device's DMA.

use kernel::{pci, prelude::*, types::ARef};

pub fn kick(pdev: &ARef<pci::Device>) {
    pdev.clear_master();
}

include!("case_module.rs");
