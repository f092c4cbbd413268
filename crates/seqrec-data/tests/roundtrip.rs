//! Synthetic data written in every real format and read back by the matching
//! loader gives the same split as the in-memory path; the cache follows its
//! source file.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use seqrec_core::UserId;
use seqrec_data::synthetic::{FileFormat, SyntheticConfig, generate, write};
use seqrec_data::{
    DatasetName, DatasetOptions, LoadRequest, MovieLensFormat, SourceFormat, Subsample, load,
    load_file,
};

fn small() -> SyntheticConfig {
    SyntheticConfig {
        users: 80,
        items: 400,
        events: 80 * 30,
        min_events_per_user: 20,
        ..SyntheticConfig::lastfm()
    }
}

fn labels(d: &seqrec_data::Dataset, u: usize) -> Vec<String> {
    d.split
        .sequences()
        .items(UserId(u as u32))
        .iter()
        .map(|i| d.items.label(i.index()).unwrap().into_owned())
        .collect()
}

#[test]
fn every_written_format_loads_back_to_the_same_split() {
    let config = small();
    let mut options = DatasetOptions {
        synthetic: Some(config.clone()),
        ..Default::default()
    };
    let reference = load(
        &DatasetName::SyntheticLastfm,
        &LoadRequest {
            options: options.clone(),
            ..LoadRequest::new(".")
        },
    )
    .unwrap();
    let data = generate(&config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    options.lastfm.subsample = Subsample::None;
    for (format, source, ext) in [
        (
            FileFormat::MovielensDat,
            SourceFormat::MovieLens(MovieLensFormat::Dat),
            "dat",
        ),
        (
            FileFormat::MovielensCsv,
            SourceFormat::MovieLens(MovieLensFormat::Csv),
            "csv",
        ),
        (
            FileFormat::Ml100k,
            SourceFormat::MovieLens(MovieLensFormat::UData),
            "data",
        ),
        (FileFormat::TableCsv, SourceFormat::Table, "csv"),
        (FileFormat::TableParquet, SourceFormat::Table, "parquet"),
    ] {
        let path = dir.path().join(format!("{}.{ext}", format.name()));
        write(&data, format, &path).unwrap();
        let back = load_file(&path, source, &options).unwrap();
        assert_eq!(back.split, reference.split, "{format:?}");
        assert_eq!(back.items, reference.items, "{format:?}");
        assert_eq!(back.users, reference.users, "{format:?}");
    }
    // LastFM keys are text (user_000001, artist/track pairs), so the dense
    // numbering differs; the events per user and their order do not.
    let path = dir.path().join("lastfm.tsv");
    write(&data, FileFormat::Lastfm1k, &path).unwrap();
    let back = load_file(&path, SourceFormat::LastFm1k, &options).unwrap();
    assert_eq!(back.report.skips.malformed, 0);
    assert_eq!(
        back.split.sequences().events(),
        reference.split.sequences().events()
    );
    assert_eq!(
        back.split.catalogue_size(),
        reference.split.catalogue_size()
    );
    for u in 0..reference.split.users() {
        let ids: Vec<String> = labels(&back, u)
            .into_iter()
            .map(|l| l.rsplit("Track ").next().unwrap().to_owned())
            .collect();
        assert_eq!(ids, labels(&reference, u), "user {u}");
    }
}

#[test]
fn cache_follows_the_source_and_survives_damage() {
    let root = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let path = root.path().join("ml-100k/u.data");
    let config = SyntheticConfig {
        users: 50,
        items: 300,
        events: 50 * 25,
        ..SyntheticConfig::movielens()
    };
    write(&generate(&config).unwrap(), FileFormat::Ml100k, &path).unwrap();
    let request = LoadRequest {
        cache_dir: Some(cache.path().to_path_buf()),
        ..LoadRequest::new(root.path())
    };
    let first = load(&DatasetName::Ml100k, &request).unwrap();
    assert!(!first.report.from_cache);
    assert!(
        load(&DatasetName::Ml100k, &request)
            .unwrap()
            .report
            .from_cache
    );

    // Same size, one byte changed: still a miss.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.iter().position(|&b| b == b'\t').unwrap() - 1;
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&path, &bytes).unwrap();
    let changed = load(&DatasetName::Ml100k, &request).unwrap();
    assert!(!changed.report.from_cache);

    // A damaged entry is ignored and rebuilt, never trusted.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        let p = entry.unwrap().path();
        let mut b = std::fs::read(&p).unwrap();
        let mid = b.len() / 2;
        b[mid] ^= 0xff;
        std::fs::write(&p, b).unwrap();
    }
    let rebuilt = load(&DatasetName::Ml100k, &request).unwrap();
    assert!(!rebuilt.report.from_cache);
    assert_eq!(rebuilt.split, changed.split);
    assert!(
        load(&DatasetName::Ml100k, &request)
            .unwrap()
            .report
            .from_cache
    );
}
