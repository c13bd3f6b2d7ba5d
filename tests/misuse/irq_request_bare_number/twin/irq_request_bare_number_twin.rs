// SPDX-License-Identifier: GPL-2.0

//! Must build: request the device's own vector 0.

use kernel::{c_str, device::Core, irq, pci, prelude::*};

pub struct Quiet;

impl irq::Handler for Quiet {
    fn handle(&self) -> irq::IrqReturn {
        irq::IrqReturn::None
    }
}

pub fn request(pdev: &pci::Device<Core>) -> Result<irq::Registration<Quiet>> {
    irq::Registration::new(
        pdev.irq_vector(0)?,
        irq::Flags::SHARED,
        c_str!("own"),
        Quiet,
    )
}

include!("case_module.rs");
