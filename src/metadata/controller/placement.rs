//! Where a new partition's replicas go: striped over the live brokers, so that the leaders
//! (first replicas) of a topic's partitions fall on different brokers in turn, as Kafka's
//! striped placer spreads them when no racks are set.

use uuid::Uuid;

use crate::metadata::image::PartitionState;
use crate::metadata::MetadataRecord;

/// Replica lists for partitions `first..end`: partition `p`'s replicas are `replication_factor`
/// consecutive brokers (in id order, wrapping) starting at `start + p`. `brokers` must hold at
/// least `replication_factor` ids.
pub fn stripe(
    first: i32,
    end: i32,
    replication_factor: usize,
    brokers: &[i32],
    start: usize,
) -> Vec<Vec<i32>> {
    let mut sorted = brokers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    (first..end)
        .map(|p| {
            let base = start + p as usize;
            (0..replication_factor.min(n))
                .map(|j| sorted[(base + j) % n])
                .collect()
        })
        .collect()
}

/// Like [`stripe`] over the `live` brokers; when the replication factor needs more brokers than
/// are live, fenced registered ones fill the remaining places, last (Kafka's placer avoids fenced
/// brokers while it can and counts them when it must).
pub fn stripe_live_first(
    first: i32,
    end: i32,
    replication_factor: usize,
    registered: &[i32],
    live: &[i32],
    start: usize,
) -> Vec<Vec<i32>> {
    let on_live = replication_factor.min(live.len());
    let fenced: Vec<i32> = registered
        .iter()
        .copied()
        .filter(|b| !live.contains(b))
        .collect();
    let mut placed = stripe(first, end, on_live, live, start);
    if on_live < replication_factor {
        let rest = stripe(first, end, replication_factor - on_live, &fenced, start);
        for (replicas, extra) in placed.iter_mut().zip(rest) {
            replicas.extend(extra);
        }
    }
    placed
}

/// A new partition, led by its first live replica (the preferred leader when it is up), epochs
/// zero, every live replica in sync: they are all empty, and followers start fetching at once
/// (Kafka's controller does the same). A replica placed on a fenced broker starts out of the
/// ISR and joins when its broker is back and has caught up.
pub fn initial_state(replicas: Vec<i32>, live: &[i32]) -> PartitionState {
    let leader = replicas
        .iter()
        .copied()
        .find(|b| live.contains(b))
        .unwrap_or(crate::metadata::image::NO_LEADER);
    let isr = if leader == crate::metadata::image::NO_LEADER {
        replicas.iter().copied().take(1).collect()
    } else {
        replicas
            .iter()
            .copied()
            .filter(|b| live.contains(b))
            .collect()
    };
    PartitionState {
        isr,
        leader,
        replicas,
        ..Default::default()
    }
}

pub fn partition_record(topic_id: Uuid, partition: i32, state: &PartitionState) -> MetadataRecord {
    MetadataRecord::Partition {
        topic_id,
        partition,
        replicas: state.replicas.clone(),
        isr: state.isr.clone(),
        leader: state.leader,
        leader_epoch: state.leader_epoch,
        partition_epoch: state.partition_epoch,
        elr: state.elr.clone(),
        last_known_elr: state.last_known_elr.clone(),
        leader_recovery_state: state.leader_recovery_state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaders_spread_and_replicas_are_distinct() {
        let placed = stripe(0, 3, 3, &[3, 1, 2], 7);
        let leaders: Vec<i32> = placed.iter().map(|r| r[0]).collect();
        let mut sorted = leaders.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            vec![1, 2, 3],
            "each broker leads one partition: {placed:?}"
        );
        for replicas in &placed {
            let mut r = replicas.clone();
            r.sort_unstable();
            r.dedup();
            assert_eq!(r.len(), 3);
        }
    }

    #[test]
    fn more_partitions_than_brokers_wrap() {
        let placed = stripe(0, 6, 1, &[1, 2, 3], 0);
        assert_eq!(
            placed,
            vec![vec![1], vec![2], vec![3], vec![1], vec![2], vec![3]]
        );
        // Growing a topic continues the stripe where it stopped.
        assert_eq!(stripe(6, 8, 1, &[1, 2, 3], 0), vec![vec![1], vec![2]]);
    }

    #[test]
    fn fenced_brokers_only_fill_what_live_ones_cannot() {
        let placed = stripe_live_first(0, 4, 2, &[1, 2, 3], &[1, 2], 0);
        assert!(placed.iter().all(|r| !r.contains(&3)), "{placed:?}");
        let placed = stripe_live_first(0, 4, 3, &[1, 2, 3], &[1, 2], 0);
        assert!(
            placed.iter().all(|r| r.len() == 3 && r[2] == 3),
            "{placed:?}"
        );
    }

    #[test]
    fn single_node_places_everything_on_it() {
        assert_eq!(stripe(0, 2, 1, &[5], 200), vec![vec![5], vec![5]]);
        assert_eq!(initial_state(vec![5], &[5]), PartitionState::local(5));
        // A fenced preferred replica does not lead.
        assert_eq!(initial_state(vec![1, 2, 3], &[2, 3]).leader, 2);
    }
}
