// SPDX-License-Identifier: GPL-2.0

//! Misc character devices.
//!
//! C header: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h)
//!
//! A [`MiscDeviceRegistration`] creates `/dev/<name>` whose file operations are
//! the methods of a [`MiscDevice`]. Each open gets its own private data
//! ([`MiscDevice::Ptr`]); read and write work on user buffers through the
//! checked [`crate::uaccess`] types.
//!
//! The file operations table lives in a [`Vtable`] `static` of the driver
//! module, with the module as owner: an open file keeps the module loaded, so
//! `rmmod` is refused while files are open, and a file outliving the
//! registration (the device was unbound) still has valid operations.

use crate::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::{code::*, from_result, to_result, Result},
    lifetime::{as_callback, in_callback, Callback, Tracked, Unregister},
    str::{CStr, CString},
    sync::Arc,
    types::{ForeignOwnable, Opaque},
    uaccess::{UserSlice, UserSliceReader, UserSliceWriter},
    ThisModule,
};
use core::{ffi::c_void, marker::PhantomData, pin::Pin};

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

/// The file operations of a misc device.
pub trait MiscDevice: Sized + 'static {
    /// Data shared by every open file of one registration.
    type Data: Send + Sync + 'static;

    /// The per-open private data.
    type Ptr: ForeignOwnable + Send + Sync;

    /// Opens the device.
    fn open(data: &Self::Data) -> Result<Self::Ptr>;

    /// The last reference to an open file was closed.
    fn release(_this: Self::Ptr) {}

    /// Reads into `writer` from file position `*pos`, advancing it.
    fn read(
        _this: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _writer: &mut UserSliceWriter,
        _pos: &mut i64,
    ) -> Result<usize> {
        Err(EINVAL)
    }

    /// Writes from `reader` at file position `*pos`, advancing it.
    fn write(
        _this: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _reader: &mut UserSliceReader,
        _pos: &mut i64,
    ) -> Result<usize> {
        Err(EINVAL)
    }

    /// Moves the file position; returns the new one.
    fn llseek(
        _this: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _pos: i64,
        _offset: i64,
        _whence: Whence,
    ) -> Result<i64> {
        Err(ESPIPE)
    }

    /// Handles an ioctl; `ENOTTY` for commands it does not know.
    fn ioctl(
        _this: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        Err(ENOTTY)
    }
}

/// The file operations table of a [`MiscDevice`], owned by the driver module.
///
/// # Examples
///
/// ```ignore
/// static FOPS: kernel::miscdevice::Vtable<MyDevice> =
///     kernel::miscdevice::Vtable::new(&THIS_MODULE);
/// ```
pub struct Vtable<T: MiscDevice>(bindings::file_operations, PhantomData<T>);

// SAFETY: The table is immutable after construction.
unsafe impl<T: MiscDevice> Sync for Vtable<T> {}

