//! Dense identifiers.
//!
//! Users and items are renumbered densely from 0 in ascending order of their
//! original key (specification §2.3), so a `u32` indexes every per-user or per-item
//! table directly. The mapping back to the original ids is a [`Vocabulary`](crate::Vocabulary).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! dense_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl $name {
            /// The id as an index into a dense table.
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

dense_id!(
    /// A dense user id, `0..users`.
    UserId
);
dense_id!(
    /// A dense item id, `0..catalogue size`: after the split only training items remain.
    ItemId
);
