// SPDX-License-Identifier: GPL-2.0

//! Misuse: a misc device whose `open` registers another misc device and
//! drops a registration. `misc_open` holds the misc core's global mutex while
//! it calls `open`, and `misc_register`/`misc_deregister` take it: done
//! directly, both would deadlock every misc open on the system.

use kernel::{
    c_str,
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    new_mutex,
    prelude::*,
    sync::Mutex,
};

struct Inner;

#[vtable]
impl MiscDevice for Inner {
    type Ptr = ();

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result {
        Ok(())
    }
}

#[pin_data]
struct Shared {
    /// A registration the second open drops.
    #[pin]
    held: Mutex<Option<Pin<KBox<MiscDeviceRegistration<Inner>>>>>,
}

struct Opener;

#[vtable]
impl MiscDevice for Opener {
    type Ptr = ();

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result {
        let mut held = misc.data::<Pin<KBox<Shared>>>()?.held.lock();
        if let Some(reg) = held.take() {
            // The second open: drop a registration while the misc lock is held.
            drop(reg);
            return Err(EAGAIN);
        }
        let options = MiscDeviceOptions {
            name: c_str!("dmabridge_inner"),
        };
        match KBox::pin_init(
            MiscDeviceRegistration::<Inner>::register(options),
            GFP_KERNEL,
        ) {
            Ok(_) => {
                pr_err!("misuse: registration in open accepted\n");
                Err(EINVAL)
            }
            Err(e) => {
                pr_info!("misuse: registration in open refused: {:?}\n", e);
                Err(e)
            }
        }
    }
}

struct MisuseMiscOpen {
    _opener: Pin<KBox<MiscDeviceRegistration<Opener>>>,
}

impl kernel::Module for MisuseMiscOpen {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let options = MiscDeviceOptions {
            name: c_str!("dmabridge_dropped"),
        };
        let dropped = KBox::pin_init(MiscDeviceRegistration::register(options), GFP_KERNEL)?;
        let shared = KBox::pin_init(
            pin_init!(Shared {
                held <- new_mutex!(Some(dropped)),
            }),
            GFP_KERNEL,
        )?;
        let options = MiscDeviceOptions {
            name: c_str!("dmabridge_opener"),
        };
        let opener = KBox::pin_init(
            MiscDeviceRegistration::register_with_data(options, shared),
            GFP_KERNEL,
        )?;
        Ok(MisuseMiscOpen { _opener: opener })
    }
}

module! {
    type: MisuseMiscOpen,
    name: "misuse_misc_open",
    authors: ["dmabridge"],
    description: "misuse case: misc registrations from a misc open",
    license: "GPL v2",
}
