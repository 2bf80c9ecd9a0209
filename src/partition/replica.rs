//! A partition's replica set as this broker sees it: whether it leads or follows, and as leader
//! what each follower has fetched, the in-sync replica set and the ISR change in flight.
//!
//! The rules are Kafka's (`Partition.scala`, `Replica.scala`; see CLUSTER.md §1):
//! - a follower's log end offset is the offset it fetches from; it was *caught up* at a fetch if
//!   it fetched from the leader's log end offset then, or at its previous fetch if it now asks
//!   from at least the leader's log end offset of that previous fetch;
//! - the high watermark is the least log end offset over the leader and the *maximal* ISR: the
//!   committed ISR plus a member whose addition is in flight (stricter, so safe at once); a
//!   removal in flight still counts the member until the controller commits it;
//! - a member leaves the ISR when it is behind and has not been caught up for
//!   `replica.lag.time.max.ms`; a replica joins when its log end offset reaches the high
//!   watermark and the start of the current leader epoch;
//! - only one ISR change is in flight at a time, and only the controller commits it.
//!
//! Pure state and decisions, no I/O: `Partition` holds it under a mutex and the ISR task sends
//! what it decides to the controller.

use std::collections::BTreeMap;

use crate::metadata::PartitionState;

/// An unknown log end offset: a follower that has not fetched since this broker became leader.
pub const UNKNOWN_OFFSET: i64 = -1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerState {
    pub log_end_offset: i64,
    /// The broker epoch it last fetched with (KIP-903), -1 if unknown.
    pub broker_epoch: i64,
    pub last_fetch_ms: i64,
    pub last_caught_up_ms: i64,
    /// The leader's log end offset at this follower's previous fetch.
    leader_end_at_last_fetch: i64,
}

