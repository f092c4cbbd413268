//! `fetch-data` against a small HTTP server on 127.0.0.1 serving archives
//! built here.

use super::*;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// What the test server serves: (path, body) pairs, changeable mid-test.
type Files = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Serves `files` until the test ends; returns the base URL.
fn serve(files: Files) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            // Drain the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let body = files
                .lock()
                .expect("lock")
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, b)| b.clone());
            let response = match body {
                Some(body) => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(&body);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    format!("http://{address}")
}

fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in files {
        zip.start_file(*name, zip::write::FileOptions::default())
            .expect("zip entry");
        zip.write_all(text.as_bytes()).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}

fn tar_gz_of(name: &str, text: &str) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut header = tar::Header::new_gnu();
    header.set_size(text.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, name, text.as_bytes())
        .expect("tar entry");
    tar.into_inner().expect("tar").finish().expect("gz")
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn entry(name: &str, url: String, sha256: String, archive: Archive, expect: &str) -> Entry {
    Entry {
        name: name.into(),
        url,
        sha256,
        archive,
        expect: expect.into(),
        published: None,
    }
}

#[test]
fn verified_archives_are_unpacked_in_the_loaders_layout() {
    let ratings = "ml-10M100K/ratings.dat";
    let zip = zip_of(&[(ratings, "1::122::5::838985046\n")]);
    let lastfm = "lastfm-dataset-1K/userid-timestamp-artid-artname-traid-traname.tsv";
    let tgz = tar_gz_of(lastfm, "user_000001\t2009-05-04T23:08:57Z\t\tA\t\tT\n");
    let files = Arc::new(Mutex::new(vec![
        ("/ml-10m.zip".to_owned(), zip.clone()),
        ("/lastfm.tar.gz".to_owned(), tgz.clone()),
    ]));
    let base = serve(files);
    let dir = tempfile::tempdir().expect("tempdir");
    let ml = entry(
        "ml-10m",
        format!("{base}/ml-10m.zip"),
        sha(&zip),
        Archive::Zip,
        ratings,
    );
    fetch(&ml, dir.path()).expect("fetch ml-10m");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(ratings)).expect("ratings"),
        "1::122::5::838985046\n"
    );
    let lf = entry(
        "lastfm-1k",
        format!("{base}/lastfm.tar.gz"),
        sha(&tgz),
        Archive::TarGz,
        lastfm,
    );
    fetch(&lf, dir.path()).expect("fetch lastfm");
    assert!(dir.path().join(lastfm).exists());
    // The archives themselves are gone.
    assert!(!dir.path().join(".fetch/ml-10m.zip").exists());
}

#[test]
fn a_wrong_checksum_unpacks_nothing_and_says_both_hashes() {
    let zip = zip_of(&[("ml-10M100K/ratings.dat", "1::1::5::1\n")]);
    let base = serve(Arc::new(Mutex::new(vec![(
        "/a.zip".to_owned(),
        zip.clone(),
    )])));
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong = "0".repeat(64);
    let e = entry(
        "ml-10m",
        format!("{base}/a.zip"),
        wrong.clone(),
        Archive::Zip,
        "ml-10M100K/ratings.dat",
    );
    let err = fetch(&e, dir.path()).expect_err("must fail").to_string();
    assert!(
        err.contains("checksum mismatch") && err.contains(&wrong) && err.contains(&sha(&zip)),
        "{err}"
    );
    assert!(!dir.path().join("ml-10M100K").exists());
    // A missing file is a clear error too.
    let missing = entry(
        "ml-10m",
        format!("{base}/nothing.zip"),
        wrong,
        Archive::Zip,
        "x",
    );
    let err = format!("{:#}", fetch(&missing, dir.path()).expect_err("404"));
    assert!(err.contains("nothing.zip"), "{err}");
}

#[test]
fn an_unknown_checksum_is_recorded_then_enforced() {
    let first = zip_of(&[("ml-10M100K/ratings.dat", "1::1::5::1\n")]);
    let files = Arc::new(Mutex::new(vec![("/a.zip".to_owned(), first.clone())]));
    let base = serve(files.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let e = entry(
        "ml-10m",
        format!("{base}/a.zip"),
        "unknown".into(),
        Archive::Zip,
        "ml-10M100K/ratings.dat",
    );
    fetch(&e, dir.path()).expect("first download");
    let recorded =
        std::fs::read_to_string(dir.path().join(".fetch/ml-10m.sha256")).expect("recorded");
    assert_eq!(recorded.trim(), sha(&first));
    // The server now sends something else: refused against the recorded hash.
    let tampered = zip_of(&[("ml-10M100K/ratings.dat", "2::2::1::2\n")]);
    files.lock().expect("lock")[0].1 = tampered;
    let err = fetch(&e, dir.path()).expect_err("tampered").to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ml-10M100K/ratings.dat")).expect("kept"),
        "1::1::5::1\n"
    );
}

