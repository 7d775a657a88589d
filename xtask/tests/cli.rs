//! The runner's behaviour on bad input: a one-line error naming the thing and the file (and
//! line), a non-zero exit status, and nothing half-written under the results folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("run xtask")
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("xtask-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Asserts failure with exactly one line on stderr that contains every needle.
fn assert_one_line_error(out: &Output, needles: &[&str]) {
    assert!(!out.status.success(), "expected failure");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err}");
    for n in needles {
        assert!(lines[0].contains(n), "'{n}' missing from: {}", lines[0]);
    }
}

fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

#[test]
fn unknown_dataset_and_model_names() {
    let results = temp("names");
    let r = results.to_string_lossy().to_string();
    let out = xtask(&[
        "train",
        "--dataset",
        "nosuch",
        "--model",
        "base-dcnn-fer",
        "--results",
        &r,
    ]);
    assert_one_line_error(
        &out,
        &["unknown dataset 'nosuch'", "nosuch.yaml", "synthfer"],
    );
    let out = xtask(&[
        "train",
        "--dataset",
        "synthfer",
        "--model",
        "nosuch",
        "--results",
        &r,
    ]);
    assert_one_line_error(&out, &["unknown model 'nosuch'", "base-dcnn-fer"]);
    assert!(is_empty_dir(&results), "nothing may be written");
}

#[test]
fn missing_folder_and_unreadable_image() {
    let dir = temp("data");
    let results = dir.join("results");
    let r = results.to_string_lossy().to_string();
    let manifest = dir.join("faces.yaml");
    let write_manifest = |root: &Path| {
        std::fs::write(
            &manifest,
            format!(
                "name: faces\nformat: {{ kind: image_folder }}\nroot: {}\nclasses: [anger, happiness]\nimage_size: 48\nsubject_regex: '^(S\\d+)_'\nprotocol: {{ kind: subject_k_fold, folds: 3 }}\n",
                root.display()
            ),
        )
        .expect("manifest");
    };
    let m = manifest.to_string_lossy().to_string();

    write_manifest(&dir.join("absent"));
    let out = xtask(&[
        "train",
        "--dataset",
        &m,
        "--model",
        "base-dcnn-fer",
        "--results",
        &r,
    ]);
    assert_one_line_error(&out, &["faces", "absent"]);

    let root = dir.join("images");
    std::fs::create_dir_all(root.join("anger")).expect("mkdir");
    image::GrayImage::from_pixel(48, 48, image::Luma([9]))
        .save(root.join("anger/S001_1.png"))
        .expect("png");
    std::fs::write(root.join("anger/S002_1.png"), b"not an image").expect("write");
    write_manifest(&root);
    let out = xtask(&[
        "train",
        "--dataset",
        &m,
        "--model",
        "base-dcnn-fer",
        "--results",
        &r,
    ]);
    // The undecodable file is skipped and named on stdout; what remains (one subject) cannot
    // make three folds, which is the one-line error.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("skipped 1 image") && stdout.contains("S002_1.png"),
        "{stdout}"
    );
    assert_one_line_error(&out, &["3 folds", "found 1"]);
    assert!(is_empty_dir(&results), "nothing may be written");
}

