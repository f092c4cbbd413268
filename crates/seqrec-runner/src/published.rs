//! The published sizes of the downloadable datasets (`[dataset.published]`
//! in `datasets/manifest.toml`), so that a plan made before the download
//! can still estimate each GRU's memory.

use crate::RunnerError;
use serde::Deserialize;
use std::path::Path;

/// Users, items and events as published (or estimated, where `estimated`
/// says which and why).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PublishedSize {
    pub users: usize,
    pub items: usize,
    pub events: usize,
    pub estimated: Option<String>,
}

/// The runner's view of the manifest: names and published sizes only (the
/// download fields are `cargo xtask fetch-data`'s, which checks them all).
#[derive(Debug, Deserialize)]
struct Manifest {
    dataset: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    name: String,
    published: Option<PublishedSize>,
}

/// The published size of `dataset` in the manifest at `path`; `None` where
/// the manifest or the entry does not exist.
pub fn published_size(path: &Path, dataset: &str) -> Result<Option<PublishedSize>, RunnerError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RunnerError::io(path, e)),
    };
    let manifest: Manifest = toml::from_str(&text)
        .map_err(|e| RunnerError::Config(format!("{}: {e}", path.display())))?;
    Ok(manifest
        .dataset
        .into_iter()
        .find(|e| e.name == dataset)
        .and_then(|e| e.published))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_manifest_has_the_papers_sizes() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/manifest.toml");
        let ml10m = published_size(&path, "ml-10m")
            .expect("read")
            .expect("ml-10m");
        assert_eq!(
            (ml10m.users, ml10m.items, ml10m.events),
            (69_878, 10_677, 10_000_054)
        );
        assert_eq!(ml10m.estimated, None);
        let lastfm = published_size(&path, "lastfm-1k")
            .expect("read")
            .expect("lastfm");
        assert_eq!(lastfm.users, 992);
        assert!(
            lastfm
                .estimated
                .is_some_and(|e| e.contains("not published"))
        );
        assert_eq!(
            published_size(&path, "synthetic-lastfm").expect("read"),
            None
        );
        assert_eq!(
            published_size(Path::new("/nonexistent/m.toml"), "ml-10m").expect("read"),
            None
        );
    }
}
