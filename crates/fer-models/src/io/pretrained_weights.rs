//! Loading pretrained weights (safetensors) into a model's `VarMap`, for the pretrained
//! ResNet-18 of paper 5.2 (the paper starts ResNet18 and CMCNN-ResNet18 from MS-Celeb-1M
//! weights; torchvision / timm ImageNet weights are the public stand-in), and finding such a
//! file in the local Hugging Face hub cache.
//!
//! Names in the file are the model's variable names without an optional prefix (`fer_net.`
//! for one column of a two-column model). Two adaptations, both as timm does them:
//! - a 3-channel `conv1.weight` loaded into a grayscale (1-channel) model is summed over its
//!   input channels (timm's `adapt_input_conv`): for a gray image replicated to RGB the
//!   first layer then computes exactly what the RGB network computed;
//! - a classifier (`fc.*`) whose shape differs (1000 ImageNet classes against 7 expressions)
//!   or that the file lacks is skipped and keeps its initial values.
//!
//! Any other missing tensor or shape mismatch is an error naming the tensor, the file and both
//! shapes, and nothing is written to the model until every tensor has been checked.
//! Hub look-ups never touch the network: runs and tests are offline, so the file must already
//! be in the cache (`huggingface-cli download <repo> <file>`).

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;

use crate::error::{ModelError, Result};

/// Name (without prefix) of the first convolution, whose input channels may be adapted.
const FIRST_CONV: &str = "conv1.weight";
/// Name prefix (without the model prefix) of the classifier, which may be skipped.
const CLASSIFIER: &str = "fc.";

/// What to load.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadOptions {
    /// Prefix of the model's variable names that the file's names lack (e.g. `"fer_net."`;
    /// a missing final `.` is added). Only variables with this prefix are loaded, and all of
    /// them are required.
    pub prefix: String,
    /// Variable names (without the prefix) starting with one of these may be absent from the
    /// file; they keep their current values (e.g. units a pretrained backbone does not have).
    pub optional: Vec<String>,
}

impl LoadOptions {
    /// Load into the variables under `prefix` (e.g. `"fer_net."`).
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            optional: Vec::new(),
        }
    }
}

/// A model variable that was left as it was.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedTensor {
    /// The model's variable name (with the prefix).
    pub name: String,
    /// Why, e.g. the file's and the model's shapes.
    pub reason: String,
}

/// What a load did. Names are the model's variable names (with the prefix), sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Copied unchanged.
    pub loaded: Vec<String>,
    /// Copied after an adaptation (a 3-channel first convolution summed to 1 channel).
    pub adapted: Vec<String>,
    /// Left at their current values (a classifier of another size, optional variables).
    pub skipped: Vec<SkippedTensor>,
    /// File tensors no variable asked for (file names, e.g. `bn1.num_batches_tracked`).
    pub unused: Vec<String>,
}

/// How one variable gets its value.
struct Plan {
    name: String,
    var: Var,
    value: Tensor,
    adapted: bool,
}

fn read_safetensors(path: &Path) -> Result<std::collections::HashMap<String, Tensor>> {
    if !path.is_file() {
        return Err(ModelError::WeightFile {
            path: path.to_path_buf(),
            message: "no such file".into(),
        });
    }
    candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| ModelError::WeightFile {
        path: path.to_path_buf(),
        message: format!("cannot read as safetensors: {e}"),
    })
}

