//! Opening a device of a GPU backend (Vulkan, wgpu, CUDA): enumeration,
//! selection by index, the pre-flight checks and a test kernel.

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

/// Whether cubek's automatic matrix product stages f32 operands as TF32
/// on this device: the type is registered (`adjust_dtypes`) and a TF32
/// tensor-core shape exists for the routine to use.
fn has_tf32(properties: &burn::cubecl::ir::DeviceProperties) -> bool {
    use burn::cubecl::ir::{ElemType, FloatKind};
    let tf32 = ElemType::Float(FloatKind::TF32);
    properties.supports_type(tf32)
        && properties
            .features
            .matmul
            .cmma
            .iter()
            .any(|shape| shape.a_type == tf32 && shape.b_type == tf32)
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
        info.tf32 = has_tf32(client.properties());
        info.memory_bytes = client.properties().memory.max_memory();
        // Mesa's lavapipe (22.3 and 25.0 seen) crashes the process
        // compiling cubecl's SPIR-V matrix product: refuse rather than
        // segfault at the first product.
        if info.runtime.as_deref() == Some("wgpu<spirv>") && info.kind.as_deref() == Some(SOFTWARE)
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
pub(super) fn open_wgpu(backend: Backend, index: Option<usize>) -> Result<OpenedDevice, GruError> {
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
        tf32: false,
        memory_bytes: None,
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
    let roots: Vec<&std::path::Path> = CUDA_ROOTS.iter().map(std::path::Path::new).collect();
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
        tf32: false,
        memory_bytes: None,
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
