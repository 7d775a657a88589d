//! Import of checkpoints of the reference implementation (github thuiar/cmcnn, the code behind
//! the paper's numbers): its `FER_DCNN`, `LM_DCNN` and `CMCNN` state dicts, saved by PyTorch
//! (`.pth`/`.pt`, read with candle's PyTorch reader) or converted to safetensors, into our
//! `base-dcnn-fer`, `base-dcnn-fld` and `cmcnn`.
//!
//! Parameter-name mapping (reference -> ours; `{i}` is the layer index 0-5, `*` the PyTorch
//! leaf name `weight`, `bias`, `running_mean`, `running_var`):
//!
//! | reference                                   | ours                                   |
//! |---------------------------------------------|----------------------------------------|
//! | FER_DCNN / LM_DCNN `baseDCNN.layer{i}.conv{i}.*`, `.norm{i}.*` | the same             |
//! | FER_DCNN `baseDCNN.fc1.*`                   | `fer_feature.fer_fc1.*` (style `reference_fer_dcnn`) |
//! | FER_DCNN `last_fc.*`                        | `fer_out.fer_out.*`                    |
//! | LM_DCNN `baseDCNN.fc1.*`                    | `lm_feature.lm_fc1.*`                  |
//! | LM_DCNN `last_fc.*`                         | `lm_out.lm_out.*`                      |
//! | CMCNN `sharedDCNN.layer{i}.0.conv_f{i}.*`, `.0.norm_f{i}.*` | `fer_net.layer{i}.conv{i}.*`, `.norm{i}.*` |
//! | CMCNN `sharedDCNN.layer{i}.1.conv_l{i}.*`, `.1.norm_l{i}.*` | `fld_net.layer{i}.conv{i}.*`, `.norm{i}.*` |
//! | CMCNN `sharedDCNN.e_em_maps.{i}.{0,2}.*`    | `co_att.{i}.ccam.fer_map.{0,2}.*`      |
//! | CMCNN `sharedDCNN.l_em_maps.{i}.{0,2}.*`    | `co_att.{i}.ccam.fld_map.{0,2}.*`      |
//! | CMCNN `sharedDCNN.sas.{i}.conv1.weight`     | `co_att.{i}.scam.conv.weight`          |
//! | CMCNN `sharedDCNN.sas.{i}.bn.*`             | `co_att.{i}.scam.bn.*`                 |
//! | CMCNN `sharedDCNN.cross_stitch_e.{i}` (1x2) | `co_att.{i}.beta` (2)                  |
//! | CMCNN `sharedDCNN.cross_stitch_l.{i}` (1x2) | `co_att.{i}.alpha` (2)                 |
//! | CMCNN `fer_feature.*`, `fer_out.*`, `lm_feature.*`, `lm_out.*` | the same            |
//!
//! `num_batches_tracked` entries are ignored, a `module.` prefix (DataParallel) is removed, and
//! CMCNN's `sharedDCNN.layers.*` entries are skipped: the reference registers its six layer
//! pairs twice (`layer{i}` and the list `layers`), so they are aliases of the same tensors.
//! The model must be built with the reference's settings: `ModelConfig::reference_code()`
//! (no ReLU after the FER embedding, 3x3 + BN SCAM), 100 px, and the reference's per-dataset
//! head widths and `e_ratio` (see `ReferenceModel::model_config`). Every variable of the model
//! must be found with its shape; nothing is written until all are checked.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use regex::Regex;

use crate::error::{ModelError, Result};
use crate::model_config::{FerHeadStyle, ModelConfig};

/// The three model classes of the reference code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceModel {
    FerDcnn,
    LmDcnn,
    Cmcnn,
}

