//! What the raft commands share: a runtime to run them on, this program's path (to start
//! nodes with) and a work directory for the nodes' databases. A leaf.

use std::path::{Path, PathBuf};

use crate::cli::CliError;

/// Runs `future` on a small runtime of its own.
pub(super) fn block_on<F: std::future::Future<Output = Result<(), CliError>>>(
    future: F,
) -> Result<(), CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| CliError::Failed(format!("cannot start the async runtime: {error}")))?
        .block_on(future)
}

/// A directory for the nodes' databases: the caller's, or a fresh temporary one removed when
/// dropped.
pub(super) struct WorkDirectory {
    path: PathBuf,
    temporary: bool,
}

impl WorkDirectory {
    pub(super) fn create(dir: Option<&Path>, what: &str) -> Result<WorkDirectory, CliError> {
        let (path, temporary) = match dir {
            Some(dir) => (dir.to_path_buf(), false),
            None => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |elapsed| elapsed.subsec_nanos());
                let name = format!("shale-{what}-{}-{nanos}", std::process::id());
                (std::env::temp_dir().join(name), true)
            }
        };
        std::fs::create_dir_all(&path).map_err(|error| {
            CliError::Failed(format!("cannot create {}: {error}", path.display()))
        })?;
        Ok(WorkDirectory { path, temporary })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDirectory {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// This program's own path, to start nodes with.
pub(super) fn this_program() -> Result<PathBuf, CliError> {
    std::env::current_exe()
        .map_err(|error| CliError::Failed(format!("cannot find the shale program: {error}")))
}
