// SPDX-License-Identifier: GPL-2.0

//! Must not build: request IRQ 9 (whatever device owns it) for a handler.

use kernel::{
    c_str,
    device::{Bound, Device},
    irq,
    prelude::*,
};

pub struct Quiet;

impl irq::Handler for Quiet {
    fn handle(&self, _dev: &Device<Bound>) -> irq::IrqReturn {
        irq::IrqReturn::None
    }
}

pub fn steal() -> impl PinInit<irq::Registration<Quiet>, Error> {
    irq::Registration::new(9, irq::Flags::SHARED, c_str!("steal"), Ok(Quiet))
}

include!("case_module.rs");
