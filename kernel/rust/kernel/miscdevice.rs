// SPDX-License-Identifier: GPL-2.0

//! Misc character devices.
//!
//! C header: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h)
//!
//! A [`MiscDeviceRegistration`] creates `/dev/<name>` whose file operations are
//! the methods of a [`MiscDevice`] (a `#[vtable]` trait: the operations a
//! driver does not implement are absent from the C table). Each open gets its
//! own private data ([`MiscDevice::Ptr`]); reads and writes go through the
//! checked [`crate::iov`] vectors, and `mmap` sets up a
//! [`VmaNew`](crate::mm::virt::VmaNew).
//!
//! The file operations are built at compile time in the driver's module; the
//! device is registered with a copy whose owner is that module (found from
//! the address of its code, see `rust/helpers/dmabridge_module.c`). An open
//! file keeps the module loaded, so `rmmod` is refused while files are open,
//! and a file outliving the registration (the device was unbound) still has
//! valid operations.
//!
//! A registration may carry data of the driver's, which [`MiscDevice::open`]
//! reaches through [`MiscDeviceRegistration::data`], without `container_of`.

use crate::{
    alloc::flags::GFP_KERNEL,
    bindings, build_error,
    device::Device,
    error::{code::*, from_result, to_result, Error, Result, VTABLE_DEFAULT_ERROR},
    ffi::{c_char, c_int, c_long, c_uint, c_ulong},
    fs::{File, Kiocb},
    init::PinInit,
    iov::{IovIterDest, IovIterSource},
    lifetime::{in_callback, log_allowed, Callback, Tracked, Unregister},
    mm::virt::VmaNew,
    seq_file::SeqFile,
    str::{CStr, CString},
    sync::Arc,
    types::{ForeignOwnable, Opaque},
};
use core::{
    any::Any,
    ffi::c_void,
    marker::PhantomData,
    mem::{ManuallyDrop, MaybeUninit},
    sync::atomic::{AtomicPtr, Ordering},
};
use macros::vtable;

/// Where `llseek` counts from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Whence {
    /// From the start (`SEEK_SET`).
    Set,
    /// From the current position (`SEEK_CUR`).
    Cur,
    /// From the end (`SEEK_END`).
    End,
}

/// The new position of a seek in a file of `size` bytes: `EINVAL` for an
/// unknown `whence`, a negative result or an overflow.
///
/// # Examples
///
/// ```
/// use kernel::miscdevice::{seek_position, Whence};
///
/// assert_eq!(seek_position(10, 5, Whence::Set, 4096), Ok(5));
/// assert_eq!(seek_position(10, -4, Whence::Cur, 4096), Ok(6));
/// assert_eq!(seek_position(0, -1, Whence::End, 4096), Ok(4095));
/// assert_eq!(seek_position(0, -1, Whence::Set, 4096), Err(EINVAL));
/// assert_eq!(seek_position(1, i64::MAX, Whence::Cur, 4096), Err(EINVAL));
/// ```
pub fn seek_position(pos: i64, offset: i64, whence: Whence, size: i64) -> Result<i64> {
    let base = match whence {
        Whence::Set => 0,
        Whence::Cur => pos,
        Whence::End => size,
    };
    match base.checked_add(offset) {
        Some(p) if p >= 0 => Ok(p),
        _ => Err(EINVAL),
    }
}

/// Options for creating a misc device.
#[derive(Copy, Clone)]
pub struct MiscDeviceOptions {
    /// The name: the device is `/dev/<name>`.
    pub name: &'static CStr,
}

