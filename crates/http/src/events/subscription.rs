//! What a subscriber asked for (`topic`, `namespace`, where to start) and what it may
//! see (`http-api.md` §9).

use super::frame::Rendered;
use crate::acl::Identity;
use crate::error::ApiError;
use crate::limits::check_namespace;
use crate::query::{Params, DEFAULT_NAMESPACE};
use std::collections::BTreeMap;

/// The topics and keys asked for: `Topic:Key` pairs, `*` for any topic or key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Topics(BTreeMap<String, Vec<String>>);

impl Topics {
    /// Nomad's parsing: each `topic` value is `Topic` (= `Topic:*`) or `Topic:Key`;
    /// none at all is `*:*`.
    pub fn parse(params: &Params) -> Result<Topics, ApiError> {
        let mut topics: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for value in params.all("topic") {
            let (topic, key) = match value.split(':').collect::<Vec<_>>()[..] {
                [topic] => (topic, "*"),
                [topic, key] => (topic, key),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid topic query: error parsing topics: Invalid key value pair for topic, topic: {value}"
                    )))
                }
            };
            topics
                .entry(topic.to_string())
                .or_default()
                .push(key.to_string());
        }
        if topics.is_empty() {
            topics.insert("*".into(), vec!["*".into()]);
        }
        Ok(Topics(topics))
    }

    /// Nomad's ACL rules for subscribing: the job topics need `read-job` in the
    /// namespace (for `*`, in some namespace: events are then filtered one by one),
    /// `Node` needs `node:read`, and every other topic (ACL objects, `*` and any name
    /// rollout does not know) a management token.
    pub fn authorize(&self, who: &Identity, namespace: &str) -> Result<(), ApiError> {
        for topic in self.0.keys() {
            match topic.as_str() {
                "Job" | "Allocation" | "Deployment" | "Evaluation" => {
                    who.require_read(namespace)?
                }
                "Node" => who.require_node_read()?,
                _ => who.require_management()?,
            }
        }
        Ok(())
    }

    /// The keys an event must carry (as its key or a filter key) to match, or `None`
    /// when some topic takes any key: what the hub indexes subscribers by.
    pub fn routing_keys(&self) -> Option<Vec<String>> {
        let mut keys = Vec::new();
        for topic_keys in self.0.values() {
            if topic_keys.iter().any(|k| k == "*") {
                return None;
            }
            keys.extend(topic_keys.iter().cloned());
        }
        keys.sort();
        keys.dedup();
        Some(keys)
    }

    /// Does an event match: a subscribed topic (or `*`) with key `*`, the event's key,
    /// or one of its filter keys?
    fn matches(&self, e: &Rendered) -> bool {
        let name = e.topic.name();
        self.0
            .iter()
            .filter(|(topic, _)| *topic == "*" || *topic == name)
            .flat_map(|(_, keys)| keys)
            .any(|k| k == "*" || *k == e.key || e.filter_keys.iter().any(|f| f == k))
    }
}

/// Where a stream starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// `index=0` or none: the oldest write that can still be replayed.
    Oldest,
    /// `index=N`: the first write at or after N (Nomad's inclusive `index`).
    At(u64),
    /// `index=-1` or `start=now`: the next write.
    Now,
}

impl Start {
    /// `index` (Nomad's: inclusive), `after_index` (rollout's: strictly after) and
    /// `start=now`; at most one of them.
    pub fn parse(params: &Params) -> Result<Start, ApiError> {
        let index = params.non_empty("index");
        let after = params.non_empty("after_index");
        let now = params.non_empty("start");
        if [index.is_some(), after.is_some(), now.is_some()]
            .iter()
            .filter(|b| **b)
            .count()
            > 1
        {
            return Err(ApiError::bad_request(
                "index, after_index and start are mutually exclusive",
            ));
        }
        if let Some(v) = now {
            return match v {
                "now" => Ok(Start::Now),
                _ => Err(ApiError::bad_request(format!(
                    "Unable to parse start: {v:?} (the only value is \"now\")"
                ))),
            };
        }
        if let Some(v) = after {
            let n = v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "Unable to parse after_index: {v:?} is not a non-negative integer"
                ))
            })?;
            return Ok(n.checked_add(1).map_or(Start::Now, Start::At));
        }
        let Some(v) = index else {
            return Ok(Start::Oldest);
        };
        // Go's `strconv.Atoi` and its error text.
        let n = v.parse::<i64>().map_err(|e| {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "value out of range"
                }
                _ => "invalid syntax",
            };
            ApiError::bad_request(format!(
                "Unable to parse index: strconv.Atoi: parsing {v:?}: {why}"
            ))
        })?;
        Ok(match n {
            0 => Start::Oldest,
            n if n < 0 => Start::Now,
            n => Start::At(n as u64),
        })
    }
}

