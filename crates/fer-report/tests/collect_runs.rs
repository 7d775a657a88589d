//! Tests of `collect_runs`: only finished runs count, bad files are reported by path.

mod common;

use common::{metrics_json, write_run, TempDir};
use fer_report::{collect_runs, ReportError};

#[test]
fn skips_directories_without_done_and_recurses() -> anyhow::Result<()> {
    let tmp = TempDir::new("collect");
    let root = tmp.path();
    write_run(
        &root.join("a"),
        &metrics_json("synthfer", "cmcnn", 1, 0.6, true, true),
        true,
    );
    // Unfinished: metrics.json from an earlier epoch but no DONE marker.
    write_run(
        &root.join("b"),
        &metrics_json("synthfer", "cmcnn", 12, 0.9, true, true),
        false,
    );
    // Nested two levels deep.
    write_run(
        &root.join("x/y/c"),
        &metrics_json("synthfer", "base-dcnn-fer", 1, 0.5, true, false),
        true,
    );
    // DONE without metrics.json is not a run either.
    std::fs::create_dir_all(root.join("d"))?;
    std::fs::write(root.join("d/DONE"), "")?;

    let runs = collect_runs(root)?;
    let ids: Vec<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["synthfer-cmcnn-1", "synthfer-base-dcnn-fer-1"]);
    assert_eq!(runs[0].source, root.join("a/metrics.json"));
    assert_eq!(runs[1].test.nrmse, None, "null nrmse must stay None");
    assert_eq!(runs[1].confusion_matrix.as_ref().map(Vec::len), Some(7));
    Ok(())
}

#[test]
fn malformed_metrics_json_is_reported_by_path() {
    let tmp = TempDir::new("malformed");
    let dir = tmp.path().join("run1");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("metrics.json"),
        "{\n  \"experiment\": \"demo\",\n  \"seed\": \n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("DONE"), "").unwrap_or_else(|e| panic!("{e}"));

    let err = collect_runs(tmp.path()).err();
    let Some(err @ ReportError::MalformedJson { .. }) = err else {
        panic!("expected MalformedJson, got {err:?}");
    };
    let msg = err.to_string();
    let path = dir.join("metrics.json").display().to_string();
    assert!(msg.contains(&path), "message `{msg}` should name {path}");
}

#[test]
fn missing_required_field_names_the_field() {
    let tmp = TempDir::new("missing-field");
    let mut v = metrics_json("synthfer", "cmcnn", 1, 0.6, true, true);
    if let Some(obj) = v.as_object_mut() {
        obj.remove("run_id");
    }
    write_run(tmp.path(), &v, true);
    let msg = collect_runs(tmp.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("run_id"),
        "message `{msg}` should name the field"
    );
}

#[test]
fn percent_instead_of_fraction_and_bad_matrix_are_rejected() {
    let tmp = TempDir::new("invalid");
    let mut v = metrics_json("synthfer", "cmcnn", 1, 0.6, true, true);
    v["test"]["acc_total"] = serde_json::json!(61.0);
    write_run(&tmp.path().join("pct"), &v, true);
    let msg = collect_runs(tmp.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("test.acc_total") && msg.contains("pct"),
        "got `{msg}`"
    );

    let tmp = TempDir::new("invalid-cm");
    let mut v = metrics_json("synthfer", "cmcnn", 1, 0.6, true, true);
    v["confusion_matrix"][2] = serde_json::json!([1, 2, 3]);
    write_run(tmp.path(), &v, true);
    let msg = collect_runs(tmp.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("confusion_matrix[2]"), "got `{msg}`");
}
