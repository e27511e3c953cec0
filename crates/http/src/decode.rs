//! Request bodies decoded the way Nomad's agent decodes them: Go's `encoding/json` (R3,
//! `http-api.md` §6).
//!
//! Real clients rely on Go's leniency, so we reproduce it rather than serde's defaults:
//! - object keys match struct fields case-insensitively (Unicode simple folding, so the
//!   Kelvin sign stands for `k`), an exact match preferred;
//! - when several keys land on one field, the later one in the document wins;
//! - unknown keys are ignored;
//! - no type coercion (`"5"` is not a number, `1.0` is not an integer);
//! - only the first JSON value is read, trailing bytes are ignored;
//! - `null` leaves a field at its zero value (a `null` body is the zero struct).
//!
//! serde_json alone cannot do the first two: its derived struct visitors compare keys
//! exactly, and a map loses document order. So the body is first parsed into [`Node`], a
//! JSON tree that keeps object entries in document order, and then deserialised through
//! [`NodeDeserializer`], which in `deserialize_struct` resolves the document's keys
//! onto the struct's (renamed) field list before the derived visitor sees them. Maps and
//! `serde_json::Value` targets get the keys verbatim.

use crate::error::ApiError;
use crate::server::Api;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};
use serde::forward_to_deserialize_any;
use std::fmt;

/// Decodes the first JSON value of `bytes` into `T`, Go-style. The caller rejects an
/// empty body first (Nomad answers `Request body is empty`).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<Node>();
    let node = match values.next() {
        Some(Ok(node)) => node,
        Some(Err(e)) => return Err(DecodeError::message(e.to_string())),
        None => return Err(DecodeError::message("EOF")),
    };
    T::deserialize(NodeDeserializer(&node))
}

/// Why a body could not be decoded, with the path of the offending field.
#[derive(Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Outermost first: `Job`, `TaskGroups`, `[0]`, `Count`.
    path: Vec<String>,
    message: String,
}

impl DecodeError {
    fn message(message: impl Into<String>) -> DecodeError {
        DecodeError {
            path: Vec::new(),
            message: message.into(),
        }
    }

    fn within(mut self, segment: String) -> DecodeError {
        self.path.insert(0, segment);
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            return f.write_str(&self.message);
        }
        f.write_str("json: cannot decode ")?;
        for (i, segment) in self.path.iter().enumerate() {
            if i > 0 && !segment.starts_with('[') {
                f.write_str(".")?;
            }
            f.write_str(segment)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DecodeError::message(msg.to_string())
    }
}

/// A JSON value that keeps object entries in document order (duplicates included).
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl<'de> de::Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        serde_json::Number::from_f64(v)
            .map(Node::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            entries.push((key, value));
        }
        Ok(Node::Object(entries))
    }
}

/// Go's `strings.EqualFold` on one character: Unicode simple case folding, of which
/// only the ASCII letters and the two oddities that fold onto them matter for our
/// (ASCII) field names.
fn fold(c: char) -> char {
    match c {
        '\u{212A}' => 'k', // KELVIN SIGN
        '\u{017F}' => 's', // LATIN SMALL LETTER LONG S
        c => c.to_ascii_lowercase(),
    }
}

fn equal_fold(field: &str, key: &str) -> bool {
    let mut a = field.chars().map(fold);
    let mut b = key.chars().map(fold);
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x == y => continue,
            _ => return false,
        }
    }
}

/// For each field, the value of the last key in the document that names it (exact
/// match preferred over a case-folded one), as `encoding/json` assigns them.
fn resolve_fields<'a>(
    entries: &'a [(String, Node)],
    fields: &'static [&'static str],
) -> Vec<(&'static str, &'a Node)> {
    let mut assigned: Vec<Option<&'a Node>> = vec![None; fields.len()];
    for (key, value) in entries {
        let slot = fields
            .iter()
            .position(|f| f == key)
            .or_else(|| fields.iter().position(|f| equal_fold(f, key)));
        if let Some(i) = slot {
            assigned[i] = Some(value);
        }
    }
    fields
        .iter()
        .zip(assigned)
        .filter_map(|(f, v)| v.map(|v| (*f, v)))
        .collect()
}

/// A serde `Deserializer` over a [`Node`] with Go's decoding rules.
pub struct NodeDeserializer<'a>(pub &'a Node);

