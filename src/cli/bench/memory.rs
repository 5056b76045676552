//! The process's memory, for `shale bench --compare`: the resident size (`VmRSS`), its peak
//! (`VmHWM`) and a reset of that peak (writing `5` to `/proc/self/clear_refs`, Linux 4.0 and
//! later), all from `/proc/self/status`; and a [`HeapPeakSampler`] for the peaks of anonymous
//! memory (`RssAnon`: the heap, thread stacks, everything the engine allocates) and of
//! file-backed memory (`RssFile`: mapped file pages), reported apart. Elsewhere, or
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
    field_of(&status, field)
}

/// Bytes of `field` in the text of `/proc/self/status`.
fn field_of(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|line| {
        line.strip_prefix(field)
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

/// The anonymous (`RssAnon`) and file-backed (`RssFile`: mapped file pages, such as table
/// pages read through memory maps) resident bytes now, from one read of the status file.
fn anonymous_and_file_bytes() -> (Option<u64>, Option<u64>) {
    match std::fs::read_to_string("/proc/self/status") {
        Ok(status) => (field_of(&status, "RssAnon"), field_of(&status, "RssFile")),
        Err(_) => (None, None),
    }
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

/// The peaks a [`HeapPeakSampler`] saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct Peaks {
    /// The peak anonymous resident bytes (`RssAnon`: the heap, stacks, what the engine
    /// allocated).
    pub anonymous: Option<u64>,
    /// The peak file-backed resident bytes (`RssFile`: mapped file pages, the table pages an
    /// engine reads through memory maps among them).
    pub file: Option<u64>,
}

/// A thread that samples the anonymous and file-backed resident memory every
/// [`SAMPLE_INTERVAL`] until stopped, keeping the largest figure of each (the two peaks need
/// not fall on the same sample).
pub struct HeapPeakSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Peaks>>,
}

impl HeapPeakSampler {
    /// Starts sampling; the first sample is taken at once.
    pub fn start() -> HeapPeakSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("shale-memory".into())
            .spawn(move || {
                let mut peaks = Peaks::default();
                let sample = |peaks: &mut Peaks| {
                    let (anonymous, file) = anonymous_and_file_bytes();
                    peaks.anonymous = peaks.anonymous.max(anonymous);
                    peaks.file = peaks.file.max(file);
                };
                sample(&mut peaks);
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(SAMPLE_INTERVAL);
                    sample(&mut peaks);
                }
                sample(&mut peaks);
                peaks
            })
            .ok();
        HeapPeakSampler { stop, thread }
    }

    /// Stops sampling and returns the peaks, `None` where a figure is not available.
    pub fn finish(mut self) -> Peaks {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|thread| thread.join().ok())
            .unwrap_or_default()
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
#[expect(
    clippy::unwrap_used,
    reason = "a test fails on the first error, which unwrap shows"
)]
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
    fn the_sampler_counts_mapped_file_pages_apart_from_the_heap() {
        let _alone = MEASURING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (Some(heap_before), Some(file_before)) = anonymous_and_file_bytes() else {
            return; // Not Linux: nothing to check.
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mapped");
        std::fs::write(&path, vec![7u8; 32 << 20]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let sampler = HeapPeakSampler::start();
        // SAFETY: the file is this test's own, in its own directory, and nothing writes or
        // truncates it while it is mapped.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        let sum: u64 = map.iter().step_by(4096).map(|&byte| u64::from(byte)).sum();
        std::thread::sleep(SAMPLE_INTERVAL * 4);
        let peaks = sampler.finish();
        assert_eq!(sum, 7 * (32 << 20) / 4096);
        let file_peak = peaks.file.unwrap_or(0);
        assert!(
            file_peak >= file_before + (24 << 20),
            "file peak {file_peak} after reading 32 MiB through a map on top of {file_before}"
        );
        let heap_peak = peaks.anonymous.unwrap_or(0);
        assert!(
            heap_peak < heap_before + (16 << 20),
            "heap peak {heap_peak} on top of {heap_before}: the mapped pages are not heap"
        );
    }

    #[test]
    fn the_sampler_sees_an_allocation_it_outlives() {
        let _alone = MEASURING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (Some(before), _) = anonymous_and_file_bytes() else {
            return; // Not Linux: nothing to check.
        };
        let sampler = HeapPeakSampler::start();
        let block = vec![1u8; 64 << 20];
        std::thread::sleep(SAMPLE_INTERVAL * 4);
        let peak = sampler.finish().anonymous.unwrap_or(0);
        assert!(std::hint::black_box(block).len() == 64 << 20);
        assert!(
            peak >= before + (48 << 20),
            "peak {peak} after touching 64 MiB on top of {before}"
        );
    }
}
