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
use std::path::{Path, PathBuf};

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
        }
    }

    /// One line for logs: `vulkan device 0 of 1: llvmpipe (…) [CPU (software), wgpu<spirv>]`.
    pub fn summary(&self) -> String {
        let mut extra: Vec<String> = Vec::new();
        extra.extend(self.kind.clone());
        extra.extend(self.api.clone());
        extra.extend(self.runtime.clone());
        extra.extend(self.cuda_api.as_ref().map(|v| format!("CUDA API {v}")));
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

/// Where cubecl looks for `libdevice.10.bc` (cubecl-llvm's `libdevice.rs`):
/// `$CUDA_PATH` alone when it is set, else the first of these with an
/// `nvvm/libdevice` folder.
pub const CUDA_ROOTS: [&str; 4] = ["/usr/local/cuda", "/opt/cuda", "/usr/lib/cuda", "/usr"];

/// The libdevice file cubecl will link, found the way cubecl finds it, or a
/// message saying where it looked and how to get one.
pub fn find_libdevice(cuda_path: Option<&Path>, roots: &[&Path]) -> Result<PathBuf, String> {
    let file = |root: &Path| root.join("nvvm").join("libdevice").join("libdevice.10.bc");
    let how = "CUDA kernels are compiled with LLVM and link libdevice for exp, tanh and sigmoid. \
               Install the CUDA toolkit, or on a machine with only the NVIDIA driver: \
               `python3 -m pip install nvidia-cuda-nvcc-cu12` and set CUDA_PATH to its folder \
               (`python3 -c \"import nvidia.cuda_nvcc; print(list(nvidia.cuda_nvcc.__path__)[0])\"`)";
    if let Some(root) = cuda_path {
        let path = file(root);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "CUDA_PATH is {} but {} does not exist (with CUDA_PATH set, no other place is searched). {how}",
                root.display(),
                path.display()
            ))
        };
    }
    let root = roots
        .iter()
        .find(|r| r.join("nvvm").join("libdevice").is_dir())
        .ok_or_else(|| {
            format!(
                "libdevice.10.bc was not found (CUDA_PATH is not set; looked in {}). {how}",
                roots
                    .iter()
                    .map(|r| format!("{}/nvvm/libdevice", r.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let path = file(root);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} has no libdevice.10.bc. {how}",
            root.join("nvvm/libdevice").display()
        ))
    }
}

/// Folders where the NVIDIA driver's `libcuda.so.1` usually is.
const DRIVER_DIRS: [&str; 6] = [
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/nvidia/lib64",
    "/usr/local/nvidia/lib",
    "/usr/lib/wsl/lib",
];

