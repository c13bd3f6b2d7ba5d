//! A GUID partition table for the guest's partition test: a protective MBR,
//! the primary and the backup GPT, and one Linux partition (UEFI 2.10,
//! section 5.3).

use crate::util::{io_ctx, Result};
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

const SECTOR: u64 = 512;
/// Entries in each copy of the table, of 128 bytes each: 32 sectors.
const ENTRIES: u64 = 128;
const ENTRY_BYTES: u64 = 128;
const ENTRY_SECTORS: u64 = ENTRIES * ENTRY_BYTES / SECTOR;
/// The partition's first sector (1 MiB, as partitioning tools align).
pub const PART_FIRST: u64 = 2048;

/// "Linux filesystem data", 0FC63DAF-8483-4772-8E79-3D69D8477DE4, in the
/// table's mixed-endian byte order.
const LINUX_DATA: [u8; 16] = [
    0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4,
];
/// Fixed GUIDs for the disk and the partition: every boot the same bytes.
const DISK_GUID: [u8; 16] = *b"dmabridge-disk-1";
const PART_GUID: [u8; 16] = *b"dmabridge-part-1";

/// CRC-32 (IEEE 802.3, reflected), as the GPT headers use.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// The last sector of the partition on a disk of `sectors` sectors: the last
/// usable one.
pub fn part_last(sectors: u64) -> u64 {
    sectors - 2 - ENTRY_SECTORS
}

fn entries(sectors: u64) -> Vec<u8> {
    let mut e = vec![0u8; (ENTRIES * ENTRY_BYTES) as usize];
    e[0..16].copy_from_slice(&LINUX_DATA);
    e[16..32].copy_from_slice(&PART_GUID);
    e[32..40].copy_from_slice(&PART_FIRST.to_le_bytes());
    e[40..48].copy_from_slice(&part_last(sectors).to_le_bytes());
    for (i, c) in "dmabridge".encode_utf16().enumerate() {
        e[56 + 2 * i..58 + 2 * i].copy_from_slice(&c.to_le_bytes());
    }
    e
}

/// A header at sector `mine` whose other copy is at `other` and whose
/// entries start at `table`.
fn header(sectors: u64, mine: u64, other: u64, table: u64, entries_crc: u32) -> Vec<u8> {
    let mut h = vec![0u8; SECTOR as usize];
    h[0..8].copy_from_slice(b"EFI PART");
    h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
    h[12..16].copy_from_slice(&92u32.to_le_bytes());
    h[24..32].copy_from_slice(&mine.to_le_bytes());
    h[32..40].copy_from_slice(&other.to_le_bytes());
    h[40..48].copy_from_slice(&(2 + ENTRY_SECTORS).to_le_bytes());
    h[48..56].copy_from_slice(&part_last(sectors).to_le_bytes());
    h[56..72].copy_from_slice(&DISK_GUID);
    h[72..80].copy_from_slice(&table.to_le_bytes());
    h[80..84].copy_from_slice(&(ENTRIES as u32).to_le_bytes());
    h[84..88].copy_from_slice(&(ENTRY_BYTES as u32).to_le_bytes());
    h[88..92].copy_from_slice(&entries_crc.to_le_bytes());
    let crc = crc32(&h[..92]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    h
}

fn protective_mbr(sectors: u64) -> Vec<u8> {
    let mut m = vec![0u8; SECTOR as usize];
    let p = &mut m[446..462];
    p[1..4].copy_from_slice(&[0x00, 0x02, 0x00]);
    p[4] = 0xee;
    p[5..8].copy_from_slice(&[0xff, 0xff, 0xff]);
    p[8..12].copy_from_slice(&1u32.to_le_bytes());
    let size = u32::try_from(sectors - 1).unwrap_or(u32::MAX);
    p[12..16].copy_from_slice(&size.to_le_bytes());
    m[510] = 0x55;
    m[511] = 0xaa;
    m
}

/// Makes `path` a sparse disk image of `bytes` bytes with the table.
pub fn write_image(path: &Path, bytes: u64) -> Result {
    let sectors = bytes / SECTOR;
    let e = entries(sectors);
    let crc = crc32(&e);
    let backup_table = sectors - 1 - ENTRY_SECTORS;
    let mut f = io_ctx(fs::File::create(path), "cannot create", path)?;
    f.set_len(bytes)?;
    let mut at = |sector: u64, data: &[u8]| -> std::io::Result<()> {
        f.seek(SeekFrom::Start(sector * SECTOR))?;
        f.write_all(data)
    };
    let written = (|| {
        at(0, &protective_mbr(sectors))?;
        at(1, &header(sectors, 1, sectors - 1, 2, crc))?;
        at(2, &e)?;
        at(backup_table, &e)?;
        at(
            sectors - 1,
            &header(sectors, sectors - 1, 1, backup_table, crc),
        )
    })();
    io_ctx(written, "cannot write", path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn headers_check() {
        let sectors = 16384;
        let e = entries(sectors);
        let h = header(sectors, 1, sectors - 1, 2, crc32(&e));
        let mut zeroed = h[..92].to_vec();
        zeroed[16..20].fill(0);
        assert_eq!(crc32(&zeroed).to_le_bytes(), h[16..20]);
        assert_eq!(part_last(sectors), 16350);
        assert_eq!(&e[32..40], &2048u64.to_le_bytes());
    }
}