/// Copies every tensor of the safetensors file at `path` whose name (after `options.prefix`)
/// and shape match a variable of `varmap`, with the two adaptations of the module docs.
/// Tensors are converted to each variable's dtype and device.
///
/// # Errors
/// The file cannot be read; a required variable has no tensor in the file
/// ([`ModelError::MissingWeight`]); a tensor's shape differs and cannot be adapted
/// ([`ModelError::WeightShape`]). On error no variable has been changed.
pub fn load_safetensors_into(
    varmap: &VarMap,
    path: impl AsRef<Path>,
    options: &LoadOptions,
) -> Result<LoadReport> {
    let path = path.as_ref();
    let prefix = if options.prefix.is_empty() || options.prefix.ends_with('.') {
        options.prefix.clone()
    } else {
        format!("{}.", options.prefix)
    };
    let mut file = read_safetensors(path)?;
    let data = varmap
        .data()
        .lock()
        .map_err(|_| ModelError::Config("var map lock poisoned".into()))?;
    let mut names: Vec<&String> = data.keys().filter(|n| n.starts_with(&prefix)).collect();
    names.sort();

    let mut report = LoadReport::default();
    let mut plans = Vec::new();
    for name in names {
        let var = &data[name];
        let key = &name[prefix.len()..];
        let model_shape = var.dims().to_vec();
        let is_classifier = key.starts_with(CLASSIFIER);
        let Some(t) = file.remove(key) else {
            if is_classifier || options.optional.iter().any(|o| key.starts_with(o.as_str())) {
                report.skipped.push(SkippedTensor {
                    name: name.clone(),
                    reason: format!("not in {}", path.display()),
                });
                continue;
            }
            return Err(ModelError::MissingWeight {
                path: path.to_path_buf(),
                name: key.to_string(),
                model_shape,
            });
        };
        let file_shape = t.dims().to_vec();
        if file_shape == model_shape {
            plans.push(Plan {
                name: name.clone(),
                var: var.clone(),
                value: t,
                adapted: false,
            });
        } else if is_classifier {
            // A pretrained head for other classes: the new task trains its own.
            report.skipped.push(SkippedTensor {
                name: name.clone(),
                reason: format!(
                    "classifier shape {file_shape:?} in the file, {model_shape:?} in the model"
                ),
            });
        } else if key == FIRST_CONV
            && file_shape.len() == 4
            && model_shape.len() == 4
            && model_shape[1] == 1
            && file_shape[1] > 1
            && file_shape[0] == model_shape[0]
            && file_shape[2..] == model_shape[2..]
        {
            plans.push(Plan {
                name: name.clone(),
                var: var.clone(),
                value: t.sum_keepdim(1)?,
                adapted: true,
            });
        } else {
            return Err(ModelError::WeightShape {
                path: path.to_path_buf(),
                name: key.to_string(),
                file_shape,
                model_shape,
            });
        }
    }
    // Everything checked: now write.
    for p in plans {
        let v = p.value.to_dtype(p.var.dtype())?.to_device(p.var.device())?;
        p.var.set(&v)?;
        if p.adapted {
            report.adapted.push(p.name);
        } else {
            report.loaded.push(p.name);
        }
    }
    let mut unused: Vec<String> = file.into_keys().collect();
    unused.sort();
    report.unused = unused;
    Ok(report)
}

/// The hub cache directory the Python `huggingface_hub` uses: `$HF_HUB_CACHE`, else
/// `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
pub fn default_hub_cache_dir() -> Result<PathBuf> {
    hub_cache_dir_from(|k| std::env::var(k).ok())
}

fn hub_cache_dir_from(env: impl Fn(&str) -> Option<String>) -> Result<PathBuf> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(d) = set("HF_HUB_CACHE") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = set("HF_HOME") {
        return Ok(PathBuf::from(d).join("hub"));
    }
    // hf-hub's own default panics without a home directory; we report it instead.
    match set("HOME").or_else(|| set("USERPROFILE")) {
        Some(home) => Ok(PathBuf::from(home)
            .join(".cache")
            .join("huggingface")
            .join("hub")),
        None => Err(ModelError::Config(
            "no Hugging Face cache directory: set HF_HUB_CACHE or HF_HOME (or HOME)".into(),
        )),
    }
}

