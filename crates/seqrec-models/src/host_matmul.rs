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
}
