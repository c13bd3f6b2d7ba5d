// SPDX-License-Identifier: GPL-2.0

//! Misuse: a misc device whose `open` registers another misc device and
//! drops a registration. `misc_open` holds the misc core's global mutex while
//! it calls `open`, and `misc_register`/`misc_deregister` take it: done
//! directly, both would deadlock every misc open on the system.

use kernel::{
    c_str,
    miscdevice::{MiscDevice, MiscDeviceRegistration, Vtable},
    new_mutex,
    prelude::*,
    sync::Mutex,
};

struct Inner;

impl MiscDevice for Inner {
    type Data = ();
    type Ptr = ();

    fn open(_data: &()) -> Result {
        Ok(())
    }
}

static INNER_FOPS: Vtable<Inner> = Vtable::new(&THIS_MODULE);

#[pin_data]
struct Shared {
    /// A registration the second open drops.
    #[pin]
    held: Mutex<Option<Pin<KBox<MiscDeviceRegistration<Inner>>>>>,
}

struct Opener;

impl MiscDevice for Opener {
    type Data = Pin<KBox<Shared>>;
    type Ptr = ();

    fn open(data: &Pin<KBox<Shared>>) -> Result {
        let mut held = data.held.lock();
        if let Some(reg) = held.take() {
            // The second open: drop a registration while the misc lock is held.
            drop(reg);
            return Err(EAGAIN);
        }
        match MiscDeviceRegistration::register(c_str!("dmabridge_inner"), &INNER_FOPS, ()) {
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

static OPENER_FOPS: Vtable<Opener> = Vtable::new(&THIS_MODULE);

struct MisuseMiscOpen {
    _opener: Pin<KBox<MiscDeviceRegistration<Opener>>>,
}

impl kernel::Module for MisuseMiscOpen {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let dropped =
            MiscDeviceRegistration::register(c_str!("dmabridge_dropped"), &INNER_FOPS, ())?;
        let shared = KBox::pin_init(
            pin_init!(Shared {
                held <- new_mutex!(Some(dropped)),
            }),
            GFP_KERNEL,
        )?;
        let opener =
            MiscDeviceRegistration::register(c_str!("dmabridge_opener"), &OPENER_FOPS, shared)?;
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