impl NodeDeserializer<'_> {
    fn invalid_type<V: de::Expected>(&self, exp: &V) -> DecodeError {
        let unexpected = match self.0 {
            Node::Null => de::Unexpected::Unit,
            Node::Bool(b) => de::Unexpected::Bool(*b),
            Node::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => de::Unexpected::Unsigned(u),
                (_, Some(i), _) => de::Unexpected::Signed(i),
                (_, _, Some(f)) => de::Unexpected::Float(f),
                _ => de::Unexpected::Other("number"),
            },
            Node::String(s) => de::Unexpected::Str(s),
            Node::Array(_) => de::Unexpected::Seq,
            Node::Object(_) => de::Unexpected::Map,
        };
        de::Error::invalid_type(unexpected, exp)
    }
}

/// `null` into a non-pointer Go value leaves the zero value: for scalars we hand the
/// visitor the zero of the requested kind.
macro_rules! null_is_zero {
    ($($method:ident => $visit:ident($zero:expr)),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
                match self.0 {
                    Node::Null => visitor.$visit($zero),
                    _ => self.deserialize_any(visitor),
                }
            }
        )*
    };
}

impl<'de> Deserializer<'de> for NodeDeserializer<'_> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Node::Null => visitor.visit_unit(),
            Node::Bool(b) => visitor.visit_bool(*b),
            Node::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else if let Some(f) = n.as_f64() {
                    visitor.visit_f64(f)
                } else {
                    Err(de::Error::custom("number out of range"))
                }
            }
            Node::String(s) => visitor.visit_str(s),
            Node::Array(items) => visitor.visit_seq(Seq::new(items)),
            Node::Object(entries) => visitor.visit_map(Entries::verbatim(entries)),
        }
    }

    null_is_zero! {
        deserialize_bool => visit_bool(false),
        deserialize_i8 => visit_i64(0),
        deserialize_i16 => visit_i64(0),
        deserialize_i32 => visit_i64(0),
        deserialize_i64 => visit_i64(0),
        deserialize_u8 => visit_u64(0),
        deserialize_u16 => visit_u64(0),
        deserialize_u32 => visit_u64(0),
        deserialize_u64 => visit_u64(0),
        deserialize_f32 => visit_f64(0.0),
        deserialize_f64 => visit_f64(0.0),
        deserialize_str => visit_str(""),
        deserialize_string => visit_str(""),
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Node::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Node::Null => visitor.visit_seq(Seq::new(&[])),
            Node::Array(items) => visitor.visit_seq(Seq::new(items)),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Node::Null => visitor.visit_map(Entries::verbatim(&[])),
            Node::Object(entries) => visitor.visit_map(Entries::verbatim(entries)),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.0 {
            Node::Null => visitor.visit_map(Entries::verbatim(&[])),
            Node::Object(entries) => visitor.visit_map(Entries::fields(entries, fields)),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.0 {
            Node::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Node::Null => visitor.visit_unit(),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit_struct tuple tuple_struct identifier
    }
}

/// Array elements; errors name the element's position.
struct Seq<'a> {
    items: std::slice::Iter<'a, Node>,
    position: usize,
}

impl<'a> Seq<'a> {
    fn new(items: &'a [Node]) -> Seq<'a> {
        Seq {
            items: items.iter(),
            position: 0,
        }
    }
}

impl<'de> SeqAccess<'de> for Seq<'_> {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let position = self.position;
        self.position += 1;
        seed.deserialize(NodeDeserializer(item))
            .map(Some)
            .map_err(|e| e.within(format!("[{position}]")))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// Object entries handed to a visitor: verbatim for maps, resolved onto the field list
/// for structs. Errors name the key.
struct Entries<'a> {
    entries: std::vec::IntoIter<(&'a str, &'a Node)>,
    value: Option<(&'a str, &'a Node)>,
}

