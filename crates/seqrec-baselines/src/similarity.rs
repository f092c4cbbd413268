//! Item-item cosine similarity on binary user incidence (specification §5), kept as
//! the top-k neighbour lists both kNN baselines use.

use crate::training_data::TrainingData;
use rayon::prelude::*;
use seqrec_core::Cancel;
use std::cmp::Ordering;

/// Each item's neighbours, most similar first, in CSR form.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbours {
    offsets: Vec<usize>,
    items: Vec<u32>,
    similarities: Vec<f32>,
}

impl Neighbours {
    /// The neighbours of `item` and their similarities, most similar first.
    pub fn of(&self, item: usize) -> (&[u32], &[f32]) {
        let range = self.offsets[item]..self.offsets[item + 1];
        (&self.items[range.clone()], &self.similarities[range])
    }

    /// Number of items.
    pub fn items(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The CSR arrays: offsets (`items + 1`), neighbour ids, similarities.
    pub fn parts(&self) -> (&[usize], &[u32], &[f32]) {
        (&self.offsets, &self.items, &self.similarities)
    }

    /// Rebuilds neighbour lists from [`Self::parts`], checking that they
    /// form a CSR table over their own items.
    pub fn from_parts(
        offsets: Vec<usize>,
        items: Vec<u32>,
        similarities: Vec<f32>,
    ) -> Result<Self, String> {
        let count = offsets.len().checked_sub(1).ok_or("no offsets")?;
        if offsets[0] != 0
            || offsets[count] != items.len()
            || items.len() != similarities.len()
            || offsets.windows(2).any(|w| w[0] > w[1])
        {
            return Err("neighbour offsets do not match the lists".into());
        }
        if items.iter().any(|&j| j as usize >= count) {
            return Err(format!("a neighbour outside the {count} items"));
        }
        Ok(Neighbours {
            offsets,
            items,
            similarities,
        })
    }

    /// sim(i, j) = |U_i ∩ U_j| / sqrt(|U_i| |U_j|) over distinct training
    /// users; each item keeps its `k` most similar items with positive
    /// similarity, never itself. Similarities are compared exactly (as
    /// integers: c1² n2 vs c2² n1), and equal ones at the cut go to the
    /// smaller item id, which is the smaller original id (specification §2.3).
    /// `None` when `cancel` was raised: each item's list checks it first,
    /// so a cancelled fit stops within one item per thread.
    pub(crate) fn fit(data: &TrainingData, k: usize, cancel: &Cancel) -> Option<Self> {
        let items = data.items;
        // Item -> distinct users (CSR).
        let mut user_count = vec![0usize; items + 1];
        for set in &data.sorted {
            for &i in set {
                user_count[i as usize + 1] += 1;
            }
        }
        for i in 0..items {
            user_count[i + 1] += user_count[i];
        }
        let mut item_users = vec![0u32; user_count[items]];
        let mut next = user_count.clone();
        for (u, set) in data.sorted.iter().enumerate() {
            for &i in set {
                item_users[next[i as usize]] = u as u32;
                next[i as usize] += 1;
            }
        }
        let n = |i: usize| (user_count[i + 1] - user_count[i]) as u64;

        let lists: Vec<Vec<(u32, f32)>> = (0..items)
            .into_par_iter()
            .map_init(
                || (vec![0u32; items], Vec::new()),
                |(co, touched), i| {
                    if cancel.is_cancelled() {
                        return None;
                    }
                    touched.clear();
                    for &u in &item_users[user_count[i]..user_count[i + 1]] {
                        for &j in &data.sorted[u as usize] {
                            let j = j as usize;
                            if j != i {
                                if co[j] == 0 {
                                    touched.push(j as u32);
                                }
                                co[j] += 1;
                            }
                        }
                    }
                    let mut candidates: Vec<(u32, u64)> = touched
                        .iter()
                        .map(|&j| (j, u64::from(co[j as usize])))
                        .collect();
                    for &j in touched.iter() {
                        co[j as usize] = 0;
                    }
                    // More similar first: c_a^2 n_b > c_b^2 n_a; equal: smaller id first.
                    let order = |a: &(u32, u64), b: &(u32, u64)| -> Ordering {
                        let lhs = u128::from(a.1 * a.1) * u128::from(n(b.0 as usize));
                        let rhs = u128::from(b.1 * b.1) * u128::from(n(a.0 as usize));
                        rhs.cmp(&lhs).then(a.0.cmp(&b.0))
                    };
                    if candidates.len() > k {
                        candidates.select_nth_unstable_by(k, order);
                        candidates.truncate(k);
                    }
                    candidates.sort_unstable_by(order);
                    let ni = n(i) as f64;
                    Some(
                        candidates
                            .into_iter()
                            .map(|(j, c)| {
                                (j, (c as f64 / (ni * n(j as usize) as f64).sqrt()) as f32)
                            })
                            .collect(),
                    )
                },
            )
            .collect::<Option<_>>()?;
        let mut offsets = Vec::with_capacity(items + 1);
        offsets.push(0);
        let mut out_items = Vec::new();
        let mut similarities = Vec::new();
        for list in lists {
            for (j, s) in list {
                out_items.push(j);
                similarities.push(s);
            }
            offsets.push(out_items.len());
        }
        Some(Neighbours {
            offsets,
            items: out_items,
            similarities,
        })
    }
}
