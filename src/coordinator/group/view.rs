//! What `/metrics` shows of the groups this broker coordinates: state, member count and
//! committed offsets, copied out one shard at a time (each shard's lock held only while its
//! groups are copied, never across I/O), so a scrape never stalls a group for long.

use std::collections::BTreeMap;

use super::GroupCoordinator;

/// One group as `/metrics` reports it.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub group_id: String,
    /// The state name Kafka's tools print (`Stable`, `Empty`, `PreparingRebalance`…).
    pub state: &'static str,
    /// "classic" or "consumer" (KIP-848).
    pub group_type: &'static str,
    pub members: usize,
    /// (topic, partition) → committed offset.
    pub committed: BTreeMap<(String, i32), i64>,
}

impl GroupCoordinator {
    /// Every group loaded here, including groups that only have committed offsets (consumers
    /// that assign partitions themselves), which Kafka lists as Empty.
    pub fn views(&self) -> Vec<GroupView> {
        let mut out = Vec::new();
        for inner in self.each_shard() {
            let committed = |group_id: &str| -> BTreeMap<(String, i32), i64> {
                inner
                    .offsets
                    .get(group_id)
                    .into_iter()
                    .flatten()
                    .map(|((topic, p), v)| ((topic.clone(), *p), v.offset))
                    .collect()
            };
            for g in inner.groups.values() {
                out.push(GroupView {
                    group_id: g.group_id.clone(),
                    state: g.state.name(),
                    group_type: "classic",
                    members: g.members.len(),
                    committed: committed(&g.group_id),
                });
            }
            for g in inner.consumer.values() {
                out.push(GroupView {
                    group_id: g.group_id.clone(),
                    state: g.state().name(),
                    group_type: "consumer",
                    members: g.members.len(),
                    committed: committed(&g.group_id),
                });
            }
            for group_id in inner.offsets.keys() {
                if inner.groups.contains_key(group_id) || inner.consumer.contains_key(group_id) {
                    continue;
                }
                out.push(GroupView {
                    group_id: group_id.clone(),
                    state: "Empty",
                    group_type: "classic",
                    members: 0,
                    committed: committed(group_id),
                });
            }
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }
}
