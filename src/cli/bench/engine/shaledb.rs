//! shaledb as an [`Engine`] of `shale bench`: the engine every benchmark runs, alone or beside
//! its peers of `--compare`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use shaledb::{Db, Options, WriteBatch, WriteOptions};

use super::{Engine, EngineKind, PutBatch};
use crate::cli::error::CliError;

/// shaledb as an [`Engine`]: a thin layer over [`Db`], sharing it with the caller (the
/// single-engine benchmark keeps its own handle for statistics and amplification).
pub struct ShaleEngine {
    db: Arc<Db>,
}

impl ShaleEngine {
    /// Opens the database in `dir` with `options`.
    pub fn open(dir: &Path, options: Options) -> Result<ShaleEngine, CliError> {
        Ok(ShaleEngine {
            db: Arc::new(Db::open(dir, options)?),
        })
    }

    /// Wraps an open database.
    pub fn new(db: Arc<Db>) -> ShaleEngine {
        ShaleEngine { db }
    }
}

impl Engine for ShaleEngine {
    fn name(&self) -> &'static str {
        EngineKind::Shaledb.name()
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), CliError> {
        Ok(self.db.put(key, value)?)
    }

    fn write(&self, batch: &PutBatch, sync: bool) -> Result<(), CliError> {
        let mut write_batch = WriteBatch::new();
        for (key, value) in batch.iter() {
            write_batch.put(key, value)?;
        }
        let options = if sync {
            WriteOptions::SYNC
        } else {
            WriteOptions::NO_SYNC
        };
        Ok(self.db.write(write_batch, &options)?)
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>, CliError> {
        Ok(self.db.get(key)?.map(|value| black_box(value).len()))
    }

    fn multi_get(&self, keys: &[Vec<u8>]) -> Result<u64, CliError> {
        let values = black_box(self.db.multi_get(keys)?);
        Ok(values.iter().filter(|value| value.is_some()).count() as u64)
    }

    fn scan(&self, from: &[u8], limit: usize) -> Result<(u64, u64), CliError> {
        let (mut entries, mut bytes) = (0, 0);
        for item in self.db.range(from..).take(limit) {
            let (key, value) = item?;
            entries += 1;
            bytes += (black_box(key).len() + black_box(value).len()) as u64;
        }
        Ok((entries, bytes))
    }

    fn settle(&self) -> Result<(), CliError> {
        self.db.flush()?;
        Ok(self.db.wait_for_compaction()?)
    }

    fn close(self: Box<Self>) -> Result<(), CliError> {
        Ok(self.db.close()?)
    }
}
