//! Kernel launches on the device: per step against the model of
//! `kernels::step_traffic` and the floor, and per training window within a
//! stated bound.

use super::*;

/// The kernels each of the first 10 training windows launches on the GPU
/// backend (counted on this thread through cubecl's launch observer).
fn window_kernels(variant: GruVariant, split: &Split) -> Vec<crate::kernels::KernelCounts> {
    window_kernels_of(variant, split, &params(), ElementWise::Fused)
}

/// One kernel counting at a time: the launch observer is the process's,
/// and a second counting replaces the first (tests run on many threads).
static COUNTING: Mutex<()> = Mutex::new(());

/// [`window_kernels`] with `params` and `elementwise`.
fn window_kernels_of(
    variant: GruVariant,
    split: &Split,
    params: &GruParams,
    elementwise: ElementWise,
) -> Vec<crate::kernels::KernelCounts> {
    let _only_counting = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let counting = crate::kernels::count_kernels();
    let counter = Arc::clone(&counting.counter);
    let marks = Arc::new(Mutex::new(vec![counter.counts()]));
    let sink = Arc::clone(&marks);
    let options = ten_windows(
        elementwise,
        WindowObserver::new(move |_| {
            sink.lock().unwrap().push(counter.counts());
        }),
    );
    fit(variant, params, split, 3, &options).unwrap();
    drop(counting);
    let marks = marks.lock().unwrap().clone();
    marks.windows(2).map(|w| w[1].since(&w[0])).collect()
}

/// Launches per step (forward and backward), by kind: the difference
/// between windows of 10 and of 5 steps, over 5, equal to the model of
/// `kernels::step_traffic` (whose bytes the book reports), and the
/// element-wise ones against the floor the cell's equations allow. The
/// floor: a step's products with h are where element-wise work must stop
/// (products over the inputs are batched over the window); the standard
/// and linear cells need one stage after the gate product (gates, `r *
/// h`) and one after the candidate product (`k`, the new state), the
/// rectified and attentional ones a third (κ's thresholds, or the
/// attention gate and its mix, feed a product of their own); the backward
/// pass mirrors them.
#[test]
fn launches_per_step_match_the_model_and_approach_the_floor() {
    use crate::kernels::{KernelKind, StepShape, element_wise_floor, step_traffic};
    let Some(_) = gpu() else { return };
    let split = random_split(30, 40, 25);
    let per_step = |variant: GruVariant, elementwise: ElementWise| {
        // The steady window with the fewest launches (no lane resets).
        let fewest = |window: usize| {
            let p = GruParams { window, ..params() };
            window_kernels_of(variant, &split, &p, elementwise)[2..]
                .iter()
                .min_by_key(|c| c.total())
                .map(|c| c.by_kind())
                .unwrap_or_default()
        };
        let (five, ten) = (fewest(5), fewest(10));
        KernelKind::ALL
            .iter()
            .map(|k| {
                let (a, b) = (
                    five.get(k).copied().unwrap_or(0),
                    ten.get(k).copied().unwrap_or(0),
                );
                assert!(b >= a && (b - a) % 5 == 0, "{variant:?} {k:?}: {a} → {b}");
                ((b - a) / 5) as u64
            })
            .collect::<Vec<u64>>()
    };
    let p = params();
    let shape = StepShape {
        lanes: p.lanes,
        hidden: p.hidden,
        steps: p.window,
    };
    for variant in GruVariant::ALL {
        let floor = element_wise_floor(variant) as f64;
        let mut element_wise = Vec::new();
        for mode in [ElementWise::Composed, ElementWise::Fused] {
            let measured = per_step(variant, mode);
            let model = step_traffic(variant, mode, shape).by_kind();
            let modelled: Vec<u64> = KernelKind::ALL.iter().map(|k| model[k].launches).collect();
            eprintln!(
                "{variant:?} {mode:?}: {measured:?} launches per step (products, element-wise, reductions, data movement)"
            );
            assert_eq!(
                measured, modelled,
                "{variant:?} {mode:?}: measured vs the model"
            );
            element_wise.push(measured[1] as f64);
        }
        let (composed, fused) = (element_wise[0], element_wise[1]);
        // Below the floor would mean the counting misses launches.
        assert!(fused >= floor, "{variant:?}: {fused}");
        // The fused stages remove the chains of burn's operations; what
        // remains above the floor is autodiff's gradient bookkeeping.
        assert!(fused < composed * 0.75, "{variant:?}: {composed} → {fused}");
    }
}

/// Kernel launches per training window, by kind, for every variant:
/// within a stated bound, so a change that adds kernels to the step shows
/// here. (Windows differ by a few launches: a lane whose user's sequence
/// ends is reset, which takes kernels of its own.) The bounds are today's counts at this shape (hidden 16,
/// 8 lanes, 5 steps) and are lowered as kernels are fused.
#[test]
fn kernel_launches_per_window_stay_within_their_bound() {
    use crate::kernels::KernelKind;
    let Some(_) = gpu() else { return };
    let split = random_split(30, 40, 25);
    for (variant, bound) in GruVariant::ALL.into_iter().zip(KERNELS_PER_WINDOW_BOUND) {
        let windows = window_kernels(variant, &split);
        assert_eq!(windows.len(), 10, "{variant:?}");
        // The first windows compile kernels and warm caches: steady from the third.
        let steady = &windows[2..];
        let totals: Vec<usize> = steady.iter().map(|c| c.total()).collect();
        let most = totals.iter().copied().max().unwrap_or(0);
        let kinds = steady[0].by_kind();
        eprintln!(
            "{variant:?}: {} to {most} launches per window ({} in the first steady one)",
            totals.iter().copied().min().unwrap_or(0),
            KernelKind::ALL
                .iter()
                .map(|k| format!("{} {}", kinds[k], k.name()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for (name, n) in &steady[0].by_name {
            eprintln!("    {n:>4} × {name} ({})", KernelKind::of(name).name());
        }
        assert!(totals[0] > 0, "{variant:?}: no launch counted");
        assert!(kinds[&KernelKind::Product] > 0, "{variant:?}: {kinds:?}");
        assert!(
            most <= bound,
            "{variant:?}: {most} launches in a window, over the bound of {bound} ({totals:?})"
        );
    }
}

/// The most kernel launches a training window may take, per variant (in
/// `GruVariant::ALL`'s order), at `params()`'s shape: the counts measured
/// on lavapipe on 2026-12-05 with the fused element-wise stages, the fused
/// output kernel, the projection split once per window, the step weights'
/// gradients once per window and Adam in one kernel per parameter (193,
/// 234, 337 and 373 at most over eight steady windows; 489, 566, 755 and
/// 931 composed) with a margin of about 2% for windows with more lane
/// resets. Lower them as kernels are fused; raise them only knowingly.
const KERNELS_PER_WINDOW_BOUND: [usize; 4] = [198, 241, 346, 384];
