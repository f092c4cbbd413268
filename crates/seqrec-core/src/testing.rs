//! Helpers for tests and benchmarks of any crate (hidden from the docs).

use crate::{CoreError, ItemId, SeqRng, Split, SplitConfig, UserSequences};

/// `users` users with `length` events each, items uniform over `items`
/// (drawn from `seed`), timestamps 0, 1, …; split by the spec's rule with
/// every item kept in the catalogue (`remove_unseen = false`).
pub fn random_split(users: u32, items: u32, length: u32, seed: u64) -> Result<Split, CoreError> {
    let mut rng = SeqRng::new(seed);
    let rows = (0..users).map(|_| {
        (
            (0..length)
                .map(|_| ItemId(rng.below(u64::from(items)) as u32))
                .collect::<Vec<_>>(),
            (0..i64::from(length)).collect::<Vec<_>>(),
        )
    });
    let config = SplitConfig {
        remove_unseen: false,
        ..SplitConfig::default()
    };
    Ok(Split::compute(&UserSequences::from_users(rows), items as usize, &config)?.split)
}
