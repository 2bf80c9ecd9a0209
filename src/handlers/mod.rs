//! One file per API family. A handler takes the request context and the decoded request and
//! returns the response (invariant 1): no sockets, no encoding. Error codes come from
//! `protocol::errors`.

pub mod acls;
pub mod api_versions;
pub mod authz;
pub mod cluster;
pub mod configs;
pub mod consumer_group;
pub mod coordinator;
pub mod features;
pub mod fetch;
pub mod fetch_session;
pub mod groups;
pub mod leader_epoch;
pub mod legacy_records;
pub mod list_offsets;
pub mod log_dirs;
pub mod metadata;
pub mod offsets;
pub mod produce;
pub mod producer_id;
pub mod records;
pub mod sasl;
pub mod scram_credentials;
pub mod topics;
pub mod transactions;
pub mod txn_markers;

use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;

pub(crate) fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

pub(crate) fn topic_name(s: impl Into<String>) -> TopicName {
    TopicName(str_bytes(s))
}

/// A leader's write waiting for its followers: done when the partition's high watermark
/// reaches `required` (every ISR member has what is below it) while this broker still leads it
/// in `leader_epoch`, the epoch it was written in.
pub(crate) struct Replicating {
    pub partition: std::sync::Arc<crate::partition::Partition>,
    pub leader_epoch: i32,
    pub required: i64,
}

/// Waits for every write of `writes` to be replicated, for at most `timeout` together; one
/// outcome per write, in order: Ok, NOT_LEADER_OR_FOLLOWER if leadership moved meanwhile, or
/// REQUEST_TIMED_OUT (Kafka's delayed produce and delayed marker writes).
///
/// Woken by changes of the written partitions only (their high watermark, leadership or leader
/// epoch), not by appends elsewhere.
pub(crate) async fn replicated(
    writes: &[Replicating],
    timeout: std::time::Duration,
) -> Vec<Result<(), kafka_protocol::ResponseError>> {
    use kafka_protocol::ResponseError;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut outcomes: Vec<Option<Result<(), ResponseError>>> = vec![None; writes.len()];
    // Registered before the first check, so that no change between check and wait is missed.
    let mut wakeup = crate::partition::wakeup::Wakeup::new();
    for w in writes {
        wakeup.watch(&w.partition);
    }
    loop {
        for (w, outcome) in writes.iter().zip(outcomes.iter_mut()) {
            if outcome.is_some() {
                continue;
            }
            let p = &w.partition;
            if !p.is_leader() || p.leader_epoch() != w.leader_epoch {
                *outcome = Some(Err(ResponseError::NotLeaderOrFollower));
            } else if p.high_watermark() >= w.required {
                *outcome = Some(Ok(()));
            }
        }
        if outcomes.iter().all(Option::is_some) {
            break;
        }
        if tokio::time::timeout_at(deadline, wakeup.changed())
            .await
            .is_err()
        {
            break;
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Err(ResponseError::RequestTimedOut)))
        .collect()
}

/// Runs work that may fsync (`milena.flush.on.ack`) off the async worker's hot loop. Without
/// fsyncs, or on a single-threaded runtime (tests, fuzzing), it runs in place.
pub(crate) fn may_fsync<T>(ctx: &crate::protocol::RequestContext, f: impl FnOnce() -> T) -> T {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if ctx.broker.config.flush_on_ack && multi_thread {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}
