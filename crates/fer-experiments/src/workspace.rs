//! `Workspace`: where `experiments/`, `data-manifests/` and `results/` are
//! (ARCHITECTURE.md "fer-experiments"), and how a dataset name finds its manifest.

use std::path::{Path, PathBuf};

use fer_data::Manifest;

use crate::error::{bail, Result};

/// The folders of a workspace: `experiments/`, `data-manifests/` and `results/` under one root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub root: PathBuf,
}

impl Workspace {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `results/` under the root.
    pub fn results_dir(&self) -> PathBuf {
        self.root.join("results")
    }

    /// `experiments/` under the root.
    pub fn experiments_dir(&self) -> PathBuf {
        self.root.join("experiments")
    }

    /// `data-manifests/<name>.yaml` under the root.
    pub fn manifest_path(&self, name: &str) -> PathBuf {
        self.root
            .join("data-manifests")
            .join(format!("{name}.yaml"))
    }

    /// A manifest's root: relative paths are taken from the workspace root, so commands work
    /// from any working directory.
    pub fn resolve(&self, path: Option<PathBuf>) -> Option<PathBuf> {
        path.map(|p| {
            if p.is_relative() {
                self.root.join(p)
            } else {
                p
            }
        })
    }

    /// The manifest file a dataset name or YAML path stands for.
    pub fn manifest_file(&self, dataset: &str) -> PathBuf {
        let as_path = Path::new(dataset);
        if as_path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml")
        {
            as_path.to_path_buf()
        } else {
            self.manifest_path(dataset)
        }
    }

    /// Reads a manifest given by name (`data-manifests/<name>.yaml`) or path; an unknown name
    /// lists the known ones.
    pub fn load_manifest(&self, dataset: &str) -> Result<Manifest> {
        let path = self.manifest_file(dataset);
        if !path.is_file() {
            let known: Vec<String> = std::fs::read_dir(self.root.join("data-manifests"))
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter_map(|e| {
                            e.path()
                                .file_stem()
                                .map(|s| s.to_string_lossy().to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            bail!(
                "unknown dataset '{dataset}': no manifest {} (known: {})",
                path.display(),
                known.join(", ")
            );
        }
        let manifest = Manifest::from_file(&path)?;
        // The name becomes the dataset's folder under every experiment's results.
        if !fer_runs::is_safe_name(&manifest.name) {
            bail!(
                "{}: name {:?} is not a safe name: use {}",
                path.display(),
                manifest.name,
                fer_runs::SAFE_NAME_RULE
            );
        }
        Ok(manifest)
    }
}

/// This repository's workspace, for unit tests.
#[cfg(test)]
pub(crate) fn repository_workspace() -> Workspace {
    Workspace::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}
