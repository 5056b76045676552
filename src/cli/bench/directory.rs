//! The directories `shale bench` writes in: [`BenchDirectory`], the caller's empty `--db`
//! (kept) or a fresh temporary one (removed), and [`clear_directory`], which empties the
//! benchmark's own database directory before a fill. A leaf: it imports only the error type.

use std::path::{Path, PathBuf};

use crate::cli::error::CliError;

/// Removes everything in `dir`, the benchmark's own database directory (checked empty or new
/// when the benchmark started, so nothing else lives there).
pub(super) fn clear_directory(dir: &Path) -> Result<(), CliError> {
    let failed = |error: std::io::Error| {
        CliError::Failed(format!("cannot clear {}: {error}", dir.display()))
    };
    for entry in std::fs::read_dir(dir).map_err(failed)? {
        let path = entry.map_err(failed)?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).map_err(failed)?;
        } else {
            std::fs::remove_file(&path).map_err(failed)?;
        }
    }
    Ok(())
}

/// A directory the benchmark writes in: the caller's (kept) or a temporary one (removed).
pub(super) struct BenchDirectory {
    path: PathBuf,
    temporary: bool,
}

impl BenchDirectory {
    /// Uses `dir`, which must not exist or be empty (the benchmark must not overwrite a
    /// database), or creates a fresh directory under the system's temporary directory.
    pub(super) fn create(dir: Option<&Path>) -> Result<BenchDirectory, CliError> {
        let failed = |path: &Path, error: std::io::Error| {
            CliError::Failed(format!(
                "cannot use {} for the benchmark: {error}",
                path.display()
            ))
        };
        if let Some(path) = dir {
            std::fs::create_dir_all(path).map_err(|error| failed(path, error))?;
            let mut entries = std::fs::read_dir(path).map_err(|error| failed(path, error))?;
            if entries.next().is_some() {
                return Err(CliError::Usage(format!(
                    "--db {} is not empty; the benchmark only writes into an empty or new \
                     directory",
                    path.display()
                )));
            }
            return Ok(BenchDirectory {
                path: path.to_path_buf(),
                temporary: false,
            });
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let name = format!("shale-bench-{}-{nanos}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).map_err(|error| failed(&path, error))?;
        Ok(BenchDirectory {
            path,
            temporary: true,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Removes a temporary directory and everything the benchmark wrote in it.
    pub(super) fn remove(mut self) -> Result<(), CliError> {
        if !self.temporary {
            return Ok(());
        }
        self.temporary = false;
        std::fs::remove_dir_all(&self.path).map_err(|error| {
            CliError::Failed(format!("cannot remove {}: {error}", self.path.display()))
        })
    }
}

impl Drop for BenchDirectory {
    /// Removes a temporary directory left behind by an early return; errors cannot be reported
    /// from here, and a leftover directory in the temporary directory is harmless.
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
