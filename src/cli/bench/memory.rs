//! The process's memory, for `shale bench --compare`: the resident size (`VmRSS`), its peak
//! (`VmHWM`) and a reset of that peak (writing `5` to `/proc/self/clear_refs`, Linux 4.0 and
//! later), all from `/proc/self/status`; and a [`HeapPeakSampler`] for the peak of anonymous
//! memory (`RssAnon`: the heap, thread stacks, everything the engine allocates). Elsewhere, or
//! when `/proc` refuses, every figure is `None` and the report says "n/a".
//!
//! Why two figures: shaledb reads tables through memory maps, so every table page it has read
//! is counted in its RSS as a file-backed page, while engines that read with `pread` hold the
//! same bytes in the kernel's page cache, outside their RSS. Those pages are clean and the
//! kernel takes them back under memory pressure. The anonymous peak is what each engine
//! allocates, which is the figure the memory budget is about; the RSS peak is printed beside it.
//! The kernel keeps no peak of anonymous memory, so the sampler reads it every
//! [`SAMPLE_INTERVAL`]: a spike shorter than that can be missed.
//!
//! What a peak means: all engines live in one process, so the runner resets the peaks before
//! each engine's turn and reads them after, with only that engine open. The figures still
//! include the benchmark's own memory (its value pool, a few MiB). What earlier turns freed is
//! given back to the system before each turn ([`release_free_memory`]), so that it is not
//! counted again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often [`HeapPeakSampler`] reads the anonymous memory.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(5);

/// Bytes of `field` (a `kB` line such as `VmHWM:   1234 kB`) in `/proc/self/status`.
fn status_field(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| {
        line.strip_prefix(field)
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

/// The process's resident memory now, in bytes.
pub fn resident_bytes() -> Option<u64> {
    status_field("VmRSS")
}

/// The process's peak resident memory since it started or since the last [`reset_peak`].
pub fn peak_resident_bytes() -> Option<u64> {
    status_field("VmHWM")
}

/// Resets the peak to the current resident size; `false` if the system refused.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Returns the allocator's free memory to the system, so that a turn's heap figures do not
/// include what earlier turns freed but the allocator kept (glibc keeps most of it). A no-op
/// where the allocator is not glibc's.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            /// glibc: releases free memory at the top of the heap and in every arena.
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: `malloc_trim` takes no pointers and only gives free pages back to the
        // system; it is safe to call at any time from any thread. Measured to matter: without
        // it, a turn started with up to 100 MiB of anonymous memory the previous turns freed.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// The process's anonymous resident memory now, in bytes.
pub fn anonymous_bytes() -> Option<u64> {
    status_field("RssAnon")
}

/// A thread that samples [`anonymous_bytes`] every [`SAMPLE_INTERVAL`] until stopped, keeping
/// the largest figure.
pub struct HeapPeakSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Option<u64>>>,
}

impl HeapPeakSampler {
    /// Starts sampling; the first sample is taken at once.
    pub fn start() -> HeapPeakSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("shale-memory".into())
            .spawn(move || {
                let mut peak = anonymous_bytes();
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(SAMPLE_INTERVAL);
                    peak = peak.max(anonymous_bytes());
                }
                peak.max(anonymous_bytes())
            })
            .ok();
        HeapPeakSampler { stop, thread }
    }

    /// Stops sampling and returns the peak, `None` where the figure is not available.
    pub fn finish(mut self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take()?.join().ok().flatten()
    }
}

impl Drop for HeapPeakSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both tests measure the whole process's memory: run them one at a time, so that one's
    /// allocation is not the other's baseline.
    static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn the_peak_is_at_least_the_current_size_after_a_reset() {
        let _alone = MEASURING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (Some(_), true) = (resident_bytes(), reset_peak()) else {
            return; // Not Linux, or /proc refuses: nothing to check.
        };
        let block = vec![1u8; 32 << 20];
        let peak = peak_resident_bytes().unwrap_or(0);
        assert!(peak >= 32 << 20, "peak {peak} after touching 32 MiB");
        assert!(std::hint::black_box(block).len() == 32 << 20);
    }

    #[test]
    fn the_sampler_sees_an_allocation_it_outlives() {
        let _alone = MEASURING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(before) = anonymous_bytes() else {
            return; // Not Linux: nothing to check.
        };
        let sampler = HeapPeakSampler::start();
        let block = vec![1u8; 64 << 20];
        std::thread::sleep(SAMPLE_INTERVAL * 4);
        let peak = sampler.finish().unwrap_or(0);
        assert!(std::hint::black_box(block).len() == 64 << 20);
        assert!(
            peak >= before + (48 << 20),
            "peak {peak} after touching 64 MiB on top of {before}"
        );
    }
}
