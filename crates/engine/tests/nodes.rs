//! Client nodes (R12): registrations validated and defaulted as Nomad does them, status
//! changes and eligibility recorded in a node's history, deregistration, events and the
//! table in snapshots.

use rollout_engine::model::SECOND_NS;
use rollout_engine::node::{
    eligibility, node_status, DeregisterNodes, Node, RegisterNode, UpdateNodeEligibility,
    MAX_NODE_EVENTS,
};
use rollout_engine::testing::World;
use rollout_engine::{Change, Command, State, Topic};

fn node(id: &str, status: &str) -> Node {
    Node {
        id: id.into(),
        name: format!("{id}-name"),
        datacenter: "dc1".into(),
        status: status.into(),
        ..Node::default()
    }
}

fn register(n: Node) -> Command {
    Command::RegisterNode(RegisterNode { node: n })
}

fn eligibility_of(id: &str, e: &str) -> Command {
    Command::UpdateNodeEligibility(UpdateNodeEligibility {
        node_id: id.into(),
        eligibility: e.into(),
    })
}

#[test]
fn n1_registrations_are_validated_in_go_multierror_form() {
    let mut w = World::new();
    let before = w.state().clone();
    let e = w
        .try_apply(register(Node {
            status: "sleeping".into(),
            ..Node::default()
        }))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "4 errors occurred:\n\t* missing node ID for client registration\n\t* missing node name for client registration\n\t* missing datacenter for client registration\n\t* invalid status for node: \"sleeping\"\n\n"
    );
    let e = w
        .try_apply(register(Node {
            scheduling_eligibility: "maybe".into(),
            ..node("n1", "")
        }))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "1 error occurred:\n\t* invalid scheduling eligibility \"maybe\"\n\n"
    );
    assert_eq!(*w.state(), before, "a refused registration changes nothing");
}

#[test]
fn n1_a_new_node_gets_nomads_defaults_and_a_registered_event() {
    let mut w = World::new();
    w.advance(5 * SECOND_NS);
    let out = w.apply(register(node("n1", "")));
    let n = w.state().node("n1").expect("registered");
    assert_eq!(n.status, node_status::INITIALIZING);
    assert_eq!(n.node_pool, "default");
    assert_eq!(n.scheduling_eligibility, eligibility::ELIGIBLE);
    assert_eq!((n.create_index, n.modify_index), (out.index, out.index));
    assert_eq!(n.status_updated_at, w.now() / SECOND_NS);
    assert_eq!(n.events.len(), 1);
    assert_eq!(n.events[0].message, "Node registered");
    assert_eq!(n.events[0].subsystem, "Cluster");
    assert_eq!(w.state().nodes_index(), out.index);
    let e = &out.events[0];
    assert_eq!(
        (e.topic, e.change, e.key.as_str()),
        (Topic::Node, Change::Created, "n1")
    );
    assert_eq!(e.rule, "N1");
}

#[test]
fn n1_a_draining_node_registers_ineligible() {
    let mut w = World::new();
    let mut n = node("n1", node_status::READY);
    n.drain_strategy = Some(serde_json::json!({"Deadline": 3_600_000_000_000i64}));
    w.apply(register(n));
    let n = w.state().node("n1").unwrap();
    assert!(n.draining());
    assert_eq!(n.scheduling_eligibility, eligibility::INELIGIBLE);
}

#[test]
fn n2_a_status_change_is_dated_and_recorded_and_create_index_kept() {
    let mut w = World::new();
    let created = w.apply(register(node("n1", node_status::READY))).index;
    let first_seen = w.state().node("n1").unwrap().status_updated_at;
    w.advance(60 * SECOND_NS);
    let same = w.apply(register(node("n1", node_status::READY)));
    assert_eq!(same.events[0].rule, "N2");
    let n = w.state().node("n1").unwrap();
    assert_eq!(
        n.status_updated_at, first_seen,
        "no status change, no new date"
    );
    assert_eq!(n.events.len(), 1, "an unchanged status adds no history");
    w.advance(60 * SECOND_NS);
    let down = w.apply(register(node("n1", node_status::DOWN))).index;
    let n = w.state().node("n1").unwrap();
    assert_eq!((n.create_index, n.modify_index), (created, down));
    assert_eq!(n.status_updated_at, w.now() / SECOND_NS);
    assert_eq!(
        n.events.last().unwrap().message,
        "Node status changed to down"
    );
    for i in 0..2 * MAX_NODE_EVENTS {
        let status = if i % 2 == 0 {
            node_status::READY
        } else {
            node_status::DOWN
        };
        w.apply(register(node("n1", status)));
    }
    let n = w.state().node("n1").unwrap();
    assert_eq!(n.events.len(), MAX_NODE_EVENTS, "history is bounded");
    assert_eq!(
        n.events.last().unwrap().message,
        "Node status changed to down"
    );
}

