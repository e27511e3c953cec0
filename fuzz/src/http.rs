//! The HTTP targets' harness: the real router (`rollout_http::Api::router`) over a
//! [`MemoryBackend`] that starts from a fixture state, driven in-process with
//! `tower::ServiceExt::oneshot` — no sockets, so the targets exercise exactly what the
//! agent runs: path and query extractors, the Go-style body decoder, handlers, the
//! engine and the response writers.
//!
//! Every request checks: no panic, no 5xx (bad input is a 4xx; the memory backend has no
//! I/O that could fail), a rejected request or a read changes nothing, and the state's
//! indexes still agree with its tables afterwards.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rollout_engine::acl::{
    AclPolicyWrite, AclTokenWrite, BootstrapAcl, SecretHash, UpsertAclPolicies, UpsertAclTokens,
};
use rollout_engine::command::{RegisterJob, UpdateEvalStatus};
use rollout_engine::model::{Job, UpdateStrategy, MINUTE_NS, SECOND_NS};
use rollout_engine::namespace::{Namespace, UpsertNamespaces};
use rollout_engine::{
    plan, Command, DeploymentEngine, EngineConfig, SeededStamp, State, VirtualClock,
};
use rollout_http::{Api, Config, MemoryBackend};
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;
use uuid::Uuid;

/// The fixture's clock: 2023-11-14T22:13:20Z plus a few minutes.
pub const NOW: i64 = crate::engine::T0 + 10 * MINUTE_NS;
/// The management token's secret (a UUID, as Nomad's secrets are).
pub const MANAGEMENT_SECRET: &str = "5ec0e7a1-0000-4000-8000-00000000f022";
/// A client token with the `readonly` policy.
pub const CLIENT_SECRET: &str = "5ec0e7a1-0000-4000-8000-00000000c11e";
pub const MANAGEMENT_ACCESSOR: Uuid = Uuid::from_u128(0xacce_5500_0000_4000_8000_0000_0000_0001);
pub const CLIENT_ACCESSOR: Uuid = Uuid::from_u128(0xacce_5500_0000_4000_8000_0000_0000_0002);
/// The one ACL policy of the fixture (the policy endpoint's path name in `json_bodies`).
pub const POLICY: &str = "readonly";

/// A state with something behind every ID an endpoint takes: job `web` (a stable
/// version 0 and a running canary deployment of version 1), a pending evaluation, live
/// allocations, a second namespace, and ACL tokens and a policy.
pub struct Fixture {
    pub state: State,
    pub job: String,
    /// The running (canary) deployment and the finished one before it.
    pub deployment: Uuid,
    pub old_deployment: Uuid,
    /// A pending evaluation (its plan was applied, it was not acknowledged).
    pub eval: Uuid,
    pub canary: Uuid,
    pub alloc: Uuid,
}

fn web_job(image: &str) -> Job {
    let mut job = crate::engine::base_job(&crate::engine::Register {
        count: 2,
        canary: 1,
        ..Default::default()
    });
    job.id = "web".into();
    job.name = "web".into();
    for g in &mut job.task_groups {
        g.update = Some(UpdateStrategy {
            canary: Some(1),
            max_parallel: Some(1),
            auto_revert: Some(true),
            min_healthy_time: Some(SECOND_NS),
            healthy_deadline: Some(MINUTE_NS),
            progress_deadline: Some(10 * MINUTE_NS),
            ..Default::default()
        });
        for t in &mut g.tasks {
            t.config = Some(serde_json::json!({ "image": image }));
        }
    }
    job
}

/// Builds the fixture through the engine: the n-th command (from 1) at `NOW - 60 s + n s`
/// with `Entropy::from_u64(n)`.
struct Builder {
    engine: DeploymentEngine,
}

impl Builder {
    fn new() -> Builder {
        let clock = VirtualClock::new(NOW - 59 * SECOND_NS);
        Builder {
            engine: DeploymentEngine::new(
                EngineConfig::default(),
                SeededStamp::stepping(1, clock, SECOND_NS),
            ),
        }
    }

