//! One partition's change as a pure function: the ISR the caller wants, the eligible leader
//! replicas (ELR, KIP-966) that follow from it, the leader election, and the fields of the
//! resulting `PartitionChange` record. Every path that changes a partition's ISR or leader
//! (fencing, unfencing, registration after an unclean shutdown, AlterPartition) goes through
//! [`PartitionChangeBuilder::build`], as every such path in Kafka's controller goes through its
//! partition change builder.
//!
//! The rules, as Kafka 4.1 applies them with `eligible.leader.replicas.version=1` (on by default
//! in a new 4.1 cluster, and always on in a Milena cluster):
//! - ELR: when the target ISR is smaller than the effective `min.insync.replicas` (never more
//!   than the replication factor), every member of the current ISR that leaves it joins the ELR;
//!   a replica with an unclean shutdown never does. At or above that size the ELR is emptied.
//!   Since the high watermark does not advance while the ISR is below that size, an ELR member
//!   holds every committed record.
//! - The ISR may become empty (the ELR then names who may lead); without ELR it never would.
//! - Election, in order: the current leader if it is still valid; the first replica (assignment
//!   order) in the ISR, or, when the ISR is empty, in the ELR, that is acceptable (live and not
//!   the broker leaving); the last known leader when the ISR and ELR are both empty; then, only
//!   if `unclean.leader.election.enable` is true for the topic, any acceptable replica. An ELR
//!   member elected becomes the whole ISR. An unclean election (last known leader included)
//!   sets the ISR to the new leader alone, clears the ELR, and marks the partition RECOVERING.
//! - LastKnownElr holds the last leader once the ISR first becomes empty, and is cleared when
//!   the partition has a leader again.

use uuid::Uuid;

use crate::metadata::image::{PartitionState, NO_LEADER};
use crate::metadata::record::LeaderRecoveryState;
use crate::metadata::MetadataRecord;

/// What a topic's configs say about elections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElectionPolicy {
    /// The topic's `min.insync.replicas` (the builder caps it at the replication factor).
    pub min_insync_replicas: i32,
    /// `unclean.leader.election.enable`.
    pub unclean_leader_election: bool,
}

impl Default for ElectionPolicy {
    /// Kafka's defaults.
    fn default() -> Self {
        Self {
            min_insync_replicas: 1,
            unclean_leader_election: false,
        }
    }
}

/// The fields of a partition that change; `None` means unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionChangeFields {
    pub isr: Option<Vec<i32>>,
    pub leader: Option<i32>,
    pub elr: Option<Vec<i32>>,
    pub last_known_elr: Option<Vec<i32>>,
    pub leader_recovery_state: Option<LeaderRecoveryState>,
}

impl PartitionChangeFields {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub fn into_record(self, topic_id: Uuid, partition: i32) -> MetadataRecord {
        MetadataRecord::PartitionChange {
            topic_id,
            partition,
            isr: self.isr,
            leader: self.leader,
            elr: self.elr,
            last_known_elr: self.last_known_elr,
            leader_recovery_state: self.leader_recovery_state,
        }
    }
}

/// Builds one partition's change. `acceptable` says whether a broker may lead now (live, and not
/// the broker being removed or the one with an unclean shutdown).
pub struct PartitionChangeBuilder<'a> {
    state: &'a PartitionState,
    policy: ElectionPolicy,
    acceptable: &'a dyn Fn(i32) -> bool,
    target_isr: Vec<i32>,
    unclean_shutdown: Option<i32>,
    target_recovery: LeaderRecoveryState,
}

impl<'a> PartitionChangeBuilder<'a> {
    pub fn new(
        state: &'a PartitionState,
        policy: ElectionPolicy,
        acceptable: &'a dyn Fn(i32) -> bool,
    ) -> Self {
        Self {
            state,
            policy,
            acceptable,
            target_isr: state.isr.clone(),
            unclean_shutdown: None,
            target_recovery: state.leader_recovery_state,
        }
    }

