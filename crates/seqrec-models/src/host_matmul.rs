//! Matrix products on host slices for the CPU paths (the output layer of
//! training and scoring, the recurrence of training): the `gemm` crate,
//! either single-threaded per call ([`matmul`]; the output layer splits its
//! work into blocks on rayon itself) or spread over rayon's threads by gemm
//! ([`matmul_parallel`]; gemm's split never changes the order in which one
//! element's products are summed, so results do not depend on the thread
//! count either, which a test below checks). `gemm` picks its AVX-512 kernels at run
//! time where the CPU has them (the `x86-v4` feature), which matrixmultiply
//! lacks: `benches/matmul_shapes.rs` compares the two.
//!
//! The one `unsafe` call of the crate lives here, behind views whose every
//! element is checked to lie inside its slice.
#![allow(unsafe_code)]

use crate::GruError;

/// A strided read-only view of an `f32` matrix inside a slice.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// `data` read as a row-major `rows × cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Result<Self, GruError> {
        let view = MatRef {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        };
        view.check()?;
        Ok(view)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Columns `first..first + count`.
    pub fn columns(self, first: usize, count: usize) -> Result<Self, GruError> {
        if first + count > self.cols {
            return Err(GruError::Backend(format!(
                "matrix view: columns {first}..{} of {}",
                first + count,
                self.cols
            )));
        }
        let offset = (first * self.col_stride).min(self.data.len());
        let view = MatRef {
            data: &self.data[offset..],
            cols: count,
            ..self
        };
        view.check()?;
        Ok(view)
    }

    /// Every element of the view lies inside `data`.
    fn check(&self) -> Result<(), GruError> {
        if self.rows == 0 || self.cols == 0 {
            return Ok(());
        }
        let last = (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride;
        if last >= self.data.len() {
            return Err(GruError::Backend(format!(
                "matrix view: {} × {} (strides {}, {}) over {} values",
                self.rows,
                self.cols,
                self.row_stride,
                self.col_stride,
                self.data.len()
            )));
        }
        Ok(())
    }
}

/// What a product does to its operands before multiplying them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OperandRounding {
    /// Nothing: IEEE fp32 products.
    #[default]
    Exact,
    /// Rounds both operands to TF32 first ([`round_tf32`]): what a GPU's
    /// TF32 tensor cores compute, emulated. The product of two TF32 values
    /// is exact in fp32, so only the accumulation order can differ from
    /// the hardware's.
    Tf32,
    /// Rounds both operands to bf16 first ([`round_bf16`]): bf16 operands
    /// with fp32 accumulation, emulated (the product of two bf16 values is
    /// exact in fp32 too).
    Bf16,
}

impl OperandRounding {
    /// `x` as this rounding leaves it.
    pub fn apply(self, x: f32) -> f32 {
        match self {
            OperandRounding::Exact => x,
            OperandRounding::Tf32 => round_tf32(x),
            OperandRounding::Bf16 => round_bf16(x),
        }
    }
}

/// `x` rounded to TF32: 10 explicit mantissa bits (fp32 has 23), to
/// nearest with ties to even; the exponent range is fp32's, so nothing
/// overflows that fp32 holds (a value rounded past `f32::MAX` becomes
/// infinite, as in IEEE rounding). NaN and infinities pass unchanged.
pub fn round_tf32(x: f32) -> f32 {
    round_mantissa(x, 13)
}

/// `x` rounded to bf16: 7 explicit mantissa bits, to nearest with ties to
/// even, fp32's exponent range (bf16 is fp32's upper half), returned as
/// f32. NaN and infinities pass unchanged.
pub fn round_bf16(x: f32) -> f32 {
    round_mantissa(x, 16)
}

/// `x` with its lowest `dropped` mantissa bits rounded away (to nearest,
/// ties to even): adding half an ulp of the kept part, less one unless the
/// lowest kept bit is odd, carries into the kept bits exactly when the
/// dropped part exceeds half, or equals it and the kept part is odd.
fn round_mantissa(x: f32, dropped: u32) -> f32 {
    if !x.is_finite() {
        return x;
    }
    let bits = x.to_bits();
    let lowest_kept = (bits >> dropped) & 1;
    let half_less_one = (1u32 << (dropped - 1)) - 1;
    f32::from_bits((bits + half_less_one + lowest_kept) & !((1u32 << dropped) - 1))
}

