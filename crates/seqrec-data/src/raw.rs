//! Raw events as parsed from a file, and their numbering and ordering into
//! per-user sequences (specification §2.3).

use rayon::prelude::*;
use seqrec_core::{ItemId, UserSequences, Vocabulary, cmp_pair};
use std::collections::HashMap;
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

/// Separates the two fields of a pair key inside the interner. Lines whose
/// fields contain it are rejected by the parsers, so keys cannot collide.
pub(crate) const PAIR_SEPARATOR: char = '\0';

/// The key of every event, before numbering.
#[derive(Debug)]
pub(crate) enum Keys {
    /// One integer key per event.
    Integer(Vec<i64>),
    /// One provisional code per event plus the distinct keys in first-seen order.
    Interned(Interner),
}

/// Maps text keys to provisional codes in first-seen order. The final ids
/// come from sorting the distinct keys, so the hash map's order decides nothing.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    codes: Vec<u32>,
    keys: Vec<String>,
    index: HashMap<String, u32, Xxh3DefaultBuilder>,
    pairs: bool,
}

impl Interner {
    pub(crate) fn text() -> Self {
        Interner::default()
    }

    pub(crate) fn pairs() -> Self {
        Interner {
            pairs: true,
            ..Interner::default()
        }
    }

    /// Records one event's key.
    pub(crate) fn push(&mut self, key: &str) {
        let code = match self.index.get(key) {
            Some(&code) => code,
            None => {
                let code = self.keys.len() as u32;
                self.keys.push(key.to_owned());
                self.index.insert(key.to_owned(), code);
                code
            }
        };
        self.codes.push(code);
    }

    /// Records one event's pair key.
    pub(crate) fn push_pair(&mut self, first: &str, second: &str, scratch: &mut String) {
        scratch.clear();
        scratch.push_str(first);
        scratch.push(PAIR_SEPARATOR);
        scratch.push_str(second);
        self.push(scratch);
    }

    pub(crate) fn len(&self) -> usize {
        self.codes.len()
    }
}

/// Parsed events of one file, in file order.
#[derive(Debug)]
pub(crate) struct RawEvents {
    pub users: Keys,
    pub items: Keys,
    pub timestamps: Vec<i64>,
}

/// Events numbered and ordered: the input of the split.
#[derive(Debug)]
pub(crate) struct OrderedEvents {
    pub users: Vocabulary,
    pub items: Vocabulary,
    pub sequences: UserSequences,
}

impl RawEvents {
    pub(crate) fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Numbers users and items in ascending original key and orders each
    /// user's events by (timestamp, item key), keeping file order for events
    /// equal in both (specification §2.3).
    pub(crate) fn order(self) -> OrderedEvents {
        let (users, user_ids) = densify(self.users);
        let (items, item_ids) = densify(self.items);
        let sequences = order_by_user(users.len(), &user_ids, &item_ids, &self.timestamps);
        OrderedEvents {
            users,
            items,
            sequences,
        }
    }
}

/// Sorted distinct keys and each event's rank among them.
fn densify(keys: Keys) -> (Vocabulary, Vec<u32>) {
    match keys {
        Keys::Integer(values) => densify_integers(&values),
        Keys::Interned(interner) => {
            let Interner {
                codes, keys, pairs, ..
            } = interner;
            let mut by_key: Vec<u32> = (0..keys.len() as u32).collect();
            if pairs {
                let split: Vec<(&str, &str)> = keys.iter().map(|k| split_pair(k)).collect();
                by_key
                    .par_sort_unstable_by(|&a, &b| cmp_pair(split[a as usize], split[b as usize]));
            } else {
                by_key.par_sort_unstable_by(|&a, &b| {
                    keys[a as usize].as_bytes().cmp(keys[b as usize].as_bytes())
                });
            }
            let mut rank = vec![0u32; keys.len()];
            for (r, &code) in by_key.iter().enumerate() {
                rank[code as usize] = r as u32;
            }
            let dense = codes.par_iter().map(|&c| rank[c as usize]).collect();
            let mut keys: Vec<Option<String>> = keys.into_iter().map(Some).collect();
            let sorted = by_key
                .iter()
                .map(|&c| keys[c as usize].take().unwrap_or_default());
            let vocab = if pairs {
                Vocabulary::Pair(
                    sorted
                        .map(|k| {
                            let (a, b) = split_pair(&k);
                            (a.to_owned(), b.to_owned())
                        })
                        .collect(),
                )
            } else {
                Vocabulary::Text(sorted.collect())
            };
            (vocab, dense)
        }
    }
}

fn split_pair(key: &str) -> (&str, &str) {
    key.split_once(PAIR_SEPARATOR).unwrap_or((key, ""))
}

/// Integer keys to dense ranks: a direct table when the ids are small and
/// non-negative (MovieLens), a sort otherwise.
fn densify_integers(values: &[i64]) -> (Vocabulary, Vec<u32>) {
    let (min, max) = values
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let table_limit = (values.len() as i64).saturating_mul(4).max(1 << 20);
    if values.is_empty() {
        return (Vocabulary::Integer(Vec::new()), Vec::new());
    }
    if min >= 0 && max < table_limit {
        let mut rank = vec![u32::MAX; max as usize + 1];
        for &v in values {
            rank[v as usize] = 0;
        }
        let mut keys = Vec::new();
        for (v, r) in rank.iter_mut().enumerate() {
            if *r == 0 {
                *r = keys.len() as u32;
                keys.push(v as i64);
            }
        }
        let dense = values.par_iter().map(|&v| rank[v as usize]).collect();
        (Vocabulary::Integer(keys), dense)
    } else {
        let mut keys = values.to_vec();
        keys.par_sort_unstable();
        keys.dedup();
        let dense = values
            .par_iter()
            .map(|v| keys.binary_search(v).unwrap_or_default() as u32)
            .collect();
        (Vocabulary::Integer(keys), dense)
    }
}