#[test]
fn archives_cannot_write_outside_the_data_root() {
    let evil = zip_of(&[("../escaped.txt", "x")]);
    let base = serve(Arc::new(Mutex::new(vec![(
        "/e.zip".to_owned(),
        evil.clone(),
    )])));
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let e = entry(
        "ml-10m",
        format!("{base}/e.zip"),
        sha(&evil),
        Archive::Zip,
        "x",
    );
    let err = format!("{:#}", fetch(&e, &root).expect_err("unsafe"));
    assert!(err.contains("unsafe path"), "{err}");
    assert!(!dir.path().join("escaped.txt").exists());
}

#[test]
fn the_committed_manifest_parses_and_bad_checksums_are_named() {
    let root = crate::process::workspace_root().expect("workspace");
    let manifest = Manifest::read(&root.join("datasets/manifest.toml")).expect("manifest");
    let names: Vec<&str> = manifest.dataset.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["ml-10m", "lastfm-1k", "ml-100k", "ml-latest-small"]);
    // The two small sets are frozen archives: their checksums are pinned.
    for entry in &manifest.dataset[2..] {
        assert_eq!(entry.sha256.len(), 64, "{}", entry.name);
    }
    // Every dataset has its published size (plans without the data).
    assert!(manifest.dataset.iter().all(|e| e.published.is_some()));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.toml");
    std::fs::write(&path, "[[dataset]]\nname = \"x\"\nurl = \"u\"\nsha256 = \"abc\"\narchive = \"zip\"\nexpect = \"e\"\n").expect("write");
    let err = Manifest::read(&path).expect_err("bad hash").to_string();
    assert!(err.contains("64 hex digits"), "{err}");
    std::fs::write(&path, "[[dataset]]\nname = \"x\"\nurl = \"u\"\nsha256 = \"unknown\"\narchive = \"rar\"\nexpect = \"e\"\n").expect("write");
    let err = format!("{:#}", Manifest::read(&path).expect_err("bad archive"));
    assert!(err.contains("rar"), "{err}");
}

#[test]
fn the_small_movielens_sets_unpack_where_the_loaders_look() {
    let root = crate::process::workspace_root().expect("workspace");
    let manifest = Manifest::read(&root.join("datasets/manifest.toml")).expect("manifest");
    // The files `seqrec-data` reads for these names (DatasetName::relative_path).
    let layouts = [
        ("ml-100k", "ml-100k/u.data", "1\t2\t3\t881250949\n"),
        (
            "ml-latest-small",
            "ml-latest-small/ratings.csv",
            "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n",
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, path, text) in layouts {
        let committed = manifest
            .dataset
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} is in the manifest"));
        assert_eq!(committed.expect, path, "{name}");
        assert_eq!(committed.archive, Archive::Zip, "{name}");
        assert!(
            committed
                .url
                .starts_with("https://files.grouplens.org/datasets/movielens/"),
            "{name}"
        );
        // The official archives hold a top-level folder with the files and a
        // README; the same layout, served locally with its own checksum.
        let zip = zip_of(&[(path, text), (&format!("{name}/README.txt"), "licence")]);
        let base = serve(Arc::new(Mutex::new(vec![(
            format!("/{name}.zip"),
            zip.clone(),
        )])));
        let local = Entry {
            url: format!("{base}/{name}.zip"),
            sha256: sha(&zip),
            ..committed.clone()
        };
        fetch(&local, dir.path()).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join(path)).expect("file"),
            text
        );
        // The pinned checksum is enforced: the same bytes under the
        // committed hash are refused, and nothing is unpacked.
        let pinned = Entry {
            url: format!("{base}/{name}.zip"),
            ..committed.clone()
        };
        let other = tempfile::tempdir().expect("tempdir");
        let error = format!("{:#}", fetch(&pinned, other.path()).expect_err("mismatch"));
        assert!(error.contains("checksum mismatch"), "{error}");
        assert!(!other.path().join(path).exists());
    }
}
