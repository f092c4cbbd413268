//! The precision of the GRUs' matrix products on a GPU.
//!
//! burn 0.22 sends every f32 product to cubek-matmul's automatic strategy,
//! which tries the tensor-core (CMMA) routine first and stages f32
//! operands as TF32 wherever the device has that type (`adjust_dtypes`):
//! on CUDA with an Ampere or newer GPU, products then have TF32 inputs
//! (10-bit mantissa) and fp32 accumulation, as PyTorch's
//! `allow_tf32=True`. burn's tensor API has no switch for it, so
//! [`Precision::Fp32`] computes products through a backend extension
//! ([`PrecisionMatmul`]): on the cubecl backends it launches cubek's
//! register-tiled unit routine — the one the automatic strategy falls back
//! to where there are no tensor cores — with plain f32 throughout; the CPU
//! backends are fp32 either way. Under autodiff its backward products are
//! fp32 too.
//!
//! [`Precision::Tf32Emulated`] measures what TF32 does to results on a
//! machine without tensor cores: every product's operands are rounded to
//! TF32 first (10-bit mantissa, to nearest), then multiplied in fp32. The
//! CPU training and scoring paths (`host_matmul`) round both operands of
//! every product, forward and backward; burn's products (the GPU paths,
//! and on the CPU the scoring recurrence and training with the soft
//! threshold) round the operands of the forward product with tensor
//! operations (Veltkamp's split), but not those of its backward.
//!
//! [`Precision::Bf16`] multiplies bf16 operands with fp32 accumulation
//! into fp32 outputs (as PyTorch's bf16 autocast does for products);
//! everything else (element-wise work, weights, optimiser state, the loss)
//! stays fp32. It runs on CUDA only; [`Precision::check_backend`] refuses
//! it elsewhere. [`Precision::Bf16Emulated`] is its measuring instrument on
//! any backend, as the TF32 emulation is: operands rounded to bf16, then
//! multiplied in fp32.

use crate::GruError;
use crate::host_matmul::OperandRounding;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// How f32 matrix products are computed on a GPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// IEEE fp32 products on every backend (on a GPU: no tensor cores).
    Fp32,
    /// The backend's own f32 product: TF32 tensor cores with fp32
    /// accumulation where the device has them (CUDA on Ampere and newer),
    /// fp32 elsewhere. The default: burn's own behaviour.
    #[default]
    Tf32,
    /// TF32 emulated on any backend: operands rounded to TF32's 10-bit
    /// mantissa, products and sums in fp32. Slower; for measuring what
    /// TF32 does to the results (`docs/book/src/precision.md`).
    #[serde(rename = "tf32-emulated")]
    Tf32Emulated,
    /// bf16 operands (8 significant bits), fp32 accumulation and fp32
    /// outputs, forward and backward; CUDA only.
    Bf16,
    /// bf16 emulated on any backend: operands rounded to bf16, products and
    /// sums in fp32 (`docs/book/src/precision.md`).
    #[serde(rename = "bf16-emulated")]
    Bf16Emulated,
}

