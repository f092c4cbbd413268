//! Item titles for showing recommendations: MovieLens ships them beside the
//! ratings (`movies.csv`, `u.item`, `movies.dat`). Keys are the original
//! item ids as text, as [`Vocabulary::label`](seqrec_core::Vocabulary::label)
//! writes them.

use crate::{DataError, DatasetName, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Original item id → title.
pub type Titles = BTreeMap<String, String>;

/// The titles file of a dataset under `data_dir`, if the dataset has one.
pub fn titles_path(name: &DatasetName, data_dir: &Path) -> Option<PathBuf> {
    let relative = match name {
        DatasetName::MlLatestSmall => "ml-latest-small/movies.csv",
        DatasetName::Ml100k => "ml-100k/u.item",
        DatasetName::Ml10m => "ml-10M100K/movies.dat",
        _ => return None,
    };
    Some(data_dir.join(relative))
}

/// Reads the titles of `name`; `Ok(None)` when the dataset has no titles
/// file or it is absent (titles are a nicety, not a requirement).
pub fn read_titles(name: &DatasetName, data_dir: &Path) -> Result<Option<Titles>> {
    let Some(path) = titles_path(name, data_dir) else {
        return Ok(None);
    };
    if !path.exists() {
        tracing::warn!(path = %path.display(), "no titles file; showing item ids only");
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(|e| DataError::io(&path, e))?;
    let titles = match name {
        // u.item is Latin-1: every byte is the code point of its character.
        DatasetName::Ml100k => parse_separated(&path, &latin1(&bytes), "|")?,
        DatasetName::Ml10m => parse_separated(&path, &utf8(&path, bytes)?, "::")?,
        _ => parse_movies_csv(&path, &utf8(&path, bytes)?)?,
    };
    Ok(Some(titles))
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn utf8(path: &Path, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| DataError::Table {
        path: path.to_path_buf(),
        message: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
    })
}

/// `id<sep>title<sep>...` per line (`u.item`, `movies.dat`).
fn parse_separated(path: &Path, text: &str, separator: &str) -> Result<Titles> {
    let mut titles = Titles::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split(separator);
        match (fields.next(), fields.next()) {
            (Some(id), Some(title)) if !id.trim().is_empty() => {
                titles.insert(id.trim().to_owned(), title.to_owned());
            }
            _ => {
                return Err(DataError::parse(
                    path,
                    index + 1,
                    format!("expected `id{separator}title{separator}...`"),
                ));
            }
        }
    }
    Ok(titles)
}

/// `movieId,title,genres` with RFC 4180 quoting of the title.
fn parse_movies_csv(path: &Path, text: &str) -> Result<Titles> {
    let mut titles = Titles::new();
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header))
            if header
                .trim_start_matches('\u{feff}')
                .starts_with("movieId,title") => {}
        _ => {
            return Err(DataError::parse(
                path,
                1,
                "expected the header `movieId,title,genres`",
            ));
        }
    }
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let bad = || DataError::parse(path, index + 1, "expected `movieId,title,genres`");
        let (id, rest) = line.split_once(',').ok_or_else(bad)?;
        let title = if let Some(quoted) = rest.strip_prefix('"') {
            // The title runs to the first quote not doubled.
            let mut title = String::new();
            let mut chars = quoted.chars().peekable();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        title.push('"');
                    } else {
                        closed = true;
                        break;
                    }
                } else {
                    title.push(c);
                }
            }
            if !closed {
                return Err(bad());
            }
            title
        } else {
            rest.rsplit_once(',').map_or(rest, |(t, _)| t).to_owned()
        };
        titles.insert(id.trim().to_owned(), title);
    }
    Ok(titles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movies_csv_with_quoted_titles() {
        let text = "movieId,title,genres\n1,Toy Story (1995),Comedy\n11,\"American President, The (1995)\",Drama|Romance\n12,\"Say \"\"Hi\"\" (2000)\",Comedy\n";
        let titles = parse_movies_csv(Path::new("movies.csv"), text).unwrap_or_default();
        assert_eq!(
            titles.get("1").map(String::as_str),
            Some("Toy Story (1995)")
        );
        assert_eq!(
            titles.get("11").map(String::as_str),
            Some("American President, The (1995)")
        );
        assert_eq!(
            titles.get("12").map(String::as_str),
            Some("Say \"Hi\" (2000)")
        );
    }

    #[test]
    fn u_item_is_latin1_and_bad_lines_name_the_line() {
        let bytes = b"1|Toy Story (1995)|01-Jan-1995\n2|Caf\xe9 (1990)|x\n";
        let titles = parse_separated(Path::new("u.item"), &latin1(bytes), "|").unwrap_or_default();
        assert_eq!(titles.get("2").map(String::as_str), Some("Café (1990)"));
        let error = parse_separated(Path::new("movies.dat"), "1::A::x\nbroken\n", "::")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("movies.dat:2"), "{error}");
        let error = parse_movies_csv(Path::new("m.csv"), "movieId,title,genres\n5,\"open,x\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("m.csv:2"), "{error}");
    }
}