/// The file operations of a misc device, implemented by the type of its
/// files' private data.
///
/// Implementations carry `#[vtable]`; the operations left out are absent from
/// the C table (`read_iter`/`write_iter`/`llseek` absent: `EINVAL`/`ESPIPE`
/// from the VFS; `ioctl` absent: `ENOTTY`).
#[vtable]
pub trait MiscDevice: Sized + 'static {
    /// The per-open private data.
    type Ptr: ForeignOwnable + Send + Sync;

    /// Opens the device: returns the file's private data.
    ///
    /// Runs under the misc core's global mutex: see
    /// [`MiscDeviceRegistration`] for what that forbids.
    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr>;

    /// The last reference to an open file was closed.
    fn release(device: Self::Ptr, _file: &File) {
        drop(device);
    }

    /// Sets up a new mapping of the file (`mmap`), through `vma`'s methods;
    /// the kernel completes the area unless this returns an error.
    fn mmap(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _vma: &VmaNew,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reads into `iov` from the position `kiocb.ki_pos()`, advancing it;
    /// returns the bytes read. More bytes than `iov` had room for, or a
    /// negative position, is turned into `EIO`/`EINVAL` with a log line.
    fn read_iter(_kiocb: Kiocb<'_, Self::Ptr>, _iov: &mut IovIterDest<'_>) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Writes from `iov` at the position `kiocb.ki_pos()`, advancing it;
    /// returns the bytes written (checked as for `read_iter`).
    fn write_iter(_kiocb: Kiocb<'_, Self::Ptr>, _iov: &mut IovIterSource<'_>) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Moves the file position from `pos`; returns the new one (a negative
    /// one is refused with `EINVAL`). See [`seek_position`].
    fn llseek(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _pos: i64,
        _offset: i64,
        _whence: Whence,
    ) -> Result<i64> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles an ioctl; `ENOTTY` for commands it does not know.
    fn ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles an ioctl of 32-bit userspace on a 64-bit kernel; without it,
    /// `compat_ptr_ioctl` passes those to [`MiscDevice::ioctl`].
    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Prints this file's lines of `/proc/<pid>/fdinfo/<fd>`.
    fn show_fdinfo(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _m: &SeqFile,
        _file: &File,
    ) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// A registered misc device: `/dev/<name>` exists while this object lives, and
/// at most until its module is unloaded (a leaked registration is ended then,
/// with a log line; see [`crate::lifetime`]).
///
/// `open` runs under the misc core's global mutex: registering or dropping a
/// misc device from [`MiscDevice::open`] would deadlock every misc open on
/// the system. Registering there fails with `EDEADLK`; a drop there is
/// deferred to a workqueue.
///
/// # Invariants
///
/// `inner` holds a `miscdevice` registered with `misc_register` (until the
/// module's unload, for a leaked one), whose file operations are a copy of
/// `MiscdeviceVTable::<T>::VTABLE`.
pub struct MiscDeviceRegistration<T: MiscDevice> {
    inner: Arc<Tracked<MiscReg>>,
    _t: PhantomData<fn() -> T>,
}

/// The C misc device and what its files share, in the shared allocation.
///
/// # Invariants
///
/// From a successful `misc_register` on, `kept` holds a reference to
/// `misc.this_device`, put when this object is freed.
struct MiscReg {
    misc: Opaque<bindings::miscdevice>,
    kept: AtomicPtr<bindings::device>,
    data: Option<Arc<dyn Any + Send + Sync>>,
    /// The name, when it is not `'static` (the misc core keeps the pointer).
    _name: Option<CString>,
}

// SAFETY: The misc core uses `misc` under its own lock; the rest is `Send + Sync`.
unsafe impl Send for MiscReg {}
// SAFETY: As above.
unsafe impl Sync for MiscReg {}

impl Unregister for MiscReg {
    fn name(&self) -> &CStr {
        // SAFETY: `name` was set to a valid C string (static or owned by `self`) before
        // registering.
        unsafe { CStr::from_char_ptr((*self.misc.get()).name) }
    }

    unsafe fn unregister(&self) {
        // SAFETY: Registered, deregistered once (caller's guarantee).
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

impl Drop for MiscReg {
    fn drop(&mut self) {
        let dev = *self.kept.get_mut();
        if !dev.is_null() {
            // SAFETY: `kept` holds a reference (invariant), put once here.
            unsafe { bindings::put_device(dev) };
        }
    }
}

/// Whether the caller runs inside a [`MiscDevice::open`], which holds the
/// misc core's global mutex.
fn in_misc_open() -> bool {
    in_callback(Callback::MiscOpen)
}

impl MiscReg {
    /// Registers `/dev/<name>` with a module-owned copy of `fops`.
    ///
    /// # Safety
    ///
    /// `name` is a valid C string, `'static` or owned by `owned`.
    unsafe fn register(
        name: *const c_char,
        owned: Option<CString>,
        fops: &'static bindings::file_operations,
        data: Option<Arc<dyn Any + Send + Sync>>,
    ) -> Result<Arc<Tracked<Self>>> {
        // SAFETY: `name` is a valid C string (the caller's guarantee).
        let shown = unsafe { CStr::from_char_ptr(name) };
        crate::lifetime::need_sleepable(shown)?;
        crate::driver::check_name(shown, "misc device")?;
        if in_misc_open() || in_callback(Callback::IrqThread) {
            // An open holds the misc lock; an interrupt thread may be waited
            // for by an open that frees its interrupt.
            crate::pr_err!(
                "misc device {}: registered from a misc open or an interrupt thread; refused\n",
                shown
            );
            return Err(EDEADLK);
        }
        let mut owned_fops = core::ptr::null();
        let mut owner = core::ptr::null_mut();
        // SAFETY: `fops` is a valid table; the helper writes both pointers on success.
        let r = unsafe { bindings::dmabridge_owned_fops(fops, &mut owned_fops, &mut owner) };
        let r = to_result(r);
        if let Err(e) = r {
            crate::pr_err!("misc device {}: no file operations: {:?}\n", shown, e);
            return Err(e);
        }
        let inner = Tracked::new(Self {
            misc: Opaque::uninit(),
            kept: AtomicPtr::new(core::ptr::null_mut()),
            data,
            _name: owned,
        })?;
        let misc = inner.get().misc.get();
        // SAFETY: `misc` points into the `Arc`, which does not move; zero it and fill the fields
        // the misc core reads before registering. `name` outlives the registration (static, or
        // owned by the `Arc`), and so does `owned_fops` (freed after its module's unload, which
        // ends every registration of the module first).
        unsafe {
            misc.write(core::mem::zeroed());
            (*misc).minor = bindings::MISC_DYNAMIC_MINOR as _;
            (*misc).name = name;
            (*misc).fops = owned_fops;
        }
        // SAFETY: `misc` is initialised and stays in place until it is deregistered (the `Arc`
        // lives until then).
        if let Err(e) = to_result(unsafe { bindings::misc_register(misc) }) {
            // E.g. `EEXIST` for a name in use: not deregistered, since
            // `Tracked` only unregisters what it recorded.
            crate::pr_err!("misc device {}: registration failed: {:?}\n", shown, e);
            return Err(e);
        }
        // SAFETY: `misc_register` succeeded, so `this_device` is a valid device; the reference
        // taken here is `kept`'s.
        let dev = unsafe { bindings::get_device((*misc).this_device) };
        // INVARIANT: `kept` holds the reference from here on.
        inner.get().kept.store(dev, Ordering::Release);
        Tracked::registered(&inner, owner)?;
        Ok(inner)
    }

    fn data(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.data.as_deref()
    }
}

impl<T: MiscDevice> MiscDeviceRegistration<T> {
    /// Registers `/dev/<opts.name>` (any free minor number).
    pub fn register(opts: MiscDeviceOptions) -> impl PinInit<Self, Error> {
        Self::init(opts.name.as_char_ptr(), None, || Ok(None))
    }

    /// Registers `/dev/<opts.name>` with `data`, which [`MiscDevice::open`]
    /// reaches through [`Self::data`].
    pub fn register_with_data<D: Any + Send + Sync>(
        opts: MiscDeviceOptions,
        data: D,
    ) -> impl PinInit<Self, Error> {
        Self::init(opts.name.as_char_ptr(), None, move || Self::share(data))
    }

    /// Registers `/dev/<name>` for a name made at run time (e.g. `edu0`), with
    /// `data` as [`Self::register_with_data`] does; the registration keeps
    /// the name.
    pub fn register_named<D: Any + Send + Sync>(
        name: CString,
        data: D,
    ) -> impl PinInit<Self, Error> {
        // The string's buffer does not move when `name` moves.
        let ptr = name.as_char_ptr();
        Self::init(ptr, Some(name), move || Self::share(data))
    }

    fn share<D: Any + Send + Sync>(data: D) -> Result<Option<Arc<dyn Any + Send + Sync>>> {
        let data: Arc<dyn Any + Send + Sync> = Arc::new(data, GFP_KERNEL)?;
        Ok(Some(data))
    }

    fn init(
        name: *const c_char,
        owned: Option<CString>,
        data: impl FnOnce() -> Result<Option<Arc<dyn Any + Send + Sync>>>,
    ) -> impl PinInit<Self, Error> {
        crate::devres::init_value(move || {
            let fops = &MiscdeviceVTable::<T>::VTABLE;
            // SAFETY: `name` is `'static` or owned by `owned` (the callers).
            let inner = unsafe { MiscReg::register(name, owned, fops, data()?) }?;
            // INVARIANT: Registered with a copy of `T`'s table.
            Ok(Self {
                inner,
                _t: PhantomData,
            })
        })
    }

    /// The raw `struct miscdevice`.
    pub fn as_raw(&self) -> *mut bindings::miscdevice {
        self.inner.get().misc.get()
    }

    /// The device of `/dev/<name>` (`this_device`).
    pub fn device(&self) -> &Device {
        // SAFETY: `kept` holds a reference to `this_device` until the shared object is freed,
        // which the borrow of `self` outlasts (invariant of `MiscReg`).
        unsafe { Device::from_raw((*self.as_raw()).this_device) }
    }

    /// The data given to [`Self::register_with_data`] or
    /// [`Self::register_named`]: `EINVAL` and a log line if there is none of
    /// type `D`.
    pub fn data<D: Any + Send + Sync>(&self) -> Result<&D> {
        let reg = self.inner.get();
        match reg.data().and_then(|d| d.downcast_ref::<D>()) {
            Some(d) => Ok(d),
            None => {
                if log_allowed() {
                    crate::pr_err!(
                        "misc device {}: has no data of type {}\n",
                        reg.name(),
                        core::any::type_name::<D>()
                    );
                }
                Err(EINVAL)
            }
        }
    }
}

impl<T: MiscDevice> Drop for MiscDeviceRegistration<T> {
    fn drop(&mut self) {
        release(&self.inner);
    }
}

/// A registration handle's drop.
fn release(inner: &Arc<Tracked<MiscReg>>) {
    let inner = inner.clone();
    let release = move || Tracked::release(&inner);
    if in_misc_open() || in_callback(Callback::IrqThread) {
        // `misc_deregister` takes the lock this task holds, or that an open
        // waiting for this interrupt thread (in `free_irq`) holds.
        crate::lifetime::defer(
            "misc device registration",
            "in a misc open or an interrupt thread",
            release,
        );
    } else {
        crate::lifetime::release_sleepable("misc device registration", release);
    }
}

/// The C file operations of a [`MiscDevice`].
struct MiscdeviceVTable<T: MiscDevice>(PhantomData<T>);

impl<T: MiscDevice> MiscdeviceVTable<T> {
    /// The template a registration copies (with its module as owner).
    const VTABLE: bindings::file_operations = bindings::file_operations {
        open: Some(open_callback::<T>),
        release: Some(release_callback::<T>),
        mmap: if T::HAS_MMAP {
            Some(mmap_callback::<T>)
        } else {
            None
        },
        read_iter: if T::HAS_READ_ITER {
            Some(read_iter_callback::<T>)
        } else {
            None
        },
        write_iter: if T::HAS_WRITE_ITER {
            Some(write_iter_callback::<T>)
        } else {
            None
        },
        llseek: if T::HAS_LLSEEK {
            Some(llseek_callback::<T>)
        } else {
            None
        },
        unlocked_ioctl: if T::HAS_IOCTL {
            Some(ioctl_callback::<T>)
        } else {
            None
        },
        #[cfg(CONFIG_COMPAT)]
        compat_ioctl: if T::HAS_COMPAT_IOCTL {
            Some(compat_ioctl_callback::<T>)
        } else if T::HAS_IOCTL {
            Some(bindings::compat_ptr_ioctl)
        } else {
            None
        },
        show_fdinfo: if T::HAS_SHOW_FDINFO {
            Some(show_fdinfo_callback::<T>)
        } else {
            None
        },
        // SAFETY: All zeros is a valid `file_operations` (no operations, no owner).
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };
}

/// The driver's data and the file, for an operation on an open file.
///
/// # Safety
///
/// `raw_file` was opened by [`open_callback`], is not released yet, and
/// stays valid for `'a` (the VFS's guarantee for a file operation's call).
unsafe fn file_args<'a, T: MiscDevice>(
    raw_file: *mut bindings::file,
) -> (<T::Ptr as ForeignOwnable>::Borrowed<'a>, &'a File) {
    // SAFETY: `open_callback` stored `into_foreign` of a `T::Ptr`, which lives until
    // `release_callback`; the VFS does not call other operations after it.
    let this = unsafe { T::Ptr::borrow((*raw_file).private_data) };
    // SAFETY: The file is valid for `'a` (the caller's guarantee).
    (this, unsafe { File::from_raw_file(raw_file) })
}

/// Runs `f` marked as a misc open ([`in_misc_open`] is true in it), or
/// refuses (`ENOMEM`, with a log line) if the mark cannot be allocated: run
/// unmarked, an open that registers a misc device would deadlock on the misc
/// lock.
fn as_marked_open<R>(f: impl FnOnce() -> R) -> Result<R> {
    // SAFETY: Allocates and lists a node for the current task, or returns null.
    let node = unsafe { bindings::dmabridge_callback_enter(Callback::MiscOpen as u32) };
    if node.is_null() {
        if log_allowed() {
            crate::pr_err!("misc: no memory to mark an open; refused\n");
        }
        return Err(ENOMEM);
    }
    let r = f();
    // SAFETY: Listed by the enter above, unlisted and freed once here.
    unsafe { bindings::dmabridge_callback_exit(node) };
    Ok(r)
}

/// # Safety
///
/// Called by `misc_open` on a file of a [`MiscDeviceRegistration<T>`], with
/// valid arguments.
unsafe extern "C" fn open_callback<T: MiscDevice>(
    inode: *mut bindings::inode,
    raw_file: *mut bindings::file,
) -> c_int {
    // SAFETY: The VFS passes a valid inode and file being opened.
    let ret = unsafe { bindings::generic_file_open(inode, raw_file) };
    if ret != 0 {
        return ret;
    }
    // SAFETY: `misc_open` put the `struct miscdevice` in `private_data`.
    let misc = unsafe { (*raw_file).private_data }.cast::<bindings::miscdevice>();
    let offset =
        core::mem::offset_of!(Tracked<MiscReg>, reg) + core::mem::offset_of!(MiscReg, misc);
    let tracked = misc
        .cast::<u8>()
        .wrapping_sub(offset)
        .cast::<Tracked<MiscReg>>();
    // A view of the registration for `open`; never dropped, so the handle's
    // drop does not run and the reference count is unchanged.
    let view = ManuallyDrop::new(MiscDeviceRegistration::<T> {
        // SAFETY: Only `MiscReg::register` registers these operations, with the `misc` of a
        // `MiscReg` in a `Tracked` in an `Arc`, so `tracked` is the object the `Arc` holds;
        // `misc` has the allocation's provenance (from C). `misc_open` holds the misc lock, which
        // `misc_deregister` takes, so the device is still registered and the handle or the
        // module's list holds a reference while `view` lives.
        inner: unsafe { Arc::from_raw(tracked) },
        _t: PhantomData,
    });
    // SAFETY: `misc_open` set `f_op` to the registered copy.
    if !unsafe { bindings::dmabridge_fops_live((*raw_file).f_op) } {
        // The module is still loading: if its init failed, it would be freed
        // under this file.
        if log_allowed() {
            crate::pr_warn!("misc: opened while its module is loading; refused\n");
        }
        return EAGAIN.to_errno();
    }
    // SAFETY: The file is valid for the whole call.
    let file = unsafe { File::from_raw_file(raw_file) };
    let opened = as_marked_open(|| T::open(file, &view));
    match opened.and_then(|r| r.map_err(|e| checked_errno(e, "open"))) {
        Ok(ptr) => {
            // SAFETY: `raw_file` is valid; the pointer is taken back in `release_callback`.
            unsafe { (*raw_file).private_data = ptr.into_foreign() as *mut c_void };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS on a file opened by [`open_callback`], with valid
/// arguments.
unsafe extern "C" fn release_callback<T: MiscDevice>(
    _inode: *mut bindings::inode,
    raw_file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` holds `into_foreign` of the open data; release is the last operation
    // on the file.
    let ptr = unsafe { T::Ptr::from_foreign((*raw_file).private_data) };
    // SAFETY: The file is valid for the whole call.
    T::release(ptr, unsafe { File::from_raw_file(raw_file) });
    0
}

/// # Safety
///
/// Called by the VFS on a file opened by [`open_callback`], with an area
/// being set up by `mmap`.
unsafe extern "C" fn mmap_callback<T: MiscDevice>(
    raw_file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: The VFS passes a file opened by `open_callback`, valid for the call.
    let (this, file) = unsafe { file_args::<T>(raw_file) };
    // SAFETY: `mmap_region` calls `f_op->mmap` on an area it is setting up, with the mmap write
    // lock held, before the area is visible to anyone else.
    let vma = unsafe { VmaNew::from_raw(vma) };
    match T::mmap(this, file, vma) {
        Ok(()) => 0,
        Err(e) => checked_errno(e, "mmap").to_errno(),
    }
}

/// A driver's error, checked before the VFS sees it: the kernel-internal
/// codes (512 and above) have meanings the VFS acts on (`EIOCBQUEUED`: an
/// asynchronous completion will follow, which never would) or must not
/// reach userspace (`ERESTARTSYS` without a pending signal); they become
/// `EIO`, with a log line.
fn checked_errno(e: Error, op: &str) -> Error {
    // `ERESTARTSYS` means "a signal interrupted me": the signal code turns
    // it into `EINTR` or a restart, but only if a signal is pending.
    if e.to_errno() > -512 || (e == ERESTARTSYS && crate::current!().signal_pending()) {
        return e;
    }
    if log_allowed() {
        crate::pr_err!("misc: {} returned the kernel-internal {:?}\n", op, e);
    }
    EIO
}

/// A driver's ioctl result: a negative count would read as an error code.
fn checked_ioctl(r: Result<isize>, op: &str) -> Result<c_long> {
    match r {
        Ok(n) if n < 0 => {
            if log_allowed() {
                crate::pr_err!("misc: {} returned the negative count {}\n", op, n);
            }
            Err(EIO)
        }
        Ok(n) => Ok(n as c_long),
        // The C convention for an unknown command: `vfs_ioctl` makes it `ENOTTY`.
        Err(e) if e == ENOIOCTLCMD => Err(e),
        Err(e) => Err(checked_errno(e, op)),
    }
}

/// A driver's read or write result, checked before the VFS sees it: a
/// negative position, or more bytes than the vector held, is `EINVAL` /
/// `EIO` and a log line (not a count userspace would trust), and the
/// position is put back; an error as [`checked_errno`] says.
///
/// # Safety
///
/// `kiocb` is valid.
unsafe fn checked_iter(
    kiocb: *mut bindings::kiocb,
    old_pos: i64,
    r: Result<usize>,
    count: usize,
    op: &str,
) -> Result<isize> {
    // SAFETY: `kiocb` is valid (the caller's guarantee).
    let pos = unsafe { &mut (*kiocb).ki_pos };
    let refused = if *pos < 0 {
        if log_allowed() {
            crate::pr_err!("misc: {} left the negative position {}\n", op, *pos);
        }
        EINVAL
    } else {
        match r {
            Ok(n) if n > count => {
                if log_allowed() {
                    crate::pr_err!("misc: {} returned {} bytes of {}\n", op, n, count);
                }
                EIO
            }
            Ok(n) => return Ok(n as isize),
            Err(e) => return Err(checked_errno(e, op)),
        }
    };
    *pos = old_pos;
    Err(refused)
}

/// # Safety
///
/// Called by the VFS on a file opened by [`open_callback`], with valid
/// arguments.
unsafe extern "C" fn read_iter_callback<T: MiscDevice>(
    raw: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
) -> isize {
    from_result(|| {
        // SAFETY: `raw` is valid and this call's for its duration; its file was opened by
        // `open_callback`, so the private data is a `T::Ptr`, valid until `release`.
        let kiocb = unsafe { Kiocb::<T::Ptr>::from_raw(raw) };
        // SAFETY: A read's vector is a valid destination, this call's for its duration.
        let iov = unsafe { IovIterDest::from_raw(iter) };
        let (count, pos) = (iov.len(), kiocb.ki_pos());
        let r = T::read_iter(kiocb, iov);
        // SAFETY: `raw` is valid.
        unsafe { checked_iter(raw, pos, r, count, "read_iter") }
    })
}

/// # Safety
///
/// Called by the VFS on a file opened by [`open_callback`], with valid
/// arguments.
unsafe extern "C" fn write_iter_callback<T: MiscDevice>(
    raw: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
) -> isize {
    from_result(|| {
        // SAFETY: As in `read_iter_callback`.
        let kiocb = unsafe { Kiocb::<T::Ptr>::from_raw(raw) };
        // SAFETY: A write's vector is a valid source, this call's for its duration.
        let iov = unsafe { IovIterSource::from_raw(iter) };
        let (count, pos) = (iov.len(), kiocb.ki_pos());
        let r = T::write_iter(kiocb, iov);
        // SAFETY: `raw` is valid.
        unsafe { checked_iter(raw, pos, r, count, "write_iter") }
    })
}

/// # Safety
///
/// Called by the VFS on a file opened by [`open_callback`], with valid
/// arguments.
unsafe extern "C" fn llseek_callback<T: MiscDevice>(
    raw_file: *mut bindings::file,
    offset: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    from_result(|| {
        let whence = match whence as u32 {
            bindings::SEEK_SET => Whence::Set,
            bindings::SEEK_CUR => Whence::Cur,
            bindings::SEEK_END => Whence::End,
            _ => return Err(EINVAL),
        };
        // SAFETY: The VFS passes a file opened by `open_callback`, valid for the call.
        let (this, file) = unsafe { file_args::<T>(raw_file) };
        // SAFETY: `raw_file` is valid. Like C drivers, the position is read and written without a
        // lock (a character device has no `FMODE_ATOMIC_POS`); volatile accesses keep the
        // compiler from assuming nobody else writes it.
        let pos = unsafe { core::ptr::read_volatile(&raw const (*raw_file).f_pos) };
        let new =
            T::llseek(this, file, pos, offset, whence).map_err(|e| checked_errno(e, "llseek"))?;
        if new < 0 {
            if log_allowed() {
                crate::pr_err!("misc: llseek returned the negative position {}\n", new);
            }
            return Err(EINVAL);
        }
        // SAFETY: As above.
        unsafe { core::ptr::write_volatile(&raw mut (*raw_file).f_pos, new) };
        Ok(new)
    })
}

/// # Safety
///
/// Called by the VFS on a file opened by [`open_callback`], with valid
/// arguments.
unsafe extern "C" fn ioctl_callback<T: MiscDevice>(
    raw_file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    from_result(|| {
        // SAFETY: The VFS passes a file opened by `open_callback`, valid for the call.
        let (this, file) = unsafe { file_args::<T>(raw_file) };
        checked_ioctl(T::ioctl(this, file, cmd, arg), "ioctl")
    })
}

/// # Safety
///
/// Called by the VFS on a file opened by [`open_callback`], with valid
/// arguments.
#[cfg(CONFIG_COMPAT)]
unsafe extern "C" fn compat_ioctl_callback<T: MiscDevice>(
    raw_file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    from_result(|| {
        // SAFETY: The VFS passes a file opened by `open_callback`, valid for the call.
        let (this, file) = unsafe { file_args::<T>(raw_file) };
        checked_ioctl(T::compat_ioctl(this, file, cmd, arg), "compat_ioctl")
    })
}

/// # Safety
///
/// Called by the VFS on a file opened by [`open_callback`], with a
/// `seq_file` this thread writes.
unsafe extern "C" fn show_fdinfo_callback<T: MiscDevice>(
    seq_file: *mut bindings::seq_file,
    raw_file: *mut bindings::file,
) {
    // SAFETY: The VFS passes a file opened by `open_callback`, valid for the call.
    let (this, file) = unsafe { file_args::<T>(raw_file) };
    // SAFETY: The `seq_file` is valid and this thread's for the call.
    let m = unsafe { SeqFile::from_raw(seq_file) };
    T::show_fdinfo(this, m, file);
}
