//! One module per command group.

pub mod data;
pub mod evaluate;
pub mod reproduce;
pub mod train;

use std::path::PathBuf;

/// Settings every command shares.
#[derive(Debug)]
pub struct Common {
    pub data_dir: PathBuf,
    pub cache_dir: Option<PathBuf>,
}

/// The cache directory: the flag or $SEQREC_CACHE_DIR, else the user's cache dir.
pub fn cache_dir(flag: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = flag {
        return dir;
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("seqrec")
}
