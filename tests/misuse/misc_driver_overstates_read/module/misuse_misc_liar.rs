// SPDX-License-Identifier: GPL-2.0

//! Misuse: a misc device whose `read_iter` claims more bytes than userspace
//! asked for (and copied none), and whose `write_iter` leaves a negative file
//! position. The VFS would trust the count (and advance the file position by
//! it) and store the position; the binding turns them into `EIO` and
//! `EINVAL` with a log line, and puts the position back. Its `open` also
//! asks the registration for data of a type it does not hold: `EINVAL`.
//! An 8-byte read returns `EIOCBQUEUED`, which the VFS would act on (`BUG_ON`
//! in `read(2)`): `EIO`. A 16-byte read copies to userspace under a
//! spinlock: the copy is refused (it may fault and sleep) and moves nothing.

use kernel::{
    c_str,
    fs::{
        file::flags::{O_ACCMODE, O_RDWR},
        File, Kiocb,
    },
    iov::{IovIterDest, IovIterSource},
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    new_spinlock,
    prelude::*,
};

struct Liar;

#[vtable]
impl MiscDevice for Liar {
    type Ptr = ();

    fn open(file: &File, misc: &MiscDeviceRegistration<Self>) -> Result {
        if file.flags() & O_ACCMODE == O_RDWR {
            // Registered with a `u32`: asking for a `u64` is refused.
            misc.data::<u64>()?;
            pr_err!("misuse: data of the wrong type handed out\n");
            return Err(EINVAL);
        }
        pr_info!("misuse: opened, data {}\n", misc.data::<u32>()?);
        Ok(())
    }

    fn read_iter(_kiocb: Kiocb<'_, ()>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        match iov.len() {
            // `read(2)` would `BUG_ON` this code; AIO would wait for ever.
            8 => Err(EIOCBQUEUED),
            // A copy of user memory (which may fault, and sleep) under a
            // spinlock: refused, nothing copied.
            16 => {
                let lock = KBox::pin_init(new_spinlock!(()), GFP_KERNEL)?;
                let _guard = lock.lock();
                Ok(iov.copy_to_iter(b"under a spinlock"))
            }
            _ => Ok(100),
        }
    }

    fn write_iter(mut kiocb: Kiocb<'_, ()>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        *kiocb.ki_pos_mut() = -5;
        Ok(iov.len())
    }
}

struct MisuseMiscLiar {
    _misc: Pin<KBox<MiscDeviceRegistration<Liar>>>,
}

impl kernel::Module for MisuseMiscLiar {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let options = MiscDeviceOptions {
            name: c_str!("dmabridge_liar"),
        };
        let misc = KBox::pin_init(
            MiscDeviceRegistration::register_with_data(options, 7u32),
            GFP_KERNEL,
        )?;
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
