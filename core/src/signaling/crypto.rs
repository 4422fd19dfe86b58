//! SHA-256 hashes and AES-256-CBC exactly as the VDO.Ninja web app does them.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use sha2::{Digest, Sha256};

type Enc = cbc::Encryptor<aes::Aes256>;
type Dec = cbc::Decryptor<aes::Aes256>;

/// Lowercase hex of SHA-256(UTF-8 of `s`), first `n` hex characters.
pub fn hash_hex(s: &str, n: usize) -> String {
    let mut h = hex::encode(Sha256::digest(s.as_bytes()));
    h.truncate(n);
    h
}

/// Why [`Cipher::decrypt`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// The ciphertext is not hex.
    BadHex,
    /// The IV is not 32 hex characters.
    BadIv,
    /// Wrong key, or a truncated or corrupted ciphertext.
    BadPadding,
    /// Decrypted, but not UTF-8 text.
    NotUtf8,
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for CryptoError {}

/// A fresh IV for [`Cipher::encrypt`], drawn from the caller's seeded generator.
pub fn random_iv(rng: &mut fastrand::Rng) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv.iter_mut().for_each(|b| *b = rng.u8(..));
    iv
}

/// AES-256-CBC with PKCS#7, key = SHA-256(password + salt).
#[derive(Clone)]
pub struct Cipher {
    key: [u8; 32],
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    /// The app's key: SHA-256 of the effective password followed by the salt.
    pub fn new(password: &str, salt: &str) -> Cipher {
        let digest = Sha256::digest(format!("{password}{salt}").as_bytes());
        Cipher { key: digest.into() }
    }
    /// A cipher with a raw 256-bit key.
    pub fn from_key(key: [u8; 32]) -> Cipher {
        Cipher { key }
    }
    /// Returns (hex ciphertext, hex IV).
    pub fn encrypt(&self, plaintext: &str, iv: [u8; 16]) -> (String, String) {
        let ct = Enc::new(&self.key.into(), &iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes());
        (hex::encode(ct), hex::encode(iv))
    }
    /// Inverse of [`encrypt`](Cipher::encrypt): hex ciphertext and hex IV to the plaintext.
    pub fn decrypt(&self, ciphertext_hex: &str, iv_hex: &str) -> Result<String, CryptoError> {
        let iv: [u8; 16] = hex::decode(iv_hex)
            .map_err(|_| CryptoError::BadIv)?
            .try_into()
            .map_err(|_| CryptoError::BadIv)?;
        let ct = hex::decode(ciphertext_hex).map_err(|_| CryptoError::BadHex)?;
        // A truncated ciphertext is a padding error, checked here so the cipher never sees it.
        if ct.is_empty() || ct.len() % 16 != 0 {
            return Err(CryptoError::BadPadding);
        }
        let pt = Dec::new(&self.key.into(), &iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(&ct)
            .map_err(|_| CryptoError::BadPadding)?;
        String::from_utf8(pt).map_err(|_| CryptoError::NotUtf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IV: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    const PLAIN: &str = "{\"type\":\"answer\",\"sdp\":\"v=0\\r\\n\"}";
    const CT: &str = "e3cbc3ad10ee89125690f59776c972d770723acec02df276fe7c02a800d34f83\
                      bfa792e1450b421fd51f9f101d21c8d0";

    fn default_cipher() -> Cipher {
        Cipher::new("someEncryptionKey123", "vdo.ninja")
    }

    #[test]
    fn hash_vectors() {
        assert_eq!(
            hash_hex("someEncryptionKey123vdo.ninja", 64),
            "808d646f7eb92052344e1e668e340c852f8d675754acfae11d8cc49233c36eba"
        );
        assert_eq!(hash_hex("someEncryptionKey123vdo.ninja", 6), "808d64");
        assert_eq!(
            hash_hex("testroom123someEncryptionKey123vdo.ninja", 16),
            "f8a52950fcaa9910"
        );
        assert_eq!(
            hash_hex("e2eroomsomeEncryptionKey123vdo.ninja", 16),
            "3213057560d1c04a"
        );
        assert_eq!(hash_hex("abc", 0), "");
        assert_eq!(hash_hex("abc", 1000).len(), 64);
    }

    #[test]
    fn key_is_sha256_of_password_and_salt() {
        let key = hex::decode("808d646f7eb92052344e1e668e340c852f8d675754acfae11d8cc49233c36eba")
            .unwrap();
        let from_key = Cipher::from_key(key.try_into().unwrap());
        assert_eq!(
            from_key.encrypt(PLAIN, IV),
            default_cipher().encrypt(PLAIN, IV)
        );
    }

    #[test]
    fn encrypt_vector() {
        let (ct, iv) = default_cipher().encrypt(PLAIN, IV);
        assert_eq!(ct, CT);
        assert_eq!(iv, "000102030405060708090a0b0c0d0e0f");
    }

    #[test]
    fn decrypt_vector() {
        let pt = default_cipher()
            .decrypt(CT, "000102030405060708090a0b0c0d0e0f")
            .unwrap();
        assert_eq!(pt, PLAIN);
        // Upper-case hex is accepted too.
        let pt = default_cipher()
            .decrypt(&CT.to_uppercase(), "000102030405060708090A0B0C0D0E0F")
            .unwrap();
        assert_eq!(pt, PLAIN);
    }

    #[test]
    fn round_trip_lengths() {
        let c = Cipher::new("hunter2", "example.com");
        for len in [0usize, 1, 15, 16, 17, 31, 32, 100] {
            let text: String = "é".repeat(len);
            let (ct, iv) = c.encrypt(&text, [7; 16]);
            assert_eq!(ct.len() % 32, 0);
            assert_eq!(c.decrypt(&ct, &iv).unwrap(), text);
        }
    }

    #[test]
    fn decrypt_errors() {
        let c = default_cipher();
        let iv = "000102030405060708090a0b0c0d0e0f";
        assert_eq!(c.decrypt("zz", iv), Err(CryptoError::BadHex));
        assert_eq!(c.decrypt("abc", iv), Err(CryptoError::BadHex));
        assert_eq!(c.decrypt(CT, "0001"), Err(CryptoError::BadIv));
        assert_eq!(c.decrypt(CT, "not hex at all!!"), Err(CryptoError::BadIv));
        assert_eq!(c.decrypt(CT, &format!("{iv}00")), Err(CryptoError::BadIv));
        assert_eq!(c.decrypt("", iv), Err(CryptoError::BadPadding));
        // Truncated by one block and by one byte.
        assert_eq!(
            c.decrypt(&CT[..CT.len() - 32], iv),
            Err(CryptoError::BadPadding)
        );
        assert_eq!(
            c.decrypt(&CT[..CT.len() - 2], iv),
            Err(CryptoError::BadPadding)
        );
        // Wrong key: padding check fails (or, rarely, garbage that is not UTF-8).
        let wrong = Cipher::new("hunter2", "vdo.ninja");
        assert!(matches!(
            wrong.decrypt(CT, iv),
            Err(CryptoError::BadPadding | CryptoError::NotUtf8)
        ));
    }

    #[test]
    fn wrong_iv_changes_first_block_only() {
        // CBC: a wrong IV garbles only the first block; the result must not equal the plaintext.
        let c = default_cipher();
        let r = c.decrypt(CT, "ff0102030405060708090a0b0c0d0e0f");
        assert_ne!(r.as_deref(), Ok(PLAIN));
    }

    #[test]
    fn non_utf8_plaintext() {
        // Encrypt raw bytes that are not UTF-8, then decrypt through the public API.
        let c = default_cipher();
        let ct = Enc::new(&c.key.into(), &IV.into()).encrypt_padded_vec_mut::<Pkcs7>(&[0xff, 0xfe]);
        assert_eq!(
            c.decrypt(&hex::encode(ct), &hex::encode(IV)),
            Err(CryptoError::NotUtf8)
        );
    }
}
