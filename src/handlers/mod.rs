//! One file per API family. A handler takes the request context and the decoded request and
//! returns the response (invariant 1): no sockets, no encoding. Error codes come from
//! `protocol::errors`.

pub mod api_versions;
pub mod cluster;
pub mod configs;
pub mod consumer_group;
pub mod coordinator;
pub mod fetch;
pub mod groups;
pub mod leader_epoch;
pub mod list_offsets;
pub mod log_dirs;
pub mod metadata;
pub mod offsets;
pub mod produce;
pub mod producer_id;
pub mod records;
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

/// Waits until `partition`'s high watermark reaches `required` (every ISR member has what is
/// below it), for at most `timeout`: REQUEST_TIMED_OUT then, NOT_LEADER_OR_FOLLOWER if this
/// broker stops leading meanwhile.
pub(crate) async fn replicated(
    ctx: &crate::protocol::RequestContext,
    partition: &crate::partition::Partition,
    required: i64,
    timeout: std::time::Duration,
) -> Result<(), kafka_protocol::ResponseError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut arrivals = ctx.broker.replicas.subscribe();
    loop {
        arrivals.borrow_and_update();
        if partition.high_watermark() >= required {
            return Ok(());
        }
        if !partition.is_leader() {
            return Err(kafka_protocol::ResponseError::NotLeaderOrFollower);
        }
        if tokio::time::timeout_at(deadline, arrivals.changed())
            .await
            .is_err()
        {
            return Err(kafka_protocol::ResponseError::RequestTimedOut);
        }
    }
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
