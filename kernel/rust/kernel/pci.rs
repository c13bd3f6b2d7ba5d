// SPDX-License-Identifier: GPL-2.0

//! PCI devices and drivers.
//!
//! C header: [`include/linux/pci.h`](srctree/include/linux/pci.h)
//!
//! A PCI driver implements [`Driver`] and registers itself with
//! [`module_pci_driver!`](crate::module_pci_driver). Its probe receives a
//! [`Device<Core>`]: the device is bound for as long as that reference lives, so
//! resources tied to the binding ([`Bar`] mappings, IRQ vectors, interrupt
//! handlers) can be made from it and are released at unbind at the latest.

use crate::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings, device,
    device::{Bound, Core, DeviceContext, Normal},
    devres::{self, Devres},
    driver::{self, BoundDevice},
    error::{code::*, to_result, Error, Result},
    init::PinInit,
    io::{Io, IoRaw},
    str::CStr,
    types::{ARef, AlwaysRefCounted, ForeignOwnable, Opaque},
    ThisModule,
};
use core::{ffi::c_void, marker::PhantomData, ops::Deref, pin::Pin, ptr::NonNull};

mod id;
pub use self::id::{Class, ClassMask, Vendor};

/// The number of standard BARs of a PCI device.
pub const NUM_BARS: u32 = 6;

/// A PCI device ID: the match criteria of one entry of a driver's ID table.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct DeviceId(bindings::pci_device_id);

impl DeviceId {
    const PCI_ANY_ID: u32 = !0;

    /// Matches a vendor and device ID, any subsystem (C: `PCI_DEVICE`).
    pub const fn from_id(vendor: Vendor, device: u32) -> Self {
        Self(bindings::pci_device_id {
            vendor: vendor.as_raw() as u32,
            device,
            subvendor: Self::PCI_ANY_ID,
            subdevice: Self::PCI_ANY_ID,
            class: 0,
            class_mask: 0,
            driver_data: 0,
            override_only: 0,
        })
    }

    /// Matches a class code under `class_mask`, any vendor and device.
    pub const fn from_class(class: u32, class_mask: u32) -> Self {
        Self(bindings::pci_device_id {
            vendor: Self::PCI_ANY_ID,
            device: Self::PCI_ANY_ID,
            subvendor: Self::PCI_ANY_ID,
            subdevice: Self::PCI_ANY_ID,
            class,
            class_mask,
            driver_data: 0,
            override_only: 0,
        })
    }

    /// Matches a vendor's devices of a class (C: `PCI_DEVICE_CLASS` with a
    /// vendor).
    pub const fn from_class_and_vendor(
        class: Class,
        class_mask: ClassMask,
        vendor: Vendor,
    ) -> Self {
        Self(bindings::pci_device_id {
            vendor: vendor.as_raw() as u32,
            device: Self::PCI_ANY_ID,
            subvendor: Self::PCI_ANY_ID,
            subdevice: Self::PCI_ANY_ID,
            class: class.as_raw(),
            class_mask: class_mask.as_raw(),
            driver_data: 0,
            override_only: 0,
        })
    }
}

/// A driver's ID table: `N` IDs, a zeroed sentinel, and per-ID driver data.
///
/// Built by [`pci_device_table!`](crate::pci_device_table); a driver names it
/// as `const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;`.
///
/// # Invariants
///
/// `ids[i].driver_data == i` for every `i < N`, and `sentinel` is all zeros,
/// directly after `ids` (`repr(C)`, same element type), as the C side expects.
#[repr(C)]
pub struct IdArray<U: 'static, const N: usize> {
    ids: [bindings::pci_device_id; N],
    sentinel: bindings::pci_device_id,
    info: [U; N],
}

impl<U: 'static, const N: usize> IdArray<U, N> {
    /// Builds the table; entry `i` matches `ids[i]` and carries `info[i]`.
    pub const fn new(ids: [DeviceId; N], info: [U; N]) -> Self {
        // SAFETY: `pci_device_id` is plain integers: all zeros is valid.
        let zero: bindings::pci_device_id = unsafe { core::mem::zeroed() };
        let mut raw = [zero; N];
        let mut i = 0;
        while i < N {
            raw[i] = ids[i].0;
            raw[i].driver_data = i as _;
            i += 1;
        }
        // INVARIANT: `driver_data` indexes `info`; the sentinel is zero.
        Self {
            ids: raw,
            sentinel: zero,
            info,
        }
    }
}

/// The size in bytes of `table`'s C table: the IDs and the sentinel.
#[doc(hidden)]
pub const fn raw_table_size<U: 'static, const N: usize>(_table: &IdArray<U, N>) -> usize {
    (N + 1) * core::mem::size_of::<bindings::pci_device_id>()
}

