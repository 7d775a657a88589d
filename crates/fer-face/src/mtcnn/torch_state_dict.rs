//! Reads a PyTorch `state_dict` saved with `torch.save`, the format of facenet-pytorch's
//! `pnet.pt`, `rnet.pt` and `onet.pt` (the MTCNN weights of Zhang et al. 2016 as converted by
//! facenet-pytorch), without Python.
//!
//! Those three files use torch's *legacy* serialisation (before torch 1.6): five pickles in a
//! row (magic number, protocol version, system info, the state dict itself, the list of storage
//! keys) followed by each storage's raw little-endian bytes, prefixed by its element count as an
//! i64. candle's `pickle::read_all` only reads the newer zip container, so the legacy layout is
//! walked here with candle's own pickle interpreter; zip files are handed to candle unchanged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};

use crate::{FaceError, Result};
use fer_models::io::pickle_lengths::check_pickle_lengths;

/// The first pickle of a legacy file: protocol 2, `torch.serialization.MAGIC_NUMBER`
/// (0x1950a86a20f9469cfc6c) as a 10-byte LONG1, STOP. Matched byte for byte because the number
/// is wider than the i64 that candle's pickle reader decodes LONG1 into.
const LEGACY_MAGIC_PICKLE: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
];

/// The tensors of one `.pt` state dict, by parameter name (e.g. `conv1.weight`).
#[derive(Debug)]
pub struct TorchStateDict {
    path: PathBuf,
    tensors: HashMap<String, Tensor>,
}

impl TorchStateDict {
    /// Reads every f32 tensor of the state dict at `path` onto `device` (other dtypes are
    /// skipped: the MTCNN weights are all f32).
    pub fn read(path: &Path, device: &Device) -> Result<TorchStateDict> {
        let bytes = std::fs::read(path).map_err(|e| FaceError::io(path, e))?;
        let tensors = if bytes.starts_with(b"PK\x03\x04") {
            // The zip container of torch >= 1.6: candle reads it, once it is checked.
            fer_models::io::torch_zip::read_torch_zip(path, &bytes)
                .map_err(|message| weight_file_error(path, message))?
                .into_iter()
                .map(|(name, t)| Ok((name, t.to_device(device)?)))
                .collect::<Result<HashMap<_, _>>>()?
        } else {
            read_legacy(path, &bytes, device)?
        };
        Ok(TorchStateDict {
            path: path.to_path_buf(),
            tensors,
        })
    }

    /// The file the tensors came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The parameter names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.tensors.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The tensor `name`, which must have exactly the shape `expected`: a network built from
    /// a file with other shapes would compute garbage rather than fail.
    pub fn tensor(&self, name: &str, expected: &[usize]) -> Result<Tensor> {
        let tensor = self.tensors.get(name).ok_or_else(|| {
            self.error(format!(
                "no tensor '{name}' (the file has: {})",
                self.names().join(", ")
            ))
        })?;
        if tensor.dims() != expected {
            return Err(self.error(format!(
                "tensor '{name}' has shape {:?}, expected {expected:?}",
                tensor.dims()
            )));
        }
        Ok(tensor.clone())
    }

    fn error(&self, message: String) -> FaceError {
        weight_file_error(&self.path, message)
    }
}

