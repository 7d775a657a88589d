//! A corpus of hostile inputs, run through the command line as a user would: malformed
//! landmark, prediction and box CSVs, manifests, experiments, flags, environment settings and
//! weight files. Every one must end in a clear error: a non-zero exit and one line on stderr
//! that names the file (and line) or the flag, never a panic, an abort or a silent
//! acceptance. The test prints the tally (cases, clear errors, unclear ones, panics, aborts,
//! acceptances) and fails on anything but all clear.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("xtask-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The shared folder (for the dlib model `annotate` needs), or None.
fn shared() -> Option<PathBuf> {
    let root = std::env::var_os("FER_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    if root.join("models/dlib").is_dir() {
        return Some(root);
    }
    if std::env::var_os("FER_REQUIRE_SHARED").is_some_and(|v| v == "1") {
        panic!(
            "FER_REQUIRE_SHARED=1 but {} has no models/dlib",
            root.display()
        );
    }
    eprintln!(
        "skipping the annotate cases: no models/dlib under {}",
        root.display()
    );
    None
}

/// One hostile input: the command and what its error must name.
struct Case {
    category: &'static str,
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    needles: Vec<String>,
}

/// The cases of the corpus, in order.
#[derive(Default)]
struct Cases(Vec<Case>);

impl Cases {
    fn add(&mut self, category: &'static str, name: &str, args: Vec<String>, needles: &[&str]) {
        self.0.push(Case {
            category,
            name: name.to_string(),
            args,
            env: Vec::new(),
            needles: s(needles),
        });
    }

    /// A case whose command runs with one more environment variable.
    fn add_with_env(
        &mut self,
        category: &'static str,
        name: &str,
        args: Vec<String>,
        (key, value): (&str, String),
        needles: &[&str],
    ) {
        self.add(category, name, args, needles);
        if let Some(case) = self.0.last_mut() {
            case.env.push((key.to_string(), value));
        }
    }
}

#[derive(Debug, PartialEq)]
enum Verdict {
    Clear,
    Unclear(String),
    Panic(String),
    Abort,
    Accepted,
}

