//! Opening a backend's device: which one (`--device N`), whether this
//! machine has it, and what it is (the adapter and, on the GPU, which
//! compiler cubecl feeds it).
//!
//! GPU stacks report a missing driver by panicking deep inside; this module
//! asks first (enumeration, libdevice) and runs a tiny kernel with the math
//! functions training uses, so a machine that cannot train says so in one
//! clear error before any training starts.

use crate::{Backend, GruError};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What a model runs on, for logs and reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub backend: Backend,
    /// Index among this backend's devices (0 on the CPU backends).
    pub index: usize,
    /// Devices of this backend found on the machine.
    pub available: usize,
    /// The device as its driver names it (`NVIDIA H200`,
    /// `llvmpipe (LLVM 15.0.6, 256 bits)`); `cpu` for the CPU backends.
    pub name: String,
    /// What kind of adapter (`discrete GPU`, `CPU (software)`, …).
    pub kind: Option<String>,
    /// The graphics API it is reached through (`Vulkan`, `Metal`, `DX12`).
    #[serde(default)]
    pub api: Option<String>,
    /// The cubecl runtime and the compiler it feeds the device:
    /// `wgpu<spirv>` (Vulkan's SPIR-V path), `wgpu<wgsl>` (the WGSL
    /// fallback), `cuda`.
    pub runtime: Option<String>,
    /// CUDA: the libdevice bitcode linked for exp/tanh/sigmoid.
    pub libdevice: Option<PathBuf>,
    /// CUDA: the CUDA API version the driver bindings were built for
    /// (`CUDARC_CUDA_VERSION` at build time).
    pub cuda_api: Option<String>,
    /// Whether the device has TF32 tensor-core products (cubecl registers
    /// the type and a TF32 CMMA shape: CUDA on Ampere and newer), which
    /// [`crate::Precision::Tf32`] then uses.
    #[serde(default)]
    pub tf32: bool,
    /// The memory its cubecl runtime reports it may use, in bytes (GPU
    /// backends, where the runtime has a figure).
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

impl DeviceInfo {
    fn cpu(backend: Backend) -> Self {
        DeviceInfo {
            backend,
            index: 0,
            available: 1,
            name: "cpu".into(),
            kind: None,
            api: None,
            runtime: None,
            libdevice: None,
            cuda_api: None,
            tf32: false,
            memory_bytes: None,
        }
    }

    /// How many bytes one chunk of the output layer may take here
    /// ([`crate::GruParams::chunk_rows_within`]).
    pub fn output_chunk_bytes(&self) -> u64 {
        if self.backend.is_cpu() {
            crate::params::CPU_OUTPUT_CHUNK_BYTES
        } else {
            crate::params::gpu_output_chunk_bytes(self.memory_bytes)
        }
    }

    /// One line for logs: `vulkan device 0 of 1: llvmpipe (…) [CPU (software), wgpu<spirv>]`.
    pub fn summary(&self) -> String {
        let mut extra: Vec<String> = Vec::new();
        extra.extend(self.kind.clone());
        extra.extend(self.api.clone());
        extra.extend(self.runtime.clone());
        extra.extend(self.cuda_api.as_ref().map(|v| format!("CUDA API {v}")));
        if self.tf32 {
            extra.push("TF32 tensor cores".into());
        }
        extra.extend(
            self.libdevice
                .as_ref()
                .map(|p| format!("libdevice {}", p.display())),
        );
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" [{}]", extra.join(", "))
        };
        format!(
            "{} device {} of {}: {}{extra}",
            self.backend, self.index, self.available, self.name
        )
    }
}

/// A device opened for training or scoring.
#[derive(Clone, Debug)]
pub struct OpenedDevice {
    pub device: Device,
    pub info: DeviceInfo,
}

impl Backend {
    /// Opens device `index` of this backend (default: the first, GPUs
    /// before software adapters), after checking that the machine has it
    /// and that a kernel using exp, tanh and sigmoid runs there.
    #[allow(deprecated)] // ndarray is deprecated in burn 0.22 but is the backend the project was asked for.
    pub fn open(self, index: Option<usize>) -> Result<OpenedDevice, GruError> {
        if let Some(i) = index.filter(|&i| i > 0 && self.is_cpu()) {
            return Err(GruError::DeviceIndex {
                backend: self.name(),
                index: i,
                available: vec!["cpu".into()],
            });
        }
        match self {
            Backend::Flex => Ok(OpenedDevice {
                device: Device::flex(),
                info: DeviceInfo::cpu(self),
            }),
            Backend::Ndarray => Ok(OpenedDevice {
                device: Device::ndarray(),
                info: DeviceInfo::cpu(self),
            }),
            #[cfg(feature = "vulkan")]
            Backend::Vulkan => gpu::open_wgpu(self, index),
            #[cfg(not(feature = "vulkan"))]
            Backend::Vulkan => Err(GruError::BackendMissing("vulkan")),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => gpu::open_wgpu(self, index),
            #[cfg(not(feature = "wgpu"))]
            Backend::Wgpu => Err(GruError::BackendMissing("wgpu")),
            #[cfg(feature = "cuda")]
            Backend::Cuda => gpu::open_cuda(index),
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda => Err(GruError::BackendMissing("cuda")),
        }
    }