/// Where `libcuda.so.1` is, looking in `LD_LIBRARY_PATH` and the usual
/// driver folders (only to phrase the error well: the loader decides).
pub fn find_libcuda() -> Option<PathBuf> {
    let from_env = std::env::var_os("LD_LIBRARY_PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    from_env
        .into_iter()
        .chain(DRIVER_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join("libcuda.so.1"))
        .find(|p| p.exists())
}

/// Runs `f`, turning a panic inside it (how GPU stacks report a missing
/// driver, a failed kernel compilation or a lost device) into an error,
/// without the panic message and backtrace the default hook would print.
pub(crate) fn guarded<T>(
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

#[cfg(any(feature = "vulkan", feature = "cuda", feature = "wgpu"))]
mod gpu {
    use super::*;

    /// How a software rasterizer's adapter (lavapipe, llvmpipe) is labelled.
    const SOFTWARE: &str = "CPU (software)";
    use burn::cubecl::Device as CubeDevice;
    use burn::tensor::Tensor;

    /// A kernel with the math functions the cells use, read back: compiles
    /// and runs on the device, or the device cannot train.
    fn warm_up(device: &Device) -> Result<(), GruError> {
        let x = Tensor::<1>::from_floats([-1.0, 0.0, 0.5, 2.0], device);
        let y = burn::tensor::activation::sigmoid(x.clone().tanh()) + x.exp();
        let values = y
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| GruError::Backend(format!("{e:?}")))?;
        let want: Vec<f32> = [-1.0f32, 0.0, 0.5, 2.0]
            .iter()
            .map(|&v| 1.0 / (1.0 + (-v.tanh()).exp()) + v.exp())
            .collect();
        let close = values
            .iter()
            .zip(&want)
            .all(|(a, b)| (a - b).abs() <= 1e-4 * b.abs().max(1.0));
        if close && values.len() == want.len() {
            Ok(())
        } else {
            Err(GruError::Backend(format!(
                "the device computed {values:?} for a test kernel whose answer is {want:?}"
            )))
        }
    }

    /// Opens `cube`, names it, and runs the warm-up kernel.
    fn finish(
        backend: Backend,
        cube: CubeDevice,
        mut info: DeviceInfo,
    ) -> Result<OpenedDevice, GruError> {
        guarded(backend, "opening the device", || {
            let client = cube.client();
            info.runtime = Some(client.name().to_owned());
            info.name = client.properties().identity.name.clone();
            // Mesa's lavapipe (22.3 and 25.0 seen) crashes the process
            // compiling cubecl's SPIR-V matrix product: refuse rather than
            // segfault at the first product.
            if info.runtime.as_deref() == Some("wgpu<spirv>")
                && info.kind.as_deref() == Some(SOFTWARE)
            {
                return Err(GruError::NoDevice {
                    backend: backend.name(),
                    message: format!(
                        "the Vulkan device is a software driver ({}), which crashes compiling the SPIR-V kernels of this build's `vulkan` feature; run on a GPU, or build with the `wgpu` feature alone (WGSL shaders, which software drivers run) and use --backend wgpu",
                        info.name
                    ),
                });
            }
            let device = Device::new(cube);
            tracing::info!(device = %info.summary(), "opened");
            warm_up(&device)?;
            Ok(OpenedDevice { device, info })
        })
    }

    /// `vulkan`: Vulkan only (cubecl's SPIR-V compiler where the device
    /// allows it); `wgpu`: Vulkan, Metal or DX12 (wgpu's OpenGL path is left
    /// out: its compute support is limited and untested here).
    #[cfg(any(feature = "vulkan", feature = "wgpu"))]
    pub(super) fn open_wgpu(
        backend: Backend,
        index: Option<usize>,
    ) -> Result<OpenedDevice, GruError> {
        use burn::cubecl::device::{WgpuBackend, WgpuDevice, WgpuDeviceKind};
        let apis: &[(WgpuBackend, &str)] = if backend == Backend::Vulkan {
            &[(WgpuBackend::Vulkan, "Vulkan")]
        } else {
            &[
                (WgpuBackend::Vulkan, "Vulkan"),
                (WgpuBackend::Metal, "Metal"),
                (WgpuBackend::Dx12, "DX12"),
            ]
        };
        // GPUs first, then software adapters (lavapipe enumerates as a CPU).
        let kinds = [
            (WgpuDeviceKind::DiscreteGpu(0), "discrete GPU"),
            (WgpuDeviceKind::IntegratedGpu(0), "integrated GPU"),
            (WgpuDeviceKind::VirtualGpu(0), "virtual GPU"),
            (WgpuDeviceKind::Cpu, SOFTWARE),
            (WgpuDeviceKind::Other(0), "other"),
        ];
        let mut found: Vec<(CubeDevice, &str, &str)> = Vec::new();
        guarded(backend, "listing devices", || {
            for (kind, label) in kinds {
                for &(api, api_name) in apis {
                    let seed = CubeDevice::Wgpu(WgpuDevice::new(kind.clone()).on(api));
                    for id in CubeDevice::enumerate(seed.to_id()) {
                        let device = CubeDevice::from_id(id);
                        if !found.iter().any(|(d, _, _)| *d == device) {
                            found.push((device, label, api_name));
                        }
                    }
                }
            }
            Ok(())
        })?;
        if found.is_empty() {
            return Err(GruError::NoDevice {
                backend: backend.name(),
                message: "no Vulkan device was found (nor, for wgpu, a Metal or DX12 one): the Vulkan loader \
                          (libvulkan.so.1) or a Vulkan driver is missing. Install your GPU's Vulkan driver; for a check \
                          without a GPU, Mesa's software driver lavapipe (Debian/Ubuntu: apt-get install libvulkan1 \
                          mesa-vulkan-drivers); or train on the CPU with --backend flex"
                    .into(),
            });
        }
        let i = index.unwrap_or(0);
        let Some((cube, label, api_name)) = found.get(i).cloned() else {
            return Err(GruError::DeviceIndex {
                backend: backend.name(),
                index: i,
                available: found
                    .iter()
                    .map(|(_, label, api)| format!("{label} on {api}"))
                    .collect(),
            });
        };
        let info = DeviceInfo {
            backend,
            index: i,
            available: found.len(),
            name: String::new(),
            kind: Some(label.to_owned()),
            api: Some(api_name.to_owned()),
            runtime: None,
            libdevice: None,
            cuda_api: None,
        };
        finish(backend, cube, info)
    }

    #[cfg(feature = "cuda")]
    pub(super) fn open_cuda(index: Option<usize>) -> Result<OpenedDevice, GruError> {
        use burn::cubecl::device::DeviceUnavailable;
        let i = index.unwrap_or(0);
        let cube = match CubeDevice::cuda(i) {
            Ok(cube) => cube,
            Err(DeviceUnavailable::NoSuchDevice { available: 0, .. }) => {
                let message = match find_libcuda() {
                    None => "no CUDA device: the NVIDIA driver library libcuda.so.1 was not found \
                             (looked in LD_LIBRARY_PATH and the usual driver folders). Install the NVIDIA driver \
                             or run on a machine with an NVIDIA GPU; --backend flex trains on the CPU"
                        .to_owned(),
                    Some(path) => format!(
                        "no CUDA device: the driver library {} is there but reports no GPU (does `nvidia-smi` list one?); \
                         --backend flex trains on the CPU",
                        path.display()
                    ),
                };
                return Err(GruError::NoDevice {
                    backend: "cuda",
                    message,
                });
            }
            Err(DeviceUnavailable::NoSuchDevice { available, .. }) => {
                return Err(GruError::DeviceIndex {
                    backend: "cuda",
                    index: i,
                    available: (0..available).map(|d| format!("cuda device {d}")).collect(),
                });
            }
            Err(other) => {
                return Err(GruError::NoDevice {
                    backend: "cuda",
                    message: other.to_string(),
                });
            }
        };
        let cuda_path = std::env::var_os("CUDA_PATH").map(PathBuf::from);
        let roots: Vec<&Path> = CUDA_ROOTS.iter().map(Path::new).collect();
        let libdevice =
            find_libdevice(cuda_path.as_deref(), &roots).map_err(|message| GruError::NoDevice {
                backend: "cuda",
                message,
            })?;
        let available = cuda_device_count();
        let info = DeviceInfo {
            backend: Backend::Cuda,
            index: i,
            available,
            name: String::new(),
            kind: Some("CUDA GPU".into()),
            api: None,
            runtime: None,
            libdevice: Some(libdevice),
            cuda_api: option_env!("CUDARC_CUDA_VERSION").map(str::to_owned),
        };
        finish(Backend::Cuda, cube, info)
    }

    #[cfg(feature = "cuda")]
    fn cuda_device_count() -> usize {
        let mut n = 0;
        while CubeDevice::cuda(n).is_ok() {
            n += 1;
        }
        n
    }
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
