//! Run ids of existing configs never change: every committed run record under results/ is read
//! back as today's `TrainConfig`, written again, and must hash to the run id its folder is
//! named after (ARCHITECTURE.md "Run record"). A new setting that changed the YAML of old
//! configs (a field without `skip_serializing_if`, a renamed key, another float format) would
//! make the runner train every committed run again; this test names the first such record.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use fer_train::TrainConfig;

/// Every `config.yaml` below `dir` that sits beside a `DONE` (a finished record).
fn finished_configs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            finished_configs(&path, out)?;
        } else if path.file_name().is_some_and(|n| n == "config.yaml")
            && path.with_file_name("DONE").is_file()
        {
            out.push(path);
        }
    }
    Ok(())
}

#[test]
fn committed_records_keep_their_run_ids() -> Result<()> {
    let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results");
    let mut configs = Vec::new();
    finished_configs(&results, &mut configs)?;
    assert!(
        configs.len() >= 20,
        "expected the committed records of results/ (table4, fig2-4), found {}",
        configs.len()
    );
    for path in &configs {
        let text = std::fs::read_to_string(path)?;
        let cfg: TrainConfig =
            serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let again = cfg.to_yaml()?;
        let folder = path
            .parent()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        assert_eq!(again, text, "{}: written again differently", path.display());
        assert_eq!(
            fer_train::run_id(&again),
            folder,
            "{}: hashes to another run id",
            path.display()
        );
    }
    Ok(())
}