impl Precision {
    pub const ALL: [Precision; 5] = [
        Precision::Fp32,
        Precision::Tf32,
        Precision::Tf32Emulated,
        Precision::Bf16,
        Precision::Bf16Emulated,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Tf32 => "tf32",
            Precision::Tf32Emulated => "tf32-emulated",
            Precision::Bf16 => "bf16",
            Precision::Bf16Emulated => "bf16-emulated",
        }
    }

    pub fn parse(name: &str) -> Result<Self, GruError> {
        Precision::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| GruError::Unknown {
                kind: "precision",
                name: name.to_owned(),
                known: "fp32, tf32, tf32-emulated, bf16, bf16-emulated",
            })
    }

    /// What products actually are on a device: TF32 only where asked for
    /// and the device has TF32 tensor cores ([`crate::DeviceInfo::tf32`]).
    /// The emulations are what they are everywhere, and bf16 runs only
    /// where [`Precision::check_backend`] let it.
    pub fn effective(self, device_has_tf32: bool) -> Precision {
        match self {
            Precision::Tf32 if device_has_tf32 => Precision::Tf32,
            Precision::Tf32 | Precision::Fp32 => Precision::Fp32,
            other => other,
        }
    }

    /// Refuses a precision the backend cannot compute: bf16 products need
    /// CUDA (cubek's tensor-core routines with bf16 operands; the other
    /// backends would have to emulate them, which `bf16-emulated` says
    /// openly).
    pub fn check_backend(self, backend: crate::Backend) -> Result<(), GruError> {
        if self == Precision::Bf16 && backend != crate::Backend::Cuda {
            return Err(GruError::UnsupportedPrecision(format!(
                "precision `bf16` runs on the cuda backend only, not on `{backend}`; \
                 `--precision bf16-emulated` measures its effect on any backend"
            )));
        }
        Ok(())
    }

    /// Whether results at this precision can differ from the default's
    /// ([`Precision::Tf32`]) on a backend: on the CPU only the emulation
    /// does (fp32 and tf32 are the same products there).
    pub fn differs_from_default(self, cpu_backend: bool) -> bool {
        match self {
            Precision::Tf32 => false,
            Precision::Fp32 => !cpu_backend,
            Precision::Tf32Emulated | Precision::Bf16 | Precision::Bf16Emulated => true,
        }
    }

    /// Whether a run should name its precision: always on a GPU, on the
    /// CPU only where it changes the numbers (fp32 and tf32 are the same
    /// there).
    pub fn worth_naming(self, cpu_backend: bool) -> bool {
        !cpu_backend || !matches!(self, Precision::Fp32 | Precision::Tf32)
    }

    /// What the host products (`host_matmul`) do to their operands (the
    /// host paths run on the CPU backends, where `bf16` is refused; were
    /// they reached, they would compute what it means).
    pub fn host_rounding(self) -> OperandRounding {
        match self {
            Precision::Tf32Emulated => OperandRounding::Tf32,
            Precision::Bf16 | Precision::Bf16Emulated => OperandRounding::Bf16,
            Precision::Fp32 | Precision::Tf32 => OperandRounding::Exact,
        }
    }

    /// `a · b` at this precision (autodiff-aware).
    pub fn matmul(self, a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
        Tensor::from_dispatch(product_at::<burn::backend::Dispatch>(
            self,
            a.into_dispatch(),
            b.into_dispatch(),
        ))
    }
}

/// Every element rounded to TF32's 10-bit mantissa with float operations
/// only, so it runs on every backend and under autodiff (Veltkamp's split:
/// with `c = (2¹³ + 1)·x`, `c − (c − x)` is `x` rounded to 24 − 13 = 11
/// significant bits, to nearest; its gradient is exactly 1). Equal to
/// [`host_matmul::round_tf32`](crate::host_matmul::round_tf32) except
/// perhaps at exact ties. Values above about 4·10³⁴ would overflow; no
/// weight, embedding or gradient comes near.
pub fn round_tf32<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(extension::veltkamp::<burn::backend::Dispatch>(
        x.into_dispatch(),
        8193.0,
    ))
}

/// Every element rounded to bf16 (8 significant bits), as [`round_tf32`]
/// does for TF32: with `c = (2¹⁶ + 1)·x`, `c − (c − x)` keeps 24 − 16 = 8
/// significant bits, to nearest; the gradient is exactly 1. Equal to
/// [`host_matmul::round_bf16`](crate::host_matmul::round_bf16) except
/// perhaps at exact ties. Values above about 5·10³³ would overflow.
pub fn round_bf16<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(extension::veltkamp::<burn::backend::Dispatch>(
        x.into_dispatch(),
        65537.0,
    ))
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

mod extension;
pub use extension::{PrecisionMatmul, product_at};

#[cfg(test)]
mod tests;
