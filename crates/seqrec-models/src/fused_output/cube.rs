//! One cube per row: its units stride over the items, combine their
//! running (maximum, sum of exponentials) pairs in shared memory, then
//! write the gradient over the logits.

use super::FusedSoftmaxCrossEntropy;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::tensor::FloatTensor;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use cubecl::prelude::*;

/// Units per cube (a power of two).
const BLOCK: usize = 256;

/// The most cubes along one axis every backend allows (Vulkan guarantees
/// 65,535; a GPU's output chunk can have more rows).
const MAX_CUBES_PER_AXIS: usize = 65_535;

/// One cube per row, over two axes where the rows are more than one axis
/// holds (`CUBE_POS` counts across both).
fn grid(rows: usize) -> CubeCount {
    let x = rows.clamp(1, MAX_CUBES_PER_AXIS);
    let y = rows.div_ceil(x);
    CubeCount::Static(x as u32, y as u32, 1)
}

/// Two running pairs (maximum, sum of exponentials below it) as one: the
/// larger maximum ([`top`]) and the sums rescaled to it ([`rescaled`]; an
/// empty pair, `s = 0`, adds nothing).
#[cube]
fn top<F: Float>(m: F, m2: F) -> F {
    select(m2 > m, m2, m)
}

#[cube]
fn rescaled<F: Float>(m: F, s: F, m2: F, s2: F, top: F) -> F {
    let a = select(s > F::new(0.0), s * F::exp(m - top), F::new(0.0));
    let b = select(s2 > F::new(0.0), s2 * F::exp(m2 - top), F::new(0.0));
    a + b
}

#[cube(launch, address_type = "dynamic")]
fn softmax_cross_entropy_kernel<F: Float>(
    logits: &mut Tensor<F>,
    bias: &Tensor<F>,
    targets: &Tensor<F>,
    losses: &mut Tensor<F>,
    scale: f32,
    #[comptime] block: usize,
    #[define(F)] _dtype: ElemType,
) {
    let row = CUBE_POS;
    // The grid may hold a few cubes past the last row (see `grid`); the
    // whole cube leaves, so no unit waits at a barrier for them.
    if row >= logits.shape(0) {
        terminate!();
    }
    let unit = UNIT_POS_X as usize;
    // Runtime copies of the comptime size: loop counters and strides are
    // runtime values.
    let units = CUBE_DIM_X as usize;
    let items = logits.shape(1);
    let base = row * logits.stride(0);
    let mut maxima = Shared::<[F]>::new_slice(block);
    let mut sums = Shared::<[F]>::new_slice(block);

    // Pass 1: this unit's running maximum and sum of exp(x − maximum).
    let mut m = F::new(0.0);
    let mut s = F::new(0.0);
    let mut j = unit;
    while j < items {
        let x = logits[base + j] + bias[j];
        let next = top::<F>(m, x);
        s = rescaled::<F>(m, s, x, F::new(1.0), next);
        m = next;
        j += units;
    }
    maxima[unit] = m;
    sums[unit] = s;
    sync_cube();
    let mut half = units / 2;
    while half > 0 {
        if unit < half {
            let (m1, s1) = (maxima[unit], sums[unit]);
            let (m2, s2) = (maxima[unit + half], sums[unit + half]);
            let next = top::<F>(m1, m2);
            sums[unit] = rescaled::<F>(m1, s1, m2, s2, next);
            maxima[unit] = next;
        }
        sync_cube();
        half /= 2;
    }
    let m = maxima[0];
    let s = sums[0];
    let target = u32::cast_from(targets[row]) as usize;
    if unit == 0 {
        losses[row] = m + F::ln(s) - (logits[base + target] + bias[target]);
    }
    // Every unit has its (m, s); the target's logit is read before any
    // unit overwrites it.
    sync_cube();

    // Pass 2: the gradient scale · (softmax − one-hot) over the logits.
    let scale = F::cast_from(scale);
    let mut j = unit;
    while j < items {
        let p = F::exp(logits[base + j] + bias[j] - m) / s;
        let hit = select(j == target, scale, F::new(0.0));
        logits[base + j] = p * scale - hit;
        j += units;
    }
}

impl FusedSoftmaxCrossEntropy for burn::backend::Cube {
    fn softmax_cross_entropy_in_place(
        logits: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        scale: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        // A product's output is contiguous already; anything else is copied.
        let logits = into_contiguous(logits);
        let rows = logits.meta.shape()[0];
        let losses = empty_device_dtype(
            logits.client.clone(),
            logits.device.clone(),
            [rows].into(),
            logits.dtype,
        );
        let dtype = dtype_to_storage_type(logits.dtype);
        let address = if logits.meta.num_elements() < u32::MAX as usize / 2 {
            AddressType::U32
        } else {
            AddressType::U64
        };
        softmax_cross_entropy_kernel::launch(
            &logits.client.clone(),
            grid(rows),
            CubeDim::new_1d(BLOCK as u32),
            address,
            logits.clone().into_tensor_arg(),
            bias.into_tensor_arg(),
            targets.into_tensor_arg(),
            losses.clone().into_tensor_arg(),
            scale,
            BLOCK,
            dtype,
        );
        (logits, losses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Enough cubes for every row, each axis within what every backend
    /// allows, and no more than one axis's worth of spare cubes.
    #[test]
    fn the_grid_covers_every_row_within_the_axis_limit() {
        for rows in [1, 37, 65_535, 65_536, 100_000, 1_000_000] {
            let CubeCount::Static(x, y, z) = grid(rows) else {
                panic!("a static grid")
            };
            let (x, y) = (x as usize, y as usize);
            assert!(
                x <= MAX_CUBES_PER_AXIS && y <= MAX_CUBES_PER_AXIS && z == 1,
                "{rows}"
            );
            assert!(x * y >= rows && x * y < rows + x, "{rows}: {x} × {y}");
        }
    }
}