fn weight_file_error(path: &Path, message: impl Into<String>) -> FaceError {
    FaceError::WeightFile {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Whether a state-dict value that candle's `into_tensor_info` takes for a tensor has the
/// fields it reads: it removes them by index and would panic on a short tuple (found by
/// `cargo xtask fuzz`). Follows the same three layouts: `_rebuild_from_type_v2(fn, type,
/// args, ...)`, `_rebuild_parameter(tensor, ...)` and `_rebuild_tensor_v2(storage, offset,
/// size, stride, ...)` with storage `(tag, class, key, location, size)`.
fn tensor_record_is_whole(value: &Object) -> bool {
    let Object::Reduce { callable, args } = value else {
        return true;
    };
    let tuple = |o: &Object| match o {
        Object::Tuple(t) => Some(t.len()),
        _ => None,
    };
    let Object::Class {
        module_name,
        class_name,
    } = callable.as_ref()
    else {
        return true;
    };
    match (module_name.as_str(), class_name.as_str()) {
        ("torch._tensor", "_rebuild_from_type_v2") => match args.as_ref() {
            Object::Tuple(t) if t.len() >= 3 => tensor_record_is_whole(&Object::Reduce {
                callable: Box::new(t[0].clone()),
                args: Box::new(t[2].clone()),
            }),
            _ => tuple(args).is_none(),
        },
        ("torch._utils", "_rebuild_parameter") => match args.as_ref() {
            Object::Tuple(t) if !t.is_empty() => {
                matches!(t[0], Object::Reduce { .. }) && tensor_record_is_whole(&t[0])
            }
            _ => tuple(args).is_none(),
        },
        ("torch._utils", "_rebuild_tensor_v2") => match args.as_ref() {
            Object::Tuple(t) if t.len() >= 4 => match &t[0] {
                Object::PersistentLoad(storage) => tuple(storage).is_none_or(|n| n >= 5),
                _ => true,
            },
            _ => tuple(args).is_none(),
        },
        _ => true,
    }
}

/// Parses the legacy layout described in the module comment.
fn read_legacy(path: &Path, bytes: &[u8], device: &Device) -> Result<HashMap<String, Tensor>> {
    let fail = |message: String| weight_file_error(path, message);
    let Some(mut reader) = bytes.strip_prefix(&LEGACY_MAGIC_PICKLE[..]) else {
        return Err(fail(
            "neither a zip nor a legacy torch.save file (no torch magic number)".into(),
        ));
    };
    let mut next_pickle = |what: &str| -> Result<Object> {
        check_pickle_lengths(reader)
            .map_err(|e| fail(format!("cannot read the {what} pickle: {e}")))?;
        let mut stack = Stack::empty();
        stack
            .read_loop(&mut reader)
            .and_then(|()| stack.finalize())
            .map_err(|e| fail(format!("cannot read the {what} pickle: {e}")))
    };
    let _protocol_version = next_pickle("protocol version")?;
    let _sys_info = next_pickle("system info")?;
    let state_dict = next_pickle("state dict")?;
    let storage_keys: Vec<String> = match next_pickle("storage keys")? {
        Object::List(keys) => keys
            .into_iter()
            .map(|k| String::try_from(k).map_err(|k| fail(format!("storage key {k:?}"))))
            .collect::<Result<_>>()?,
        other => return Err(fail(format!("storage key list is {other:?}"))),
    };

    let entries = match state_dict {
        Object::Dict(entries) => entries,
        other => {
            return Err(fail(format!(
                "the saved object is not a state dict: {other:?}"
            )))
        }
    };
    // candle's TensorInfo names the storage "<dir>/<key>"; a fixed dir makes the key recoverable.
    let storage_dir = Path::new("storage");
    let mut infos = Vec::new();
    for (name, value) in entries {
        if !tensor_record_is_whole(&value) {
            return Err(fail(format!(
                "the record of tensor {name:?} has too few fields for torch's tensor layout"
            )));
        }
        let info = value
            .into_tensor_info(name, storage_dir)
            .map_err(|e| fail(format!("unreadable tensor record: {e}")))?;
        if let Some(info) = info {
            let key = info
                .path
                .strip_prefix("storage/")
                .unwrap_or(&info.path)
                .to_string();
            infos.push((key, info));
        }
    }

    // The storages follow in the order of the key list: i64 element count, then the data,
    // whose element size is that of the storage type named in the tensors' records.
    let element_size: HashMap<&str, usize> = infos
        .iter()
        .map(|(key, info)| (key.as_str(), info.dtype.size_in_bytes()))
        .collect();
    let mut storages: HashMap<&str, &[u8]> = HashMap::new();
    for key in &storage_keys {
        let size = *element_size
            .get(key.as_str())
            .ok_or_else(|| fail(format!("storage '{key}' belongs to no tensor")))?;
        if reader.len() < 8 {
            return Err(fail(format!("file ends before storage '{key}'")));
        }
        let (count, rest) = reader.split_at(8);
        let mut count_bytes = [0u8; 8];
        count_bytes.copy_from_slice(count);
        let byte_count = usize::try_from(i64::from_le_bytes(count_bytes))
            .ok()
            .and_then(|n| n.checked_mul(size))
            .filter(|&n| n <= rest.len())
            .ok_or_else(|| fail(format!("storage '{key}' has a bad size")))?;
        let (data, rest) = rest.split_at(byte_count);
        storages.insert(key.as_str(), data);
        reader = rest;
    }

    let mut tensors = HashMap::new();
    for (key, info) in infos {
        if info.dtype != DType::F32 {
            // Not a weight of these networks (e.g. a counter); its bytes were skipped above.
            continue;
        }
        let data = storages
            .get(key.as_str())
            .ok_or_else(|| fail(format!("tensor '{}': no storage '{key}'", info.name)))?;
        let storage: Vec<f32> = data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        // Some tensors are strided views (facenet-pytorch's converted TensorFlow 1x1 kernels
        // are stored transposed): gather them in row-major order.
        let values = gather_strided(
            &storage,
            info.layout.dims(),
            info.layout.stride(),
            info.layout.start_offset() / DType::F32.size_in_bytes(),
        )
        .ok_or_else(|| {
            fail(format!(
                "tensor '{}' (shape {:?}, strides {:?}) reaches past or repeats its storage '{key}'",
                info.name,
                info.layout.dims(),
                info.layout.stride()
            ))
        })?;
        let tensor = Tensor::from_vec(values, info.layout.shape().clone(), device)?;
        tensors.insert(info.name, tensor);
    }
    Ok(tensors)
}

/// The elements of the view (`dims`, `strides`, `start`) of `storage`, row-major; None when
/// the view reaches past the storage or has more elements than it (a broadcast view, which no
/// weight file holds; refused so that a hostile size cannot ask for a huge buffer). The
/// arithmetic is checked: sizes come from the file.
fn gather_strided(
    storage: &[f32],
    dims: &[usize],
    strides: &[usize],
    start: usize,
) -> Option<Vec<f32>> {
    let count = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
    if count == 0 {
        return Some(Vec::new());
    }
    if count > storage.len() {
        return None;
    }
    let last = dims.iter().zip(strides).try_fold(start, |sum, (d, s)| {
        sum.checked_add((d - 1).checked_mul(*s)?)
    })?;
    if last >= storage.len() {
        return None;
    }
    let mut values = Vec::with_capacity(count);
    let mut index = vec![0usize; dims.len()];
    for _ in 0..count {
        let offset = start + index.iter().zip(strides).map(|(i, s)| i * s).sum::<usize>();
        values.push(storage[offset]);
        // Advance the multi-index, last dimension fastest.
        for d in (0..dims.len()).rev() {
            index[d] += 1;
            if index[d] < dims[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_pickle_holds_torchs_magic_number() {
        // torch/serialization.py: MAGIC_NUMBER = 0x1950a86a20f9469cfc6c, little endian.
        let mut le = [0u8; 16];
        le[..10].copy_from_slice(&LEGACY_MAGIC_PICKLE[4..14]);
        assert_eq!(u128::from_le_bytes(le), 0x1950a86a20f9469cfc6c);
    }

    #[test]
    fn gathers_a_transposed_view() {
        // Storage of a 2x3 row-major matrix read as its 3x2 transpose.
        let storage = [0., 1., 2., 3., 4., 5.];
        let t = gather_strided(&storage, &[3, 2], &[1, 3], 0).expect("inside");
        assert_eq!(t, vec![0., 3., 1., 4., 2., 5.]);
        assert_eq!(gather_strided(&storage, &[3, 2], &[1, 3], 1), None);
    }

    #[test]
    fn refuses_hostile_sizes_without_allocating() {
        let storage = [7.0f32];
        // 2^31 x 2^31 elements over one value (stride 0): a broadcast, refused.
        assert_eq!(
            gather_strided(&storage, &[1 << 31, 1 << 31], &[0, 0], 0),
            None
        );
        // Sizes whose product or reach overflows usize.
        assert_eq!(gather_strided(&storage, &[usize::MAX, 2], &[0, 0], 0), None);
        assert_eq!(gather_strided(&storage, &[1], &[1], usize::MAX), None);
        assert_eq!(gather_strided(&[1.0, 2.0], &[2], &[usize::MAX], 0), None);
    }

    #[test]
    fn rejects_a_file_that_is_not_a_torch_save() {
        let dir = std::env::temp_dir().join(format!("torch_state_dict_{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("not_torch.pt");
        std::fs::write(&path, b"hello").expect("write");
        let err = TorchStateDict::read(&path, &Device::Cpu).expect_err("must fail");
        assert!(err.to_string().contains("not_torch.pt"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
