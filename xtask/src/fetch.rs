//! `cargo xtask fetch-data`: downloads the full datasets named in
//! `datasets/manifest.toml` into the data root, with progress, SHA-256
//! verification, and unpacking into the layout the loaders expect.
//!
//! Nothing is unpacked unless the checksum matches (or, for a checksum the
//! manifest marks `unknown`, the one recorded by the first download).

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// `datasets/manifest.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub dataset: Vec<Entry>,
}

/// One downloadable dataset.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub name: String,
    pub url: String,
    /// Hex SHA-256 of the archive, or `unknown`.
    pub sha256: String,
    pub archive: Archive,
    /// A path (relative to the data root) the unpacked archive must contain.
    pub expect: String,
    /// The published size, for plans made before the download (read by
    /// `seqrec reproduce --plan`; checked here).
    pub published: Option<PublishedSize>,
}

/// `[dataset.published]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedSize {
    pub users: u64,
    pub items: u64,
    pub events: u64,
    /// Which of the numbers are estimates, and why.
    #[allow(dead_code)] // Read by the runner; parsed here to reject typos.
    pub estimated: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Archive {
    #[serde(rename = "zip")]
    Zip,
    #[serde(rename = "tar.gz")]
    TarGz,
}

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// Data root (else $SEQREC_DATA_DIR, else `datasets/`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Only these datasets (default: all in the manifest).
    #[arg(long, value_delimiter = ',')]
    datasets: Vec<String>,
    /// The manifest (default `datasets/manifest.toml`).
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Download again even if the expected file is already there.
    #[arg(long)]
    force: bool,
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Manifest> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let manifest: Manifest =
            toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
        for e in &manifest.dataset {
            let ok = e.sha256 == "unknown"
                || (e.sha256.len() == 64 && e.sha256.chars().all(|c| c.is_ascii_hexdigit()));
            if let Some(size) = &e.published
                && (size.users == 0 || size.items == 0 || size.events < size.users)
            {
                bail!(
                    "{}: dataset `{}`: [dataset.published] needs users, items > 0 and events >= users",
                    path.display(),
                    e.name
                );
            }
            if !ok {
                bail!(
                    "{}: dataset `{}` has sha256 `{}`; expected 64 hex digits or \"unknown\"",
                    path.display(),
                    e.name,
                    e.sha256
                );
            }
        }
        Ok(manifest)
    }
}

pub fn run(args: FetchArgs) -> Result<()> {
    let root = crate::process::workspace_root()?;
    let manifest_path = args
        .manifest
        .unwrap_or_else(|| root.join("datasets/manifest.toml"));
    let manifest = Manifest::read(&manifest_path)?;
    let data_dir = args
        .data_dir
        .or_else(|| std::env::var_os("SEQREC_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| root.join("datasets"));
    for name in &args.datasets {
        if !manifest.dataset.iter().any(|e| &e.name == name) {
            bail!("`{name}` is not in {}", manifest_path.display());
        }
    }
    for entry in &manifest.dataset {
        if !args.datasets.is_empty() && !args.datasets.contains(&entry.name) {
            continue;
        }
        if !args.force && data_dir.join(&entry.expect).exists() {
            eprintln!("{}: already present ({})", entry.name, entry.expect);
            continue;
        }
        fetch(entry, &data_dir)?;
    }
    Ok(())
}

/// Downloads, verifies and unpacks one dataset into `data_dir`.
pub fn fetch(entry: &Entry, data_dir: &Path) -> Result<()> {
    let work = data_dir.join(".fetch");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let file_name = entry.url.rsplit('/').next().unwrap_or("download");
    let archive = work.join(file_name);
    let partial = work.join(format!("{file_name}.part"));
    let actual = download(&entry.url, &partial)?;
    let recorded = work.join(format!("{}.sha256", entry.name));
    let expected = if entry.sha256 == "unknown" {
        std::fs::read_to_string(&recorded)
            .ok()
            .map(|s| s.trim().to_owned())
    } else {
        Some(entry.sha256.to_lowercase())
    };
    match expected {
        Some(expected) if expected != actual => {
            let _ = std::fs::remove_file(&partial);
            bail!(
                "{}: checksum mismatch for {}: expected sha256 {expected}, downloaded {actual}; nothing was unpacked",
                entry.name,
                entry.url
            );
        }
        Some(_) => eprintln!("{}: sha256 {actual} verified", entry.name),
        None => {
            std::fs::write(&recorded, format!("{actual}\n"))?;
            eprintln!(
                "{}: the manifest has no checksum; recorded sha256 {actual} in {}.\n  \
                 To pin it for everyone, set sha256 = \"{actual}\" for `{}` in datasets/manifest.toml.",
                entry.name,
                recorded.display(),
                entry.name
            );
        }
    }
    std::fs::rename(&partial, &archive)?;
    unpack(entry.archive, &archive, data_dir)
        .with_context(|| format!("unpacking {}", archive.display()))?;
    let expect = data_dir.join(&entry.expect);
    if !expect.exists() {
        bail!(
            "{}: the archive did not contain {} (looked in {})",
            entry.name,
            entry.expect,
            data_dir.display()
        );
    }
    std::fs::remove_file(&archive)?;
    eprintln!("{}: ready at {}", entry.name, expect.display());
    Ok(())
}

/// Streams `url` into `to`, with a progress bar; returns the hex SHA-256.
fn download(url: &str, to: &Path) -> Result<String> {
    let response = ureq::get(url)
        .call()
        .with_context(|| format!("downloading {url}"))?;
    let length: Option<u64> = response
        .header("Content-Length")
        .and_then(|v| v.parse().ok());
    let bar = ProgressBar::new(length.unwrap_or(0));
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(url.to_owned());
    let mut reader = response.into_reader();
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(to).with_context(|| format!("creating {}", to.display()))?,
    );
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader
            .read(&mut buffer)
            .with_context(|| format!("reading {url}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        file.write_all(&buffer[..n])?;
        total += n as u64;
        bar.set_position(total);
    }
    file.flush()?;
    bar.finish_and_clear();
    if let Some(length) = length
        && length != total
    {
        bail!("{url}: the server announced {length} bytes but sent {total}");
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Unpacks `archive` into `into`, refusing entries that would escape it.
fn unpack(kind: Archive, archive: &Path, into: &Path) -> Result<()> {
    let file = std::fs::File::open(archive)?;
    match kind {
        Archive::Zip => {
            let mut zip = zip::ZipArchive::new(file)?;
            for i in 0..zip.len() {
                let mut entry = zip.by_index(i)?;
                let Some(relative) = entry.enclosed_name().map(Path::to_path_buf) else {
                    bail!("unsafe path `{}` in the archive", entry.name());
                };
                let target = into.join(relative);
                if entry.is_dir() {
                    std::fs::create_dir_all(&target)?;
                    continue;
                }
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let mut out = std::fs::File::create(&target)?;
                std::io::copy(&mut entry, &mut out)?;
            }
        }
        Archive::TarGz => {
            // `unpack_in` refuses paths that leave the destination.
            let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
            for entry in tar.entries()? {
                let mut entry = entry?;
                if !entry.unpack_in(into)? {
                    bail!("unsafe path `{}` in the archive", entry.path()?.display());
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
