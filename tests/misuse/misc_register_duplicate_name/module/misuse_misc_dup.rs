// SPDX-License-Identifier: GPL-2.0

//! Misuse: registers the misc device name `dmabridge_dup` twice. The second
//! `misc_register` fails with `EEXIST`; the binding must return that errno
//! and log it, and must not `misc_deregister` what was never registered
//! (which would WARN and corrupt the misc list).

use kernel::{
    c_str,
    miscdevice::{MiscDevice, MiscDeviceRegistration, Vtable},
    prelude::*,
};

struct Dup;

impl MiscDevice for Dup {
    type Data = ();
    type Ptr = ();

    fn open(_data: &()) -> Result {
        Ok(())
    }
}

static FOPS: Vtable<Dup> = Vtable::new(&THIS_MODULE);

struct MisuseMiscDup {
    _first: Pin<KBox<MiscDeviceRegistration<Dup>>>,
}

impl kernel::Module for MisuseMiscDup {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let first = MiscDeviceRegistration::register(c_str!("dmabridge_dup"), &FOPS, ())?;
        match MiscDeviceRegistration::register(c_str!("dmabridge_dup"), &FOPS, ()) {
            Err(e) => pr_info!("misuse: second misc registration refused: {:?}\n", e),
            Ok(_) => {
                pr_err!("misuse: second misc registration succeeded\n");
                return Err(EINVAL);
            }
        }
        Ok(MisuseMiscDup { _first: first })
    }
}

module! {
    type: MisuseMiscDup,
    name: "misuse_misc_dup",
    authors: ["dmabridge"],
    description: "misuse case: a duplicate misc device name",
    license: "GPL v2",
}
