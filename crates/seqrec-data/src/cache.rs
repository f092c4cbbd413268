//! A cache of preprocessed splits: a versioned little-endian binary file with
//! a checksum, keyed by the source file's content, the dataset and every
//! option, so a changed source or option is a miss. Written atomically
//! (temporary file, then rename); a damaged entry is ignored and rebuilt.

use crate::options::DatasetOptions;
use crate::{DataError, Result};
use seqrec_core::codec::{self, CodecError, Decoder, Encoder};
use std::io::Read;
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::{Xxh3Default, xxh3_64};

const MAGIC: &[u8; 8] = b"SEQRECSP";
/// Bump whenever the layout or the preprocessing changes meaning.
/// 2: the body is a dataset snapshot (`snapshot.rs`) after the key's hash.
const VERSION: u32 = 2;

/// Identifies one preprocessing of one source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey {
    file_name: String,
    hash: u64,
}

impl CacheKey {
    /// Hashes the source file's bytes (xxh3, a few GB/s) with the dataset
    /// name and options.
    pub fn new(name: &str, source: &Path, options: &DatasetOptions) -> Result<Self> {
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

/// Writes `body` (an encoded dataset) under `key`.
pub fn write(dir: &Path, key: &CacheKey, body: Vec<u8>) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let mut framed = Encoder::new();
    framed.u64(key.hash);
    let mut bytes = framed.into_bytes();
    bytes.extend_from_slice(&body);
    let path = key.path(dir);
    write_file_atomic(&path, &codec::seal(MAGIC, VERSION, &bytes))?;
    tracing::info!(path = %path.display(), "wrote split cache");
    Ok(())
}

/// Writes `bytes` to `path` atomically ([`seqrec_core::fs`]).
pub(crate) fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    seqrec_core::fs::write_atomic(path, bytes).map_err(|e| DataError::io(path, e))
}

/// The body of the entry for `key`, or `None` when there is none or it is
/// damaged (then it is ignored and rebuilt).
pub fn read(dir: &Path, key: &CacheKey) -> Result<Option<Vec<u8>>> {
    let path = key.path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DataError::io(&path, e)),
    };
    let body = codec::open(MAGIC, VERSION, "seqrec split cache", &bytes).and_then(|body| {
        let mut d = Decoder::new(body);
        if d.u64()? != key.hash {
            return Err(CodecError::Malformed(
                "written for other data or options".into(),
            ));
        }
        Ok(body[8..].to_vec())
    });
    match body {
        Ok(body) => Ok(Some(body)),
        Err(why) => {
            tracing::warn!(path = %path.display(), "ignoring damaged cache entry: {why}");
            Ok(None)
        }
    }
}
