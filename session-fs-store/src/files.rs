//! The blocking file operations every store call is made of, run on tokio's blocking
//! pool (`lib.rs`), never on an executor thread.
//!
//! - **Atomic content.** Every write goes to a temporary file in the same directory,
//!   is flushed to disk (`fsync`), and only then takes the record's name, so a reader
//!   sees the old record or the new one, never half of one.
//! - **Exclusive create.** A new record takes its name with a hard link, which fails
//!   if the name exists: two processes creating one ID cannot both succeed, and the
//!   winner's content is complete the moment it appears.
//! - **Locked changes.** Updates, merges, moves and deletes run under an exclusive
//!   `flock` on the shard's `.lock` file, so "only if present" and "apply these
//!   changes to what is stored now" hold across threads, store instances and
//!   processes sharing the directory. (A React Router process writing the same
//!   directory takes no lock: it writes whole records, last writer wins.)

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// Modes of what the store creates (Unix only; elsewhere the platform's defaults).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Modes {
    pub(crate) dir: u32,
    pub(crate) file: u32,
}

/// The name of each shard's lock file. It never holds a record: record names have no
/// dot.
const LOCK_NAME: &str = ".lock";
/// Temporary files start with this; the sweeper removes those a crash left behind.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// `dir` and its parents, created with `modes.dir` where missing.
pub(crate) fn create_dir(dir: &Path, modes: Modes) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, modes.dir);
    #[cfg(not(unix))]
    let _ = modes;
    builder.create(dir)
}

/// The file's bytes, or `None` if there is no such file.
pub(crate) fn read(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Holds the exclusive lock of a shard until dropped (closing the file releases it).
pub(crate) struct ShardLock(#[allow(dead_code, reason = "held for its lock")] File);

/// Locks `shard` (creating it and its lock file as needed), blocking until no other
/// thread or process holds it.
pub(crate) fn lock(shard: &Path, modes: Modes) -> io::Result<ShardLock> {
    create_dir(shard, modes)?;
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, modes.file);
    let file = options.open(shard.join(LOCK_NAME))?;
    file.lock()?;
    Ok(ShardLock(file))
}

/// Writes `bytes` to a new temporary file beside `path`, flushed to disk.
fn write_temp(path: &Path, bytes: &[u8], modes: Modes) -> io::Result<PathBuf> {
    let dir = path.parent().expect("record paths have a shard directory");
    create_dir(dir, modes)?;
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(io::Error::other)?;
    let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let temp = dir.join(format!("{TEMP_PREFIX}{name}"));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, modes.file);
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match written {
        Ok(()) => Ok(temp),
        Err(error) => {
            let _ = fs::remove_file(&temp);
            Err(error)
        }
    }
}

/// Flushes a directory, so that a name just given or taken survives a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Stores `bytes` under `path` only if nothing is there; `false` if something is.
pub(crate) fn create(path: &Path, bytes: &[u8], modes: Modes) -> io::Result<bool> {
    let temp = write_temp(path, bytes, modes)?;
    let linked = fs::hard_link(&temp, path);
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            sync_dir(path.parent().expect("a shard"))?;
            Ok(true)
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error),
    }
}

/// Stores `bytes` under `path`, replacing what is there and keeping its mode (the
/// caller holds the shard's lock and has checked that it may).
pub(crate) fn replace(path: &Path, bytes: &[u8], modes: Modes) -> io::Result<()> {
    let temp = write_temp(path, bytes, modes)?;
    // The record keeps its mode, as React Router 8 keeps it (a file another program
    // made group-readable stays so).
    #[cfg(unix)]
    if let Ok(old) = fs::metadata(path) {
        if let Err(error) = fs::set_permissions(&temp, old.permissions()) {
            let _ = fs::remove_file(&temp);
            return Err(error);
        }
    }
    if let Err(error) = fs::rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(error);
    }
    sync_dir(path.parent().expect("a shard"))
}

/// Removes `path`, durably (a logout must not come back after a crash); `false` if
/// it was not there.
pub(crate) fn remove(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => {
            sync_dir(path.parent().expect("a shard"))?;
            Ok(true)
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}
