//! Simulated client nodes: where the scheduler binds placements, and what a lost node
//! takes down with it.

use crate::rng::SimRng;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// One client node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// `NodeID` written on allocations.
    pub id: String,
    /// `NodeName` written on allocations.
    pub name: String,
    /// A down node gets no placements and reports nothing.
    pub up: bool,
    /// Allocations the node runs (not yet client-terminal).
    pub allocs: BTreeSet<Uuid>,
}

/// All nodes, keyed by ID (ordered, so iteration is deterministic).
#[derive(Clone, Debug, Default)]
pub struct Fleet {
    nodes: BTreeMap<String, Node>,
}

impl Fleet {
    /// `count` nodes named `n0`, `n1`, … with IDs `node-000`, … (at least one).
    pub fn new(count: usize) -> Fleet {
        let nodes = (0..count.max(1))
            .map(|i| {
                let node = Node {
                    id: format!("node-{i:03}"),
                    name: format!("n{i}"),
                    up: true,
                    allocs: BTreeSet::new(),
                };
                (node.id.clone(), node)
            })
            .collect();
        Fleet { nodes }
    }

    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.get(id)
    }

    pub fn up_count(&self) -> usize {
        self.nodes.values().filter(|n| n.up).count()
    }

    /// The least-loaded up node, ties broken at random: a crude bin-packer that spreads
    /// allocations the way a spread scheduler would. `None` when every node is down.
    pub fn pick(&self, rng: &mut SimRng) -> Option<(String, String)> {
        let min = self
            .nodes
            .values()
            .filter(|n| n.up)
            .map(|n| n.allocs.len())
            .min()?;
        let candidates: Vec<&Node> = self
            .nodes
            .values()
            .filter(|n| n.up && n.allocs.len() == min)
            .collect();
        rng.pick(&candidates)
            .map(|n| (n.id.clone(), n.name.clone()))
    }

    /// Records that `alloc` runs on `node`.
    pub fn assign(&mut self, node: &str, alloc: Uuid) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.allocs.insert(alloc);
        }
    }

    /// Forgets an allocation that reached a terminal client status.
    pub fn release(&mut self, node: &str, alloc: &Uuid) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.allocs.remove(alloc);
        }
    }

    /// Takes a node down and returns the allocations it ran. Refuses (returns `None`) to
    /// take down the last up node: with no capacity at all the scheduler could place
    /// nothing, and the run would only measure that.
    pub fn take_down(&mut self, node: &str) -> Option<Vec<Uuid>> {
        if self.up_count() <= 1 {
            return None;
        }
        let n = self.nodes.get_mut(node).filter(|n| n.up)?;
        n.up = false;
        Some(std::mem::take(&mut n.allocs).into_iter().collect())
    }

    pub fn bring_up(&mut self, node: &str) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.up = true;
        }
    }

    /// IDs of the nodes that are up.
    pub fn up_nodes(&self) -> Vec<String> {
        self.nodes
            .values()
            .filter(|n| n.up)
            .map(|n| n.id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_least_loaded_up_node() {
        let mut f = Fleet::new(2);
        let mut rng = SimRng::seed_from_u64(1);
        f.assign("node-000", Uuid::from_u128(1));
        assert_eq!(f.pick(&mut rng).unwrap().0, "node-001");
        assert!(f.take_down("node-001").is_some());
        assert_eq!(f.pick(&mut rng).unwrap().0, "node-000");
    }

    #[test]
    fn never_takes_down_the_last_node() {
        let mut f = Fleet::new(1);
        assert!(f.take_down("node-000").is_none());
        assert_eq!(f.up_count(), 1);
    }
}
