// SPDX-License-Identifier: GPL-2.0

//! Misuse: registers the misc device name `dmabridge_dup` twice. The second
//! `misc_register` fails with `EEXIST`; the binding must return that errno
//! and log it, and must not `misc_deregister` what was never registered
//! (which would WARN and corrupt the misc list). It then tries names that
//! cannot name a device node (empty, `..`, with a `/`): `EINVAL`.

use kernel::{
    c_str,
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
};

struct Dup;

#[vtable]
impl MiscDevice for Dup {
    type Ptr = ();

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result {
        Ok(())
    }
}

struct MisuseMiscDup {
    _first: Pin<KBox<MiscDeviceRegistration<Dup>>>,
}

impl kernel::Module for MisuseMiscDup {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let options = MiscDeviceOptions {
            name: c_str!("dmabridge_dup"),
        };
        let first = KBox::pin_init(MiscDeviceRegistration::register(options), GFP_KERNEL)?;
        match KBox::pin_init(MiscDeviceRegistration::<Dup>::register(options), GFP_KERNEL) {
            Err(e) => pr_info!("misuse: second misc registration refused: {:?}\n", e),
            Ok(_) => {
                pr_err!("misuse: second misc registration succeeded\n");
                return Err(EINVAL);
            }
        }
        for name in [c_str!(""), c_str!(".."), c_str!("a/b")] {
            // An empty name would make `device_add` WARN.
            let options = MiscDeviceOptions { name };
            match KBox::pin_init(MiscDeviceRegistration::<Dup>::register(options), GFP_KERNEL) {
                Err(e) => pr_info!("misuse: misc name {:?} refused: {:?}\n", name, e),
                Ok(_) => {
                    pr_err!("misuse: misc name {:?} accepted\n", name);
                    return Err(EINVAL);
                }
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
