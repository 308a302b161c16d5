//! Commit-slot formats: a file whose slots are still format 1 (the whole
//! header block, written before 2026-11-27) opens, and the first format-2
//! slot written over one leaves no stale bytes behind.

use super::header::{COMMIT_LEN, COMMIT_SLOTS};
use super::{EncryptedBackend, KdfParams, Key, KeySource};
use redb::StorageBackend;
use redb::backends::InMemoryBackend;
use std::path::Path;

const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

fn key() -> KeySource {
    KeySource::Raw(Key::from_bytes([5; 32]))
}

fn image(b: &impl StorageBackend) -> Vec<u8> {
    let mut v = vec![0u8; b.len().unwrap() as usize];
    b.read(0, &mut v).unwrap();
    v
}

fn backend(img: &[u8]) -> InMemoryBackend {
    let m = InMemoryBackend::new();
    m.set_len(img.len() as u64).unwrap();
    m.write(0, img).unwrap();
    m
}

fn open(img: &[u8]) -> EncryptedBackend<InMemoryBackend> {
    EncryptedBackend::open(backend(img), Path::new("v1.redb"), &key()).unwrap()
}

#[test]
fn format_1_slots_open_and_are_replaced_cleanly() {
    let enc = EncryptedBackend::open_or_create(
        InMemoryBackend::new(),
        Path::new("v1.redb"),
        &key(),
        KdfParams::insecure_for_tests(),
    )
    .unwrap();
    let mut header = vec![0u8; 4096];
    header[..9].copy_from_slice(&REDB_MAGIC);
    header[300] = 0x42;
    enc.write(0, &header).unwrap();
    enc.write(4096, &[0xAB; 4096]).unwrap();
    enc.sync_data().unwrap();
    enc.write(0, &header).unwrap();
    enc.write(8192, &[0xCD; 4096]).unwrap();
    enc.sync_data().unwrap();
    let keys = &enc.keys;
    let mut img = image(&enc.inner);
    // Re-encode both slots in format 1, as an older version wrote them.
    for (i, &o) in COMMIT_SLOTS.iter().enumerate() {
        let o = o as usize;
        let c = keys.open_commit(i, &img[o..o + COMMIT_LEN]).unwrap();
        let v1 = keys.seal_commit_v1(&c);
        img[o..o + COMMIT_LEN].copy_from_slice(&v1);
        assert_eq!(keys.open_commit(i, &v1).unwrap().epoch, c.epoch);
    }
    let e = open(&img);
    assert_eq!(e.verify(), Vec::<String>::new());
    let mut got = vec![0u8; 3 * 4096];
    e.read(0, &mut got).unwrap();
    assert_eq!(got[..4096], header[..]);
    assert!(got[4096..8192].iter().all(|&b| b == 0xAB));
    assert!(got[8192..].iter().all(|&b| b == 0xCD));
    // Two more commits write format-2 slots over both format-1 ones.
    for fill in [0x11u8, 0x22] {
        e.write(4096, &[fill; 4096]).unwrap();
        e.write(0, &header).unwrap();
        e.sync_data().unwrap();
    }
    assert_eq!(e.verify(), Vec::<String>::new(), "stale format-1 bytes");
    let img = image(&e.into_inner());
    for &o in &COMMIT_SLOTS {
        assert_eq!(&img[o as usize..o as usize + 8], b"ADBCMT02");
    }
    let e = open(&img);
    e.read(4096, &mut got[..4096]).unwrap();
    assert!(got[..4096].iter().all(|&b| b == 0x22));
}

/// redb's header block with every byte non-zero seals into a format-2 slot
/// of 4,224 bytes, 4 more than format 1: the open must read all of it (it
/// read 4,220 and panicked slicing past the end).
#[test]
fn a_header_block_used_to_its_last_byte_reopens() {
    let enc = EncryptedBackend::open_or_create(
        InMemoryBackend::new(),
        Path::new("full.redb"),
        &key(),
        KdfParams::insecure_for_tests(),
    )
    .unwrap();
    let mut header = vec![0xA5u8; 4096];
    header[..9].copy_from_slice(&REDB_MAGIC);
    enc.write(0, &header).unwrap();
    enc.sync_data().unwrap();
    let img = image(&enc.inner);
    let e = open(&img);
    let mut got = vec![0u8; 4096];
    e.read(0, &mut got).unwrap();
    assert_eq!(got, header);
    assert_eq!(e.verify(), Vec::<String>::new());
}

/// Every header parser takes any prefix of a slot, and a format-2 slot
/// whose length field claims more than the bytes at hand, without a panic.
#[test]
fn header_parsers_take_any_length() {
    use super::header::{FileKeys, KeySlot, commit_len};
    use super::layout::Trailer;
    let enc = EncryptedBackend::open_or_create(
        InMemoryBackend::new(),
        Path::new("p.redb"),
        &key(),
        KdfParams::insecure_for_tests(),
    )
    .unwrap();
    let mut header = vec![0x5Au8; 4096];
    header[..9].copy_from_slice(&REDB_MAGIC);
    enc.write(0, &header).unwrap();
    enc.sync_data().unwrap();
    let img = image(&enc.inner);
    let keys = FileKeys::new(&Key::from_bytes([1; 32]), [2; 16]);
    // The sync wrote epoch 2, into slot 0.
    let slot = &img[COMMIT_SLOTS[0] as usize..COMMIT_SLOTS[0] as usize + 4224];
    assert_eq!(commit_len(slot), Some(4224));
    for n in 0..=slot.len() {
        let b = &slot[..n];
        assert_eq!(commit_len(b), (n == 4224).then_some(4224), "{n}");
        assert!(keys.open_commit(0, b).is_err());
        let _ = KeySlot::decode(&img[..n.min(200)]);
        assert_eq!(Trailer::decode(&[0u8; 64][..n.min(64)]).is_some(), n >= 64);
    }
}
