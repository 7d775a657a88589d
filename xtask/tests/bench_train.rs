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
    assert!(lines[0].starts_with(
        "model,device,size,measure,seconds,images_per_s,torch_best_seconds,torch_best_setting,ratio,torch_default_seconds"
    ));
    // The machine's fp32 GEMM rate comes first: the peak every step is judged against.
    let gemm: Vec<&str> = lines[1].split(',').collect();
    assert_eq!((gemm[0], gemm[3]), ("gemm-2048", "fp32_peak"));
    let peak: f64 = gemm[15].parse().expect("peak GFLOP/s");
    assert!(peak > 1.0, "{}", lines[1]);
    let measures: Vec<&str> = lines[2..]
        .iter()
        .map(|l| l.split(',').nth(3).expect("measure column"))
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
    for line in &lines[2..] {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!((f[0], f[2]), ("base-dcnn-fer", "48"));
        let seconds: f64 = f[4].parse().expect("seconds");
        let rate: f64 = f[5].parse().expect("images/s");
        assert!(seconds > 0.0 && (rate - 4.0 / seconds).abs() < 0.05 * rate + 0.01);
        assert!(
            f[6].is_empty() && f[8].is_empty() && f[9].is_empty() && f[12].is_empty(),
            "torch columns filled: {line}"
        );
        // Our bf16 time where the processor has AVX-512 BF16; its ratio needs PyTorch's.
        let bf16_here = fer_models::ops::matmul_precision::Precision::Bf16
            .support_problem()
            .is_none();
        assert_eq!(!f[11].is_empty(), bf16_here, "{line}");
        assert!(f[14].is_empty(), "{line}");
        // Trainable parameters of BaseDCNN-FER at 48 px: the six convolutions of Table 1
        // (1,199,584 with biases), their batch norms (1,856), and the head 9216-2000-128-7 with
        // its two batch norms (18,434,000 + 4,000 + 256,128 + 256 + 903). The same sum at
        // 100 px (flat 36,864) is 75,192,727, which is what PyTorch's
        // `sum(p.numel() for p in model.parameters())` prints for bench/torch_reference.py.
        assert_eq!(f[19], "19896727");
        // Multiply-accumulates of one 48 px forward pass, by hand from Table 1: convolutions
        // 48²·64·9 + 24²·96·64·9 + 12²·128·96·9 + 12²·128·128·9 + 6²·256·128·9 + 6²·256·256·9
        // = 102,187,008 and the head 9216·2000 + 2000·128 + 128·7 = 18,688,896: 120,875,904.
        // GFLOP/s x seconds gives back 2 FLOPs per MAC x batch 4 (x 3 for a training step).
        let flops_per_pass = 2.0 * 120_875_904.0 * 4.0;
        let expected = match f[3] {
            "inference" => Some(flops_per_pass),
            "train_step" => Some(3.0 * flops_per_pass),
            _ => None,
        };
        match expected {
            Some(flops) => {
                let gflops: f64 = f[15].parse().expect("GFLOP/s");
                let back = gflops * 1e9 * seconds;
                assert!(
                    (back - flops).abs() < 0.01 * flops,
                    "{line}: {back} vs {flops}"
                );
                let fraction: f64 = f[16].parse().expect("peak fraction");
                assert!((fraction - gflops / peak).abs() < 0.002, "{line}");
                let rss: f64 = f[17].parse().expect("rss");
                assert!(rss > 10.0, "{line}");
            }
            None => assert!(f[15].is_empty(), "{line}"),
        }
    }
    let meta = std::fs::read_to_string(out_dir.join("train-cpu.json")).expect("train-cpu.json");
    let meta: serde_json::Value = serde_json::from_str(&meta).expect("json");
    assert_eq!(meta["batch"], 4);
    assert!(meta["torch"].is_null());
    let _ = std::fs::remove_dir_all(&out_dir);
}
