//! The encrypted file's physical header: two key slots and two commit slots.
//!
//! ```text
//! offset 0      key slot A   (168 bytes used of 2048)
//! offset 2048   key slot B
//! offset 4096   commit slot 0 (at most 4224 bytes of 8192), even epochs
//! offset 12288  commit slot 1, odd epochs
//! offset 20480  data groups (see backend.rs)
//!
//! key slot:  magic[16] version:u32 seq:u64 file_id[16] kdf:u8 pad[3]
//!            m_kib:u32 t:u32 p:u32 salt[16] nonce[12] wrapped_dek[32+16]
//!            sha256(bytes 0..136)[32]
//! commit 2:  magic "ADBCMT02" epoch:u64 len:u64 phys_max:u64 summary[32]
//!            nonce[12] used:u32 block0_ciphertext[used+16] hmac_sha256[32]
//!            (`used`: block 0 up to its last non-zero byte; redb's header
//!            is 320 bytes, so a slot fits one 512-byte sector)
//! commit 1:  magic "ADBCMT01", the same fields without `used`, all 4096
//!            bytes of block 0 (read, never written)
//! ```
//! All integers little-endian. A key slot carries a plain checksum (it
//! detects torn writes, not tampering: the wrapped key is authenticated by
//! AES-GCM under the key-encryption key with bytes 0..76 as associated
//! data). The open uses the intact key slot with the highest `seq`, so a
//! rekey is one slot write: either the old or the new slot is current.
//! A commit slot is authenticated by HMAC-SHA256 under a key derived from
//! the data key; the valid slot with the highest epoch is current.

use super::aead::BlockAead;
use super::keys::{KdfParams, Key, KeySource, fill_random};
use crate::error::{Error, Result};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::Path;
use zeroize::Zeroizing;

/// First bytes of every encrypted aragora-db file.
pub const MAGIC: [u8; 16] = *b"aragora-db-enc\x00\x01";
/// Format version.
pub const VERSION: u32 = 1;
/// Where each key slot starts.
pub const KEY_SLOTS: [u64; 2] = [0, 2048];
/// Bytes of a key slot.
pub const KEY_SLOT_LEN: usize = 168;
/// Where each commit slot starts (slot = epoch % 2).
pub const COMMIT_SLOTS: [u64; 2] = [4096, 12288];
/// Bytes of a format-1 commit slot (the whole header block).
pub const COMMIT_LEN: usize = 76 + 4096 + 16 + 32;
/// Bytes before the encrypted header block in a format-2 commit slot.
const COMMIT2_HEAD: usize = 80;
/// Most bytes a commit slot of either format takes: a format-2 slot whose
/// header block is used to its last byte is 4 bytes longer than format 1.
/// Readers read this much, so every slot the writer can produce fits.
pub const COMMIT_MAX: usize = COMMIT2_HEAD + 4096 + 16 + 32;
/// First byte of the data area.
pub const DATA_START: u64 = 20480;
const COMMIT_MAGIC: [u8; 8] = *b"ADBCMT01";
const COMMIT_MAGIC2: [u8; 8] = *b"ADBCMT02";

/// Encoded length of the commit slot at the start of `b`, from its magic
/// (and, in format 2, its length field); `None` if `b` holds no slot or
/// is shorter than the slot claims to be. The bytes are untrusted: every
/// index a caller makes below the returned length is in bounds.
pub fn commit_len(b: &[u8]) -> Option<usize> {
    let magic = b.get(..8)?;
    let len = if magic == COMMIT_MAGIC {
        COMMIT_LEN
    } else if magic == COMMIT_MAGIC2 {
        let used = u32::from_le_bytes(b.get(76..80)?.try_into().ok()?) as usize;
        if used > 4096 {
            return None;
        }
        COMMIT2_HEAD + used + 48
    } else {
        return None;
    };
    (len <= b.len()).then_some(len)
}

