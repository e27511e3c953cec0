//! ACL state is durable like the rest: written through the log, replayed on open,
//! carried by snapshots — and no secret ever reaches the disk.

mod common;

use common::*;
use rollout_engine::acl::policy::NamespaceRule;
use rollout_engine::acl::{
    resolve, AclPolicyWrite, AclTokenWrite, BootstrapAcl, Capability, PolicyRules, SecretHash,
    UpsertAclPolicies, UpsertAclTokens,
};
use rollout_engine::Command;
use uuid::Uuid;

const ROOT: &str = "7e6c08b5-49fa-4bbc-bc2b-52e8ea0b8af4";
const CI: &str = "1ba7e303-cd6a-473c-bc1b-ca0d4803856d";

fn acl_commands() -> Vec<Command> {
    vec![
        Command::BootstrapAcl(BootstrapAcl {
            accessor_id: Uuid::from_u128(1),
            secret_hash: SecretHash::of(ROOT),
            reset_index: 0,
        }),
        Command::UpsertAclPolicies(UpsertAclPolicies {
            policies: vec![AclPolicyWrite {
                name: "readers".into(),
                rules: "namespace \"prod-*\" { policy = \"read\" }".into(),
                document: PolicyRules {
                    namespaces: vec![NamespaceRule {
                        name: "prod-*".into(),
                        policy: "read".into(),
                        ..NamespaceRule::default()
                    }],
                    ..PolicyRules::default()
                },
                ..AclPolicyWrite::default()
            }],
        }),
        Command::UpsertAclTokens(UpsertAclTokens {
            tokens: vec![AclTokenWrite {
                accessor_id: Uuid::from_u128(2),
                secret_hash: Some(SecretHash::of(CI)),
                name: "ci".into(),
                token_type: "client".into(),
                policies: vec!["readers".into()],
                ..AclTokenWrite::default()
            }],
        }),
    ]
}

fn assert_acls(state: &rollout_engine::State) {
    let root = resolve(state, ROOT, T0).expect("bootstrap token");
    assert!(root.acl.is_management());
    let ci = resolve(state, CI, T0).expect("client token");
    assert!(ci
        .acl
        .allow_namespace_operation("prod-eu", Capability::ReadJob));
    assert!(!ci
        .acl
        .allow_namespace_operation("prod-eu", Capability::SubmitJob));
    assert_eq!(state.acl_policy("readers").unwrap().create_index, 2);
    assert_eq!(state.acl_indexes().bootstrap, 1);
}

#[test]
fn acl_state_survives_a_restart_by_replay_and_by_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path(), options(1));
        for c in acl_commands() {
            store.submit(c).unwrap();
        }
        assert_acls(&store.state());
    }
    // Reopen: the log is replayed through the engine.
    let store = open(dir.path(), options(2));
    assert_eq!(store.recovery_report().entries_replayed, 3);
    assert_acls(&store.state());
    // A second bootstrap is still refused after the restart.
    let again = store.submit(Command::BootstrapAcl(BootstrapAcl {
        accessor_id: Uuid::from_u128(3),
        secret_hash: SecretHash::of("other"),
        reset_index: 0,
    }));
    assert!(again.is_err());
    store.snapshot_now().unwrap();
    drop(store);

    // Reopen from the snapshot.
    let store = open(dir.path(), options(3));
    assert_eq!(store.recovery_report().entries_replayed, 0);
    assert_acls(&store.state());
    assert_eq!(*store.state(), replay_log(&store));

    // Secrets are hashed: neither the log nor the snapshot holds them.
    drop(store);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for secret in [ROOT, CI] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret reached the disk"
            );
        }
    }
}
