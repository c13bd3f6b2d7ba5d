// SPDX-License-Identifier: GPL-2.0

//! Misuse: a misc device whose `read` claims more bytes than userspace asked
//! for (and copied none). The VFS would trust the count (and advance the
//! file position by it); the binding turns it into `EIO` with a log line.

use kernel::{
    c_str,
    miscdevice::{MiscDevice, MiscDeviceRegistration, Vtable},
    prelude::*,
    uaccess::UserSliceWriter,
};

struct Liar;

impl MiscDevice for Liar {
    type Data = ();
    type Ptr = ();

    fn open(_data: &()) -> Result {
        Ok(())
    }

    fn read(_this: (), _writer: &mut UserSliceWriter, _pos: &mut i64) -> Result<usize> {
        Ok(100)
    }
}

static FOPS: Vtable<Liar> = Vtable::new(&THIS_MODULE);

struct MisuseMiscLiar {
    _misc: Pin<KBox<MiscDeviceRegistration<Liar>>>,
}

impl kernel::Module for MisuseMiscLiar {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let misc = MiscDeviceRegistration::register(c_str!("dmabridge_liar"), &FOPS, ())?;
        Ok(MisuseMiscLiar { _misc: misc })
    }
}

module! {
    type: MisuseMiscLiar,
    name: "misuse_misc_liar",
    authors: ["dmabridge"],
    description: "misuse case: a read that claims more than was asked",
    license: "GPL v2",
}