/// Groups events by user (a stable counting sort, so file order survives)
/// and sorts each user's events by (timestamp, item).
fn order_by_user(
    users: usize,
    user_ids: &[u32],
    item_ids: &[u32],
    timestamps: &[i64],
) -> UserSequences {
    let mut offsets = vec![0usize; users + 1];
    for &u in user_ids {
        offsets[u as usize + 1] += 1;
    }
    for u in 0..users {
        offsets[u + 1] += offsets[u];
    }
    let mut next = offsets.clone();
    let mut order = vec![0u32; user_ids.len()];
    for (event, &u) in user_ids.iter().enumerate() {
        order[next[u as usize]] = event as u32;
        next[u as usize] += 1;
    }
    // Per-user stable sorts, in parallel over disjoint slices.
    let mut rows: Vec<&mut [u32]> = Vec::with_capacity(users);
    let mut rest = order.as_mut_slice();
    for u in 0..users {
        let (row, tail) = rest.split_at_mut(offsets[u + 1] - offsets[u]);
        rows.push(row);
        rest = tail;
    }
    rows.par_iter_mut().for_each(|row| {
        row.sort_by_key(|&e| (timestamps[e as usize], item_ids[e as usize]));
    });
    let items = order
        .par_iter()
        .map(|&e| ItemId(item_ids[e as usize]))
        .collect();
    let times = order.par_iter().map(|&e| timestamps[e as usize]).collect();
    UserSequences::from_parts(offsets, items, times)
        .unwrap_or_else(|e| unreachable!("counting sort built invalid CSR: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use seqrec_core::UserId;

    #[test]
    fn numbering_and_order_follow_spec_2_3() {
        // File order: user 30 watches 7 then 5 at the same second, user 10 later.
        let raw = RawEvents {
            users: Keys::Integer(vec![30, 30, 10, 30]),
            items: Keys::Integer(vec![700, 5, 700, 9]),
            timestamps: vec![100, 100, 50, 90],
        };
        let o = raw.order();
        assert_eq!(o.users, Vocabulary::Integer(vec![10, 30]));
        assert_eq!(o.items, Vocabulary::Integer(vec![5, 9, 700]));
        // user 30: t=90 item 9, then t=100 ties broken by item key: 5 before 700.
        assert_eq!(
            o.sequences.items(UserId(1)),
            &[ItemId(1), ItemId(0), ItemId(2)]
        );
        assert_eq!(o.sequences.timestamps(UserId(1)), &[90, 100, 100]);
        assert_eq!(o.sequences.items(UserId(0)), &[ItemId(2)]);
    }

    #[test]
    fn large_and_negative_integer_keys_use_the_sort_path() {
        let (v, d) = densify_integers(&[i64::MAX, -4, 7, -4]);
        assert_eq!(v, Vocabulary::Integer(vec![-4, 7, i64::MAX]));
        assert_eq!(d, vec![2, 0, 1, 0]);
    }

    #[test]
    fn text_and_pair_keys_are_numbered_byte_wise() {
        let mut t = Interner::text();
        for k in ["user_2", "user_10", "user_2", "User_3"] {
            t.push(k);
        }
        let (v, d) = densify(Keys::Interned(t));
        // Byte-wise: 'U' < 'u', "user_10" < "user_2".
        assert_eq!(
            v,
            Vocabulary::Text(vec!["User_3".into(), "user_10".into(), "user_2".into()])
        );
        assert_eq!(d, vec![2, 1, 2, 0]);

        let mut p = Interner::pairs();
        let mut scratch = String::new();
        p.push_pair("A B", "c", &mut scratch);
        p.push_pair("A", "B c", &mut scratch);
        let (v, d) = densify(Keys::Interned(p));
        assert_eq!(
            v,
            Vocabulary::Pair(vec![("A".into(), "B c".into()), ("A B".into(), "c".into())])
        );
        assert_eq!(d, vec![1, 0]);
    }

    proptest::proptest! {
        #[test]
        fn ordering_is_a_sorted_permutation_per_user(
            events in proptest::collection::vec((0i64..6, 0i64..9, 0i64..5), 1..200)
        ) {
            let raw = RawEvents {
                users: Keys::Integer(events.iter().map(|e| e.0 * 7).collect()),
                items: Keys::Integer(events.iter().map(|e| 100 - e.1).collect()),
                timestamps: events.iter().map(|e| e.2).collect(),
            };
            let o = raw.order();
            let Vocabulary::Integer(users) = &o.users else { panic!("integer keys") };
            let Vocabulary::Integer(items) = &o.items else { panic!("integer keys") };
            proptest::prop_assert_eq!(o.sequences.events(), events.len());
            for (u, &user_key) in users.iter().enumerate() {
                let user = UserId(u as u32);
                let got: Vec<(i64, i64)> = o.sequences.items(user).iter()
                    .zip(o.sequences.timestamps(user))
                    .map(|(i, &t)| (t, items[i.index()]))
                    .collect();
                let mut want: Vec<(i64, i64)> = events.iter()
                    .filter(|e| e.0 * 7 == user_key)
                    .map(|e| (e.2, 100 - e.1))
                    .collect();
                want.sort();
                proptest::prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn equal_timestamps_are_ordered_by_item() {
        let s = order_by_user(1, &[0, 0, 0], &[1, 0, 1], &[5, 5, 5]);
        assert_eq!(s.items(UserId(0)), &[ItemId(0), ItemId(1), ItemId(1)]);
    }
}