impl ReferenceModel {
    /// Parses `fer_dcnn`, `lm_dcnn`, `cmcnn` (the reference's `--modelName` values, any case).
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().replace('-', "_").as_str() {
            "fer_dcnn" => Ok(Self::FerDcnn),
            "lm_dcnn" => Ok(Self::LmDcnn),
            "cmcnn" => Ok(Self::Cmcnn),
            _ => Err(ModelError::Config(format!(
                "unknown reference model '{name}' (known: fer_dcnn, lm_dcnn, cmcnn)"
            ))),
        }
    }

    /// Our registry name for it.
    pub fn registry_name(self) -> &'static str {
        match self {
            Self::FerDcnn => "base-dcnn-fer",
            Self::LmDcnn => "base-dcnn-fld",
            Self::Cmcnn => "cmcnn",
        }
    }

    /// Our settings for the reference's: `embedding` is its `embedding_size` (FER_DCNN,
    /// LM_DCNN) or `fer_embedding` (CMCNN), `lm_embedding` its FLD hidden width (CMCNN; for
    /// LM_DCNN pass `embedding_size`), `e_ratio` its δ.
    pub fn model_config(
        self,
        num_classes: usize,
        embedding: usize,
        lm_embedding: usize,
        e_ratio: f64,
    ) -> ModelConfig {
        let mut c = ModelConfig::reference_code();
        c.num_classes = num_classes;
        c.fer_head.embedding = embedding;
        c.fld_head.hidden = lm_embedding;
        c.co_attention.embedding_ratio = e_ratio;
        if self == Self::FerDcnn {
            c.fer_head.style = FerHeadStyle::ReferenceFerDcnn;
        }
        c
    }

    /// Entries that are not parameters of their own: batch-norm step counters and the
    /// reference CMCNN's second registration of its layers (`sharedDCNN.layers.*`).
    fn is_alias(name: &str) -> bool {
        let name = name.strip_prefix("module.").unwrap_or(name);
        name.ends_with("num_batches_tracked") || name.starts_with("sharedDCNN.layers.")
    }

    /// Our name for a reference parameter name; `None` for entries that are not parameters
    /// (`num_batches_tracked`) or that this model class does not have.
    pub fn map_name(self, name: &str) -> Option<String> {
        let name = name.strip_prefix("module.").unwrap_or(name);
        if Self::is_alias(name) {
            return None;
        }
        let rules: &[(&str, &str)] = match self {
            Self::FerDcnn => &[
                (r"^baseDCNN\.fc1\.(\w+)$", "fer_feature.fer_fc1.$1"),
                (r"^last_fc\.(\w+)$", "fer_out.fer_out.$1"),
                (r"^(baseDCNN\.layer\d\.(?:conv|norm)\d\.\w+)$", "$1"),
            ],
            Self::LmDcnn => &[
                (r"^baseDCNN\.fc1\.(\w+)$", "lm_feature.lm_fc1.$1"),
                (r"^last_fc\.(\w+)$", "lm_out.lm_out.$1"),
                (r"^(baseDCNN\.layer\d\.(?:conv|norm)\d\.\w+)$", "$1"),
            ],
            Self::Cmcnn => &[
                (
                    r"^sharedDCNN\.layer(\d)\.0\.(conv|norm)_f\d\.(\w+)$",
                    "fer_net.layer$1.$2$1.$3",
                ),
                (
                    r"^sharedDCNN\.layer(\d)\.1\.(conv|norm)_l\d\.(\w+)$",
                    "fld_net.layer$1.$2$1.$3",
                ),
                (
                    r"^sharedDCNN\.e_em_maps\.(\d)\.([02])\.(\w+)$",
                    "co_att.$1.ccam.fer_map.$2.$3",
                ),
                (
                    r"^sharedDCNN\.l_em_maps\.(\d)\.([02])\.(\w+)$",
                    "co_att.$1.ccam.fld_map.$2.$3",
                ),
                (
                    r"^sharedDCNN\.sas\.(\d)\.conv1\.weight$",
                    "co_att.$1.scam.conv.weight",
                ),
                (
                    r"^sharedDCNN\.sas\.(\d)\.bn\.(\w+)$",
                    "co_att.$1.scam.bn.$2",
                ),
                (r"^sharedDCNN\.cross_stitch_e\.(\d)$", "co_att.$1.beta"),
                (r"^sharedDCNN\.cross_stitch_l\.(\d)$", "co_att.$1.alpha"),
                (
                    r"^((?:fer_feature|fer_out|lm_feature|lm_out)\.\w+\.\w+)$",
                    "$1",
                ),
            ],
        };
        rules.iter().find_map(|(pattern, replacement)| {
            // The patterns are constants of this file; an invalid one is a bug, not input.
            let re = Regex::new(pattern).ok()?;
            re.is_match(name)
                .then(|| re.replace(name, *replacement).into_owned())
        })
    }
}

