//! Tampering with an encrypted image: bit flips, block surgery, replay,
//! wrong keys. Works on byte images (no files) to stay fast.

use super::crypto_common::*;
use aragora_db::Error;
use aragora_db::crypto::{EncryptedBackend, KeySource, rekey_backend};
use aragora_db::storage::fault::memory_backend;
use std::path::Path;

fn data_blocks(img: &[u8]) -> usize {
    let rest = img.len() - HEADER;
    (rest / GROUP_BYTES) * 64 + (rest % GROUP_BYTES).saturating_sub(4096) / 4096
}

/// Some(description) when the damage is detected by open, a full read or verify.
fn detected(img: &[u8], key: &KeySource) -> Option<String> {
    let enc = match open_image(img, key) {
        Err(e) => return Some(format!("open: {e}")),
        Ok(e) => e,
    };
    // verify() reads and authenticates every block (a full read) and checks
    // the bytes no read looks at.
    let v = enc.verify();
    if !v.is_empty() {
        return Some(format!("verify: {}", v.join("; ")));
    }
    None
}

/// Encoded length of the commit slot at `o` (format 2: 80-byte head, the
/// used part of redb's header block, tag and MAC).
fn slot_len(img: &[u8], o: usize) -> usize {
    assert_eq!(&img[o..o + 8], b"ADBCMT02", "commit slot at {o}");
    let used = u32::from_le_bytes(img[o + 76..o + 80].try_into().unwrap()) as usize;
    assert!(used > 0 && used <= 4096, "{used}");
    80 + used + 48
}

fn small_image() -> Vec<u8> {
    let img = build(&raw_key(7), 150, 30);
    assert!(img.len() >= 64 * 1024, "image is only {} bytes", img.len());
    img
}

#[test]
fn the_pristine_image_passes() {
    let img = small_image();
    assert_eq!(detected(&img, &raw_key(7)), None);
}

/// Every bit with ARAGORA_CRYPTO_EXHAUSTIVE=1 (about 750,000 opens, minutes).
/// By default: every bit of the used parts of the key slots, the commit
/// slots' fields and MAC, and every trailer; one bit (rotating) in every 16
/// bytes elsewhere: ciphertext, padding, unused space. Release builds only
/// (CI runs `cargo test --release`).
#[test]
#[cfg_attr(debug_assertions, ignore = "slow unoptimised; runs in release")]
fn bit_flips_are_all_detected() {
    let key = raw_key(7);
    let img = small_image();
    let exhaustive = std::env::var("ARAGORA_CRYPTO_EXHAUSTIVE").is_ok_and(|v| v == "1");
    let n = data_blocks(&img);
    let dense = |i: usize| {
        [0usize, 2048].iter().any(|&o| (o..o + 168).contains(&i))
            || [4096usize, 12288]
                .iter()
                .any(|&o| (o..o + slot_len(&img, o)).contains(&i))
            || (0..n).any(|d| (trailer_off(d)..trailer_off(d) + 64).contains(&i))
    };
    let mut missed = Vec::new();
    let mut tried = 0u64;
    let mut work = img.clone();
    for byte in 0..img.len() {
        let bits: Vec<u8> = if exhaustive || dense(byte) {
            (0..8).collect()
        } else if byte % 16 == 0 {
            vec![(byte / 16 % 8) as u8]
        } else {
            continue;
        };
        for bit in bits {
            work[byte] ^= 1 << bit;
            tried += 1;
            if detected(&work, &key).is_none() {
                missed.push((byte, bit));
            }
            work[byte] ^= 1 << bit;
        }
    }
    println!(
        "bit flips: {tried} of a {}-byte image, {} undetected",
        img.len(),
        missed.len()
    );
    assert!(tried > 10_000, "{tried}");
    assert!(
        missed.is_empty(),
        "{} of {tried} flips undetected, first: {:?}",
        missed.len(),
        &missed[..missed.len().min(10)]
    );
}

fn expect_auth(img: &[u8], what: &str) {
    let d = detected(img, &raw_key(7)).unwrap_or_else(|| panic!("{what}: not detected"));
    assert!(
        d.contains("authentication") || d.contains("block") || d.contains("slot"),
        "{what}: {d}"
    );
}

#[test]
fn structural_tampering_is_detected() {
    let img = small_image();
    let n = data_blocks(&img);
    assert!(n >= 4);
    let block = |img: &[u8], d: usize| img[data_off(d)..data_off(d) + 4096].to_vec();
    let trailer = |img: &[u8], d: usize| img[trailer_off(d)..trailer_off(d) + 64].to_vec();
    let put = |img: &mut Vec<u8>, d: usize, b: &[u8], t: &[u8]| {
        img[data_off(d)..data_off(d) + 4096].copy_from_slice(b);
        img[trailer_off(d)..trailer_off(d) + 64].copy_from_slice(t);
    };
    // Swap two blocks with their trailers.
    let mut m = img.clone();
    let (b1, t1, b2, t2) = (
        block(&img, 1),
        trailer(&img, 1),
        block(&img, 2),
        trailer(&img, 2),
    );
    put(&mut m, 1, &b2, &t2);
    put(&mut m, 2, &b1, &t1);
    expect_auth(&m, "swap");
    // Duplicate block 1 over block 3.
    let mut m = img.clone();
    put(&mut m, 3, &b1, &t1);
    expect_auth(&m, "duplicate");
    // Zero a block (data only, then data and trailer).
    let mut m = img.clone();
    m[data_off(2)..data_off(2) + 4096].fill(0);
    expect_auth(&m, "zero data");
    put(&mut m, 2, &[0; 4096], &[0; 64]);
    expect_auth(&m, "zero block and trailer");
    // Truncate by one byte and by one block; append one byte and one block.
    expect_auth(&img[..img.len() - 1], "truncate 1 byte");
    expect_auth(&img[..img.len() - 4096], "truncate 1 block");
    let mut m = img.clone();
    m.push(0);
    expect_auth(&m, "append 1 byte");
    let mut m = img.clone();
    m.extend_from_slice(&block(&img, 1));
    expect_auth(&m, "append a block");
    // A block copied from another file with the same key.
    let other = build(&raw_key(7), 150, 30);
    let mut m = img.clone();
    put(&mut m, 1, &block(&other, 1), &trailer(&other, 1));
    expect_auth(&m, "block from another file");
}

