//! Results of other tools (RecBole, GRU4Rec, session-rec, ...) measured by
//! exactly the same evaluator: a file of ranked lists or score rows for the
//! exported split becomes a [`Scorer`].
//!
//! Format (CSV with a header; see `docs/book/src/evaluation.md`): one line per
//! evaluated event, keyed by `user_index` and `position` (the event's index
//! in the user's full sequence, both as written by `seqrec data export`),
//! and either
//! - `items`: the recommended `item_index`es, best first, separated by
//!   spaces (a top-N list; unlisted items tie below every listed one), or
//! - `scores`: one score per catalogue item, in `item_index` order,
//!   separated by spaces.

use crate::EvalError;
use seqrec_core::{Query, ScoreError, Scorer};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// What each line of the file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutsideKind {
    RankedItems,
    Scores,
}

/// Precomputed rankings or scores read from a file.
#[derive(Debug)]
pub struct OutsideScores {
    name: String,
    kind: OutsideKind,
    catalogue: usize,
    rows: BTreeMap<(u32, u32), Vec<f32>>,
    /// Longest ranked list (0 for score rows).
    pub list_length: usize,
}

impl OutsideScores {
    /// Reads `path` for a catalogue of `catalogue` items.
    pub fn read(path: &Path, catalogue: usize) -> Result<Self, EvalError> {
        let parse = |line: usize, message: String| EvalError::Parse {
            path: path.to_path_buf(),
            line,
            message,
        };
        let file = std::fs::File::open(path).map_err(|source| EvalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut lines = BufReader::new(file).lines().enumerate();
        let header = match lines.next() {
            Some((_, Ok(h))) => h,
            Some((_, Err(source))) => {
                return Err(EvalError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
            None => return Err(parse(1, "empty file".into())),
        };
        let kind = match header.trim().split(',').map(str::trim).collect::<Vec<_>>()[..] {
            ["user_index", "position", "items"] => OutsideKind::RankedItems,
            ["user_index", "position", "scores"] => OutsideKind::Scores,
            _ => {
                return Err(parse(
                    1,
                    format!(
                        "expected the header `user_index,position,items` or `user_index,position,scores`, found `{header}`"
                    ),
                ));
            }
        };
        let mut rows = BTreeMap::new();
        let mut list_length = 0;
        for (i, line) in lines {
            let line_no = i + 1;
            let line = line.map_err(|source| EvalError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.splitn(3, ',').collect();
            let [user, position, values] = fields[..] else {
                return Err(parse(
                    line_no,
                    format!("expected 3 comma-separated fields, found {}", fields.len()),
                ));
            };
            let user: u32 = user
                .trim()
                .parse()
                .map_err(|_| parse(line_no, format!("user_index `{user}` is not a number")))?;
            let position: u32 = position
                .trim()
                .parse()
                .map_err(|_| parse(line_no, format!("position `{position}` is not a number")))?;
            let row = match kind {
                OutsideKind::RankedItems => {
                    let mut row = vec![0f32; catalogue];
                    let items: Vec<&str> = values.split_whitespace().collect();
                    list_length = list_length.max(items.len());
                    for (rank, item) in items.iter().enumerate() {
                        let item: usize =
                            item.parse()
                                .ok()
                                .filter(|&i| i < catalogue)
                                .ok_or_else(|| {
                                    parse(
                                        line_no,
                                        format!(
                                            "item `{item}` is not an item_index below {catalogue}"
                                        ),
                                    )
                                })?;
                        if row[item] != 0.0 {
                            return Err(parse(line_no, format!("item {item} is listed twice")));
                        }
                        row[item] = (items.len() - rank) as f32;
                    }
                    row
                }
                OutsideKind::Scores => {
                    let row: Vec<f32> = values
                        .split_whitespace()
                        .map(|s| {
                            s.parse::<f32>()
                                .map_err(|_| parse(line_no, format!("score `{s}` is not a number")))
                        })
                        .collect::<Result<_, _>>()?;
                    if row.len() != catalogue {
                        return Err(parse(
                            line_no,
                            format!("expected {catalogue} scores, found {}", row.len()),
                        ));
                    }
                    row
                }
            };
            if rows.insert((user, position), row).is_some() {
                return Err(parse(
                    line_no,
                    format!("a second line for user_index {user}, position {position}"),
                ));
            }
        }
        Ok(OutsideScores {
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "outside".into()),
            kind,
            catalogue,
            rows,
            list_length,
        })
    }

    /// Whether the file held ranked lists or score rows.
    pub fn kind(&self) -> OutsideKind {
        self.kind
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the outside file has no line for user_index {user}, position {position}")]
struct MissingRow {
    user: u32,
    position: usize,
}

impl Scorer for OutsideScores {
    fn name(&self) -> &str {
        &self.name
    }

    fn catalogue_size(&self) -> usize {
        self.catalogue
    }

    fn score(&self, queries: &[Query<'_>], scores: &mut [f32]) -> Result<(), ScoreError> {
        for (q, out) in queries.iter().zip(scores.chunks_exact_mut(self.catalogue)) {
            let position = q.history.len();
            let row = self
                .rows
                .get(&(q.user.0, position as u32))
                .ok_or(MissingRow {
                    user: q.user.0,
                    position,
                })?;
            out.copy_from_slice(row);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EvalConfig, evaluate};
    use seqrec_core::{ItemId, Part, Split, SplitConfig, UserSequences};

    /// Two users, 10 events each over items 0..=4 (all in training); the
    /// test events are at position 9.
    fn split() -> Split {
        let rows = [
            vec![0, 1, 2, 3, 4, 0, 1, 2, 3, 4],
            vec![4, 3, 2, 1, 0, 4, 3, 2, 1, 0],
        ];
        let seqs = UserSequences::from_users(
            rows.iter()
                .map(|r| (r.iter().map(|&i| ItemId(i)).collect(), (0..10).collect())),
        );
        Split::compute(&seqs, 5, &SplitConfig::default())
            .unwrap()
            .split
    }

    fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tool.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn ranked_lists_are_measured_by_the_evaluator() {
        // User 0's target is item 4: listed second. User 1's target is item
        // 0: not in its top-2 list, so it ties with every unlisted item and
        // gets the last rank under the pessimistic rule.
        let (_dir, path) = file("user_index,position,items\n0,9,1 4\n1,9,2 3\n");
        let scores = OutsideScores::read(&path, 5).unwrap();
        assert_eq!(
            (scores.kind(), scores.list_length),
            (OutsideKind::RankedItems, 2)
        );
        let config = EvalConfig {
            cutoffs: vec![1, 2, 5],
            ..Default::default()
        };
        let r = evaluate(&scores, &split(), Part::Test, &config, None).unwrap();
        assert_eq!(r.get("recall@1"), Some(0.0));
        assert_eq!(r.get("recall@2"), Some(0.5));
        assert_eq!(r.get("mrr@5"), Some((0.5 + 0.2) / 2.0));
    }

    #[test]
    fn score_rows_are_measured_by_the_evaluator() {
        let (_dir, path) =
            file("user_index,position,scores\n0,9,0 0 0 0 1\n1,9,0.5 0.1 0.2 0.3 0.4\n");
        let scores = OutsideScores::read(&path, 5).unwrap();
        let r = evaluate(&scores, &split(), Part::Test, &EvalConfig::default(), None).unwrap();
        assert_eq!(r.get("mrr@5"), Some(1.0));
    }

    #[test]
    fn bad_files_name_the_line() {
        for (text, line, needle) in [
            ("user,pos,items\n", 1, "expected the header"),
            ("user_index,position,items\n0,9,1 9\n", 2, "item `9`"),
            ("user_index,position,items\n0,9,1 1\n", 2, "listed twice"),
            (
                "user_index,position,scores\n0,9,1 2\n",
                2,
                "expected 5 scores",
            ),
            (
                "user_index,position,items\n0,9,1\n0,9,2\n",
                3,
                "a second line",
            ),
            ("user_index,position,items\nx,9,1\n", 2, "user_index `x`"),
        ] {
            let (_dir, path) = file(text);
            let err = OutsideScores::read(&path, 5).unwrap_err().to_string();
            assert!(
                err.contains(&format!("tool.csv:{line}:")) && err.contains(needle),
                "{err}"
            );
        }
        // A file without a line for an evaluated event is an error, not a miss.
        let (_dir, path) = file("user_index,position,items\n0,9,4\n");
        let scores = OutsideScores::read(&path, 5).unwrap();
        let err =
            evaluate(&scores, &split(), Part::Test, &EvalConfig::default(), None).unwrap_err();
        assert!(
            err.to_string()
                .contains("no line for user_index 1, position 9"),
            "{err}"
        );
    }
}
