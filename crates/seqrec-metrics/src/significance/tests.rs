use super::*;

/// Differences of Darwin's Zea mays data (Fisher 1935), the example of
/// `scipy.stats.wilcoxon`'s documentation, which gives statistic 24 and
/// p = 0.041259765625 (two-sided, exact).
const DARWIN: [f64; 15] = [
    6., 8., 14., 16., 23., 24., 28., 29., 41., -48., 49., 56., 60., -67., 75.,
];

#[test]
fn exact_p_value_of_the_scipy_documentation_example() {
    let zeros = [0.0; 15];
    let w = wilcoxon_signed_rank(&DARWIN, &zeros).unwrap();
    assert_eq!(w.method, WilcoxonMethod::Exact);
    assert_eq!(w.w_minus, 24.0);
    assert_eq!(w.w_plus, 96.0);
    assert_eq!(w.p_value, 0.041259765625);
    // Swapping the samples gives the same two-sided p-value.
    assert_eq!(
        wilcoxon_signed_rank(&zeros, &DARWIN).unwrap().p_value,
        0.041259765625
    );
}

#[test]
fn exact_p_value_with_tied_and_zero_differences() {
    // With tied |d| the exact p-value is the permutation distribution of the
    // observed mid-ranks: every one of the 2^8 sign patterns equally likely.
    // It is checked here against plain enumeration (0.3359375 = 86/256; the
    // same enumeration in Python agrees). scipy 1.17.1's `method='exact'`
    // reports 0.3828125 for these data because it does not condition on the
    // ties; specification §3 asks for the exact distribution, which this is.
    let x = [1.5, -0.5, 2.5, 2.5, -1.0, 3.0, 0.5, -2.5, 4.0];
    let y = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0];
    let w = wilcoxon_signed_rank(&x, &y).unwrap();
    assert_eq!((w.pairs, w.zeros_dropped), (8, 1));
    assert_eq!(w.w_minus, 10.5);
    let ranks = [4.0, 1.5, 6.0, 6.0, 3.0, 8.0, 1.5, 6.0];
    let (mut le, mut ge) = (0u32, 0u32);
    for pattern in 0u32..256 {
        let s: f64 = (0..8)
            .filter(|b| pattern >> b & 1 == 1)
            .map(|b| ranks[b])
            .sum();
        le += u32::from(s <= w.w_plus);
        ge += u32::from(s >= w.w_plus);
    }
    let enumerated = 2.0 * f64::from(le.min(ge)) / 256.0;
    assert_eq!(enumerated, 0.3359375);
    assert_eq!(w.p_value, enumerated);
}

#[test]
fn normal_approximation_with_ties_above_fifty_pairs() {
    // d_i = ((37 i) mod 23) - k for i in 0..60: 57 or 58 non-zero pairs,
    // many tied |d|. Reference: scipy 1.17.1, wilcoxon(d, zero_method='wilcox',
    // method='approx', correction=False).
    for (shift, statistic, p) in [
        (11, 808.0, 0.8830236009246523),
        (8, 474.5, 0.0031533488349645717),
    ] {
        let d: Vec<f64> = (0..60).map(|i| f64::from((i * 37) % 23 - shift)).collect();
        let w = wilcoxon_signed_rank(&d, &vec![0.0; 60]).unwrap();
        assert_eq!(w.method, WilcoxonMethod::Normal);
        assert_eq!(w.w_plus.min(w.w_minus), statistic);
        assert!((w.p_value - p).abs() < 1e-12, "{} vs {p}", w.p_value);
    }
}

#[test]
fn erfc_matches_known_values() {
    // Abramowitz & Stegun table 7.1 / high-precision references.
    for (x, want) in [
        (0.0, 1.0),
        (0.5, 0.479_500_122_186_953_5),
        (1.0, 0.157_299_207_050_285_1),
        (2.0, 0.004_677_734_981_047_266),
        (3.0, 2.209_049_699_858_544e-5),
        (5.0, 1.537_459_794_428_035e-12),
        (-1.0, 1.842_700_792_949_715),
    ] {
        let got = erfc(x);
        assert!(
            ((got - want) / want).abs() < 1e-11,
            "erfc({x}) = {got}, want {want}"
        );
    }
}

#[test]
fn identical_samples_and_length_mismatch() {
    let w = wilcoxon_signed_rank(&[0.1, 0.2], &[0.1, 0.2]).unwrap();
    assert_eq!((w.pairs, w.p_value), (0, 1.0));
    assert!(wilcoxon_signed_rank(&[0.1], &[0.1, 0.2]).is_err());
}

#[test]
fn bootstrap_is_seeded_and_brackets_the_mean() {
    let x: Vec<f64> = (0..200).map(|i| f64::from(i % 17) / 17.0).collect();
    let y: Vec<f64> = (0..200).map(|i| f64::from(i % 13) / 13.0 - 0.05).collect();
    let a = paired_bootstrap(&x, &y, 10_000, 0.95, 7).unwrap();
    let b = paired_bootstrap(&x, &y, 10_000, 0.95, 7).unwrap();
    assert_eq!(a, b);
    assert!(
        a.low < a.mean_difference && a.mean_difference < a.high,
        "{a:?}"
    );
    let c = paired_bootstrap(&x, &y, 10_000, 0.95, 8).unwrap();
    assert_ne!(a.low, c.low);
    // A constant difference has a degenerate interval.
    let d = paired_bootstrap(&[1.0, 2.0, 3.0], &[0.5, 1.5, 2.5], 1000, 0.9, 1).unwrap();
    assert_eq!((d.low, d.high, d.mean_difference), (0.5, 0.5, 0.5));
    assert!(paired_bootstrap(&[], &[], 10, 0.9, 1).is_err());
}
