// SPDX-License-Identifier: GPL-2.0

//! Must not build: request IRQ 9 (whatever device owns it) for a handler.

use kernel::{c_str, irq, prelude::*};

pub struct Quiet;

impl irq::Handler for Quiet {
    fn handle(&self) -> irq::IrqReturn {
        irq::IrqReturn::None
    }
}

pub fn steal() -> Result<irq::Registration<Quiet>> {
    irq::Registration::new(9, irq::Flags::SHARED, c_str!("steal"), Quiet)
}

include!("case_module.rs");