/// A decoded key slot.
#[derive(Clone)]
pub struct KeySlot {
    /// Rekey generation.
    pub seq: u64,
    /// Random per-file id, bound into every block.
    pub file_id: [u8; 16],
    /// 0 raw key, 1 Argon2id passphrase.
    pub kdf: u8,
    /// Argon2id parameters (ignored for raw keys).
    pub params: KdfParams,
    /// Argon2id salt.
    pub salt: [u8; 16],
    nonce: [u8; 12],
    wrapped: [u8; 48],
}

impl KeySlot {
    /// A new slot wrapping `dek` under `source`.
    pub fn seal(
        seq: u64,
        file_id: [u8; 16],
        source: &KeySource,
        params: KdfParams,
        dek: &Key,
    ) -> Result<KeySlot> {
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 12];
        fill_random(&mut salt)?;
        fill_random(&mut nonce)?;
        let mut slot = KeySlot {
            seq,
            file_id,
            kdf: source.kind(),
            params,
            salt,
            nonce,
            wrapped: [0; 48],
        };
        let kek = source.kek(&salt, params)?;
        let mut buf = Zeroizing::new(*dek.bytes());
        let aad = slot.encode_prefix();
        let tag = Aes256Gcm::new(kek.bytes().into())
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad[..76], &mut buf[..])
            .map_err(|_| Error::InvalidArgument("AES-GCM key wrap failed".into()))?;
        slot.wrapped[..32].copy_from_slice(&buf[..]);
        slot.wrapped[32..].copy_from_slice(&tag);
        Ok(slot)
    }

    /// Unwraps the data key; `None` means the key is wrong.
    pub fn open(&self, source: &KeySource) -> Result<Option<Key>> {
        if source.kind() != self.kdf {
            return Ok(None);
        }
        let kek = source.kek(&self.salt, self.params)?;
        let mut buf = Zeroizing::new([0u8; 32]);
        buf.copy_from_slice(&self.wrapped[..32]);
        let aad = self.encode_prefix();
        let ok = Aes256Gcm::new(kek.bytes().into())
            .decrypt_in_place_detached(
                Nonce::from_slice(&self.nonce),
                &aad[..76],
                &mut buf[..],
                Tag::from_slice(&self.wrapped[32..]),
            )
            .is_ok();
        Ok(ok.then(|| Key::from_bytes(*buf)))
    }

    fn encode_prefix(&self) -> [u8; KEY_SLOT_LEN] {
        let mut b = [0u8; KEY_SLOT_LEN];
        b[..16].copy_from_slice(&MAGIC);
        b[16..20].copy_from_slice(&VERSION.to_le_bytes());
        b[20..28].copy_from_slice(&self.seq.to_le_bytes());
        b[28..44].copy_from_slice(&self.file_id);
        b[44] = self.kdf;
        b[48..52].copy_from_slice(&self.params.m_kib.to_le_bytes());
        b[52..56].copy_from_slice(&self.params.t.to_le_bytes());
        b[56..60].copy_from_slice(&self.params.p.to_le_bytes());
        b[60..76].copy_from_slice(&self.salt);
        b[76..88].copy_from_slice(&self.nonce);
        b[88..136].copy_from_slice(&self.wrapped);
        b
    }

    /// The slot's bytes, checksum included.
    pub fn encode(&self) -> [u8; KEY_SLOT_LEN] {
        let mut b = self.encode_prefix();
        let sum = Sha256::digest(&b[..136]);
        b[136..].copy_from_slice(&sum);
        b
    }

    /// Decodes a slot; `Err(reason)` when it is not an intact slot.
    pub fn decode(b: &[u8]) -> std::result::Result<KeySlot, &'static str> {
        if b.len() < KEY_SLOT_LEN {
            return Err("short");
        }
        if b[..16] != MAGIC {
            return Err("bad magic");
        }
        if Sha256::digest(&b[..136])[..] != b[136..KEY_SLOT_LEN] {
            return Err("checksum mismatch (torn write or tampering)");
        }
        if u32::from_le_bytes(b[16..20].try_into().expect("4")) != VERSION {
            return Err("unsupported format version");
        }
        let u32at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4"));
        let slot = KeySlot {
            seq: u64::from_le_bytes(b[20..28].try_into().expect("8")),
            file_id: b[28..44].try_into().expect("16"),
            kdf: b[44],
            params: KdfParams {
                m_kib: u32at(48),
                t: u32at(52),
                p: u32at(56),
            },
            salt: b[60..76].try_into().expect("16"),
            nonce: b[76..88].try_into().expect("12"),
            wrapped: b[88..136].try_into().expect("48"),
        };
        if slot.kdf > 1 || b[45..48] != [0, 0, 0] || (slot.kdf == 1 && !slot.params.plausible()) {
            return Err("unknown key derivation or implausible parameters");
        }
        Ok(slot)
    }
}

