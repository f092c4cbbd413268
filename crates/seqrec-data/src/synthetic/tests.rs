use super::*;

fn small(base: SyntheticConfig) -> SyntheticConfig {
    SyntheticConfig {
        users: 60,
        items: 300,
        events: 60 * 40,
        min_events_per_user: 20,
        ..base
    }
}

#[test]
fn exact_event_count_and_minimum_per_user() {
    for config in [
        small(SyntheticConfig::movielens()),
        small(SyntheticConfig::lastfm()),
    ] {
        let data = generate(&config).unwrap();
        assert_eq!(data.events(), config.events);
        assert_eq!(data.sequences.len(), config.users);
        assert!(
            data.sequences
                .iter()
                .all(|s| s.len() >= config.min_events_per_user)
        );
        assert!(
            data.timestamps
                .iter()
                .all(|t| t.windows(2).all(|w| w[0] <= w[1]))
        );
        let mut ids = data.item_ids.clone();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), config.items, "original item ids are distinct");
    }
}

#[test]
fn movielens_preset_never_repeats_and_lastfm_preset_does() {
    let ml = generate(&small(SyntheticConfig::movielens())).unwrap();
    for seq in &ml.sequences {
        let mut s = seq.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), seq.len());
    }
    let fm = generate(&small(SyntheticConfig::lastfm())).unwrap();
    let repeats: usize = fm
        .sequences
        .iter()
        .map(|seq| {
            let mut s = seq.clone();
            s.sort_unstable();
            s.dedup();
            seq.len() - s.len()
        })
        .sum();
    assert!(repeats > fm.events() / 20, "only {repeats} repeats");
}

/// Share of consecutive events that go on to the next item of the same group.
fn run_share(data: &SyntheticData) -> f64 {
    let mut runs = 0;
    let mut pairs = 0;
    for seq in &data.sequences {
        for w in seq.windows(2) {
            pairs += 1;
            if w[1] == w[0] + 1 && data.item_group[w[0] as usize] == data.item_group[w[1] as usize]
            {
                runs += 1;
            }
        }
    }
    runs as f64 / pairs as f64
}

#[test]
fn planted_structure_is_there() {
    let ml = generate(&SyntheticConfig::movielens()).unwrap();
    let fm = generate(&SyntheticConfig::lastfm()).unwrap();
    // Runs: strong in the LastFM preset, weaker but present for MovieLens
    // (a random next item would continue a run with probability ~1/items).
    let (ml_runs, fm_runs) = (run_share(&ml), run_share(&fm));
    assert!(fm_runs > 0.5, "lastfm runs {fm_runs}");
    assert!(
        ml_runs > 0.1 && ml_runs < fm_runs,
        "movielens runs {ml_runs}"
    );
    // Popularity skew: the top 10% of items hold far more than 10% of events.
    let mut counts = vec![0usize; ml.item_ids.len()];
    ml.sequences
        .iter()
        .flatten()
        .for_each(|&i| counts[i as usize] += 1);
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: usize = counts[..counts.len() / 10].iter().sum();
    assert!(
        top as f64 > 0.3 * ml.events() as f64,
        "top decile holds {top}"
    );
    // Stable tastes: a user's events concentrate on few genres. Compare the
    // share of a user's most frequent group-genre with a uniform draw.
    let mut many_ties = 0;
    for t in &ml.timestamps {
        many_ties += t.windows(2).filter(|w| w[0] == w[1]).count();
    }
    assert!(
        many_ties > ml.events() / 5,
        "weak order needs equal timestamps"
    );
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let config = small(SyntheticConfig::lastfm());
    for format in FileFormat::ALL {
        let a = dir.path().join(format!("a-{}", format.name()));
        let b = dir.path().join(format!("b-{}", format.name()));
        write(&generate(&config).unwrap(), format, &a).unwrap();
        write(&generate(&config).unwrap(), format, &b).unwrap();
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{format:?}"
        );
    }
    let other = SyntheticConfig {
        seed: config.seed + 1,
        ..config.clone()
    };
    assert_ne!(generate(&other).unwrap(), generate(&config).unwrap());
}

#[test]
fn invalid_configs_are_rejected() {
    let base = SyntheticConfig::movielens();
    for bad in [
        SyntheticConfig {
            users: 0,
            ..base.clone()
        },
        SyntheticConfig {
            events: 10,
            ..base.clone()
        },
        SyntheticConfig {
            repeat: 1.5,
            ..base.clone()
        },
        SyntheticConfig {
            items: 5,
            ..base.clone()
        },
    ] {
        assert!(generate(&bad).is_err(), "{bad:?}");
    }
}
