//! The process's resident memory, for `shale bench --compare`: the current size (`VmRSS`) and
//! the peak (`VmHWM`) from `/proc/self/status`, and a reset of the peak to the current size
//! (writing `5` to `/proc/self/clear_refs`, Linux 4.0 and later). Elsewhere, or when `/proc`
//! refuses, every figure is `None` and the report says "n/a".
//!
//! What a peak means: both engines live in one process, so the runner resets the peak before
//! each engine's turn and reads it after, with only that engine open. The figure still
//! includes the benchmark's own memory (its value pool, a few MiB) and whatever the allocator
//! kept from earlier turns without returning it to the system.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_at_least_the_current_size_after_a_reset() {
        let (Some(_), true) = (resident_bytes(), reset_peak()) else {
            return; // Not Linux, or /proc refuses: nothing to check.
        };
        let block = vec![1u8; 32 << 20];
        let peak = peak_resident_bytes().unwrap_or(0);
        assert!(peak >= 32 << 20, "peak {peak} after touching 32 MiB");
        assert!(std::hint::black_box(block).len() == 32 << 20);
    }
}
