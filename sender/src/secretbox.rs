//! Secrets at rest (carrier auth tokens, API key secrets): sealed with ChaCha20-Poly1305 under the
//! server's 32-byte `SECRET_KEY`, a fresh random nonce per seal. The associated data names the row
//! and the column a ciphertext belongs to, so a ciphertext copied to another row, workspace or
//! column no longer opens. Plaintext secrets travel inside [`Secret`], whose `Debug` prints `***`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use uuid::Uuid;

use crate::WorkspaceId;

/// A plaintext secret. Never printed: `Debug` shows `***`, and there is no `Display` or
/// `Serialize`; read it with [`Secret::expose`] at the one place that needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four characters, the most of a secret the API ever shows.
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// A sealed secret as stored: ciphertext (with its 16-byte tag) and the 12-byte nonce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    /// Wrong key, wrong row or column, or tampered bytes: authentication failed.
    #[error("the secret does not open with this key for this row")]
    Unauthentic,
    #[error("the stored nonce is malformed")]
    BadNonce,
}

/// What a ciphertext is bound to: workspace, row id and column.
pub fn binding(workspace_id: WorkspaceId, row_id: Uuid, column: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + 1 + column.len());
    aad.extend_from_slice(workspace_id.0.as_bytes());
    aad.extend_from_slice(row_id.as_bytes());
    aad.push(b':');
    aad.extend_from_slice(column.as_bytes());
    aad
}

pub fn seal(key: &[u8; 32], aad: &[u8], secret: &Secret) -> Sealed {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let nonce: [u8; 12] = rand::random();
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: secret.expose().as_bytes(), aad })
        .expect("ChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
    Sealed { ciphertext, nonce: nonce.to_vec() }
}

pub fn open(key: &[u8; 32], aad: &[u8], sealed: &Sealed) -> Result<Secret, OpenError> {
    if sealed.nonce.len() != 12 {
        return Err(OpenError::BadNonce);
    }
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let plain = cipher
        .decrypt(Nonce::from_slice(&sealed.nonce), Payload { msg: &sealed.ciphertext, aad })
        .map_err(|_| OpenError::Unauthentic)?;
    String::from_utf8(plain).map(Secret).map_err(|_| OpenError::Unauthentic)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn aad() -> Vec<u8> {
        binding(WorkspaceId(Uuid::from_u128(1)), Uuid::from_u128(2), "auth_token")
    }

    #[test]
    fn round_trip_and_fresh_nonces() {
        let secret = Secret::new("f00dfeedcafebabe0123456789abcdef");
        let a = seal(&KEY, &aad(), &secret);
        let b = seal(&KEY, &aad(), &secret);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert!(!a.ciphertext.windows(8).any(|w| w == b"f00dfeed"));
        assert_eq!(open(&KEY, &aad(), &a).unwrap(), secret);
    }

    #[test]
    fn wrong_key_fails() {
        let sealed = seal(&KEY, &aad(), &Secret::new("token"));
        assert_eq!(open(&[8; 32], &aad(), &sealed), Err(OpenError::Unauthentic));
    }

    #[test]
    fn wrong_binding_fails() {
        let sealed = seal(&KEY, &aad(), &Secret::new("token"));
        let other_row = binding(WorkspaceId(Uuid::from_u128(1)), Uuid::from_u128(3), "auth_token");
        let other_ws = binding(WorkspaceId(Uuid::from_u128(9)), Uuid::from_u128(2), "auth_token");
        let other_column = binding(WorkspaceId(Uuid::from_u128(1)), Uuid::from_u128(2), "api_key_secret");
        for aad in [other_row, other_ws, other_column] {
            assert_eq!(open(&KEY, &aad, &sealed), Err(OpenError::Unauthentic));
        }
    }

    #[test]
    fn tampering_fails_and_debug_hides_the_secret() {
        let mut sealed = seal(&KEY, &aad(), &Secret::new("token"));
        sealed.ciphertext[0] ^= 1;
        assert_eq!(open(&KEY, &aad(), &sealed), Err(OpenError::Unauthentic));
        let secret = Secret::new("hunter2-secret");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(secret.hint(), "cret");
        assert_eq!(Secret::new("ab").hint(), "ab");
    }
}