/// `c` (row-major `a.rows × b.cols`) = `a · b`, or `c + a · b` with
/// `accumulate`, on the calling thread.
pub fn matmul(
    c: &mut [f32],
    a: MatRef<'_>,
    b: MatRef<'_>,
    accumulate: bool,
    rounding: OperandRounding,
) -> Result<(), GruError> {
    product(c, a, b, accumulate, gemm::Parallelism::None, rounding)
}

/// [`matmul`] spread over the current rayon pool's threads (gemm keeps
/// small products on one thread).
pub fn matmul_parallel(
    c: &mut [f32],
    a: MatRef<'_>,
    b: MatRef<'_>,
    accumulate: bool,
    rounding: OperandRounding,
) -> Result<(), GruError> {
    product(c, a, b, accumulate, gemm::Parallelism::Rayon(0), rounding)
}

/// A row-major copy of `view` with every element rounded as `rounding` says.
fn rounded_copy(view: MatRef<'_>, rounding: OperandRounding) -> Result<Vec<f32>, GruError> {
    view.check()?;
    let mut out = Vec::with_capacity(view.rows * view.cols);
    for i in 0..view.rows {
        for j in 0..view.cols {
            out.push(rounding.apply(view.data[i * view.row_stride + j * view.col_stride]));
        }
    }
    Ok(out)
}

fn product(
    c: &mut [f32],
    a: MatRef<'_>,
    b: MatRef<'_>,
    accumulate: bool,
    parallelism: gemm::Parallelism,
    rounding: OperandRounding,
) -> Result<(), GruError> {
    if rounding != OperandRounding::Exact {
        // An emulation for measuring a precision's effect, not a fast
        // path: the operands are copied on every call.
        let (ra, rb) = (rounded_copy(a, rounding)?, rounded_copy(b, rounding)?);
        let a = MatRef::row_major(&ra, a.rows, a.cols)?;
        let b = MatRef::row_major(&rb, b.rows, b.cols)?;
        return product(c, a, b, accumulate, parallelism, OperandRounding::Exact);
    }
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k || c.len() != m * n {
        return Err(GruError::Backend(format!(
            "matrix product: [{m} × {k}] · [{} × {n}] into {} values",
            b.rows,
            c.len()
        )));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return Ok(());
    }
    a.check()?;
    b.check()?;
    let stride = |s: usize| isize::try_from(s).map_err(|e| GruError::Backend(e.to_string()));
    // SAFETY: `check` proved every element `a[i, j]` at `i·row_stride +
    // j·col_stride` (and likewise `b`'s) inside its slice, and `c` holds
    // exactly `m × n` values written at `i·n + j`; `c` is a unique borrow, so
    // it aliases neither input. `gemm` reads and writes nothing else.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            stride(n)?,
            accumulate,
            a.data.as_ptr(),
            stride(a.col_stride)?,
            stride(a.row_stride)?,
            b.data.as_ptr(),
            stride(b.col_stride)?,
            stride(b.row_stride)?,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            parallelism,
        );
    }
    Ok(())
}

/// Columns a [`StepWeight`] is padded to a multiple of: the widest SIMD
/// register's `f32` count (AVX-512), which every narrower one divides.
const SIMD_COLUMNS: usize = 16;

/// A weight the recurrence multiplies by at every step, laid out so that
/// `gemm` reads it in place. Given a row-major weight whose column count is
/// not a multiple of the SIMD width, or a transposed view, gemm copies
/// ("packs") the whole weight on every call, which for the thin per-step
/// products (32 lanes) costs as much as the arithmetic: stored row-major
/// with zero columns up to a multiple of 16, the backward step's products
/// ran about twice as fast (`benches/matmul_shapes.rs`).
#[derive(Clone, Debug, PartialEq)]
pub struct StepWeight {
    data: Vec<f32>,
    rows: usize,
    cols: usize,
    stride: usize,
    /// Applied to the copy once, and to the other operand of every product.
    rounding: OperandRounding,
}

