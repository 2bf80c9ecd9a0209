//! The integration tests, built as one test binary: each file below is a module. One binary links
//! once where thirty-odd binaries of about 100 MB each were linked one by one, which was most of
//! the build time of `cargo test --release`. Run one file's tests with
//! `cargo test --release --test suite cluster::` (a module path as the filter).

mod support;
mod wire;

mod clients;
mod cluster;
mod cluster_groups;
mod cluster_transactions;
mod codecs;
mod compaction;
mod compaction_txn;
mod compat_api_versions;
mod compat_matrix;
mod config_fidelity;
mod console_http;
mod console_security;
mod consumer_groups;
mod consumer_groups_clients;
mod consumer_protocol;
mod docker_files;
mod durability;
mod fd_budget;
mod features;
mod fetch_semantics;
mod fetch_sessions;
mod harness_smoke;
mod kafka_formats;
mod leader_epoch;
mod listeners;
mod metrics_http;
mod old_formats;
mod protocol_edges;
mod quickstart;
mod rdkafka_client;
mod record_errors;
mod replication;
mod replication_faults;
mod request_fuzz;
mod retention;
mod security_acl;
mod security_cluster;
mod security_end_to_end;
mod security_sasl;
mod security_tls;
mod startup;
mod transactions;
mod transactions_clients;
mod unclean_election;
