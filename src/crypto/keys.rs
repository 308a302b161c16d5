//! Key material: raw keys, passphrases, Argon2id, and the sub-keys derived
//! from a file's data key.
//!
//! Every key lives in a [`zeroize::Zeroizing`] buffer, is wiped when dropped,
//! and prints as `<redacted>` in `Debug` output, so it cannot end up in a log.

use crate::error::{Error, Result};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// A 256-bit key. Wiped on drop; never printed.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Key {
    /// Wraps 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(Zeroizing::new(bytes))
    }

    /// A fresh key from the operating system's random source.
    pub fn random() -> Result<Key> {
        let mut k = Zeroizing::new([0u8; 32]);
        fill_random(&mut k[..])?;
        Ok(Key(k))
    }

    /// The key bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses a raw 32-byte key given as 64 hex digits (the original's form)
    /// or as standard / URL-safe base64, padded or not (DATABASE.md's form).
    /// `name` is the variable or flag, for the error message; the error never
    /// repeats the value itself.
    pub fn parse(name: &str, text: &str) -> Result<Key> {
        let t = text.trim();
        let bad = |why: &str| Error::Config {
            name: name.into(),
            value: format!("<{} characters, not shown>", t.len()),
            expected: format!("32 bytes as 64 hex digits or base64 ({why})"),
        };
        let mut out = Zeroizing::new([0u8; 32]);
        if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            for (i, o) in out.iter_mut().enumerate() {
                let hex = &t[2 * i..2 * i + 2];
                *o = u8::from_str_radix(hex, 16).map_err(|_| bad("bad hex digit"))?;
            }
            return Ok(Key(out));
        }
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        let decoded = [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|e| e.decode(t).ok())
            .map(Zeroizing::new)
            .ok_or_else(|| bad(&not_a_key(t)))?;
        if decoded.len() != 32 {
            if t.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(&not_a_key(t)));
            }
            return Err(bad(&format!("base64 decodes to {} bytes", decoded.len())));
        }
        out.copy_from_slice(&decoded);
        Ok(Key(out))
    }

    /// HMAC-SHA256(self, label): a sub-key for one purpose.
    pub(crate) fn derive(&self, label: &str) -> Key {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(self.bytes()).expect("any key length");
        m.update(label.as_bytes());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&m.finalize().into_bytes());
        Key(out)
    }
}

/// Argon2id cost parameters, stored in the file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    /// OWASP's Argon2id recommendation: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        KdfParams {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        }
    }
}

impl KdfParams {
    /// Cheap parameters for tests only (never for real passphrases).
    pub fn insecure_for_tests() -> Self {
        KdfParams {
            m_kib: 64,
            t: 1,
            p: 1,
        }
    }

    /// Bounds for parameters read from an untrusted header, so a forged
    /// header cannot make us allocate gigabytes or spin for minutes.
    pub(crate) fn plausible(&self) -> bool {
        (8..=(1 << 20)).contains(&self.m_kib)
            && (1..=64).contains(&self.t)
            && (1..=16).contains(&self.p)
    }
}

/// Where the key-encryption key comes from.
#[derive(Clone)]
pub enum KeySource {
    /// `ARAGORA_ENCRYPTION_KEY`: 32 raw bytes, used directly.
    Raw(Key),
    /// `ARAGORA_SQLITE_KEY`: a passphrase, stretched with Argon2id.
    Passphrase(Zeroizing<String>),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Raw(_) => f.write_str("KeySource::Raw(<redacted>)"),
            KeySource::Passphrase(_) => f.write_str("KeySource::Passphrase(<redacted>)"),
        }
    }
}

impl KeySource {
    /// A passphrase source.
    pub fn passphrase(p: &str) -> KeySource {
        KeySource::Passphrase(Zeroizing::new(p.to_string()))
    }

    /// Header code: 0 raw, 1 Argon2id.
    pub(crate) fn kind(&self) -> u8 {
        match self {
            KeySource::Raw(_) => 0,
            KeySource::Passphrase(_) => 1,
        }
    }