impl StepWeight {
    /// A copy of `w` (any view: pass `view.t()` for a transpose), rounded
    /// as `rounding` says.
    pub fn new(w: MatRef<'_>, rounding: OperandRounding) -> Result<Self, GruError> {
        w.check()?;
        let stride = w.cols.next_multiple_of(SIMD_COLUMNS);
        let mut data = vec![0f32; w.rows * stride];
        for (i, row) in data.chunks_exact_mut(stride).enumerate() {
            for (j, x) in row[..w.cols].iter_mut().enumerate() {
                *x = rounding.apply(w.data[i * w.row_stride + j * w.col_stride]);
            }
        }
        Ok(StepWeight {
            data,
            rows: w.rows,
            cols: w.cols,
            stride,
            rounding,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `c` (row-major `a.rows × cols`) = `a · W`, or `c + a · W` with
    /// `accumulate`, on rayon's threads. `scratch` holds the padded product
    /// between calls (reused, grown as needed).
    pub fn multiply(
        &self,
        c: &mut [f32],
        a: MatRef<'_>,
        accumulate: bool,
        scratch: &mut Vec<f32>,
    ) -> Result<(), GruError> {
        let padded = MatRef {
            data: &self.data,
            rows: self.rows,
            cols: self.stride,
            row_stride: self.stride,
            col_stride: 1,
        };
        let rounded;
        let a = match self.rounding {
            OperandRounding::Exact => a,
            rounding @ (OperandRounding::Tf32 | OperandRounding::Bf16) => {
                rounded = rounded_copy(a, rounding)?;
                MatRef::row_major(&rounded, a.rows, a.cols)?
            }
        };
        let exact = OperandRounding::Exact;
        if self.stride == self.cols {
            return matmul_parallel(c, a, padded, accumulate, exact);
        }
        let m = a.rows;
        if c.len() != m * self.cols {
            return Err(GruError::Backend(format!(
                "step product: {m} rows × {} columns into {} values",
                self.cols,
                c.len()
            )));
        }
        scratch.resize(m * self.stride, 0.0);
        matmul_parallel(scratch, a, padded, false, exact)?;
        for (out, row) in c
            .chunks_exact_mut(self.cols)
            .zip(scratch.chunks_exact(self.stride))
        {
            if accumulate {
                out.iter_mut().zip(row).for_each(|(o, x)| *o += x);
            } else {
                out.copy_from_slice(&row[..self.cols]);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: OperandRounding = OperandRounding::Exact;

    /// `[[1, 2, 3], [4, 5, 6]] · [[1, 0], [0, 1], [1, 1]] = [[4, 5], [10, 11]]`.
    #[test]
    fn hand_worked_product_and_views() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let a = MatRef::row_major(&a, 2, 3).unwrap_or_else(|e| panic!("{e}"));
        let b = MatRef::row_major(&b, 3, 2).unwrap_or_else(|e| panic!("{e}"));
        let mut c = [9.0; 4];
        matmul(&mut c, a, b, false, E).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
        // Accumulating adds the product again.
        matmul(&mut c, a, b, true, E).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c, [8.0, 10.0, 20.0, 22.0]);
        // aᵀ's columns 1..2 (= a's row 1) as a 3 × 1 view: bᵀ · that = [4+6, 5+6].
        let col = a.t().columns(1, 1).unwrap_or_else(|e| panic!("{e}"));
        let mut d = [0.0; 2];
        matmul(&mut d, b.t(), col, false, E).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d, [10.0, 11.0]);
    }

    /// The same product on 1 and 3 threads, bit for bit, with shapes of the
    /// recurrence (thin per-step products and long-K weight gradients).
    #[test]
    fn parallel_products_do_not_depend_on_the_thread_count() {
        let mut rng = seqrec_core::SeqRng::new(5);
        for (m, k, n) in [(7, 300, 530), (530, 64, 300), (300, 1100, 90)] {
            let a: Vec<f32> = (0..m * k).map(|_| rng.next_f64() as f32 - 0.5).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.next_f64() as f32 - 0.5).collect();
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap_or_else(|e| panic!("{e}"));
                let mut c = vec![0.0f32; m * n];
                pool.install(|| {
                    let a = MatRef::row_major(&a, m, k).unwrap_or_else(|e| panic!("{e}"));
                    let b = MatRef::row_major(&b, k, n).unwrap_or_else(|e| panic!("{e}"));
                    matmul_parallel(&mut c, a, b, false, E).unwrap_or_else(|e| panic!("{e}"));
                });
                c
            };
            let one = run(1);
            assert_eq!(one, run(3), "{m} × {k} × {n}");
            let mut single = vec![0.0f32; m * n];
            let a = MatRef::row_major(&a, m, k).unwrap_or_else(|e| panic!("{e}"));
            let b = MatRef::row_major(&b, k, n).unwrap_or_else(|e| panic!("{e}"));
            matmul(&mut single, a, b, false, E).unwrap_or_else(|e| panic!("{e}"));
            let worst = one
                .iter()
                .zip(&single)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "{m} × {k} × {n}: {worst}");
        }
    }