#[test]
fn score_reports_malformed_csv_by_file_and_line_and_scores_a_good_one() {
    let dir = temp("score");
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "id,true_label,pred_label\na,happy,happy\nb,sad\n").expect("write");
    let out = xtask(&["score", "--predictions", &bad.to_string_lossy()]);
    assert_one_line_error(&out, &["bad.csv:3:", "2 fields"]);

    let missing = dir.join("missing.csv");
    let out = xtask(&["score", "--predictions", &missing.to_string_lossy()]);
    assert_one_line_error(&out, &["missing.csv"]);

    let good = dir.join("good.csv");
    std::fs::write(
        &good,
        "id,true_label,pred_label\na,happy,happy\nb,sad,happy\nc,sad,sad\nd,anger,sad\n",
    )
    .expect("write");
    let out = xtask(&["score", "--predictions", &good.to_string_lossy()]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["fer"]["acc_total"].as_f64(), Some(0.5));
    // classes sorted: anger, happiness, sadness; recalls 0, 1, 0.5 -> ACC_average 0.5
    assert_eq!(v["fer"]["acc_average"].as_f64(), Some(0.5));
    assert_eq!(
        v["classes"],
        serde_json::json!(["anger", "happiness", "sadness"])
    );

    // A label that names no expression is refused by file, line and column, not made a class.
    let odd = dir.join("odd.csv");
    std::fs::write(
        &odd,
        "id,true_label,pred_label\na,happy,banana\nb,sad,sad\n",
    )
    .expect("write");
    let o = odd.to_string_lossy().to_string();
    let out = xtask(&["score", "--predictions", &o]);
    assert_one_line_error(&out, &["odd.csv:2:", "column 3", "'banana'"]);
    let out = xtask(&["score", "--predictions", &o, "--ignore-unknown-classes"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["unknown_label_rows"].as_u64(), Some(1));
    assert_eq!(v["fer"]["acc_total"].as_f64(), Some(1.0));
}