fn judge(out: &Output, needles: &[String]) -> Verdict {
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
        return Verdict::Panic(err.lines().take(3).collect::<Vec<_>>().join(" | "));
    }
    match out.status.code() {
        None | Some(134) => return Verdict::Abort,
        Some(0) => return Verdict::Accepted,
        _ => {}
    }
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    // clap's own errors (exit 2) end with a usage hint; ours are exactly one line.
    let one_line = match out.status.code() {
        Some(2) => lines.iter().skip(1).all(|l| {
            l.starts_with("For more information") || l.starts_with("Usage:") || l.starts_with("  ")
        }),
        _ => lines.len() == 1,
    };
    let first = lines.first().copied().unwrap_or("");
    let missing: Vec<&String> = needles
        .iter()
        .filter(|n| !first.contains(n.as_str()))
        .collect();
    if one_line && first.starts_with("error:") && missing.is_empty() {
        Verdict::Clear
    } else {
        Verdict::Unclear(format!("missing {missing:?} in: {}", lines.join(" | ")))
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// 68 points as x_0..x_67 then y_0..y_67, all `v`, except `at` set to `bad`.
fn landmark_values(v: &str, at: usize, bad: &str) -> String {
    (0..136)
        .map(|i| if i == at { bad } else { v })
        .collect::<Vec<_>>()
        .join(",")
}

fn point_header(prefix: &str) -> String {
    let mut h = Vec::new();
    for axis in ["x", "y"] {
        for i in 0..68 {
            h.push(format!("{prefix}{axis}_{i}"));
        }
    }
    h.join(",")
}

#[test]
fn every_hostile_input_gets_a_clear_error() {
    let dir = temp("corpus");
    let results = dir.join("results");
    let r = results.to_string_lossy().to_string();

    // A small image-folder dataset the dataset cases point at: six subjects, two classes.
    let images = dir.join("images");
    for class in ["anger", "happiness"] {
        std::fs::create_dir_all(images.join(class)).expect("mkdir");
        for subject in 1..=6u32 {
            for i in 0..8u32 {
                let img = image::GrayImage::from_fn(48, 48, |x, y| {
                    image::Luma([((x * 5 + y * (3 + i) + subject * 40) % 256) as u8])
                });
                img.save(images.join(format!("{class}/S00{subject}_{i}.png")))
                    .expect("png");
            }
        }
    }
    let write = |name: &str, text: &str| -> String {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p.to_string_lossy().to_string()
    };
    let manifest_text = |extra: &str| {
        format!(
            "name: faces\nformat: {{ kind: image_folder }}\nroot: {}\nclasses: [anger, happiness]\nimage_size: 48\nsubject_regex: '^(S\\d+)_'\nprotocol: {{ kind: subject_k_fold, folds: 3 }}\n{extra}",
            images.display()
        )
    };
    let train = |dataset: &str, extra: &[&str]| -> Vec<String> {
        let mut a = s(&[
            "train",
            "--dataset",
            dataset,
            "--model",
            "base-dcnn-fer",
            "--epochs",
            "1",
            "--results",
            &r,
        ]);
        if !extra.contains(&"--size") {
            a.extend(s(&["--size", "16"]));
        }
        a.extend(s(extra));
        a
    };
    let mut cases = Cases::default();

    // Landmark CSVs of a dataset.
    let lm_header = format!("image,{}", point_header(""));
    for (name, at, bad, needles) in [
        ("NaN coordinate", 5, "NaN", &["lm-nan.csv"][..]),
        ("inf coordinate", 70, "inf", &["lm-inf.csv"][..]),
        ("1e39 coordinate", 0, "1e39", &["lm-1e39.csv"][..]),
        ("text coordinate", 3, "abc", &["lm-text.csv"][..]),
        (
            "point outside the image",
            9,
            "60.0",
            &["lm-outside.csv", "outside"][..],
        ),
        (
            "negative point",
            80,
            "-7.5",
            &["lm-negative.csv", "outside"][..],
        ),
    ] {
        let file = needles[0];
        let csv = write(
            file,
            &format!(
                "{lm_header}\nanger/S001_0.png,{}\n",
                landmark_values("20.5", at, bad)
            ),
        );
        let m = write(
            &format!("m-{file}.yaml"),
            &manifest_text(&format!("landmarks_csv: {csv}\n")),
        );
        cases.add("landmark CSV", name, train(&m, &[]), needles);
    }
    let csv = write(
        "lm-short.csv",
        &format!(
            "{lm_header}\nanger/S001_0.png,{}\n",
            vec!["1.0"; 100].join(",")
        ),
    );
    let m = write(
        "m-short.yaml",
        &manifest_text(&format!("landmarks_csv: {csv}\n")),
    );
    cases.add(
        "landmark CSV",
        "short row",
        train(&m, &[]),
        &["lm-short.csv:2"],
    );
    let csv = write(
        "lm-nocol.csv",
        &format!("image,{}\n", point_header("").replace(",y_67", "")),
    );
    let m = write(
        "m-nocol.yaml",
        &manifest_text(&format!("landmarks_csv: {csv}\n")),
    );
    cases.add(
        "landmark CSV",
        "missing column",
        train(&m, &[]),
        &["lm-nocol.csv"],
    );

    // Manifests.
    for (name, text, needles) in [
        ("not YAML", ": : :\n- [".to_string(), &["bad-yaml.yaml"][..]),
        (
            "unknown format",
            manifest_text("").replace("image_folder", "tarball"),
            &["bad-format.yaml", "tarball"][..],
        ),
        (
            "unknown class",
            manifest_text("").replace("happiness]", "banana]"),
            &["bad-class.yaml", "banana"][..],
        ),
        (
            "negative image size",
            manifest_text("").replace("image_size: 48", "image_size: -3"),
            &["bad-size.yaml"][..],
        ),
        (
            "zero folds",
            manifest_text("").replace("folds: 3", "folds: 0"),
            &["bad-folds.yaml"][..],
        ),
        (
            "2^64 folds",
            manifest_text("").replace("folds: 3", "folds: 18446744073709551615"),
            &["bad-hugefolds.yaml", "protocol.folds"][..],
        ),
        (
            "misspelt key",
            manifest_text("landmarks_outside_imag: true\n"),
            &["bad-key.yaml", "landmarks_outside_imag"][..],
        ),
        (
            "invalid subject regex",
            manifest_text("").replace("'^(S\\d+)_'", "'(S'"),
            &["bad-regex.yaml"][..],
        ),
        (
            "missing root",
            manifest_text("").replace(&images.display().to_string(), "/nonexistent/faces"),
            &["bad-root.yaml", "/nonexistent/faces"][..],
        ),
        ("empty file", String::new(), &["bad-empty.yaml"][..]),
        (
            "name escaping the results folder",
            manifest_text("").replace("name: faces", "name: ../../x"),
            &["bad-name.yaml", "../../x"][..],
        ),
        (
            "binary garbage",
            "\u{0}\u{1}\u{2}\u{7f}\u{0}PK".to_string(),
            &["bad-binary.yaml"][..],
        ),
    ] {
        let m = write(needles[0], &text);
        cases.add("manifest YAML", name, train(&m, &[]), needles);
    }
    // A class folder that names no expression.
    let odd_root = dir.join("odd-images");
    std::fs::create_dir_all(odd_root.join("banana")).expect("mkdir");
    for class in ["anger", "happiness"] {
        std::fs::create_dir_all(odd_root.join(class)).expect("mkdir");
        std::fs::copy(
            images.join(format!("{class}/S001_0.png")),
            odd_root.join(format!("{class}/S001_0.png")),
        )
        .expect("copy");
    }
    let m = write(
        "m-odd.yaml",
        &manifest_text("").replace(
            &images.display().to_string(),
            &odd_root.display().to_string(),
        ),
    );
    cases.add(
        "manifest YAML",
        "unknown class folder",
        train(&m, &[]),
        &["banana"],
    );

    // Experiments (checked at plan time, with --dry-run so nothing could train).
    let experiment = |name: &str, text: &str| -> Vec<String> {
        let p = write(name, text);
        s(&["reproduce", &p, "--dry-run", "--results", &r])
    };
    let good = "name: x\ntitle: t\nkind: training\ndatasets:\n  - key: s\n    manifest: synthfer\nmethods:\n  - id: base-dcnn-fer\nseeds: [1]\n";
    for (name, text, needles) in [
        (
            "name escaping the results folder",
            good.replace("name: x", "name: ../../x"),
            &["e-escape.yaml", "name"][..],
        ),
        (
            "empty name",
            good.replace("name: x", "name: \"\""),
            &["e-empty-name.yaml", "name"][..],
        ),
        (
            "method id escaping",
            good.replace("id: base-dcnn-fer", "id: ../m\n    model: base-dcnn-fer"),
            &["e-method.yaml", "../m"][..],
        ),
        (
            "hidden method id",
            good.replace("id: base-dcnn-fer", "id: .m\n    model: base-dcnn-fer"),
            &["e-hidden.yaml", ".m"][..],
        ),
        (
            "unknown model",
            good.replace("id: base-dcnn-fer", "id: m\n    model: no-such-model"),
            &["e-model.yaml", "no-such-model"][..],
        ),
        (
            "unknown dataset",
            good.replace("manifest: synthfer", "manifest: no-such-data"),
            &["no-such-data"][..],
        ),
        (
            "unknown kind",
            good.replace("kind: training", "kind: banana"),
            &["e-kind.yaml"][..],
        ),
        (
            "negative seed",
            good.replace("seeds: [1]", "seeds: [-1]"),
            &["e-seed.yaml"][..],
        ),
        (
            "misspelt key",
            good.replace("seeds:", "sedes:"),
            &["e-key.yaml", "sedes"][..],
        ),
        ("not YAML", "name: [x\n".to_string(), &["e-yaml.yaml"][..]),
        ("empty file", String::new(), &["e-emptyfile.yaml"][..]),
        (
            "negative FLD loss weight",
            format!("{good}train:\n  fld_loss_weight: -1\n"),
            &["e-lambda.yaml", "fld_loss_weight", "-1"][..],
        ),
        (
            // Refused at plan time, before any run folder exists (issue 19).
            "gradient method on a single-task model",
            format!("{good}train:\n  weighting:\n    method: pcgrad\n"),
            &["e-weighting.yaml", "pcgrad", "base-dcnn-fer", "FER only"][..],
        ),
        (
            "inference batch of zero",
            format!("{good}batch: 0\n"),
            &["e-batch.yaml", "batch", "got 0"][..],
        ),
        (
            "hidden width past any setting",
            format!("{good}train:\n  model_config:\n    fer_head:\n      hidden: 99999999999\n"),
            &["e-width.yaml", "fer_head.hidden"][..],
        ),
        (
            "dataset key escaping",
            good.replace("key: s", "key: ../s"),
            &["e-key-escape.yaml", "../s"][..],
        ),
    ] {
        let file = needles
            .iter()
            .find(|n| n.ends_with(".yaml"))
            .copied()
            .unwrap_or("e-dataset.yaml");
        cases.add("experiment YAML", name, experiment(file, &text), needles);
    }

    // Flags and settings.
    for (name, args, needles) in [
        (
            "--tag escaping",
            s(&[
                "reproduce",
                "demo",
                "--dry-run",
                "--tag",
                "../../x",
                "--results",
                &r,
            ]),
            &["--tag", "../../x"][..],
        ),
        (
            "--size 2000",
            train("synthfer", &["--size", "2000"]),
            &["--size", "2000"][..],
        ),
        (
            "--size 8",
            train("synthfer", &["--size", "8"]),
            &["--size"][..],
        ),
        (
            "--size text",
            train("synthfer", &["--size", "big"]),
            &["--size"][..],
        ),
        (
            "--precision fp16",
            train("synthfer", &["--precision", "fp16"]),
            &["--precision", "fp16"][..],
        ),
        ("--lr NaN", train("synthfer", &["--lr", "NaN"]), &["lr"][..]),
        (
            "--lr negative",
            train("synthfer", &["--lr=-0.1"]),
            &["lr"][..],
        ),
        (
            "--fold out of range",
            train("synthfer", &["--fold", "99"]),
            &["--fold 99"][..],
        ),
        (
            "--folds 0",
            s(&[
                "reproduce",
                "demo",
                "--dry-run",
                "--folds",
                "0",
                "--results",
                &r,
            ]),
            &["--folds"][..],
        ),
        (
            "--folds 5-2",
            s(&[
                "reproduce",
                "demo",
                "--dry-run",
                "--folds",
                "5-2",
                "--results",
                &r,
            ]),
            &["--folds", "5-2"][..],
        ),
        (
            "--folds with a range of 2^64 folds",
            s(&[
                "reproduce",
                "demo",
                "--dry-run",
                "--folds",
                "0-18446744073709551615",
                "--results",
                &r,
            ]),
            &["--folds", "past the last possible fold"][..],
        ),
        (
            "--time-budget of 2^64 seconds",
            s(&[
                "reproduce",
                "demo",
                "--dry-run",
                "--time-budget",
                "18446744073709551615",
                "--results",
                &r,
            ]),
            &["--time-budget", "longer than a year"][..],
        ),
        (
            "--time-budget overflowing in hours",
            s(&[
                "reproduce",
                "demo",
                "--dry-run",
                "--time-budget",
                "9999999999999999999h",
                "--results",
                &r,
            ]),
            &["--time-budget", "longer than a year"][..],
        ),
        (
            "fuzz --seconds 1e300",
            s(&["fuzz", "--seconds", "1e300", "--out", &r]),
            &["--seconds"][..],
        ),
        (
            "--seeds text",
            s(&[
                "reproduce",
                "demo",
                "--dry-run",
                "--seeds",
                "x",
                "--results",
                &r,
            ]),
            &["--seeds"][..],
        ),
        (
            "--time-budget nonsense",
            s(&[
                "reproduce",
                "demo",
                "--dry-run",
                "--time-budget",
                "5 parsecs",
                "--results",
                &r,
            ]),
            &["--time-budget"][..],
        ),
        (
            "--device nonsense",
            train("synthfer", &["--device", "tpu:3"]),
            &["tpu:3"][..],
        ),
        (
            "--max-tensor-memory negative",
            s(&["models", "--max-tensor-memory=-3"]),
            &["--max-tensor-memory"][..],
        ),
        (
            "unknown dataset name",
            train("nosuch", &[]),
            &["nosuch"][..],
        ),
        (
            "unknown model name",
            s(&[
                "train",
                "--dataset",
                "synthfer",
                "--model",
                "nosuch",
                "--results",
                &r,
            ]),
            &["nosuch"][..],
        ),
        (
            "unknown experiment",
            s(&["reproduce", "no-such-table", "--dry-run", "--results", &r]),
            &["no-such-table"][..],
        ),
    ] {
        cases.add("flags", name, args, needles);
    }
    cases.add_with_env(
        "flags",
        "FER_MAX_TENSOR_MEMORY malformed",
        s(&["models"]),
        ("FER_MAX_TENSOR_MEMORY", "lots".into()),
        &["FER_MAX_TENSOR_MEMORY", "lots"],
    );

    // Prediction CSVs for `score`.
    let full = format!(
        "id,true_label,pred_label,{},{}",
        point_header("true_"),
        point_header("pred_")
    );
    let pts = landmark_values("10.0", 999, "");
    for (file, text, needles) in [
        (
            "p-nan.csv",
            format!(
                "{full}\na,anger,anger,{pts},{}\n",
                landmark_values("10.0", 7, "NaN")
            ),
            &["p-nan.csv:2:", "pred_x_7"][..],
        ),
        (
            "p-groups.csv",
            format!(
                "id,true_label,pred_label,{},{}\n",
                point_header("true_"),
                point_header("pred_")
                    .split(",pred_y_0")
                    .next()
                    .unwrap_or("")
            ),
            &["p-groups.csv:1:", "pred_y"][..],
        ),
        (
            "p-banana.csv",
            "id,true_label,pred_label\na,anger,banana\n".to_string(),
            &["p-banana.csv:2:", "banana"][..],
        ),
        (
            "p-nanlabel.csv",
            "id,true_label,pred_label\na,NaN,anger\n".to_string(),
            &["p-nanlabel.csv:2:", "NaN"][..],
        ),
        (
            "p-dup.csv",
            "id,true_label,pred_label\na,anger,anger\na,fear,anger\n".to_string(),
            &["p-dup.csv:3:", "'a'"][..],
        ),
        (
            "p-fields.csv",
            "id,true_label,pred_label\na,anger\n".to_string(),
            &["p-fields.csv:2:"][..],
        ),
        ("p-empty.csv", String::new(), &["p-empty.csv"][..]),
        (
            "p-noheader.csv",
            "a,anger,anger\n".to_string(),
            &["p-noheader.csv:1:", "true_label"][..],
        ),
        (
            "p-binary.csv",
            "\u{0}\u{1}\u{2}PK\u{3}".to_string(),
            &["p-binary.csv"][..],
        ),
        (
            "p-norows.csv",
            "id,true_label,pred_label\n".to_string(),
            &["p-norows.csv"][..],
        ),
    ] {
        let p = write(file, &text);
        cases.add(
            "predictions CSV",
            file,
            s(&["score", "--predictions", &p]),
            needles,
        );
    }
    cases.add(
        "predictions CSV",
        "missing file",
        s(&[
            "score",
            "--predictions",
            &dir.join("absent.csv").to_string_lossy(),
        ]),
        &["absent.csv"],
    );

    // Pretrained weights.
    let st = dir.join("w-truncated.safetensors");
    std::fs::write(
        &st,
        b"\x40\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":\"F32\",\"shape\":[2],",
    )
    .expect("write");
    cases.add(
        "weights",
        "truncated safetensors",
        train("synthfer", &["--pretrained", &st.to_string_lossy()]),
        &["w-truncated.safetensors"],
    );
    let pth = write("w-garbage.pth", "this is not a pickle");
    cases.add(
        "weights",
        "garbage .pth",
        train("synthfer", &["--pretrained", &pth]),
        &["w-garbage.pth"],
    );
    cases.add(
        "weights",
        "missing file",
        train(
            "synthfer",
            &[
                "--pretrained",
                &dir.join("w-absent.safetensors").to_string_lossy(),
            ],
        ),
        &["w-absent.safetensors"],
    );

    // Face boxes for `annotate`.
    if let Some(shared) = shared() {
        let box_images = dir.join("box-images");
        std::fs::create_dir_all(&box_images).expect("mkdir");
        std::fs::copy(images.join("anger/S001_0.png"), box_images.join("a.png")).expect("copy");
        let models_env = || {
            (
                "FER_MODELS",
                shared.join("models").to_string_lossy().to_string(),
            )
        };
        for (file, b, needles) in [
            ("b-nan.csv", "NaN,0,40,40", &["b-nan.csv:2"][..]),
            ("b-inverted.csv", "40,40,2,2", &["b-inverted.csv:2"][..]),
            ("b-zero.csv", "5,5,5,20", &["b-zero.csv:2"][..]),
            ("b-huge.csv", "0,0,1e30,40", &["b-huge.csv:2"][..]),
            ("b-text.csv", "a,b,c,d", &["b-text.csv:2"][..]),
        ] {
            let csv = write(
                file,
                &format!("image,box_left,box_top,box_right,box_bottom\na.png,{b}\n"),
            );
            let out = dir.join(format!("{file}.out.csv"));
            let args = s(&[
                "annotate",
                "--images",
                &box_images.to_string_lossy(),
                "--boxes",
                &csv,
                "--out",
                &out.to_string_lossy(),
            ]);
            cases.add_with_env("boxes CSV", file, args, models_env(), needles);
        }
        let csv = write(
            "b-nocol.csv",
            "image,box_left,box_top,box_right\na.png,1,1,30\n",
        );
        cases.add_with_env(
            "boxes CSV",
            "missing column",
            s(&[
                "annotate",
                "--images",
                &box_images.to_string_lossy(),
                "--boxes",
                &csv,
                "--out",
                &dir.join("nocol.out.csv").to_string_lossy(),
            ]),
            models_env(),
            &["b-nocol.csv:1", "box_bottom"],
        );
    }

    let mut tally = std::collections::BTreeMap::<&str, [usize; 5]>::new();
    let mut failures = Vec::new();
    for case in &cases.0 {
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(&case.args)
            .envs(case.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run xtask");
        let verdict = judge(&out, &case.needles);
        let slot = match &verdict {
            Verdict::Clear => 0,
            Verdict::Unclear(_) => 1,
            Verdict::Panic(_) => 2,
            Verdict::Abort => 3,
            Verdict::Accepted => 4,
        };
        tally.entry(case.category).or_default()[slot] += 1;
        if verdict != Verdict::Clear {
            failures.push(format!("{} / {}: {verdict:?}", case.category, case.name));
        }
    }
    eprintln!("category: cases, clear, unclear, panics, aborts, accepted");
    let mut total = [0usize; 5];
    for (category, t) in &tally {
        eprintln!(
            "{category}: {}, {}, {}, {}, {}, {}",
            t.iter().sum::<usize>(),
            t[0],
            t[1],
            t[2],
            t[3],
            t[4]
        );
        for (a, b) in total.iter_mut().zip(t) {
            *a += b;
        }
    }
    eprintln!(
        "all: {} cases, {} clear errors ({:.1} %), {} unclear, {} panics, {} aborts, {} silent acceptances",
        cases.0.len(),
        total[0],
        100.0 * total[0] as f64 / cases.0.len() as f64,
        total[1],
        total[2],
        total[3],
        total[4]
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        !results.exists()
            || std::fs::read_dir(&results)
                .map(|mut d| d.next().is_none())
                .unwrap_or(true),
        "a refused input wrote into the results folder"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
