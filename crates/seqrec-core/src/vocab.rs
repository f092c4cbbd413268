//! The mapping from dense ids back to the ids of the source file.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cmp::Ordering;

/// Original keys of users or items, indexed by dense id and sorted ascending
/// (numerically for integers, byte-wise for text, field by field for pairs),
/// which is exactly the numbering rule of specification §2.3. Lookups are binary searches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Vocabulary {
    /// Numeric ids (MovieLens user and movie ids).
    Integer(Vec<i64>),
    /// Text ids (LastFM `user_000001`, generic tables with text keys).
    Text(Vec<String>),
    /// A pair of text fields: LastFM's (artist name, track name) item key.
    Pair(Vec<(String, String)>),
}

/// One original key, borrowed from a [`Vocabulary`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginalKey<'a> {
    Integer(i64),
    Text(&'a str),
    Pair(&'a str, &'a str),
}

impl Vocabulary {
    /// Number of keys.
    pub fn len(&self) -> usize {
        match self {
            Vocabulary::Integer(v) => v.len(),
            Vocabulary::Text(v) => v.len(),
            Vocabulary::Pair(v) => v.len(),
        }
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The original key of dense id `index`.
    pub fn key(&self, index: usize) -> Option<OriginalKey<'_>> {
        match self {
            Vocabulary::Integer(v) => v.get(index).map(|&k| OriginalKey::Integer(k)),
            Vocabulary::Text(v) => v.get(index).map(|k| OriginalKey::Text(k)),
            Vocabulary::Pair(v) => v.get(index).map(|(a, b)| OriginalKey::Pair(a, b)),
        }
    }

    /// The original key of dense id `index` as text (a pair is joined by " - ").
    pub fn label(&self, index: usize) -> Option<Cow<'_, str>> {
        self.key(index).map(|k| match k {
            OriginalKey::Integer(k) => Cow::Owned(k.to_string()),
            OriginalKey::Text(k) => Cow::Borrowed(k),
            OriginalKey::Pair(a, b) => Cow::Owned(format!("{a} - {b}")),
        })
    }

    /// The dense id of an original key written as text (`"123"`, `"user_000001"`,
    /// or for pairs `"artist\ttrack"`).
    pub fn find(&self, text: &str) -> Option<usize> {
        match self {
            Vocabulary::Integer(v) => {
                let key: i64 = text.trim().parse().ok()?;
                v.binary_search(&key).ok()
            }
            Vocabulary::Text(v) => v.binary_search_by(|k| k.as_str().cmp(text)).ok(),
            Vocabulary::Pair(v) => {
                let (a, b) = text.split_once('\t')?;
                v.binary_search_by(|(x, y)| cmp_pair((x, y), (a, b))).ok()
            }
        }
    }

    /// Keeps only the keys whose dense id is listed in `kept` (ascending), so
    /// the order, and with it the numbering rule, is preserved.
    pub fn retain_indices(&self, kept: &[u32]) -> Vocabulary {
        fn pick<T: Clone>(v: &[T], kept: &[u32]) -> Vec<T> {
            kept.iter().map(|&i| v[i as usize].clone()).collect()
        }
        match self {
            Vocabulary::Integer(v) => Vocabulary::Integer(pick(v, kept)),
            Vocabulary::Text(v) => Vocabulary::Text(pick(v, kept)),
            Vocabulary::Pair(v) => Vocabulary::Pair(pick(v, kept)),
        }
    }

    /// Whether the keys are strictly ascending, the invariant every constructor keeps.
    pub fn is_strictly_ascending(&self) -> bool {
        match self {
            Vocabulary::Integer(v) => v.windows(2).all(|w| w[0] < w[1]),
            Vocabulary::Text(v) => v.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()),
            Vocabulary::Pair(v) => v
                .windows(2)
                .all(|w| cmp_pair((&w[0].0, &w[0].1), (&w[1].0, &w[1].1)) == Ordering::Less),
        }
    }
}

/// Byte-wise order of (artist, track) pairs, field by field.
pub fn cmp_pair(a: (&str, &str), b: (&str, &str)) -> Ordering {
    a.0.as_bytes()
        .cmp(b.0.as_bytes())
        .then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_is_the_inverse_of_label() {
        let v = Vocabulary::Integer(vec![3, 10, 200]);
        assert_eq!(v.find("10"), Some(1));
        assert_eq!(v.label(2).as_deref(), Some("200"));
        assert_eq!(v.find("11"), None);
        let p = Vocabulary::Pair(vec![("A".into(), "x".into()), ("AB".into(), "a".into())]);
        assert!(p.is_strictly_ascending());
        assert_eq!(p.find("AB\ta"), Some(1));
        assert_eq!(p.label(0).as_deref(), Some("A - x"));
    }

    #[test]
    fn pairs_compare_field_by_field_not_as_joined_text() {
        // Joined with a space, "A B"+"c" and "A"+"B c" would be equal text.
        assert_eq!(cmp_pair(("A", "B c"), ("A B", "c")), Ordering::Less);
    }

    #[test]
    fn retain_keeps_order() {
        let v = Vocabulary::Text(vec!["a".into(), "b".into(), "c".into()]);
        assert_eq!(
            v.retain_indices(&[0, 2]),
            Vocabulary::Text(vec!["a".into(), "c".into()])
        );
    }
}