impl<'a> Entries<'a> {
    fn verbatim(entries: &'a [(String, Node)]) -> Entries<'a> {
        let list: Vec<(&'a str, &'a Node)> = entries.iter().map(|(k, v)| (k.as_str(), v)).collect();
        Entries {
            entries: list.into_iter(),
            value: None,
        }
    }

    fn fields(entries: &'a [(String, Node)], fields: &'static [&'static str]) -> Entries<'a> {
        Entries {
            entries: resolve_fields(entries, fields).into_iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some((key, value));
        seed.deserialize(de::value::StrDeserializer::<DecodeError>::new(key))
            .map(Some)
            .map_err(|e| e.within(key.to_owned()))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeError> {
        let Some((key, value)) = self.value.take() else {
            return Err(de::Error::custom("value requested before key"));
        };
        seed.deserialize(NodeDeserializer(value))
            .map_err(|e| e.within(key.to_owned()))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// A request body decoded per R3: the typed extractor every write handler uses. An
/// empty body is `Request body is empty` (400), a body over the size limit is 413, one
/// that does not arrive within the body read timeout is 408, anything undecodable is 400
/// with the decoder's text.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Api> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, api: &Api) -> Result<Self, ApiError> {
        let bytes = read_body(request, api).await?;
        decode_body(&bytes).map(Body)
    }
}

/// A job registration body: [`Body`], and its size bounded by the job spec limit (413)
/// before it is decoded.
pub struct JobBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Api> for JobBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, api: &Api) -> Result<Self, ApiError> {
        let bytes = read_body(request, api).await?;
        let max = api.config().limits.max_job_spec_bytes;
        if bytes.len() > max {
            return Err(ApiError::too_large(format!(
                "job specification is {} bytes, at most {max} are allowed",
                bytes.len()
            )));
        }
        decode_body(&bytes).map(JobBody)
    }
}

/// The whole body, bounded in size (the router's body limit: 413) and in time (the body
/// read timeout: 408), so that a client that trickles a body cannot hold a request slot
/// for long.
async fn read_body(request: Request, api: &Api) -> Result<Bytes, ApiError> {
    let timeout = api.config().body_read_timeout;
    let read = tokio::time::timeout(timeout, Bytes::from_request(request, api)).await;
    let Ok(read) = read else {
        return Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "request body not received within {}s",
                timeout.as_secs_f64()
            ),
        ));
    };
    read.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large("Request body too large")
        } else {
            ApiError::bad_request(rejection.body_text())
        }
    })
}

