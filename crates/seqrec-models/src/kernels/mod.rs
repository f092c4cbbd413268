//! Counting the GPU kernels a piece of work launches, by kind, through
//! cubecl's launch observer (called on the issuing thread for every
//! launch, before it reaches the device). Only the cubecl backends launch
//! kernels; on the CPU backends nothing is counted.
//!
//! A kernel's kind comes from its name (the kernel's Rust type, as cubecl
//! names it): products (matrix multiplications), reductions (sums, maxima,
//! arg-maxima), data movement (copies to contiguous layout, gathers,
//! slices, fills) and element-wise work (everything else: unary, binary
//! and fused element-wise kernels, casts).

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

mod traffic;
pub use traffic::{KindTraffic, StepShape, StepTraffic, element_wise_floor, step_traffic};

/// What a kernel does, as far as its cost goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KernelKind {
    Product,
    ElementWise,
    Reduction,
    DataMovement,
}

impl KernelKind {
    pub const ALL: [KernelKind; 4] = [
        KernelKind::Product,
        KernelKind::ElementWise,
        KernelKind::Reduction,
        KernelKind::DataMovement,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KernelKind::Product => "products",
            KernelKind::ElementWise => "element-wise",
            KernelKind::Reduction => "reductions",
            KernelKind::DataMovement => "data movement",
        }
    }

    /// The kind of the kernel named `name`.
    pub fn of(name: &str) -> KernelKind {
        let name = name.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
        if has(&["matmul", "gemm", "cmma", "mma"]) {
            KernelKind::Product
        } else if has(&[
            "reduce", "argmax", "argmin", "sum_dim", "max_dim", "mean_dim", "prod_dim",
        ]) {
            KernelKind::Reduction
        } else if has(&[
            "contiguous",
            "copy",
            "gather",
            "scatter",
            "select",
            "slice",
            "fill",
            "repeat",
            "cat",
            "index",
            "flip",
            "expand",
            "transpose",
            "permute",
        ]) {
            KernelKind::DataMovement
        } else {
            KernelKind::ElementWise
        }
    }
}

/// Kernel launches counted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KernelCounts {
    pub by_name: BTreeMap<String, usize>,
}

impl KernelCounts {
    pub fn total(&self) -> usize {
        self.by_name.values().sum()
    }

    /// Launches per kind (every kind present, zeros included).
    pub fn by_kind(&self) -> BTreeMap<KernelKind, usize> {
        let mut out: BTreeMap<KernelKind, usize> =
            KernelKind::ALL.iter().map(|&k| (k, 0)).collect();
        for (name, n) in &self.by_name {
            *out.entry(KernelKind::of(name)).or_default() += n;
        }
        out
    }

    /// One launch of the kernel cubecl names `name`. Generic arguments
    /// make names long and many: the name up to its first `<` is the
    /// kernel.
    pub fn record(&mut self, name: &str) {
        let short = name.split('<').next().unwrap_or(name);
        *self.by_name.entry(short.to_owned()).or_default() += 1;
    }

    /// `self` minus `earlier` (counts taken from the same counter).
    pub fn since(&self, earlier: &KernelCounts) -> KernelCounts {
        let by_name = self
            .by_name
            .iter()
            .filter_map(|(name, &n)| {
                let before = earlier.by_name.get(name).copied().unwrap_or(0);
                (n > before).then(|| (name.clone(), n - before))
            })
            .collect();
        KernelCounts { by_name }
    }
}

/// Counts the kernels launched while it is installed: by one thread (the
/// one that started the counting, so work issued elsewhere, other tests'
/// for instance, is not counted) or by every thread.
#[derive(Debug)]
pub struct KernelCounter {
    counts: Mutex<KernelCounts>,
    #[cfg_attr(
        not(any(feature = "vulkan", feature = "cuda", feature = "wgpu")),
        allow(dead_code)
    )]
    thread: Option<std::thread::ThreadId>,
}

impl Default for KernelCounter {
    fn default() -> Self {
        KernelCounter {
            counts: Mutex::default(),
            thread: Some(std::thread::current().id()),
        }
    }
}

impl KernelCounter {
    /// The launches so far.
    pub fn counts(&self) -> KernelCounts {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    #[cfg_attr(
        not(any(feature = "vulkan", feature = "cuda", feature = "wgpu")),
        allow(dead_code)
    )]
    fn add(&self, name: &str) {
        if let Ok(mut c) = self.counts.lock() {
            c.record(name);
        }
    }
}

/// Counting in progress: launches are counted until it is dropped.
#[must_use = "counting stops when this is dropped"]
pub struct Counting {
    pub counter: Arc<KernelCounter>,
    #[cfg(any(feature = "vulkan", feature = "cuda", feature = "wgpu"))]
    _observation: burn::cubecl::logging::LaunchObservation,
}

impl std::fmt::Debug for Counting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counting").finish_non_exhaustive()
    }
}

#[cfg(any(feature = "vulkan", feature = "cuda", feature = "wgpu"))]
impl burn::cubecl::logging::LaunchObserver for KernelCounter {
    fn launched(&self, kernel: &'static str) {
        if self.thread.is_none_or(|t| t == std::thread::current().id()) {
            self.add(kernel);
        }
    }
}

/// Starts counting the kernels this thread launches (nothing is counted
/// in a build without a GPU backend). One counting at a time per process:
/// a second replaces the first while it lives.
pub fn count_kernels() -> Counting {
    counting(KernelCounter::default())
}

/// Starts counting the kernels every thread of the process launches (work
/// spread over a thread pool, as evaluation is).
pub fn count_all_kernels() -> Counting {
    counting(KernelCounter {
        thread: None,
        ..KernelCounter::default()
    })
}

fn counting(counter: KernelCounter) -> Counting {
    let counter = Arc::new(counter);
    Counting {
        #[cfg(any(feature = "vulkan", feature = "cuda", feature = "wgpu"))]
        _observation: burn::cubecl::logging::LaunchObservation::new(counter.clone()),
        counter,
    }
}

/// Whether this build can count kernels (it has a GPU backend).
pub const CAN_COUNT: bool = cfg!(any(feature = "vulkan", feature = "cuda", feature = "wgpu"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_names_and_counts_subtract() {
        assert_eq!(
            KernelKind::of("cubek_matmul::tile::Kernel"),
            KernelKind::Product
        );
        assert_eq!(
            KernelKind::of("burn_cubecl::kernel::reduce::ReduceKernel"),
            KernelKind::Reduction
        );
        assert_eq!(
            KernelKind::of("burn_cubecl::kernel::into_contiguous"),
            KernelKind::DataMovement
        );
        assert_eq!(
            KernelKind::of("burn_cubecl::kernel::binary::kernel_binop"),
            KernelKind::ElementWise
        );
        let counter = KernelCounter::default();
        counter.add("a<f32>");
        let first = counter.counts();
        counter.add("a<f16>");
        counter.add("matmul");
        let later = counter.counts();
        assert_eq!(later.total(), 3);
        let since = later.since(&first);
        assert_eq!(since.total(), 2);
        assert_eq!(since.by_kind()[&KernelKind::Product], 1);
        assert_eq!(since.by_kind()[&KernelKind::ElementWise], 1);
        assert_eq!(since.by_kind()[&KernelKind::Reduction], 0);
    }
}
