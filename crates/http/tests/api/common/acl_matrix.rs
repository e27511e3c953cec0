//! The ACL matrix (issue 6): every endpoint × {no token, a token whose policy does not
//! exist, read token, write token, token for another namespace, management token,
//! garbage token}, with the exact status and body, and — for every refused request —
//! proof that nothing changed (the applied index before and after).
//!
//! It speaks only HTTP, so it runs against an in-process server (crates/http) and
//! against the real `rollout agent --acl-enabled` binary (crates/cli) alike: the caller
//! passes a function that starts a fresh, empty ACL-enabled agent.
#![allow(dead_code)]

use super::client::{job, Client};
use serde_json::{json, Value};
use std::future::Future;
use std::ops::Deref;

/// Who asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// No token: the anonymous token (no `anonymous` policy exists).
    NoToken,
    /// A client token whose only policy does not exist.
    NoPolicy,
    /// `namespace "default" { policy = "read" }`.
    Read,
    /// `namespace "default" { policy = "write" }`.
    Write,
    /// `namespace "other" { policy = "write" }`.
    Other,
    Management,
    /// A secret no token has.
    Garbage,
}

pub const EVERYONE: [Who; 7] = [
    Who::NoToken,
    Who::NoPolicy,
    Who::Read,
    Who::Write,
    Who::Other,
    Who::Management,
    Who::Garbage,
];

/// What a request must answer.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// 200 with a JSON body (or, for empty answers, an empty one).
    Ok,
    /// 200 with a JSON list of exactly this many items.
    List(usize),
    /// 403 `Permission denied`.
    Denied,
    /// This status and exactly this body.
    Err(u16, &'static str),
}

use Expect::{Denied, Err, List, Ok};

/// A fresh agent's ACL setup and objects.
pub struct Fixture {
    pub management: String,
    pub secrets: Vec<(Who, String)>,
    /// The read token's accessor.
    pub read_accessor: String,
    /// A running deployment in `default` with one healthy canary, and its canary.
    pub deployment: String,
    pub canary: String,
    /// A deployment in namespace `other`.
    pub other_deployment: String,
    pub eval: String,
    pub alloc: String,
}

impl Fixture {
    pub fn client(&self, base: &Client, who: Who) -> Client {
        match who {
            Who::NoToken => base.clone(),
            Who::Management => base.with_token(&self.management),
            Who::Garbage => base.with_token("4f9a3bcd-0000-4000-8000-00000000dead"),
            other => {
                let secret = &self
                    .secrets
                    .iter()
                    .find(|(w, _)| *w == other)
                    .expect("token")
                    .1;
                base.with_token(secret)
            }
        }
    }
}

fn canary_job(image: &str) -> Value {
    job(
        "web",
        2,
        image,
        json!({"Canary": 1, "MaxParallel": 1, "HealthCheck": "task_states", "MinHealthyTime": 0}),
    )
}