#[test]
fn n2_a_registration_without_eligibility_keeps_the_operators_choice() {
    let mut w = World::new();
    w.apply(register(node("n1", node_status::READY)));
    w.apply(eligibility_of("n1", eligibility::INELIGIBLE));
    w.apply(register(node("n1", node_status::DOWN)));
    let n = w.state().node("n1").unwrap();
    assert_eq!(n.scheduling_eligibility, eligibility::INELIGIBLE);
    w.apply(register(Node {
        scheduling_eligibility: eligibility::ELIGIBLE.into(),
        ..node("n1", node_status::READY)
    }));
    let n = w.state().node("n1").unwrap();
    assert_eq!(
        n.scheduling_eligibility,
        eligibility::ELIGIBLE,
        "named: taken"
    );
}

#[test]
fn n3_eligibility_is_validated_and_refused_while_draining() {
    let mut w = World::new();
    assert_eq!(
        w.try_apply(eligibility_of("nope", eligibility::INELIGIBLE))
            .unwrap_err()
            .to_string(),
        "node not found"
    );
    w.apply(register(node("n1", node_status::READY)));
    assert_eq!(
        w.try_apply(eligibility_of("n1", "later"))
            .unwrap_err()
            .to_string(),
        "1 error occurred:\n\t* invalid scheduling eligibility \"later\"\n\n"
    );
    let out = w.apply(eligibility_of("n1", eligibility::INELIGIBLE));
    assert_eq!(out.events[0].rule, "N3");
    let n = w.state().node("n1").unwrap();
    assert_eq!(n.scheduling_eligibility, eligibility::INELIGIBLE);
    assert_eq!(
        n.events.last().unwrap().message,
        "Node marked as ineligible for scheduling"
    );
    let mut draining = node("n2", node_status::READY);
    draining.drain_strategy = Some(serde_json::json!({}));
    w.apply(register(draining));
    assert_eq!(
        w.try_apply(eligibility_of("n2", eligibility::ELIGIBLE))
            .unwrap_err()
            .to_string(),
        "can not set node's scheduling eligibility to eligible while it is draining"
    );
}

#[test]
fn n4_deregistration_needs_known_nodes_and_removes_them() {
    let mut w = World::new();
    w.apply(register(node("n1", node_status::READY)));
    w.apply(register(node("n2", node_status::READY)));
    let e = w
        .try_apply(Command::DeregisterNodes(DeregisterNodes {
            node_ids: vec!["n1".into(), "nope".into()],
        }))
        .unwrap_err();
    assert_eq!(e.to_string(), "node not found");
    assert!(w.state().node("n1").is_some(), "nothing removed on refusal");
    let e = w
        .try_apply(Command::DeregisterNodes(DeregisterNodes::default()))
        .unwrap_err();
    assert_eq!(e.to_string(), "must specify at least one node");
    let out = w.apply(Command::DeregisterNodes(DeregisterNodes {
        node_ids: vec!["n1".into()],
    }));
    assert_eq!(
        (out.events[0].change, out.events[0].rule),
        (Change::Deleted, "N4")
    );
    let ids: Vec<&str> = w.state().nodes().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["n2"]);
    assert_eq!(w.state().nodes_index(), out.index);
}

#[test]
fn nodes_are_found_by_prefix_in_id_order() {
    let mut w = World::new();
    for id in ["b1", "a2", "a1", "c"] {
        w.apply(register(node(id, node_status::READY)));
    }
    let found: Vec<&str> = w
        .state()
        .nodes_with_prefix("a")
        .map(|n| n.id.as_str())
        .collect();
    assert_eq!(found, ["a1", "a2"]);
    assert_eq!(w.state().nodes_with_prefix("").count(), 4);
    assert_eq!(w.state().nodes_with_prefix("z").count(), 0);
}

#[test]
fn nodes_survive_a_snapshot() {
    let mut w = World::new();
    w.apply(register(node("n1", node_status::READY)));
    let bytes = serde_json::to_vec(w.state()).unwrap();
    let back: State = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(&back, w.state());
    assert_eq!(back.node("n1").unwrap().datacenter, "dc1");
}