/// The bytes of `table`'s C table, for `MODULE_DEVICE_TABLE` (see
/// [`module_device_table!`](crate::module_device_table)). Only an
/// [`IdArray`] is accepted, so the exported symbol holds a real ID table.
#[doc(hidden)]
pub const fn raw_table_bytes<U: 'static, const N: usize, const S: usize>(
    table: &IdArray<U, N>,
) -> [core::mem::MaybeUninit<u8>; S] {
    assert!(S == raw_table_size(table));
    // `IdArray` is `repr(C)` and starts with the `N + 1` IDs, which are `S`
    // bytes (asserted above); any bytes, padding included, are valid
    // `MaybeUninit<u8>`.
    // SAFETY: The read is of `S` bytes inside `*table`, which `&table` keeps valid.
    unsafe {
        core::ptr::read((table as *const IdArray<U, N>).cast::<[core::mem::MaybeUninit<u8>; S]>())
    }
}

mod sealed {
    pub trait Sealed {}
}

impl<U: 'static, const N: usize> sealed::Sealed for IdArray<U, N> {}

/// What a driver's ID table gives the PCI core. Sealed: only [`IdArray`].
pub trait DeviceIdTable<U: 'static>: sealed::Sealed + Sync {
    /// The C table, terminated by a zeroed entry.
    fn as_ptr(&self) -> *const bindings::pci_device_id;
    /// The driver data of entry `index`.
    fn info(&self, index: usize) -> Option<&U>;
    /// The number of IDs.
    fn len(&self) -> usize;
    /// Whether the table is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<U: Sync + 'static, const N: usize> DeviceIdTable<U> for IdArray<U, N> {
    fn as_ptr(&self) -> *const bindings::pci_device_id {
        // A pointer derived from the whole array, not from `self.ids`: the C
        // matcher reads the sentinel after the IDs, which a pointer to `ids`
        // alone has no right to (and with `N == 0` covers no bytes at all).
        // `ids` is the first field of the `repr(C)` struct.
        (self as *const Self).cast()
    }

    fn info(&self, index: usize) -> Option<&U> {
        self.info.get(index)
    }

    fn len(&self) -> usize {
        N
    }
}

/// A driver's ID table as [`Driver::ID_TABLE`] takes it (as in mainline 6.18).
pub type IdTable<U> = &'static dyn DeviceIdTable<U>;

/// Declares a driver's PCI ID table `$table` and its module device table
/// `$module_table` (the `MODULE_DEVICE_TABLE` that gives the module its
/// `alias=pci:...` lines, so it autoloads), as mainline 6.18 does.
///
/// # Examples
///
/// ```
/// use kernel::pci;
///
/// kernel::pci_device_table!(
///     TABLE,
///     MODULE_TABLE,
///     u32,
///     [
///         (pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8), 7),
///         (pci::DeviceId::from_class(0x010802, !0), 9)
///     ]
/// );
/// const ID_TABLE: pci::IdTable<u32> = &TABLE;
/// assert_eq!(ID_TABLE.len(), 2);
/// assert_eq!(ID_TABLE.info(1), Some(&9));
/// ```
#[macro_export]
macro_rules! pci_device_table {
    ($table:ident, $module_table:ident, $info:ty, [$(($id:expr, $data:expr)),* $(,)?]) => {
        const $table: $crate::pci::IdArray<$info, { [$(stringify!($id)),*].len() }> =
            $crate::pci::IdArray::new([$($id),*], [$($data),*]);
        $crate::module_device_table!("pci", $module_table, $table);
    };
}

/// Exports `$table` (an [`IdArray`], nothing else) as the module's PCI
/// device table, the symbol `modpost` turns into `alias=pci:...` lines (C:
/// `MODULE_DEVICE_TABLE(pci, ...)`). Only `"pci"` is accepted; the symbol,
/// data named `__mod_pci__<module path>__<table>_device_table`, is emitted
/// only in modules (as in C), so built-in code cannot collide on it, and
/// the kernel never runs or links it.
// rustfmt indents the attribute's lines further on every run.
#[rustfmt::skip]
#[macro_export]
macro_rules! module_device_table {
    ("pci", $module_table:ident, $table:ident) => {
        #[cfg(MODULE)]
        #[export_name = concat!(
            "__mod_pci__", module_path!(), "__", stringify!($table), "_device_table"
        )]
        static $module_table: [::core::mem::MaybeUninit<u8>; $crate::pci::raw_table_size(&$table)] =
            $crate::pci::raw_table_bytes(&$table);
    };
}

