//! For tests and the fuzzer: a broker over a given directory with the built-in defaults and no
//! socket, so the request path can be driven in-process.

use std::path::Path;
use std::sync::Arc;

use crate::broker::{Broker, Endpoint};
use crate::config::BrokerConfig;

/// Opens a broker whose data lives in `dir`. Panics if it cannot: only tests call this.
pub fn broker_in(dir: &Path) -> Arc<Broker> {
    let mut config = BrokerConfig::default();
    config.log_dirs = vec![dir.to_path_buf()];
    Broker::open(
        config,
        Endpoint {
            host: "localhost".into(),
            port: 9092,
        },
    )
    .expect("a broker over a fresh directory")
}

/// A single-node broker over `dir` configured from server.properties-style keys (`log.dirs`
/// is set to `dir`), e.g. to serve a SASL listener's settings in-process.
pub fn broker_with(dir: &Path, keys: &[(&str, &str)]) -> Arc<Broker> {
    let mut raw: std::collections::BTreeMap<String, String> = keys
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    raw.insert("log.dirs".into(), dir.display().to_string());
    let config = BrokerConfig::from_raw(raw).expect("a valid test configuration");
    Broker::open(
        config,
        Endpoint {
            host: "localhost".into(),
            port: 9092,
        },
    )
    .expect("a broker over a fresh directory")
}
