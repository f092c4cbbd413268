//! A peak-memory estimate of a training run, from the configuration alone,
//! so a run that cannot fit is refused before it starts.

use crate::{GruError, GruParams, GruVariant, UserIntegration};

/// The estimate and its parts, in bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryEstimate {
    /// Parameters with their gradients and both Adam moments (and the best
    /// epoch's copy).
    pub parameters: u64,
    /// What autodiff keeps for one window, dropout masks included.
    pub activations: u64,
    /// One chunk of logits, probabilities and their gradient.
    pub output_chunk: u64,
}

impl MemoryEstimate {
    pub fn total(&self) -> u64 {
        self.parameters + self.activations + self.output_chunk
    }

    /// Number of trainable floats of a model.
    pub fn parameter_count(variant: GruVariant, hidden: usize, items: usize, users: usize) -> u64 {
        let n = hidden as u64;
        let (i, u) = (items as u64, users as u64);
        let linear = |inputs: u64, outputs: u64| inputs * outputs + outputs;
        let integration = variant.integration();
        let with_user = integration != UserIntegration::None;
        let mut count = i * n + linear(n, i) + linear(n, n) * 2;
        count += linear(if with_user { 3 * n } else { 2 * n }, 2 * n);
        if with_user {
            count += u * n + linear(n, n);
        }
        match integration {
            UserIntegration::Rectified => count += linear(3 * n, 2 * n),
            UserIntegration::Attentional => count += 3 * linear(n, n),
            _ => {}
        }
        count
    }

    /// Estimates a run of `variant` on a catalogue of `items` and `users`
    /// on the CPU.
    pub fn of(variant: GruVariant, params: &GruParams, items: usize, users: usize) -> Self {
        Self::with_chunk_rows(variant, params, items, users, params.chunk_rows(items))
    }

    /// The same on a GPU with memory to spare: the output chunk of a GPU
    /// of 64 GiB or more (a sixteenth of its memory, 4 GiB at most; see
    /// [`crate::DeviceInfo::output_chunk_bytes`]). Smaller GPUs get
    /// smaller chunks, so for them this is an upper bound.
    pub fn on_large_gpu(
        variant: GruVariant,
        params: &GruParams,
        items: usize,
        users: usize,
    ) -> Self {
        let chunk = crate::params::gpu_output_chunk_bytes(Some(u64::MAX));
        let rows = params.chunk_rows_within(items, chunk);
        Self::with_chunk_rows(variant, params, items, users, rows)
    }

    /// The same with `chunk_rows` output rows per chunk (a GPU's choice,
    /// [`crate::DeviceInfo::output_chunk_bytes`]).
    pub fn with_chunk_rows(
        variant: GruVariant,
        params: &GruParams,
        items: usize,
        users: usize,
        chunk_rows: usize,
    ) -> Self {
        let floats = 4u64;
        let n = params.hidden as u64;
        let lanes = params.lanes.min(users.max(1)) as u64;
        let lane_steps = lanes * params.window as u64;
        let count = Self::parameter_count(variant, params.hidden, items, users);
        // Value, gradient, two Adam moments, the best epoch's copy, and one
        // temporary during the update.
        let parameters = count * floats * 6;
        // Tensors of n floats kept per lane-step by the cell's graph (gate
        // inputs, gates, candidate, ...), more for the user variants; plus
        // the embedded inputs, their dropout masks and the states.
        let per_step = match variant.integration() {
            UserIntegration::None => 14,
            UserIntegration::Linear => 20,
            UserIntegration::Rectified => 30,
            UserIntegration::Attentional => 30,
        };
        let activations = lane_steps * n * floats * per_step;
        let output_chunk = chunk_rows as u64 * items as u64 * floats * 3;
        MemoryEstimate {
            parameters,
            activations,
            output_chunk,
        }
    }

    /// Refuses the run when the estimate exceeds `limit` bytes.
    pub fn check(&self, limit: u64, limit_source: &str) -> Result<(), GruError> {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        if self.total() > limit {
            return Err(GruError::OutOfMemory {
                estimate_gib: gib(self.total()),
                limit_gib: gib(limit),
                limit_source: limit_source.to_owned(),
                detail: format!(
                    "parameters and optimiser {:.2} GiB, activations {:.2} GiB, output chunk {:.2} GiB",
                    gib(self.parameters),
                    gib(self.activations),
                    gib(self.output_chunk)
                ),
            });
        }
        Ok(())
    }
}

/// Memory available to a CPU run: `MemAvailable` of /proc/meminfo.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan for a GPU counts a large GPU's output chunk: at LastFM's
    /// 500,000 items 4 GiB / (12 bytes · 500,000) = 715 rows instead of
    /// the CPU's 64 MiB / 6 MB = 11 (16 at least); at ML-10M's 10,677
    /// items the 8,192-row cap, not the bytes, decides.
    #[test]
    fn a_large_gpu_estimate_holds_a_larger_output_chunk() {
        let params = GruParams::default();
        let gpu = MemoryEstimate::on_large_gpu(GruVariant::Gru, &params, 500_000, 992);
        assert_eq!(gpu.output_chunk, 715 * 500_000 * 12);
        let cpu = MemoryEstimate::of(GruVariant::Gru, &params, 500_000, 992);
        assert_eq!(cpu.output_chunk, 16 * 500_000 * 12);
        assert_eq!(gpu.parameters, cpu.parameters);
        let ml10m = MemoryEstimate::on_large_gpu(GruVariant::Gru, &params, 10_677, 69_878);
        assert_eq!(ml10m.output_chunk, 8192 * 10_677 * 12);
    }

    #[test]
    fn parameter_count_by_hand() {
        // n = 2, |I| = 3, |Y| = 4, standard: E_i 6, out 2·3+3 = 9, two
        // n×n maps 2·6 = 12, gates 4·4+4 = 20: 47.
        assert_eq!(
            MemoryEstimate::parameter_count(GruVariant::Gru, 2, 3, 4),
            47
        );
        // Linear: gates 6·4+4 = 28 (+8), E_v 8, T(v) 6: 47 + 8 + 8 + 6 = 69.
        assert_eq!(
            MemoryEstimate::parameter_count(GruVariant::LinearUserGru, 2, 3, 4),
            69
        );
        // Attentional: + three n×n maps = 18.
        assert_eq!(
            MemoryEstimate::parameter_count(GruVariant::AttentionalUserGru, 2, 3, 4),
            87
        );
    }

    #[test]
    fn the_papers_lastfm_run_is_refused_on_a_small_machine_with_a_clear_message() {
        let params = GruParams::default();
        let estimate = MemoryEstimate::of(GruVariant::AttentionalUserGru, &params, 500_000, 992);
        let err = estimate
            .check(16 << 30, "memory_limit_gib")
            .unwrap_err()
            .to_string();
        assert!(err.contains("GiB"), "{err}");
        assert!(err.contains("memory_limit_gib"), "{err}");
        // The chunked output keeps the logits small even at this catalogue size.
        assert!(estimate.output_chunk < 100 << 20);
        // A small CPU preset fits easily.
        let small = GruParams {
            hidden: 100,
            lanes: 100,
            ..GruParams::default()
        };
        let estimate = MemoryEstimate::of(GruVariant::AttentionalUserGru, &small, 9_000, 610);
        assert!(estimate.total() < 1 << 30);
        estimate.check(16 << 30, "test").unwrap();
    }
}