/// A decoded, authenticated commit slot.
pub struct Commit {
    /// Commit counter.
    pub epoch: u64,
    /// Logical length redb sees.
    pub len: u64,
    /// The most data blocks the file ever held physically (a high-water
    /// mark: stale trailers of truncated blocks lie below it, appended
    /// blocks above it).
    pub phys_max: u64,
    /// XOR of the per-block PRF values (see backend.rs).
    pub summary: [u8; 32],
    /// Logical block 0 (redb's header), decrypted.
    pub block0: Box<[u8; 4096]>,
}

/// The sub-keys derived from a file's data key.
pub struct FileKeys {
    /// File id.
    pub file_id: [u8; 16],
    /// AES-256-GCM for blocks and redb's header block.
    pub aead: BlockAead,
    mac: Key,
    prf: Key,
}

impl FileKeys {
    /// Derives the sub-keys.
    pub fn new(dek: &Key, file_id: [u8; 16]) -> FileKeys {
        let block = dek.derive("aragora-db v1 block aead");
        FileKeys {
            file_id,
            aead: BlockAead::new(block.bytes()),
            mac: dek.derive("aragora-db v1 commit mac"),
            prf: dek.derive("aragora-db v1 block prf"),
        }
    }

    /// PRF(block, tag): one term of the summary.
    pub fn prf(&self, block: u64, tag: &[u8; 16]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(self.prf.bytes()).expect("any length");
        m.update(&block.to_le_bytes());
        m.update(tag);
        m.finalize().into_bytes().into()
    }

    fn mac(&self, body: &[u8]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(self.mac.bytes()).expect("any length");
        m.update(&self.file_id);
        m.update(body);
        m.finalize().into_bytes().into()
    }

    /// Encodes and authenticates a commit slot (format 2: only the used
    /// prefix of redb's header block, so a slot is about 450 bytes).
    pub fn seal_commit(&self, c: &Commit) -> Result<Vec<u8>> {
        let used = c.block0.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
        let mut b = vec![0u8; COMMIT2_HEAD + used + 48];
        b[..8].copy_from_slice(&COMMIT_MAGIC2);
        b[8..16].copy_from_slice(&c.epoch.to_le_bytes());
        b[16..24].copy_from_slice(&c.len.to_le_bytes());
        b[24..32].copy_from_slice(&c.phys_max.to_le_bytes());
        b[32..64].copy_from_slice(&c.summary);
        let mut nonce = [0u8; 12];
        fill_random(&mut nonce)?;
        b[64..76].copy_from_slice(&nonce);
        b[76..80].copy_from_slice(&(used as u32).to_le_bytes());
        let body = COMMIT2_HEAD..COMMIT2_HEAD + used;
        b[body.clone()].copy_from_slice(&c.block0[..used]);
        let tag = self
            .aead
            .seal(&nonce, &self.block0_aad(c.epoch), &mut b[body.clone()]);
        b[body.end..body.end + 16].copy_from_slice(&tag);
        let mac = self.mac(&b[..body.end + 16]);
        b[body.end + 16..].copy_from_slice(&mac);
        Ok(b)
    }

