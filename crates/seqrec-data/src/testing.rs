//! For tests that need the real MovieLens files (any crate of the
//! workspace): where they are, and the project's rule when they are not.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The data root holding `ml-100k/u.data` and `ml-latest-small/ratings.csv`,
/// by the CLI's rule: `$SEQREC_DATA_DIR` (a relative path is taken from the
/// workspace root, since cargo runs tests from each package's directory),
/// else `datasets/` in the workspace (where `cargo xtask fetch-data` puts
/// the files).
///
/// Without the files this prints a loud `REAL-DATA TEST NOT RUN` notice
/// and returns `None`; under CI (`CI` or `SEQREC_REQUIRE_DATA` set) it
/// panics instead, so missing data fails the run.
pub fn movielens_data_dir() -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = match find_movielens(&workspace, std::env::var_os("SEQREC_DATA_DIR")) {
        Ok(dir) => return Some(dir),
        Err(dir) => dir,
    };
    let message = format!(
        "REAL-DATA TEST NOT RUN: no MovieLens data under {}; set SEQREC_DATA_DIR",
        dir.display()
    );
    if std::env::var_os("CI").is_some() || std::env::var_os("SEQREC_REQUIRE_DATA").is_some() {
        panic!("{message}");
    }
    // Straight to the stderr handle: the test harness captures `eprintln!`
    // of passing tests, and this notice must be seen.
    let _ = std::io::stderr().write_all(format!("\n!!!!!!!! {message} !!!!!!!!\n\n").as_bytes());
    None
}

/// The data root the tests read under `workspace` given the value of
/// `SEQREC_DATA_DIR`: Ok when both small MovieLens sets are there in the
/// layout `cargo xtask fetch-data` unpacks them to, else Err naming where
/// they were looked for.
pub fn find_movielens(
    workspace: &Path,
    data_dir_env: Option<std::ffi::OsString>,
) -> Result<PathBuf, PathBuf> {
    let dir = match data_dir_env.filter(|d| !d.is_empty()) {
        Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
        Some(d) => workspace.join(d),
        None => workspace.join("datasets"),
    };
    if dir.join("ml-100k/u.data").exists() && dir.join("ml-latest-small/ratings.csv").exists() {
        Ok(dir)
    } else {
        Err(dir)
    }
}

/// The keys of a small `synthetic-movielens`-like generator table
/// (`[datasets.options.synthetic]` or `[synthetic]`), for fast runs.
pub fn tiny_synthetic(users: usize, items: usize, events: usize) -> String {
    format!(
        "seed = 3\nusers = {users}\nitems = {items}\nevents = {events}\nmin_events_per_user = 20\n\
         activity_spread = 0.5\ngroup_size = 4\ngenres = 5\ntastes_per_user = 2\n\
         taste_strength = 0.7\ncontinue_run = 0.5\nrepeat = 0.0\npopularity_exponent = 0.9\n\
         same_timestamp = 0.2\nmean_gap_seconds = 3600.0\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After `cargo xtask fetch-data --datasets ml-100k,ml-latest-small`
    /// (which unpacks to `datasets/ml-100k/u.data` and
    /// `datasets/ml-latest-small/ratings.csv`: xtask's fetch tests) the
    /// real-data tests find the files with no `SEQREC_DATA_DIR`; the
    /// variable, relative or absolute, points elsewhere.
    #[test]
    fn the_fetched_layout_is_found_without_the_variable() {
        let workspace = tempfile::tempdir().expect("tempdir");
        let root = workspace.path();
        assert_eq!(find_movielens(root, None), Err(root.join("datasets")));
        for (dir, file) in [("ml-100k", "u.data"), ("ml-latest-small", "ratings.csv")] {
            let dir = root.join("datasets").join(dir);
            std::fs::create_dir_all(&dir).expect("dir");
            std::fs::write(dir.join(file), "x").expect("file");
        }
        assert_eq!(find_movielens(root, None), Ok(root.join("datasets")));
        assert_eq!(
            find_movielens(root, Some("".into())),
            Ok(root.join("datasets"))
        );
        assert_eq!(
            find_movielens(root, Some("elsewhere".into())),
            Err(root.join("elsewhere"))
        );
        let absolute = root.join("datasets");
        assert_eq!(
            find_movielens(Path::new("/nowhere"), Some(absolute.clone().into())),
            Ok(absolute)
        );
    }
}
