// SPDX-License-Identifier: GPL-2.0

//! PCI vendor and class codes, as mainline 6.18 has them.
//!
//! C header: [`include/linux/pci_ids.h`](srctree/include/linux/pci_ids.h)

use core::fmt;

/// A PCI vendor ID.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub struct Vendor(u16);

macro_rules! vendors {
    ($($(#[$m:meta])* $name:ident = $id:expr,)*) => {
        impl Vendor {
            $($(#[$m])* pub const $name: Self = Self($id);)*
        }
    };
}

vendors! {
    /// `PCI_VENDOR_ID_AMD`.
    AMD = 0x1022,
    /// `PCI_VENDOR_ID_ARM`.
    ARM = 0x13b5,
    /// `PCI_VENDOR_ID_INTEL`.
    INTEL = 0x8086,
    /// `PCI_VENDOR_ID_NVIDIA`.
    NVIDIA = 0x10de,
    /// `PCI_VENDOR_ID_QCOM`.
    QCOM = 0x17cb,
    /// `PCI_VENDOR_ID_REDHAT` (QEMU's own devices, e.g. pci-testdev).
    REDHAT = 0x1b36,
    /// `PCI_VENDOR_ID_REDHAT_QUMRANET` (virtio).
    REDHAT_QUMRANET = 0x1af4,
    /// `PCI_VENDOR_ID_SAMSUNG`.
    SAMSUNG = 0x144d,
}

impl Vendor {
    /// A vendor ID that has no constant here (for example QEMU's edu device,
    /// 0x1234, which `pci_ids.h` does not list).
    ///
    /// Not in mainline 6.18, whose vendors are only its constants: a driver
    /// that uses this needs a constant for its vendor there.
    pub const fn from_raw(id: u16) -> Self {
        Self(id)
    }

    /// The 16-bit ID.
    pub const fn as_raw(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:04x}", self.0)
    }
}

/// A 24-bit PCI class code: class, subclass and programming interface.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub struct Class(u32);

impl Class {
    /// `PCI_CLASS_STORAGE_EXPRESS`: an NVMe controller (0x010802).
    pub const STORAGE_EXPRESS: Self = Self(0x010802);
    /// `PCI_CLASS_NETWORK_ETHERNET << 8`.
    pub const NETWORK_ETHERNET: Self = Self(0x020000);
    /// `PCI_CLASS_OTHERS << 16`: unclassified (QEMU's edu is 0x00ff00).
    pub const OTHERS: Self = Self(0xff0000);

    /// A class code; the top byte is ignored.
    pub const fn from_raw(class: u32) -> Self {
        Self(class & 0xff_ffff)
    }

    /// The 24-bit code.
    pub const fn as_raw(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:06x}", self.0)
    }
}

/// Which part of a class code a table entry matches.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub enum ClassMask {
    /// Class, subclass and programming interface.
    Full = 0xff_ffff,
    /// Class and subclass, any programming interface.
    ClassSubclass = 0xff_ff00,
}

impl ClassMask {
    /// The mask.
    pub const fn as_raw(self) -> u32 {
        self as u32
    }
}
