//! The 90/5/5 chronological split of specification §2.5.

use crate::{CoreError, ItemId, UserId, UserSequences};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How each user's sequence is cut.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitConfig {
    /// Share of each sequence used for training, floored: `floor(f * n)` (spec: 0.9).
    /// Resolved to six decimals so that `0.9 * n` has no floating-point surprise.
    pub train_fraction: f64,
    /// Remove validation and test events whose item never occurs in training
    /// (specification §2.5: yes). They leave the histories too.
    pub remove_unseen: bool,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            train_fraction: 0.9,
            remove_unseen: true,
        }
    }
}

impl SplitConfig {
    /// Checks the fraction is in `(0, 1]`.
    pub fn validate(&self) -> Result<(), CoreError> {
        if !(self.train_fraction > 0.0 && self.train_fraction <= 1.0) {
            return Err(CoreError::InvalidSplitConfig(format!(
                "train_fraction must be in (0, 1], got {}",
                self.train_fraction
            )));
        }
        Ok(())
    }

    /// Number of training events of a sequence of length `n`.
    pub fn train_len(&self, n: usize) -> usize {
        let millionths = (self.train_fraction * 1e6).round() as u128;
        (n as u128 * millionths / 1_000_000) as usize
    }

    /// `(train, validation, test)` lengths of a sequence of length `n`, before
    /// unseen items are removed: validation is `floor(r / 2)` of the remaining `r`.
    pub fn part_lens(&self, n: usize) -> (usize, usize, usize) {
        let train = self.train_len(n);
        let rest = n - train;
        let validation = rest / 2;
        (train, validation, rest - validation)
    }
}

/// One of the three parts of a user's sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Train,
    Validation,
    Test,
}

impl Part {
    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Validation => "validation",
            Part::Test => "test",
        }
    }
}

/// Counts of what the split removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitReport {
    /// Validation events removed because their item is not in training.
    pub removed_validation: usize,
    /// Test events removed because their item is not in training.
    pub removed_test: usize,
}

/// The result of the split: every user's full filtered sequence, with the
/// boundaries of its train / validation / test parts. Item ids are catalogue
/// ids: `0..catalogue_size()`, the training items in ascending original key.
///
/// The history of the event at position `p` of a user is simply positions
/// `0..p`, because removed events are gone from the sequence itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    sequences: UserSequences,
    train_end: Vec<u32>,
    validation_end: Vec<u32>,
    catalogue_size: usize,
}

/// The output of [`Split::compute`].
#[derive(Clone, Debug)]
pub struct SplitOutcome {
    /// The split itself.
    pub split: Split,
    /// For each catalogue item, its id in the input (ascending), so callers
    /// can renumber their vocabularies.
    pub catalogue: Vec<u32>,
    /// What was removed.
    pub report: SplitReport,
}

impl Split {
    /// Splits ordered sequences over items `0..items` per specification §2.5.
    pub fn compute(
        sequences: &UserSequences,
        items: usize,
        config: &SplitConfig,
    ) -> Result<SplitOutcome, CoreError> {
        config.validate()?;
        let (_, all_items, _) = sequences.parts();
        if let Some(bad) = all_items.iter().find(|i| i.index() >= items) {
            return Err(CoreError::ItemOutOfRange { item: bad.0, items });
        }
        // Pass 1: which items occur in any training part.
        let mut in_train = vec![false; items];
        for (_, seq, _) in sequences.iter() {
            let (train, _, _) = config.part_lens(seq.len());
            for item in &seq[..train] {
                in_train[item.index()] = true;
            }
        }
        let mut renumber = vec![u32::MAX; items];
        let mut catalogue = Vec::new();
        for (old, &seen) in in_train.iter().enumerate() {
            if seen || !config.remove_unseen {
                renumber[old] = catalogue.len() as u32;
                catalogue.push(old as u32);
            }
        }
        // Pass 2: copy the kept events with catalogue ids.
        let mut offsets = Vec::with_capacity(sequences.users() + 1);
        offsets.push(0usize);
        let mut out_items = Vec::with_capacity(sequences.events());
        let mut out_times = Vec::with_capacity(sequences.events());
        let mut train_end = Vec::with_capacity(sequences.users());
        let mut validation_end = Vec::with_capacity(sequences.users());
        let mut report = SplitReport::default();
        for (_, seq, times) in sequences.iter() {
            let start = out_items.len();
            let (train, validation, _) = config.part_lens(seq.len());
            let parts = [
                (Part::Train, 0..train),
                (Part::Validation, train..train + validation),
                (Part::Test, train + validation..seq.len()),
            ];
            for (part, positions) in parts {
                for pos in positions {
                    let new = renumber[seq[pos].index()];
                    if new == u32::MAX {
                        // Training items are always in the catalogue, so only
                        // validation and test events can land here.
                        match part {
                            Part::Validation => report.removed_validation += 1,
                            _ => report.removed_test += 1,
                        }
                        continue;
                    }
                    out_items.push(ItemId(new));
                    out_times.push(times[pos]);
                }
                let end = (out_items.len() - start) as u32;
                match part {
                    Part::Train => train_end.push(end),
                    Part::Validation => validation_end.push(end),
                    Part::Test => {}
                }
            }
            offsets.push(out_items.len());
        }
        let sequences = UserSequences::from_parts(offsets, out_items, out_times)?;
        let split = Split {
            sequences,
            train_end,
            validation_end,
            catalogue_size: catalogue.len(),
        };
        Ok(SplitOutcome {
            split,
            catalogue,
            report,
        })
    }

