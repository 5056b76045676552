//! Opening an engine of `shale bench` by its [`EngineKind`]: the one place that names the type
//! of every engine of this build (shaledb's always, fjall's with `compare`, RocksDB's with
//! `compare-rocksdb`), so that the engines import the trait and nothing imports them back; and
//! the contract test every engine of the build must pass.

use std::path::Path;

use super::shaledb::ShaleEngine;
use super::{Engine, EngineKind};
use crate::cli::bench::config::BenchConfig;
use crate::cli::error::CliError;

/// Opens (or creates) `kind`'s database in `dir` with the settings of `config`.
pub fn open(
    kind: EngineKind,
    dir: &Path,
    config: &BenchConfig,
) -> Result<Box<dyn Engine>, CliError> {
    match kind {
        EngineKind::Shaledb => Ok(Box::new(ShaleEngine::open(dir, config.db_options())?)),
        #[cfg(feature = "compare")]
        EngineKind::Fjall => Ok(Box::new(super::fjall::FjallEngine::open(dir, config)?)),
        #[cfg(feature = "compare-rocksdb")]
        EngineKind::Rocksdb => Ok(Box::new(super::rocksdb::RocksEngine::open(dir, config)?)),
    }
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "a test fails on the first error, which unwrap shows"
)]
mod tests {
    use super::*;
    use crate::cli::bench::config::default_args;
    use crate::cli::bench::engine::PutBatch;

    fn small_config() -> BenchConfig {
        let mut arguments = default_args().unwrap();
        arguments.write_buffer_size = 64 << 10;
        BenchConfig::from_args(&arguments).unwrap()
    }

    /// What every engine must do for the workloads to measure the right work: unsynced and
    /// synced writes are readable, absent keys are absent, scans start at their key and stop at
    /// their limit, and everything survives settle, close and reopen.
    fn check_contract(kind: EngineKind) {
        let config = small_config();
        let dir = tempfile::tempdir().unwrap();
        let key = |number: u32| format!("{number:08}").into_bytes();
        let engine = open(kind, dir.path(), &config).unwrap();
        assert_eq!(engine.name(), kind.name());
        for number in (0..2_000).step_by(2) {
            engine.put(&key(number), &[7u8; 100]).unwrap();
        }
        let mut batch = PutBatch::default();
        for number in (2_000..2_100).step_by(2) {
            batch.put(&key(number), &[8u8; 50]);
        }
        engine.write(&batch, true).unwrap();
        engine.settle().unwrap();
        assert_eq!(engine.get(&key(10)).unwrap(), Some(100), "{}", kind.name());
        assert_eq!(
            engine.get(&key(2_050)).unwrap(),
            Some(50),
            "{}",
            kind.name()
        );
        assert_eq!(engine.get(&key(11)).unwrap(), None, "{}", kind.name());
        let keys = vec![key(0), key(1), key(1_998), key(2_098), key(5_000)];
        assert_eq!(engine.multi_get(&keys).unwrap(), 3, "{}", kind.name());
        assert_eq!(
            engine.scan(&key(1), 3).unwrap(),
            (3, 3 * 108),
            "{}",
            kind.name()
        );
        assert_eq!(
            engine.scan(&key(2_097), 10).unwrap(),
            (1, 58),
            "{}",
            kind.name()
        );
        engine.close().unwrap();
        let engine = open(kind, dir.path(), &config).unwrap();
        assert_eq!(
            engine.get(&key(2_098)).unwrap(),
            Some(50),
            "{}",
            kind.name()
        );
        assert_eq!(
            engine.scan(&key(0), 5_000).unwrap().0,
            1_050,
            "{}",
            kind.name()
        );
        engine.close().unwrap();
    }

    #[test]
    fn every_engine_of_this_build_keeps_the_contract() {
        for kind in EngineKind::all() {
            check_contract(kind);
        }
    }
}