/// A PCI driver.
///
/// # Examples
///
/// It needs a bound device, so the doctest only builds it (nothing runs);
/// the driver tests (`drivers/dma_test`, `drivers/pci_test`) make these calls on QEMU's edu.
///
/// ```
/// use kernel::{device::Core, pci, prelude::*};
///
/// struct MyDriver;
///
/// kernel::pci_device_table!(
///     PCI_TABLE,
///     MODULE_PCI_TABLE,
///     (),
///     [(pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8), ())]
/// );
///
/// impl pci::Driver for MyDriver {
///     type IdInfo = ();
///     const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;
///
///     fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
///         pdev.enable_device_mem()?;
///         Ok(KBox::pin(MyDriver, GFP_KERNEL)?)
///     }
/// }
/// ```
pub trait Driver: Send + Sync + 'static {
    /// Data attached to each ID of the table, handed to `probe`.
    type IdInfo: Send + Sync + 'static;

    /// The devices this driver binds to.
    const ID_TABLE: IdTable<Self::IdInfo>;

    /// Binds the driver to `pdev`. The returned object lives until unbind.
    ///
    /// `id_info` belongs to the table entry the PCI core matched. It does not
    /// prove which device this is: a device steered to the driver with
    /// `driver_override` matches the core's catch-all ID, and gets the first
    /// entry's data. Check the device's IDs where it matters.
    fn probe(pdev: &Device<Core>, id_info: &Self::IdInfo) -> Result<Pin<KBox<Self>>>;

    /// Called at unbind, before the driver's object is dropped: quiesce the
    /// device here. Resources tied to the binding are released after this.
    fn unbind(_pdev: &Device<Core>, _this: Pin<&Self>) {}
}

/// The glue between a [`Driver`] and the C PCI core.
pub struct Adapter<T: Driver>(PhantomData<T>);

// SAFETY: `register` registers the pinned `pci_driver` until `unregister`.
unsafe impl<T: Driver> driver::RegistrationOps for Adapter<T> {
    type RegType = bindings::pci_driver;

    unsafe fn register(
        reg: &Opaque<Self::RegType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        let pdrv = reg.get();
        // SAFETY: `pdrv` is valid and pinned (caller's guarantee), not yet registered, so we may
        // write it.
        unsafe {
            (*pdrv).name = name.as_char_ptr();
            (*pdrv).probe = Some(Self::probe_callback);
            (*pdrv).remove = Some(Self::remove_callback);
            // The table is `'static` and zero-terminated (`IdArray`'s
            // invariants; `DeviceIdTable` is sealed to it).
            (*pdrv).id_table = T::ID_TABLE.as_ptr();
        }
        // SAFETY: `pdrv` is a fully initialised `pci_driver` that stays pinned until `unregister`.
        to_result(unsafe {
            bindings::__pci_register_driver(pdrv, module.as_ptr(), name.as_char_ptr())
        })
    }

    unsafe fn unregister(reg: &Opaque<Self::RegType>) {
        // SAFETY: `reg` was registered (caller's guarantee).
        unsafe { bindings::pci_unregister_driver(reg.get()) }
    }
}

