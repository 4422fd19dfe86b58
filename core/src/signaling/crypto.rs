//! SHA-256 hashes and AES-256-CBC exactly as the VDO.Ninja web app does them.

/// Lowercase hex of SHA-256(UTF-8 of `s`), first `n` hex characters.
pub fn hash_hex(s: &str, n: usize) -> String {
    todo!("{s}{n}")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoError {
    BadHex,
    BadIv,
    BadPadding,
    NotUtf8,
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for CryptoError {}

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
    pub fn new(password: &str, salt: &str) -> Cipher {
        todo!("{password}{salt}")
    }
    pub fn from_key(key: [u8; 32]) -> Cipher {
        Cipher { key }
    }
    /// Returns (hex ciphertext, hex IV).
    pub fn encrypt(&self, plaintext: &str, iv: [u8; 16]) -> (String, String) {
        todo!("{plaintext}{iv:?}{:?}", self.key)
    }
    pub fn decrypt(&self, ciphertext_hex: &str, iv_hex: &str) -> Result<String, CryptoError> {
        todo!("{ciphertext_hex}{iv_hex}")
    }
}
