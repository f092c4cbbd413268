//! Sampler tests: determinism, log scales and steps, the grid, and TPE
//! moving towards the good region.

use super::*;
use crate::settings::SamplerKind;
use crate::space::{Distribution, Scale, SettingsTable};
use crate::trial::{TrialRecord, TrialState};
use std::collections::BTreeMap;

fn space() -> Space {
    Space {
        table: SettingsTable::Gru,
        params: BTreeMap::from([
            (
                "hidden".to_owned(),
                Distribution::Int {
                    min: 64,
                    max: 1024,
                    step: 32,
                    scale: Scale::Linear,
                },
            ),
            (
                "learning_rate".to_owned(),
                Distribution::Float {
                    min: 1e-4,
                    max: 1e-1,
                    step: None,
                    scale: Scale::Log,
                },
            ),
            (
                "lanes".to_owned(),
                Distribution::Choice {
                    values: vec![32.into(), 100.into(), 1000.into()],
                },
            ),
        ]),
    }
}

fn sampler(kind: SamplerKind, seed: u64) -> Sampler {
    Sampler {
        kind,
        seed,
        tpe: TpeSettings::default(),
    }
}

/// A finished trial whose value is a known function of its settings:
/// best at learning rate 1e-3 and hidden 512.
fn scored(number: u64, params: Params) -> TrialRecord {
    let lr = params["learning_rate"].as_f64().unwrap_or(1.0);
    let hidden = params["hidden"].as_f64().unwrap_or(0.0);
    let value = -(lr.log10() + 3.0).powi(2) - ((hidden - 512.0) / 512.0).powi(2);
    let mut t = TrialRecord::claimed(number, params, "w", 0);
    t.state = TrialState::Complete;
    t.value = Some(value);
    t
}

fn run(kind: SamplerKind, seed: u64, trials: u64) -> Vec<TrialRecord> {
    let s = sampler(kind, seed);
    let mut space = space();
    if kind == SamplerKind::Grid {
        // A grid needs steps: the learning rate on a grid of its own.
        space.params.insert(
            "learning_rate".to_owned(),
            Distribution::Choice {
                values: vec![1e-4.into(), 1e-3.into(), 1e-2.into()],
            },
        );
    }
    let mut history = Vec::new();
    for number in 1..=trials {
        let Some(params) = s.propose(&space, number, &history).expect("proposal") else {
            break;
        };
        history.push(scored(number, params));
    }
    history
}

#[test]
fn proposals_are_deterministic_given_the_seed() {
    for kind in [SamplerKind::Random, SamplerKind::Tpe, SamplerKind::Grid] {
        let a = run(kind, 11, 30);
        let b = run(kind, 11, 30);
        assert_eq!(a, b, "{kind:?}");
        if kind != SamplerKind::Grid {
            let c = run(kind, 12, 30);
            assert_ne!(
                a.iter().map(|t| &t.params).collect::<Vec<_>>(),
                c.iter().map(|t| &t.params).collect::<Vec<_>>(),
                "{kind:?}: another seed, other trials"
            );
        }
    }
}

#[test]
fn log_scales_and_steps_are_honoured() {
    let trials = run(SamplerKind::Random, 3, 2000);
    let mut below_1e3 = 0;
    for t in &trials {
        let hidden = t.params["hidden"].as_i64().expect("int");
        assert!(
            (64..=1024).contains(&hidden) && (hidden - 64) % 32 == 0,
            "{hidden}"
        );
        let lr = t.params["learning_rate"].as_f64().expect("float");
        assert!((1e-4..=1e-1).contains(&lr), "{lr}");
        below_1e3 += usize::from(lr < 1e-3);
        assert!([32, 100, 1000].contains(&t.params["lanes"].as_i64().expect("int")));
    }
    // Log-uniform: a third of the draws below 1e-3 (uniform would give 0.9%).
    let share = below_1e3 as f64 / trials.len() as f64;
    assert!((share - 1.0 / 3.0).abs() < 0.05, "{share}");
    // Every step value is reachable, the ends included, about equally often.
    let mut counts = BTreeMap::new();
    for t in &trials {
        *counts
            .entry(t.params["hidden"].as_i64().unwrap_or(0))
            .or_insert(0usize) += 1;
    }
    assert_eq!(counts.len(), 31);
    assert!(counts.values().all(|&c| c > 30 && c < 110), "{counts:?}");
}

#[test]
fn the_grid_visits_every_point_once_then_stops() {
    let mut s = space();
    s.params.remove("learning_rate");
    let trials = {
        let sampler = sampler(SamplerKind::Grid, 1);
        let mut out = Vec::new();
        for number in 1..200 {
            match sampler.propose(&s, number, &[]).expect("proposal") {
                Some(p) => out.push(p),
                None => break,
            }
        }
        out
    };
    assert_eq!(trials.len(), 31 * 3);
    let distinct: std::collections::BTreeSet<String> =
        trials.iter().map(|p| format!("{p:?}")).collect();
    assert_eq!(distinct.len(), trials.len());
    assert_eq!(sampler(SamplerKind::Grid, 1).capacity(&s), Some(94));
    // A continuous range cannot be gridded.
    let error = sampler(SamplerKind::Grid, 1)
        .check(&space())
        .err()
        .map(|e| e.to_string());
    assert!(error.is_some_and(|e| e.contains("learning_rate") && e.contains("step")));
}

#[test]
fn tpe_concentrates_on_the_good_region() {
    // Median distance of the last 30 of 60 trials' learning rates from the
    // optimum, in decades: TPE well below random.
    let spread = |trials: &[TrialRecord]| {
        let mut d: Vec<f64> = trials[30..]
            .iter()
            .map(|t| (t.params["learning_rate"].as_f64().unwrap_or(1.0).log10() + 3.0).abs())
            .collect();
        d.sort_by(f64::total_cmp);
        d[d.len() / 2]
    };
    let (mut tpe, mut random) = (0.0, 0.0);
    for seed in 0..5 {
        tpe += spread(&run(SamplerKind::Tpe, seed, 60));
        random += spread(&run(SamplerKind::Random, seed, 60));
    }
    assert!(tpe < 0.6 * random, "TPE {tpe} vs random {random}");
}
