//! Dataset manifests (`data-manifests/*.yaml`): where a dataset lives, its native layout, its
//! class list and label map, and the protocol the paper evaluates it with (paper 4.1, 4.4).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::protocol::ProtocolSpec;
use crate::synthetic::SynthFerConfig;
use crate::Expression;

/// The native layout of a dataset, which selects its importer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DatasetFormat {
    /// SynthFER, rendered in memory from the `synthetic` settings.
    Synthetic,
    /// One folder per class; the subject is parsed from the file name by `subject_regex`
    /// (without one, each image is its own subject, named by its file stem).
    ImageFolder,
    /// One folder per split (`train/`, `validation/`, `test/`), each with one folder per class:
    /// the image-folder form of FER2013. The split folder is the record's split hint.
    ImageFolderSplits,
    /// RAF-DB basic: `EmoLabel/list_patition_label.txt` (1-based labels) and
    /// `Image/aligned/*_aligned.jpg`; the `train_`/`test_` prefixes give the official split.
    /// The faces are aligned to 100x100 by the authors, so it loads directly.
    RafDbBasic,
    /// SFEW 2.0: `Train/<Class>/` and `Val/<Class>/` (the paper tests on Val). Raw movie
    /// frames: `cargo xtask prepare` detects and aligns them before training.
    Sfew2,
    /// CK+ as distributed: `cohn-kanade-images/`, `Emotion/`, optional `Landmarks/`; the last
    /// three frames of each emotion-labelled sequence. Raw frames: prepared before training.
    CkplusOriginal,
    /// Oulu-CASIA: `VL/Strong/Pxxx/<Expression>/`, the last three frames of each sequence.
    /// Raw frames: prepared before training.
    OuluCasia,
    /// A prepared cache written by `cargo xtask prepare` (the face pipeline, paper 4.3):
    /// `samples.csv` (label, subject, split, 68 landmarks) and aligned PNGs under `images/`.
    Prepared,
    /// FER2013 as its one CSV (`emotion,pixels,Usage`, 48x48 gray pixels in the text); the
    /// root is the folder that holds `fer2013.csv` or the CSV file itself.
    Fer2013Csv,
}

impl DatasetFormat {
    /// The name written in manifests (`kind:`).
    pub fn name(&self) -> &'static str {
        match self {
            DatasetFormat::Synthetic => "synthetic",
            DatasetFormat::ImageFolder => "image_folder",
            DatasetFormat::ImageFolderSplits => "image_folder_splits",
            DatasetFormat::RafDbBasic => "raf_db_basic",
            DatasetFormat::Sfew2 => "sfew2",
            DatasetFormat::CkplusOriginal => "ckplus_original",
            DatasetFormat::OuluCasia => "oulu_casia",
            DatasetFormat::Prepared => "prepared",
            DatasetFormat::Fer2013Csv => "fer2013_csv",
        }
    }

    /// Whether the data lives in files (everything but SynthFER), so a root is needed.
    pub fn is_on_disk(&self) -> bool {
        !matches!(self, DatasetFormat::Synthetic)
    }

    /// Whether the layout holds raw frames that need face detection and alignment (paper 4.3,
    /// `cargo xtask prepare`) before training: `FaceDataset::load` refuses these, while
    /// `formats::import_records` imports their records for the prepare step.
    pub fn needs_preparation(&self) -> bool {
        matches!(
            self,
            DatasetFormat::Sfew2 | DatasetFormat::CkplusOriginal | DatasetFormat::OuluCasia
        )
    }

    /// Whether the native labels are numbers that only the manifest's label map can name.
    fn needs_label_map(&self) -> bool {
        matches!(
            self,
            DatasetFormat::RafDbBasic | DatasetFormat::CkplusOriginal | DatasetFormat::Fer2013Csv
        )
    }
}

/// A dataset manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub format: DatasetFormat,
    /// Root folder of the native layout. `resolved_root` returns it as written; the
    /// availability check takes a relative root from the folder above the manifest's folder
    /// (the workspace root for `data-manifests/*.yaml`, the rule xtask uses) when the manifest
    /// was read from a file, else from the working directory.
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// Environment variable that, when set, replaces `root`.
    #[serde(default)]
    pub root_env: Option<String>,
    /// How to obtain the data, printed when the root is missing.
    #[serde(default)]
    pub obtain: String,
    /// The class list: label index i means `classes[i]`.
    pub classes: Vec<Expression>,
    /// Folder (or native label) name -> expression, for names `Expression::from_str` does not know.
    #[serde(default)]
    pub label_map: BTreeMap<String, Expression>,
    /// Regex applied to the file stem; its first capture group (or the group named `subject`)
    /// is the subject id.
    #[serde(default)]
    pub subject_regex: Option<String>,
    /// Landmark CSV relative to the root: columns `image`, optional `success`, `x_0..x_67`, `y_0..y_67`.
    #[serde(default)]
    pub landmarks_csv: Option<PathBuf>,
    /// Folder, relative to the root, of per-image OpenFace 2.0 `FaceLandmarkImg` CSVs (the
    /// paper's FLD labels, paper 4.3): the landmarks of `<id>` are read from
    /// `<folder>/<id without extension>.csv` or else `<folder>/<image stem>.csv`. Used by the
    /// importers of image files; exclusive with `landmarks_csv`.
    #[serde(default)]
    pub landmarks_openface_dir: Option<PathBuf>,
    /// Side of the square images as stored; for layouts that the face pipeline detects and
    /// aligns (SFEW 2.0, CK+, Oulu-CASIA), the side of the aligned faces (paper 4.3: 100).
    pub image_size: u32,
    /// Number of records the importer must find (a check against a partial copy), if known.
    #[serde(default)]
    pub expected_count: Option<usize>,
    pub protocol: ProtocolSpec,
    /// Settings of SynthFER (only for `format: synthetic`).
    #[serde(default)]
    pub synthetic: Option<SynthFerConfig>,
    /// Drop class folders whose names are no expression (`ignore_unknown_classes: true`, or
    /// `--ignore-unknown-classes` on `train` and `prepare`). Off by default: such a folder is an
    /// error listing them, never silently left out. Folders naming an expression the manifest
    /// does not use (contempt in a 6-class list) are left out either way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_unknown_classes: bool,
    /// Accept landmarks outside their image (`landmarks_outside_image: true`): tightly cropped
    /// faces such as CK+48's have jaw points beyond the crop. Off by default, where a point
    /// outside the image means a landmark file of another scale or another image.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub landmarks_outside_image: bool,
    /// The file this manifest was read from (set by `from_file`, never written), so that
    /// error messages can name it and relative roots can be resolved from it.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