impl<T: Driver> Adapter<T> {
    extern "C" fn probe_callback(
        pdev: *mut bindings::pci_dev,
        id: *const bindings::pci_device_id,
    ) -> core::ffi::c_int {
        // SAFETY: The PCI core calls probe with a valid device, held locked and being bound to this
        // driver for the duration of the call.
        let dev = unsafe { Device::<Core>::from_raw(pdev) };
        // The entry that matched is one of our table, a dynamic ID (whose
        // `driver_data` `new_id` checked against our table), or, for
        // `driver_override`, the core's static catch-all ID (`driver_data` 0).
        // SAFETY: Each of these is a valid `pci_device_id` for the duration of the call.
        let id = unsafe { &*id };
        let Some(info) = T::ID_TABLE.info(id.driver_data) else {
            // A dynamic ID (sysfs new_id) whose driver_data indexes nothing.
            dev_err(
                dev,
                crate::c_str!("no driver data for this ID (dynamic ID?)"),
            );
            return EINVAL.to_errno();
        };
        // The device lock is held: a driver registration from here would
        // deadlock attaching this very device (see `driver::Registration`).
        let probed =
            crate::lifetime::as_callback(crate::lifetime::Callback::Device, || T::probe(dev, info));
        match probed {
            Ok(data) => {
                let ptr = data.into_foreign();
                // SAFETY: `pdev` is valid; drvdata is ours while bound.
                unsafe { bindings::pci_set_drvdata(pdev, ptr as *mut c_void) };
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    extern "C" fn remove_callback(pdev: *mut bindings::pci_dev) {
        // SAFETY: The PCI core calls remove with a valid, locked, bound device.
        let dev = unsafe { Device::<Core>::from_raw(pdev) };
        // SAFETY: `pdev` is valid.
        let ptr = unsafe { bindings::pci_get_drvdata(pdev) };
        // SAFETY: A successful probe stored `into_foreign` of the driver's object; remove is called
        // once per successful probe.
        let data = unsafe { <Pin<KBox<T>> as ForeignOwnable>::from_foreign(ptr) };
        crate::lifetime::as_callback(crate::lifetime::Callback::Device, || {
            T::unbind(dev, data.as_ref());
            // The driver's object may own DMA memory the device still uses (a
            // ring it polls): stop the device's DMA before that memory is
            // freed. Devres would disable the device only after freeing it.
            dev.clear_master();
            drop(data);
        });
    }
}

fn dev_err<Ctx: DeviceContext>(dev: &Device<Ctx>, msg: &CStr) {
    // SAFETY: `dev` is valid; the format is a constant with one `%s` argument that is a valid C
    // string.
    unsafe {
        bindings::_dev_err(
            dev.as_dev_raw(),
            crate::c_str!("%s\n").as_char_ptr(),
            msg.as_char_ptr(),
        )
    };
}

/// Declares a kernel module that registers a single PCI driver.
///
/// # Examples
///
/// ```ignore
/// kernel::module_pci_driver! {
///     type: MyDriver,
///     name: "my_driver",
///     authors: ["Someone"],
///     description: "My PCI driver",
///     license: "GPL v2",
/// }
/// ```
#[macro_export]
macro_rules! module_pci_driver {
    (type: $type:ty, name: $name:tt, $($rest:tt)*) => {
        struct __ModulePciDriver {
            _reg: ::core::pin::Pin<
                $crate::alloc::KBox<$crate::driver::Registration<$crate::pci::Adapter<$type>>>,
            >,
        }

        impl $crate::Module for __ModulePciDriver {
            fn init(module: &'static $crate::ThisModule) -> $crate::error::Result<Self> {
                let name = $crate::c_str!($name);
                Ok(Self {
                    _reg: $crate::driver::Registration::new(name, module)?,
                })
            }
        }

        $crate::prelude::module! {
            type: __ModulePciDriver,
            name: $name,
            $($rest)*
        }
    };
}

/// A PCI device.
///
/// `Ctx` tells what the holder of a reference knows about the device (see
/// [`crate::device`]): [`Core`] in bus callbacks, [`Bound`] while bound,
/// [`Normal`] otherwise. References convert to less-capable contexts.
///
/// # Invariants
///
/// The wrapped `struct pci_dev` is valid; for `Bound` and `Core` it is bound to
/// the driver for the lifetime of the reference.
#[repr(transparent)]
pub struct Device<Ctx: DeviceContext = Normal>(Opaque<bindings::pci_dev>, PhantomData<Ctx>);

impl<Ctx: DeviceContext> Device<Ctx> {
    /// # Safety
    ///
    /// `ptr` must be valid for `'a` and satisfy `Ctx`'s guarantee for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::pci_dev) -> &'a Self {
        // SAFETY: `Device` is a transparent wrapper of `pci_dev`; validity and context are the
        // caller's guarantee.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The raw `struct pci_dev`.
    pub fn as_raw(&self) -> *mut bindings::pci_dev {
        self.0.get()
    }

    fn as_dev_raw(&self) -> *mut bindings::device {
        // SAFETY: `self.as_raw()` is valid, so is its embedded `dev`.
        unsafe { &raw mut (*self.as_raw()).dev }
    }

    /// The vendor ID.
    pub fn vendor_id(&self) -> Vendor {
        // SAFETY: The device is valid; `vendor` is fixed after enumeration.
        Vendor::from_raw(unsafe { (*self.as_raw()).vendor })
    }

    /// The device ID.
    pub fn device_id(&self) -> u16 {
        // SAFETY: The device is valid; `device` is fixed after enumeration.
        unsafe { (*self.as_raw()).device }
    }

    /// The revision ID.
    pub fn revision_id(&self) -> u8 {
        // SAFETY: The device is valid; `revision` is fixed after enumeration.
        unsafe { (*self.as_raw()).revision }
    }

    /// The class code (class, subclass, prog-if).
    pub fn pci_class(&self) -> Class {
        // SAFETY: The device is valid; `class` is fixed after enumeration.
        Class::from_raw(unsafe { (*self.as_raw()).class })
    }

    /// The length of BAR `bar`, 0 if it is not implemented; `EINVAL` if `bar`
    /// is not a standard BAR number.
    pub fn resource_len(&self, bar: u32) -> Result<u64> {
        if bar >= NUM_BARS {
            return Err(EINVAL);
        }
        // SAFETY: The device is valid and `bar` is a standard BAR.
        Ok(unsafe { bindings::pci_resource_len(self.as_raw(), bar as _) })
    }

    /// `EINVAL` (and a log line) unless a `T` at `offset` lies inside the
    /// device's configuration space (256 bytes, 4096 for PCIe) and is
    /// aligned to its size.
    fn check_config<T>(&self, offset: u16) -> Result {
        let size = core::mem::size_of::<T>();
        // SAFETY: The device is valid; `cfg_size` is fixed after enumeration.
        let cfg_size = unsafe { (*self.as_raw()).cfg_size } as usize;
        let off = usize::from(offset);
        if off % size != 0 || off + size > cfg_size {
            crate::pr_err!(
                "pci: config access of {} bytes at {:#x} refused (config space is {:#x} bytes)\n",
                size,
                off,
                cfg_size
            );
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Reads a byte of configuration space.
    pub fn read_config_u8(&self, offset: u16) -> Result<u8> {
        self.check_config::<u8>(offset)?;
        let mut v = 0u8;
        // SAFETY: The device is valid; `v` is a valid out pointer.
        to_pcibios(unsafe {
            bindings::pci_read_config_byte(self.as_raw(), offset.into(), &mut v)
        })?;
        Ok(v)
    }

    /// Reads 16 bits of configuration space.
    pub fn read_config_u16(&self, offset: u16) -> Result<u16> {
        self.check_config::<u16>(offset)?;
        let mut v = 0u16;
        // SAFETY: The device is valid; `v` is a valid out pointer.
        to_pcibios(unsafe {
            bindings::pci_read_config_word(self.as_raw(), offset.into(), &mut v)
        })?;
        Ok(v)
    }

    /// Reads 32 bits of configuration space.
    pub fn read_config_u32(&self, offset: u16) -> Result<u32> {
        self.check_config::<u32>(offset)?;
        let mut v = 0u32;
        // SAFETY: The device is valid; `v` is a valid out pointer.
        to_pcibios(unsafe {
            bindings::pci_read_config_dword(self.as_raw(), offset.into(), &mut v)
        })?;
        Ok(v)
    }
}

/// Maps a PCIBIOS result code (positive) to an errno.
fn to_pcibios(ret: core::ffi::c_int) -> Result {
    match ret {
        0 => Ok(()),
        r if r > 0 => Err(EIO),
        r => Err(Error::from_errno(r)),
    }
}

impl Device<Core> {
    /// Enables the device's memory BARs; disabled again at unbind.
    pub fn enable_device_mem(&self) -> Result {
        // SAFETY: The device is valid and bound; the probe path may enable it.
        to_result(unsafe { bindings::pci_enable_device_mem(self.as_raw()) })?;
        // SAFETY: `disable_device` is sound to call with this device until it is unbound (the
        // device outlives its binding).
        unsafe { devres::add_action_or_reset(self, Self::disable_device, self.as_raw().cast()) }
    }

    /// # Safety
    ///
    /// Called by devres, once at unbind, with the device `enable_device_mem` enabled.
    unsafe extern "C" fn disable_device(pdev: *mut c_void) {
        // SAFETY: `pdev` is the device `enable_device_mem` enabled; devres runs this once, at
        // unbind.
        unsafe { bindings::pci_disable_device(pdev.cast()) }
    }

    /// Lets the device master the bus (do DMA); cleared at unbind (before the
    /// driver's object is dropped), whether or not the device was enabled.
    pub fn set_master(&self) {
        // SAFETY: The device is valid and bound.
        unsafe { bindings::pci_set_master(self.as_raw()) };
    }

    /// Allocates between `min` and `max` interrupt vectors of the allowed
    /// `types`; returns how many. They are freed at unbind, after every
    /// [`crate::irq::Registration`] (which are released first).
    pub fn alloc_irq_vectors(&self, min: u32, max: u32, types: IrqTypes) -> Result<u32> {
        self.alloc_vectors(min, max, types.0, None)
    }

    /// As [`Device::alloc_irq_vectors`], with the vectors after the first
    /// `pre_vectors` spread over the possible CPUs (at most one each) and
    /// their affinity managed by the kernel (C `pci_alloc_irq_vectors_affinity`
    /// with `PCI_IRQ_AFFINITY`). Vector `pre_vectors + i` serves the `i`-th of
    /// those groups of CPUs, which are blk-mq's default groups when the tag
    /// set has one hardware queue per spread vector. A managed vector is shut
    /// down while every CPU of its group is offline, and userspace cannot move
    /// it; INTx or a single vector gets no spreading. `EINVAL` and a log line
    /// if `pre_vectors > min`, or if `pre_vectors` is 0 and INTx is allowed
    /// (the MSI core would leak the masks it computes for an INTx fallback).
    /// Not in 6.18's Rust abstractions.
    pub fn alloc_irq_vectors_affinity(
        &self,
        min: u32,
        max: u32,
        types: IrqTypes,
        pre_vectors: u32,
    ) -> Result<u32> {
        if pre_vectors > min {
            crate::pr_err!(
                "pci: {} vectors kept out of the spread, more than the {} required; refused\n",
                pre_vectors,
                min
            );
            return Err(EINVAL);
        }
        if pre_vectors == 0 && types.0 & bindings::PCI_IRQ_INTX != 0 {
            crate::pr_err!(
                "pci: spread vectors with an INTx fallback and no vector kept out; refused\n"
            );
            return Err(EINVAL);
        }
        self.alloc_vectors(
            min,
            max,
            types.0 | bindings::PCI_IRQ_AFFINITY,
            Some(pre_vectors),
        )
    }

    fn alloc_vectors(&self, min: u32, max: u32, flags: u32, pre: Option<u32>) -> Result<u32> {
        if self.irq_kind() != IrqKind::Intx {
            // A second allocation would WARN in the MSI core and register a
            // second release that runs before the IRQ registrations'.
            crate::pr_err!("pci: interrupt vectors are allocated already\n");
            return Err(EBUSY);
        }
        let mut affd = bindings::irq_affinity {
            pre_vectors: pre.unwrap_or(0),
            ..Default::default()
        };
        let affd_ptr = match pre {
            Some(_) => core::ptr::addr_of_mut!(affd),
            None => core::ptr::null_mut(),
        };
        // SAFETY: The device is valid and bound; `affd_ptr` is null or points to `affd`, a local
        // borrowed exclusively for the call: the MSI core reads and writes it (`calc_sets`,
        // `nr_sets`) and keeps no pointer to it after returning (the masks it computes are copied
        // into the MSI descriptors).
        let n = unsafe {
            bindings::pci_alloc_irq_vectors_affinity(self.as_raw(), min, max, flags, affd_ptr)
        };
        to_result(n)?;
        // SAFETY: `free_irq_vectors` is sound to call once, at unbind or now.
        unsafe { devres::add_action_or_reset(self, Self::free_irq_vectors, self.as_raw().cast())? };
        Ok(n as u32)
    }

    /// # Safety
    ///
    /// Called by devres, once at unbind, with the device that has the vectors.
    unsafe extern "C" fn free_irq_vectors(pdev: *mut c_void) {
        // SAFETY: `pdev` had vectors allocated by `alloc_irq_vectors`; devres runs this once, at
        // unbind, after the IRQ registrations were released.
        unsafe { bindings::pci_free_irq_vectors(pdev.cast()) }
    }
}

/// The right to stop a bound device's DMA, reached through
/// [`Device::bus_master`]'s [`Devres`].
///
/// # Invariants
///
/// Reachable only while `pdev` is bound to the driver that made it (the
/// `Devres` revokes it at unbind).
pub struct BusMaster {
    pdev: ARef<Device>,
}

impl BusMaster {
    /// Clears bus mastering (`pci_clear_master`): the device can no longer
    /// do DMA. Does not sleep.
    pub fn clear(&self) {
        // SAFETY: By the type invariant the device is bound to this driver.
        unsafe { bindings::pci_clear_master(self.pdev.as_raw()) };
    }
}

/// Which interrupt kinds [`Device::alloc_irq_vectors`] may use.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IrqTypes(u32);

impl IrqTypes {
    /// Legacy INTx (a shared line).
    pub const INTX: IrqTypes = IrqTypes(bindings::PCI_IRQ_INTX);
    /// MSI.
    pub const MSI: IrqTypes = IrqTypes(bindings::PCI_IRQ_MSI);
    /// MSI-X.
    pub const MSIX: IrqTypes = IrqTypes(bindings::PCI_IRQ_MSIX);
    /// Any of them, preferring MSI-X, then MSI, then INTx.
    pub const ALL: IrqTypes =
        IrqTypes(bindings::PCI_IRQ_INTX | bindings::PCI_IRQ_MSI | bindings::PCI_IRQ_MSIX);
}

impl core::ops::BitOr for IrqTypes {
    type Output = IrqTypes;

    fn bitor(self, rhs: IrqTypes) -> IrqTypes {
        IrqTypes(self.0 | rhs.0)
    }
}

/// The kind of interrupt a device got.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IrqKind {
    /// Legacy INTx.
    Intx,
    /// MSI.
    Msi,
    /// MSI-X.
    Msix,
}

impl core::fmt::Display for IrqKind {
    /// The names the kernel prints (`/proc/interrupts`, `lspci`).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            IrqKind::Intx => "INTx",
            IrqKind::Msi => "MSI",
            IrqKind::Msix => "MSI-X",
        })
    }
}

/// The most interrupt vectors a PCI function can have (MSI-X: 2048).
const MAX_VECTORS: u32 = 2048;

impl Device<Bound> {
    /// The interrupt of vector `index` (after [`Device::alloc_irq_vectors`]),
    /// to request with [`crate::irq::Registration::new`]; `EINVAL` for an
    /// index not allocated, `ENODEV` for INTx on a device without an
    /// interrupt pin.
    pub fn irq_vector(&self, index: u32) -> Result<crate::irq::IrqRequest<'_>> {
        if index >= MAX_VECTORS {
            // The MSI core WARNs on indexes past its maximum before it fails.
            return Err(EINVAL);
        }
        // SAFETY: The device is valid and bound.
        let irq = unsafe { bindings::pci_irq_vector(self.as_raw(), index) };
        to_result(irq)?;
        if irq == 0 {
            // INTx without a pin (or no vectors allocated): no interrupt.
            return Err(ENODEV);
        }
        // SAFETY: `pci_irq_vector` returned one of this device's interrupts.
        Ok(unsafe { crate::irq::IrqRequest::new(self.as_ref(), irq as u32) })
    }

