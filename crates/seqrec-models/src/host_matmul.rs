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

/// `c` (row-major `a.rows × b.cols`) = `a · b`, or `c + a · b` with
/// `accumulate`, on the calling thread.
pub fn matmul(
    c: &mut [f32],
    a: MatRef<'_>,
    b: MatRef<'_>,
    accumulate: bool,
) -> Result<(), GruError> {
    product(c, a, b, accumulate, gemm::Parallelism::None)
}

/// [`matmul`] spread over the current rayon pool's threads (gemm keeps
/// small products on one thread).
pub fn matmul_parallel(
    c: &mut [f32],
    a: MatRef<'_>,
    b: MatRef<'_>,
    accumulate: bool,
) -> Result<(), GruError> {
    product(c, a, b, accumulate, gemm::Parallelism::Rayon(0))
}

fn product(
    c: &mut [f32],
    a: MatRef<'_>,
    b: MatRef<'_>,
    accumulate: bool,
    parallelism: gemm::Parallelism,
) -> Result<(), GruError> {
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
}

impl StepWeight {
    /// A copy of `w` (any view: pass `view.t()` for a transpose).
    pub fn new(w: MatRef<'_>) -> Result<Self, GruError> {
        w.check()?;
        let stride = w.cols.next_multiple_of(SIMD_COLUMNS);
        let mut data = vec![0f32; w.rows * stride];
        for (i, row) in data.chunks_exact_mut(stride).enumerate() {
            for (j, x) in row[..w.cols].iter_mut().enumerate() {
                *x = w.data[i * w.row_stride + j * w.col_stride];
            }
        }
        Ok(StepWeight {
            data,
            rows: w.rows,
            cols: w.cols,
            stride,
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
        if self.stride == self.cols {
            return matmul_parallel(c, a, padded, accumulate);
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
        matmul_parallel(scratch, a, padded, false)?;
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

    /// `[[1, 2, 3], [4, 5, 6]] · [[1, 0], [0, 1], [1, 1]] = [[4, 5], [10, 11]]`.
    #[test]
    fn hand_worked_product_and_views() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let a = MatRef::row_major(&a, 2, 3).unwrap_or_else(|e| panic!("{e}"));
        let b = MatRef::row_major(&b, 3, 2).unwrap_or_else(|e| panic!("{e}"));
        let mut c = [9.0; 4];
        matmul(&mut c, a, b, false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
        // Accumulating adds the product again.
        matmul(&mut c, a, b, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c, [8.0, 10.0, 20.0, 22.0]);
        // aᵀ's columns 1..2 (= a's row 1) as a 3 × 1 view: bᵀ · that = [4+6, 5+6].
        let col = a.t().columns(1, 1).unwrap_or_else(|e| panic!("{e}"));
        let mut d = [0.0; 2];
        matmul(&mut d, b.t(), col, false).unwrap_or_else(|e| panic!("{e}"));
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
                    matmul_parallel(&mut c, a, b, false).unwrap_or_else(|e| panic!("{e}"));
                });
                c
            };
            let one = run(1);
            assert_eq!(one, run(3), "{m} × {k} × {n}");
            let mut single = vec![0.0f32; m * n];
            let a = MatRef::row_major(&a, m, k).unwrap_or_else(|e| panic!("{e}"));
            let b = MatRef::row_major(&b, k, n).unwrap_or_else(|e| panic!("{e}"));
            matmul(&mut single, a, b, false).unwrap_or_else(|e| panic!("{e}"));
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
        assert!(matmul(&mut c, a, a, false).is_err());
        let mut c = [0.0; 3];
        assert!(matmul(&mut c, a, a.t(), false).is_err());
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
        matmul(&mut plain, a, wv, true).unwrap_or_else(|e| panic!("{e}"));
        let step = StepWeight::new(wv).unwrap_or_else(|e| panic!("{e}"));
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
        matmul(&mut plain_t, b, wv.t(), false).unwrap_or_else(|e| panic!("{e}"));
        let step_t = StepWeight::new(wv.t()).unwrap_or_else(|e| panic!("{e}"));
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
}
