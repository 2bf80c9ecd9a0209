//! Milena: a Kafka-compatible broker in one binary.
//!
//! # Layout
//!
//! The path of a request, left to right:
//!
//! ```text
//! socket ─▶ server/ ─▶ protocol/ ─▶ handlers/<api family>.rs ─▶ partition/ + log/   (data)
//!  frames    decode      dispatch      domain calls only         metadata/          (topics, configs)
//!                                                                 cluster/  (Raft quorum, controller)
//! ```
//!
//! - [`server`]: accept loop, one task per connection, size-prefixed frames and their limits.
//! - [`protocol`]: the only layer that sees the wire; one table of supported APIs drives both
//!   dispatch and the ApiVersions answer; the one place Kafka error codes are chosen.
//! - [`handlers`]: one file per API family; they take the broker context and a decoded request and
//!   return the response, never touching sockets.
//! - [`partition`]: a partition is its log plus the high watermark and the waiters on it.
//! - [`log`]: the partition log on disk in Kafka's own segment format; `log::legacy_format`
//!   converts the old message formats (v0/v1) of old clients to and from it.
//! - [`coordinator`]: consumer groups and committed offsets (`__consumer_offsets`), and
//!   transactions (`__transaction_state`), each a single writer replayed at start.
//! - [`metadata`]: topics, configs, brokers and replica placement as an immutable image rebuilt
//!   by replaying records (a local log on a single node, the Raft log in a cluster); the
//!   controller's decisions as pure functions of the image.
//! - [`cluster`]: cluster mode: the metadata quorum on openraft, the active controller
//!   (registration, heartbeats, fencing, elections), and the controller listener's protocol.
//! - [`config`]: `server.properties`, `KAFKA_*` environment overrides and topic configs.
//! - [`security`]: a connection's listener, security protocol and authenticated principal (SASL,
//!   a TLS certificate's subject through `ssl.principal.mapping.rules`), and the ACL authorizer.
//! - [`logging`]: the broker's own log on stderr in the format `milena.log.format` names.
//! - [`broker`]: the context shared by every connection.
//! - [`metrics`]: the broker's counters (atomics on the request path); [`http`]: the HTTP
//!   listener (`milena.http.listener`) serving them as Prometheus `/metrics`, gauges read from
//!   the broker's state at scrape time, and the web console (`http/console/`: server-rendered
//!   pages whose actions call the Kafka handlers).

pub mod broker;
pub mod cluster;
pub mod config;
pub mod coordinator;
pub mod handlers;
pub mod http;
pub mod log;
pub mod logging;
pub mod metadata;
pub mod metrics;
pub mod partition;
pub mod protocol;
pub mod security;
pub mod server;
pub mod testing;
