//! A seeded generator of user sequences with planted structure.
//!
//! Users have stable tastes (a few genres); items come in ordered groups
//! (series, albums) that users consume in runs; popularity is skewed (Zipf
//! over groups); with repeats enabled users go back to recent items. The
//! same configuration and seed always give the same events, and the same
//! bytes when written ([`write()`]) in any of the real formats.

mod write;

pub use write::{FileFormat, write};

use crate::raw::{Keys, RawEvents};
use crate::{DataError, Result};
use rayon::prelude::*;
use seqrec_core::SeqRng;
use serde::{Deserialize, Serialize};

/// What the generator makes. The presets are [`SyntheticConfig::movielens`]
/// and [`SyntheticConfig::lastfm`]; any field can be changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticConfig {
    /// Seed of every random choice.
    pub seed: u64,
    pub users: usize,
    pub items: usize,
    /// Total number of events, exactly.
    pub events: usize,
    pub min_events_per_user: usize,
    /// Spread (log-normal sigma) of how active users are.
    pub activity_spread: f64,
    /// Items per ordered group (a film series, an album).
    pub group_size: usize,
    pub genres: usize,
    pub tastes_per_user: usize,
    /// Probability that a new group is drawn from the user's own genres.
    pub taste_strength: f64,
    /// Probability of going on with the next item of the current group.
    pub continue_run: f64,
    /// Probability of consuming a recent item again; 0 means every item at most once per user.
    pub repeat: f64,
    /// Zipf exponent of group popularity.
    pub popularity_exponent: f64,
    /// Probability that an event has the same timestamp as the one before.
    pub same_timestamp: f64,
    /// Mean gap between two timestamps, in seconds.
    pub mean_gap_seconds: f64,
}

impl SyntheticConfig {
    /// `synthetic-movielens`: about 100 events per user, no repeats, weak
    /// order (short series, many equal timestamps).
    pub fn movielens() -> Self {
        SyntheticConfig {
            seed: 2017,
            users: 1_000,
            items: 2_000,
            events: 100_000,
            min_events_per_user: 20,
            activity_spread: 0.6,
            group_size: 4,
            genres: 12,
            tastes_per_user: 2,
            taste_strength: 0.7,
            continue_run: 0.3,
            repeat: 0.0,
            popularity_exponent: 0.9,
            same_timestamp: 0.35,
            mean_gap_seconds: 6.0 * 3600.0,
        }
    }

    /// `synthetic-lastfm`: long sequences, strong album runs and repeats.
    pub fn lastfm() -> Self {
        SyntheticConfig {
            seed: 2017,
            users: 250,
            items: 5_000,
            events: 200_000,
            min_events_per_user: 100,
            activity_spread: 0.5,
            group_size: 10,
            genres: 20,
            tastes_per_user: 3,
            taste_strength: 0.85,
            continue_run: 0.75,
            repeat: 0.15,
            popularity_exponent: 1.0,
            same_timestamp: 0.0,
            mean_gap_seconds: 240.0,
        }
    }

    /// The MovieLens 10M shape: 69,878 users, 10,677 items, 10,000,054 events.
    pub fn movielens_10m_scale() -> Self {
        SyntheticConfig {
            users: 69_878,
            items: 10_677,
            events: 10_000_054,
            ..SyntheticConfig::movielens()
        }
    }

