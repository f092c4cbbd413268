//! MRR@k, Recall@k and NDCG@k from ranks, with micro and macro averages.

use serde::{Deserialize, Serialize};

/// Which metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Mean reciprocal rank, 0 beyond the cutoff.
    Mrr,
    /// Share of targets ranked within the cutoff (hit rate: one target per query).
    Recall,
    /// 1 / log2(rank + 1) within the cutoff (one relevant item, so IDCG = 1).
    Ndcg,
}

impl Metric {
    pub const ALL: [Metric; 3] = [Metric::Mrr, Metric::Recall, Metric::Ndcg];

    /// `mrr`, `recall`, `ndcg`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Mrr => "mrr",
            Metric::Recall => "recall",
            Metric::Ndcg => "ndcg",
        }
    }

    /// The value one query with `rank` contributes at cutoff `k`.
    #[inline]
    pub fn of_rank(self, rank: f64, k: usize) -> f64 {
        if rank > k as f64 {
            return 0.0;
        }
        match self {
            Metric::Mrr => 1.0 / rank,
            Metric::Recall => 1.0,
            Metric::Ndcg => 1.0 / (rank + 1.0).log2(),
        }
    }
}

/// Sums of every metric at every cutoff over some queries. Adding is in a
/// fixed order and merging is plain addition, so per-thread sums combine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricSums {
    pub queries: u64,
    /// `[metric][cutoff]` sums, metrics in [`Metric::ALL`] order.
    pub sums: [Vec<f64>; 3],
}

impl MetricSums {
    /// Empty sums for `cutoffs` cutoffs.
    pub fn new(cutoffs: usize) -> Self {
        MetricSums {
            queries: 0,
            sums: [vec![0.0; cutoffs], vec![0.0; cutoffs], vec![0.0; cutoffs]],
        }
    }

    /// Adds one query of rank `rank`.
    pub fn add(&mut self, rank: f64, cutoffs: &[usize]) {
        self.queries += 1;
        for (m, metric) in Metric::ALL.iter().enumerate() {
            for (c, &k) in cutoffs.iter().enumerate() {
                self.sums[m][c] += metric.of_rank(rank, k);
            }
        }
    }

    /// Adds one set of mean values as a single entry (a user, for macro averages).
    pub fn add_values(&mut self, values: &MetricValues) {
        self.queries += 1;
        for (sums, means) in self.sums.iter_mut().zip(&values.values) {
            for (s, v) in sums.iter_mut().zip(means) {
                *s += v;
            }
        }
    }

    /// Adds another set of sums.
    pub fn merge(&mut self, other: &MetricSums) {
        self.queries += other.queries;
        for m in 0..3 {
            for (a, b) in self.sums[m].iter_mut().zip(&other.sums[m]) {
                *a += b;
            }
        }
    }

    /// The means (0 for no queries).
    pub fn means(&self) -> MetricValues {
        let n = self.queries.max(1) as f64;
        MetricValues {
            values: self
                .sums
                .clone()
                .map(|v| v.into_iter().map(|s| s / n).collect()),
        }
    }
}

/// Mean value of every metric at every cutoff.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricValues {
    /// `[metric][cutoff]`, metrics in [`Metric::ALL`] order.
    pub values: [Vec<f64>; 3],
}

impl MetricValues {
    /// The value of `metric` at the cutoff with index `cutoff_index`.
    pub fn get(&self, metric: Metric, cutoff_index: usize) -> f64 {
        self.values[metric as usize][cutoff_index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_worked_values() {
        let cutoffs = [1, 5, 20];
        let mut s = MetricSums::new(3);
        for rank in [1.0, 4.0, 25.0, 3.5] {
            s.add(rank, &cutoffs);
        }
        let m = s.means();
        // MRR@5 = (1 + 1/4 + 0 + 1/3.5) / 4
        assert!((m.get(Metric::Mrr, 1) - (1.0 + 0.25 + 1.0 / 3.5) / 4.0).abs() < 1e-15);
        // Recall@1 = 1/4, Recall@5 = 3/4, Recall@20 = 3/4.
        assert_eq!(m.get(Metric::Recall, 0), 0.25);
        assert_eq!(m.get(Metric::Recall, 1), 0.75);
        assert_eq!(m.get(Metric::Recall, 2), 0.75);
        // NDCG@5 = (1/log2(2) + 1/log2(5) + 0 + 1/log2(4.5)) / 4
        let ndcg = (1.0 + 1.0 / 5f64.log2() + 1.0 / 4.5f64.log2()) / 4.0;
        assert!((m.get(Metric::Ndcg, 1) - ndcg).abs() < 1e-15);
    }

    #[test]
    fn merge_equals_adding_everything() {
        let cutoffs = [10];
        let mut a = MetricSums::new(1);
        let mut b = MetricSums::new(1);
        let mut all = MetricSums::new(1);
        for (i, rank) in [2.0, 7.0, 11.0, 1.0].into_iter().enumerate() {
            if i % 2 == 0 {
                a.add(rank, &cutoffs)
            } else {
                b.add(rank, &cutoffs)
            }
            all.add(rank, &cutoffs);
        }
        a.merge(&b);
        assert_eq!(a.queries, all.queries);
        assert!((a.means().get(Metric::Mrr, 0) - all.means().get(Metric::Mrr, 0)).abs() < 1e-15);
    }
}