    /// The key-encryption key for a header with this kind, salt and params.
    pub(crate) fn kek(&self, salt: &[u8; 16], params: KdfParams) -> Result<Key> {
        match self {
            KeySource::Raw(k) => Ok(k.derive("aragora-db v1 kek raw")),
            KeySource::Passphrase(p) => {
                let prm = argon2::Params::new(params.m_kib, params.t, params.p, Some(32))
                    .map_err(|e| Error::InvalidArgument(format!("Argon2id parameters: {e}")))?;
                let a =
                    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, prm);
                let mut out = Zeroizing::new([0u8; 32]);
                a.hash_password_into(p.as_bytes(), salt, &mut out[..])
                    .map_err(|e| Error::InvalidArgument(format!("Argon2id: {e}")))?;
                Ok(Key(out))
            }
        }
    }
}

/// Fills `buf` from the operating system's random source.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| {
        Error::InvalidArgument(format!("the operating system's random source failed: {e}"))
    })
}

/// Random 96-bit nonces, drawn from the operating system 64 at a time
/// (one `getrandom` call per 64 block writes instead of one per write).
pub(crate) struct NoncePool {
    buf: [u8; 12 * 64],
    used: usize,
}

impl Default for NoncePool {
    fn default() -> Self {
        NoncePool {
            buf: [0; 12 * 64],
            used: 12 * 64,
        }
    }
}

impl NoncePool {
    /// The next nonce; never the same bytes twice from one pool refill.
    pub fn next(&mut self) -> std::io::Result<[u8; 12]> {
        if self.used == self.buf.len() {
            fill_random(&mut self.buf).map_err(std::io::Error::other)?;
            self.used = 0;
        }
        let mut n = [0u8; 12];
        n.copy_from_slice(&self.buf[self.used..self.used + 12]);
        self.used += 12;
        Ok(n)
    }
}

/// Why `t` is not a key, in the user's terms: a string of hex digits of
/// the wrong length is a hex key with digits missing or extra, not
/// "neither hex nor base64".
fn not_a_key(t: &str) -> String {
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("{} hex digits given", t.len())
    } else {
        "neither hex nor base64".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_key_accepts_hex_and_base64() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 7 + 3) as u8);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        for t in [hex.clone(), hex.to_uppercase(), b64, url] {
            assert_eq!(Key::parse("K", &t).unwrap().bytes(), &bytes, "{t}");
        }
        for bad in ["", "zz", &hex[..62], "c2hvcnQ="] {
            let e = Key::parse("ARAGORA_ENCRYPTION_KEY", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("ARAGORA_ENCRYPTION_KEY"), "{e}");
        }
    }

    #[test]
    fn default_kdf_meets_owasp_and_rejects_absurd_headers() {
        let d = KdfParams::default();
        assert!(d.m_kib >= 19 * 1024 && d.t >= 2 && d.p == 1, "{d:?}");
        assert!(d.plausible());
        let huge = KdfParams {
            m_kib: u32::MAX,
            ..d
        };
        assert!(!huge.plausible());
        // Same passphrase, different salts: different keys.
        let s = KeySource::passphrase("pw");
        let p = KdfParams::insecure_for_tests();
        let a = s.kek(&[1; 16], p).unwrap();
        let b = s.kek(&[2; 16], p).unwrap();
        assert_ne!(a.bytes(), b.bytes());
        assert_eq!(a.bytes(), s.kek(&[1; 16], p).unwrap().bytes());
    }

    #[test]
    fn keys_never_print() {
        let k = Key::from_bytes([0x41; 32]);
        let s = format!(
            "{k:?} {:?} {:?}",
            KeySource::Raw(k.clone()),
            KeySource::passphrase("hunter2")
        );
        assert!(
            !s.contains("41") && !s.contains("hunter2") && !s.contains("65"),
            "{s}"
        );
    }
}
