// SPDX-License-Identifier: GPL-2.0

//! Misuse: a module whose init registers a misc device, waits, and fails.
//! A module whose init fails is freed whatever its reference count: a file
//! opened in the meantime would keep running the freed module's code. The
//! binding refuses opens until the module is live (`EAGAIN`, with a log
//! line), and the module's unload waits for opens in progress.

use kernel::{
    c_str,
    delay::msleep,
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
};

struct Failing;

#[vtable]
impl MiscDevice for Failing {
    type Ptr = ();

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result {
        pr_err!("misuse: opened while the module loads\n");
        Ok(())
    }
}

struct MisuseMiscFailing;

impl kernel::Module for MisuseMiscFailing {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let options = MiscDeviceOptions {
            name: c_str!("dmabridge_failing"),
        };
        let _misc = KBox::pin_init(
            MiscDeviceRegistration::<Failing>::register(options),
            GFP_KERNEL,
        )?;
        pr_info!("misuse: registered; failing in 3 s\n");
        msleep(3000);
        Err(EINVAL)
    }
}

module! {
    type: MisuseMiscFailing,
    name: "misuse_misc_failing",
    authors: ["dmabridge"],
    description: "misuse case: a misc device opened while its module's init fails",
    license: "GPL v2",
}
