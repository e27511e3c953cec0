//! The shared cluster secret: a peer that does not present it cannot vote, append
//! entries, install a snapshot or forward a write.
//!
//! Every RPC carries the secret in a header; the receiver compares it with its own in
//! constant time (`subtle`), so the comparison's duration says nothing about how much of
//! a guess was right. The transport is plain HTTP for now, so the secret keeps
//! strangers out of the cluster but does not protect it from someone who can read the
//! traffic (TLS between peers is future work; see docs/cluster.md).

use subtle::ConstantTimeEq;

/// The header every peer RPC carries the secret in.
pub const SECRET_HEADER: &str = "x-rollout-cluster-secret";

/// The secret all members of one cluster share.
#[derive(Clone)]
pub struct ClusterSecret(String);

/// A secret that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the cluster secret is empty")]
    Empty,
    #[error(
        "the cluster secret must be printable ASCII without spaces (it travels in an HTTP header)"
    )]
    NotPrintable,
}

impl ClusterSecret {
    /// A secret from its text (say, a secret file's contents; surrounding whitespace and
    /// a trailing newline are dropped).
    pub fn new(text: &str) -> Result<ClusterSecret, SecretError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SecretError::Empty);
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SecretError::NotPrintable);
        }
        Ok(ClusterSecret(text.to_owned()))
    }

    /// The header value to send.
    pub fn header_value(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this secret, compared in constant time (for equal
    /// lengths; a length mismatch is refused at once, which reveals only the length).
    pub fn admits(&self, presented: Option<&[u8]>) -> bool {
        presented.is_some_and(|p| bool::from(self.0.as_bytes().ct_eq(p)))
    }
}

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_admits_only_itself() {
        let secret = ClusterSecret::new("s3cret-token\n").unwrap();
        assert!(secret.admits(Some(b"s3cret-token")));
        assert!(!secret.admits(Some(b"s3cret-tokeN")));
        assert!(!secret.admits(Some(b"s3cret")));
        assert!(!secret.admits(Some(b"")));
        assert!(!secret.admits(None));
    }

    #[test]
    fn secret_must_be_nonempty_printable_text() {
        assert_eq!(ClusterSecret::new(" \n").unwrap_err(), SecretError::Empty);
        assert_eq!(
            ClusterSecret::new("two words").unwrap_err(),
            SecretError::NotPrintable
        );
    }

    #[test]
    fn secret_debug_does_not_print_it() {
        let secret = ClusterSecret::new("hunter2").unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