/// Names become folders under results/: an experiment name, a method id, a `--tag` or a
/// `--experiment` that would leave the results folder (or hide in it) is refused by name, and
/// nothing is written anywhere.
#[test]
fn names_that_would_escape_the_results_folder_are_refused() {
    let dir = temp("escape");
    let results = dir.join("deep/results");
    std::fs::create_dir_all(&results).expect("results");
    let experiment = |name: &str, method: &str| {
        let path = dir.join(format!("exp-{}.yaml", method.len() + name.len()));
        std::fs::write(
            &path,
            format!("name: \"{name}\"\ntitle: t\nkind: training\ndatasets:\n  - key: s\n    manifest: synthfer\nmethods:\n  - id: \"{method}\"\n    model: base-dcnn-fer\nseeds: [1]\n"),
        )
        .expect("experiment");
        path
    };
    let results_arg = results.to_string_lossy().to_string();
    for (name, method, needle) in [
        (
            "../../x",
            "base-dcnn-fer",
            "name \"../../x\" is not a safe name",
        ),
        ("", "base-dcnn-fer", "name \"\" is not a safe name"),
        ("ok", "../m", "method id \"../m\" is not a safe name"),
    ] {
        let path = experiment(name, method);
        let out = xtask(&[
            "reproduce",
            &path.to_string_lossy(),
            "--results",
            &results_arg,
            "--dry-run",
        ]);
        assert_one_line_error(
            &out,
            &[needle, &path.file_name().unwrap().to_string_lossy()],
        );
    }
    let out = xtask(&[
        "reproduce",
        "demo",
        "--tag",
        "../../escaped",
        "--results",
        &results_arg,
    ]);
    assert_one_line_error(&out, &["\"demo-../../escaped\"", "not a safe name"]);
    let out = xtask(&["status", "demo", "--tag", "../x", "--results", &results_arg]);
    assert_one_line_error(&out, &["--tag \"../x\"", "not a safe folder name"]);
    let out = xtask(&[
        "train",
        "--dataset",
        "synthfer",
        "--model",
        "base-dcnn-fer",
        "--experiment",
        "../out",
        "--results",
        &results_arg,
    ]);
    assert_one_line_error(&out, &["experiment name \"../out\" is not a safe name"]);
    assert!(is_empty_dir(&results), "nothing under results/");
    assert!(!dir.join("deep/escaped").exists() && !dir.join("escaped").exists());
    assert!(!dir.join("deep/out").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Results go where the user stands: the runner takes its workspace (experiments/,
/// data-manifests/, results/) from the nearest checkout at or above the working directory, not
/// from the folder it was compiled in (clones sharing one CARGO_TARGET_DIR share the binary),
/// and says so when it has to fall back to that folder.
#[test]
fn the_workspace_is_the_checkout_the_user_stands_in() {
    let dir = temp("cwd-root");
    let ws = dir.join("other-clone");
    for sub in ["xtask", "experiments", "data-manifests", "deep/sub"] {
        std::fs::create_dir_all(ws.join(sub)).expect("dirs");
    }
    std::fs::write(
        ws.join("Cargo.toml"),
        "[workspace]\nmembers = [\"crates/fer-*\", \"xtask\"]\n",
    )
    .expect("toml");
    std::fs::write(ws.join("xtask/Cargo.toml"), "").expect("xtask toml");
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-manifests/synthfer.yaml");
    std::fs::copy(&ours, ws.join("data-manifests/synthfer.yaml")).expect("manifest");
    std::fs::write(
        ws.join("experiments/only-here.yaml"),
        "name: only-here\ntitle: t\nkind: training\ndatasets:\n  - key: s\n    manifest: synthfer\nmethods:\n  - id: base-dcnn-fer\nseeds: [1]\n",
    )
    .expect("experiment");
    let run = |cwd: &Path| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["reproduce", "only-here", "--dry-run"])
            .current_dir(cwd)
            .env_remove("FER_WORKSPACE_ROOT")
            .output()
            .expect("run xtask")
    };
    let out = run(&ws.join("deep/sub"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&ws.join("results/only-here").display().to_string()),
        "{stdout}"
    );
    assert!(!stderr.contains("note:"), "{stderr}");
    // Outside any checkout: the compile-time workspace, said in a note (and it has no such
    // experiment).
    let out = run(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("note:") && stderr.contains("FER_WORKSPACE_ROOT"),
        "{stderr}"
    );
    assert!(stderr.contains("no experiment 'only-here'"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A method whose model is not registered stops `reproduce` at plan time, by name, before any
/// run of any experiment trains (it used to pass `--dry-run` and fail after other runs).
#[test]
fn an_unknown_model_in_an_experiment_stops_it_before_any_run() {
    let dir = temp("unknown-model");
    let results = dir.join("results");
    let path = dir.join("bad-model.yaml");
    std::fs::write(
        &path,
        "name: bad-model\ntitle: t\nkind: training\ndatasets:\n  - key: s\n    manifest: synthfer\nmethods:\n  - id: base-dcnn-fer\n  - id: mystery\n    model: no-such-model\nseeds: [1]\n",
    )
    .expect("experiment");
    for extra in [&["--dry-run"][..], &[][..]] {
        let mut args = vec![
            "reproduce",
            path.to_str().expect("utf-8 path"),
            "--results",
            results.to_str().expect("utf-8 path"),
        ];
        args.extend_from_slice(extra);
        let out = xtask(&args);
        assert_one_line_error(
            &out,
            &[
                "bad-model.yaml",
                "method 'mystery'",
                "'no-such-model'",
                "not registered",
                "cmcnn",
            ],
        );
        assert!(!results.exists(), "nothing written");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// An input side outside 16-512 px is refused by its flag before anything is allocated (a
/// 2000 px dataset used to abort with a 256 GB allocation failure).
#[test]
fn an_input_size_outside_16_to_512_is_refused_by_its_flag() {
    for args in [
        &[
            "train",
            "--dataset",
            "synthfer",
            "--model",
            "hps",
            "--size",
            "2000",
        ][..],
        &["reproduce", "demo", "--size", "100000"][..],
        &["bench", "train", "--sizes", "48,8"][..],
    ] {
        let out = xtask(args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.lines()
                .next()
                .is_some_and(|l| l.contains("--size") && l.contains("outside 16-512")),
            "{err}"
        );
    }
}

/// A class folder that names no expression stops `train` and `reproduce`, listed by name;
/// `--ignore-unknown-classes` drops it knowingly on both, and the run then trains.
#[test]
fn unknown_class_folders_are_refused_and_dropped_only_with_the_flag() {
    let dir = temp("unknown-class");
    let root = dir.join("images");
    for class in ["anger", "happiness", "banana"] {
        std::fs::create_dir_all(root.join(class)).expect("mkdir");
        // Six subjects of eight images per class: a 3-fold split keeps 32 for training.
        for s in 1..=6 {
            for i in 0..8 {
                let img = image::GrayImage::from_fn(48, 48, |x, y| {
                    image::Luma([((x * 5 + y * (3 + i) + s * 40) % 256) as u8])
                });
                img.save(root.join(format!("{class}/S00{s}_{i}.png")))
                    .expect("png");
            }
        }
    }
    let manifest = dir.join("faces.yaml");
    std::fs::write(
        &manifest,
        format!(
            "name: faces\nformat: {{ kind: image_folder }}\nroot: {}\nclasses: [anger, happiness]\nimage_size: 48\nsubject_regex: '^(S\\d+)_'\nprotocol: {{ kind: subject_k_fold, folds: 3 }}\n",
            root.display()
        ),
    )
    .expect("manifest");
    let m = manifest.to_string_lossy().to_string();
    let results = dir.join("results");
    let r = results.to_string_lossy().to_string();
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--dataset",
            &m,
            "--model",
            "base-dcnn-fer",
            "--size",
            "16",
            "--epochs",
            "1",
            "--results",
            &r,
        ];
        args.extend_from_slice(extra);
        xtask(&args)
    };
    assert_one_line_error(&train(&[]), &["banana", "--ignore-unknown-classes"]);
    assert!(is_empty_dir(&results), "nothing may be written");
    let out = train(&["--ignore-unknown-classes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let experiment = dir.join("faces-exp.yaml");
    std::fs::write(
        &experiment,
        format!(
            "name: faces-exp\ntitle: t\nkind: training\ndatasets:\n  - key: faces\n    manifest: {m}\nmethods:\n  - id: base-dcnn-fer\nseeds: [1]\ntrain:\n  model_config:\n    input_size: 16\n  max_epochs: 1\n"
        ),
    )
    .expect("experiment");
    let e = experiment.to_string_lossy().to_string();
    let reproduce = |extra: &[&str]| {
        let mut args = vec!["reproduce", &e, "--folds", "0-0", "--results", &r];
        args.extend_from_slice(extra);
        xtask(&args)
    };
    let out = reproduce(&[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("banana"), "{err}");
    let out = reproduce(&["--ignore-unknown-classes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(results.join("faces-exp/summary.csv").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tensor over the memory limit is refused by name before it is allocated, as a one-line
/// error and not an allocator abort; a malformed limit names its variable.
#[test]
fn a_tensor_over_the_memory_limit_is_refused_before_allocation() {
    let results = temp("tensor-limit");
    let r = results.to_string_lossy().to_string();
    // base-dcnn-fer's first fully connected layer at 128 px holds 131 M weights (1 GiB as
    // the f64 draws that initialise it).
    let out = xtask(&[
        "train",
        "--dataset",
        "synthfer",
        "--model",
        "base-dcnn-fer",
        "--size",
        "128",
        "--epochs",
        "1",
        "--results",
        &r,
        "--max-tensor-memory",
        "256MiB",
    ]);
    assert_one_line_error(
        &out,
        &[
            "parameter fer_feature.fer_fc1.weight [2000, 65536]",
            "over the tensor memory limit of 256.0 MiB",
            "--max-tensor-memory",
        ],
    );
    assert_ne!(out.status.code(), Some(134), "an abort, not an error");
    assert!(is_empty_dir(&results), "nothing may be written");

    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["score", "--predictions", "x.csv"])
        .env("FER_MAX_TENSOR_MEMORY", "lots")
        .output()
        .expect("run xtask");
    assert_one_line_error(&out, &["FER_MAX_TENSOR_MEMORY", "'lots'"]);
    let out = xtask(&[
        "score",
        "--predictions",
        "x.csv",
        "--max-tensor-memory",
        "-3",
    ]);
    assert!(!out.status.success());
}
