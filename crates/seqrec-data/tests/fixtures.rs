//! Loaders on hand-written fixtures in each exact format, including bad input:
//! every problem is an error naming file and line (or, for LastFM's known
//! malformed lines, a counted skip), never a panic.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use seqrec_core::{ItemId, Part, UserId, Vocabulary};
use seqrec_data::{
    DataError, DatasetName, DatasetOptions, ItemKey, LoadRequest, MovieLensFormat, SourceFormat,
    Subsample, TimestampFormat, load, load_file,
};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

fn ml(format: MovieLensFormat) -> SourceFormat {
    SourceFormat::MovieLens(format)
}

/// 20 events for user 5, written out of order with a timestamp tie.
fn ml_rows() -> Vec<(i64, i64, &'static str, i64)> {
    let mut rows: Vec<(i64, i64, &str, i64)> =
        (0..18).map(|k| (5, 100 + k, "4", 1000 + k)).collect();
    rows.push((5, 300, "3.5", 2000)); // validation, tie with the next one
    rows.push((5, 200, "5", 2000)); // ordered before 300 by item id: validation is 200
    rows.reverse();
    rows
}

fn check_ml_fixture(data: &seqrec_data::Dataset) {
    let split = &data.split;
    assert_eq!(split.users(), 1);
    assert_eq!(data.users, Vocabulary::Integer(vec![5]));
    // Train = first 18 (items 100..=117); validation = 1 (item 200, tie broken
    // by item id); test = item 300, unseen in training, so removed.
    assert_eq!(split.range(UserId(0), Part::Train).len(), 18);
    let validation = split.part(UserId(0), Part::Validation);
    assert_eq!(validation.len(), 0, "200 is not a training item either");
    assert_eq!(split.catalogue_size(), 18);
    assert_eq!(data.report.split.removed_validation, 1);
    assert_eq!(data.report.split.removed_test, 1);
    assert_eq!(split.train(UserId(0))[0], ItemId(0));
}

#[test]
fn movielens_dat_csv_and_udata_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let rows = ml_rows();
    let dat: String = rows
        .iter()
        .map(|(u, i, r, t)| format!("{u}::{i}::{r}::{t}\n"))
        .collect();
    let csv: String = std::iter::once("userId,movieId,rating,timestamp\n".to_string())
        .chain(rows.iter().map(|(u, i, r, t)| format!("{u},{i},{r},{t}\n")))
        .collect();
    let udata: String = rows
        .iter()
        .map(|(u, i, _, t)| format!("{u}\t{i}\t3\t{t}\n"))
        .collect();
    let options = DatasetOptions::default();
    for (name, text, format) in [
        ("ratings.dat", dat, MovieLensFormat::Dat),
        ("ratings.csv", csv, MovieLensFormat::Csv),
        ("u.data", udata, MovieLensFormat::UData),
    ] {
        let path = write(dir.path(), name, text.as_bytes());
        let data = load_file(&path, ml(format), &options).unwrap();
        check_ml_fixture(&data);
    }
}

#[test]
fn windows_line_endings_and_missing_final_newline_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let text = "1::10::5::100\r\n1::11::4::101\r\n2::10::3::102";
    let path = write(dir.path(), "ratings.dat", text.as_bytes());
    let data = load_file(&path, ml(MovieLensFormat::Dat), &DatasetOptions::default()).unwrap();
    assert_eq!(data.report.parsed_events, 3);
}

/// Asserts `result` is a parse error at `line` of `path` whose message contains `needle`.
fn assert_line_error<T: std::fmt::Debug>(
    result: Result<T, DataError>,
    path: &Path,
    line: usize,
    needle: &str,
) {
    let err = result.expect_err("bad input must be an error");
    let text = err.to_string();
    assert!(
        matches!(&err, DataError::Parse { line: l, path: p, .. } if *l == line && p == path),
        "expected {}:{line}, got: {text}",
        path.display()
    );
    assert!(text.contains(needle), "`{text}` should mention `{needle}`");
    assert!(
        text.starts_with(&format!("{}:{line}:", path.display())),
        "{text}"
    );
}

