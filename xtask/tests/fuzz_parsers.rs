//! `cargo xtask fuzz` in the test suite: every parser a user's file reaches, fed mutated
//! inputs for 20 s each, with no panic, no abort and no allocation over 256 MB. The MTCNN
//! `.pt` and `.pth` targets start from ../shared/models' files: required when
//! FER_REQUIRE_SHARED=1 (CI), skipped by the fuzzer otherwise.

mod common;

use std::process::Command;

#[test]
fn every_parser_survives_twenty_seconds_of_mutated_files() {
    let out = common::temp("xtask-fuzz", "run");
    let result = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["fuzz", "--seconds", "20", "--out"])
        .arg(&out)
        .output()
        .expect("run xtask fuzz");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(result.status.success(), "{log}");
    let summary = std::fs::read_to_string(out.join("summary.csv")).expect("summary.csv");
    let rows: Vec<Vec<&str>> = summary
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 15, "{summary}");
    for row in &rows {
        assert_eq!(row[5], "0", "panics: {summary}");
        if row[6] == "false" {
            let executions: u64 = row[2].parse().expect("executions");
            assert!(executions > 1000, "{} ran only {executions} inputs", row[0]);
        }
    }
    let skipped: Vec<&str> = rows
        .iter()
        .filter(|r| r[6] == "true")
        .map(|r| r[0])
        .collect();
    if std::env::var_os("FER_REQUIRE_SHARED").is_some_and(|v| v == "1") {
        assert!(skipped.is_empty(), "skipped without ../shared: {skipped:?}");
    }
    eprintln!("{summary}");
    let _ = std::fs::remove_dir_all(&out);
}