/// Reads a state dict: `.pth`/`.pt`/`.bin` with candle's PyTorch (pickle) reader, anything
/// else as safetensors.
pub fn read_state_dict(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let err = |e: candle_core::Error| ModelError::WeightFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if matches!(ext.as_str(), "pth" | "pt" | "bin") {
        let bytes = std::fs::read(path).map_err(|e| ModelError::WeightFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        crate::io::torch_zip::read_torch_zip(path, &bytes).map_err(|message| {
            ModelError::WeightFile {
                path: path.to_path_buf(),
                message,
            }
        })
    } else {
        Ok(candle_core::safetensors::load(path, &Device::Cpu)
            .map_err(err)?
            .into_iter()
            .collect())
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// Our variable names that were set.
    pub loaded: Vec<String>,
    /// Reference entries that map to nothing in our model.
    pub unused: Vec<String>,
}

/// Imports a reference checkpoint into the variables of a model built with
/// `ReferenceModel::registry_name()` and `ReferenceModel::model_config(..)`.
pub fn import_reference_checkpoint(
    varmap: &VarMap,
    path: &Path,
    model: ReferenceModel,
) -> Result<ImportReport> {
    let mut mapped: HashMap<String, Tensor> = HashMap::new();
    let mut report = ImportReport::default();
    for (name, tensor) in read_state_dict(path)? {
        match model.map_name(&name) {
            Some(ours) => {
                mapped.insert(ours, tensor);
            }
            None if ReferenceModel::is_alias(&name) => {}
            None => report.unused.push(name),
        }
    }
    let data = varmap
        .data()
        .lock()
        .map_err(|_| ModelError::Config("variable map lock poisoned".into()))?;
    let mut updates = Vec::with_capacity(data.len());
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let Some(t) = mapped.get(name) else {
            if let Some(example) = report.unused.first() {
                return Err(ModelError::CheckpointMismatch(format!(
                    "{}: nothing maps to '{name}' under the {model:?} mapping, and {} entries \
                     are unknown to it (e.g. '{example}'): is this a checkpoint of another \
                     reference model class?",
                    path.display(),
                    report.unused.len()
                )));
            }
            return Err(ModelError::MissingWeight {
                name: name.clone(),
                path: path.to_path_buf(),
                model_shape: var.dims().to_vec(),
            });
        };
        // The reference stores α, β as 1x2 matrices; ours are vectors of 2.
        let t = if t.dims() != var.dims() && t.elem_count() == var.elem_count() && t.rank() <= 2 {
            t.reshape(var.shape())?
        } else {
            t.clone()
        };
        if t.dims() != var.dims() {
            return Err(ModelError::WeightShape {
                name: name.clone(),
                path: path.to_path_buf(),
                file_shape: t.dims().to_vec(),
                model_shape: var.dims().to_vec(),
            });
        }
        updates.push((var, t.to_dtype(var.dtype())?, name.clone()));
    }
    for (var, t, name) in updates {
        var.set(&t)?;
        report.loaded.push(name);
    }
    report.unused.sort();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{seeded_var_builder, ModelRegistry};
    use candle_core::DType;

    /// The reference CMCNN's state-dict keys, enumerated from its model code (models/CMCNN.py:
    /// `cross_stitch_e/l`, `e_em_maps`, `l_em_maps`, `sas`, `layer{i}` = [CNR(P) f, CNR(P) l],
    /// the alias list `layers`, heads), independently of `map_name`.
    fn reference_cmcnn_keys() -> Vec<String> {
        let mut k = Vec::new();
        for i in 0..6 {
            k.push(format!("sharedDCNN.cross_stitch_e.{i}"));
            k.push(format!("sharedDCNN.cross_stitch_l.{i}"));
            for m in ["e_em_maps", "l_em_maps"] {
                for j in [0, 2] {
                    for p in ["weight", "bias"] {
                        k.push(format!("sharedDCNN.{m}.{i}.{j}.{p}"));
                    }
                }
            }
            k.push(format!("sharedDCNN.sas.{i}.conv1.weight"));
            for p in [
                "weight",
                "bias",
                "running_mean",
                "running_var",
                "num_batches_tracked",
            ] {
                k.push(format!("sharedDCNN.sas.{i}.bn.{p}"));
            }
            for (col, t) in [(0, "f"), (1, "l")] {
                for list in ["layer{i}", "layers.{i}"] {
                    let list = list.replace("{i}", &i.to_string());
                    for p in ["weight", "bias"] {
                        k.push(format!("sharedDCNN.{list}.{col}.conv_{t}{i}.{p}"));
                    }
                    for p in [
                        "weight",
                        "bias",
                        "running_mean",
                        "running_var",
                        "num_batches_tracked",
                    ] {
                        k.push(format!("sharedDCNN.{list}.{col}.norm_{t}{i}.{p}"));
                    }
                }
            }
        }
        for p in ["weight", "bias"] {
            for m in [
                "fer_feature.fer_fc1",
                "fer_feature.fer_fc2",
                "fer_out.fer_out",
                "lm_feature.lm_fc1",
                "lm_out.lm_out",
            ] {
                k.push(format!("{m}.{p}"));
            }
        }
        for m in ["fer_feature.fer_bn1", "fer_feature.fer_bn2"] {
            for p in [
                "weight",
                "bias",
                "running_mean",
                "running_var",
                "num_batches_tracked",
            ] {
                k.push(format!("{m}.{p}"));
            }
        }
        k
    }

    #[test]
    fn every_reference_cmcnn_key_maps_and_imports() {
        let kind = ReferenceModel::Cmcnn;
        let mut cfg = kind.model_config(7, 16, 32, 0.5);
        cfg.input_size = 32;
        cfg.fer_head.hidden = 24;
        let (varmap, vb) = seeded_var_builder(0, DType::F32, &Device::Cpu);
        let _model = ModelRegistry::with_paper_models()
            .build("cmcnn", &cfg, vb)
            .unwrap();
        let shapes: HashMap<String, Vec<usize>> = varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.clone(), v.dims().to_vec()))
            .collect();
        // A file with the reference's keys; each tensor filled with its key's index.
        let mut file = HashMap::new();
        let mut expected = HashMap::new();
        for (idx, key) in reference_cmcnn_keys().iter().enumerate() {
            let ours = kind.map_name(key);
            let shape = match &ours {
                Some(n) => shapes
                    .get(n)
                    .unwrap_or_else(|| panic!("{key} -> {n}, not a variable"))
                    .clone(),
                None => vec![1],
            };
            // α, β are 1x2 in the reference.
            let file_shape = if key.contains("cross_stitch") {
                vec![1, 2]
            } else {
                shape
            };
            let t = Tensor::full(idx as f32, file_shape, &Device::Cpu).unwrap();
            if let Some(n) = ours {
                expected.insert(n, idx as f32);
            }
            file.insert(key.clone(), t);
        }
        assert_eq!(
            expected.len(),
            shapes.len(),
            "every variable is covered once"
        );
        let path =
            std::env::temp_dir().join(format!("ref-cmcnn-{}.safetensors", std::process::id()));
        candle_core::safetensors::save(&file, &path).unwrap();
        let report = import_reference_checkpoint(&varmap, &path, kind).unwrap();
        assert_eq!(report.loaded.len(), shapes.len());
        assert!(report.unused.is_empty(), "{:?}", report.unused);
        for (name, var) in varmap.data().lock().unwrap().iter() {
            let v: Vec<f32> = var.flatten_all().unwrap().to_vec1().unwrap();
            assert!(v.iter().all(|&x| x == expected[name]), "{name}");
        }
        // A missing tensor is an error naming it, and nothing is written.
        let before: Vec<f32> = varmap.data().lock().unwrap()["co_att.0.beta"]
            .to_vec1()
            .unwrap();
        file.remove("lm_out.lm_out.bias");
        file.insert(
            "sharedDCNN.cross_stitch_e.0".into(),
            Tensor::new(&[[9f32, 9.0]], &Device::Cpu).unwrap(),
        );
        candle_core::safetensors::save(&file, &path).unwrap();
        let err = import_reference_checkpoint(&varmap, &path, kind).unwrap_err();
        assert!(err.to_string().contains("lm_out.lm_out.bias"), "{err}");
        let after: Vec<f32> = varmap.data().lock().unwrap()["co_att.0.beta"]
            .to_vec1()
            .unwrap();
        assert_eq!(before, after);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn single_task_reference_names_map_to_our_heads() {
        let fer = ReferenceModel::FerDcnn;
        assert_eq!(
            fer.map_name("baseDCNN.layer3.norm3.running_var").as_deref(),
            Some("baseDCNN.layer3.norm3.running_var")
        );
        assert_eq!(
            fer.map_name("module.baseDCNN.fc1.weight").as_deref(),
            Some("fer_feature.fer_fc1.weight")
        );
        assert_eq!(
            fer.map_name("last_fc.bias").as_deref(),
            Some("fer_out.fer_out.bias")
        );
        let lm = ReferenceModel::LmDcnn;
        assert_eq!(
            lm.map_name("baseDCNN.fc1.bias").as_deref(),
            Some("lm_feature.lm_fc1.bias")
        );
        assert_eq!(
            lm.map_name("last_fc.weight").as_deref(),
            Some("lm_out.lm_out.weight")
        );
        assert_eq!(
            lm.map_name("baseDCNN.layer0.norm0.num_batches_tracked"),
            None
        );
        assert_eq!(lm.map_name("something.else"), None);
        assert!(ReferenceModel::parse("FER_DCNN").is_ok());
        assert!(ReferenceModel::parse("resnet").is_err());
    }
}