#[test]
fn bad_movielens_input_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = "1::10::5::100\n1::11::4::101\n";
    let cases: Vec<(&str, String, MovieLensFormat, usize, &str)> = vec![
        (
            "wrong-sep.dat",
            "1,10,5,100\n".into(),
            MovieLensFormat::Dat,
            1,
            "expected 4 fields",
        ),
        (
            "id.dat",
            format!("{good}x::12::4::102\n"),
            MovieLensFormat::Dat,
            3,
            "user id `x`",
        ),
        (
            "item.dat",
            format!("{good}1::1e::4::102\n"),
            MovieLensFormat::Dat,
            3,
            "movie id `1e`",
        ),
        (
            "negative-user.dat",
            format!("{good}-1::2::3::4\n"),
            MovieLensFormat::Dat,
            3,
            "user id `-1` is not a positive integer",
        ),
        (
            "zero-movie.dat",
            format!("{good}1::0::3::4\n"),
            MovieLensFormat::Dat,
            3,
            "movie id `0` is not a positive integer",
        ),
        (
            "time.dat",
            format!("{good}1::12::4::12:30\n"),
            MovieLensFormat::Dat,
            3,
            "timestamp `12:30`",
        ),
        (
            "time2.dat",
            format!("{good}1::12::4::yesterday\n"),
            MovieLensFormat::Dat,
            3,
            "timestamp `yesterday`",
        ),
        (
            "rating.dat",
            format!("{good}1::12::five::102\n"),
            MovieLensFormat::Dat,
            3,
            "rating `five`",
        ),
        (
            "truncated.dat",
            format!("{good}1::12::4"),
            MovieLensFormat::Dat,
            3,
            "expected 4 fields",
        ),
        (
            "truncated2.dat",
            format!("{good}1::12::4::"),
            MovieLensFormat::Dat,
            3,
            "timestamp ``",
        ),
        (
            "utf8.dat",
            format!("{good}1::1\u{e9}::4::102\n"),
            MovieLensFormat::Dat,
            3,
            "movie id",
        ),
        (
            "wrong-sep.csv",
            "userId;movieId;rating;timestamp\n1;2;3;4\n".into(),
            MovieLensFormat::Csv,
            1,
            "expected the header",
        ),
        (
            "no-header.csv",
            "1,10,5,100\n".into(),
            MovieLensFormat::Csv,
            1,
            "expected the header",
        ),
        (
            "id.csv",
            "userId,movieId,rating,timestamp\n1,10,5,100\n1,ten,5,100\n".into(),
            MovieLensFormat::Csv,
            3,
            "movie id `ten`",
        ),
        (
            "negative.csv",
            "userId,movieId,rating,timestamp\n1,10,5,100\n1,-7,5,100\n".into(),
            MovieLensFormat::Csv,
            3,
            "movie id `-7` is not a positive integer",
        ),
        (
            "time.csv",
            "userId,movieId,rating,timestamp\n1,10,5,100.5\n".into(),
            MovieLensFormat::Csv,
            2,
            "timestamp `100.5`",
        ),
        (
            "short.csv",
            "userId,movieId,rating,timestamp\n1,10,5,100\n1,10\n".into(),
            MovieLensFormat::Csv,
            3,
            "expected 4 fields",
        ),
        (
            "wrong-sep.data",
            "1 10 5 100\n".into(),
            MovieLensFormat::UData,
            1,
            "expected 4 fields",
        ),
        (
            "id.data",
            "1\t10\t5\t100\n-\t10\t5\t100\n".into(),
            MovieLensFormat::UData,
            2,
            "user id `-`",
        ),
        (
            "zero.data",
            "1\t10\t5\t100\n0\t10\t5\t100\n".into(),
            MovieLensFormat::UData,
            2,
            "user id `0` is not a positive integer",
        ),
        (
            "long.data",
            "1\t10\t5\t100\t7\n".into(),
            MovieLensFormat::UData,
            1,
            "found 5",
        ),
    ];
    for (name, text, format, line, needle) in cases {
        let path = write(dir.path(), name, text.as_bytes());
        assert_line_error(
            load_file(&path, ml(format), &DatasetOptions::default()),
            &path,
            line,
            needle,
        );
    }
}

