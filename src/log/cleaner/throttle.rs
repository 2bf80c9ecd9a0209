//! The cleaner's I/O rate limit (`log.cleaner.io.max.bytes.per.second`): bytes read and
//! written are counted, and the cleaner sleeps whenever it got ahead of the allowed rate, so
//! produce and fetch keep their share of the disk while a large log is cleaned.

use std::time::{Duration, Instant};

/// Checks every this many bytes, like Kafka's throttler, so sleeps are few and long enough
/// to matter.
const CHECK_EVERY_BYTES: u64 = 64 * 1024;

pub struct Throttler {
    bytes_per_second: f64,
    period_start: Instant,
    bytes_in_period: u64,
    unchecked: u64,
}

impl Throttler {
    /// A throttler allowing `bytes_per_second` (infinite or non-positive: no limit).
    pub fn new(bytes_per_second: f64) -> Throttler {
        Throttler {
            bytes_per_second,
            period_start: Instant::now(),
            bytes_in_period: 0,
            unchecked: 0,
        }
    }

    fn unlimited(&self) -> bool {
        !self.bytes_per_second.is_finite() || self.bytes_per_second <= 0.0
    }

    /// Accounts for `bytes` of I/O, sleeping if the rate is exceeded.
    pub fn throttle(&mut self, bytes: u64) {
        if self.unlimited() {
            return;
        }
        self.unchecked += bytes;
        if self.unchecked < CHECK_EVERY_BYTES {
            return;
        }
        self.bytes_in_period += std::mem::take(&mut self.unchecked);
        let elapsed = self.period_start.elapsed().as_secs_f64();
        let allowed_elapsed = self.bytes_in_period as f64 / self.bytes_per_second;
        if allowed_elapsed > elapsed {
            std::thread::sleep(Duration::from_secs_f64(allowed_elapsed - elapsed));
        }
        // Start a new period every second so a long idle spell does not bank a burst.
        if self.period_start.elapsed() >= Duration::from_secs(1) {
            self.period_start = Instant::now();
            self.bytes_in_period = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_rate() {
        let mut t = Throttler::new(1_000_000.0);
        let start = Instant::now();
        for _ in 0..10 {
            t.throttle(50_000);
        }
        // 500 kB at 1 MB/s: about half a second.
        assert!(start.elapsed() >= Duration::from_millis(400));
        let mut free = Throttler::new(f64::INFINITY);
        let start = Instant::now();
        free.throttle(u64::MAX / 2);
        assert!(start.elapsed() < Duration::from_millis(100));
    }
}