    /// Reassembles a split from stored parts (the cache), checking them.
    pub fn from_parts(
        sequences: UserSequences,
        train_end: Vec<u32>,
        validation_end: Vec<u32>,
        catalogue_size: usize,
    ) -> Result<Self, CoreError> {
        let users = sequences.users();
        if train_end.len() != users || validation_end.len() != users {
            return Err(CoreError::InvalidSequences(
                "one boundary per user is required".into(),
            ));
        }
        for u in 0..users {
            let n = sequences.len(UserId(u as u32));
            if !(train_end[u] <= validation_end[u] && validation_end[u] as usize <= n) {
                return Err(CoreError::InvalidSequences(format!(
                    "boundaries of user {u} do not fit its {n} events"
                )));
            }
        }
        let (_, items, _) = sequences.parts();
        if let Some(bad) = items.iter().find(|i| i.index() >= catalogue_size) {
            return Err(CoreError::ItemOutOfRange {
                item: bad.0,
                items: catalogue_size,
            });
        }
        Ok(Split {
            sequences,
            train_end,
            validation_end,
            catalogue_size,
        })
    }

    /// Number of users.
    pub fn users(&self) -> usize {
        self.sequences.users()
    }

    /// Number of items that models rank: the items of the training data.
    pub fn catalogue_size(&self) -> usize {
        self.catalogue_size
    }

    /// All users' full filtered sequences.
    pub fn sequences(&self) -> &UserSequences {
        &self.sequences
    }

    /// `(train_end, validation_end)` per user, positions into their sequences.
    pub fn boundaries(&self) -> (&[u32], &[u32]) {
        (&self.train_end, &self.validation_end)
    }

    /// Positions of `part` in the user's sequence.
    pub fn range(&self, user: UserId, part: Part) -> Range<usize> {
        let u = user.index();
        let t = self.train_end[u] as usize;
        let v = self.validation_end[u] as usize;
        match part {
            Part::Train => 0..t,
            Part::Validation => t..v,
            Part::Test => v..self.sequences.len(user),
        }
    }

    /// The items of one part of a user's sequence.
    pub fn part(&self, user: UserId, part: Part) -> &[ItemId] {
        &self.sequences.items(user)[self.range(user, part)]
    }

    /// The training items of a user.
    pub fn train(&self, user: UserId) -> &[ItemId] {
        self.part(user, Part::Train)
    }

    /// Number of events of `part` over all users.
    pub fn events(&self, part: Part) -> usize {
        (0..self.users())
            .map(|u| self.range(UserId(u as u32), part).len())
            .sum()
    }

    /// A copy with every test event removed: each sequence ends with its
    /// validation part. Users, items, training and validation are
    /// unchanged, so whatever is computed from the copy (a hyperparameter
    /// search) cannot depend on the test split.
    pub fn without_test(&self) -> Result<Split, CoreError> {
        let (offsets, items, timestamps) = self.sequences.parts();
        let mut new = (vec![0usize], Vec::new(), Vec::new());
        for (start, &end) in offsets.iter().zip(&self.validation_end) {
            let range = *start..start + end as usize;
            new.1.extend_from_slice(&items[range.clone()]);
            new.2.extend_from_slice(&timestamps[range]);
            new.0.push(new.1.len());
        }
        Split::from_parts(
            UserSequences::from_parts(new.0, new.1, new.2)?,
            self.train_end.clone(),
            self.validation_end.clone(),
            self.catalogue_size,
        )
    }

    /// A copy in which only the first `users` users keep their validation
    /// and test events; the others keep their training events alone. Users,
    /// items and training data are unchanged, so a model trained on `self`
    /// scores the copy: an evaluation of a sample, for speed measurements.
    pub fn with_evaluation_of_first(&self, users: usize) -> Result<Split, CoreError> {
        let (offsets, items, timestamps) = self.sequences.parts();
        let mut new = (vec![0usize], Vec::new(), Vec::new());
        let mut validation_end = self.validation_end.clone();
        for u in 0..self.users() {
            let kept = if u < users {
                offsets[u + 1] - offsets[u]
            } else {
                validation_end[u] = self.train_end[u];
                self.train_end[u] as usize
            };
            let range = offsets[u]..offsets[u] + kept;
            new.1.extend_from_slice(&items[range.clone()]);
            new.2.extend_from_slice(&timestamps[range]);
            new.0.push(new.1.len());
        }
        Split::from_parts(
            UserSequences::from_parts(new.0, new.1, new.2)?,
            self.train_end.clone(),
            validation_end,
            self.catalogue_size,
        )
    }
}

#[cfg(test)]
mod tests;