#[test]
fn missing_and_empty_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.dat");
    let err = load_file(
        &missing,
        ml(MovieLensFormat::Dat),
        &DatasetOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("nope.dat"), "{err}");

    let request = LoadRequest::new(dir.path());
    let err = load(&DatasetName::Ml10m, &request).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("ml-10M100K/ratings.dat"), "{err}");
    assert!(err.to_string().contains("SEQREC_DATA_DIR"), "{err}");

    for (name, format) in [
        ("empty.dat", ml(MovieLensFormat::Dat)),
        ("empty.tsv", SourceFormat::LastFm1k),
        ("empty.csv", SourceFormat::Table),
    ] {
        let path = write(dir.path(), name, b"");
        let err = load_file(&path, format, &DatasetOptions::default()).unwrap_err();
        assert!(matches!(err, DataError::Empty { .. }), "{err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    // A header and nothing else is empty too.
    let path = write(
        dir.path(),
        "header.csv",
        b"userId,movieId,rating,timestamp\n",
    );
    let err = load_file(&path, ml(MovieLensFormat::Csv), &DatasetOptions::default()).unwrap_err();
    assert!(
        matches!(err, DataError::Empty { .. } | DataError::Polars { .. }),
        "{err}"
    );
}

const LASTFM: &[u8] = b"user_000002\t2009-05-04T23:08:57Z\ta1\tArtist B\tt1\tSong\n\
user_000002\t2009-05-04T23:05:00Z\ta1\tArtist B\t\tOther\n\
user_000002\tnot-a-time\ta1\tArtist B\tt1\tSong\n\
user_000002\t2009-05-04T23:01:00Z\ta2\tArtist A\tt3\tSong\n\
user_000002\t2009-05-04T23:00:00Z\ta2\tArtist A\tt3\n\
user_000001\t2009-05-05T10:00:00Z\ta2\tArtist A\tt3\tSong\n\
user_000001\t2009-05-05T09:00:00Z\ta1\tArtist B\tt1\tSong\xff\n\
user_000001\t2009-05-05T08:00:00Z\ta1\tArtist B\t\tOther\n";

#[test]
fn lastfm_fixture_with_malformed_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "lastfm.tsv", LASTFM);
    let options = DatasetOptions {
        lastfm: seqrec_data::LastFmOptions {
            subsample: Subsample::None,
            ..Default::default()
        },
        split: seqrec_core::SplitConfig {
            train_fraction: 1.0,
            ..Default::default()
        },
        ..Default::default()
    };
    let data = load_file(&path, SourceFormat::LastFm1k, &options).unwrap();
    // Lines 3 (timestamp), 5 (5 fields) and 7 (invalid UTF-8) are skipped and counted.
    let skips = &data.report.skips;
    assert_eq!(skips.malformed, 3);
    let lines: Vec<usize> = skips.examples.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![3, 5, 7]);
    assert!(skips.examples[1].reason.contains("6 tab-separated fields"));
    // Items are (artist, track) pairs, numbered byte-wise.
    assert_eq!(
        data.items,
        Vocabulary::Pair(vec![
            ("Artist A".into(), "Song".into()),
            ("Artist B".into(), "Other".into()),
            ("Artist B".into(), "Song".into()),
        ])
    );
    assert_eq!(
        data.users,
        Vocabulary::Text(vec!["user_000001".into(), "user_000002".into()])
    );
    // Newest-first file order becomes chronological order.
    let seq = data.split.sequences();
    assert_eq!(seq.items(UserId(0)), &[ItemId(1), ItemId(0)]);
    assert_eq!(seq.items(UserId(1)), &[ItemId(0), ItemId(1), ItemId(2)]);
    assert!(seq.timestamps(UserId(1)).windows(2).all(|w| w[0] < w[1]));

    // Keyed by track MBID instead: plays without one are dropped and counted.
    let by_mbid = DatasetOptions {
        lastfm: seqrec_data::LastFmOptions {
            item_key: ItemKey::TrackMbid,
            ..options.lastfm.clone()
        },
        ..options.clone()
    };
    let data = load_file(&path, SourceFormat::LastFm1k, &by_mbid).unwrap();
    assert_eq!(data.report.skips.without_track_mbid, 2);
    assert_eq!(data.items, Vocabulary::Text(vec!["t1".into(), "t3".into()]));
}

