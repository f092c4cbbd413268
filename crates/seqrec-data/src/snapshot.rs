//! A loaded [`Dataset`] as bytes (vocabularies, every user's sequence, the
//! split boundaries, the load report): the body of a split-cache entry and
//! the `data.snapshot` of a self-contained model directory, which lets a
//! model recommend without the source files.

use crate::dataset::Dataset;
use crate::report::LoadReport;
use crate::{DataError, Result};
use seqrec_core::Split;
use seqrec_core::codec::{self, CodecError, Decoder, Encoder};
use std::path::Path;

const MAGIC: &[u8; 8] = b"SEQRECDS";
/// Bump whenever the layout changes meaning.
const VERSION: u32 = 1;

impl Dataset {
    /// Appends the dataset to `e`.
    pub fn encode(&self, e: &mut Encoder) -> Result<()> {
        e.str(&self.name);
        e.vocabulary(&self.users);
        e.vocabulary(&self.items);
        e.sequences(self.split.sequences());
        let (train_end, validation_end) = self.split.boundaries();
        e.u32s(train_end);
        e.u32s(validation_end);
        e.u64(self.split.catalogue_size() as u64);
        let report = serde_json::to_string(&self.report)
            .map_err(|e| DataError::InvalidOption(e.to_string()))?;
        e.str(&report);
        Ok(())
    }

    /// Reads what [`Self::encode`] wrote, checking that the parts agree.
    pub fn decode(d: &mut Decoder<'_>) -> std::result::Result<Dataset, CodecError> {
        let malformed = |e: &dyn std::fmt::Display| CodecError::Malformed(e.to_string());
        let name = d.str()?;
        let users = d.vocabulary()?;
        let items = d.vocabulary()?;
        let sequences = d.sequences()?;
        let train_end = d.u32s()?;
        let validation_end = d.u32s()?;
        let catalogue = usize::try_from(d.u64()?).map_err(|e| malformed(&e))?;
        let report: LoadReport = serde_json::from_str(&d.str()?).map_err(|e| malformed(&e))?;
        let users_in_split = sequences.users();
        let split = Split::from_parts(sequences, train_end, validation_end, catalogue)
            .map_err(|e| malformed(&e))?;
        if items.len() != catalogue || users.len() != users_in_split {
            return Err(CodecError::Malformed(
                "vocabulary sizes do not match the split".into(),
            ));
        }
        Ok(Dataset {
            name,
            users,
            items,
            split,
            report,
        })
    }
}

/// Writes `dataset` to `path` as one checksummed file (atomically: a
/// temporary file, then a rename).
pub fn write_snapshot(path: &Path, dataset: &Dataset) -> Result<()> {
    let mut body = Encoder::new();
    dataset.encode(&mut body)?;
    let bytes = codec::seal(MAGIC, VERSION, &body.into_bytes());
    crate::cache::write_file_atomic(path, &bytes)
}

/// Reads a file written by [`write_snapshot`]; a damaged or foreign file is
/// an error naming it.
pub fn read_snapshot(path: &Path) -> Result<Dataset> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let invalid = |source: CodecError| DataError::Codec {
        path: path.to_path_buf(),
        source,
    };
    let body = codec::open(MAGIC, VERSION, "seqrec dataset snapshot", &bytes).map_err(invalid)?;
    let mut d = Decoder::new(body);
    let mut dataset = Dataset::decode(&mut d).map_err(invalid)?;
    if !d.is_done() {
        return Err(invalid(CodecError::Malformed("bytes after the end".into())));
    }
    dataset.report.from_cache = true;
    Ok(dataset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DatasetName, LoadRequest, load};

    #[test]
    fn a_snapshot_reads_back_to_the_same_dataset_and_damage_is_an_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut request = LoadRequest::new(dir.path());
        request.cache_dir = None;
        let name = DatasetName::parse("synthetic-movielens").unwrap_or_else(|e| panic!("{e}"));
        let mut data = load(&name, &request).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("data.snapshot");
        write_snapshot(&path, &data).unwrap_or_else(|e| panic!("{e}"));
        let back = read_snapshot(&path).unwrap_or_else(|e| panic!("{e}"));
        data.report.from_cache = true;
        assert_eq!(back.name, data.name);
        assert_eq!(back.users, data.users);
        assert_eq!(back.items, data.items);
        assert_eq!(back.split, data.split);
        assert_eq!(back.report, data.report);
        let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let err = read_snapshot(&path).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("checksum") && e.contains("data.snapshot")),
            "{err:?}"
        );
    }
}
