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
    /// One folder per class; the subject is parsed from the file name by `subject_regex`.
    ImageFolder,
}

/// A dataset manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub format: DatasetFormat,
    /// Root folder of the native layout; relative paths are taken from the working directory.
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
    /// Side of the square images as stored.
    pub image_size: u32,
    /// Number of records the importer must find (a check against a partial copy), if known.
    #[serde(default)]
    pub expected_count: Option<usize>,
    pub protocol: ProtocolSpec,
    /// Settings of SynthFER (only for `format: synthetic`).
    #[serde(default)]
    pub synthetic: Option<SynthFerConfig>,
}

impl Manifest {
    /// Reads and validates a manifest file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let m: Manifest = serde_yaml::from_str(&text).map_err(|e| {
            let line = e.location().map(|l| l.line()).unwrap_or(0);
            DataError::parse(path, line, e.to_string())
        })?;
        m.validate(path)?;
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
        if let Some(re) = &self.subject_regex {
            regex::Regex::new(re).map_err(|e| err(format!("subject_regex: {e}")))?;
        }
        match self.format {
            DatasetFormat::Synthetic if self.synthetic.is_none() => {
                Err(err("format synthetic needs a `synthetic:` section".into()))
            }
            DatasetFormat::ImageFolder if self.root.is_none() && self.root_env.is_none() => {
                Err(err("format image_folder needs `root` or `root_env`".into()))
            }
            _ => Ok(()),
        }
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
