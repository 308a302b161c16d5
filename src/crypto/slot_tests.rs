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
