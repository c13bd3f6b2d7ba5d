// SPDX-License-Identifier: GPL-2.0

//! Must build: request the device's own vector 0.

use kernel::{
    c_str,
    device::{Bound, Core, Device},
    irq, pci,
    prelude::*,
};

pub struct Quiet;

impl irq::Handler for Quiet {
    fn handle(&self, _dev: &Device<Bound>) -> irq::IrqReturn {
        irq::IrqReturn::None
    }
}

pub fn request(pdev: &pci::Device<Core>) -> Result<Pin<KBox<irq::Registration<Quiet>>>> {
    KBox::pin_init(
        irq::Registration::new(
            pdev.irq_vector(0)?,
            irq::Flags::SHARED,
            c_str!("own"),
            Ok(Quiet),
        ),
        GFP_KERNEL,
    )
}

include!("case_module.rs");
