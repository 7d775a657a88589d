//! Every manifest in data-manifests/ parses and validates, and the new ones (FER2013, RAF-DB,
//! SFEW 2.0, CK+, Oulu-CASIA) say what the paper (4.1, 4.4) and the datasets' READMEs say.

use anyhow::Result;
use fer_data::{DatasetFormat, Expression, Manifest, ProtocolSpec};
use std::path::{Path, PathBuf};

fn manifest_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data-manifests")
        .join(format!("{name}.yaml"))
}

fn read(name: &str) -> Result<Manifest> {
    Ok(Manifest::from_file(&manifest_path(name))?)
}

#[test]
fn every_repository_manifest_validates() -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data-manifests");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let m = Manifest::from_file(&path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            assert_eq!(m.source.as_deref(), Some(path.as_path()));
            assert!(
                !m.obtain.trim().is_empty() || !m.format.is_on_disk(),
                "{}",
                path.display()
            );
            n += 1;
        }
    }
    assert!(n >= 8, "found only {n} manifests in {}", dir.display());
    Ok(())
}

#[test]
fn fer2013_manifest() -> Result<()> {
    let m = read("fer2013")?;
    assert_eq!(m.format, DatasetFormat::ImageFolderSplits);
    assert_eq!(m.root_env.as_deref(), Some("FER_FER2013"));
    assert_eq!(m.expected_count, Some(35887));
    assert_eq!(m.protocol, ProtocolSpec::Official);
    assert_eq!(m.image_size, 48);
    assert!(m.landmarks_csv.is_none() && m.subject_regex.is_none());
    // The CSV's label order: 0 angry 1 disgust 2 fear 3 happy 4 sad 5 surprise 6 neutral.
    assert_eq!(m.label_of(Expression::Anger), Some(0));
    assert_eq!(m.label_of(Expression::Sadness), Some(4));
    assert_eq!(m.label_of(Expression::Neutral), Some(6));
    for (folder, e) in [
        ("angry", Expression::Anger),
        ("happy", Expression::Happiness),
        ("sad", Expression::Sadness),
        ("surprise", Expression::Surprise),
    ] {
        assert_eq!(m.expression_of(folder)?, e);
    }
    assert!(m.obtain.contains("FER_FER2013") && m.obtain.contains("validation/"));
    Ok(())
}

#[test]
fn raf_db_manifest_uses_the_one_based_list_labels() -> Result<()> {
    let m = read("raf-db")?;
    assert_eq!(m.format, DatasetFormat::RafDbBasic);
    assert_eq!(m.expected_count, Some(15339));
    assert_eq!(m.protocol, ProtocolSpec::Official);
    let expected = [
        ("1", Expression::Surprise),
        ("2", Expression::Fear),
        ("3", Expression::Disgust),
        ("4", Expression::Happiness),
        ("5", Expression::Sadness),
        ("6", Expression::Anger),
        ("7", Expression::Neutral),
    ];
    for (i, (code, e)) in expected.into_iter().enumerate() {
        assert_eq!(m.expression_of(code)?, e);
        assert_eq!(m.label_of(e), Some(i), "label {code} is index {i}");
    }
    assert!(
        m.obtain.contains("EmoLabel/list_patition_label.txt") && m.obtain.contains("FER_RAFDB")
    );
    Ok(())
}

#[test]
fn sfew2_manifest() -> Result<()> {
    let m = read("sfew2")?;
    assert_eq!(m.format, DatasetFormat::Sfew2);
    assert_eq!(m.classes.len(), 7);
    assert_eq!(m.expected_count, Some(958 + 436));
    assert_eq!(m.expression_of("Happy")?, Expression::Happiness);
    assert_eq!(m.expression_of("Sad")?, Expression::Sadness);
    assert!(
        m.obtain.contains("Train/") && m.obtain.contains("Val/") && m.obtain.contains("FER_SFEW2")
    );
    Ok(())
}

#[test]
fn ckplus_manifest_uses_the_emotion_codes() -> Result<()> {
    let m = read("ckplus")?;
    assert_eq!(m.format, DatasetFormat::CkplusOriginal);
    assert_eq!(m.expected_count, Some(981));
    assert_eq!(m.protocol, ProtocolSpec::SubjectKFold { folds: 10 });
    let codes = [
        Expression::Neutral,
        Expression::Anger,
        Expression::Contempt,
        Expression::Disgust,
        Expression::Fear,
        Expression::Happiness,
        Expression::Sadness,
        Expression::Surprise,
    ];
    for (code, e) in codes.into_iter().enumerate() {
        assert_eq!(m.expression_of(&code.to_string())?, e);
    }
    assert_eq!(m.classes.len(), 7);
    assert_eq!(
        m.label_of(Expression::Neutral),
        None,
        "neutral is no CK+ class"
    );
    assert!(m.obtain.contains("cohn-kanade-images") && m.obtain.contains("FER_CKPLUS"));
    Ok(())
}

#[test]
fn oulu_casia_manifest() -> Result<()> {
    let m = read("oulu-casia")?;
    assert_eq!(m.format, DatasetFormat::OuluCasia);
    assert_eq!(m.expected_count, Some(1440));
    assert_eq!(m.protocol, ProtocolSpec::SubjectKFold { folds: 10 });
    let mut classes = m.classes.clone();
    classes.sort();
    let mut basic = Expression::BASIC_SIX.to_vec();
    basic.sort();
    assert_eq!(classes, basic);
    assert!(m.obtain.contains("VL/Strong") && m.obtain.contains("FER_OULU_CASIA"));
    Ok(())
}

#[test]
fn numeric_layouts_need_a_complete_label_map() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("fer-data-manifests-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let no_map = dir.join("no-map.yaml");
    std::fs::write(
        &no_map,
        "name: r\nformat: { kind: raf_db_basic }\nroot: /x\nclasses: [anger, fear]\nimage_size: 100\nprotocol: { kind: official }\n",
    )?;
    let e = Manifest::from_file(&no_map)
        .expect_err("no label map")
        .to_string();
    assert!(e.contains("no-map.yaml") && e.contains("label_map"), "{e}");

    let gap = dir.join("gap.yaml");
    std::fs::write(
        &gap,
        "name: c\nformat: { kind: ckplus_original }\nroot: /x\nclasses: [anger, fear]\nlabel_map: { '1': anger }\nimage_size: 100\nprotocol: { kind: official }\n",
    )?;
    let e = Manifest::from_file(&gap)
        .expect_err("fear unreachable")
        .to_string();
    assert!(e.contains("gap.yaml") && e.contains("fear"), "{e}");

    let rootless = dir.join("rootless.yaml");
    std::fs::write(
        &rootless,
        "name: s\nformat: { kind: sfew2 }\nclasses: [anger, fear]\nimage_size: 100\nprotocol: { kind: official }\n",
    )?;
    let e = Manifest::from_file(&rootless)
        .expect_err("no root")
        .to_string();
    assert!(e.contains("rootless.yaml") && e.contains("root_env"), "{e}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