    /// Checks the configuration can be generated.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(DataError::InvalidOption(format!("synthetic: {m}")));
        if self.users == 0
            || self.items == 0
            || self.group_size == 0
            || self.genres == 0
            || self.tastes_per_user == 0
        {
            return bad(
                "users, items, group_size, genres and tastes_per_user must be positive".into(),
            );
        }
        if self.events < self.users * self.min_events_per_user.max(1) {
            return bad(format!(
                "{} events cannot give {} users {} events each",
                self.events,
                self.users,
                self.min_events_per_user.max(1)
            ));
        }
        if self.repeat == 0.0 && self.min_events_per_user > self.items {
            return bad(
                "without repeats a user cannot have more events than there are items".into(),
            );
        }
        if self.repeat == 0.0 && self.events > self.users.saturating_mul(self.items) {
            return bad("without repeats, events must be at most users * items".into());
        }
        for (name, p) in [
            ("taste_strength", self.taste_strength),
            ("continue_run", self.continue_run),
            ("repeat", self.repeat),
            ("same_timestamp", self.same_timestamp),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return bad(format!("{name} must be a probability, got {p}"));
            }
        }
        if !(self.mean_gap_seconds >= 0.0
            && self.activity_spread >= 0.0
            && self.popularity_exponent >= 0.0)
        {
            return bad(
                "mean_gap_seconds, activity_spread and popularity_exponent must be non-negative"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Generated data: each user's events in chronological order, with the
/// original ids the files carry.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticData {
    /// Internal item index per event, per user.
    pub sequences: Vec<Vec<u32>>,
    /// Unix seconds per event, per user, non-decreasing.
    pub timestamps: Vec<Vec<i64>>,
    /// Original (file) id of each internal item: distinct, not in group order.
    pub item_ids: Vec<i64>,
    /// Group (series, album) of each internal item.
    pub item_group: Vec<u32>,
}

impl SyntheticData {
    /// Total number of events.
    pub fn events(&self) -> usize {
        self.sequences.iter().map(Vec::len).sum()
    }

    /// The events as raw input of the loading pipeline (users `1..=users`).
    pub(crate) fn to_raw(&self) -> RawEvents {
        let n = self.events();
        let mut users = Vec::with_capacity(n);
        let mut items = Vec::with_capacity(n);
        let mut timestamps = Vec::with_capacity(n);
        for (u, (seq, times)) in self.sequences.iter().zip(&self.timestamps).enumerate() {
            users.extend(std::iter::repeat_n(u as i64 + 1, seq.len()));
            items.extend(seq.iter().map(|&i| self.item_ids[i as usize]));
            timestamps.extend_from_slice(times);
        }
        RawEvents {
            users: Keys::Integer(users),
            items: Keys::Integer(items),
            timestamps,
        }
    }
}

// Sub-streams of the seed, so that changing one part never shifts another.
const STREAM_LENGTHS: u64 = 1;
const STREAM_CATALOGUE: u64 = 2;
const STREAM_USERS: u64 = 1 << 32;

/// Generates the data of `config`.
pub fn generate(config: &SyntheticConfig) -> Result<SyntheticData> {
    config.validate()?;
    let lengths = sequence_lengths(config);
    let catalogue = Catalogue::new(config);
    let (sequences, timestamps): (Vec<_>, Vec<_>) = lengths
        .par_iter()
        .enumerate()
        .map(|(u, &len)| catalogue.user_sequence(config, u, len))
        .unzip();
    Ok(SyntheticData {
        sequences,
        timestamps,
        item_ids: catalogue.item_ids,
        item_group: catalogue.item_group,
    })
}

/// Lengths that add up to `config.events` exactly: a minimum each, the rest
/// shared by log-normal activity weights (largest remainders first).
fn sequence_lengths(config: &SyntheticConfig) -> Vec<usize> {
    let mut rng = SeqRng::derive(config.seed, STREAM_LENGTHS);
    let min = config.min_events_per_user.max(1);
    let cap = if config.repeat == 0.0 {
        config.items
    } else {
        usize::MAX
    };
    let weights: Vec<f64> = (0..config.users)
        .map(|_| (config.activity_spread * rng.normal()).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let extra = config.events - min * config.users;
    let shares: Vec<f64> = weights.iter().map(|w| extra as f64 * w / total).collect();
    let mut lengths: Vec<usize> = shares
        .iter()
        .map(|s| (min + s.floor() as usize).min(cap))
        .collect();
    let mut by_remainder: Vec<usize> = (0..config.users).collect();
    by_remainder.sort_by(|&a, &b| {
        let fa = shares[a] - shares[a].floor();
        let fb = shares[b] - shares[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    // Hand out what is missing one event at a time, skipping users at the cap.
    let mut missing = config.events - lengths.iter().sum::<usize>();
    while missing > 0 {
        for &u in &by_remainder {
            if missing == 0 {
                break;
            }
            if lengths[u] < cap {
                lengths[u] += 1;
                missing -= 1;
            }
        }
    }
    lengths
}

/// Items, their groups, genres and popularity.
struct Catalogue {
    item_ids: Vec<i64>,
    item_group: Vec<u32>,
    groups: usize,
    group_size: usize,
    /// Cumulative popularity over all groups.
    global: Vec<f64>,
    /// Per genre: its groups and their cumulative popularity.
    by_genre: Vec<(Vec<u32>, Vec<f64>)>,
    group_genre: Vec<u32>,
}

impl Catalogue {
    fn new(config: &SyntheticConfig) -> Self {
        let mut rng = SeqRng::derive(config.seed, STREAM_CATALOGUE);
        let items = config.items;
        let groups = items.div_ceil(config.group_size);
        // Original ids: `items` distinct values from 1..=4*items (selection
        // sampling keeps them sorted), then assigned in random order so that
        // id order says nothing about group order.
        let range = 4 * items as u64;
        let mut item_ids = Vec::with_capacity(items);
        let mut needed = items as u64;
        for candidate in 1..=range {
            if rng.below(range - candidate + 1) < needed {
                item_ids.push(candidate as i64);
                needed -= 1;
            }
        }
        rng.shuffle(&mut item_ids);
        let item_group = (0..items).map(|i| (i / config.group_size) as u32).collect();
        let mut rank: Vec<usize> = (0..groups).collect();
        rng.shuffle(&mut rank);
        let popularity: Vec<f64> = rank
            .iter()
            .map(|&r| 1.0 / ((r + 1) as f64).powf(config.popularity_exponent))
            .collect();
        let group_genre: Vec<u32> = (0..groups)
            .map(|_| rng.index(config.genres) as u32)
            .collect();
        let global = cumulative(&popularity);
        let by_genre = (0..config.genres as u32)
            .map(|genre| {
                let members: Vec<u32> = (0..groups as u32)
                    .filter(|&g| group_genre[g as usize] == genre)
                    .collect();
                let weights: Vec<f64> = members.iter().map(|&g| popularity[g as usize]).collect();
                let cum = cumulative(&weights);
                (members, cum)
            })
            .collect();
        Catalogue {
            item_ids,
            item_group,
            groups,
            group_size: config.group_size,
            global,
            by_genre,
            group_genre,
        }
    }

    fn group_items(&self, group: usize) -> std::ops::Range<usize> {
        let start = group * self.group_size;
        start..(start + self.group_size).min(self.item_ids.len())
    }

    fn draw_group(&self, rng: &mut SeqRng, genres: &[u32], taste_strength: f64) -> usize {
        if rng.next_f64() < taste_strength {
            let (members, cum) = &self.by_genre[genres[rng.index(genres.len())] as usize];
            if !members.is_empty() {
                return members[draw(cum, rng)] as usize;
            }
        }
        draw(&self.global, rng)
    }

    fn user_sequence(
        &self,
        config: &SyntheticConfig,
        user: usize,
        len: usize,
    ) -> (Vec<u32>, Vec<i64>) {
        let mut rng = SeqRng::derive(config.seed, STREAM_USERS + user as u64);
        let no_repeats = config.repeat == 0.0;
        // Tastes: genres of groups drawn by popularity, so popular genres are common tastes.
        let genres: Vec<u32> = (0..config.tastes_per_user)
            .map(|_| self.group_genre[draw(&self.global, &mut rng)])
            .collect();
        let mut consumed = vec![false; if no_repeats { self.item_ids.len() } else { 0 }];
        let mut items: Vec<u32> = Vec::with_capacity(len);
        let mut times = Vec::with_capacity(len);
        // Start dates spread over three years from 2005-01-01.
        let mut t = 1_104_537_600 + rng.below(3 * 365 * 86_400) as i64;
        let mut current: Option<usize> = None; // index of the last item when in a run
        let unconsumed = |consumed: &[bool], i: usize| !no_repeats || !consumed[i];
        while items.len() < len {
            let mut next = None;
            if let Some(last) = current
                && rng.next_f64() < config.continue_run
            {
                let group = self.group_items(self.item_group[last] as usize);
                next = (last + 1..group.end).find(|&i| unconsumed(&consumed, i));
            }
            if next.is_none()
                && config.repeat > 0.0
                && !items.is_empty()
                && rng.next_f64() < config.repeat
            {
                let back = rng.index(items.len().min(30));
                next = Some(items[items.len() - 1 - back] as usize);
            }
            for _ in 0..20 {
                if next.is_some() {
                    break;
                }
                let group = self.draw_group(&mut rng, &genres, config.taste_strength);
                next = self.group_items(group).find(|&i| unconsumed(&consumed, i));
            }
            let item = match next {
                Some(i) => i,
                // Rare: the drawn groups were all finished; take any unconsumed item.
                None => {
                    let n = self.item_ids.len();
                    let start = rng.index(n);
                    (0..n)
                        .map(|k| (start + k) % n)
                        .find(|&i| unconsumed(&consumed, i))
                        .unwrap_or(start)
                }
            };
            if no_repeats {
                consumed[item] = true;
            }
            if !items.is_empty() && rng.next_f64() >= config.same_timestamp {
                t += 1 + (-config.mean_gap_seconds * (1.0 - rng.next_f64()).ln()) as i64;
            }
            items.push(item as u32);
            times.push(t);
            current = Some(item);
        }
        debug_assert!(self.groups > 0);
        (items, times)
    }
}

fn cumulative(weights: &[f64]) -> Vec<f64> {
    let mut acc = 0.0;
    weights
        .iter()
        .map(|w| {
            acc += w;
            acc
        })
        .collect()
}

/// Index drawn with probability proportional to its weight.
fn draw(cumulative: &[f64], rng: &mut SeqRng) -> usize {
    let total = cumulative.last().copied().unwrap_or(0.0);
    let x = rng.next_f64() * total;
    cumulative
        .partition_point(|&c| c <= x)
        .min(cumulative.len() - 1)
}

#[cfg(test)]
mod tests;
