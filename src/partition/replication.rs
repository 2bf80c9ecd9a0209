//! A partition's part in replication: taking the role the metadata gives it, serving its
//! followers' fetches as leader (their progress moves the high watermark), and as follower
//! appending what it fetched, truncating where its log diverged from the leader's.

use std::sync::atomic::Ordering;
use std::sync::MutexGuard;

use bytes::Bytes;

use super::replica::{IsrChange, LeaderState, Role};
use super::Partition;
use crate::log::{AppendInfo, EpochEndOffset, LogError, SliceRead};
use crate::metadata::PartitionState;

/// What a follower asks its leader for, for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPosition {
    pub leader: i32,
    pub leader_epoch: i32,
    pub fetch_offset: i64,
    /// The epoch of the last batch in the log (-1 if empty): the leader checks that its own log
    /// agrees up to here (KIP-595's DivergingEpoch).
    pub last_fetched_epoch: i32,
    pub log_start_offset: i64,
}

/// A follower fetch this leader cannot serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowerFetchError {
    /// This broker does not lead the partition (any more).
    NotLeader,
    /// The fetching broker is not a replica of the partition.
    NotReplica,
}

impl Partition {
    pub(super) fn lock_role(&self) -> MutexGuard<'_, Role> {
        self.role.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_leader(&self) -> bool {
        matches!(*self.lock_role(), Role::Leader(_))
    }

    pub fn set_min_insync_replicas(&self, n: i32) {
        self.min_insync_replicas.store(n.max(1), Ordering::Release);
    }

    /// Takes the role `state` gives this broker (`node_id`). A new leadership first records
    /// its epoch as starting at the log end (Kafka's makeLeader), so that a back-to-back
    /// election can never leave two epochs claiming the same offsets.
    pub fn apply_state(
        &self,
        node_id: i32,
        state: &PartitionState,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let mut log = self.write_log();
        // Whether the role or the leader epoch changed: waits that need this broker to lead in
        // an epoch (replication, fetches) must look again.
        let mut moved = self.leader_epoch() != state.leader_epoch;
        {
            let mut role = self.lock_role();
            match &mut *role {
                Role::Leader(l)
                    if state.leader == node_id
                        && l.node_id == node_id
                        && l.leader_epoch == state.leader_epoch =>
                {
                    l.update(state);
                }
                _ if state.leader == node_id => {
                    let end = log.log_end_offset();
                    log.maybe_assign_leader_epoch(state.leader_epoch, end)?;
                    *role = Role::Leader(LeaderState::new(
                        node_id,
                        state,
                        log.log_end_offset(),
                        now_ms,
                    ));
                    moved = true;
                    if state.leader_epoch > 0 {
                        tracing::info!(topic = %self.topic, partition = self.index, leader_epoch = state.leader_epoch, isr = ?state.isr, "leading");
                    }
                }
                Role::Follower { leader } if *leader == state.leader => {}
                _ => {
                    *role = Role::Follower {
                        leader: state.leader,
                    };
                    moved = true;
                    // Until the leader says otherwise, nothing new is committed here.
                    self.leader_high_watermark
                        .store(self.high_watermark(), Ordering::Release);
                    tracing::info!(topic = %self.topic, partition = self.index, leader = state.leader, leader_epoch = state.leader_epoch, "following");
                }
            }
        }
        self.set_leader_epoch(state.leader_epoch);
        self.publish(&log);
        if moved {
            self.waiters.wake();
        }
        Ok(())
    }

    /// Whether an acks=all write must be refused before it is appended (Kafka's
    /// NOT_ENOUGH_REPLICAS): this broker leads and the ISR is smaller than the effective
    /// `min.insync.replicas`, which is never more than the replication factor (Kafka's
    /// `effectiveMinIsr`).
    pub fn under_min_isr(&self) -> bool {
        let min = self.min_insync_replicas.load(Ordering::Acquire);
        match &*self.lock_role() {
            Role::Leader(l) => l.under_min_isr(min),
            Role::Follower { .. } => false,
        }
    }

    /// Whether `broker` is a follower replica of this partition, which this broker leads.
    pub fn is_follower_replica(&self, broker: i32) -> bool {
        match &*self.lock_role() {
            Role::Leader(l) => l.is_follower(broker),
            Role::Follower { .. } => false,
        }
    }

    /// A follower fetched from `fetch_offset`: record its progress (this may move the high
    /// watermark) and read what follows, up to the log end, not the high watermark.
    pub fn fetch_for_follower(
        &self,
        follower: i32,
        broker_epoch: i64,
        fetch_offset: i64,
        max_bytes: usize,
        now_ms: i64,
    ) -> Result<Result<SliceRead, LogError>, FollowerFetchError> {
        let log = self.read_log();
        {
            let mut role = self.lock_role();
            let Role::Leader(l) = &mut *role else {
                return Err(FollowerFetchError::NotLeader);
            };
            let end = log.log_end_offset();
            l.record_fetch(follower, broker_epoch, fetch_offset, end, now_ms)
                .ok_or(FollowerFetchError::NotReplica)?;
        }
        self.publish(&log);
        Ok(log.read_slices(fetch_offset, max_bytes, true, None))
    }

    /// The ISR change this leader should ask the controller for now, if any (see
    /// `LeaderState::isr_change`); it is then in flight until the metadata shows the answer or
    /// [`Self::isr_change_failed`].
    pub fn isr_change(
        &self,
        now_ms: i64,
        max_lag_ms: i64,
        eligible: impl Fn(i32, i64) -> bool,
    ) -> Option<IsrChange> {
        let end = self.log_end_offset();
        let hw = self.high_watermark();
        match &mut *self.lock_role() {
            Role::Leader(l) => l.isr_change(end, hw, now_ms, max_lag_ms, eligible),
            Role::Follower { .. } => None,
        }
    }

