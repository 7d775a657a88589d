//! The workspace this runner works in, and the experiment context every command passes to
//! fer-experiments (ARCHITECTURE.md "xtask").

use std::path::PathBuf;

use fer_experiments::{ExperimentContext, Workspace};

/// The workspace root, found once per process:
/// 1. FER_WORKSPACE_ROOT when set (a prebuilt binary run elsewhere: the GPU bundle, a Slurm
///    task, a campaign binary copied out of target/);
/// 2. else the nearest folder at or above the working directory whose Cargo.toml is this
///    workspace, so results go into the checkout the user stands in, even when several
///    clones share one CARGO_TARGET_DIR (and so one binary);
/// 3. else the folder this binary was compiled in, with a note saying so.
pub fn root() -> PathBuf {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(find_root).clone()
}

fn find_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("FER_WORKSPACE_ROOT") {
        return PathBuf::from(dir);
    }
    let cwd = std::env::current_dir().ok();
    if let Some(found) = cwd
        .as_deref()
        .and_then(|c| c.ancestors().find(|d| is_this_workspace(d)))
    {
        return found.to_path_buf();
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let compiled = here.parent().map(PathBuf::from).unwrap_or(here);
    eprintln!(
        "note: {} is not inside a checkout of this workspace; using the one this program was built in, {} (set FER_WORKSPACE_ROOT to choose)",
        cwd.map(|c| c.display().to_string()).unwrap_or_else(|| "the working directory".into()),
        compiled.display()
    );
    compiled
}

/// Whether `dir` holds this workspace: a Cargo.toml with `[workspace]` and the xtask member,
/// and the experiments/ folder the runner reads.
fn is_this_workspace(dir: &std::path::Path) -> bool {
    let Ok(toml) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
        return false;
    };
    toml.contains("[workspace]")
        && toml.contains("\"xtask\"")
        && dir.join("xtask/Cargo.toml").is_file()
        && dir.join("experiments").is_dir()
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
