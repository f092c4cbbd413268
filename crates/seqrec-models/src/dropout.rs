//! Inverted dropout masks drawn from the run's [`SeqRng`], so a seed gives
//! the same masks on every backend and a resumed run draws the same ones.

use burn::tensor::{Device, Tensor, TensorData};
use seqrec_core::SeqRng;

/// A `[rows × cols]` mask: `1 / keep` with probability `keep`, else 0.
pub(crate) fn mask(
    rows: usize,
    cols: usize,
    keep: f64,
    rng: &mut SeqRng,
    device: &Device,
) -> Tensor<2> {
    let values = mask_values(rows, cols, keep, rng);
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// The values of [`mask`], row-major, for the host training path: the
/// same draws, so both paths see the same masks.
pub(crate) fn mask_values(rows: usize, cols: usize, keep: f64, rng: &mut SeqRng) -> Vec<f32> {
    let value = (1.0 / keep) as f32;
    // 32 random bits per entry: two entries per draw.
    let threshold = (keep * 4_294_967_296.0) as u64;
    let count = rows * cols;
    let mut values = Vec::with_capacity(count);
    while values.len() < count {
        let bits = rng.next_u64();
        for half in [bits & 0xFFFF_FFFF, bits >> 32] {
            if values.len() < count {
                values.push(if half < threshold { value } else { 0.0 });
            }
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_expected_fraction_and_scales() {
        let device = Device::flex();
        let m: Vec<f32> = mask(200, 50, 0.8, &mut SeqRng::new(1), &device)
            .into_data()
            .try_to_vec()
            .unwrap();
        let kept = m.iter().filter(|&&v| v > 0.0).count() as f64 / m.len() as f64;
        assert!((kept - 0.8).abs() < 0.02, "{kept}");
        assert!(m.iter().all(|&v| v == 0.0 || (v - 1.25).abs() < 1e-6));
        let again: Vec<f32> = mask(200, 50, 0.8, &mut SeqRng::new(1), &device)
            .into_data()
            .try_to_vec()
            .unwrap();
        assert_eq!(m, again);
    }
}
