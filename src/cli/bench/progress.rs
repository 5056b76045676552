//! Progress bars of `shale bench` (indicatif), on standard error: a bar for each timed loop and
//! a spinner for untimed waits (flush and compaction). Hidden when standard error is not a
//! terminal or with `--json`, so that logs and pipes stay clean.
//!
//! Cost in the timed loops: a caller reports every `STEP` operations, which is one relaxed
//! atomic add; indicatif redraws at most 20 times a second, from whichever call comes due.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::config::BenchConfig;

/// Operations between two updates of a bar.
const STEP: u64 = 1024;

/// A progress bar or spinner, possibly hidden.
pub struct Progress {
    bar: ProgressBar,
}

fn visible(config: &BenchConfig) -> bool {
    !config.json && std::io::stderr().is_terminal()
}

impl Progress {
    /// A bar for `total` operations of the workload `label`.
    pub fn bar(config: &BenchConfig, label: &str, total: u64) -> Progress {
        if !visible(config) {
            return Progress {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{prefix:>22} [{bar:40}] {pos}/{len} {eta}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label.to_string());
        Progress { bar }
    }

    /// A spinner for an untimed wait named `label`.
    pub fn spinner(config: &BenchConfig, label: &str) -> Progress {
        if !visible(config) {
            return Progress {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{prefix:>22} {spinner} {elapsed}") {
            bar.set_style(style);
        }
        bar.set_prefix(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        Progress { bar }
    }

    /// Reports that the caller has done `done` operations (counted by that caller alone, so
    /// that several threads can share one bar).
    pub fn step(&self, done: u64) {
        if done.is_multiple_of(STEP) && done > 0 {
            self.bar.inc(STEP);
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}