    /// Checks and decodes a commit slot read from position `slot` (`b` is
    /// normally [`COMMIT_MAX`] bytes; any length is safe). Reads format 1 (the whole 4 KiB
    /// header block, files written before 2026-11-27) and format 2.
    pub fn open_commit(&self, slot: usize, b: &[u8]) -> std::result::Result<Commit, &'static str> {
        let len = commit_len(b).ok_or("not a commit slot")?;
        let (head, used) = if b[..8] == COMMIT_MAGIC {
            (76, 4096)
        } else {
            (COMMIT2_HEAD, len - COMMIT2_HEAD - 48)
        };
        let (body, tag_at) = (head..head + used, head + used);
        let mac = self.mac(&b[..tag_at + 16]);
        if mac[..] != b[tag_at + 16..len] {
            return Err("authentication failed (torn write or tampering)");
        }
        let epoch = u64::from_le_bytes(b[8..16].try_into().expect("8"));
        if epoch % 2 != slot as u64 {
            return Err("epoch does not belong in this slot (slot copied)");
        }
        let mut block0 = Box::new([0u8; 4096]);
        block0[..used].copy_from_slice(&b[body]);
        let nonce: [u8; 12] = b[64..76].try_into().expect("12");
        let tag: [u8; 16] = b[tag_at..tag_at + 16].try_into().expect("16");
        if !self
            .aead
            .open(&nonce, &self.block0_aad(epoch), &mut block0[..used], &tag)
        {
            return Err("header block failed authentication");
        }
        Ok(Commit {
            epoch,
            len: u64::from_le_bytes(b[16..24].try_into().expect("8")),
            phys_max: u64::from_le_bytes(b[24..32].try_into().expect("8")),
            summary: b[32..64].try_into().expect("32"),
            block0,
        })
    }

    /// Encodes a format-1 commit slot (the whole header block), as files
    /// written before 2026-11-27 hold them: tests of the reader.
    #[cfg(test)]
    pub(crate) fn seal_commit_v1(&self, c: &Commit) -> Vec<u8> {
        let mut b = vec![0u8; COMMIT_LEN];
        b[..8].copy_from_slice(&COMMIT_MAGIC);
        b[8..16].copy_from_slice(&c.epoch.to_le_bytes());
        b[16..24].copy_from_slice(&c.len.to_le_bytes());
        b[24..32].copy_from_slice(&c.phys_max.to_le_bytes());
        b[32..64].copy_from_slice(&c.summary);
        let nonce = [7u8; 12];
        b[64..76].copy_from_slice(&nonce);
        b[76..76 + 4096].copy_from_slice(&c.block0[..]);
        let tag = self
            .aead
            .seal(&nonce, &self.block0_aad(c.epoch), &mut b[76..76 + 4096]);
        b[4172..4188].copy_from_slice(&tag);
        let mac = self.mac(&b[..4188]);
        b[4188..].copy_from_slice(&mac);
        b
    }

    fn block0_aad(&self, epoch: u64) -> [u8; 32] {
        let mut a = [0u8; 32];
        a[..16].copy_from_slice(&self.file_id);
        a[16..24].copy_from_slice(b"block0\0\0");
        a[24..].copy_from_slice(&epoch.to_le_bytes());
        a
    }
}

/// True if `head` starts with the encrypted-file magic.
pub fn is_encrypted_head(head: &[u8]) -> bool {
    head.len() >= 16 && head[..16] == MAGIC
}

/// True if the file at `path` exists and starts with the encrypted-file magic.
pub fn file_is_encrypted(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let mut head = [0u8; 16];
    let mut n = 0;
    while n < 16 {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(Error::io("read", path, e)),
        }
    }
    Ok(is_encrypted_head(&head[..n]))
}
