//! The rank of a target in one score row (specification §3).

use serde::{Deserialize, Serialize};

/// How items with the same score as the target are counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TieRule {
    /// Ties count against the target: rank = 1 + higher + equal (specification §3).
    /// A scorer that gives every item the same score gets the last rank.
    #[default]
    Pessimistic,
    /// Ties count for the target: rank = 1 + higher. Lets a constant scorer
    /// look perfect; for comparison with tools that use it.
    Optimistic,
    /// The mean of the two: rank = 1 + higher + equal / 2.
    Average,
}

impl TieRule {
    /// The rank given the number of other items scored strictly higher and equal.
    #[inline]
    pub fn rank(self, higher: u32, equal: u32) -> f64 {
        let (h, e) = (f64::from(higher), f64::from(equal));
        match self {
            TieRule::Pessimistic => 1.0 + h + e,
            TieRule::Optimistic => 1.0 + h,
            TieRule::Average => 1.0 + h + e / 2.0,
        }
    }
}

/// How many items of a row score strictly higher than, and equal to, the
/// target (the target itself excluded). `None` if the row has a NaN.
///
/// One pass, no sort: the loop is branch-free so it vectorises.
#[inline]
pub fn count_above(row: &[f32], target: usize) -> Option<(u32, u32)> {
    let t = row[target];
    let mut higher = 0u32;
    let mut equal = 0u32;
    let mut nan = false;
    // Chunks of 16 keep independent counters for the vectoriser.
    let mut chunks = row.chunks_exact(16);
    for chunk in &mut chunks {
        let mut h = 0u32;
        let mut e = 0u32;
        for &s in chunk {
            h += u32::from(s > t);
            e += u32::from(s == t);
            nan |= s.is_nan();
        }
        higher += h;
        equal += e;
    }
    for &s in chunks.remainder() {
        higher += u32::from(s > t);
        equal += u32::from(s == t);
        nan |= s.is_nan();
    }
    if nan {
        return None;
    }
    // The target equals itself.
    Some((higher, equal - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_worked_ranks_for_each_rule() {
        // Target index 2 has score 0.5; one item above (0.9), two others equal.
        let row = [0.1, 0.9, 0.5, 0.5, 0.5, 0.2];
        let (h, e) = count_above(&row, 2).unwrap();
        assert_eq!((h, e), (1, 2));
        assert_eq!(TieRule::Pessimistic.rank(h, e), 4.0);
        assert_eq!(TieRule::Optimistic.rank(h, e), 2.0);
        assert_eq!(TieRule::Average.rank(h, e), 3.0);
    }

    #[test]
    fn nan_is_detected() {
        assert!(count_above(&[0.1, f32::NAN, 0.3], 0).is_none());
        assert!(
            count_above(
                &[0.0; 40]
                    .iter()
                    .copied()
                    .chain([f32::NAN])
                    .collect::<Vec<_>>(),
                3
            )
            .is_none()
        );
    }

    #[test]
    fn long_rows_use_chunks_and_remainder_alike() {
        let row: Vec<f32> = (0..37).map(|i| (i % 5) as f32).collect();
        // target at index 3 has score 3: above are the 4s (7 of them: 4,9,..,34),
        // equal are the other 3s (3,8,..,33 minus itself: 6).
        assert_eq!(count_above(&row, 3), Some((7, 6)));
    }
}
