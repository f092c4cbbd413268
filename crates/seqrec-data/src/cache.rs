//! A cache of preprocessed splits: a versioned little-endian binary file with
//! a checksum, keyed by the source file's content, the dataset and every
//! option, so a changed source or option is a miss. Written atomically
//! (temporary file, then rename); a damaged entry is ignored and rebuilt.

use crate::dataset::{Dataset, DatasetName};
use crate::options::DatasetOptions;
use crate::report::LoadReport;
use crate::{DataError, Result};
use seqrec_core::{ItemId, Split, UserSequences, Vocabulary};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::{Xxh3Default, xxh3_64};

const MAGIC: &[u8; 8] = b"SEQRECSP";
/// Bump whenever the layout or the preprocessing changes meaning.
const VERSION: u32 = 1;

/// Identifies one preprocessing of one source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey {
    file_name: String,
    hash: u64,
}

impl CacheKey {
    /// Hashes the source file's bytes (xxh3, a few GB/s) with the dataset
    /// name and options.
    pub fn new(name: &DatasetName, source: &Path, options: &DatasetOptions) -> Result<Self> {
        let mut file = std::fs::File::open(source).map_err(|e| DataError::io(source, e))?;
        let mut hasher = Xxh3Default::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(|e| DataError::io(source, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let options =
            serde_json::to_string(options).map_err(|e| DataError::InvalidOption(e.to_string()))?;
        let text = format!("v{VERSION}|{name}|{options}|{:016x}", hasher.digest());
        let hash = xxh3_64(text.as_bytes());
        let stem: String = name
            .to_string()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(CacheKey {
            file_name: format!("{stem}-{hash:016x}.split"),
            hash,
        })
    }

    fn path(&self, dir: &Path) -> PathBuf {
        dir.join(&self.file_name)
    }
}

/// Writes `dataset` under `key`.
pub fn write(dir: &Path, key: &CacheKey, dataset: &Dataset) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let mut body = Encoder::default();
    body.str(&dataset.name);
    body.vocabulary(&dataset.users);
    body.vocabulary(&dataset.items);
    let (offsets, items, times) = dataset.split.sequences().parts();
    body.u64(offsets.len() as u64);
    offsets.iter().for_each(|&o| body.u64(o as u64));
    body.u64(items.len() as u64);
    items.iter().for_each(|i| body.u32(i.0));
    times.iter().for_each(|&t| body.i64(t));
    let (train_end, validation_end) = dataset.split.boundaries();
    train_end
        .iter()
        .chain(validation_end)
        .for_each(|&b| body.u32(b));
    body.u64(dataset.split.catalogue_size() as u64);
    let report = serde_json::to_string(&dataset.report)
        .map_err(|e| DataError::InvalidOption(e.to_string()))?;
    body.str(&report);

    let path = key.path(dir);
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let io = |e| DataError::io(&tmp, e);
    let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
    file.write_all(MAGIC).map_err(io)?;
    file.write_all(&VERSION.to_le_bytes()).map_err(io)?;
    file.write_all(&key.hash.to_le_bytes()).map_err(io)?;
    file.write_all(&body.0).map_err(io)?;
    file.write_all(&xxh3_64(&body.0).to_le_bytes())
        .map_err(io)?;
    file.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(|e| DataError::io(&path, e))?;
    tracing::info!(path = %path.display(), "wrote split cache");
    Ok(())
}

/// Reads the entry for `key`, or `None` when there is none or it is damaged.
pub fn read(dir: &Path, key: &CacheKey) -> Result<Option<Dataset>> {
    let path = key.path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DataError::io(&path, e)),
    };
    match decode(&bytes, key) {
        Ok(dataset) => Ok(Some(dataset)),
        Err(why) => {
            tracing::warn!(path = %path.display(), "ignoring damaged cache entry: {why}");
            Ok(None)
        }
    }
}

