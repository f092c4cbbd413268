//! Which burn backend runs the model. burn 0.22 selects it through a
//! `Device`; this enum is the user-facing name of each ([`crate::device`]
//! opens one).

use crate::GruError;
use serde::{Deserialize, Serialize};

/// A compute backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// burn's `flex` CPU backend (the default: faster than ndarray here,
    /// see the book's Performance chapter).
    #[default]
    Flex,
    /// burn's `ndarray` CPU backend.
    Ndarray,
    /// A GPU through Vulkan with cubecl's SPIR-V compiler (feature `vulkan`).
    Vulkan,
    /// A GPU through CUDA (feature `cuda`).
    Cuda,
    /// A GPU through wgpu on any graphics API with WGSL shaders (feature
    /// `wgpu`; portable, and what CI runs on a software Vulkan driver).
    Wgpu,
}

impl Backend {
    pub const ALL: [Backend; 5] = [
        Backend::Flex,
        Backend::Ndarray,
        Backend::Vulkan,
        Backend::Cuda,
        Backend::Wgpu,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Vulkan => "vulkan",
            Backend::Cuda => "cuda",
            Backend::Wgpu => "wgpu",
        }
    }

    pub fn parse(name: &str) -> Result<Self, GruError> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| GruError::Unknown {
                kind: "backend",
                name: name.to_owned(),
                known: "flex, ndarray, vulkan, cuda, wgpu",
            })
    }

    /// Whether this backend runs on the CPU.
    pub fn is_cpu(self) -> bool {
        matches!(self, Backend::Flex | Backend::Ndarray)
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
