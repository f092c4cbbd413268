use super::*;

/// Launches per step by kind: the counts the counter measured on
/// lavapipe (2026-12-05, `cargo xtask bench kernels`: windows of 10
/// steps minus windows of 5, over 5), per variant, composed then
/// fused: products, element-wise, reductions, data movement.
pub(crate) const MEASURED_PER_STEP: [[[u64; 4]; 2]; 4] = [
    [[6, 42, 0, 9], [4, 9, 0, 7]],
    [[6, 42, 0, 9], [4, 9, 0, 7]],
    [[9, 60, 0, 17], [6, 14, 0, 16]],
    [[12, 77, 1, 19], [6, 15, 1, 18]],
];

/// One lane, one hidden unit (so a state is one float), the standard
/// cell with the fused stages, worked by hand.
#[test]
fn a_fused_standard_step_moves_these_bytes() {
    let one = StepShape {
        lanes: 1,
        hidden: 1,
        steps: 1,
    };
    let step = step_traffic(GruVariant::Gru, ElementWise::Fused, one).by_kind();
    // Forward h·W_h (reads 1 + 2, writes 2) and (r ⊙ h)·W_c (1 + 1,
    // 1); backward the gradients of their inputs (2 + 2 → 1, 1 + 1 →
    // 1); the weights' gradients are the window's.
    let products = step[&KernelKind::Product];
    assert_eq!(
        (
            products.launches,
            products.bytes_read,
            products.bytes_written
        ),
        (4, 4 * (3 + 2 + 4 + 2), 4 * (2 + 1 + 1 + 1))
    );
    // reset (reads 2 + 2 + 1, writes 1), update (1 + 1 + 2 + 2 + 1, 1),
    // their backward (each reading its inputs and the gradient, writing
    // 2 + 1 and 1 + 2 + 1), and the sums of gradients from several
    // uses: the gates' product and projected rows (2 each, once), h
    // (1, three times: the product, both stages and the loss's join).
    let element_wise = step[&KernelKind::ElementWise];
    assert_eq!(
        (
            element_wise.launches,
            element_wise.bytes_read,
            element_wise.bytes_written
        ),
        (
            9,
            4 * (5 + 7 + 6 + 8 + 4 + 4 + 6),
            4 * (1 + 1 + 3 + 4 + 2 + 2 + 3)
        )
    );
    assert_eq!(step[&KernelKind::Reduction].launches, 0);
}

/// At the paper's ML-10M shape the fused stages move a fraction of the
/// composed bytes, and no variant goes below its floor.
#[test]
fn fused_steps_move_fewer_bytes_than_composed_ones() {
    let paper = StepShape {
        lanes: 1000,
        hidden: 1000,
        steps: 20,
    };
    for variant in GruVariant::ALL {
        let of = |mode| step_traffic(variant, mode, paper).by_kind()[&KernelKind::ElementWise];
        let (composed, fused) = (of(ElementWise::Composed), of(ElementWise::Fused));
        let bytes = |t: KindTraffic| t.bytes_read + t.bytes_written;
        assert!(
            bytes(fused) * 3 < bytes(composed),
            "{variant:?}: {composed:?} → {fused:?}"
        );
        assert!(fused.launches >= element_wise_floor(variant), "{variant:?}");
    }
}

#[test]
fn the_model_launches_what_was_measured() {
    let shape = StepShape {
        lanes: 8,
        hidden: 16,
        steps: 5,
    };
    for (variant, measured) in GruVariant::ALL.into_iter().zip(MEASURED_PER_STEP) {
        for (mode, want) in [ElementWise::Composed, ElementWise::Fused]
            .into_iter()
            .zip(measured)
        {
            let model = step_traffic(variant, mode, shape).by_kind();
            let got: Vec<u64> = KernelKind::ALL.iter().map(|k| model[k].launches).collect();
            assert_eq!(got, want, "{variant:?} {mode:?}");
        }
    }
}
