//! `cargo xtask bench train` on a tiny setting: it times the model, writes the CSV with one
//! row per measure and the run's JSON, and says plainly that there is no PyTorch reference
//! when the given Python cannot run (the torch columns stay empty, nothing is invented).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn writes_the_csv_and_says_when_there_is_no_pytorch_reference() {
    let out_dir: PathBuf =
        std::env::temp_dir().join(format!("xtask-bench-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "bench",
            "train",
            "--models",
            "base-dcnn-fer",
            "--size",
            "48",
        ])
        .args(["--batch", "4", "--passes", "2", "--warmup", "1"])
        .args(["--python", "/nonexistent/python3", "--out"])
        .arg(&out_dir)
        .output()
        .expect("run xtask");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed: {stderr}");
    assert!(stderr.contains("no PyTorch reference"), "{stderr}");

    let csv = std::fs::read_to_string(out_dir.join("train-cpu.csv")).expect("train-cpu.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("model,device,measure,seconds,images_per_s,torch_seconds"));
    let measures: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(2).expect("measure column"))
        .collect();
    assert_eq!(
        measures,
        [
            "inference",
            "train_step",
            "forward",
            "backward",
            "optimiser"
        ]
    );
    for line in &lines[1..] {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0], "base-dcnn-fer");
        let seconds: f64 = f[3].parse().expect("seconds");
        let rate: f64 = f[4].parse().expect("images/s");
        assert!(seconds > 0.0 && (rate - 4.0 / seconds).abs() < 0.05 * rate + 0.01);
        assert!(
            f[5].is_empty() && f[7].is_empty(),
            "torch columns filled: {line}"
        );
        // Trainable parameters of BaseDCNN-FER at 48 px: the six convolutions of Table 1
        // (1,199,584 with biases), their batch norms (1,856), and the head 9216-2000-128-7 with
        // its two batch norms (18,434,000 + 4,000 + 256,128 + 256 + 903). The same sum at
        // 100 px (flat 36,864) is 75,192,727, which is what PyTorch's
        // `sum(p.numel() for p in model.parameters())` prints for bench/torch_reference.py.
        assert_eq!(f[8], "19896727");
    }
    let meta = std::fs::read_to_string(out_dir.join("train-cpu.json")).expect("train-cpu.json");
    let meta: serde_json::Value = serde_json::from_str(&meta).expect("json");
    assert_eq!(meta["batch"], 4);
    assert!(meta["torch"].is_null());
    let _ = std::fs::remove_dir_all(&out_dir);
}
