//! Helpers shared by the crypto_* test modules.

use aragora_db::crypto::{EncryptedBackend, KdfParams, Key, KeySource};
use aragora_db::storage::fault::{FaultBackend, memory_backend};
use redb::backends::InMemoryBackend;
use redb::{ReadableDatabase, ReadableTable, StorageBackend, TableDefinition};
use std::path::Path;

pub const T: TableDefinition<&[u8], &[u8]> = TableDefinition::new("t");
pub const NAME: &str = "test.redb";

pub fn raw_key(seed: u8) -> KeySource {
    KeySource::Raw(Key::from_bytes(std::array::from_fn(|i| {
        seed.wrapping_add(i as u8)
    })))
}

pub fn params() -> KdfParams {
    KdfParams::insecure_for_tests()
}

/// An encrypted backend over a fault backend; returns both (clones share state).
pub fn fresh(key: &KeySource) -> (EncryptedBackend<FaultBackend>, FaultBackend) {
    let fault = FaultBackend::new(InMemoryBackend::new()).unwrap();
    let enc =
        EncryptedBackend::open_or_create(fault.clone(), Path::new(NAME), key, params()).unwrap();
    (enc, fault)
}

pub fn open_image(
    image: &[u8],
    key: &KeySource,
) -> aragora_db::Result<EncryptedBackend<InMemoryBackend>> {
    EncryptedBackend::open(memory_backend(image), Path::new(NAME), key)
}

/// The whole physical image of a backend.
pub fn image_of(b: &impl StorageBackend) -> Vec<u8> {
    let mut v = vec![0u8; b.len().unwrap() as usize];
    b.read(0, &mut v).unwrap();
    v
}

pub fn row(i: u32) -> (Vec<u8>, Vec<u8>) {
    (
        format!("key-{i:06}").into_bytes(),
        format!("value-{i:06}-{}", "v".repeat((i % 97) as usize)).into_bytes(),
    )
}

/// Inserts rows `from..to`, one durable commit per `per` rows.
pub fn insert(db: &redb::Database, from: u32, to: u32, per: u32) {
    let mut i = from;
    while i < to {
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(T).unwrap();
            for j in i..(i + per).min(to) {
                let (k, v) = row(j);
                t.insert(&k[..], &v[..]).unwrap();
            }
        }
        txn.commit().unwrap();
        i += per;
    }
}

/// All rows, or an error message.
/// Rows as (key, value) pairs.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

pub fn read_all(db: &redb::Database) -> Result<Rows, String> {
    let r = db.begin_read().map_err(|e| e.to_string())?;
    let t = match r.open_table(T) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.to_string()),
    };
    let mut out = Vec::new();
    for e in t.iter().map_err(|e| e.to_string())? {
        let (k, v) = e.map_err(|e| e.to_string())?;
        out.push((k.value().to_vec(), v.value().to_vec()));
    }
    Ok(out)
}

pub fn expected(n: u32) -> Rows {
    (0..n).map(row).collect()
}

/// Builds an encrypted image holding rows 0..n, cleanly closed.
pub fn build(key: &KeySource, n: u32, per: u32) -> Vec<u8> {
    let (enc, fault) = fresh(key);
    {
        let db = redb::Builder::new().create_with_backend(enc).unwrap();
        insert(&db, 0, n, per);
    }
    image_of(&fault)
}

// The documented layout (docs/ENCRYPTION.md): a 20 KiB header, then groups
// of one trailer block and 64 data blocks. Written out here rather than
// taken from the crate, so a layout change the docs do not follow fails.
pub const HEADER: usize = 20480;
pub const GROUP_BYTES: usize = 65 * 4096;

/// Physical offset of data block `d`.
pub fn data_off(d: usize) -> usize {
    HEADER + (d / 64) * GROUP_BYTES + 4096 + (d % 64) * 4096
}

/// Physical offset of data block `d`'s trailer.
pub fn trailer_off(d: usize) -> usize {
    HEADER + (d / 64) * GROUP_BYTES + (d % 64) * 64
}
