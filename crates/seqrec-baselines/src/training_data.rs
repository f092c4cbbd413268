//! What the baselines read from a split: each user's training items, and
//! the sets needed to sample negatives.

use seqrec_core::{ItemId, Part, Split, UserId};

/// Training items per user: in order, and as a sorted set.
#[derive(Debug)]
pub(crate) struct TrainingData {
    pub items: usize,
    /// `sorted[u]`: distinct training items of user u, ascending.
    pub sorted: Vec<Vec<u32>>,
}

impl TrainingData {
    pub fn new(split: &Split) -> Self {
        let sorted = (0..split.users())
            .map(|u| {
                let mut s: Vec<u32> = split
                    .part(UserId(u as u32), Part::Train)
                    .iter()
                    .map(|i| i.0)
                    .collect();
                s.sort_unstable();
                s.dedup();
                s
            })
            .collect();
        TrainingData {
            items: split.catalogue_size(),
            sorted,
        }
    }

    /// Whether user `u` consumed `item` in training.
    pub fn has(&self, u: usize, item: u32) -> bool {
        self.sorted[u].binary_search(&item).is_ok()
    }
}

/// The training part of every user, in order.
pub(crate) fn train_sequences(split: &Split) -> impl Iterator<Item = (usize, &[ItemId])> {
    (0..split.users()).map(move |u| (u, split.part(UserId(u as u32), Part::Train)))
}
