//! Per-user chronological sequences in a compact CSR layout.

use crate::{CoreError, ItemId, UserId};
use serde::{Deserialize, Serialize};

/// Every user's events in order, stored as one CSR table: user `u` owns
/// `items[offsets[u]..offsets[u + 1]]` and the matching `timestamps`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSequences {
    offsets: Vec<usize>,
    items: Vec<ItemId>,
    timestamps: Vec<i64>,
}

impl UserSequences {
    /// Builds the table from its parts, checking the CSR invariants.
    pub fn from_parts(
        offsets: Vec<usize>,
        items: Vec<ItemId>,
        timestamps: Vec<i64>,
    ) -> Result<Self, CoreError> {
        let bad = |why: &str| Err(CoreError::InvalidSequences(why.to_string()));
        if offsets.first() != Some(&0) {
            return bad("offsets must start at 0");
        }
        if offsets.windows(2).any(|w| w[0] > w[1]) {
            return bad("offsets must not decrease");
        }
        if offsets.last() != Some(&items.len()) {
            return bad("the last offset must equal the number of events");
        }
        if items.len() != timestamps.len() {
            return bad("items and timestamps differ in length");
        }
        Ok(UserSequences {
            offsets,
            items,
            timestamps,
        })
    }

    /// Builds the table from one `(items, timestamps)` list per user.
    pub fn from_users<I>(users: I) -> Self
    where
        I: IntoIterator<Item = (Vec<ItemId>, Vec<i64>)>,
    {
        let mut out = UserSequences {
            offsets: vec![0],
            ..Default::default()
        };
        for (items, times) in users {
            assert_eq!(items.len(), times.len(), "items and timestamps differ");
            out.items.extend(items);
            out.timestamps.extend(times);
            out.offsets.push(out.items.len());
        }
        out
    }

    /// Number of users (rows).
    pub fn users(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Number of events in all rows.
    pub fn events(&self) -> usize {
        self.items.len()
    }

    /// The items of one user, in order.
    pub fn items(&self, user: UserId) -> &[ItemId] {
        &self.items[self.range(user)]
    }

    /// The timestamps of one user, in order.
    pub fn timestamps(&self, user: UserId) -> &[i64] {
        &self.timestamps[self.range(user)]
    }

    /// Length of one user's sequence.
    pub fn len(&self, user: UserId) -> usize {
        let u = user.index();
        self.offsets[u + 1] - self.offsets[u]
    }

    /// Whether the table has no events at all.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn range(&self, user: UserId) -> std::ops::Range<usize> {
        let u = user.index();
        self.offsets[u]..self.offsets[u + 1]
    }

    /// The raw CSR parts: offsets, items, timestamps.
    pub fn parts(&self) -> (&[usize], &[ItemId], &[i64]) {
        (&self.offsets, &self.items, &self.timestamps)
    }

    /// Iterates over `(user, items, timestamps)`.
    pub fn iter(&self) -> impl Iterator<Item = (UserId, &[ItemId], &[i64])> + '_ {
        (0..self.users()).map(move |u| {
            let user = UserId(u as u32);
            (user, self.items(user), self.timestamps(user))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csr_rows() {
        let s = UserSequences::from_users(vec![
            (vec![ItemId(1), ItemId(2)], vec![10, 20]),
            (vec![], vec![]),
            (vec![ItemId(0)], vec![5]),
        ]);
        assert_eq!(s.users(), 3);
        assert_eq!(s.events(), 3);
        assert_eq!(s.items(UserId(0)), &[ItemId(1), ItemId(2)]);
        assert!(s.items(UserId(1)).is_empty());
        assert_eq!(s.timestamps(UserId(2)), &[5]);
    }

    #[test]
    fn invalid_parts_are_rejected() {
        assert!(UserSequences::from_parts(vec![0, 2], vec![ItemId(0)], vec![0]).is_err());
        assert!(UserSequences::from_parts(vec![1, 1], vec![ItemId(0)], vec![0]).is_err());
        assert!(UserSequences::from_parts(vec![0, 1], vec![ItemId(0)], vec![]).is_err());
        assert!(UserSequences::from_parts(vec![0, 1], vec![ItemId(0)], vec![0]).is_ok());
    }
}