    fn apply(&mut self, command: Command) -> rollout_engine::Outcome {
        let name = command.name();
        self.engine
            .submit(command)
            .unwrap_or_else(|e| panic!("fixture command {name} failed: {e}"))
            .outcome
    }

    /// Places the plan of `eval` in full; returns the new allocations.
    fn place(&mut self, eval: Uuid) -> Vec<Uuid> {
        let p = plan(self.engine.state(), &eval, NOW).expect("fixture plan");
        self.apply(Command::ApplyPlanResult(p.accept_on_node("node-1", "n1")))
            .allocs_created
    }

    fn ack(&mut self, eval: Uuid) {
        self.apply(Command::UpdateEvalStatus(UpdateEvalStatus {
            eval_id: eval,
            status: "complete".into(),
            status_description: String::new(),
        }));
    }

    fn healthy(&mut self, allocs: &[Uuid]) {
        use rollout_engine::command::*;
        let now = NOW;
        self.apply(Command::UpdateAllocsFromClient(ClientAllocUpdates {
            allocations: allocs
                .iter()
                .map(|id| ClientAllocUpdate {
                    id: *id,
                    client_status: "running".into(),
                    deployment_status: Some(ClientDeploymentStatus {
                        healthy: Some(true),
                        timestamp: rollout_engine::model::Timestamp(now),
                        canary: false,
                    }),
                    modify_time: now,
                    ..Default::default()
                })
                .collect(),
        }));
    }
}

fn build_fixture() -> Fixture {
    let mut b = Builder::new();
    // Version 0: placed, healthy, stable.
    let o = b.apply(Command::RegisterJob(RegisterJob {
        job: web_job("app:1"),
        ..Default::default()
    }));
    let old_deployment = o.deployments_created[0];
    let eval = o.evals_created[0];
    let allocs = b.place(eval);
    b.ack(eval);
    b.healthy(&allocs);
    // Version 1: a canary placed and healthy, awaiting promotion; its evaluation pending.
    let o = b.apply(Command::RegisterJob(RegisterJob {
        job: web_job("app:2"),
        ..Default::default()
    }));
    let deployment = o.deployments_created[0];
    let eval = o.evals_created[0];
    let canaries = b.place(eval);
    b.healthy(&canaries);
    // A job in another namespace (which must exist first: NS1).
    b.apply(Command::UpsertNamespaces(UpsertNamespaces {
        namespaces: vec![Namespace {
            name: "other".into(),
            ..Namespace::default()
        }],
    }));
    let mut other = web_job("app:1");
    other.namespace = "other".into();
    other.id = "api".into();
    b.apply(Command::RegisterJob(RegisterJob {
        job: other,
        ..Default::default()
    }));
    // ACLs: a management token, a policy and a client token holding it.
    b.apply(Command::BootstrapAcl(BootstrapAcl {
        accessor_id: MANAGEMENT_ACCESSOR,
        secret_hash: SecretHash::of(MANAGEMENT_SECRET),
        reset_index: 0,
    }));
    let rules = r#"namespace "default" { policy = "read" }"#;
    b.apply(Command::UpsertAclPolicies(UpsertAclPolicies {
        policies: vec![AclPolicyWrite {
            name: POLICY.into(),
            description: "fuzz fixture".into(),
            rules: rules.into(),
            document: rollout_http::acl::rules::parse_rules(rules).expect("fixture rules"),
            job_acl: None,
        }],
    }));
    b.apply(Command::UpsertAclTokens(UpsertAclTokens {
        tokens: vec![AclTokenWrite {
            accessor_id: CLIENT_ACCESSOR,
            secret_hash: Some(SecretHash::of(CLIENT_SECRET)),
            name: "reader".into(),
            token_type: "client".into(),
            policies: vec![POLICY.into()],
            ..Default::default()
        }],
    }));
    let state = b.engine.into_state();
    state.check_indexes().expect("fixture indexes");
    Fixture {
        job: "web".into(),
        deployment,
        old_deployment,
        eval,
        canary: canaries[0],
        alloc: allocs[0],
        state,
    }
}

