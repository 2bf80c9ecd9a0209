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
