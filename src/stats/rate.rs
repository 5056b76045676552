//! [`RateMeter`]: a running total of bytes and its rate over the last second or so (the write
//! rate that `Db::pressure` extrapolates).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A write rate over the last second or so: a running total and the window it is measured in.
#[derive(Debug)]
pub(crate) struct RateMeter {
    total: AtomicU64,
    window: std::sync::Mutex<RateWindow>,
}

#[derive(Debug)]
struct RateWindow {
    started: std::time::Instant,
    total_at_start: u64,
    last_rate: f64,
}

/// A rate window shorter than this is extended rather than measured.
const RATE_WINDOW: Duration = Duration::from_secs(1);

impl Default for RateMeter {
    fn default() -> Self {
        RateMeter {
            total: AtomicU64::new(0),
            window: std::sync::Mutex::new(RateWindow {
                started: std::time::Instant::now(),
                total_at_start: 0,
                last_rate: 0.0,
            }),
        }
    }
}

impl RateMeter {
    /// Counts `bytes` more.
    pub fn add(&self, bytes: u64) {
        self.total.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Everything counted so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Bytes per second over the current window once it is a second long (then a new window
    /// starts), else the previous window's rate.
    pub fn rate(&self) -> f64 {
        let total = self.total();
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let elapsed = window.started.elapsed();
        if elapsed >= RATE_WINDOW || window.last_rate == 0.0 && elapsed >= RATE_WINDOW / 10 {
            window.last_rate = (total - window.total_at_start) as f64 / elapsed.as_secs_f64();
            if elapsed >= RATE_WINDOW {
                window.started = std::time::Instant::now();
                window.total_at_start = total;
            }
        }
        window.last_rate
    }
}
