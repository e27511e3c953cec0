//! ACL commands through `apply`: bootstrap once, policy and token writes, resolution,
//! refusals that change nothing, and snapshots that carry the ACL tables.

use rollout_engine::acl::policy::NamespaceRule;
use rollout_engine::acl::{
    resolve, AclPolicyWrite, AclTokenWrite, BootstrapAcl, Capability, DeleteAclPolicies,
    DeleteAclTokens, PolicyRules, SecretHash, Unresolved, UpsertAclPolicies, UpsertAclTokens,
};
use rollout_engine::model::{HOUR_NS, SECOND_NS};
use rollout_engine::{Command, DeploymentEngine, EngineConfig, Error, SeededStamp, VirtualClock};
use uuid::Uuid;

const T0: i64 = 1_700_000_000_000_000_000;

/// The engine with a clock that shows `T0` + one second per index.
struct Engine {
    engine: DeploymentEngine,
    clock: VirtualClock,
}

impl Engine {
    fn new() -> Engine {
        let clock = VirtualClock::new(T0);
        let engine =
            DeploymentEngine::new(EngineConfig::default(), SeededStamp::new(1, clock.clone()));
        Engine { engine, clock }
    }

    fn try_apply(&mut self, command: Command) -> Result<u64, Error> {
        let index = self.engine.index() + 1;
        self.clock.set(T0 + index as i64 * SECOND_NS);
        let applied = self.engine.submit(command)?;
        applied.state.check_invariants().expect("invariants");
        Ok(applied.outcome.index)
    }

    fn state(&self) -> &rollout_engine::State {
        self.engine.state()
    }

    fn apply(&mut self, command: Command) -> u64 {
        self.try_apply(command).expect("applied")
    }

    /// Applies a command that must be refused, and checks that nothing changed.
    fn refuse(&mut self, command: Command) -> Error {
        let before = self.state().clone();
        let e = self.try_apply(command).expect_err("refused");
        assert_eq!(*self.state(), before);
        e
    }
}