    /// The first device of this backend (see [`Backend::open`]).
    pub fn device(self) -> Result<Device, GruError> {
        self.open(None).map(|d| d.device)
    }
}

mod cuda_libs;
#[cfg(any(feature = "vulkan", feature = "cuda", feature = "wgpu"))]
mod gpu;

pub use cuda_libs::{CUDA_ROOTS, find_libcuda, find_libdevice};

/// Runs `f`, turning a panic inside it (how GPU stacks report a missing
/// driver, a failed kernel compilation or a lost device) into an error,
/// without the panic message and backtrace the default hook would print.
/// (Public for the kernel probe, which opens its device itself.)
#[doc(hidden)]
pub fn guarded<T>(
    backend: Backend,
    what: &str,
    f: impl FnOnce() -> Result<T, GruError>,
) -> Result<T, GruError> {
    if backend.is_cpu() {
        return f();
    }
    use std::sync::{Arc, Mutex};
    let message = Arc::new(Mutex::new(None::<String>));
    let seen = Arc::clone(&message);
    let previous = Arc::new(std::panic::take_hook());
    let forward = Arc::clone(&previous);
    let guarded_thread = std::thread::current().id();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let place = info
            .location()
            .map(|l| format!(" (at {}:{})", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut slot) = seen.lock() {
            slot.get_or_insert(format!("{text}{place}"));
        }
        // Another thread's panic (a parallel test, a device thread) is
        // still reported the usual way.
        if std::thread::current().id() != guarded_thread {
            forward(info);
        }
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    drop(std::panic::take_hook()); // ours, which holds `forward`
    match Arc::try_unwrap(previous) {
        Ok(hook) => std::panic::set_hook(hook),
        Err(shared) => std::panic::set_hook(Box::new(move |info| shared(info))),
    }
    outcome.unwrap_or_else(|_| {
        let message = message
            .lock()
            .ok()
            .and_then(|m| m.clone())
            .unwrap_or_else(|| "unknown panic".into());
        Err(GruError::BackendFailed {
            backend: backend.name(),
            what: what.to_owned(),
            message,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libdevice_is_found_as_cubecl_finds_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let toolkit = tmp.path().join("cuda");
        let dir = toolkit.join("nvvm/libdevice");
        std::fs::create_dir_all(&dir).expect("dirs");
        std::fs::write(dir.join("libdevice.10.bc"), b"BC").expect("file");
        let empty = tmp.path().join("empty");
        std::fs::create_dir_all(&empty).expect("empty");

        // The first root with the folder wins.
        let found = find_libdevice(None, &[&empty, &toolkit]).expect("found");
        assert_eq!(found, dir.join("libdevice.10.bc"));
        // CUDA_PATH is used alone: a CUDA_PATH without libdevice is an
        // error even where a root has it, and the message says so.
        let err = find_libdevice(Some(&empty), &[&toolkit]).expect_err("CUDA_PATH wins");
        assert!(err.contains("no other place is searched"), "{err}");
        assert!(err.contains("nvidia-cuda-nvcc-cu12"), "{err}");
        assert_eq!(
            find_libdevice(Some(&toolkit), &[]).expect("via CUDA_PATH"),
            dir.join("libdevice.10.bc")
        );
        // Nothing anywhere: the message lists where it looked.
        let err = find_libdevice(None, &[&empty]).expect_err("missing");
        assert!(
            err.contains(&format!("{}/nvvm/libdevice", empty.display())),
            "{err}"
        );
    }

    #[test]
    fn cpu_backends_have_one_device() {
        let opened = Backend::Flex.open(None).expect("flex");
        assert_eq!(opened.info.name, "cpu");
        assert_eq!(opened.info.summary(), "flex device 0 of 1: cpu");
        let err = Backend::Flex
            .open(Some(1))
            .expect_err("no second CPU device");
        assert!(err.to_string().contains("device 1"), "{err}");
    }

    #[test]
    fn a_panic_inside_a_gpu_call_becomes_an_error() {
        let err = guarded(Backend::Vulkan, "testing", || -> Result<(), GruError> {
            panic!("Unable to acquire wgpu device")
        })
        .expect_err("converted");
        let text = err.to_string();
        assert!(
            text.contains("vulkan") && text.contains("testing"),
            "{text}"
        );
        assert!(text.contains("Unable to acquire wgpu device"), "{text}");
        // The previous hook is back: a later guarded call still works.
        assert_eq!(guarded(Backend::Vulkan, "again", || Ok(3)).expect("ok"), 3);
    }
}
