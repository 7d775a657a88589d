//! The availability check run before any run starts (`Manifest::check_available`): missing
//! roots and missing key entries name the manifest, the path looked in, the environment
//! variable and flag that move it, and how to obtain the data; raw-frame layouts (SFEW 2.0,
//! CK+, Oulu-CASIA) that are present say they must be prepared first.

use anyhow::Result;
use fer_data::{DataError, FaceDataset, Manifest};
use std::path::{Path, PathBuf};

fn fixture_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fer-data-avail-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn write_png(path: &Path) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    image::GrayImage::from_pixel(4, 4, image::Luma([7]))
        .save(path)
        .expect("png");
}

/// Writes `yaml` as `<dir>/data-manifests/<name>.yaml` and reads it back, so the manifest
/// knows its file (as the repository's manifests do).
fn manifest_file(dir: &Path, name: &str, yaml: &str) -> Result<(PathBuf, Manifest)> {
    let path = dir.join("data-manifests").join(format!("{name}.yaml"));
    std::fs::create_dir_all(path.parent().expect("parent"))?;
    std::fs::write(&path, yaml)?;
    let m = Manifest::from_file(&path)?;
    Ok((path, m))
}

const OBTAIN: &str = "Ask the fixture's authors for it.";

fn splits_yaml(root: &str, env: &str) -> String {
    format!(
        "name: fer-fixture\nformat: {{ kind: image_folder_splits }}\nroot: {root}\nroot_env: {env}\nobtain: {OBTAIN}\nclasses: [anger, happiness]\nlabel_map: {{ angry: anger, happy: happiness }}\nimage_size: 48\nprotocol: {{ kind: official }}\n"
    )
}