fn decode(bytes: &[u8], key: &CacheKey) -> Result<Dataset, String> {
    let header = MAGIC.len() + 4 + 8;
    if bytes.len() < header + 8 || &bytes[..8] != MAGIC {
        return Err("not a seqrec split cache".into());
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().map_err(|_| "short")?);
    if version != VERSION {
        return Err(format!("version {version}, expected {VERSION}"));
    }
    let hash = u64::from_le_bytes(bytes[12..20].try_into().map_err(|_| "short")?);
    if hash != key.hash {
        return Err("written for other data or options".into());
    }
    let (body, sum) = bytes[header..].split_at(bytes.len() - header - 8);
    if xxh3_64(body).to_le_bytes() != sum {
        return Err("checksum mismatch".into());
    }
    let mut d = Decoder { bytes: body, at: 0 };
    let name = d.str()?;
    let users = d.vocabulary()?;
    let items = d.vocabulary()?;
    let n_offsets = d.u64()? as usize;
    let offsets = (0..n_offsets)
        .map(|_| d.u64().map(|o| o as usize))
        .collect::<Result<Vec<_>, _>>()?;
    let n_events = d.u64()? as usize;
    let event_items = (0..n_events)
        .map(|_| d.u32().map(ItemId))
        .collect::<Result<Vec<_>, _>>()?;
    let times = (0..n_events)
        .map(|_| d.i64())
        .collect::<Result<Vec<_>, _>>()?;
    let n_users = n_offsets.saturating_sub(1);
    let train_end = (0..n_users)
        .map(|_| d.u32())
        .collect::<Result<Vec<_>, _>>()?;
    let validation_end = (0..n_users)
        .map(|_| d.u32())
        .collect::<Result<Vec<_>, _>>()?;
    let catalogue = d.u64()? as usize;
    let mut report: LoadReport = serde_json::from_str(&d.str()?).map_err(|e| e.to_string())?;
    report.from_cache = true;
    let sequences =
        UserSequences::from_parts(offsets, event_items, times).map_err(|e| e.to_string())?;
    let split = Split::from_parts(sequences, train_end, validation_end, catalogue)
        .map_err(|e| e.to_string())?;
    if items.len() != catalogue || users.len() != n_users {
        return Err("vocabulary sizes do not match the split".into());
    }
    Ok(Dataset {
        name,
        users,
        items,
        split,
        report,
    })
}

#[derive(Default)]
struct Encoder(Vec<u8>);

impl Encoder {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn vocabulary(&mut self, v: &Vocabulary) {
        match v {
            Vocabulary::Integer(keys) => {
                self.0.push(0);
                self.u64(keys.len() as u64);
                keys.iter().for_each(|&k| self.i64(k));
            }
            Vocabulary::Text(keys) => {
                self.0.push(1);
                self.u64(keys.len() as u64);
                keys.iter().for_each(|k| self.str(k));
            }
            Vocabulary::Pair(keys) => {
                self.0.push(2);
                self.u64(keys.len() as u64);
                for (a, b) in keys {
                    self.str(a);
                    self.str(b);
                }
            }
        }
    }
}

struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("truncated")?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| "short")?,
        ))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| "short")?,
        ))
    }
    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| "short")?,
        ))
    }
    fn str(&mut self) -> Result<String, String> {
        let n = self.u64()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "bad UTF-8".into())
    }
    fn vocabulary(&mut self) -> Result<Vocabulary, String> {
        let tag = self.take(1)?[0];
        let n = self.u64()? as usize;
        if n > self.bytes.len() {
            return Err("vocabulary length beyond the file".into());
        }
        Ok(match tag {
            0 => Vocabulary::Integer((0..n).map(|_| self.i64()).collect::<Result<_, _>>()?),
            1 => Vocabulary::Text((0..n).map(|_| self.str()).collect::<Result<_, _>>()?),
            2 => Vocabulary::Pair(
                (0..n)
                    .map(|_| Ok((self.str()?, self.str()?)))
                    .collect::<Result<_, String>>()?,
            ),
            t => return Err(format!("unknown vocabulary tag {t}")),
        })
    }
}