impl FollowerState {
    fn new(caught_up_ms: i64) -> Self {
        Self {
            log_end_offset: UNKNOWN_OFFSET,
            broker_epoch: -1,
            last_fetch_ms: 0,
            last_caught_up_ms: caught_up_ms,
            leader_end_at_last_fetch: UNKNOWN_OFFSET,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderState {
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub replicas: Vec<i32>,
    /// The ISR the controller committed.
    pub isr: Vec<i32>,
    /// The ISR asked of the controller and not answered yet.
    pub pending_isr: Option<Vec<i32>>,
    pub followers: BTreeMap<i32, FollowerState>,
    /// The log end offset when this broker became leader for this epoch.
    pub epoch_start_offset: i64,
    pub node_id: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Leader(LeaderState),
    /// Fetching from `leader` (or from nobody while the partition has no leader).
    Follower {
        leader: i32,
    },
}

/// The ISR change the leader asks the controller for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrChange {
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// Each member with the broker epoch it fetched with (-1 for the leader itself and members
    /// kept as they are).
    pub new_isr: Vec<(i32, i64)>,
}

impl LeaderState {
    /// Leadership of `state` starting now, with the log ending at `log_end_offset`. Followers
    /// in the ISR count as caught up now, so that they are not shrunk before their first fetch
    /// (Kafka resets the remote replicas the same way on makeLeader).
    pub fn new(node_id: i32, state: &PartitionState, log_end_offset: i64, now_ms: i64) -> Self {
        let followers = state
            .replicas
            .iter()
            .filter(|&&r| r != node_id)
            .map(|&r| {
                let caught_up = if state.isr.contains(&r) { now_ms } else { 0 };
                (r, FollowerState::new(caught_up))
            })
            .collect();
        Self {
            leader_epoch: state.leader_epoch,
            partition_epoch: state.partition_epoch,
            replicas: state.replicas.clone(),
            isr: state.isr.clone(),
            pending_isr: None,
            followers,
            epoch_start_offset: log_end_offset,
            node_id,
        }
    }

    /// The partition's state in a new metadata image, under the same leadership. Only a new
    /// partition epoch (an ISR change or reassignment committed) ends an ISR change in flight:
    /// an image changed elsewhere leaves it pending, or the leader would ask again with the
    /// epoch the first request is about to retire, and be refused (INVALID_UPDATE_VERSION).
    pub fn update(&mut self, state: &PartitionState) {
        if state.partition_epoch != self.partition_epoch {
            self.pending_isr = None;
        }
        self.partition_epoch = state.partition_epoch;
        self.isr = state.isr.clone();
        for &r in &state.replicas {
            if r != self.node_id {
                self.followers
                    .entry(r)
                    .or_insert_with(|| FollowerState::new(0));
            }
        }
        self.followers.retain(|r, _| state.replicas.contains(r));
        self.replicas = state.replicas.clone();
    }

    /// Whether `broker` is one of this partition's replicas other than the leader.
    pub fn is_follower(&self, broker: i32) -> bool {
        self.followers.contains_key(&broker)
    }

    /// The committed ISR plus a member being added.
    pub fn maximal_isr(&self) -> Vec<i32> {
        let mut isr = self.isr.clone();
        if let Some(pending) = &self.pending_isr {
            for b in pending {
                if !isr.contains(b) {
                    isr.push(*b);
                }
            }
        }
        isr
    }

    /// Records a follower's fetch from `fetch_offset` while the leader's log ends at
    /// `leader_end`. `None` if `follower` is not a replica.
    pub fn record_fetch(
        &mut self,
        follower: i32,
        broker_epoch: i64,
        fetch_offset: i64,
        leader_end: i64,
        now_ms: i64,
    ) -> Option<()> {
        let f = self.followers.get_mut(&follower)?;
        if fetch_offset >= leader_end {
            f.last_caught_up_ms = now_ms;
        } else if f.leader_end_at_last_fetch >= 0 && fetch_offset >= f.leader_end_at_last_fetch {
            f.last_caught_up_ms = f.last_caught_up_ms.max(f.last_fetch_ms);
        }
        f.log_end_offset = fetch_offset;
        f.broker_epoch = broker_epoch;
        f.last_fetch_ms = now_ms;
        f.leader_end_at_last_fetch = leader_end;
        Some(())
    }

    /// The high watermark the replicas allow: the least log end offset over the leader
    /// (`leader_end`) and the maximal ISR. A member that has not fetched yet holds it back.
    pub fn high_watermark_bound(&self, leader_end: i64) -> i64 {
        self.maximal_isr()
            .iter()
            .filter(|&&b| b != self.node_id)
            .map(|b| {
                self.followers
                    .get(b)
                    .map_or(UNKNOWN_OFFSET, |f| f.log_end_offset)
            })
            .fold(leader_end, i64::min)
    }

    /// Whether the committed ISR is smaller than the effective `min.insync.replicas` (never
    /// more than the replication factor).
    pub fn under_min_isr(&self, min_insync_replicas: i32) -> bool {
        let min = (min_insync_replicas.max(1) as usize).min(self.replicas.len().max(1));
        self.isr.len() < min
    }

    /// The high watermark bound under Kafka's strict min ISR rule (with eligible leader replicas
    /// on, as in every Kafka 4.1 cluster): while the committed ISR is below the effective min
    /// ISR nothing new is committed ([`UNKNOWN_OFFSET`]: the high watermark stays). This is
    /// what lets a replica that left such an ISR (an ELR member) be sure it holds every
    /// committed record.
    pub fn strict_high_watermark_bound(&self, leader_end: i64, min_insync_replicas: i32) -> i64 {
        if self.under_min_isr(min_insync_replicas) {
            UNKNOWN_OFFSET
        } else {
            self.high_watermark_bound(leader_end)
        }
    }

    /// Members to drop: behind the leader and not caught up for longer than `max_lag_ms`.
    fn out_of_sync(&self, leader_end: i64, now_ms: i64, max_lag_ms: i64) -> Vec<i32> {
        self.isr
            .iter()
            .copied()
            .filter(|&b| b != self.node_id)
            .filter(|b| {
                self.followers.get(b).is_none_or(|f| {
                    f.log_end_offset != leader_end
                        && now_ms.saturating_sub(f.last_caught_up_ms) > max_lag_ms
                })
            })
            .collect()
    }

    /// Replicas to add: not in the ISR, caught up to the high watermark and to the start of
    /// this leader epoch, and fetching with a broker epoch (`eligible` is the controller's view:
    /// registered with that epoch and unfenced).
    fn in_sync_candidates(
        &self,
        high_watermark: i64,
        eligible: impl Fn(i32, i64) -> bool,
    ) -> Vec<i32> {
        self.replicas
            .iter()
            .copied()
            .filter(|b| *b != self.node_id && !self.isr.contains(b))
            .filter(|b| {
                self.followers.get(b).is_some_and(|f| {
                    f.log_end_offset >= high_watermark
                        && f.log_end_offset >= self.epoch_start_offset
                        && f.broker_epoch >= 0
                        && eligible(*b, f.broker_epoch)
                })
            })
            .collect()
    }

    /// The ISR change to ask for now, if any and none is in flight: shrinks first, as Kafka's
    /// isr-expiration task runs independently of expansion.
    pub fn isr_change(
        &mut self,
        leader_end: i64,
        high_watermark: i64,
        now_ms: i64,
        max_lag_ms: i64,
        eligible: impl Fn(i32, i64) -> bool,
    ) -> Option<IsrChange> {
        if self.pending_isr.is_some() {
            return None;
        }
        let out = self.out_of_sync(leader_end, now_ms, max_lag_ms);
        let new_isr: Vec<i32> = if !out.is_empty() {
            self.isr
                .iter()
                .copied()
                .filter(|b| !out.contains(b))
                .collect()
        } else {
            let joining = self.in_sync_candidates(high_watermark, eligible);
            if joining.is_empty() {
                return None;
            }
            self.isr.iter().copied().chain(joining).collect()
        };
        self.pending_isr = Some(new_isr.clone());
        let epoch_of = |b: i32| {
            if b == self.node_id {
                -1
            } else {
                self.followers.get(&b).map_or(-1, |f| f.broker_epoch)
            }
        };
        Some(IsrChange {
            leader_epoch: self.leader_epoch,
            partition_epoch: self.partition_epoch,
            new_isr: new_isr.iter().map(|&b| (b, epoch_of(b))).collect(),
        })
    }

    /// The controller refused or did not answer: forget the change, so it is asked again.
    pub fn isr_change_failed(&mut self) {
        self.pending_isr = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: i32 = 1;

    fn state(replicas: &[i32], isr: &[i32]) -> PartitionState {
        PartitionState {
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader: ME,
            leader_epoch: 3,
            partition_epoch: 7,
            ..Default::default()
        }
    }

    fn any(_: i32, _: i64) -> bool {
        true
    }

    #[test]
    fn the_high_watermark_waits_for_every_isr_member() {
        let mut l = LeaderState::new(ME, &state(&[1, 2, 3], &[1, 2, 3]), 10, 0);
        assert_eq!(l.high_watermark_bound(20), UNKNOWN_OFFSET, "no fetch yet");
        l.record_fetch(2, 5, 20, 20, 1);
        assert_eq!(
            l.high_watermark_bound(20),
            UNKNOWN_OFFSET,
            "3 has not fetched"
        );
        l.record_fetch(3, 5, 15, 20, 1);
        assert_eq!(l.high_watermark_bound(20), 15);
        l.record_fetch(3, 5, 20, 20, 2);
        assert_eq!(l.high_watermark_bound(20), 20);
        // A replica out of the ISR does not hold it back.
        let mut l = LeaderState::new(ME, &state(&[1, 2, 3], &[1, 2]), 10, 0);
        l.record_fetch(2, 5, 20, 20, 1);
        assert_eq!(l.high_watermark_bound(20), 20);
        assert_eq!(
            LeaderState::new(ME, &state(&[1], &[1]), 0, 0).high_watermark_bound(42),
            42,
            "a single replica is its own ISR"
        );
    }

    #[test]
    fn the_high_watermark_stays_while_the_isr_is_below_min_isr() {
        let mut l = LeaderState::new(ME, &state(&[1, 2, 3], &[1, 2]), 10, 0);
        l.record_fetch(2, 5, 20, 20, 1);
        assert_eq!(l.strict_high_watermark_bound(20, 2), 20);
        assert_eq!(l.strict_high_watermark_bound(20, 3), UNKNOWN_OFFSET);
        // Never more than the replication factor.
        let l = LeaderState::new(ME, &state(&[1], &[1]), 0, 0);
        assert_eq!(l.strict_high_watermark_bound(42, 2), 42);
    }

    #[test]
    fn a_lagging_member_is_shrunk_only_after_the_lag_time() {
        let mut l = LeaderState::new(ME, &state(&[1, 2, 3], &[1, 2, 3]), 10, 1_000);
        l.record_fetch(2, 5, 10, 10, 1_000);
        l.record_fetch(3, 5, 10, 10, 1_000);
        // 3 stops fetching while the leader's log grows.
        l.record_fetch(2, 5, 30, 30, 20_000);
        assert_eq!(l.isr_change(30, 30, 20_000, 30_000, any), None);
        l.record_fetch(2, 5, 30, 30, 31_500);
        let change = l.isr_change(30, 30, 31_500, 30_000, any).expect("shrink");
        assert_eq!(change.new_isr, vec![(1, -1), (2, 5)]);
        assert_eq!((change.leader_epoch, change.partition_epoch), (3, 7));
        // In flight: nothing else is asked, and 3 still counts for the high watermark.
        assert_eq!(l.isr_change(30, 30, 40_000, 30_000, any), None);
        assert_eq!(l.maximal_isr(), vec![1, 2, 3]);
        assert_eq!(l.high_watermark_bound(30), 10);
        l.update(&PartitionState {
            isr: vec![1, 2],
            partition_epoch: 8,
            ..state(&[1, 2, 3], &[1, 2])
        });
        assert_eq!(l.high_watermark_bound(30), 30);
        // A follower at the leader's end is never out of sync, however long ago it fetched.
        let mut l = LeaderState::new(ME, &state(&[1, 2], &[1, 2]), 10, 0);
        l.record_fetch(2, 5, 10, 10, 0);
        assert_eq!(l.isr_change(10, 10, 100_000, 30_000, any), None);
    }

    #[test]
    fn a_follower_that_keeps_up_with_a_growing_log_stays_caught_up() {
        let mut l = LeaderState::new(ME, &state(&[1, 2], &[1, 2]), 0, 0);
        // Each fetch asks from where the leader ended at the previous one: caught up then.
        let mut end = 0;
        for t in 1..100 {
            l.record_fetch(2, 5, end, end + 5, t * 1_000);
            end += 5;
        }
        let f = &l.followers[&2];
        assert_eq!(f.last_caught_up_ms, 98_000);
        assert_eq!(l.isr_change(end, end - 5, 99_000, 30_000, any), None);
    }

    #[test]
    fn a_replica_joins_once_caught_up_to_the_high_watermark_and_the_epoch_start() {
        let mut l = LeaderState::new(ME, &state(&[1, 2, 3], &[1, 2]), 50, 0);
        l.record_fetch(2, 5, 60, 60, 1);
        l.record_fetch(3, 9, 40, 60, 1);
        assert_eq!(l.isr_change(60, 60, 2, 30_000, any), None, "3 is behind");
        l.record_fetch(3, 9, 55, 60, 2);
        assert_eq!(
            l.isr_change(60, 55, 2, 30_000, any),
            Some(IsrChange {
                leader_epoch: 3,
                partition_epoch: 7,
                new_isr: vec![(1, -1), (2, 5), (3, 9)],
            })
        );
        assert_eq!(l.maximal_isr(), vec![1, 2, 3], "counted at once");
        l.isr_change_failed();
        assert_eq!(l.maximal_isr(), vec![1, 2]);
        // Not before the start of this leader's epoch, and not while ineligible.
        let mut l = LeaderState::new(ME, &state(&[1, 2], &[1]), 50, 0);
        l.record_fetch(2, 5, 45, 60, 1);
        assert_eq!(l.isr_change(60, 40, 1, 30_000, any), None);
        l.record_fetch(2, 5, 50, 60, 1);
        assert_eq!(l.isr_change(60, 40, 1, 30_000, |_, _| false), None);
        assert!(l.isr_change(60, 40, 1, 30_000, any).is_some());
    }

    #[test]
    fn an_isr_change_stays_in_flight_until_its_partition_epoch_moves() {
        let any = |_: i32, _: i64| true;
        let mut l = LeaderState::new(ME, &state(&[1, 2], &[1]), 0, 0);
        l.record_fetch(2, 5, 0, 0, 1);
        assert!(l.isr_change(0, 0, 1, 30_000, any).is_some());
        // Another partition's change republishes the image: same partition epoch, still pending.
        l.update(&state(&[1, 2], &[1]));
        assert_eq!(
            l.isr_change(0, 0, 2, 30_000, any),
            None,
            "no second request"
        );
        // The change committed: partition epoch 8 with the new ISR.
        let mut committed = state(&[1, 2], &[1, 2]);
        committed.partition_epoch = 8;
        l.update(&committed);
        assert_eq!(l.pending_isr, None);
        assert_eq!(l.isr, vec![1, 2]);
    }
}
