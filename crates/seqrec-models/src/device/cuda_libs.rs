//! Finding the CUDA driver library and libdevice the way the CUDA backend
//! will, so that a missing one is a clear error before training starts.

use std::path::{Path, PathBuf};

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