    pub fn isr_change_failed(&self) {
        if let Role::Leader(l) = &mut *self.lock_role() {
            l.isr_change_failed();
        }
    }

    /// Where the follower fetches from next, or `None` when this broker leads.
    pub fn fetch_position(&self) -> Option<FetchPosition> {
        let leader = match &*self.lock_role() {
            Role::Follower { leader } => *leader,
            Role::Leader(_) => return None,
        };
        let log = self.read_log();
        let last_fetched_epoch = log.leader_epoch_entries().last().map_or(-1, |e| e.epoch);
        Some(FetchPosition {
            leader,
            leader_epoch: self.leader_epoch(),
            fetch_offset: log.log_end_offset(),
            last_fetched_epoch,
            log_start_offset: log.log_start_offset(),
        })
    }

    /// As leader: where a follower's log stops agreeing with this one, if it does (Kafka's
    /// DivergingEpoch, KIP-595): the epoch of its last fetched batch ends earlier here than
    /// where it fetches from, or is unknown here. The follower then truncates and fetches again.
    pub fn diverging_epoch(
        &self,
        last_fetched_epoch: i32,
        fetch_offset: i64,
    ) -> Option<EpochEndOffset> {
        if last_fetched_epoch < 0 {
            return None;
        }
        let ours = self.end_offset_for_epoch(last_fetched_epoch);
        (ours.leader_epoch < last_fetched_epoch || ours.end_offset < fetch_offset).then_some(ours)
    }

    /// As follower: where to cut after the leader said the logs diverge at `diverging` (Kafka's
    /// `AbstractFetcherThread.getOffsetTruncationState`): if this log has the leader's epoch, at
    /// the lesser of where it ends here and there; if not, where this log's last earlier epoch
    /// ends (the next fetch checks again from there). A leader without any epoch this old sends
    /// no end offset; then the high watermark is the only safe point left.
    pub fn truncation_offset(&self, fetch_offset: i64, diverging: EpochEndOffset) -> i64 {
        if diverging.end_offset < 0 {
            return self.high_watermark().min(fetch_offset);
        }
        let ours = self
            .read_log()
            .end_offset_for_epoch(diverging.leader_epoch, -1);
        let target = if ours.leader_epoch == diverging.leader_epoch {
            diverging.end_offset.min(ours.end_offset)
        } else {
            ours.end_offset
        };
        target.min(fetch_offset).max(0)
    }

    /// As follower: appends the leader's batches fetched from `fetch_offset`, if this log
    /// still ends there, then takes the leader's high watermark (never beyond its own log end)
    /// and log start offset.
    pub fn append_fetched(
        &self,
        fetch_offset: i64,
        records: Bytes,
        leader_high_watermark: i64,
        leader_log_start_offset: i64,
        now_ms: i64,
    ) -> Result<Option<AppendInfo>, LogError> {
        let mut log = self.write_log();
        if !matches!(*self.lock_role(), Role::Follower { .. }) {
            return Ok(None);
        }
        let info = if records.is_empty() || log.log_end_offset() != fetch_offset {
            None
        } else {
            Some(log.append_as_follower(records, now_ms)?)
        };
        if leader_log_start_offset > log.log_start_offset()
            && leader_log_start_offset <= log.log_end_offset()
        {
            log.delete_records_before(leader_log_start_offset)?;
        }
        self.leader_high_watermark
            .fetch_max(leader_high_watermark, Ordering::AcqRel);
        self.publish(&log);
        Ok(info)
    }

    /// As follower whose fetch offset lies below the leader's log start (OFFSET_OUT_OF_RANGE:
    /// retention deleted what this replica still needs): the log starts again, empty, at the
    /// leader's log start (Kafka's truncateFullyAndStartAt). Never truncates by anything but
    /// that: divergence is found by leader epoch. Returns where the log now ends.
    pub fn restart_at_leader_start(
        &self,
        fetch_offset: i64,
        leader_log_start: i64,
    ) -> Result<i64, LogError> {
        let mut log = self.write_log();
        if !matches!(*self.lock_role(), Role::Follower { .. })
            || fetch_offset >= leader_log_start
            || log.log_end_offset() != fetch_offset
        {
            return Ok(log.log_end_offset());
        }
        tracing::warn!(topic = %self.topic, partition = self.index, fetch_offset, leader_log_start, "the leader no longer holds what this replica needs; starting its log again at the leader's log start");
        log.truncate_fully_and_start_at(leader_log_start)?;
        let end = log.log_end_offset();
        self.high_watermark.store(
            self.high_watermark().min(end).max(log.log_start_offset()),
            Ordering::Release,
        );
        self.last_stable_offset.store(
            self.last_stable_offset()
                .min(end)
                .max(log.log_start_offset()),
            Ordering::Release,
        );
        self.leader_high_watermark.fetch_min(end, Ordering::AcqRel);
        self.publish(&log);
        Ok(end)
    }

    /// As follower: cuts the log at `offset` (where it diverged from the leader's). The high
    /// watermark and last stable offset come down with it if they were above.
    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        let mut log = self.write_log();
        if !matches!(*self.lock_role(), Role::Follower { .. }) {
            return Ok(());
        }
        let before = log.log_end_offset();
        log.truncate_to(offset)?;
        let end = log.log_end_offset();
        if end < before {
            tracing::info!(topic = %self.topic, partition = self.index, from = before, to = end, "truncated diverging log");
        }
        self.high_watermark.fetch_min(end, Ordering::AcqRel);
        self.last_stable_offset.fetch_min(end, Ordering::AcqRel);
        self.leader_high_watermark.fetch_min(end, Ordering::AcqRel);
        self.publish(&log);
        Ok(())
    }
}
