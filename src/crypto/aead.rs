//! The AES-256-GCM that encrypts an encrypted file's blocks and header.
//!
//! Two implementations of the same standard cipher: graviola where the CPU
//! has the features it needs (x86_64: AES-NI, PCLMULQDQ, AVX2, BMI1/2, ADX;
//! aarch64: AES, PMULL, SHA2, NEON), RustCrypto's `aes-gcm` elsewhere. A file
//! written by one opens with the other (tested). `ARAGORA_AEAD=portable`
//! forces the RustCrypto one (benchmarks, tests).

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};

/// AES-256-GCM under one key.
pub enum BlockAead {
    /// graviola's AES-GCM (vectorised AES and GHASH).
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    Fast(Box<graviola::aead::AesGcm>),
    /// RustCrypto's AES-GCM.
    Portable(Box<Aes256Gcm>),
}

impl BlockAead {
    /// The fastest implementation this CPU supports.
    pub fn new(key: &[u8; 32]) -> BlockAead {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        if fast_supported() && std::env::var("ARAGORA_AEAD").as_deref() != Ok("portable") {
            return BlockAead::Fast(Box::new(graviola::aead::AesGcm::new(key)));
        }
        BlockAead::portable(key)
    }

    /// RustCrypto's implementation, whatever the CPU.
    pub fn portable(key: &[u8; 32]) -> BlockAead {
        BlockAead::Portable(Box::new(Aes256Gcm::new(key.into())))
    }

    /// Which implementation this is ("graviola" or "aes-gcm").
    pub fn name(&self) -> &'static str {
        match self {
            #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
            BlockAead::Fast(_) => "graviola",
            BlockAead::Portable(_) => "aes-gcm",
        }
    }

    /// Encrypts `buf` in place; returns the tag.
    pub fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        match self {
            #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
            BlockAead::Fast(g) => {
                let mut tag = [0u8; 16];
                g.encrypt(nonce, aad, buf, &mut tag);
                tag
            }
            BlockAead::Portable(a) => a
                .encrypt_in_place_detached(Nonce::from_slice(nonce), aad, buf)
                // Only fails for inputs over 64 GiB; ours are at most 4 KiB.
                .map_or([0; 16], |t| t.into()),
        }
    }

    /// Authenticates and decrypts `buf` in place; `false` if the tag does
    /// not match (then `buf` holds no plaintext to rely on).
    #[must_use]
    pub fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) -> bool {
        match self {
            #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
            BlockAead::Fast(g) => g.decrypt(nonce, aad, buf, tag).is_ok(),
            BlockAead::Portable(a) => a
                .decrypt_in_place_detached(Nonce::from_slice(nonce), aad, buf, Tag::from_slice(tag))
                .is_ok(),
        }
    }
}

/// The CPU features graviola requires (it panics without them).
#[cfg(target_arch = "x86_64")]
fn fast_supported() -> bool {
    std::is_x86_feature_detected!("aes")
        && std::is_x86_feature_detected!("pclmulqdq")
        && std::is_x86_feature_detected!("avx")
        && std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("bmi1")
        && std::is_x86_feature_detected!("bmi2")
        && std::is_x86_feature_detected!("adx")
}

#[cfg(target_arch = "aarch64")]
fn fast_supported() -> bool {
    std::arch::is_aarch64_feature_detected!("aes")
        && std::arch::is_aarch64_feature_detected!("pmull")
        && std::arch::is_aarch64_feature_detected!("sha2")
        && std::arch::is_aarch64_feature_detected!("neon")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Both implementations compute the same ciphertext and tag, and
        /// each opens what the other sealed (and refuses a flipped bit).
        #[test]
        fn implementations_agree(
            key in any::<[u8; 32]>(),
            nonce in any::<[u8; 12]>(),
            aad in proptest::collection::vec(any::<u8>(), 0..80),
            data in proptest::collection::vec(any::<u8>(), 0..4200),
            flip in any::<usize>(),
        ) {
            let (fast, slow) = (BlockAead::new(&key), BlockAead::portable(&key));
            let (mut a, mut b) = (data.clone(), data.clone());
            let (ta, tb) = (fast.seal(&nonce, &aad, &mut a), slow.seal(&nonce, &aad, &mut b));
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(ta, tb);
            let mut c = a.clone();
            prop_assert!(slow.open(&nonce, &aad, &mut a, &ta));
            prop_assert!(fast.open(&nonce, &aad, &mut b, &tb));
            prop_assert_eq!(&a, &data);
            prop_assert_eq!(&b, &data);
            if !c.is_empty() {
                let i = flip % c.len();
                c[i] ^= 1;
                prop_assert!(!fast.open(&nonce, &aad, &mut c.clone(), &ta));
                prop_assert!(!slow.open(&nonce, &aad, &mut c, &ta));
            }
        }
    }

    #[test]
    fn this_machine_uses_the_fast_implementation_when_it_can() {
        // Documents which one the figures in BENCHMARKS.md measured.
        let a = BlockAead::new(&[1; 32]);
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        assert_eq!(
            a.name() == "graviola",
            fast_supported() && std::env::var("ARAGORA_AEAD").as_deref() != Ok("portable")
        );
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        assert_eq!(a.name(), "aes-gcm");
    }
}