    /// Stops the device from mastering the bus (`pci_clear_master`): it can no
    /// longer do DMA. Only for a bound device: from file operations or work
    /// that may outlive the binding, use [`Device::bus_master`].
    pub fn clear_master(&self) {
        // SAFETY: The device is valid and bound to this driver; clearing bus mastering only stops
        // its DMA.
        unsafe { bindings::pci_clear_master(self.as_raw()) };
    }

    /// A handle that stops the device's DMA ([`BusMaster::clear`]) from any
    /// context of the driver (a timed-out file operation, an interrupt
    /// handler) while the device is bound to it; revoked at unbind, after
    /// which `try_access_with` returns `None` (and the binding has stopped
    /// bus mastering itself).
    pub fn bus_master(&self) -> Result<Devres<BusMaster>> {
        Devres::new_value(
            self,
            BusMaster {
                pdev: ARef::from(&**self),
            },
        )
    }

    /// Which kind of interrupt the device uses now.
    pub fn irq_kind(&self) -> IrqKind {
        // SAFETY: The device is valid; the flags change only in the probe and unbind paths of this
        // driver.
        let (msi, msix) = unsafe {
            let d = self.as_raw();
            ((*d).msi_enabled() != 0, (*d).msix_enabled() != 0)
        };
        match (msi, msix) {
            (_, true) => IrqKind::Msix,
            (true, _) => IrqKind::Msi,
            _ => IrqKind::Intx,
        }
    }