/// The local path of `filename` of model repo `repo_id` (e.g. `timm/resnet18.a1_in1k`,
/// `model.safetensors`) in the Hugging Face hub cache (`cache_dir`, else
/// [`default_hub_cache_dir`]), at the revision `refs/main` points to. Never downloads.
///
/// # Errors
/// [`ModelError::HubCacheMiss`] naming the repo, the file, the directory searched and the
/// command that populates it.
pub fn resolve_hub_weights(
    repo_id: &str,
    filename: &str,
    cache_dir: Option<&Path>,
) -> Result<PathBuf> {
    let dir = match cache_dir {
        Some(d) => d.to_path_buf(),
        None => default_hub_cache_dir()?,
    };
    hf_hub::Cache::new(dir.clone())
        .model(repo_id.to_string())
        .get(filename)
        .ok_or_else(|| ModelError::HubCacheMiss {
            repo_id: repo_id.to_string(),
            filename: filename.to_string(),
            cache_dir: dir,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;
    use candle_nn::{Init, VarBuilder};
    use std::collections::HashMap;

    /// A unique temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let p = std::env::temp_dir()
                .join(format!("fer-models-{tag}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn model(prefix: &str, in_c: usize, classes: usize) -> VarMap {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let vb = if prefix.is_empty() { vb } else { vb.pp(prefix) };
        vb.get_with_hints((4, in_c, 3, 3), "conv1.weight", Init::Const(0.0))
            .unwrap();
        vb.get_with_hints(4, "bn1.running_var", Init::Const(1.0))
            .unwrap();
        vb.get_with_hints((classes, 4), "fc.weight", Init::Const(0.5))
            .unwrap();
        varmap
    }

    fn ramp(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        Tensor::arange(0f32, n as f32, &Device::Cpu)
            .unwrap()
            .reshape(shape)
            .unwrap()
    }

    fn write(dir: &TempDir, tensors: &[(&str, Tensor)]) -> PathBuf {
        let p = dir.0.join("w.safetensors");
        let map: HashMap<String, Tensor> = tensors
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect();
        candle_core::safetensors::save(&map, &p).unwrap();
        p
    }

    fn get(varmap: &VarMap, name: &str) -> Vec<f32> {
        varmap.data().lock().unwrap()[name]
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    #[test]
    fn loads_with_prefix_adapts_conv1_and_skips_the_classifier() {
        let dir = TempDir::new("load-prefix");
        let path = write(
            &dir,
            &[
                ("conv1.weight", ramp(&[4, 3, 3, 3])),
                ("bn1.running_var", ramp(&[4])),
                ("fc.weight", ramp(&[1000, 4])),
                (
                    "bn1.num_batches_tracked",
                    Tensor::new(&[3i64], &Device::Cpu).unwrap(),
                ),
            ],
        );
        let varmap = model("fer_net", 1, 7);
        // A variable outside the prefix is neither required nor touched.
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu)
            .get_with_hints(2, "other.w", Init::Const(9.0))
            .unwrap();
        let report =
            load_safetensors_into(&varmap, &path, &LoadOptions::with_prefix("fer_net")).unwrap();
        assert_eq!(report.loaded, vec!["fer_net.bn1.running_var"]);
        assert_eq!(report.adapted, vec!["fer_net.conv1.weight"]);
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(report.skipped[0].name, "fer_net.fc.weight");
        assert!(report.skipped[0].reason.contains("[1000, 4]"));
        assert_eq!(report.unused, vec!["bn1.num_batches_tracked"]);
        assert_eq!(
            get(&varmap, "fer_net.bn1.running_var"),
            vec![0., 1., 2., 3.]
        );
        // Channel sum: element (o, 0, ky, kx) = sum_c ramp[o, c, ky, kx].
        let w = get(&varmap, "fer_net.conv1.weight");
        assert_eq!(w[0], 0.0 + 9.0 + 18.0);
        assert_eq!(w[10], (27 + 1) as f32 + (27 + 10) as f32 + (27 + 19) as f32);
        assert!(get(&varmap, "fer_net.fc.weight").iter().all(|&v| v == 0.5));
        assert_eq!(get(&varmap, "other.w"), vec![9.0, 9.0]);
    }

    #[test]
    fn shape_mismatch_and_missing_tensors_are_errors_that_change_nothing() {
        let dir = TempDir::new("load-errors");
        let path = write(
            &dir,
            &[
                ("conv1.weight", ramp(&[4, 3, 3, 3])),
                ("bn1.running_var", ramp(&[5])),
            ],
        );
        let varmap = model("", 3, 7);
        let err = load_safetensors_into(&varmap, &path, &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("bn1.running_var"), "{err}");
        assert!(err.contains("[5]") && err.contains("[4]"), "{err}");
        assert!(err.contains("w.safetensors"), "{err}");
        // conv1 was checked first and is valid, but nothing is written on error.
        assert!(get(&varmap, "conv1.weight").iter().all(|&v| v == 0.0));

        let path = write(&dir, &[("conv1.weight", ramp(&[4, 3, 3, 3]))]);
        let err = load_safetensors_into(&varmap, &path, &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no tensor 'bn1.running_var'"), "{err}");
        let opts = LoadOptions {
            prefix: String::new(),
            optional: vec!["bn1.".into()],
        };
        let report = load_safetensors_into(&varmap, &path, &opts).unwrap();
        assert_eq!(report.loaded, vec!["conv1.weight"]);
        assert_eq!(report.skipped.len(), 2); // bn1 (optional), fc (classifier) not in file

        let err = load_safetensors_into(&varmap, dir.0.join("absent.safetensors"), &opts)
            .unwrap_err()
            .to_string();
        assert!(err.contains("absent.safetensors") && err.contains("no such file"));
    }

    #[test]
    fn finds_a_file_in_a_hub_cache_tree_and_explains_a_miss() {
        let dir = TempDir::new("hub-cache");
        let hash = "0123456789abcdef0123456789abcdef01234567";
        let repo = dir.0.join("models--timm--resnet18.a1_in1k");
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::create_dir_all(repo.join("snapshots").join(hash)).unwrap();
        std::fs::write(repo.join("refs").join("main"), hash).unwrap();
        let file = repo.join("snapshots").join(hash).join("model.safetensors");
        std::fs::write(&file, b"not really weights").unwrap();

        let found = resolve_hub_weights("timm/resnet18.a1_in1k", "model.safetensors", Some(&dir.0))
            .unwrap();
        assert_eq!(found, file);

        let err = resolve_hub_weights("timm/resnet18.a1_in1k", "pytorch_model.bin", Some(&dir.0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("timm/resnet18.a1_in1k"), "{err}");
        assert!(err.contains("pytorch_model.bin"), "{err}");
        assert!(err.contains(&dir.0.display().to_string()), "{err}");
        assert!(
            err.contains("huggingface-cli download timm/resnet18.a1_in1k pytorch_model.bin"),
            "{err}"
        );
        let err = resolve_hub_weights("someone/absent", "model.safetensors", Some(&dir.0));
        assert!(matches!(err, Err(ModelError::HubCacheMiss { .. })));
    }

    #[test]
    fn default_cache_dir_follows_huggingface_hub() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let d = hub_cache_dir_from(env(&[("HF_HUB_CACHE", "/c"), ("HF_HOME", "/h")]));
        assert_eq!(d.unwrap(), PathBuf::from("/c"));
        let d = hub_cache_dir_from(env(&[("HF_HOME", "/h"), ("HOME", "/home/u")]));
        assert_eq!(d.unwrap(), PathBuf::from("/h/hub"));
        let d = hub_cache_dir_from(env(&[("HOME", "/home/u")]));
        assert_eq!(d.unwrap(), PathBuf::from("/home/u/.cache/huggingface/hub"));
        assert!(hub_cache_dir_from(env(&[])).is_err());
    }
}
