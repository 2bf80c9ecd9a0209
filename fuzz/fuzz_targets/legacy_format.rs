//! Fuzzes the message format v0/v1 conversion (`milena::log::legacy_format`) with arbitrary
//! bytes: up-conversion of a produced message set and down-conversion of fetched log bytes must
//! return a value or an error, never panic, and never inflate past the codec bound.
//! Run: `cargo +nightly fuzz run legacy_format -- -max_total_time=60`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use milena::log::legacy_format::{down_convert, up_convert};

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = up_convert(data) {
        // A converted batch must down-convert again, in both old formats.
        for magic in [0, 1] {
            let _ = down_convert(bytes::Bytes::from(batch.clone()), magic, 0, usize::MAX);
        }
    }
    let magic = data.first().map_or(0, |b| (b & 1) as i8);
    let _ = down_convert(bytes::Bytes::copy_from_slice(data), magic, 0, 1 << 20);
});
