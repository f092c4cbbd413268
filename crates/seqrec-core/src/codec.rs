//! A small little-endian binary encoding for seqrec's own files (the split
//! cache, model directories): an [`Encoder`] appends fixed-width numbers,
//! length-prefixed strings and arrays; a [`Decoder`] reads them back and
//! reports a truncated or malformed file as a [`CodecError`], never a panic.
//! [`seal`] and [`open`] frame a body with a magic tag, a format version
//! and a checksum (xxh3), so a damaged or foreign file is recognised.

use crate::{ItemId, UserSequences, Vocabulary};
use thiserror::Error;
use xxhash_rust::xxh3::xxh3_64;

/// What is wrong with an encoded file.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CodecError {
    #[error("not a {what} file")]
    Magic { what: String },
    #[error("{what} format {found}; this build reads format {expected}")]
    Version {
        what: String,
        found: u32,
        expected: u32,
    },
    #[error("checksum mismatch (the file is damaged)")]
    Checksum,
    #[error("truncated at byte {at}")]
    Truncated { at: usize },
    #[error("malformed: {0}")]
    Malformed(String),
}

/// Appends values to a byte buffer.
#[derive(Debug, Default)]
pub struct Encoder(Vec<u8>);

impl Encoder {
    pub fn new() -> Self {
        Encoder::default()
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// A length (`usize` as `u64`).
    pub fn length(&mut self, n: usize) {
        self.u64(n as u64);
    }
    pub fn str(&mut self, s: &str) {
        self.length(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    /// A length-prefixed array of `f32` (bit-exact).
    pub fn f32s(&mut self, values: &[f32]) {
        self.length(values.len());
        values
            .iter()
            .for_each(|v| self.0.extend_from_slice(&v.to_le_bytes()));
    }
    pub fn u32s(&mut self, values: &[u32]) {
        self.length(values.len());
        values.iter().for_each(|&v| self.u32(v));
    }
    pub fn usizes(&mut self, values: &[usize]) {
        self.length(values.len());
        values.iter().for_each(|&v| self.u64(v as u64));
    }

    pub fn vocabulary(&mut self, v: &Vocabulary) {
        match v {
            Vocabulary::Integer(keys) => {
                self.u8(0);
                self.length(keys.len());
                keys.iter().for_each(|&k| self.i64(k));
            }
            Vocabulary::Text(keys) => {
                self.u8(1);
                self.length(keys.len());
                keys.iter().for_each(|k| self.str(k));
            }
            Vocabulary::Pair(keys) => {
                self.u8(2);
                self.length(keys.len());
                for (a, b) in keys {
                    self.str(a);
                    self.str(b);
                }
            }
        }
    }

    /// Every user's items and timestamps (CSR).
    pub fn sequences(&mut self, sequences: &UserSequences) {
        let (offsets, items, times) = sequences.parts();
        self.usizes(offsets);
        self.length(items.len());
        items.iter().for_each(|i| self.u32(i.0));
        times.iter().for_each(|&t| self.i64(t));
    }
}

/// Reads values back in the order they were written.
#[derive(Debug)]
pub struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Decoder { bytes, at: 0 }
    }

    /// Whether every byte has been read.
    pub fn is_done(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(CodecError::Truncated { at: self.at })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let at = self.at;
        self.take(N)?
            .try_into()
            .map_err(|_| CodecError::Truncated { at })
    }

    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32, CodecError> {
        self.array().map(u32::from_le_bytes)
    }
    pub fn u64(&mut self) -> Result<u64, CodecError> {
        self.array().map(u64::from_le_bytes)
    }
    pub fn i64(&mut self) -> Result<i64, CodecError> {
        self.array().map(i64::from_le_bytes)
    }
    pub fn f64(&mut self) -> Result<f64, CodecError> {
        self.array().map(f64::from_le_bytes)
    }

    /// A length of elements of `width` bytes each, checked against what is
    /// left so a damaged length cannot ask for a huge allocation.
    pub fn length(&mut self, width: usize) -> Result<usize, CodecError> {
        let at = self.at;
        let n = usize::try_from(self.u64()?)
            .map_err(|_| CodecError::Malformed(format!("length at byte {at}")))?;
        if n.saturating_mul(width.max(1)) > self.bytes.len() - self.at {
            return Err(CodecError::Truncated { at });
        }
        Ok(n)
    }

    pub fn str(&mut self) -> Result<String, CodecError> {
        let n = self.length(1)?;
        let at = self.at;
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| CodecError::Malformed(format!("text at byte {at} is not UTF-8")))
    }
    pub fn f32s(&mut self) -> Result<Vec<f32>, CodecError> {
        let n = self.length(4)?;
        (0..n)
            .map(|_| self.array().map(f32::from_le_bytes))
            .collect()
    }
    pub fn u32s(&mut self) -> Result<Vec<u32>, CodecError> {
        let n = self.length(4)?;
        (0..n).map(|_| self.u32()).collect()
    }
    pub fn usizes(&mut self) -> Result<Vec<usize>, CodecError> {
        let n = self.length(8)?;
        (0..n)
            .map(|_| {
                let at = self.at;
                usize::try_from(self.u64()?)
                    .map_err(|_| CodecError::Malformed(format!("index at byte {at}")))
            })
            .collect()
    }