fn decode_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::body_empty());
    }
    from_slice(bytes).map_err(|e| ApiError::bad_request(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollout_engine::command::{PauseDeployment, RegisterJob, SetAllocHealth};
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default, rename_all = "PascalCase")]
    struct Pause {
        #[serde(rename = "DeploymentID")]
        deployment_id: String,
        pause: bool,
        groups: Option<Vec<String>>,
    }

    fn pause(body: &str) -> Result<Pause, DecodeError> {
        from_slice(body.as_bytes())
    }

    #[test]
    fn keys_match_case_insensitively() {
        for key in [
            "DeploymentID",
            "deploymentid",
            "DEPLOYMENTID",
            "DeploymentId",
        ] {
            let p = pause(&format!(r#"{{"{key}":"d1","pause":true}}"#)).unwrap();
            assert_eq!(p.deployment_id, "d1", "{key}");
            assert!(p.pause);
        }
    }

    #[test]
    fn unicode_simple_folding_like_go() {
        #[derive(Debug, Default, Deserialize)]
        #[serde(default, rename_all = "PascalCase")]
        struct K {
            kind: String,
            size: u64,
        }
        let k: K = from_slice("{\"\u{212A}ind\":\"x\",\"\u{017F}ize\":3}".as_bytes()).unwrap();
        assert_eq!((k.kind.as_str(), k.size), ("x", 3));
    }

    #[test]
    fn later_duplicate_wins_across_casings() {
        let p = pause(r#"{"DeploymentID":"a","deploymentid":"b"}"#).unwrap();
        assert_eq!(p.deployment_id, "b");
        let p = pause(r#"{"deploymentid":"b","DeploymentID":"a"}"#).unwrap();
        assert_eq!(p.deployment_id, "a");
    }

    #[test]
    fn exact_match_is_preferred_over_folded() {
        #[derive(Debug, Default, Deserialize)]
        #[serde(default)]
        struct Two {
            #[serde(rename = "ID")]
            upper: String,
            #[serde(rename = "Id")]
            mixed: String,
        }
        let t: Two = from_slice(br#"{"Id":"m","ID":"u","id":"x"}"#).unwrap();
        // "id" folds onto the first field that matches, as Go's field lookup does.
        assert_eq!((t.upper.as_str(), t.mixed.as_str()), ("x", "m"));
    }

    #[test]
    fn unknown_keys_and_trailing_bytes_are_ignored() {
        let p = pause(r#"{"Pause":true,"Whatever":{"deep":[1,2]}} garbage"#).unwrap();
        assert!(p.pause);
        let p = pause(r#"{"Pause":true}{"Pause":false}"#).unwrap();
        assert!(p.pause);
    }

    #[test]
    fn null_body_and_null_fields_are_zero() {
        assert_eq!(pause("null").unwrap(), Pause::default());
        let p = pause(r#"{"DeploymentID":null,"Pause":null,"Groups":null}"#).unwrap();
        assert_eq!(p, Pause::default());
    }

    #[test]
    fn no_type_coercion() {
        let e = pause(r#"{"Pause":"true"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"json: cannot decode Pause: invalid type: string "true", expected a boolean"#
        );
        #[derive(Debug, Deserialize)]
        struct N {
            #[serde(rename = "N")]
            _n: i64,
        }
        assert!(from_slice::<N>(br#"{"N":1.0}"#).is_err());
        assert!(from_slice::<N>(br#"{"N":"5"}"#).is_err());
    }

    #[test]
    fn malformed_json_is_an_error_and_only_the_first_value_counts() {
        assert!(pause("{").is_err());
        assert!(pause("x").is_err());
        assert_eq!(pause("   ").unwrap_err().to_string(), "EOF");
        assert!(pause(r#"["not an object"]"#).is_err());
    }

    #[test]
    fn engine_request_types_decode_through_renamed_fields() {
        let id = "5c0f0a8e-1234-4abc-9def-0123456789ab";
        let p: PauseDeployment =
            from_slice(format!(r#"{{"deploymentID":"{id}","PAUSE":true}}"#).as_bytes()).unwrap();
        assert_eq!(p.deployment_id.to_string(), id);
        assert!(p.pause);
        let h: SetAllocHealth = from_slice(
            format!(r#"{{"DEPLOYMENTID":"{id}","healthyallocationids":["{id}"],"UnhealthyAllocationIds":[]}}"#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(h.healthy_allocation_ids.len(), 1);
        assert_eq!(h.deployment_id.to_string(), id);
    }

    #[test]
    fn nested_job_fields_decode_case_insensitively() {
        let body = json!({
            "job": {
                "id": "web",
                "TYPE": "service",
                "meta": {"Owner": "team-a"},
                "taskgroups": [{
                    "name": "web",
                    "COUNT": 2,
                    "update": {"canary": 1, "maxparallel": 2, "healthcheck": "manual",
                               "minhealthytime": 1_000_000_000u64},
                    "tasks": [{"NAME": "app", "driver": "docker",
                               "config": {"Image": "app:1"},
                               "resources": {"cpu": 100, "memorymb": 64}}]
                }]
            },
            "enforceindex": true,
            "JOBMODIFYINDEX": 7
        });
        let req: RegisterJob = from_slice(body.to_string().as_bytes()).unwrap();
        assert!(req.enforce_index);
        assert_eq!(req.job_modify_index, 7);
        let job = req.job;
        assert_eq!((job.id.as_str(), job.job_type.as_str()), ("web", "service"));
        // Map keys are data, not field names: kept verbatim.
        assert_eq!(
            job.meta.unwrap().get("Owner").map(String::as_str),
            Some("team-a")
        );
        let g = &job.task_groups[0];
        assert_eq!((g.name.as_str(), g.count), ("web", Some(2)));
        let u = g.update.clone().unwrap();
        assert_eq!(u.canary, Some(1));
        assert_eq!(u.max_parallel, Some(2));
        assert_eq!(u.health_check.as_deref(), Some("manual"));
        assert_eq!(u.min_healthy_time, Some(1_000_000_000));
        let t = &g.tasks[0];
        assert_eq!((t.name.as_str(), t.driver.as_str()), ("app", "docker"));
        assert_eq!(t.config, Some(json!({"Image": "app:1"})));
        let r = t.resources.clone().unwrap();
        assert_eq!((r.cpu, r.memory_mb), (Some(100), Some(64)));
    }

    #[test]
    fn errors_name_the_nested_field() {
        let body = r#"{"Job":{"ID":"web","TaskGroups":[{"Name":"web","Count":"2"}]}}"#;
        let e = from_slice::<RegisterJob>(body.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"json: cannot decode Job.TaskGroups[0].Count: invalid type: string "2", expected i64"#
        );
    }
}
