//! The precision of the GRUs' matrix products on a GPU.
//!
//! burn 0.22 sends every f32 product to cubek-matmul's automatic strategy,
//! which tries the tensor-core (CMMA) routine first and stages f32
//! operands as TF32 wherever the device has that type (`adjust_dtypes`):
//! on CUDA with an Ampere or newer GPU, products then have TF32 inputs
//! (10-bit mantissa) and fp32 accumulation, as PyTorch's
//! `allow_tf32=True`. burn's tensor API has no switch for it, so
//! [`Precision::Fp32`] computes products through a backend extension
//! ([`Fp32Matmul`]): on the cubecl backends it launches cubek's
//! register-tiled unit routine — the one the automatic strategy falls back
//! to where there are no tensor cores — with plain f32 throughout; the CPU
//! backends are fp32 either way. Under autodiff its backward products are
//! fp32 too.

use crate::GruError;
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
}

impl Precision {
    pub const ALL: [Precision; 2] = [Precision::Fp32, Precision::Tf32];

    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Tf32 => "tf32",
        }
    }

    pub fn parse(name: &str) -> Result<Self, GruError> {
        Precision::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| GruError::Unknown {
                kind: "precision",
                name: name.to_owned(),
                known: "fp32, tf32",
            })
    }

    /// What products actually are on a device: TF32 only where asked for
    /// and the device has TF32 tensor cores ([`crate::DeviceInfo::tf32`]).
    pub fn effective(self, device_has_tf32: bool) -> Precision {
        match self {
            Precision::Tf32 if device_has_tf32 => Precision::Tf32,
            _ => Precision::Fp32,
        }
    }

    /// `a · b` at this precision (autodiff-aware).
    pub fn matmul(self, a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
        match self {
            Precision::Tf32 => a.matmul(b),
            Precision::Fp32 => Tensor::from_dispatch(burn::backend::Dispatch::matmul_fp32(
                a.into_dispatch(),
                b.into_dispatch(),
            )),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

mod extension;
pub use extension::Fp32Matmul;

#[cfg(test)]
mod tests;