#[test]
fn a_replayed_block_is_detected() {
    // Take an image, commit more, then put one block back from the old image.
    let key = raw_key(7);
    let (enc, fault) = fresh(&key);
    let db = redb::Builder::new().create_with_backend(enc).unwrap();
    insert(&db, 0, 100, 50);
    let old = image_of(&fault);
    insert(&db, 100, 130, 10);
    drop(db);
    let new = image_of(&fault);
    assert_eq!(detected(&new, &key), None);
    let mut replayed_some = 0;
    for d in 0..data_blocks(&old).min(data_blocks(&new)) {
        let (o, t) = (data_off(d), trailer_off(d));
        if old[o..o + 4096] == new[o..o + 4096] {
            continue;
        }
        replayed_some += 1;
        let mut m = new.clone();
        m[o..o + 4096].copy_from_slice(&old[o..o + 4096]);
        m[t..t + 64].copy_from_slice(&old[t..t + 64]);
        let d2 =
            detected(&m, &key).unwrap_or_else(|| panic!("replay of block {} not detected", d + 1));
        assert!(d2.contains("replayed"), "{d2}");
    }
    assert!(replayed_some > 0, "no block changed between the two images");
}

fn assert_wrong_key(img: &[u8], key: &KeySource, what: &str) {
    let before = img.to_vec();
    let mem = memory_backend(img);
    match EncryptedBackend::open(mem, Path::new(NAME), key) {
        Err(Error::WrongKey { path }) => assert_eq!(path, Path::new(NAME)),
        Err(e) => panic!("{what}: expected WrongKey, got {e}"),
        Ok(_) => panic!("{what}: opened with a wrong key"),
    }
    assert_eq!(img, &before[..], "{what}: bytes changed");
}

#[test]
fn wrong_keys_give_wrong_key_and_write_nothing() {
    let key = raw_key(7);
    let img = small_image();
    // The backend must not write: open a copy through a backend we can inspect.
    for seed in 0..200u8 {
        if seed != 7 {
            assert_wrong_key(&img, &raw_key(seed), "other raw key");
        }
    }
    let KeySource::Raw(k) = &key else {
        unreachable!()
    };
    for bit in 0..256 {
        let mut b = *k.bytes();
        b[bit / 8] ^= 1 << (bit % 8);
        assert_wrong_key(
            &img,
            &KeySource::Raw(aragora_db::crypto::Key::from_bytes(b)),
            "one-bit flip",
        );
    }
    assert_wrong_key(
        &img,
        &KeySource::passphrase("x"),
        "passphrase for a raw-key file",
    );
    // Near-miss passphrases against a passphrase file.
    let pw = "correct horse battery staple";
    let pimg = build(&KeySource::passphrase(pw), 20, 20);
    assert!(open_image(&pimg, &KeySource::passphrase(pw)).is_ok());
    let mut near = vec![
        pw[1..].to_string(),
        format!("{pw} "),
        pw.to_uppercase(),
        pw.replace('h', "H"),
    ];
    near.push(pw.chars().rev().collect());
    for p in &near {
        assert_wrong_key(&pimg, &KeySource::passphrase(p), p);
    }
}

#[test]
fn rekey_switches_keys_atomically() {
    let (old, new) = (raw_key(7), KeySource::passphrase("new one"));
    let img = small_image();
    let mem = memory_backend(&img);
    rekey_backend(&mem, Path::new(NAME), &old, &new, params()).unwrap();
    let img2 = image_of(&mem);
    assert_eq!(detected(&img2, &new), None);
    assert_wrong_key(&img2, &old, "old key after rekey");
    // Only the key slots changed: the data was not rewritten.
    assert_eq!(img[4096..], img2[4096..]);
    // Rekey with a wrong old key changes nothing.
    let mem = memory_backend(&img2);
    let e = rekey_backend(&mem, Path::new(NAME), &old, &raw_key(1), params()).unwrap_err();
    assert!(matches!(e, Error::WrongKey { .. }), "{e}");
    assert_eq!(image_of(&mem), img2);
}

/// Regenerates the fuzz seeds: `cargo test --test it write_fuzz_seeds -- --ignored`.
#[test]
#[ignore = "writes fuzz/corpus/encrypted_file"]
fn write_fuzz_seeds() {
    let key = KeySource::Raw(aragora_db::crypto::Key::from_bytes(
        aragora_db::fuzzing::FUZZ_KEY,
    ));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/encrypted_file");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, rows, per) in [("small", 3, 3), ("rows", 40, 10)] {
        std::fs::write(dir.join(format!("{name}.bin")), build(&key, rows, per)).unwrap();
    }
    // A header alone, and one with no valid key slot.
    let img = build(&key, 1, 1);
    std::fs::write(dir.join("header-only.bin"), &img[..20480]).unwrap();
    let mut bad = img.clone();
    bad[100] ^= 1;
    bad[2048 + 100] ^= 1;
    std::fs::write(dir.join("no-key-slot.bin"), bad).unwrap();
}
