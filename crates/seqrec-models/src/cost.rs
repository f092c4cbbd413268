//! What a training costs in arithmetic, so its time can be estimated before
//! it starts, and a CPU training that would take days is refused unless it
//! was asked for (the paper's GRUs at n = 1000 are GPU work).

use crate::{Backend, GruError, GruParams, GruVariant, MemoryEstimate};
use seqrec_core::{Split, UserId};

/// Floating-point operations of training, from the model's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingCost {
    /// Forward and backward through every dense weight a tuple touches:
    /// about 6 operations per weight (2 forward, 4 backward), the output
    /// layer's `n × |I|` included.
    pub flops_per_tuple: f64,
    /// Training tuples over all epochs.
    pub tuples: u64,
}

/// Arithmetic rate of the `flex` backend per CPU core, from the book's
/// measurements at hidden 1000 (standard GRU 798 tuples/s ≈ 72 GFLOP/s,
/// attentional 679 ≈ 85 GFLOP/s, on 2 cores of the development machine).
pub const FLEX_FLOPS_PER_CORE: f64 = 37.5e9;

/// CPU trainings estimated above this are refused unless allowed.
pub const CPU_REFUSAL_SECONDS: f64 = 12.0 * 3600.0;

impl TrainingCost {
    /// `epochs` passes over `tuples_per_epoch` training tuples.
    pub fn of(
        variant: GruVariant,
        params: &GruParams,
        items: usize,
        tuples_per_epoch: u64,
    ) -> Self {
        let n = params.hidden as u64;
        // Embeddings are looked up, not multiplied: leave them out.
        let dense =
            MemoryEstimate::parameter_count(variant, params.hidden, items, 0) - items as u64 * n;
        TrainingCost {
            flops_per_tuple: 6.0 * dense as f64,
            tuples: tuples_per_epoch * params.epochs as u64,
        }
    }

    /// Training tuples of one epoch of `split`: every event but each user's first.
    pub fn tuples_per_epoch(split: &Split) -> u64 {
        (0..split.users())
            .map(|u| split.train(UserId(u as u32)).len().saturating_sub(1) as u64)
            .sum()
    }

    pub fn total_flops(&self) -> f64 {
        self.flops_per_tuple * self.tuples as f64
    }

    /// Seconds at `flops_per_second`.
    pub fn seconds_at(&self, flops_per_second: f64) -> f64 {
        self.total_flops() / flops_per_second.max(1.0)
    }
}

/// `seconds` as a person reads it: `45 s`, `10 min`, `3.2 h`, `1.4 days`.
pub fn human_duration(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.0} s")
    } else if seconds < 2.0 * 3600.0 {
        format!("{:.0} min", seconds / 60.0)
    } else if seconds < 24.0 * 3600.0 {
        format!("{:.1} h", seconds / 3600.0)
    } else {
        format!("{:.1} days", seconds / 86_400.0)
    }
}

/// Refuses a CPU training of `variant` on `split` estimated to take more
/// than [`CPU_REFUSAL_SECONDS`] on `cores` cores, unless `allow`.
pub fn check_cpu_time(
    variant: GruVariant,
    params: &GruParams,
    split: &Split,
    backend: Backend,
    cores: usize,
    allow: bool,
) -> Result<(), GruError> {
    if !backend.is_cpu() {
        return Ok(());
    }
    let cost = TrainingCost::of(
        variant,
        params,
        split.catalogue_size(),
        TrainingCost::tuples_per_epoch(split),
    );
    check_cost(&cost, variant, params, backend, cores, allow)
}

/// The decision of [`check_cpu_time`] for a known cost.
pub fn check_cost(
    cost: &TrainingCost,
    variant: GruVariant,
    params: &GruParams,
    backend: Backend,
    cores: usize,
    allow: bool,
) -> Result<(), GruError> {
    if !backend.is_cpu() {
        return Ok(());
    }
    let rate = FLEX_FLOPS_PER_CORE * cores.max(1) as f64;
    let seconds = cost.seconds_at(rate);
    if seconds <= CPU_REFUSAL_SECONDS {
        return Ok(());
    }
    let detail = format!(
        "hidden {}, {} epochs of {} tuples at {:.0} MFLOP each, at the {:.0} GFLOP/s the flex backend reaches on {cores} cores",
        params.hidden,
        params.epochs,
        cost.tuples / params.epochs.max(1) as u64,
        cost.flops_per_tuple / 1e6,
        rate / 1e9
    );
    if allow {
        tracing::warn!(
            method = variant.name(),
            estimate = %human_duration(seconds),
            %detail,
            "slow CPU training allowed explicitly"
        );
        return Ok(());
    }
    Err(GruError::SlowCpu {
        variant: variant.name(),
        backend: backend.name(),
        estimate: human_duration(seconds),
        detail,
    })
}

/// CPU cores this process may use (rayon's pool decides the real count).
pub fn cpu_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The book's measurement (Performance): a standard GRU at hidden 1000 on 8,917
    /// items trained 798 tuples/s on 2 cores; the rate must reproduce it.
    #[test]
    fn the_flop_count_matches_the_measured_cpu_rate() {
        let params = GruParams {
            hidden: 1000,
            ..GruParams::default()
        };
        let cost = TrainingCost::of(GruVariant::Gru, &params, 8_917, 1);
        // By hand: output 1000·8917 + 8917 = 8,925,917, two n×n maps
        // 2·(10⁶ + 1000) = 2,002,000, gates 2000·2000 + 2000 = 4,002,000:
        // 14,929,917 weights, × 6.
        assert_eq!(cost.flops_per_tuple, 6.0 * 14_929_917.0);
        let tuples_per_second = 2.0 * FLEX_FLOPS_PER_CORE / cost.flops_per_tuple;
        assert!(
            (tuples_per_second / 798.0 - 1.0).abs() < 0.25,
            "{tuples_per_second}"
        );
    }

    /// The paper's ML-10M run on 2 cores is refused, naming the time and
    /// both ways out; allowed explicitly, or on a GPU backend, it passes; a
    /// small CPU preset is never refused.
    #[test]
    fn the_papers_gru_on_the_cpu_is_refused_unless_asked_for() {
        let paper = GruParams::default();
        // ML-10M: 69,878 users, about 9M training tuples per epoch.
        let cost = TrainingCost::of(GruVariant::Gru, &paper, 10_677, 9_000_000);
        let err = check_cost(&cost, GruVariant::Gru, &paper, Backend::Flex, 2, false)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("days"), "{err}");
        assert!(
            err.contains("--backend cuda") && err.contains("--allow-slow-cpu"),
            "{err}"
        );
        assert!(err.contains("hidden 1000, 10 epochs"), "{err}");
        check_cost(&cost, GruVariant::Gru, &paper, Backend::Flex, 2, true).expect("allowed");
        check_cost(&cost, GruVariant::Gru, &paper, Backend::Cuda, 2, false).expect("GPU");
        let small = GruParams {
            hidden: 100,
            lanes: 32,
            epochs: 8,
            ..GruParams::default()
        };
        let cost = TrainingCost::of(GruVariant::AttentionalUserGru, &small, 8_917, 100_000);
        check_cost(
            &cost,
            GruVariant::AttentionalUserGru,
            &small,
            Backend::Flex,
            2,
            false,
        )
        .expect("quick preset");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(45.0), "45 s");
        assert_eq!(human_duration(600.0), "10 min");
        assert_eq!(human_duration(5.0 * 3600.0), "5.0 h");
        assert_eq!(human_duration(6.0 * 86_400.0), "6.0 days");
        assert_eq!(human_duration(33.4 * 3600.0), "1.4 days");
    }
}