/// The fixture, built once per process.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

/// Which token a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// ACLs disabled (the default agent).
    Off,
    /// ACLs enabled, the management token.
    Management,
    /// ACLs enabled, a client token with the `readonly` policy.
    Client,
    /// ACLs enabled, no token.
    Anonymous,
}

impl Auth {
    pub fn from_bits(bits: u8) -> Auth {
        [Auth::Off, Auth::Management, Auth::Client, Auth::Anonymous][bits as usize % 4]
    }
}

/// What a URI path segment may hold as it is (RFC 3986 unreserved, sub-delims, `:`, `@`),
/// plus `%`, so inputs can carry their own escapes; everything else is percent-encoded.
const PATH_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b':')
    .remove(b'@')
    .remove(b'%');

/// A query may also hold `&`, `=`, `/` and `?` as they are.
const QUERY_ESCAPED: &AsciiSet = &PATH_ESCAPED
    .remove(b'&')
    .remove(b'=')
    .remove(b'/')
    .remove(b'?');

/// Percent-encodes what a URI cannot hold, so any bytes make a valid request line.
pub fn escape(bytes: &[u8], in_query: bool) -> String {
    let set = if in_query {
        QUERY_ESCAPED
    } else {
        PATH_ESCAPED
    };
    percent_encode(bytes, set).to_string()
}

/// What a request did.
pub struct Response {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    thread_local! {
        static RT: &'static tokio::runtime::Runtime = Box::leak(Box::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                // Paused time advances by itself whenever the runtime is idle: a
                // blocking query's `wait` elapses at once.
                .start_paused(true)
                .build()
                .expect("tokio runtime"),
        ));
    }
    RT.with(|rt| *rt)
}

/// Sends one request to a fresh API over the fixture and checks the rules in the module
/// docs. `path_and_query` must already be a valid URI (see [`escape`]).
pub fn send(method: Method, path_and_query: &str, auth: Auth, body: Vec<u8>) -> Response {
    let fx = fixture();
    let backend = Arc::new(MemoryBackend::from_engine(DeploymentEngine::from_state(
        fx.state.clone(),
        SeededStamp::new(7, VirtualClock::new(NOW)),
    )));
    let api = Api::new(
        backend.clone(),
        Config {
            acl_enabled: auth != Auth::Off,
            ..Config::default()
        },
    );
    let mut request = Request::builder()
        .method(method.clone())
        .uri(path_and_query);
    match auth {
        Auth::Management => request = request.header("X-Nomad-Token", MANAGEMENT_SECRET),
        Auth::Client => request = request.header("X-Nomad-Token", CLIENT_SECRET),
        Auth::Off | Auth::Anonymous => {}
    }
    let Ok(request) = request.body(Body::from(body)) else {
        // Not a request `http` can represent: nothing for us to test.
        return Response {
            status: StatusCode::BAD_REQUEST,
            body: Vec::new(),
        };
    };
    let router = api.router();
    let (status, body) = runtime().block_on(async move {
        let response = router.oneshot(request).await.expect("infallible router");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("response body");
        (status, body.to_vec())
    });
    assert!(
        !status.is_server_error(),
        "{method} {path_and_query}: {status}: {}",
        String::from_utf8_lossy(&body)
    );
    let after = rollout_http::Backend::state(&*backend);
    if !status.is_success() || method == Method::GET {
        assert_eq!(
            after.index(),
            fx.state.index(),
            "{method} {path_and_query} answered {status} but changed the state"
        );
    }
    if let Err(e) = after.check_indexes() {
        panic!("{method} {path_and_query}: indexes broken: {e}");
    }
    Response { status, body }
}
