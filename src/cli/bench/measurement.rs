//! What the benchmark's workloads measure, as plain data that the runners fill in and the
//! reports print: [`Measurement`] (one timed loop) with its [`Latency`] percentiles, the
//! [`Amplification`] after a fill (its terms are defined in
//! [`amplification`](super::amplification), which measures it) and one engine's [`Turn`] of
//! `--compare`; the two timers every timed loop uses, [`time`] and [`timed`]; and the
//! process's CPU time, [`process_cpu_time`]. A leaf: it imports nothing of the program.

use std::hint::black_box;
use std::time::{Duration, Instant};

use shaledb::LevelStats;
use shaledb::stats::Histogram;

/// One timed workload.
#[derive(Debug, Default)]
pub struct Measurement {
    /// The workload's name, as the table row shows it.
    pub name: String,
    /// Operations done in the timed loop.
    pub operations: u64,
    /// User bytes moved in the timed loop.
    pub bytes: u64,
    /// Time the loop took.
    pub elapsed: Duration,
    /// Percentiles of the time one operation took, where measured.
    pub latency: Option<Latency>,
    /// Anything else worth knowing (file size, checks).
    pub note: String,
}

/// Latency percentiles of one workload's operations.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
}

impl Latency {
    /// The percentiles of a histogram of nanoseconds (within its bucket precision, 19%).
    pub fn from_histogram(histogram: &Histogram) -> Option<Latency> {
        if histogram.count() == 0 {
            return None;
        }
        Some(Latency {
            p50: Duration::from_nanos(histogram.percentile(0.50)),
            p99: Duration::from_nanos(histogram.percentile(0.99)),
            p999: Duration::from_nanos(histogram.percentile(0.999)),
        })
    }
}

/// Times `work`, which returns a value kept alive through `black_box`.
pub fn time<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let result = black_box(work());
    (result, start.elapsed())
}

/// Clock ticks per second of the CPU times in `/proc/self/stat` (Linux's `USER_HZ`, 100 on
/// every architecture it fixes it on).
const USER_HZ: u64 = 100;

/// CPU time (user and system) this process's threads have used so far, from Linux's
/// `/proc/self/stat` in 10 ms ticks; `None` where it is missing. On a shared machine it is
/// steadier than wall time: waiting for a core is not counted.
pub fn process_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it start at field 3.
    let after_name = text.get(text.rfind(')')? + 1..)?;
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 1000 / USER_HZ))
}

/// Runs `operation` and records how long it took in `histogram`.
pub fn timed<T>(histogram: &Histogram, operation: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let result = black_box(operation());
    histogram.record_duration(start.elapsed());
    result
}

/// The amplification and tree shape after a fill.
#[derive(Debug, Clone)]
pub struct Amplification {
    /// Disk write amplification, where `/proc/self/io` exists.
    pub write_disk: Option<f64>,
    /// Engine write amplification.
    pub write_engine: f64,
    /// SSTable entries per live key.
    pub space: f64,
    /// Bytes of every SSTable.
    pub sst_bytes: u64,
    /// Bytes of every file in the directory (preallocated logs included).
    pub all_bytes: u64,
    /// Key and value bytes of the live entries.
    pub live_bytes: u64,
    /// Files and bytes per level.
    pub levels: Vec<LevelStats>,
}

/// One engine's turn at one workload.
#[derive(Debug)]
pub struct Turn {
    /// The engine's name.
    pub engine: &'static str,
    /// What the timed loop measured.
    pub measurement: Measurement,
    /// The process's resident bytes when the turn began (before the engine opened).
    pub start_resident_bytes: Option<u64>,
    /// The process's peak resident bytes during the turn (including mapped file pages).
    pub peak_resident_bytes: Option<u64>,
    /// The process's peak anonymous resident bytes during the turn (what the engine allocated),
    /// sampled.
    pub peak_heap_bytes: Option<u64>,
    /// The process's peak file-backed resident bytes during the turn (mapped file pages:
    /// table pages read through memory maps), sampled with the heap.
    pub peak_file_bytes: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn process_cpu_time_is_read_and_does_not_go_back() {
        let before = process_cpu_time();
        assert!(before.is_some(), "/proc/self/stat parses");
        let start = Instant::now();
        let mut spins = 0u64;
        while start.elapsed() < Duration::from_millis(30) {
            spins = black_box(spins + 1);
        }
        assert!(process_cpu_time() >= before);
    }
}