/// Bootstraps ACLs, writes the policies and tokens, and builds a canary deployment in
/// `default` and one in `other`.
pub async fn setup(base: &Client) -> Fixture {
    let boot = base.put("/v1/acl/bootstrap", json!({})).await.ok();
    let management = boot["SecretID"].as_str().expect("secret").to_owned();
    let m = base.with_token(&management);
    for (name, ns, level) in [
        ("read-default", "default", "read"),
        ("write-default", "default", "write"),
        ("write-other", "other", "write"),
    ] {
        let rules = format!("namespace \"{ns}\" {{\n  policy = \"{level}\"\n}}\n");
        let r = m
            .put(
                &format!("/v1/acl/policy/{name}"),
                json!({"Name": name, "Rules": rules}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let mut secrets = Vec::new();
    let mut read_accessor = String::new();
    for (who, policy) in [
        (Who::NoPolicy, "ghost"),
        (Who::Read, "read-default"),
        (Who::Write, "write-default"),
        (Who::Other, "write-other"),
    ] {
        let t = m
            .put(
                "/v1/acl/token",
                json!({"Name": format!("{who:?}"), "Type": "client", "Policies": [policy]}),
            )
            .await
            .ok();
        if who == Who::Read {
            read_accessor = t["AccessorID"].as_str().unwrap().to_owned();
        }
        secrets.push((who, t["SecretID"].as_str().unwrap().to_owned()));
    }
    // v0 everywhere, then v1 in default: one canary, placed and healthy.
    m.create_namespace("other").await;
    m.put("/v1/jobs", canary_job("app:1")).await.ok();
    m.put("/v1/jobs?namespace=other", canary_job("app:1"))
        .await
        .ok();
    m.converge().await;
    m.put("/v1/jobs", canary_job("app:2")).await.ok();
    let placed = m.schedule().await;
    m.report(&placed, Some(true)).await;
    let deployment = m.latest_deployment_id("web").await;
    let other_deployment = m.get("/v1/job/web/deployment?namespace=other").await.ok()["ID"]
        .as_str()
        .unwrap()
        .to_owned();
    let evals = m.get("/v1/job/web/evaluations").await.ok();
    let eval = evals[0]["ID"].as_str().unwrap().to_owned();
    Fixture {
        management,
        secrets,
        read_accessor,
        deployment,
        canary: placed[0].clone(),
        other_deployment,
        eval,
        alloc: placed[0].clone(),
    }
}

/// One row: a request and what each of [`EVERYONE`] gets.
pub struct Row {
    pub name: &'static str,
    pub method: &'static str,
    pub path: String,
    pub body: Option<Value>,
    pub expect: [Expect; 7],
}

fn row(
    name: &'static str,
    method: &'static str,
    path: String,
    body: Option<Value>,
    expect: [Expect; 7],
) -> Row {
    Row {
        name,
        method,
        path,
        body,
        expect,
    }
}

/// Who may read jobs in `default`: read, write, management.
const READ: [Expect; 7] = [Denied, Denied, Ok, Ok, Denied, Ok, Denied];
/// Who may submit jobs in `default`: write, management.
const WRITE: [Expect; 7] = [Denied, Denied, Denied, Ok, Denied, Ok, Denied];
/// Management only.
const MGMT: [Expect; 7] = [Denied, Denied, Denied, Denied, Denied, Ok, Denied];
/// A write to a deployment in `default`: write and management; read gets 403; whoever
/// cannot even read `default` gets the unknown deployment's 404.
const DEPLOYMENT_WRITE: [Expect; 7] = [
    Err(404, "deployment not found"),
    Err(404, "deployment not found"),
    Denied,
    Ok,
    Err(404, "deployment not found"),
    Ok,
    Denied,
];

/// Every row of the matrix, with the fixture's IDs.
pub fn rows(f: &Fixture) -> Vec<Row> {
    let d = &f.deployment;
    let od = &f.other_deployment;
    let (e, a, c) = (&f.eval, &f.alloc, &f.canary);
    let not_found = |m| Err(404, m);
    vec![
        // --- deployments -------------------------------------------------------------
        // Two deployments in `default` (v0, v1), one in `other`.
        row("deployments", "GET", "/v1/deployments".into(), None, [Denied, Denied, List(2), List(2), Denied, List(2), Denied]),
        row("deployments, all namespaces", "GET", "/v1/deployments?namespace=*".into(), None,
            [Denied, Denied, List(2), List(2), List(1), List(3), Denied]),
        row("deployments in other", "GET", "/v1/deployments?namespace=other".into(), None,
            [Denied, Denied, Denied, Denied, List(1), List(1), Denied]),
        row("deployment", "GET", format!("/v1/deployment/{d}"), None, READ),
        row("deployment of other, asked in other", "GET", format!("/v1/deployment/{d}?namespace=other"), None,
            [Denied, Denied, Denied, Denied, not_found("deployment not found"), Ok, Denied]),
        row("deployment allocations", "GET", format!("/v1/deployment/allocations/{d}"), None, READ),
        // Not readable is answered like unknown (`[]`): existence elsewhere is not told.
        row("deployment allocations of other", "GET", format!("/v1/deployment/allocations/{od}"), None,
            [Denied, Denied, List(0), List(0), Denied, Ok, Denied]),
        row("fail", "PUT", format!("/v1/deployment/fail/{d}"), None, DEPLOYMENT_WRITE),
        // A deployment the token cannot read is answered like an unknown one (404).
        row("fail in other", "PUT", format!("/v1/deployment/fail/{od}"), None,
            [not_found("deployment not found"), not_found("deployment not found"), not_found("deployment not found"),
             not_found("deployment not found"), Err(409, "can't fail terminal deployment"), Err(409, "can't fail terminal deployment"), Denied]),
        row("fail unknown", "PUT", "/v1/deployment/fail/00000000-0000-4000-8000-000000000000".into(), None,
            [not_found("deployment not found"), not_found("deployment not found"), not_found("deployment not found"),
             not_found("deployment not found"), not_found("deployment not found"), not_found("deployment not found"), Denied]),
        row("pause", "PUT", format!("/v1/deployment/pause/{d}"), Some(json!({"DeploymentID": d, "Pause": true})), DEPLOYMENT_WRITE),
        row("promote", "PUT", format!("/v1/deployment/promote/{d}"), Some(json!({"DeploymentID": d, "All": true})), DEPLOYMENT_WRITE),
        row("allocation health", "PUT", format!("/v1/deployment/allocation-health/{d}"),
            Some(json!({"DeploymentID": d, "HealthyAllocationIDs": [c]})), DEPLOYMENT_WRITE),
        row("unblock", "PUT", format!("/v1/deployment/unblock/{d}"), Some(json!({"DeploymentID": d})),
            [not_found("deployment not found"), not_found("deployment not found"), Denied,
             Err(400, "multiregion deployments are not supported"), not_found("deployment not found"),
             Err(400, "multiregion deployments are not supported"), Denied]),
        // --- jobs --------------------------------------------------------------------
        row("jobs", "GET", "/v1/jobs".into(), None, [Denied, Denied, List(1), List(1), Denied, List(1), Denied]),
        row("jobs, all namespaces", "GET", "/v1/jobs?namespace=*".into(), None,
            [Denied, Denied, List(1), List(1), List(1), List(2), Denied]),
        row("register", "PUT", "/v1/jobs".into(), Some(canary_job("app:3")), WRITE),
        row("register in other", "PUT", "/v1/jobs?namespace=other".into(), Some(canary_job("app:3")),
            [Denied, Denied, Denied, Denied, Ok, Ok, Denied]),
        row("register at", "PUT", "/v1/job/web".into(), Some(canary_job("app:3")), WRITE),
        row("job", "GET", "/v1/job/web".into(), None, READ),
        row("job versions", "GET", "/v1/job/web/versions".into(), None, READ),
        row("job versions with diffs", "GET", "/v1/job/web/versions?diffs=true".into(), None, READ),
        row("jobs parse", "PUT", "/v1/jobs/parse".into(), Some(json!({"JobHCL": "job \"web\" {}"})), READ),
        row("validate job", "PUT", "/v1/validate/job".into(), Some(canary_job("app:3")), READ),
        row("job plan", "PUT", "/v1/job/web/plan".into(), Some(canary_job("app:3")), WRITE),
        row("job deployments", "GET", "/v1/job/web/deployments".into(), None, READ),
        row("job deployment", "GET", "/v1/job/web/deployment".into(), None, READ),
        row("job evaluations", "GET", "/v1/job/web/evaluations".into(), None, READ),
        row("job allocations", "GET", "/v1/job/web/allocations".into(), None, READ),
        row("revert", "PUT", "/v1/job/web/revert".into(), Some(json!({"JobID": "web", "JobVersion": 0})), WRITE),
        row("stable", "PUT", "/v1/job/web/stable".into(), Some(json!({"JobID": "web", "JobVersion": 0, "Stable": false})), WRITE),
        row("deregister", "DELETE", "/v1/job/web".into(), None, WRITE),
        row("purge", "DELETE", "/v1/job/web?purge=true".into(), None, WRITE),
        // --- evaluations and allocations ---------------------------------------------
        row("evaluations", "GET", "/v1/evaluations".into(), None, READ),
        row("evaluation", "GET", format!("/v1/evaluation/{e}"), None, READ),
        row("evaluation allocations", "GET", format!("/v1/evaluation/{e}/allocations"), None, READ),
        row("allocations", "GET", "/v1/allocations".into(), None, READ),
        row("allocation", "GET", format!("/v1/allocation/{a}"), None, READ),
        row("allocation asked in other", "GET", format!("/v1/allocation/{a}?namespace=other"), None,
            [Denied, Denied, Denied, Denied, not_found("alloc not found"), Ok, Denied]),
        // --- scheduler and client ingest (R6): management only ------------------------
        row("plan", "GET", "/v1/engine/plan/00000000-0000-4000-8000-000000000000".into(), None,
            [Denied, Denied, Denied, Denied, Denied, not_found("eval not found"), Denied]),
        row("plan result", "POST", "/v1/engine/plan".into(), Some(json!({})),
            [Denied, Denied, Denied, Denied, Denied, Err(400, "EvalID must be specified"), Denied]),
        row("client updates", "POST", "/v1/engine/allocations/update".into(), Some(json!({"Allocations": []})),
            [Denied, Denied, Denied, Denied, Denied, Err(400, "must specify at least one allocation update"), Denied]),
        row("eval ack", "POST", format!("/v1/evaluation/{e}/ack"), Some(json!({"Status": "done"})),
            [Denied, Denied, Denied, Denied, Denied,
             Err(400, "invalid evaluation status \"done\": must be \"complete\", \"failed\" or \"canceled\""), Denied]),
        // --- ACLs ----------------------------------------------------------------------
        row("bootstrap again", "PUT", "/v1/acl/bootstrap".into(), None,
            [Err(400, "ACL bootstrap already done (reset index: 1)"); 7]),
        row("policies", "GET", "/v1/acl/policies".into(), None,
            [List(0), List(0), List(1), List(1), List(1), List(3), Denied]),
        row("policy", "GET", "/v1/acl/policy/read-default".into(), None,
            [Denied, Denied, Ok, Denied, Denied, Ok, Denied]),
        row("anonymous policy", "GET", "/v1/acl/policy/anonymous".into(), None,
            [not_found("ACL policy not found"), not_found("ACL policy not found"), not_found("ACL policy not found"),
             not_found("ACL policy not found"), not_found("ACL policy not found"), not_found("ACL policy not found"), Denied]),
        row("write policy", "PUT", "/v1/acl/policy/new".into(),
            Some(json!({"Name": "new", "Rules": "namespace \"default\" { policy = \"read\" }"})), MGMT),
        row("delete policy", "DELETE", "/v1/acl/policy/read-default".into(), None, MGMT),
        row("tokens", "GET", "/v1/acl/tokens".into(), None,
            [Denied, Denied, Denied, Denied, Denied, List(5), Denied]),
        row("create token", "PUT", "/v1/acl/token".into(),
            Some(json!({"Name": "n", "Type": "client", "Policies": ["read-default"]})), MGMT),
        row("token", "GET", format!("/v1/acl/token/{}", f.read_accessor), None,
            [Denied, Denied, Ok, Denied, Denied, Ok, Denied]),
        row("token self", "GET", "/v1/acl/token/self".into(), None,
            [not_found("ACL token not found"), Ok, Ok, Ok, Ok, Ok, Denied]),
        row("delete token", "DELETE", format!("/v1/acl/token/{}", f.read_accessor), None, MGMT),
        // --- no ACL at all ---------------------------------------------------------------
        row("health", "GET", "/v1/agent/health".into(), None, [Ok; 7]),
    ]
}

/// Runs the whole matrix. `start` starts a fresh, empty agent with ACLs enabled; a new
/// one is started whenever a request was allowed to change something.
pub async fn run<T, F, Fut>(start: F)
where
    T: Deref<Target = Client>,
    F: Fn() -> Fut,
    Fut: Future<Output = T>,
{
    let mut agent = start().await;
    let mut fixture = setup(&agent).await;
    let count = rows(&fixture).len();
    let mut checked = 0;
    for r in 0..count {
        for (col, who) in EVERYONE.iter().enumerate() {
            let row = &rows(&fixture)[r];
            let client = fixture.client(&agent, *who);
            let before = agent.applied_index().await;
            let resp = client
                .request(
                    row.method,
                    &row.path,
                    row.body.as_ref().map(Value::to_string),
                )
                .await;
            let after = agent.applied_index().await;
            let what = format!(
                "{} ({} {}) as {who:?}: {} {:?}",
                row.name, row.method, row.path, resp.status, resp.text
            );
            match row.expect[col] {
                Ok => {
                    assert_eq!(resp.status, 200, "{what}");
                    if !resp.text.is_empty() {
                        serde_json::from_str::<Value>(&resp.text).expect(&what);
                    }
                }
                List(n) => {
                    assert_eq!(resp.status, 200, "{what}");
                    assert_eq!(resp.json().as_array().map(Vec::len), Some(n), "{what}");
                }
                Denied => {
                    assert_eq!(
                        (resp.status, resp.text.as_str()),
                        (403, "Permission denied"),
                        "{what}"
                    );
                }
                Err(status, body) => {
                    assert_eq!((resp.status, resp.text.as_str()), (status, body), "{what}");
                }
            }
            if resp.status != 200 {
                assert_eq!(before, after, "a refused request changed the state: {what}");
            }
            checked += 1;
            if after != before {
                // Allowed to change things: the next column gets a fresh agent.
                agent = start().await;
                fixture = setup(&agent).await;
            }
        }
    }
    assert_eq!(checked, count * EVERYONE.len());
}

/// Issue 12: "not there" and "not yours" get the same answer on every endpoint that
/// takes an ID. For each token, an ID the token may not see (an object in a namespace it
/// cannot read) is asked for next to an ID that does not exist, on every such endpoint;
/// status, body and `X-Nomad-Index` must be the same. Returns the comparisons made.
pub async fn not_there_equals_not_yours<T: Deref<Target = Client>>(agent: &T) -> usize {
    let f = setup(agent).await;
    let m = agent.with_token(&f.management);
    // Jobs that exist in one namespace only; `other`'s job has an evaluation and an
    // allocation too.
    m.put(
        "/v1/jobs?namespace=other",
        job("only-other", 1, "app:1", json!({})),
    )
    .await
    .ok();
    m.put("/v1/jobs", job("only-default", 1, "app:1", json!({})))
        .await
        .ok();
    m.converge().await;
    let first = |v: Value| v[0]["ID"].as_str().expect("an ID").to_owned();
    let other_eval = first(m.get("/v1/evaluations?namespace=other").await.ok());
    let other_alloc = first(m.get("/v1/allocations?namespace=other").await.ok());
    let unknown = "00000000-0000-4000-8000-00000000abcd";
    // (what, the hidden object's path, the unknown one's, body)
    type Case = (&'static str, String, String, Option<Value>);
    let cases = |hidden_d: &str, hidden_e: &str, hidden_a: &str, hidden_j: &str, q: &str| {
        let mut cases: Vec<Case> = Vec::new();
        for (what, template) in [
            ("deployment", "/v1/deployment/{d}"),
            ("deployment allocations", "/v1/deployment/allocations/{d}"),
            ("evaluation", "/v1/evaluation/{e}"),
            ("evaluation allocations", "/v1/evaluation/{e}/allocations"),
            ("allocation", "/v1/allocation/{a}"),
            ("plan", "/v1/engine/plan/{e}"),
            ("job", "/v1/job/{j}"),
            ("job versions", "/v1/job/{j}/versions"),
            ("job deployments", "/v1/job/{j}/deployments"),
            ("job deployment", "/v1/job/{j}/deployment"),
            ("job evaluations", "/v1/job/{j}/evaluations"),
            ("job allocations", "/v1/job/{j}/allocations"),
        ] {
            let fill = |d: &str, e: &str, a: &str, j: &str| {
                format!(
                    "{}{q}",
                    template
                        .replace("{d}", d)
                        .replace("{e}", e)
                        .replace("{a}", a)
                        .replace("{j}", j)
                )
            };
            cases.push((
                what,
                fill(hidden_d, hidden_e, hidden_a, hidden_j),
                fill(unknown, unknown, unknown, "no-such-job"),
                None,
            ));
        }
        cases
    };
    /// (what, the hidden deployment's path, the unknown one's, the body for an ID)
    type Write = (
        &'static str,
        String,
        String,
        Box<dyn Fn(&str) -> Option<Value>>,
    );
    let writes = |hidden_d: &str, hidden_a: &str| -> Vec<Write> {
        let a = hidden_a.to_owned();
        vec![
            (
                "fail",
                format!("/v1/deployment/fail/{hidden_d}"),
                format!("/v1/deployment/fail/{unknown}"),
                Box::new(|_| None),
            ),
            (
                "pause",
                format!("/v1/deployment/pause/{hidden_d}"),
                format!("/v1/deployment/pause/{unknown}"),
                Box::new(|d| Some(json!({"DeploymentID": d, "Pause": true}))),
            ),
            (
                "promote",
                format!("/v1/deployment/promote/{hidden_d}"),
                format!("/v1/deployment/promote/{unknown}"),
                Box::new(|d| Some(json!({"DeploymentID": d, "All": true}))),
            ),
            (
                "allocation health",
                format!("/v1/deployment/allocation-health/{hidden_d}"),
                format!("/v1/deployment/allocation-health/{unknown}"),
                Box::new(move |d| Some(json!({"DeploymentID": d, "HealthyAllocationIDs": [a]}))),
            ),
            (
                "unblock",
                format!("/v1/deployment/unblock/{hidden_d}"),
                format!("/v1/deployment/unblock/{unknown}"),
                Box::new(|d| Some(json!({"DeploymentID": d}))),
            ),
        ]
    };
    let mut compared = 0;
    // Tokens of `default` against `other`'s objects, and `other`'s token against
    // `default`'s (asking in `other`).
    let views = [
        (Who::NoToken, false),
        (Who::NoPolicy, false),
        (Who::Read, false),
        (Who::Write, false),
        (Who::Other, true),
    ];
    for (who, mirrored) in views {
        let client = f.client(agent, who);
        let (d, e, a, j, q) = if mirrored {
            (
                f.deployment.clone(),
                f.eval.clone(),
                f.alloc.clone(),
                "only-default".to_owned(),
                "?namespace=other",
            )
        } else {
            (
                f.other_deployment.clone(),
                other_eval.clone(),
                other_alloc.clone(),
                "only-other".to_owned(),
                "",
            )
        };
        for (what, hidden, unknown_path, body) in writes(&d, &a) {
            // The body names the path's deployment, as a real client's does.
            let id = |path: &str| path.rsplit('/').next().unwrap_or_default().to_owned();
            let before = agent.applied_index().await;
            let h = client
                .request("PUT", &hidden, body(&id(&hidden)).map(|b| b.to_string()))
                .await;
            let u = client
                .request(
                    "PUT",
                    &unknown_path,
                    body(&id(&unknown_path)).map(|b| b.to_string()),
                )
                .await;
            assert_eq!(
                before,
                agent.applied_index().await,
                "{what} as {who:?} changed the state"
            );
            assert_eq!(
                (h.status, &h.text),
                (u.status, &u.text),
                "{what} as {who:?}: not yours ({hidden}) vs not there ({unknown_path})"
            );
            compared += 1;
        }
        let all: Vec<Case> = cases(&d, &e, &a, &j, q);
        for (what, hidden, unknown_path, _) in all {
            let h = client.get(&hidden).await;
            let u = client.get(&unknown_path).await;
            assert_eq!(
                (h.status, &h.text, h.header("X-Nomad-Index")),
                (u.status, &u.text, u.header("X-Nomad-Index")),
                "{what} as {who:?}: not yours ({hidden}) vs not there ({unknown_path})"
            );
            compared += 1;
        }
    }
    compared
}