    /// Registers the handler `handler` initialises for interrupt vector
    /// `index` (after [`Device::alloc_irq_vectors`]); freed at unbind at the
    /// latest. With INTx, `flags` must include [`crate::irq::Flags::SHARED`]
    /// and the handler must return [`crate::irq::IrqReturn::None`] for
    /// interrupts that are not its device's.
    pub fn request_irq<'a, T: crate::irq::Handler + Send + 'static>(
        &'a self,
        index: u32,
        flags: crate::irq::Flags,
        name: &'static CStr,
        handler: impl PinInit<T, Error> + 'a,
    ) -> Result<impl PinInit<crate::irq::Registration<T>, Error> + 'a> {
        let request = self.irq_vector(index)?;
        Ok(crate::irq::Registration::new(request, flags, name, handler))
    }

    /// Registers the threaded handler `handler` initialises for interrupt
    /// vector `index`; see [`Device::request_irq`].
    pub fn request_threaded_irq<'a, T: crate::irq::ThreadedHandler + Send + 'static>(
        &'a self,
        index: u32,
        flags: crate::irq::Flags,
        name: &'static CStr,
        handler: impl PinInit<T, Error> + 'a,
    ) -> Result<impl PinInit<crate::irq::ThreadedRegistration<T>, Error> + 'a> {
        let request = self.irq_vector(index)?;
        Ok(crate::irq::ThreadedRegistration::new(
            request, flags, name, handler,
        ))
    }

    /// Sets the device's streaming and coherent DMA masks
    /// (`dma_set_mask_and_coherent`) and returns the capability to allocate
    /// and map DMA memory for it. `EIO` if the platform cannot satisfy `mask`.
    pub fn dma_set_mask_and_coherent(
        &self,
        mask: crate::dma::DmaMask,
    ) -> Result<crate::dma::DmaDevice> {
        crate::dma::DmaDevice::set_mask_and_coherent(self, mask)
    }

    /// Maps memory BAR `bar` of at least `SIZE` bytes, released at unbind.
    ///
    /// Fails with `EINVAL` for a BAR number past the standard BARs, an I/O-port
    /// BAR or one smaller than `SIZE`, `ENODEV` for an unimplemented BAR,
    /// `EBUSY` if another driver holds the region, `ENOMEM` if it cannot be
    /// mapped.
    ///
    /// As in mainline, the result is an initialiser: for a field of the
    /// driver's pinned data (`bar <- pdev.iomap_region_sized::<4096>(0, name)`)
    /// or `KBox::pin_init`.
    pub fn iomap_region_sized<'a, const SIZE: usize>(
        &'a self,
        bar: u32,
        name: &'static CStr,
    ) -> impl PinInit<Devres<Bar<SIZE>>, Error> + 'a {
        Devres::new(
            self.as_ref(),
            crate::devres::init_value(move || Bar::<SIZE>::new(self, bar, name)),
        )
    }

    /// Maps memory BAR `bar`, checked only at run time (`try_read*`).
    pub fn iomap_region<'a>(
        &'a self,
        bar: u32,
        name: &'static CStr,
    ) -> impl PinInit<Devres<Bar>, Error> + 'a {
        self.iomap_region_sized::<0>(bar, name)
    }
}