fn id(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

fn bootstrap(secret: &str, reset_index: u64) -> Command {
    Command::BootstrapAcl(BootstrapAcl {
        accessor_id: id(1),
        secret_hash: SecretHash::of(secret),
        reset_index,
    })
}

fn policy(name: &str, ns: &str, level: &str) -> Command {
    Command::UpsertAclPolicies(UpsertAclPolicies {
        policies: vec![AclPolicyWrite {
            name: name.into(),
            description: String::new(),
            rules: format!("namespace \"{ns}\" {{ policy = \"{level}\" }}"),
            document: PolicyRules {
                namespaces: vec![NamespaceRule {
                    name: ns.into(),
                    policy: level.into(),
                    ..NamespaceRule::default()
                }],
                ..PolicyRules::default()
            },
            job_acl: None,
        }],
    })
}

fn client_token(accessor: Uuid, secret: &str, policies: &[&str]) -> AclTokenWrite {
    AclTokenWrite {
        accessor_id: accessor,
        secret_hash: Some(SecretHash::of(secret)),
        name: "ops".into(),
        token_type: "client".into(),
        policies: policies.iter().map(|s| s.to_string()).collect(),
        ..AclTokenWrite::default()
    }
}

fn upsert(token: AclTokenWrite) -> Command {
    Command::UpsertAclTokens(UpsertAclTokens {
        tokens: vec![token],
    })
}

#[test]
fn bootstrap_happens_once_unless_reset() {
    let mut e = Engine::new();
    let at = e.apply(bootstrap("s1", 0));
    let t = e.state().acl_token_by_secret("s1").expect("token").clone();
    assert_eq!(t.name, "Bootstrap Token");
    assert!(t.is_management() && t.global);
    assert_eq!((t.create_index, t.modify_index), (at, at));
    assert_eq!(e.state().acl_indexes().bootstrap, at);

    let err = e.refuse(bootstrap("s2", 0));
    assert_eq!(
        err.to_string(),
        format!("ACL bootstrap already done (reset index: {at})")
    );
    assert_eq!(err.kind(), rollout_engine::ErrorKind::BadRequest);
    let err = e.refuse(bootstrap("s2", at + 7));
    assert_eq!(
        err.to_string(),
        format!(
            "Invalid bootstrap reset index (specified {}, reset index: {at})",
            at + 7
        )
    );
    // With the right reset index a second management token is made.
    let second = Command::BootstrapAcl(BootstrapAcl {
        accessor_id: id(2),
        secret_hash: SecretHash::of("s2"),
        reset_index: at,
    });
    let again = e.apply(second);
    assert_eq!(e.state().acl_indexes().bootstrap, again);
    assert!(e.state().acl_token_by_secret("s2").is_some());
    assert!(e.state().acl_token_by_secret("s1").is_some());
}

#[test]
fn policies_and_tokens_resolve_to_capabilities() {
    let mut e = Engine::new();
    e.apply(policy("read-default", "default", "read"));
    e.apply(upsert(client_token(
        id(3),
        "secret-3",
        &["read-default", "missing"],
    )));

    let r = resolve(e.state(), "secret-3", T0).expect("resolves");
    assert_eq!(r.token.as_ref().unwrap().accessor_id, id(3));
    assert!(r
        .acl
        .allow_namespace_operation("default", Capability::ReadJob));
    assert!(!r
        .acl
        .allow_namespace_operation("default", Capability::SubmitJob));
    assert!(!r.acl.allow_namespace_operation("prod", Capability::ReadJob));

    assert_eq!(
        resolve(e.state(), "nope", T0).unwrap_err(),
        Unresolved::Unknown
    );

    // The anonymous token gets the `anonymous` policy, once there is one.
    let anon = resolve(e.state(), "", T0).unwrap();
    assert!(anon.token.is_none());
    assert!(!anon
        .acl
        .allow_namespace_operation("default", Capability::ReadJob));
    e.apply(policy("anonymous", "default", "read"));
    let anon = resolve(e.state(), "", T0).unwrap();
    assert!(anon
        .acl
        .allow_namespace_operation("default", Capability::ReadJob));

    // Replacing a policy keeps its CreateIndex and changes what tokens get.
    let created = e.state().acl_policy("read-default").unwrap().create_index;
    let modified = e.apply(policy("read-default", "default", "write"));
    let p = e.state().acl_policy("read-default").unwrap();
    assert_eq!((p.create_index, p.modify_index), (created, modified));
    let r = resolve(e.state(), "secret-3", T0).unwrap();
    assert!(r
        .acl
        .allow_namespace_operation("default", Capability::SubmitJob));

    e.apply(Command::DeleteAclPolicies(DeleteAclPolicies {
        names: vec!["read-default".into()],
    }));
    let r = resolve(e.state(), "secret-3", T0).unwrap();
    assert!(!r
        .acl
        .allow_namespace_operation("default", Capability::ReadJob));
    let err = e.refuse(Command::DeleteAclPolicies(DeleteAclPolicies {
        names: vec!["read-default".into()],
    }));
    assert_eq!(err.to_string(), "ACL policy not found");
}

#[test]
fn token_updates_keep_the_secret_and_deletes_forget_it() {
    let mut e = Engine::new();
    let created = e.apply(upsert(client_token(id(4), "s4", &["a"])));
    let mut update = client_token(id(4), "ignored", &["a", "b"]);
    update.secret_hash = None;
    update.name = "renamed".into();
    let modified = e.apply(upsert(update.clone()));
    let t = e
        .state()
        .acl_token_by_secret("s4")
        .expect("same secret")
        .clone();
    assert_eq!(t.name, "renamed");
    assert_eq!(t.policies, ["a", "b"]);
    assert_eq!((t.create_index, t.modify_index), (created, modified));
    assert_eq!(t.create_time, T0 + created as i64 * SECOND_NS);

    update.global = true;
    let err = e.refuse(upsert(update.clone()));
    assert_eq!(
        err.to_string(),
        "token 0 invalid: 1 error occurred:\n\t* cannot toggle global mode\n\n"
    );
    update.accessor_id = id(9);
    assert_eq!(
        e.refuse(upsert(update)).to_string(),
        format!("cannot find token {}", id(9))
    );
    // A new token may not reuse an accessor.
    assert!(matches!(
        e.refuse(upsert(client_token(id(4), "other", &["a"]))),
        Error::AclAccessorExists(_)
    ));

    let err = e.refuse(Command::DeleteAclTokens(DeleteAclTokens {
        accessor_ids: vec![id(4), id(8)],
    }));
    assert_eq!(
        err.to_string(),
        format!("Cannot delete nonexistent tokens: {}", id(8))
    );
    e.apply(Command::DeleteAclTokens(DeleteAclTokens {
        accessor_ids: vec![id(4)],
    }));
    assert!(e.state().acl_token_by_secret("s4").is_none());
    assert!(e.state().acl_token(&id(4)).is_none());
}

#[test]
fn invalid_writes_are_refused_with_nomads_texts() {
    let mut e = Engine::new();
    let mut bad = client_token(id(5), "s5", &[]);
    assert_eq!(
        e.refuse(upsert(bad.clone())).to_string(),
        "token 0 invalid: 1 error occurred:\n\t* client token missing policies or roles\n\n"
    );
    bad.token_type = "management".into();
    bad.policies = vec!["x".into()];
    assert_eq!(
        e.refuse(upsert(bad)).to_string(),
        "token 0 invalid: 1 error occurred:\n\t* management token cannot be associated with policies or roles\n\n"
    );
    let mut p = policy("bad name", "default", "read");
    if let Command::UpsertAclPolicies(u) = &mut p {
        u.policies[0].document.namespaces[0].policy = "list".into();
    }
    let err = e.refuse(p).to_string();
    assert!(
        err.starts_with("policy 0 invalid: 2 errors occurred:\n\t* invalid name 'bad name'\n\t* failed to parse rules: Invalid namespace policy: "),
        "{err}"
    );
    assert_eq!(e.state().index(), 0);
}

#[test]
fn ttl_becomes_an_expiry_and_expired_tokens_do_not_resolve() {
    let mut e = Engine::new();
    let mut w = client_token(id(6), "s6", &["a"]);
    w.expiration_ttl = HOUR_NS;
    let at = e.apply(upsert(w));
    let t = e.state().acl_token(&id(6)).unwrap();
    let created = T0 + at as i64 * SECOND_NS;
    assert_eq!(t.expiration_time, Some(created + HOUR_NS));
    assert!(resolve(e.state(), "s6", created + HOUR_NS).is_ok());
    assert_eq!(
        resolve(e.state(), "s6", created + HOUR_NS + 1).unwrap_err(),
        Unresolved::Expired
    );
}

#[test]
fn snapshots_carry_acl_tables() {
    let mut e = Engine::new();
    e.apply(bootstrap("root", 0));
    e.apply(policy("ops", "prod-*", "write"));
    e.apply(upsert(client_token(id(7), "s7", &["ops"])));
    let json = serde_json::to_string(e.state()).unwrap();
    assert!(
        !json.contains("s7") && !json.contains("root\""),
        "no secrets in snapshots"
    );
    let back: rollout_engine::State = serde_json::from_str(&json).unwrap();
    assert_eq!(back, *e.state());
    back.check_indexes().unwrap();
    assert!(back.acl_token_by_secret("s7").is_some());
    assert!(back.acl_token_by_secret("root").is_some());
    assert_eq!(back.acl_indexes(), e.state().acl_indexes());
    // A later write replays identically on the restored state.
    let clock = VirtualClock::new(T0);
    let mut a = Engine {
        engine: DeploymentEngine::from_state(back, SeededStamp::new(1, clock.clone())),
        clock,
    };
    a.apply(policy("ops", "prod-*", "read"));
    e.apply(policy("ops", "prod-*", "read"));
    assert_eq!(a.state(), e.state());
}
