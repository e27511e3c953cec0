//! openraft's storage conformance suite over the redb log store and the engine's state
//! machine: every case on a fresh data directory.

use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;
use rollout_cluster::log_store::LogStore;
use rollout_cluster::state_machine::StateMachine;
use rollout_cluster::types::{NodeId, TypeConfig};
use rollout_cluster::waiters::Waiters;
use rollout_engine::{EngineConfig, SeededStamp, VirtualClock};
use std::sync::Arc;

struct RedbBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for RedbBuilder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<NodeId>> {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = LogStore::open(dir.path()).expect("open log");
        let sm = StateMachine::open(
            dir.path(),
            EngineConfig::default(),
            Arc::new(SeededStamp::new(1, VirtualClock::new(0))),
            Arc::new(Waiters::default()),
            16,
        )
        .expect("open state machine");
        Ok((dir, log, sm))
    }
}

#[test]
fn redb_storage_passes_openraft_conformance_suite() {
    if let Err(e) = Suite::test_all(RedbBuilder) {
        panic!("storage suite failed: {e}");
    }
}