// SAFETY: A `Device<Bound>` is bound to its driver for the reference's lifetime
// (type invariant).
unsafe impl BoundDevice for Device<Bound> {
    fn as_raw_bound(&self) -> *mut bindings::device {
        self.as_dev_raw()
    }
}

// SAFETY: A `Device<Core>` is bound to its driver for the reference's lifetime
// (type invariant).
unsafe impl BoundDevice for Device<Core> {
    fn as_raw_bound(&self) -> *mut bindings::device {
        self.as_dev_raw()
    }
}

impl Deref for Device<Core> {
    type Target = Device<Bound>;

    fn deref(&self) -> &Device<Bound> {
        // SAFETY: Same layout; a `Core` device is also bound.
        unsafe { &*(self as *const Self).cast() }
    }
}

impl Deref for Device<Bound> {
    type Target = Device;

    fn deref(&self) -> &Device {
        // SAFETY: Same layout; `Normal` promises nothing more than validity.
        unsafe { &*(self as *const Self).cast() }
    }
}

impl<Ctx: DeviceContext> AsRef<device::Device<Ctx>> for Device<Ctx> {
    fn as_ref(&self) -> &device::Device<Ctx> {
        // SAFETY: The embedded `struct device` is valid as long as the PCI
        // device is, and it is the same device, so `Ctx`'s guarantee (bound
        // for the reference's lifetime) carries over.
        unsafe { device::Device::from_raw(self.as_dev_raw()) }
    }
}

