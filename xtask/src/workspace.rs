//! The workspace this runner works in, and the experiment context every command passes to
//! fer-experiments (ARCHITECTURE.md "xtask").

use std::path::PathBuf;

use fer_experiments::{ExperimentContext, Workspace};

/// The workspace root (the folder with the top-level Cargo.toml), or FER_WORKSPACE_ROOT when
/// set: a prebuilt binary run elsewhere (the GPU bundle, bench/gpu.sh) has no source tree at
/// the path it was compiled in, and finds bench/, data-manifests/ and experiments/ there.
pub fn root() -> PathBuf {
    if let Some(dir) = std::env::var_os("FER_WORKSPACE_ROOT") {
        return PathBuf::from(dir);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// The workspace's folders.
pub fn workspace() -> Workspace {
    Workspace::new(root())
}

/// An experiment's spec, the results folder and its output name (`<name>` or
/// `<name>-<tag>`), as `report`, `status` and `records` take them.
pub fn experiment_output(
    ctx: &ExperimentContext,
    experiment: &str,
    tag: Option<&str>,
    results: Option<PathBuf>,
) -> anyhow::Result<(fer_experiments::ExperimentSpec, PathBuf, String)> {
    let spec = fer_experiments::ExperimentSpec::load(&ctx.workspace, experiment)?;
    let results = results.unwrap_or_else(results_dir);
    let output = match tag {
        Some(t) => format!("{}-{t}", spec.name),
        None => spec.name.clone(),
    };
    if !fer_runs::is_safe_name(&output) {
        anyhow::bail!(
            "--tag {:?}: {output:?} is not a safe folder name: use {}",
            tag.unwrap_or_default(),
            fer_runs::SAFE_NAME_RULE
        );
    }
    Ok((spec, results, output))
}

/// `results/` under the workspace root.
pub fn results_dir() -> PathBuf {
    workspace().results_dir()
}

/// A manifest's root, relative paths taken from the workspace root.
pub fn resolve(path: Option<PathBuf>) -> Option<PathBuf> {
    workspace().resolve(path)
}

/// The workspace, every registered model (fer-catalog: the paper's and the add-on crates) and the code
/// version of this binary.
pub fn context() -> ExperimentContext {
    ExperimentContext {
        workspace: workspace(),
        registry: fer_catalog::model_registry(),
        code_version: Some(crate::code_version::current()),
    }
}
