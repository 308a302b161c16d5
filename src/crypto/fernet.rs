//! Fernet tokens, interoperable with Python's `cryptography.fernet.Fernet`
//! (the column-level helper DATABASE.md shows).
//!
//! Token = URL-safe base64 of `0x80 ‖ timestamp:u64be ‖ iv[16] ‖
//! AES-128-CBC-PKCS7(ciphertext) ‖ HMAC-SHA256(all previous bytes)`.
//! Key = URL-safe base64 of `signing_key[16] ‖ encryption_key[16]`.

use crate::error::{Error, Result};
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

type Enc = cbc::Encryptor<aes::Aes128>;
type Dec = cbc::Decryptor<aes::Aes128>;

/// A Fernet key. Never printed.
pub struct Fernet {
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Fernet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fernet(<redacted>)")
    }
}

/// Why a token was refused (the reason is for logs; Python raises `InvalidToken`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidToken {
    /// Not URL-safe base64, too short, or the wrong version byte.
    Malformed,
    /// The HMAC does not match: wrong key or tampered token.
    Signature,
    /// The plaintext padding is wrong.
    Padding,
    /// Older than the TTL, or from too far in the future.
    Expired,
}

impl Fernet {
    /// Parses a key as `Fernet.generate_key()` prints it.
    pub fn new(key_b64: &str) -> Result<Fernet> {
        let raw = Zeroizing::new(URL_SAFE.decode(key_b64.trim()).map_err(|_| Error::Config {
            name: "fernet key".into(),
            value: "<not shown>".into(),
            expected: "32 bytes in URL-safe base64".into(),
        })?);
        let key: [u8; 32] = raw[..].try_into().map_err(|_| Error::Config {
            name: "fernet key".into(),
            value: "<not shown>".into(),
            expected: format!("32 bytes in URL-safe base64, got {} bytes", raw.len()),
        })?;
        Ok(Fernet {
            key: Zeroizing::new(key),
        })
    }

    /// A fresh random key, URL-safe base64 (like `Fernet.generate_key()`).
    pub fn generate_key() -> Result<String> {
        let mut k = Zeroizing::new([0u8; 32]);
        super::keys::fill_random(&mut k[..])?;
        Ok(URL_SAFE.encode(&k[..]))
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key[..16]).expect("any length")
    }

    /// Encrypts with the current time and a random IV.
    pub fn encrypt(&self, data: &[u8]) -> Result<String> {
        let mut iv = [0u8; 16];
        super::keys::fill_random(&mut iv)?;
        Ok(self.encrypt_at(data, crate::time::epoch_now() as u64, iv))
    }

    /// Encrypts with an explicit time and IV (known-answer tests).
    pub fn encrypt_at(&self, data: &[u8], timestamp: u64, iv: [u8; 16]) -> String {
        let mut out = vec![0x80];
        out.extend_from_slice(&timestamp.to_be_bytes());
        out.extend_from_slice(&iv);
        let ct = Enc::new(self.key[16..].into(), &iv.into()).encrypt_padded_vec_mut::<Pkcs7>(data);
        out.extend_from_slice(&ct);
        let mut m = self.mac();
        m.update(&out);
        out.extend_from_slice(&m.finalize().into_bytes());
        URL_SAFE.encode(out)
    }

    /// Decrypts, checking the TTL (seconds) against `now` when given.
    pub fn decrypt_at(
        &self,
        token: &str,
        ttl: Option<u64>,
        now: u64,
    ) -> std::result::Result<Vec<u8>, InvalidToken> {
        let t = token.trim();
        let raw = URL_SAFE
            .decode(t)
            .or_else(|_| URL_SAFE_NO_PAD.decode(t))
            .map_err(|_| InvalidToken::Malformed)?;
        if raw.len() < 1 + 8 + 16 + 16 + 32 || raw[0] != 0x80 || (raw.len() - 57) % 16 != 0 {
            return Err(InvalidToken::Malformed);
        }
        let (body, sig) = raw.split_at(raw.len() - 32);
        let mut m = self.mac();
        m.update(body);
        m.verify_slice(sig).map_err(|_| InvalidToken::Signature)?;
        let ts = u64::from_be_bytes(body[1..9].try_into().expect("8"));
        // As in Python: the age and clock-skew checks apply only with a TTL.
        if let Some(ttl) = ttl
            && (ts.saturating_add(ttl) < now || ts > now.saturating_add(60))
        {
            return Err(InvalidToken::Expired);
        }
        let iv: [u8; 16] = body[9..25].try_into().expect("16");
        Dec::new(self.key[16..].into(), &iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(&body[25..])
            .map_err(|_| InvalidToken::Padding)
    }

    /// Decrypts with the current time and an optional TTL.
    pub fn decrypt(
        &self,
        token: &str,
        ttl: Option<u64>,
    ) -> std::result::Result<Vec<u8>, InvalidToken> {
        self.decrypt_at(token, ttl, crate::time::epoch_now() as u64)
    }
}