#[test]
fn a_missing_root_names_manifest_path_env_var_and_obtain_text() -> Result<()> {
    let dir = fixture_dir("root");
    let (path, m) = manifest_file(
        &dir,
        "fer-fixture",
        &splits_yaml("data/nowhere", "FER_AVAIL_UNSET_1"),
    )?;
    let err = m.check_available(None).expect_err("missing root");
    assert!(matches!(err, DataError::DatasetMissing(_)), "{err:?}");
    let msg = err.to_string();
    // A relative root is taken from the folder above data-manifests/.
    let looked_in = dir.join("data/nowhere");
    for needle in [
        path.display().to_string(),
        looked_in.display().to_string(),
        "FER_AVAIL_UNSET_1".to_string(),
        "--data-root".to_string(),
        OBTAIN.to_string(),
        "does not exist".to_string(),
    ] {
        assert!(msg.contains(&needle), "'{needle}' missing from: {msg}");
    }
    // Loading gives the same message.
    let msg = FaceDataset::load(&m, None, 48, None)
        .expect_err("load")
        .to_string();
    assert!(
        msg.contains("FER_AVAIL_UNSET_1") && msg.contains(OBTAIN),
        "{msg}"
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn a_missing_split_folder_is_named() -> Result<()> {
    let dir = fixture_dir("split");
    let root = dir.join("fer");
    write_png(&root.join("train/angry/a.png"));
    write_png(&root.join("validation/happy/b.png"));
    let (_, m) = manifest_file(
        &dir,
        "fer-fixture",
        &splits_yaml("fer", "FER_AVAIL_UNSET_2"),
    )?;
    let msg = m.check_available(None).expect_err("no test/").to_string();
    assert!(
        msg.contains(&root.display().to_string())
            && msg.contains("test/")
            && msg.contains("FER_AVAIL_UNSET_2"),
        "{msg}"
    );
    // A split folder without any class folder is named too.
    std::fs::create_dir_all(root.join("test/not-a-class"))?;
    let msg = m.check_available(None).expect_err("no class").to_string();
    assert!(
        msg.contains(&root.join("test").display().to_string()) && msg.contains("angry/"),
        "{msg}"
    );
    write_png(&root.join("test/angry/c.png"));
    assert_eq!(m.check_available(None)?, Some(root.clone()));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn image_folder_needs_a_class_folder_and_its_landmark_file() -> Result<()> {
    let dir = fixture_dir("folder");
    let root = dir.join("faces");
    std::fs::create_dir_all(root.join("cache"))?;
    let yaml = format!(
        "name: faces\nformat: {{ kind: image_folder }}\nroot: {}\nroot_env: FER_AVAIL_UNSET_3\nobtain: {OBTAIN}\nclasses: [anger, happiness]\nlandmarks_csv: landmarks.csv\nimage_size: 48\nprotocol: {{ kind: subject_k_fold, folds: 3 }}\n",
        root.display()
    );
    let (_, m) = manifest_file(&dir, "faces", &yaml)?;
    let msg = m.check_available(None).expect_err("no class").to_string();
    assert!(
        msg.contains(&root.display().to_string())
            && msg.contains("anger/")
            && msg.contains("FER_AVAIL_UNSET_3"),
        "{msg}"
    );
    write_png(&root.join("happy/S1_1.png"));
    let msg = m.check_available(None).expect_err("no csv").to_string();
    assert!(msg.contains("landmarks.csv"), "{msg}");
    std::fs::write(root.join("landmarks.csv"), "image\n")?;
    assert_eq!(m.check_available(None)?, Some(root.clone()));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn the_flag_and_the_environment_variable_move_the_root() -> Result<()> {
    let dir = fixture_dir("moved");
    let elsewhere = dir.join("elsewhere");
    write_png(&elsewhere.join("train/angry/a.png"));
    write_png(&elsewhere.join("validation/angry/b.png"));
    write_png(&elsewhere.join("test/happy/c.png"));
    // A variable no other test reads, so setting it cannot race with them.
    let var = format!("FER_AVAIL_MOVED_{}", std::process::id());
    let (_, m) = manifest_file(&dir, "fer-fixture", &splits_yaml("/no/such/folder", &var))?;
    assert!(m.check_available(None).is_err());
    assert_eq!(
        m.check_available(Some(&elsewhere))?,
        Some(elsewhere.clone())
    );
    std::env::set_var(&var, &elsewhere);
    assert_eq!(m.check_available(None)?, Some(elsewhere.clone()));
    // The flag wins over the variable.
    let msg = m
        .check_available(Some(&dir.join("flagged")))
        .expect_err("flag wins")
        .to_string();
    assert!(msg.contains("flagged"), "{msg}");
    std::env::remove_var(&var);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn no_root_at_all_says_which_variable_to_set() -> Result<()> {
    let yaml = "name: oulu\nformat: { kind: oulu_casia }\nroot_env: FER_AVAIL_UNSET_4\nobtain: ask Oulu\nclasses: [anger, fear]\nimage_size: 100\nprotocol: { kind: subject_k_fold, folds: 10 }\n";
    let m: Manifest = serde_yaml::from_str(yaml)?;
    let msg = m.check_available(None).expect_err("no root").to_string();
    assert!(
        msg.contains("FER_AVAIL_UNSET_4 is not set")
            && msg.contains("manifest not read from a file")
            && msg.contains("ask Oulu"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn synthfer_is_always_available() -> Result<()> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data-manifests/synthfer.yaml");
    let m = Manifest::from_file(&path)?;
    assert_eq!(m.check_available(None)?, None);
    assert_eq!(m.check_available(Some(Path::new("/no/such/folder")))?, None);
    Ok(())
}

/// The native layouts of the datasets that are not on this machine: a missing key entry is
/// named; a complete layout passes the check; loading raw frames says to prepare them first,
/// and RAF-DB (loaded directly) names its empty label list.
#[test]
fn native_layouts_check_key_entries_and_raw_frames_need_preparation() -> Result<()> {
    let dir = fixture_dir("native");
    let cases: [(&str, &str, &[&str], &[&str]); 4] = [
        (
            "raf-db",
            "FER_RAFDB",
            &["Image/aligned"],
            &["EmoLabel/list_patition_label.txt"],
        ),
        ("sfew2", "FER_SFEW2", &["Train/Angry", "Val/Angry"], &[]),
        (
            "ckplus",
            "FER_CKPLUS",
            &["cohn-kanade-images/S005/001", "Emotion/S005/001"],
            &[],
        ),
        (
            "oulu-casia",
            "FER_OULU_CASIA",
            &["VL/Strong/P001/Anger"],
            &[],
        ),
    ];
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data-manifests");
    for (name, var, dirs, files) in cases {
        let m = Manifest::from_file(&repo.join(format!("{name}.yaml")))?;
        let root = dir.join(name);
        std::fs::create_dir_all(&root)?;
        // Empty root: the first key entry is missing, and the message says how to fix it.
        let msg = m
            .check_available(Some(&root))
            .expect_err("empty root")
            .to_string();
        assert!(
            msg.contains(&root.display().to_string())
                && msg.contains(var)
                && msg.contains(&format!("{name}.yaml"))
                && msg.contains(m.obtain.trim()),
            "{msg}"
        );
        for d in dirs {
            std::fs::create_dir_all(root.join(d))?;
        }
        for f in files {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().expect("parent"))?;
            std::fs::write(p, "")?;
        }
        assert_eq!(
            m.check_available(Some(&root))?,
            Some(root.clone()),
            "{name}"
        );
        let err = FaceDataset::load(&m, Some(&root), 100, None).expect_err("not loadable");
        let msg = err.to_string();
        if name == "raf-db" {
            // Loaded directly: the empty label list is named.
            assert!(msg.contains("list_patition_label.txt"), "{msg}");
        } else {
            assert!(matches!(err, DataError::NeedsPreparation { .. }), "{err:?}");
            assert!(
                msg.contains(&format!("cargo xtask prepare {name}"))
                    && msg.contains(m.format.name())
                    && msg.contains(&root.display().to_string()),
                "{msg}"
            );
        }
    }
    // RAF-DB names the label file when only the image folder is there.
    let root = dir.join("raf-only-images");
    std::fs::create_dir_all(root.join("Image/aligned"))?;
    let m = Manifest::from_file(&repo.join("raf-db.yaml"))?;
    let msg = m
        .check_available(Some(&root))
        .expect_err("no list")
        .to_string();
    assert!(msg.contains("EmoLabel/list_patition_label.txt"), "{msg}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