/// Which namespaces' events a subscriber gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Namespaces {
    One(String),
    All,
}

/// One subscriber's filter.
#[derive(Clone, Debug)]
pub(crate) struct Subscription {
    pub topics: Topics,
    pub namespaces: Namespaces,
    pub start: Start,
}

impl Subscription {
    pub fn parse(params: &Params) -> Result<Subscription, ApiError> {
        let start = Start::parse(params)?;
        let namespace = params.non_empty("namespace").unwrap_or(DEFAULT_NAMESPACE);
        check_namespace(namespace, true)?;
        let namespaces = match namespace {
            "*" => Namespaces::All,
            ns => Namespaces::One(ns.to_string()),
        };
        Ok(Subscription {
            topics: Topics::parse(params)?,
            namespaces,
            start,
        })
    }

    /// The namespace as the ACL checks name it (`*` for all).
    pub fn namespace(&self) -> &str {
        match &self.namespaces {
            Namespaces::One(ns) => ns,
            Namespaces::All => "*",
        }
    }

    /// Did the subscriber ask for this event: a topic and key it named, in a namespace
    /// it named? Events of no namespace (ACL objects) pass the namespace check; their
    /// topics need a management token to subscribe.
    pub fn asks_for(&self, e: &Rendered) -> bool {
        self.topics.matches(e)
            && (e.namespace.is_empty()
                || match &self.namespaces {
                    Namespaces::All => true,
                    Namespaces::One(ns) => **ns == *e.namespace,
                })
    }

    /// Does the subscriber get this event: asked for, and in a namespace its token may
    /// read (checked per event: `namespace=*` with a token for some namespaces only).
    pub fn wants(&self, e: &Rendered, who: &Identity) -> bool {
        self.asks_for(e) && (e.namespace.is_empty() || who.can_read(&e.namespace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Params {
        Params::parse(Some(q))
    }

    #[test]
    fn a_bare_topic_means_every_key_and_no_topic_means_everything() {
        let t = Topics::parse(&params("topic=Deployment&topic=Job:web")).unwrap();
        assert_eq!(
            t.0,
            BTreeMap::from([
                ("Deployment".into(), vec!["*".into()]),
                ("Job".into(), vec!["web".into()])
            ])
        );
        let all = Topics::parse(&params("")).unwrap();
        assert_eq!(all.0, BTreeMap::from([("*".into(), vec!["*".into()])]));
    }

    #[test]
    fn a_topic_with_two_colons_is_refused_with_nomads_text() {
        let e = Topics::parse(&params("topic=Job:a:b")).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid topic query: error parsing topics: Invalid key value pair for topic, topic: Job:a:b"
        );
    }

    #[test]
    fn index_is_inclusive_after_index_exclusive_and_minus_one_is_now() {
        assert_eq!(Start::parse(&params("")).unwrap(), Start::Oldest);
        assert_eq!(Start::parse(&params("index=0")).unwrap(), Start::Oldest);
        assert_eq!(Start::parse(&params("index=7")).unwrap(), Start::At(7));
        assert_eq!(
            Start::parse(&params("after_index=7")).unwrap(),
            Start::At(8)
        );
        assert_eq!(Start::parse(&params("index=-1")).unwrap(), Start::Now);
        assert_eq!(Start::parse(&params("start=now")).unwrap(), Start::Now);
        let e = Start::parse(&params("index=x")).unwrap_err();
        assert_eq!(
            e.message,
            "Unable to parse index: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        let e = Start::parse(&params("index=1&after_index=2")).unwrap_err();
        assert_eq!(
            e.message,
            "index, after_index and start are mutually exclusive"
        );
    }
}