    #[test]
    fn mismatched_shapes_are_errors_not_reads_out_of_bounds() {
        let data = [0.0; 6];
        assert!(MatRef::row_major(&data, 2, 4).is_err());
        let a = MatRef::row_major(&data, 2, 3).unwrap_or_else(|e| panic!("{e}"));
        assert!(a.columns(2, 2).is_err());
        let mut c = [0.0; 4];
        assert!(matmul(&mut c, a, a, false, E).is_err());
        let mut c = [0.0; 3];
        assert!(matmul(&mut c, a, a.t(), false, E).is_err());
    }

    /// A padded weight and its transpose give the plain product's values.
    #[test]
    fn step_weights_multiply_as_the_plain_product() {
        let mut rng = seqrec_core::SeqRng::new(9);
        let (m, k, n) = (5, 37, 21);
        let a: Vec<f32> = (0..m * k).map(|_| rng.next_f64() as f32 - 0.5).collect();
        let w: Vec<f32> = (0..k * n).map(|_| rng.next_f64() as f32 - 0.5).collect();
        let a = MatRef::row_major(&a, m, k).unwrap_or_else(|e| panic!("{e}"));
        let wv = MatRef::row_major(&w, k, n).unwrap_or_else(|e| panic!("{e}"));
        let mut plain = vec![1.0f32; m * n];
        matmul(&mut plain, a, wv, true, E).unwrap_or_else(|e| panic!("{e}"));
        let step = StepWeight::new(wv, E).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((step.rows(), step.cols(), step.stride), (k, n, 32));
        let mut scratch = Vec::new();
        let mut padded = vec![1.0f32; m * n];
        step.multiply(&mut padded, a, true, &mut scratch)
            .unwrap_or_else(|e| panic!("{e}"));
        let close = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(x, y)| (x - y).abs() < 1e-5);
        assert!(close(&plain, &padded));
        // Without accumulating, what c held before does not matter.
        let mut fresh = vec![7.0f32; m * n];
        step.multiply(&mut fresh, a, false, &mut scratch)
            .unwrap_or_else(|e| panic!("{e}"));
        let once: Vec<f32> = plain.iter().map(|x| x - 1.0).collect();
        assert!(close(&once, &fresh));
        // The transpose: (a Wᵀ)… with a [m × n] against W [k × n].
        let b: Vec<f32> = (0..m * n).map(|_| rng.next_f64() as f32 - 0.5).collect();
        let b = MatRef::row_major(&b, m, n).unwrap_or_else(|e| panic!("{e}"));
        let mut plain_t = vec![0.0f32; m * k];
        matmul(&mut plain_t, b, wv.t(), false, E).unwrap_or_else(|e| panic!("{e}"));
        let step_t = StepWeight::new(wv.t(), E).unwrap_or_else(|e| panic!("{e}"));
        let mut padded_t = vec![0.0f32; m * k];
        step_t
            .multiply(&mut padded_t, b, false, &mut scratch)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(close(&plain_t, &padded_t));
        // A wrong output size is an error.
        assert!(
            step.multiply(&mut [0.0; 3], a, false, &mut scratch)
                .is_err()
        );
    }

    #[test]
    fn tf32_rounding_keeps_ten_mantissa_bits_to_nearest_even() {
        let ulp = 2f32.powi(-10); // TF32's spacing in [1, 2)
        assert_eq!(round_tf32(1.0), 1.0);
        assert_eq!(round_tf32(1.0 + ulp), 1.0 + ulp);
        // Below half a TF32 step: down; above: up; exactly half: to even.
        assert_eq!(round_tf32(1.0 + 0.49 * ulp), 1.0);
        assert_eq!(round_tf32(1.0 + 0.51 * ulp), 1.0 + ulp);
        assert_eq!(round_tf32(1.0 + 0.5 * ulp), 1.0);
        assert_eq!(round_tf32(1.0 + 1.5 * ulp), 1.0 + 2.0 * ulp);
        assert_eq!(round_tf32(-(1.0 + 0.51 * ulp)), -(1.0 + ulp));
        // π = 1.5707963… × 2: 1.5703125 and 1.5712890625 are its TF32 neighbours.
        assert_eq!(round_tf32(std::f32::consts::PI), 2.0 * 1.570_312_5);
        assert_eq!(round_tf32(f32::MAX), f32::INFINITY);
        assert!(round_tf32(f32::NAN).is_nan());
        assert_eq!(round_tf32(f32::NEG_INFINITY), f32::NEG_INFINITY);
        assert_eq!(round_tf32(0.0), 0.0);
    }

    fn view(d: &[f32], rows: usize, cols: usize) -> MatRef<'_> {
        MatRef::row_major(d, rows, cols).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn bf16_rounding_keeps_seven_mantissa_bits_to_nearest_even() {
        let ulp = 2f32.powi(-7);
        assert_eq!(round_bf16(1.0 + ulp), 1.0 + ulp);
        assert_eq!(round_bf16(1.0 + 0.49 * ulp), 1.0);
        assert_eq!(round_bf16(1.0 + 0.51 * ulp), 1.0 + ulp);
        // Ties go to the even neighbour: down from 1, up from 1 + ulp.
        assert_eq!(round_bf16(1.0 + 0.5 * ulp), 1.0);
        assert_eq!(round_bf16(1.0 + 1.5 * ulp), 1.0 + 2.0 * ulp);
        assert_eq!(round_bf16(-(1.0 + 0.51 * ulp)), -(1.0 + ulp));
        // π = 1.5707963…·2; bf16 keeps 1.5703125 (0x4049 as bf16 bits).
        assert_eq!(round_bf16(std::f32::consts::PI), 2.0 * 1.570_312_5);
        assert_eq!(round_bf16(std::f32::consts::PI).to_bits() >> 16, 0x4049);
        // 0.1 is 0x3DCCCCCD in fp32; its bf16 is 0x3DCD (rounded up).
        assert_eq!(round_bf16(0.1).to_bits(), 0x3DCD_0000);
        assert_eq!(round_bf16(f32::MAX), f32::INFINITY);
        assert!(round_bf16(f32::NAN).is_nan());
        assert_eq!(round_bf16(0.0), 0.0);
        // Coarser than TF32: what bf16 keeps, TF32 keeps too.
        for x in [0.1f32, 3.3, -7.77e-5, 1234.5678] {
            assert_eq!(round_tf32(round_bf16(x)), round_bf16(x));
            assert!((round_bf16(x) - x).abs() <= x.abs() * 2f32.powi(-8));
        }
    }

    #[test]
    fn bf16_products_multiply_the_rounded_operands() {
        let a = [0.1f32, 1.0 / 3.0, -2.7, 0.017];
        let b = [3.3f32, -0.55, 1e-3, 7.1];
        let mut got = vec![0.0; 4];

        matmul(
            &mut got,
            view(&a, 2, 2),
            view(&b, 2, 2),
            false,
            OperandRounding::Bf16,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let ra: Vec<f32> = a.iter().map(|&x| round_bf16(x)).collect();
        let rb: Vec<f32> = b.iter().map(|&x| round_bf16(x)).collect();
        for i in 0..2 {
            for j in 0..2 {
                let want = ra[2 * i] * rb[j] + ra[2 * i + 1] * rb[2 + j];
                assert!((got[2 * i + j] - want).abs() <= 1e-6 * want.abs().max(1.0));
            }
        }
        let mut exact = vec![0.0; 4];
        matmul(
            &mut exact,
            view(&a, 2, 2),
            view(&b, 2, 2),
            false,
            OperandRounding::Exact,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(got, exact, "rounding changed nothing");
    }

    #[test]
    fn tf32_products_multiply_the_rounded_operands() {
        let mut rng = seqrec_core::SeqRng::new(5);
        let (m, k, n) = (7, 33, 19);
        let a: Vec<f32> = (0..m * k)
            .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
            .collect();
        let ra: Vec<f32> = a.iter().map(|&x| round_tf32(x)).collect();
        let rb: Vec<f32> = b.iter().map(|&x| round_tf32(x)).collect();
        let mut want = vec![0f32; m * n];
        matmul(&mut want, view(&ra, m, k), view(&rb, k, n), false, E)
            .unwrap_or_else(|e| panic!("{e}"));
        let tf32 = OperandRounding::Tf32;
        let mut got = vec![0f32; m * n];
        matmul(&mut got, view(&a, m, k), view(&b, k, n), false, tf32)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, want);
        let mut exact = vec![0f32; m * n];
        matmul(&mut exact, view(&a, m, k), view(&b, k, n), false, E)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(got, exact, "rounding changed nothing");
        let worst = got
            .iter()
            .zip(&exact)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-2, "TF32 error {worst}");
        // A step weight rounds itself once and the other operand per call;
        // through a transposed view too.
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let step = StepWeight::new(view(&bt, n, k).t(), tf32).unwrap_or_else(|e| panic!("{e}"));
        let mut stepped = vec![0f32; m * n];
        step.multiply(&mut stepped, view(&a, m, k), false, &mut Vec::new())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stepped, want);
    }
}