impl<T: MiscDevice> Vtable<T> {
    /// Builds the table for `module`.
    pub const fn new(module: &'static ThisModule) -> Self {
        // SAFETY: All zeros is a valid `file_operations` (no operations).
        let mut f: bindings::file_operations = unsafe { core::mem::zeroed() };
        f.owner = module.as_ptr();
        f.open = Some(open_callback::<T>);
        f.release = Some(release_callback::<T>);
        f.read = Some(read_callback::<T>);
        f.write = Some(write_callback::<T>);
        f.llseek = Some(llseek_callback::<T>);
        f.unlocked_ioctl = Some(ioctl_callback::<T>);
        Self(f, PhantomData)
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
/// `inner` holds a `miscdevice` registered with `misc_register`, whose `fops`
/// point to a `'static` [`Vtable<T>`].
pub struct MiscDeviceRegistration<T: MiscDevice> {
    inner: Arc<Tracked<MiscReg<T>>>,
}

/// The C misc device and what its files share, pinned in the shared
/// allocation.
struct MiscReg<T: MiscDevice> {
    misc: Opaque<bindings::miscdevice>,
    data: T::Data,
    /// The name, when it is not `'static` (the misc core keeps the pointer).
    _name: Option<CString>,
}

// SAFETY: The misc core uses `misc` under its own lock; `data` is `Send + Sync`.
unsafe impl<T: MiscDevice> Send for MiscReg<T> {}
// SAFETY: As above.
unsafe impl<T: MiscDevice> Sync for MiscReg<T> {}

impl<T: MiscDevice> Unregister for MiscReg<T> {
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

/// Whether the caller runs inside a [`MiscDevice::open`], which holds the
/// misc core's global mutex.
fn in_misc_open() -> bool {
    in_callback(Callback::MiscOpen)
}

impl<T: MiscDevice> MiscDeviceRegistration<T> {
    /// Registers `/dev/<name>` (any free minor number) with `data` shared by
    /// every open file.
    pub fn register(
        name: &'static CStr,
        vtable: &'static Vtable<T>,
        data: T::Data,
    ) -> Result<Pin<KBox<Self>>> {
        Self::register_inner(name.as_char_ptr(), None, vtable, data)
    }

    /// Registers `/dev/<name>` for a name made at run time (e.g. `edu0`); the
    /// registration keeps the name.
    pub fn register_named(
        name: CString,
        vtable: &'static Vtable<T>,
        data: T::Data,
    ) -> Result<Pin<KBox<Self>>> {
        // The string's buffer does not move when `name` moves into the box.
        let ptr = name.as_char_ptr();
        Self::register_inner(ptr, Some(name), vtable, data)
    }

    fn register_inner(
        name: *const crate::ffi::c_char,
        owned: Option<CString>,
        vtable: &'static Vtable<T>,
        data: T::Data,
    ) -> Result<Pin<KBox<Self>>> {
        // SAFETY: `name` is a valid C string (static or owned by `owned`).
        let shown = unsafe { CStr::from_char_ptr(name) };
        crate::lifetime::need_sleepable(shown)?;
        if in_misc_open() {
            crate::pr_err!(
                "misc device {}: registered from a misc open, which holds the misc lock; refused\n",
                shown
            );
            return Err(EDEADLK);
        }
        let inner = Tracked::new(MiscReg::<T> {
            misc: Opaque::uninit(),
            data,
            _name: owned,
        })?;
        let misc = inner.get().misc.get();
        // SAFETY: `misc` points into the pinned `Arc`; zero it and fill the fields the misc core
        // reads before registering. `name` is static or owned by the `Arc`, so it outlives the
        // registration.
        unsafe {
            misc.write(core::mem::zeroed());
            (*misc).minor = bindings::MISC_DYNAMIC_MINOR as _;
            (*misc).name = name;
            (*misc).fops = &vtable.0;
        }
        // SAFETY: `misc` is initialised and pinned until it is deregistered (the `Arc` lives until
        // then).
        if let Err(e) = to_result(unsafe { bindings::misc_register(misc) }) {
            // E.g. `EEXIST` for a name in use: not deregistered, since
            // `Tracked` only unregisters what it recorded.
            crate::pr_err!("misc device {}: registration failed: {:?}\n", shown, e);
            return Err(e);
        }
        Tracked::registered(&inner, vtable.0.owner)?;
        // INVARIANT: Registered above.
        // A failed allocation drops the handle, which unregisters.
        Ok(KBox::pin(Self { inner }, GFP_KERNEL)?)
    }

    /// The shared data.
    pub fn data(&self) -> &T::Data {
        &self.inner.get().data
    }
}

impl<T: MiscDevice> Drop for MiscDeviceRegistration<T> {
    fn drop(&mut self) {
        let inner = self.inner.clone();
        let release = move || Tracked::release(&inner);
        if in_misc_open() {
            // `misc_deregister` takes the lock this task holds.
            crate::lifetime::defer("misc device registration", "in a misc open", release);
        } else {
            crate::lifetime::release_sleepable("misc device registration", release);
        }
    }
}

/// # Safety
///
/// Called by the VFS with a file whose `private_data` is our open data.
unsafe fn borrow<'a, T: MiscDevice>(
    file: *mut bindings::file,
) -> <T::Ptr as ForeignOwnable>::Borrowed<'a> {
    // SAFETY: `open_callback` stored `into_foreign` of a `T::Ptr`, which lives until
    // `release_callback`; the VFS does not call other operations after it.
    unsafe { T::Ptr::borrow((*file).private_data) }
}

/// # Safety
///
/// Called by the VFS on a file of a [`MiscDeviceRegistration<T>`], with valid
/// arguments.
unsafe extern "C" fn open_callback<T: MiscDevice>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> crate::ffi::c_int {
    // SAFETY: `misc_open` put the `struct miscdevice` in `private_data` and holds the misc lock, so
    // the registration that contains it is alive.
    let misc = unsafe { (*file).private_data } as *mut bindings::miscdevice;
    // SAFETY: `misc` is the `misc` field of a `MiscReg<T>` (only those use `Vtable<T>`), so the
    // containing object is valid.
    let reg = unsafe {
        &*(misc as *const u8)
            .sub(core::mem::offset_of!(MiscReg<T>, misc))
            .cast::<MiscReg<T>>()
    };
    let opened = as_callback(Callback::MiscOpen, || T::open(&reg.data));
    match opened {
        Ok(ptr) => {
            // SAFETY: `file` is valid; the pointer is released in `release`.
            unsafe { (*file).private_data = ptr.into_foreign() as *mut c_void };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS on a file of a [`MiscDeviceRegistration<T>`], with valid
/// arguments.
unsafe extern "C" fn release_callback<T: MiscDevice>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> crate::ffi::c_int {
    // SAFETY: `private_data` holds `into_foreign` of the open data; release is the last operation
    // on the file.
    let ptr = unsafe { T::Ptr::from_foreign((*file).private_data) };
    T::release(ptr);
    0
}

/// A driver's new file position, checked before the VFS sees it: `EINVAL`
/// and a log line for a negative one.
fn checked_position(pos: i64, op: &str) -> Result<i64> {
    if pos < 0 {
        crate::pr_err!("misc: {} returned the negative position {}\n", op, pos);
        return Err(EINVAL);
    }
    Ok(pos)
}

/// A driver's read or write result, checked before the VFS sees it: more
/// bytes than asked for, or a negative position, is `EIO` / `EINVAL` and a
/// log line (not a count userspace would trust).
fn checked_transfer(n: usize, count: usize, pos: i64, op: &str) -> Result<isize> {
    checked_position(pos, op)?;
    if n > count {
        crate::pr_err!("misc: {} returned {} bytes of {} asked for\n", op, n, count);
        return Err(EIO);
    }
    Ok(n as isize)
}

/// # Safety
///
/// Called by the VFS on a file of a [`MiscDeviceRegistration<T>`], with valid
/// arguments.
unsafe extern "C" fn read_callback<T: MiscDevice>(
    file: *mut bindings::file,
    buf: *mut crate::ffi::c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    from_result(|| {
        // SAFETY: The VFS passes a valid file opened by `open_callback`.
        let this = unsafe { borrow::<T>(file) };
        let mut writer = UserSlice::new(buf as usize, count).writer();
        // SAFETY: `ppos` is valid for the call.
        let mut pos = unsafe { *ppos };
        let n = checked_transfer(T::read(this, &mut writer, &mut pos)?, count, pos, "read")?;
        // SAFETY: As above.
        unsafe { *ppos = pos };
        Ok(n)
    })
}

/// # Safety
///
/// Called by the VFS on a file of a [`MiscDeviceRegistration<T>`], with valid
/// arguments.
unsafe extern "C" fn write_callback<T: MiscDevice>(
    file: *mut bindings::file,
    buf: *const crate::ffi::c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    from_result(|| {
        // SAFETY: The VFS passes a valid file opened by `open_callback`.
        let this = unsafe { borrow::<T>(file) };
        let mut reader = UserSlice::new(buf as usize, count).reader();
        // SAFETY: `ppos` is valid for the call.
        let mut pos = unsafe { *ppos };
        let n = checked_transfer(T::write(this, &mut reader, &mut pos)?, count, pos, "write")?;
        // SAFETY: As above.
        unsafe { *ppos = pos };
        Ok(n)
    })
}

/// # Safety
///
/// Called by the VFS on a file of a [`MiscDeviceRegistration<T>`], with valid
/// arguments.
unsafe extern "C" fn llseek_callback<T: MiscDevice>(
    file: *mut bindings::file,
    offset: bindings::loff_t,
    whence: crate::ffi::c_int,
) -> bindings::loff_t {
    from_result(|| {
        let whence = match whence as u32 {
            bindings::SEEK_SET => Whence::Set,
            bindings::SEEK_CUR => Whence::Cur,
            bindings::SEEK_END => Whence::End,
            _ => return Err(EINVAL),
        };
        // SAFETY: The VFS passes a valid file opened by `open_callback`.
        let this = unsafe { borrow::<T>(file) };
        // SAFETY: `file` is valid. Like C drivers, the position is read and written without a lock
        // (a character device has no `FMODE_ATOMIC_POS`); volatile accesses keep the compiler from
        // assuming nobody else writes it.
        let pos = unsafe { core::ptr::read_volatile(&raw const (*file).f_pos) };
        let new = checked_position(T::llseek(this, pos, offset, whence)?, "llseek")?;
        // SAFETY: As above.
        unsafe { core::ptr::write_volatile(&raw mut (*file).f_pos, new) };
        Ok(new)
    })
}

/// # Safety
///
/// Called by the VFS on a file of a [`MiscDeviceRegistration<T>`], with valid
/// arguments.
unsafe extern "C" fn ioctl_callback<T: MiscDevice>(
    file: *mut bindings::file,
    cmd: crate::ffi::c_uint,
    arg: crate::ffi::c_ulong,
) -> crate::ffi::c_long {
    from_result(|| {
        // SAFETY: The VFS passes a valid file opened by `open_callback`.
        let this = unsafe { borrow::<T>(file) };
        Ok(T::ioctl(this, cmd, arg)? as crate::ffi::c_long)
    })
}
