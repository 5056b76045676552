//! [`Pressure`]: the stall forecast. From the level-0 file count, the frozen memtables, the
//! compaction debt and the write rate it estimates how long until writes are slowed down or
//! stopped, so that an application can shed load before a stall instead of discovering it.
//! A pure function of its inputs; the engine gathers them (`Db::pressure`).

use std::time::Duration;

/// What [`Pressure::estimate`] works from.
pub(crate) struct PressureInputs {
    pub compaction_debt_bytes: u64,
    pub level0_files: usize,
    pub level0_slowdown_trigger: usize,
    pub level0_stop_trigger: usize,
    pub immutable_memtables: usize,
    pub max_immutable_memtables: usize,
    pub write_buffer_size: u64,
    pub write_rate_bytes_per_second: f64,
}

/// How close writes are to being slowed down or stopped, from `Db::pressure`: an application
/// can shed or defer load before a stall instead of discovering it.
///
/// The time estimates assume the current write rate goes on and compaction does not catch up:
/// every `write_buffer_size` bytes written become one more level-0 file. They are `None` when
/// nothing is being written (no stall is coming) and zero when the condition already holds.
///
/// ```
/// use std::time::Duration;
/// use shaledb::{Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// let pressure = db.pressure();
/// // A shedding rule a service might use: defer background writes when a stall is near.
/// let stall_near = pressure
///     .time_until_stop
///     .is_some_and(|left| left < Duration::from_secs(5));
/// assert!(!stall_near);
/// assert_eq!(pressure.level0_files, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Pressure {
    /// Bytes compaction must move down before every level is within its target: all of level 0
    /// once it is at its compaction trigger, and the excess of levels 1 and 2 over their targets.
    pub compaction_debt_bytes: u64,
    /// Level-0 files now.
    pub level0_files: usize,
    /// Level-0 files still to come before write groups are delayed (0: they are).
    pub level0_files_until_slowdown: usize,
    /// Level-0 files still to come before writes stop (0: they have).
    pub level0_files_until_stop: usize,
    /// Frozen memtables waiting for their flush.
    pub immutable_memtables: usize,
    /// Frozen memtables still allowed before writers wait for a flush.
    pub immutable_memtables_until_stall: usize,
    /// Recent write rate, in bytes of batches per second.
    pub write_rate_bytes_per_second: f64,
    /// Estimated time until write groups are delayed.
    pub time_until_slowdown: Option<Duration>,
    /// Estimated time until writes stop (level 0 at its stop trigger, or every frozen memtable
    /// slot taken).
    pub time_until_stop: Option<Duration>,
}

impl Pressure {
    pub(crate) fn estimate(inputs: PressureInputs) -> Pressure {
        let until_slowdown = inputs
            .level0_slowdown_trigger
            .saturating_sub(inputs.level0_files);
        let until_stop = inputs
            .level0_stop_trigger
            .saturating_sub(inputs.level0_files);
        let memtables_left = inputs
            .max_immutable_memtables
            .saturating_sub(inputs.immutable_memtables);
        let rate = inputs.write_rate_bytes_per_second;
        let time_for = |memtables: usize| -> Option<Duration> {
            if memtables == 0 {
                return Some(Duration::ZERO);
            }
            (rate > 0.0).then(|| {
                Duration::from_secs_f64(memtables as f64 * inputs.write_buffer_size as f64 / rate)
            })
        };
        let stop_by_level0 = time_for(until_stop);
        let stop_by_memtables = time_for(memtables_left);
        let time_until_stop = match (stop_by_level0, stop_by_memtables) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Pressure {
            compaction_debt_bytes: inputs.compaction_debt_bytes,
            level0_files: inputs.level0_files,
            level0_files_until_slowdown: until_slowdown,
            level0_files_until_stop: until_stop,
            immutable_memtables: inputs.immutable_memtables,
            immutable_memtables_until_stall: memtables_left,
            write_rate_bytes_per_second: rate,
            time_until_slowdown: time_for(until_slowdown),
            time_until_stop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(level0_files: usize, rate: f64) -> PressureInputs {
        PressureInputs {
            compaction_debt_bytes: 0,
            level0_files,
            level0_slowdown_trigger: 20,
            level0_stop_trigger: 36,
            immutable_memtables: 0,
            max_immutable_memtables: 2,
            write_buffer_size: 1 << 20,
            write_rate_bytes_per_second: rate,
        }
    }

    #[test]
    fn pressure_estimates_follow_the_write_rate() {
        // 10 files to go at one 1 MiB memtable per second: 10 s to the slowdown; the two free
        // memtable slots come first for the stop.
        let pressure = Pressure::estimate(inputs(10, f64::from(1 << 20)));
        assert_eq!(pressure.level0_files_until_slowdown, 10);
        assert_eq!(pressure.level0_files_until_stop, 26);
        assert_eq!(pressure.time_until_slowdown, Some(Duration::from_secs(10)));
        assert_eq!(pressure.time_until_stop, Some(Duration::from_secs(2)));
        // Nothing written: no stall is coming.
        let idle = Pressure::estimate(inputs(10, 0.0));
        assert_eq!(idle.time_until_slowdown, None);
        // Past the slowdown trigger: already slowed.
        let slowed = Pressure::estimate(inputs(25, 0.0));
        assert_eq!(slowed.level0_files_until_slowdown, 0);
        assert_eq!(slowed.time_until_slowdown, Some(Duration::ZERO));
    }
}
