//! The common query parameters (`http-api.md` §2), parsed once per request by typed
//! extractors, in Nomad's order and with Nomad's error texts: the first failing
//! parameter answers 400.

use crate::error::ApiError;
use crate::limits::{check_namespace, RequestSlot};
use crate::pagination::PageRequest;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use rollout_engine::state::Prefix;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The namespace a request addresses when it names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Raw query parameters; like Go's `url.Values.Get`, the first occurrence of a name wins.
#[derive(Clone, Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        Params(
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, `None` when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order (`?topic=a&topic=b`).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name` when present and non-empty.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// `?pretty`: present with an empty value, or any value other than `0`.
    fn pretty(&self) -> bool {
        self.get("pretty").is_some_and(|v| v != "0")
    }

    /// A boolean parameter parsed like Go's `strconv.ParseBool`; absent or empty is
    /// false; a bad value is a 400 with Nomad's wording.
    pub fn bool(&self, name: &str) -> Result<bool, ApiError> {
        match self.non_empty(name) {
            None => Ok(false),
            Some(v) => parse_go_bool(v).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Failed to parse value of {name:?} ({v}) as a bool: strconv.ParseBool: parsing {v:?}: invalid syntax"
                ))
            }),
        }
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Options of every read: namespace, prefix, pagination and blocking (`parse()` in
/// Nomad's agent). Endpoint-specific parameters stay available through [`Self::params`].
#[derive(Clone, Debug)]
pub struct QueryOptions {
    /// The selected namespace; `*` means all (list endpoints).
    pub namespace: String,
    /// The raw `prefix` (empty when absent); see [`Self::uuid_prefix`].
    pub prefix: String,
    pub page: PageRequest,
    /// Block until the result's index exceeds this (0 = do not block).
    pub min_index: u64,
    /// `at_index=N` (rollout's): read the state as of index N (time travel). Such a
    /// read never blocks: the past does not change.
    pub at_index: Option<u64>,
    /// The requested `wait`, if any (defaults and clamping happen in `blocking`).
    pub wait: Option<Duration>,
    pub pretty: bool,
    pub params: Params,
    /// The remote IP, when the request came over a socket (the per-client limits).
    pub client: Option<IpAddr>,
    /// The request's slot in the concurrency limit, released while a blocking query
    /// waits.
    pub slot: Option<RequestSlot>,
    /// Where a blocking query adds the time it waited (left out of request latency).
    pub wait_clock: Option<crate::metrics::WaitClock>,
}

impl QueryOptions {
    pub fn from_query(query: Option<&str>) -> Result<QueryOptions, ApiError> {
        let params = Params::parse(query);
        // Nomad's order: region, token, stale, prefix, namespace, pagination, filter,
        // reverse, wait/index. Region and token carry no meaning here (one region,
        // ACLs are a later layer) but `stale` is still validated.
        if let Some(stale) = params.get("stale") {
            if !stale.is_empty() && parse_go_bool(stale).is_none() {
                return Err(ApiError::bad_request(
                    "Expect `true` or `false` for `stale` query string parameter",
                ));
            }
        }
        let prefix = params.get("prefix").unwrap_or("").to_owned();
        let namespace = params
            .non_empty("namespace")
            .unwrap_or(DEFAULT_NAMESPACE)
            .to_owned();
        check_namespace(&namespace, true)?;
        let per_page = match params.non_empty("per_page") {
            None => 0,
            Some(v) => v.parse::<i32>().map_err(|_| {
                ApiError::bad_request("Expect a number for `per_page` query string parameter")
            })?,
        };
        let next_token = params.get("next_token").unwrap_or("").to_owned();
        if params.non_empty("filter").is_some() {
            // R8: filter expressions are not implemented yet; refusing is better than
            // silently returning unfiltered data.
            return Err(ApiError::bad_request(
                "failed to create result paginator: filter expressions are not supported",
            ));
        }
        let reverse = params.get("reverse") == Some("true");
        let wait = match params.non_empty("wait") {
            None => None,
            Some(v) => Some(
                parse_go_duration(v).ok_or_else(|| ApiError::bad_request("Invalid wait time"))?,
            ),
        };
        let min_index = match params.non_empty("index") {
            None => 0,
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| ApiError::bad_request("Invalid index"))?,
        };
        let at_index = match params.non_empty("at_index") {
            None => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "Invalid at_index {v:?}: expected a non-negative integer"
                ))
            })?),
        };
        Ok(QueryOptions {
            namespace,
            at_index,
            prefix,
            page: PageRequest {
                per_page,
                next_token,
                reverse,
            },
            min_index,
            wait: wait.flatten(),
            pretty: params.pretty(),
            params,
            client: None,
            slot: None,
            wait_clock: None,
        })
    }

    /// Gives the request's concurrency slot back (a blocking query about to wait).
    pub fn release_request_slot(&self) {
        if let Some(slot) = &self.slot {
            slot.release();
        }
    }

    /// The namespace as a list selector.
    pub fn namespace_selector(&self) -> Option<&str> {
        Some(self.namespace.as_str())
    }

    /// The `prefix` of UUID-keyed lists: even-length hex or 400 with Nomad's
    /// `index error: …` text (R1); `None` when absent.
    pub fn uuid_prefix(&self) -> Result<Option<Prefix>, ApiError> {
        if self.prefix.is_empty() {
            return Ok(None);
        }
        Ok(Some(Prefix::parse(&self.prefix)?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryOptions {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut options = QueryOptions::from_query(parts.uri.query())?;
        options.client = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        options.slot = parts.extensions.get::<RequestSlot>().cloned();
        options.wait_clock = parts.extensions.get::<crate::metrics::WaitClock>().cloned();
        Ok(options)
    }
}

/// Options of every write (`parseWriteRequest`): namespace and pretty printing.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// The `namespace` parameter when given; bodies may name one too, and the query wins.
    pub namespace: Option<String>,
    pub pretty: bool,
    pub params: Params,
}

impl WriteOptions {
    /// The options; a malformed `namespace` is a 400 (writes name one namespace, never
    /// the `*` selector).
    pub fn from_query(query: Option<&str>) -> Result<WriteOptions, ApiError> {
        let params = Params::parse(query);
        let namespace = params.non_empty("namespace").map(str::to_owned);
        if let Some(ns) = &namespace {
            check_namespace(ns, false)?;
        }
        Ok(WriteOptions {
            namespace,
            pretty: params.pretty(),
            params,
        })
    }

    /// Query namespace, else the body's, else `default`; the body's is checked here
    /// (400 when malformed).
    pub fn namespace_or(&self, body: &str) -> Result<String, ApiError> {
        let namespace = match (&self.namespace, body.is_empty()) {
            (Some(ns), _) => ns.clone(),
            (None, false) => body.to_owned(),
            (None, true) => DEFAULT_NAMESPACE.to_owned(),
        };
        check_namespace(&namespace, false)?;
        Ok(namespace)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WriteOptions {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        WriteOptions::from_query(parts.uri.query())
    }
}

/// Go's `time.ParseDuration` (the engine's parser) as Nomad's query parameters read it:
/// `Some(None)` for a zero or negative duration (which Nomad treats as "use the default")
/// and `None` when the text is invalid.
pub fn parse_go_duration(s: &str) -> Option<Option<Duration>> {
    let ns = rollout_engine::model::parse_go_duration(s).ok()?;
    Some(
        u64::try_from(ns)
            .ok()
            .filter(|n| *n > 0)
            .map(Duration::from_nanos),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let d = |s| parse_go_duration(s);
        assert_eq!(d("10s"), Some(Some(Duration::from_secs(10))));
        assert_eq!(d("300000ms"), Some(Some(Duration::from_secs(300))));
        assert_eq!(d("1h30m"), Some(Some(Duration::from_secs(5400))));
        assert_eq!(d("1.5s"), Some(Some(Duration::from_millis(1500))));
        assert_eq!(d("250us"), Some(Some(Duration::from_micros(250))));
        assert_eq!(d("0"), Some(None));
        assert_eq!(d("-5s"), Some(None));
        assert_eq!(d("10"), None);
        assert_eq!(d("abc"), None);
        assert_eq!(d("5x"), None);
        assert_eq!(d(""), None);
    }

    #[test]
    fn query_errors_in_nomad_order() {
        let e = |q| QueryOptions::from_query(Some(q)).unwrap_err().message;
        assert_eq!(
            e("stale=maybe&per_page=x"),
            "Expect `true` or `false` for `stale` query string parameter"
        );
        assert_eq!(
            e("per_page=x&wait=x"),
            "Expect a number for `per_page` query string parameter"
        );
        assert_eq!(e("wait=10&index=x"), "Invalid wait time");
        assert_eq!(e("index=-1"), "Invalid index");
    }

    #[test]
    fn defaults_and_flags() {
        let q = QueryOptions::from_query(Some("stale&pretty&reverse=True")).unwrap();
        assert_eq!(q.namespace, "default");
        assert!(q.pretty);
        assert!(!q.page.reverse, "only the exact string `true` reverses");
        let q = QueryOptions::from_query(Some("pretty=0&namespace=*&reverse=true")).unwrap();
        assert!(!q.pretty);
        assert_eq!(q.namespace, "*");
        assert!(q.page.reverse);
    }
}