// SAFETY: `pci_dev_get`/`pci_dev_put` manage the device's reference count, and
// a `Device<Normal>` needs no more than a reference to stay valid.
unsafe impl AlwaysRefCounted for Device {
    fn inc_ref(&self) {
        // SAFETY: The device is valid, so its count is non-zero.
        unsafe { bindings::pci_dev_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up one reference it owns.
        unsafe { bindings::pci_dev_put(obj.cast().as_ptr()) }
    }
}

// SAFETY: `struct pci_dev` may be used from any thread; its mutable state is
// protected by the C side.
unsafe impl<Ctx: DeviceContext> Send for Device<Ctx> {}
// SAFETY: As above.
unsafe impl<Ctx: DeviceContext> Sync for Device<Ctx> {}

/// A mapped memory BAR of at least `SIZE` bytes; see [`Io`] for access.
///
/// Held in a [`Devres`]: unmapped and released when the driver drops it or at
/// unbind, whichever comes first.
///
/// # Invariants
///
/// `io` describes the mapping of BAR `num` of `pdev`, whose region this object
/// requested; both are released on drop.
pub struct Bar<const SIZE: usize = 0> {
    pdev: ARef<Device>,
    io: IoRaw<SIZE>,
    num: i32,
}

impl<const SIZE: usize> Bar<SIZE> {
    fn new(pdev: &Device<Bound>, num: u32, name: &'static CStr) -> Result<Self> {
        // SAFETY: The device is valid; the helper reads its enable count.
        if !unsafe { bindings::pci_is_enabled(pdev.as_raw()) } {
            // Memory decoding is off: reads would see all-ones, writes vanish.
            crate::pr_err!(
                "pci: BAR {} mapped before the device was enabled; refused\n",
                num
            );
            return Err(EINVAL);
        }
        let len = pdev.resource_len(num)?;
        if len == 0 {
            return Err(ENODEV);
        }
        // SAFETY: The device is valid and `num` a standard BAR.
        let flags = unsafe { bindings::pci_resource_flags(pdev.as_raw(), num as _) };
        if flags & bindings::IORESOURCE_MEM as usize == 0 {
            return Err(EINVAL);
        }
        // SAFETY: The device is valid; `name` is static, as the resource keeps the pointer.
        to_result(unsafe {
            bindings::pci_request_region(pdev.as_raw(), num as _, name.as_char_ptr())
        })?;
        // SAFETY: The region is ours; map it whole.
        let ioptr = unsafe { bindings::pci_iomap(pdev.as_raw(), num as _, 0) } as usize;
        if ioptr == 0 {
            // SAFETY: Requested above.
            unsafe { bindings::pci_release_region(pdev.as_raw(), num as _) };
            return Err(ENOMEM);
        }
        // SAFETY: `ioptr` maps the whole BAR of `len` bytes until `drop`.
        let io = match unsafe { IoRaw::new(ioptr, len as usize) } {
            Ok(io) => io,
            Err(e) => {
                // SAFETY: Mapped and requested above.
                unsafe {
                    bindings::pci_iounmap(pdev.as_raw(), ioptr as _);
                    bindings::pci_release_region(pdev.as_raw(), num as _);
                }
                return Err(e);
            }
        };
        // INVARIANT: Requested and mapped above.
        Ok(Bar {
            pdev: ARef::from(&**pdev),
            io,
            num: num as i32,
        })
    }
}

impl<const SIZE: usize> Drop for Bar<SIZE> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the mapping and region are ours.
        unsafe {
            bindings::pci_iounmap(self.pdev.as_raw(), self.io.addr() as _);
            bindings::pci_release_region(self.pdev.as_raw(), self.num);
        }
    }
}

impl<const SIZE: usize> Deref for Bar<SIZE> {
    type Target = Io<SIZE>;

    fn deref(&self) -> &Io<SIZE> {
        // SAFETY: By the type invariant the mapping is valid while `self` lives.
        unsafe { Io::from_raw(&self.io) }
    }
}

/// Pins a driver object (a convenience for `probe`).
pub fn pin<T>(data: T) -> Result<Pin<KBox<T>>> {
    Ok(KBox::pin(data, GFP_KERNEL)?)
}
