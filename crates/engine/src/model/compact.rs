//! Compact representations for data the engine stores in bulk but never interprets.
//!
//! A `serde_json::Value` tree or a `BTreeMap` costs hundreds of bytes per node (a
//! `BTreeMap` leaf is allocated for eleven entries even when it holds one), and an
//! allocation carries several of them. These types keep the same JSON on the wire and a
//! fraction of the memory in the state, which holds one allocation per workload instance.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// A JSON value the engine stores but never reads (`AllocatedResources`, `Metrics`),
/// held as its compact JSON text (keys sorted, so equal values have equal text).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Opaque(std::sync::Arc<str>);

impl Opaque {
    /// The value, stored as its compact JSON text.
    pub fn new(value: &Value) -> Opaque {
        Opaque(std::sync::Arc::from(value.to_string()))
    }

    /// The value as a `serde_json::Value`.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Value> for Opaque {
    fn from(v: Value) -> Opaque {
        Opaque::new(&v)
    }
}

impl fmt::Debug for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Opaque {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            self.value().serialize(serializer)
        } else {
            serializer.serialize_str(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Opaque {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            Value::deserialize(deserializer).map(|v| Opaque::new(&v))
        } else {
            let text = String::deserialize(deserializer)?;
            // Re-validate: a snapshot from elsewhere must not smuggle in broken JSON.
            serde_json::from_str::<Value>(&text).map_err(serde::de::Error::custom)?;
            Ok(Opaque(std::sync::Arc::from(text)))
        }
    }
}

/// A small string-keyed map stored as a shared, sorted vector: the same JSON object on the
/// wire, a few bytes per entry in memory, and an O(1) clone (the vector is copied on the
/// first write after a clone). Lookups are binary searches; these maps hold a handful of
/// entries (task groups of a deployment, tasks of an allocation).
#[derive(PartialEq, Eq, Hash)]
pub struct SmallMap<V> {
    entries: std::sync::Arc<Vec<(String, V)>>,
}

impl<V> Clone for SmallMap<V> {
    fn clone(&self) -> Self {
        SmallMap {
            entries: self.entries.clone(),
        }
    }
}

impl<V> Default for SmallMap<V> {
    fn default() -> Self {
        SmallMap {
            entries: std::sync::Arc::new(Vec::new()),
        }
    }
}

impl<V: fmt::Debug> fmt::Debug for SmallMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<V> SmallMap<V> {
    /// An empty map.
    pub fn new() -> SmallMap<V> {
        SmallMap::default()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value at `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.position(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value at `key`, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V>
    where
        V: Clone,
    {
        let i = self.position(key).ok()?;
        Some(&mut std::sync::Arc::make_mut(&mut self.entries)[i].1)
    }

    /// The stored key and value at `key`.
    pub fn get_key_value(&self, key: &str) -> Option<(&String, &V)> {
        self.position(key)
            .ok()
            .map(|i| (&self.entries[i].0, &self.entries[i].1))
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: String, value: V) -> Option<V>
    where
        V: Clone,
    {
        let pos = self.position(&key);
        let entries = std::sync::Arc::make_mut(&mut self.entries);
        match pos {
            Ok(i) => Some(std::mem::replace(&mut entries[i].1, value)),
            Err(i) => {
                entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<V>
    where
        V: Clone,
    {
        let i = self.position(key).ok()?;
        Some(std::sync::Arc::make_mut(&mut self.entries).remove(i).1)
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&String, &V)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The entries in key order, values mutable.
    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&String, &mut V)> + ExactSizeIterator
    where
        V: Clone,
    {
        std::sync::Arc::make_mut(&mut self.entries)
            .iter_mut()
            .map(|(k, v)| (&*k, v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The values in key order, mutable.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator
    where
        V: Clone,
    {
        std::sync::Arc::make_mut(&mut self.entries)
            .iter_mut()
            .map(|(_, v)| v)
    }
}

impl<V> std::ops::Index<&str> for SmallMap<V> {
    type Output = V;
    /// Panics when the key is missing, like `BTreeMap`'s index; for tests and for keys
    /// known to exist.
    fn index(&self, key: &str) -> &V {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no entry {key:?} in map"),
        }
    }
}

impl<V> std::ops::Index<&String> for SmallMap<V> {
    type Output = V;
    fn index(&self, key: &String) -> &V {
        &self[key.as_str()]
    }
}

impl<V> FromIterator<(String, V)> for SmallMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        let mut entries: Vec<(String, V)> = Vec::new();
        for (k, v) in iter {
            match entries.binary_search_by(|(e, _)| e.as_str().cmp(&k)) {
                Ok(i) => entries[i].1 = v,
                Err(i) => entries.insert(i, (k, v)),
            }
        }
        entries.shrink_to_fit();
        SmallMap {
            entries: std::sync::Arc::new(entries),
        }
    }
}

impl<V, const N: usize> From<[(String, V); N]> for SmallMap<V> {
    fn from(arr: [(String, V); N]) -> Self {
        arr.into_iter().collect()
    }
}

impl<V> From<std::collections::BTreeMap<String, V>> for SmallMap<V> {
    fn from(m: std::collections::BTreeMap<String, V>) -> Self {
        SmallMap {
            entries: std::sync::Arc::new(m.into_iter().collect()),
        }
    }
}

impl<V: Clone> IntoIterator for SmallMap<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;
    fn into_iter(self) -> Self::IntoIter {
        std::sync::Arc::unwrap_or_clone(self.entries).into_iter()
    }
}

impl<'a, V> IntoIterator for &'a SmallMap<V> {
    type Item = (&'a String, &'a V);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, V)>,
        fn(&'a (String, V)) -> (&'a String, &'a V),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl<V: Serialize> Serialize for SmallMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in self.entries.iter() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de, V: Deserialize<'de> + Clone> Deserialize<'de> for SmallMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V2<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de> + Clone> Visitor<'de> for V2<V> {
            type Value = SmallMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<SmallMap<V>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = access.next_entry::<String, V>()? {
                    entries.push(entry);
                }
                // Later duplicates win, as with any map.
                Ok(entries.into_iter().collect())
            }
        }
        deserializer.deserialize_map(V2(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_round_trips_and_compares_canonically() {
        let a: Opaque = serde_json::from_str(r#"{"b": 1, "a": [true, null]}"#).unwrap();
        let b: Opaque = serde_json::from_str(r#"{"a":[true,null],"b":1}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"a":[true,null],"b":1}"#
        );
    }

    #[test]
    fn small_map_is_a_json_object_in_key_order() {
        let m: SmallMap<u32> = serde_json::from_str(r#"{"web": 1, "api": 2, "web": 3}"#).unwrap();
        assert_eq!(m.get("web"), Some(&3));
        assert_eq!(m.keys().collect::<Vec<_>>(), vec!["api", "web"]);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"api":2,"web":3}"#);
    }
}