impl Manifest {
    /// Reads and validates a manifest file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let mut m: Manifest = serde_yaml::from_str(&text).map_err(|e| {
            let line = e.location().map(|l| l.line()).unwrap_or(0);
            DataError::parse(path, line, e.to_string())
        })?;
        m.validate(path)?;
        m.source = Some(path.to_path_buf());
        Ok(m)
    }

    /// Checks the settings that serde cannot.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let err = |message: String| DataError::Manifest {
            path: path.to_path_buf(),
            message,
        };
        if self.classes.len() < 2 {
            return Err(err("needs at least two classes".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in &self.classes {
            if !seen.insert(*c) {
                return Err(err(format!("class '{c}' is listed twice")));
            }
        }
        if self.image_size == 0 {
            return Err(err("image_size must be positive".into()));
        }
        if let crate::protocol::ProtocolSpec::SubjectKFold { folds } = self.protocol {
            if folds < 3 {
                return Err(err(format!(
                    "protocol.folds: subject k-fold needs at least 3 folds (train, validation, test), got {folds}"
                )));
            }
            if folds > crate::protocol::MAX_FOLDS {
                return Err(err(format!(
                    "protocol.folds: {folds} folds is more than the {} allowed",
                    crate::protocol::MAX_FOLDS
                )));
            }
        }
        if let Some(re) = &self.subject_regex {
            // regex reports over several lines (the pattern, a caret, the reason): one line here.
            regex::Regex::new(re).map_err(|e| {
                let flat: Vec<String> = e
                    .to_string()
                    .lines()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect();
                err(format!("subject_regex: {}", flat.join(" ")))
            })?;
        }
        let kind = self.format.name();
        if self.format == DatasetFormat::Synthetic && self.synthetic.is_none() {
            return Err(err("format synthetic needs a `synthetic:` section".into()));
        }
        if self.format.is_on_disk() && self.root.is_none() && self.root_env.is_none() {
            return Err(err(format!("format {kind} needs `root` or `root_env`")));
        }
        if self.landmarks_csv.is_some() && self.landmarks_openface_dir.is_some() {
            return Err(err(
                "`landmarks_csv` and `landmarks_openface_dir` both name the landmarks; keep one"
                    .into(),
            ));
        }
        // FER2013's CSV rows have no image file, so nothing could name their landmarks.
        if self.format == DatasetFormat::Fer2013Csv
            && (self.landmarks_csv.is_some() || self.landmarks_openface_dir.is_some())
        {
            return Err(err(format!(
                "format {kind} has no image files to attach landmarks to; drop `landmarks_csv` / `landmarks_openface_dir`"
            )));
        }
        if self.format.needs_label_map() && self.label_map.is_empty() {
            return Err(err(format!(
                "format {kind} labels its images with numbers: it needs a `label_map` from those numbers to expressions"
            )));
        }
        // A label map into classes the dataset does not use is allowed (e.g. CK+'s neutral
        // code 0 with a 7-class list: such samples are skipped), but every class must be
        // reachable, or a typo would silently leave a class empty.
        if self.format.needs_label_map() {
            for c in &self.classes {
                if !self.label_map.values().any(|e| e == c) {
                    return Err(err(format!(
                        "class '{c}' has no entry in `label_map`, so no sample could get it"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The label index of an expression in this dataset's class list.
    pub fn label_of(&self, e: Expression) -> Option<usize> {
        self.classes.iter().position(|c| *c == e)
    }

    /// Maps a native label name (folder name, CSV label) to an expression.
    pub fn expression_of(&self, native: &str) -> Result<Expression> {
        if let Some(e) = self.label_map.get(native) {
            return Ok(*e);
        }
        native.parse()
    }

    /// The root folder: `root_env` if that variable is set, else `root`.
    pub fn resolved_root(&self) -> Option<PathBuf> {
        if let Some(var) = &self.root_env {
            if let Some(v) = std::env::var_os(var) {
                return Some(PathBuf::from(v));
            }
        }
        self.root.clone()
    }
}
