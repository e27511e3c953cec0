//! `SharedStr`: an immutable string that is cheap to clone.
//!
//! The engine's objects are persistent: every write of an allocation clones the stored one,
//! changes a field or two and drops the old copy when no snapshot holds it any more. With
//! `String` fields each such clone copied every string (a `malloc` and a `memcpy` each) and
//! each drop freed them again, although the strings themselves (namespace, job, node,
//! statuses) almost never change. A `SharedStr` shares one immutable heap copy between all
//! clones: cloning is a reference-count increment, dropping a decrement, and the empty
//! string holds no heap memory at all.
//!
//! It reads and writes exactly as `String` does (serde, `Debug`, `Display`, ordering and
//! hashing are those of `str`), so the wire formats and the stored log and snapshots do not
//! change.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// An immutable, reference-counted string: `Clone` is O(1) and never allocates.
///
/// Behaves as a `str` everywhere (it derefs to one); build it with `.into()` from a
/// `&str` or a `String`:
///
/// ```
/// use rollout_engine::model::SharedStr;
///
/// let node: SharedStr = "node-1".into();
/// let copy = node.clone(); // shares the same bytes
/// assert_eq!(copy, "node-1");
/// assert!(node.starts_with("node"));
/// assert!(SharedStr::default().is_empty());
/// ```
#[derive(Clone, Default)]
pub struct SharedStr(
    /// `None` is the empty string; `Some` is never empty, so that every string has one
    /// representation.
    Option<Arc<str>>,
);

impl SharedStr {
    /// The empty string (holds no heap memory).
    pub const fn new() -> SharedStr {
        SharedStr(None)
    }

    /// The string as a `&str`.
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }

    /// Whether it is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.as_str().len()
    }
}

impl Deref for SharedStr {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for SharedStr {
    fn from(s: &str) -> SharedStr {
        if s.is_empty() {
            SharedStr(None)
        } else {
            SharedStr(Some(Arc::from(s)))
        }
    }
}

impl From<&String> for SharedStr {
    fn from(s: &String) -> SharedStr {
        SharedStr::from(s.as_str())
    }
}

impl From<String> for SharedStr {
    fn from(s: String) -> SharedStr {
        if s.is_empty() {
            SharedStr(None)
        } else {
            SharedStr(Some(Arc::from(s)))
        }
    }
}

impl From<Arc<str>> for SharedStr {
    fn from(s: Arc<str>) -> SharedStr {
        if s.is_empty() {
            SharedStr(None)
        } else {
            SharedStr(Some(s))
        }
    }
}

impl From<&SharedStr> for SharedStr {
    fn from(s: &SharedStr) -> SharedStr {
        s.clone()
    }
}

impl From<SharedStr> for String {
    fn from(s: SharedStr) -> String {
        s.as_str().to_owned()
    }
}

impl From<&SharedStr> for String {
    fn from(s: &SharedStr) -> String {
        s.as_str().to_owned()
    }
}

impl std::str::FromStr for SharedStr {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<SharedStr, Self::Err> {
        Ok(SharedStr::from(s))
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &SharedStr) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SharedStr {}

impl PartialOrd for SharedStr {
    fn partial_cmp(&self, other: &SharedStr) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SharedStr {
    fn cmp(&self, other: &SharedStr) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// Hashes as the `str` does, as `Borrow<str>` requires (maps keyed by `SharedStr` are
/// looked up by `&str`).
impl Hash for SharedStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

/// `SharedStr == other` and `other == SharedStr` for the string types it is compared with.
macro_rules! eq_with {
    ($($other:ty),*) => {$(
        impl PartialEq<$other> for SharedStr {
            fn eq(&self, other: &$other) -> bool {
                self.as_str() == &other[..]
            }
        }
        impl PartialEq<SharedStr> for $other {
            fn eq(&self, other: &SharedStr) -> bool {
                &self[..] == other.as_str()
            }
        }
    )*};
}

eq_with!(str, &str, String);

impl Serialize for SharedStr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Reads what a `String` reads (a string, or UTF-8 bytes), with `String`'s error messages.
impl<'de> Deserialize<'de> for SharedStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SharedStr, D::Error> {
        deserializer.deserialize_string(SharedStrVisitor)
    }
}

struct SharedStrVisitor;

impl Visitor<'_> for SharedStrVisitor {
    type Value = SharedStr;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SharedStr, E> {
        Ok(SharedStr::from(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<SharedStr, E> {
        Ok(SharedStr::from(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<SharedStr, E> {
        match std::str::from_utf8(v) {
            Ok(s) => Ok(SharedStr::from(s)),
            Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(v), &self)),
        }
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<SharedStr, E> {
        match String::from_utf8(v) {
            Ok(s) => Ok(SharedStr::from(s)),
            Err(e) => Err(E::invalid_value(
                de::Unexpected::Bytes(&e.into_bytes()),
                &self,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash_of<T: Hash + ?Sized>(v: &T) -> u64 {
        let mut h = DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    #[test]
    fn a_clone_shares_the_bytes_instead_of_copying_them() {
        let a = SharedStr::from("node-1");
        let b = a.clone();
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
    }

    #[test]
    fn the_empty_string_has_one_representation_and_no_heap_copy() {
        for empty in [
            SharedStr::default(),
            SharedStr::new(),
            SharedStr::from(""),
            SharedStr::from(String::new()),
            SharedStr::from(Arc::<str>::from("")),
        ] {
            assert!(empty.0.is_none());
            assert!(empty.is_empty());
            assert_eq!(empty, "");
        }
    }

    #[test]
    fn compares_orders_and_hashes_as_str() {
        let words = ["", "a", "b", "ab", "running", "Run"];
        for x in words {
            let shared_x = SharedStr::from(x);
            assert_eq!(hash_of(&shared_x), hash_of(x));
            for y in words {
                let shared_y = SharedStr::from(y);
                assert_eq!(shared_x.cmp(&shared_y), x.cmp(y));
                assert_eq!(shared_x == shared_y, x == y);
                assert_eq!(shared_x == y, x == y);
                assert_eq!(y == shared_x, x == y);
            }
        }
    }

    #[test]
    fn prints_as_str() {
        let s = SharedStr::from("a \"b\"");
        assert_eq!(format!("{s}"), "a \"b\"");
        assert_eq!(format!("{s:?}"), format!("{:?}", "a \"b\""));
        assert_eq!(format!("{s:>8}"), format!("{:>8}", "a \"b\""));
    }

    #[test]
    fn json_reads_and_writes_as_string() {
        for s in ["", "default", "ünïcode \u{1F600}", "quote\"and\\slash"] {
            let shared = SharedStr::from(s);
            let json = serde_json::to_string(&shared).unwrap();
            assert_eq!(json, serde_json::to_string(s).unwrap());
            assert_eq!(serde_json::from_str::<SharedStr>(&json).unwrap(), s);
        }
        let shared_err = serde_json::from_str::<SharedStr>("5").unwrap_err();
        let string_err = serde_json::from_str::<String>("5").unwrap_err();
        assert_eq!(shared_err.to_string(), string_err.to_string());
    }
}
