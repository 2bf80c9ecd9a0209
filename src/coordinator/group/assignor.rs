//! Server-side partition assignors of KIP-848 consumer groups: `uniform` (the default) and
//! `range`, as Kafka names them.
//!
//! An assignor is a pure function from the members' subscriptions (topic IDs), the subscribed
//! topics' partition counts and the previous target assignment to a new target assignment.
//! `uniform` is sticky: a partition stays with its previous owner while that keeps the group
//! balanced, so a rebalance moves as few partitions as it can. `range` gives each member a
//! contiguous range of every topic it subscribes to, members in member ID order, the first
//! `partitions % members` getting one more.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

/// Partitions by topic ID.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

pub const UNIFORM: &str = "uniform";
pub const RANGE: &str = "range";
/// The assignors this broker offers, the default first (Kafka's `group.consumer.assignors`).
pub const ASSIGNORS: &[&str] = &[UNIFORM, RANGE];

/// What an assignor sees of one member.
#[derive(Debug, Clone)]
pub struct MemberSpec {
    pub subscribed: BTreeSet<Uuid>,
    /// The member's previous target assignment, for stickiness.
    pub previous: Assignment,
}

/// Computes a target assignment. `topics`: partition count by topic ID (topics that exist);
/// `members` in member ID order. Every member gets an entry, possibly empty.
pub fn assign(
    assignor: &str,
    members: &BTreeMap<String, MemberSpec>,
    topics: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Assignment> {
    match assignor {
        RANGE => range(members, topics),
        _ => uniform(members, topics),
    }
}

fn range(
    members: &BTreeMap<String, MemberSpec>,
    topics: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .keys()
        .map(|m| (m.clone(), Assignment::new()))
        .collect();
    for (topic, &count) in topics {
        let subscribers: Vec<&String> = members
            .iter()
            .filter(|(_, s)| s.subscribed.contains(topic))
            .map(|(id, _)| id)
            .collect();
        if subscribers.is_empty() || count <= 0 {
            continue;
        }
        let n = subscribers.len() as i32;
        let (base, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, member) in subscribers.into_iter().enumerate() {
            let size = base + i32::from((i as i32) < extra);
            if size > 0 {
                if let Some(a) = out.get_mut(member) {
                    a.entry(*topic).or_default().extend(next..next + size);
                }
            }
            next += size;
        }
    }
    out
}

fn uniform(
    members: &BTreeMap<String, MemberSpec>,
    topics: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Assignment> {
    let mut load: BTreeMap<&String, usize> = members.keys().map(|m| (m, 0)).collect();
    let mut owner: BTreeMap<(Uuid, i32), &String> = BTreeMap::new();
    // Every partition of a subscribed topic, in (topic, partition) order.
    let partitions: Vec<(Uuid, i32)> = topics
        .iter()
        .filter(|(t, _)| members.values().any(|s| s.subscribed.contains(t)))
        .flat_map(|(t, &count)| (0..count.max(0)).map(move |p| (*t, p)))
        .collect();
    // Stickiness first: a previous owner that still subscribes keeps its partitions.
    for (id, spec) in members {
        for (topic, ps) in &spec.previous {
            if !spec.subscribed.contains(topic) {
                continue;
            }
            let count = topics.get(topic).copied().unwrap_or(0);
            for &p in ps.iter().filter(|&&p| p < count) {
                if let std::collections::btree_map::Entry::Vacant(e) = owner.entry((*topic, p)) {
                    e.insert(id);
                    *load.entry(id).or_default() += 1;
                }
            }
        }
    }
    // The rest to the least-loaded eligible member.
    for &(topic, p) in &partitions {
        if owner.contains_key(&(topic, p)) {
            continue;
        }
        let best = members
            .iter()
            .filter(|(_, s)| s.subscribed.contains(&topic))
            .min_by_key(|(id, _)| (load.get(id).copied().unwrap_or(0), *id))
            .map(|(id, _)| id);
        if let Some(id) = best {
            owner.insert((topic, p), id);
            *load.entry(id).or_default() += 1;
        }
    }
    // Balance: move partitions from the most to the least loaded eligible member until no move
    // narrows the spread. Each move lowers the sum of squared loads, so this terminates.
    loop {
        let mut moved = false;
        for &(topic, p) in partitions.iter().rev() {
            let Some(&from) = owner.get(&(topic, p)) else {
                continue;
            };
            let from_load = load.get(from).copied().unwrap_or(0);
            let target = members
                .iter()
                .filter(|(id, s)| *id != from && s.subscribed.contains(&topic))
                .min_by_key(|(id, _)| (load.get(id).copied().unwrap_or(0), *id))
                .map(|(id, _)| id);
            if let Some(to) = target {
                let to_load = load.get(to).copied().unwrap_or(0);
                if to_load + 1 < from_load {
                    owner.insert((topic, p), to);
                    *load.entry(from).or_default() -= 1;
                    *load.entry(to).or_default() += 1;
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    let mut out: BTreeMap<String, Assignment> = members
        .keys()
        .map(|m| (m.clone(), Assignment::new()))
        .collect();
    for ((topic, p), id) in owner {
        if let Some(a) = out.get_mut(id) {
            a.entry(topic).or_default().insert(p);
        }
    }
    out
}