    pub fn vocabulary(&mut self) -> Result<Vocabulary, CodecError> {
        let tag = self.u8()?;
        let n = self.length(8)?;
        let vocabulary = match tag {
            0 => Vocabulary::Integer((0..n).map(|_| self.i64()).collect::<Result<_, _>>()?),
            1 => Vocabulary::Text((0..n).map(|_| self.str()).collect::<Result<_, _>>()?),
            2 => Vocabulary::Pair(
                (0..n)
                    .map(|_| Ok((self.str()?, self.str()?)))
                    .collect::<Result<_, CodecError>>()?,
            ),
            t => return Err(CodecError::Malformed(format!("vocabulary kind {t}"))),
        };
        if !vocabulary.is_strictly_ascending() {
            return Err(CodecError::Malformed("vocabulary out of order".into()));
        }
        Ok(vocabulary)
    }

    pub fn sequences(&mut self) -> Result<UserSequences, CodecError> {
        let offsets = self.usizes()?;
        let n = self.length(12)?;
        let items = (0..n)
            .map(|_| self.u32().map(ItemId))
            .collect::<Result<Vec<_>, _>>()?;
        let times = (0..n).map(|_| self.i64()).collect::<Result<Vec<_>, _>>()?;
        UserSequences::from_parts(offsets, items, times)
            .map_err(|e| CodecError::Malformed(e.to_string()))
    }
}

/// `magic`, `version`, `body` and the body's checksum: a whole file.
pub fn seal(magic: &[u8; 8], version: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 20);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&xxh3_64(body).to_le_bytes());
    out
}

/// The body of a file written by [`seal`], after checking its magic tag
/// (`what` names the kind of file in errors), version and checksum.
pub fn open<'a>(
    magic: &[u8; 8],
    version: u32,
    what: &str,
    bytes: &'a [u8],
) -> Result<&'a [u8], CodecError> {
    if bytes.len() < 20 || &bytes[..8] != magic {
        return Err(CodecError::Magic { what: what.into() });
    }
    let mut header = Decoder::new(&bytes[8..12]);
    let found = header.u32()?;
    if found != version {
        return Err(CodecError::Version {
            what: what.into(),
            found,
            expected: version,
        });
    }
    let (body, sum) = bytes[12..].split_at(bytes.len() - 20);
    if xxh3_64(body).to_le_bytes() != sum {
        return Err(CodecError::Checksum);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_every_kind_of_value() {
        let vocab = Vocabulary::Pair(vec![("a".into(), "x".into()), ("b".into(), "é".into())]);
        let sequences =
            UserSequences::from_users([(vec![ItemId(1), ItemId(0)], vec![5, 7]), (vec![], vec![])]);
        let mut e = Encoder::new();
        e.u8(7);
        e.i64(-3);
        e.f64(0.1);
        e.str("héllo");
        e.f32s(&[1.5, -0.0, f32::MIN_POSITIVE]);
        e.u32s(&[4, 5]);
        e.usizes(&[0, 9]);
        e.vocabulary(&vocab);
        e.sequences(&sequences);
        let file = seal(b"SEQRECT1", 3, &e.into_bytes());
        let body = open(b"SEQRECT1", 3, "test", &file).unwrap_or_else(|e| panic!("{e}"));
        let mut d = Decoder::new(body);
        assert_eq!(d.u8(), Ok(7));
        assert_eq!(d.i64(), Ok(-3));
        assert_eq!(d.f64(), Ok(0.1));
        assert_eq!(d.str().as_deref(), Ok("héllo"));
        let floats = d.f32s().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(floats.len(), 3);
        assert!(floats[1].is_sign_negative() && floats[2] == f32::MIN_POSITIVE);
        assert_eq!(d.u32s(), Ok(vec![4, 5]));
        assert_eq!(d.usizes(), Ok(vec![0, 9]));
        assert_eq!(d.vocabulary(), Ok(vocab));
        assert_eq!(d.sequences(), Ok(sequences));
        assert!(d.is_done());
    }

    #[test]
    fn damaged_files_are_errors() {
        let mut e = Encoder::new();
        e.str("abc");
        let file = seal(b"SEQRECT1", 1, &e.into_bytes());
        assert!(matches!(
            open(b"SEQRECT2", 1, "test", &file),
            Err(CodecError::Magic { .. })
        ));
        assert!(matches!(
            open(b"SEQRECT1", 2, "test", &file),
            Err(CodecError::Version { found: 1, .. })
        ));
        let mut flipped = file.clone();
        flipped[14] ^= 1;
        assert_eq!(
            open(b"SEQRECT1", 1, "test", &flipped),
            Err(CodecError::Checksum)
        );
        assert!(open(b"SEQRECT1", 1, "test", &file[..10]).is_err());
        // A length larger than the rest of the body is refused up front.
        let mut e = Encoder::new();
        e.u64(u64::MAX / 2);
        let bytes = e.into_bytes();
        assert!(matches!(
            Decoder::new(&bytes).f32s(),
            Err(CodecError::Truncated { .. })
        ));
    }
}
