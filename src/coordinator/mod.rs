//! Coordinators: state machines over Kafka's internal topics.
//!
//! Each coordinator is a single writer over its internal topic (ARCHITECTURE invariant 2): a
//! request is validated against in-memory state, its effects are written as records in Kafka's
//! own key/value schemas, and state changes by applying those records; at start the state is
//! rebuilt by replaying the topic (invariant 3).

pub mod group;
pub mod txn;
