//! PyTorch's zip checkpoint format (`torch.save` since 1.6), read by candle once it is checked.
//!
//! Why: candle's reader allocates what the file declares before reading it. A 2.5 KB `.pth`
//! whose data.pkl declared a 1.9 GB string, or a tensor record whose shape outgrows its
//! storage, made the process abort (found by `cargo xtask fuzz` from a zip seed). Here every
//! pickle's lengths are walked first ([`check_pickle_lengths`]) and every tensor must fit in
//! the bytes its storage record can hold, so such a file is a clear error. Malformed records
//! that make candle's pickle interpreter panic are contained too. Not part of the paper: the
//! reference implementation's checkpoints (imported for Table 4's parity) come in this format.

use std::io::{Cursor, Read};
use std::path::Path;

use candle_core::Tensor;

use crate::io::pickle_lengths::check_pickle_lengths;

/// The largest pickle accepted: a state dict's pickle holds names, shapes and storage keys,
/// a few kilobytes per parameter.
const MAX_PICKLE_BYTES: u64 = 64 << 20;

/// DEFLATE expands at most about 1032-fold: what a compressed record can really hold.
fn holdable_bytes(entry: &zip::read::ZipFile<'_, Cursor<&[u8]>>) -> u64 {
    entry.size().min(
        entry
            .compressed_size()
            .saturating_mul(1032)
            .saturating_add(1024),
    )
}

/// Reads every tensor of the zip checkpoint `bytes` (the contents of `path`), or says what is
/// wrong with it.
pub fn read_torch_zip(path: &Path, bytes: &[u8]) -> Result<Vec<(String, Tensor)>, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("not a readable zip checkpoint: {e}"))?;
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not a readable zip checkpoint: {e}"))?;
    for name in names.iter().filter(|n| n.ends_with(".pkl")) {
        let mut entry = archive
            .by_name(name)
            .map_err(|e| format!("record {name}: {e}"))?;
        let size = holdable_bytes(&entry);
        if size > MAX_PICKLE_BYTES {
            return Err(format!(
                "record {name} declares {size} bytes, more than a state dict's pickle holds"
            ));
        }
        let mut pickle = Vec::with_capacity(size as usize);
        entry
            .by_ref()
            .take(MAX_PICKLE_BYTES)
            .read_to_end(&mut pickle)
            .map_err(|e| format!("record {name}: {e}"))?;
        check_pickle_lengths(&pickle).map_err(|e| format!("record {name}: {e}"))?;
    }
    // candle's pickle interpreter indexes some malformed records without checking their length
    // and panics: contained and reported as the file's error.
    let contained = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || -> Result<Vec<(String, Tensor)>, String> {
            let infos = candle_core::pickle::read_pth_tensor_info(path, false, None)
                .map_err(|e| e.to_string())?;
            for info in &infos {
                let entry = archive.by_name(&info.path).map_err(|e| {
                    format!("tensor {}: storage record {}: {e}", info.name, info.path)
                })?;
                // The shape comes from the file: its product may overflow.
                let elements = info
                    .layout
                    .dims()
                    .iter()
                    .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
                    .unwrap_or(u64::MAX);
                // candle keeps a view's offset in bytes (it skips that many before reading).
                let needed = (info.layout.start_offset() as u64)
                    .saturating_add(elements.saturating_mul(info.dtype.size_in_bytes() as u64));
                let holds = holdable_bytes(&entry);
                if needed > holds {
                    return Err(format!(
                    "tensor {} of shape {:?} needs {needed} bytes, but its storage record {} holds {holds}",
                    info.name,
                    info.layout.dims(),
                    info.path
                ));
                }
            }
            candle_core::pickle::read_all(path).map_err(|e| e.to_string())
        },
    ));
    contained.unwrap_or_else(|_| {
        Err("a malformed tensor record (torch's layout has more fields)".to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored (uncompressed) zip of the given records, written by the `zip` crate.
    fn zip_of(records: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut out);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            for (name, data) in records {
                w.start_file(*name, opts).unwrap();
                std::io::Write::write_all(&mut w, data).unwrap();
            }
            w.finish().unwrap();
        }
        out.into_inner()
    }

    #[test]
    fn an_overlong_pickle_string_is_refused_before_candle_reads_it() {
        // PROTO 2, BINUNICODE declaring 0x77000000 bytes with 3 present, STOP.
        let mut pickle = vec![0x80, 2, b'X'];
        pickle.extend(0x7700_0000u32.to_le_bytes());
        pickle.extend(b"abc.");
        let bytes = zip_of(&[("m/data.pkl", &pickle)]);
        let path = std::env::temp_dir().join(format!("overlong-{}.pth", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let e = read_torch_zip(&path, &bytes).unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert!(
            e.contains("record m/data.pkl") && e.contains("declares 1996488704 bytes"),
            "{e}"
        );
    }

    #[test]
    fn garbage_is_not_a_zip() {
        let e = read_torch_zip(Path::new("x.pth"), b"PK\x03\x04 not really").unwrap_err();
        assert!(e.contains("not a readable zip"), "{e}");
    }
}
