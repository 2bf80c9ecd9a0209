//! Fuzzes the whole request path: one frame (without its size prefix) through header parsing,
//! version checks, decoding, the handler and response encoding, on a real broker over a
//! throwaway data directory. Run: `cargo +nightly fuzz run request -- -max_total_time=60`.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use milena::broker::Broker;

struct Harness {
    runtime: tokio::runtime::Runtime,
    broker: Arc<Broker>,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("milena-fuzz-{}", std::process::id()));
        let broker = milena::testing::broker_in(&dir);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        Harness { runtime, broker }
    })
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    let frame = bytes::Bytes::copy_from_slice(data);
    let mut session = milena::security::Session::plaintext("127.0.0.1:1".parse().unwrap());
    // A fuzzed Fetch may long-poll; its wait is not what is being tested.
    h.runtime.block_on(async {
        let _ = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            milena::protocol::handle_frame(&h.broker, &mut session, frame),
        )
        .await;
    });
});