#[test]
fn lastfm_subsample_keeps_latest_tenth_per_user() {
    let dir = tempfile::tempdir().unwrap();
    // 25 plays of one user, newest first: the latest ceil(2.5) = 3 remain.
    let text: String = (0..25)
        .rev()
        .map(|k| format!("user_000001\t2009-05-04T23:{k:02}:00Z\t\tArtist\t\tTrack {k:02}\n"))
        .collect();
    let path = write(dir.path(), "lastfm.tsv", text.as_bytes());
    let data = load_file(&path, SourceFormat::LastFm1k, &DatasetOptions::default()).unwrap();
    assert_eq!(data.report.subsampled_out, 22);
    assert_eq!(
        data.split.sequences().events(),
        2,
        "3 kept; the test play's track is unseen"
    );
    assert_eq!(
        data.items,
        Vocabulary::Pair(vec![
            ("Artist".into(), "Track 22".into()),
            ("Artist".into(), "Track 23".into())
        ])
    );
}

#[test]
fn a_file_that_is_not_lastfm_at_all_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "ratings.tsv", b"1::10::5::100\n1::11::4::101\n");
    let err = load_file(&path, SourceFormat::LastFm1k, &DatasetOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("no valid LastFM 1K record") && text.contains("line 1"),
        "{text}"
    );
}

#[test]
fn generic_csv_with_text_keys_and_iso_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let text = "when,who,what,extra\n\
2020-01-02T00:00:00Z,bob,apple,x\n\
2020-01-01T00:00:00Z,bob,pear,y\n\
2020-01-01T00:00:00Z,alice,10,z\n";
    let path = write(dir.path(), "events.csv", text.as_bytes());
    let mut options = DatasetOptions::default();
    options.table.user_column = "who".into();
    options.table.item_column = "what".into();
    options.table.timestamp_column = "when".into();
    options.table.timestamp_format = TimestampFormat::Iso8601;
    options.split.train_fraction = 1.0;
    let data = load_file(&path, SourceFormat::Table, &options).unwrap();
    assert_eq!(
        data.users,
        Vocabulary::Text(vec!["alice".into(), "bob".into()])
    );
    // Not every item is an integer, so all are text, compared byte-wise.
    assert_eq!(
        data.items,
        Vocabulary::Text(vec!["10".into(), "apple".into(), "pear".into()])
    );
    assert_eq!(
        data.split.sequences().items(UserId(1)),
        &[ItemId(2), ItemId(1)]
    );

    // A wrong column name lists the columns there are.
    options.table.user_column = "user".into();
    let err = load_file(&path, SourceFormat::Table, &options)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no column `user`") && err.contains("who"),
        "{err}"
    );

    // A bad timestamp names its line.
    let bad = write(
        dir.path(),
        "bad.csv",
        b"user,item,timestamp\n1,2,3\n1,2,soon\n",
    );
    let err = load_file(&bad, SourceFormat::Table, &DatasetOptions::default());
    assert_line_error(err, &bad, 3, "timestamp `soon`");
}

#[test]
fn options_from_toml_reject_unknown_keys() {
    let ok =
        DatasetOptions::from_toml("[lastfm]\nsubsample = \"earliest\"\nsubsample_fraction = 0.5\n")
            .unwrap();
    assert_eq!(ok.lastfm.subsample, Subsample::Earliest);
    let err = DatasetOptions::from_toml("[lastfm]\nsubsample_fracton = 0.5\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("subsample_fracton"), "{err}");
    let err = DatasetOptions::from_toml("[split]\ntrain_fraction = 1.5\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("train_fraction"), "{err}");
}