    pub fn target_isr(mut self, isr: Vec<i32>) -> Self {
        self.target_isr = isr;
        self
    }

    /// A broker that shut down uncleanly (it may have lost unflushed records): it leaves the ISR
    /// and the ELR and may not lead.
    pub fn unclean_shutdown(mut self, broker: i32) -> Self {
        self.target_isr.retain(|&b| b != broker);
        self.unclean_shutdown = Some(broker);
        self
    }

    pub fn target_recovery(mut self, state: LeaderRecoveryState) -> Self {
        self.target_recovery = state;
        self
    }

    /// The effective min ISR: never more than the replication factor.
    fn min_isr(&self) -> usize {
        (self.policy.min_insync_replicas.max(1) as usize).min(self.state.replicas.len().max(1))
    }

    pub fn build(self) -> PartitionChangeFields {
        let state = self.state;
        let mut out = PartitionChangeFields::default();
        let mut isr = self.target_isr.clone();

        // ELR: those who leave an ISR that is (or stays) below min ISR.
        let mut elr: Vec<i32> = if isr.len() >= self.min_isr() {
            Vec::new()
        } else {
            let mut e: Vec<i32> = state
                .elr
                .iter()
                .chain(state.isr.iter())
                .copied()
                .filter(|b| !isr.contains(b) && Some(*b) != self.unclean_shutdown)
                .collect();
            e.sort_unstable();
            e.dedup();
            e
        };

        // Election.
        let valid = |b: i32, isr: &[i32], elr: &[i32]| {
            b != NO_LEADER
                && (isr.contains(&b) || (isr.is_empty() && elr.contains(&b)))
                && (self.acceptable)(b)
        };
        let (leader, unclean) = if valid(state.leader, &isr, &elr) {
            (state.leader, false)
        } else if let Some(b) = state
            .replicas
            .iter()
            .copied()
            .find(|&b| valid(b, &isr, &elr))
        {
            (b, false)
        } else if isr.is_empty() && elr.is_empty() && state.last_known_elr.len() == 1 {
            // The last leader held everything committed when the partition went offline; Kafka
            // elects it (as an unclean election) without asking whether it is up.
            (state.last_known_elr[0], true)
        } else if let Some(b) = self
            .policy
            .unclean_leader_election
            .then(|| {
                state
                    .replicas
                    .iter()
                    .copied()
                    .find(|&b| (self.acceptable)(b))
            })
            .flatten()
        {
            (b, true)
        } else {
            (NO_LEADER, false)
        };
        if leader != state.leader {
            if elr.contains(&leader) {
                isr = vec![leader];
                elr.retain(|&b| b != leader);
            }
            out.leader = Some(leader);
            if unclean {
                out.isr = Some(vec![leader]);
                if state.leader_recovery_state != LeaderRecoveryState::Recovering {
                    out.leader_recovery_state = Some(LeaderRecoveryState::Recovering);
                }
            }
        }

        // An unclean election empties the ELR: its members' claim is void once data may be lost.
        if out.isr.is_some() {
            elr.clear();
        }
        if elr != state.elr {
            out.elr = Some(elr);
        }
        if out.isr.is_none() && isr != state.isr {
            out.isr = Some(isr);
        }

        // LastKnownElr: the last leader, kept from the moment the ISR first becomes empty.
        let offline_from_now = out.isr.as_ref().is_some_and(|i| i.is_empty());
        let has_leader = match out.leader {
            Some(l) => l != NO_LEADER,
            None => state.leader != NO_LEADER,
        };
        if offline_from_now {
            if state.leader != NO_LEADER && state.last_known_elr != [state.leader] {
                out.last_known_elr = Some(vec![state.leader]);
            }
        } else if has_leader && !state.last_known_elr.is_empty() {
            out.last_known_elr = Some(Vec::new());
        }

        if out.leader_recovery_state.is_none()
            && self.target_recovery != state.leader_recovery_state
        {
            out.leader_recovery_state = Some(self.target_recovery);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(replicas: &[i32], isr: &[i32], leader: i32) -> PartitionState {
        PartitionState {
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            ..Default::default()
        }
    }

    fn policy(min: i32, unclean: bool) -> ElectionPolicy {
        ElectionPolicy {
            min_insync_replicas: min,
            unclean_leader_election: unclean,
        }
    }

    /// `gone` is fenced: the change Kafka's fencing makes.
    fn fence(
        s: &PartitionState,
        p: ElectionPolicy,
        gone: i32,
        live: &[i32],
    ) -> PartitionChangeFields {
        let acceptable = |b: i32| b != gone && live.contains(&b);
        let isr = s.isr.iter().copied().filter(|&b| b != gone).collect();
        PartitionChangeBuilder::new(s, p, &acceptable)
            .target_isr(isr)
            .build()
    }

    fn apply(s: &PartitionState, f: &PartitionChangeFields) -> PartitionState {
        let mut n = s.clone();
        if let Some(i) = &f.isr {
            n.isr = i.clone();
        }
        if let Some(l) = f.leader {
            n.leader = l;
        }
        if let Some(e) = &f.elr {
            n.elr = e.clone();
        }
        if let Some(e) = &f.last_known_elr {
            n.last_known_elr = e.clone();
        }
        if let Some(r) = f.leader_recovery_state {
            n.leader_recovery_state = r;
        }
        n
    }

    #[test]
    fn a_shrink_that_keeps_min_isr_leaves_the_elr_empty() {
        let s = state(&[1, 2, 3], &[1, 2, 3], 1);
        let f = fence(&s, policy(2, false), 3, &[1, 2]);
        assert_eq!(
            f,
            PartitionChangeFields {
                isr: Some(vec![1, 2]),
                ..Default::default()
            }
        );
    }

    #[test]
    fn who_leaves_an_isr_below_min_isr_joins_the_elr() {
        let s = state(&[1, 2, 3], &[1, 2, 3], 1);
        let f = fence(&s, policy(3, false), 3, &[1, 2]);
        assert_eq!(f.isr, Some(vec![1, 2]));
        assert_eq!(f.elr, Some(vec![3]));
        assert_eq!(f.leader, None);
        let s = apply(&s, &f);
        // The leader goes too: 2 leads, 1 joins the ELR.
        let f = fence(&s, policy(3, false), 1, &[2]);
        assert_eq!(f.leader, Some(2));
        assert_eq!(f.isr, Some(vec![2]));
        assert_eq!(f.elr, Some(vec![1, 3]));
        let s = apply(&s, &f);
        // And the last one: an empty ISR, no leader, the ELR names all three.
        let f = fence(&s, policy(3, false), 2, &[]);
        assert_eq!(f.leader, Some(NO_LEADER));
        assert_eq!(f.isr, Some(vec![]));
        assert_eq!(f.elr, Some(vec![1, 2, 3]));
        assert_eq!(f.last_known_elr, Some(vec![2]));
        let s = apply(&s, &f);
        // 3 comes back first: from the ELR, it leads alone.
        let acceptable = |b: i32| b == 3;
        let f = PartitionChangeBuilder::new(&s, policy(3, false), &acceptable).build();
        assert_eq!(f.leader, Some(3));
        assert_eq!(f.isr, Some(vec![3]));
        assert_eq!(f.elr, Some(vec![1, 2]));
        assert_eq!(f.last_known_elr, Some(vec![]));
        assert_eq!(f.leader_recovery_state, None, "a clean election");
    }

    #[test]
    fn an_isr_that_grows_back_to_min_isr_empties_the_elr() {
        let s = PartitionState {
            elr: vec![3],
            ..state(&[1, 2, 3], &[1, 2], 1)
        };
        let acceptable = |_| true;
        let f = PartitionChangeBuilder::new(&s, policy(3, false), &acceptable)
            .target_isr(vec![1, 2, 3])
            .build();
        assert_eq!(f.isr, Some(vec![1, 2, 3]));
        assert_eq!(f.elr, Some(vec![]));
    }

    #[test]
    fn an_unclean_shutdown_leaves_isr_and_elr() {
        let s = PartitionState {
            elr: vec![3],
            ..state(&[1, 2, 3], &[1, 2], 1)
        };
        let acceptable = |b: i32| b != 3;
        let f = PartitionChangeBuilder::new(&s, policy(3, false), &acceptable)
            .unclean_shutdown(3)
            .build();
        assert_eq!(f.elr, Some(vec![]));
        assert_eq!(f.isr, None);
        // In the ISR: it leaves it, and does not join the ELR.
        let s = state(&[1, 2, 3], &[1, 2, 3], 1);
        let acceptable = |b: i32| b != 2;
        let f = PartitionChangeBuilder::new(&s, policy(3, false), &acceptable)
            .unclean_shutdown(2)
            .build();
        assert_eq!(f.isr, Some(vec![1, 3]));
        assert_eq!(f.elr, None, "nothing to add: it stays out of the ELR");
    }

    #[test]
    fn without_unclean_election_the_partition_waits_for_its_last_leader() {
        // RF 2, min ISR 1: 2 fell out of sync, then leader 1 dies.
        let s = state(&[1, 2], &[1], 1);
        let f = fence(&s, policy(1, false), 1, &[2]);
        assert_eq!(
            f,
            PartitionChangeFields {
                isr: Some(vec![]),
                leader: Some(NO_LEADER),
                elr: Some(vec![1]),
                last_known_elr: Some(vec![1]),
                leader_recovery_state: None,
            }
        );
        let s = apply(&s, &f);
        // 1 registers after kill -9: out of the ELR, and elected as the last known leader.
        let acceptable = |b: i32| b == 2;
        let f = PartitionChangeBuilder::new(&s, policy(1, false), &acceptable)
            .unclean_shutdown(1)
            .build();
        assert_eq!(f.leader, Some(1));
        assert_eq!(f.isr, Some(vec![1]));
        assert_eq!(f.elr, Some(vec![]));
        assert_eq!(f.last_known_elr, Some(vec![]));
        assert_eq!(
            f.leader_recovery_state,
            Some(LeaderRecoveryState::Recovering)
        );
    }

    #[test]
    fn unclean_election_elects_an_out_of_sync_replica() {
        let s = state(&[1, 2], &[1], 1);
        let f = fence(&s, policy(1, true), 1, &[2]);
        assert_eq!(
            f,
            PartitionChangeFields {
                isr: Some(vec![2]),
                leader: Some(2),
                elr: None,
                last_known_elr: None,
                leader_recovery_state: Some(LeaderRecoveryState::Recovering),
            }
        );
        // The ISR and then the ELR come first, even with unclean election on.
        let s = PartitionState {
            elr: vec![3],
            ..state(&[1, 2, 3], &[], NO_LEADER)
        };
        let acceptable = |b: i32| b != 1;
        let f = PartitionChangeBuilder::new(&s, policy(2, true), &acceptable).build();
        assert_eq!(
            (f.leader, f.isr, f.elr),
            (Some(3), Some(vec![3]), Some(vec![]))
        );
        assert_eq!(f.leader_recovery_state, None);
    }

    #[test]
    fn a_live_leader_stays_and_the_preferred_replica_wins_otherwise() {
        let s = state(&[1, 2, 3], &[2, 3], 3);
        let all = |_| true;
        assert!(PartitionChangeBuilder::new(&s, policy(1, false), &all)
            .build()
            .is_empty());
        let f = fence(&s, policy(1, false), 3, &[1, 2]);
        assert_eq!(f.leader, Some(2));
    }
}
