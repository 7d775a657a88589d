//! `predictions.csv`: one row per test sample with its true and predicted label (class names)
//! and, for models with an FLD head, true and predicted landmarks. The same layout is what
//! `cargo xtask score` reads, so any model's outputs can be scored with the paper's metrics.
//!
//! Columns: `id,true_label,pred_label`, then optionally `true_x_0..true_x_67`,
//! `true_y_0..true_y_67`, `pred_x_0..pred_x_67`, `pred_y_0..pred_y_67`.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::error::{Result, TrainError};
use crate::evaluation::Prediction;
use crate::metrics::{classification_metrics, nrmse, ClassificationMetrics};

fn landmark_columns(prefix: &str) -> String {
    let mut s = String::new();
    for axis in ["x", "y"] {
        for i in 0..68 {
            let _ = write!(s, ",{prefix}_{axis}_{i}");
        }
    }
    s
}

/// Writes 68 points, x then y. Predicted points are rounded to 1/1000 pixel: that keeps a
/// run record small enough to commit (a CK+48 test fold's file is a third smaller) while
/// NRMSE recomputed from the file moves by less than 1e-4 of itself; metrics.json holds the
/// NRMSE of the unrounded points.
fn push_points(s: &mut String, p: &Option<[[f32; 2]; 68]>, round: bool) {
    for axis in 0..2 {
        for q in 0..68 {
            match p {
                Some(p) if round => {
                    let _ = write!(s, ",{}", (p[q][axis] * 1000.0).round() / 1000.0);
                }
                Some(p) => {
                    let _ = write!(s, ",{}", p[q][axis]);
                }
                None => s.push(','),
            }
        }
    }
}

/// The CSV text for a list of predictions.
pub fn predictions_csv(preds: &[Prediction], class_names: &[String]) -> String {
    let with_lms = preds.iter().any(|p| p.pred_landmarks.is_some());
    let mut s = String::from("id,true_label,pred_label");
    if with_lms {
        s.push_str(&landmark_columns("true"));
        s.push_str(&landmark_columns("pred"));
    }
    s.push('\n');
    for p in preds {
        let name = |i: usize| class_names.get(i).cloned().unwrap_or_else(|| i.to_string());
        let _ = write!(
            s,
            "{},{},{}",
            p.id,
            name(p.true_label),
            p.pred_label.map(name).unwrap_or_default()
        );
        if with_lms {
            push_points(&mut s, &p.true_landmarks, false);
            push_points(&mut s, &p.pred_landmarks, true);
        }
        s.push('\n');
    }
    s
}

/// Which labels `score` accepts, and what it does with the others.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoreOptions {
    /// The dataset's class names, in the confusion matrix's order. Labels must be one of them,
    /// exactly. `None`: labels must name an expression (`happy`, `Sadness`, `an`, ... as the
    /// importers read folder names; written canonically) or all be class numbers (0, 1, ...),
    /// and are sorted.
    pub classes: Option<Vec<String>>,
    /// Drop rows whose label is not a class (counted in the report) instead of refusing the
    /// file. Without it a label like `banana` or `NaN` would otherwise become a class of its
    /// own and change ACC_average without a word.
    pub ignore_unknown_classes: bool,
}

/// Metrics of a predictions CSV, as `cargo xtask score` prints them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreReport {
    pub samples: usize,
    /// Class names in the order of the confusion matrix: `--classes` as given, else the
    /// canonical expression names that occur, sorted.
    pub classes: Vec<String>,
    /// Rows dropped by `ignore_unknown_classes` because a label is not a class.
    pub unknown_label_rows: usize,
    pub fer: Option<ClassificationMetrics>,
    /// Eq. 22 over the rows that have both true and predicted landmarks.
    pub nrmse: Option<f64>,
    pub landmark_samples: usize,
}

/// The class a label names: itself when it is one of `classes`, else (no classes given) the
/// canonical name of the expression it spells or the class number it is.
fn class_of(label: &str, classes: Option<&[String]>) -> Option<String> {
    match classes {
        Some(c) => c.iter().find(|c| c.as_str() == label).cloned(),
        None => label
            .parse::<fer_data::Expression>()
            .ok()
            .map(|e| e.name().to_string())
            .or_else(|| label.parse::<u32>().ok().map(|n| n.to_string())),
    }
}

/// Reads a predictions CSV and computes every metric. Errors name the file, line and column.
pub fn score_predictions_csv(path: &Path, options: &ScoreOptions) -> Result<ScoreReport> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let perr = |line: usize, message: String| TrainError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut lines = text.lines().enumerate();
    let (_, header) = lines
        .next()
        .ok_or_else(|| perr(1, "empty file, expected a header".into()))?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let find = |n: &str| cols.iter().position(|c| *c == n);
    let t_col =
        find("true_label").ok_or_else(|| perr(1, "no `true_label` column in the header".into()))?;
    let p_col =
        find("pred_label").ok_or_else(|| perr(1, "no `pred_label` column in the header".into()))?;
    let lm_cols = |prefix: &str| -> Option<Vec<(usize, usize)>> {
        (0..68)
            .map(|i| {
                Some((
                    find(&format!("{prefix}_x_{i}"))?,
                    find(&format!("{prefix}_y_{i}"))?,
                ))
            })
            .collect()
    };
    let (true_lm, pred_lm) = (lm_cols("true"), lm_cols("pred"));
    let has_lms = true_lm.is_some() && pred_lm.is_some();
    // Landmarks are scored from four column groups, all or none: a partial set would drop
    // NRMSE without a word.
    let groups = ["true_x", "true_y", "pred_x", "pred_y"];
    let present: Vec<&str> = groups
        .iter()
        .copied()
        .filter(|g| cols.iter().any(|c| c.starts_with(&format!("{g}_"))))
        .collect();
    if !present.is_empty() && !has_lms {
        let incomplete: Vec<String> = groups
            .iter()
            .filter(|g| (0..68).any(|i| find(&format!("{g}_{i}")).is_none()))
            .map(|g| format!("{g}_0..{g}_67"))
            .collect();
        return Err(perr(
            1,
            format!(
                "landmark columns are incomplete (missing some of {}): give all four groups true_x_*, true_y_*, pred_x_*, pred_y_* for 68 points, or none",
                incomplete.join(", ")
            ),
        ));
    }
    let id_col = find("id");
    let mut seen_ids: std::collections::HashMap<String, usize> = Default::default();

    let given = options.classes.as_deref();
    if let Some(c) = given {
        if c.is_empty() {
            return Err(TrainError::Config("--classes lists no class".into()));
        }
    }
    let mut rows: Vec<(String, String)> = Vec::new();
    // The line each row came from, for errors about a row found after the reading.
    let mut row_lines: Vec<usize> = Vec::new();
    // Unknown labels, each with the line and column it first appears on.
    let mut unknown: Vec<(String, usize, usize)> = Vec::new();
    let mut unknown_rows = 0usize;
    let (mut p_pts, mut t_pts) = (Vec::new(), Vec::new());
    for (idx, line) in lines {
        let line_no = idx + 1;
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != cols.len() {
            return Err(perr(
                line_no,
                format!("{} fields, the header has {}", f.len(), cols.len()),
            ));
        }
        if let Some(c) = id_col {
            if let Some(first) = seen_ids.insert(f[c].to_string(), line_no) {
                return Err(perr(
                    line_no,
                    format!(
                        "id '{}' appears again (first on line {first}): each sample is scored once",
                        f[c]
                    ),
                ));
            }
        }
        if !f[t_col].is_empty() || !f[p_col].is_empty() {
            if f[t_col].is_empty() || f[p_col].is_empty() {
                return Err(perr(
                    line_no,
                    "one of true_label / pred_label is empty".into(),
                ));
            }
            let (t, p) = (class_of(f[t_col], given), class_of(f[p_col], given));
            for (label, class, col) in [(f[t_col], &t, t_col), (f[p_col], &p, p_col)] {
                if class.is_none() && !unknown.iter().any(|(u, _, _)| u == label) {
                    unknown.push((label.to_string(), line_no, col + 1));
                }
            }
            match (t, p) {
                (Some(t), Some(p)) => {
                    rows.push((t, p));
                    row_lines.push(line_no);
                }
                _ => {
                    // The whole row goes, landmarks too: a sample is scored on both tasks
                    // or on neither.
                    unknown_rows += 1;
                    continue;
                }
            }
        }
        if let (true, Some(tc), Some(pc)) = (has_lms, &true_lm, &pred_lm) {
            let read = |c: &[(usize, usize)]| -> Result<Option<[[f32; 2]; 68]>> {
                if c.iter().all(|&(x, y)| f[x].is_empty() && f[y].is_empty()) {
                    return Ok(None);
                }
                let mut p = [[0.0f32; 2]; 68];
                for (j, &(x, y)) in c.iter().enumerate() {
                    for (k, col) in [x, y].into_iter().enumerate() {
                        p[j][k] = f[col]
                            .parse::<f32>()
                            .ok()
                            .filter(|v| v.is_finite())
                            .ok_or_else(|| {
                                perr(
                                    line_no,
                                    format!(
                                        "column `{}`: '{}' is not a finite number",
                                        cols[col], f[col]
                                    ),
                                )
                            })?;
                    }
                }
                Ok(Some(p))
            };
            if let (Some(t), Some(p)) = (read(tc)?, read(pc)?) {
                t_pts.push(t);
                p_pts.push(p);
            }
        }
    }
    if let (Some((label, line, col)), false) = (unknown.first(), options.ignore_unknown_classes) {
        let known = match given {
            Some(c) => format!("the classes given with --classes: {}", c.join(", ")),
            None => format!(
                "an expression name: {}",
                fer_data::Expression::ALL.map(|e| e.name()).join(", ")
            ),
        };
        let all: Vec<String> = unknown.iter().map(|(u, _, _)| format!("'{u}'")).collect();
        return Err(TrainError::Parse {
            path: path.to_path_buf(),
            line: *line,
            message: format!(
                "column {col} (`{}`): label '{label}' is not {known}; {} row(s) have unknown labels ({}). Give the dataset's class names with --classes, or drop those rows knowingly with --ignore-unknown-classes",
                cols[col - 1],
                unknown_rows,
                all.join(", ")
            ),
        });
    }
    if given.is_none() {
        // Numbers and names in one file would be two classes for one expression.
        let numeric = |c: &str| c.parse::<u32>().is_ok();
        if let (Some(n), Some(e)) = (
            rows.iter().position(|(t, p)| numeric(t) || numeric(p)),
            rows.iter().position(|(t, p)| !numeric(t) || !numeric(p)),
        ) {
            return Err(perr(
                row_lines[n.max(e)],
                format!(
                    "labels mix class numbers (line {}) and expression names (line {}): use one kind, or give the names with --classes",
                    row_lines[n], row_lines[e]
                ),
            ));
        }
    }
    let classes: Vec<String> = match given {
        Some(c) => c.to_vec(),
        None => {
            let mut c: Vec<String> = rows
                .iter()
                .flat_map(|(t, p)| [t.clone(), p.clone()])
                .collect();
            c.sort();
            c.dedup();
            c
        }
    };
    let index = |c: &str| classes.iter().position(|x| x == c).unwrap_or(0);
    let fer = if rows.is_empty() {
        None
    } else {
        let y_true: Vec<usize> = rows.iter().map(|(t, _)| index(t)).collect();
        let y_pred: Vec<usize> = rows.iter().map(|(_, p)| index(p)).collect();
        Some(classification_metrics(&y_true, &y_pred, classes.len())?)
    };
    let nrmse_value = if p_pts.is_empty() {
        None
    } else {
        Some(nrmse(&p_pts, &t_pts)?)
    };
    if fer.is_none() && nrmse_value.is_none() {
        return Err(perr(
            1,
            "no labelled rows and no landmark rows to score".into(),
        ));
    }
    Ok(ScoreReport {
        samples: rows.len().max(p_pts.len()),
        classes,
        unknown_label_rows: unknown_rows,
        fer,
        nrmse: nrmse_value,
        landmark_samples: p_pts.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("fer-train-score-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn round_trip_through_the_csv() {
        let mut t = [[0.0f32; 2]; 68];
        for (i, p) in t.iter_mut().enumerate() {
            *p = [i as f32, 10.0];
        }
        for p in t[36..42].iter_mut() {
            *p = [0.0, 0.0];
        }
        for p in t[42..48].iter_mut() {
            *p = [10.0, 0.0];
        }
        let mut p = t;
        p[0][0] += 6.8; // error 6.8 px on one point: NRMSE = 6.8 / 68 / 10 = 0.01
        let preds = vec![
            Prediction {
                id: "a".into(),
                true_label: 0,
                pred_label: Some(0),
                true_landmarks: Some(t),
                pred_landmarks: Some(p),
            },
            Prediction {
                id: "b".into(),
                true_label: 1,
                pred_label: Some(0),
                true_landmarks: Some(t),
                pred_landmarks: Some(t),
            },
        ];
        let names = vec!["anger".to_string(), "fear".to_string()];
        let path = tmp("ok.csv", &predictions_csv(&preds, &names));
        let r = score_predictions_csv(&path, &ScoreOptions::default()).unwrap();
        let fer = r.fer.unwrap();
        assert_eq!(fer.acc_total, 0.5);
        assert_eq!(r.classes, names);
        assert!((r.nrmse.unwrap() - 0.005).abs() < 1e-6, "{:?}", r.nrmse);
    }

    /// Labels that name no class are refused by file, line and column, listed, and dropped
    /// only when asked; dataset spellings of one expression are one class.
    #[test]
    fn unknown_labels_are_named_and_dropped_only_when_asked() {
        let text =
            "id,true_label,pred_label\na,happy,happiness\nb,sad,banana\nc,NaN,sad\nd,sadness,sad\n";
        let p = tmp("unknown.csv", text);
        let e = score_predictions_csv(&p, &ScoreOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown.csv:3:")
                && e.contains("column 3 (`pred_label`)")
                && e.contains("'banana'")
                && e.contains("'NaN'")
                && e.contains("2 row(s)")
                && e.contains("--ignore-unknown-classes")
                && !e.contains('\n'),
            "{e}"
        );
        let dropping = ScoreOptions {
            classes: None,
            ignore_unknown_classes: true,
        };
        let r = score_predictions_csv(&p, &dropping).unwrap();
        assert_eq!(r.unknown_label_rows, 2);
        assert_eq!(r.samples, 2);
        // happy == happiness, sad == sadness: both rows are right.
        assert_eq!(r.classes, vec!["happiness", "sadness"]);
        assert_eq!(r.fer.unwrap().acc_total, 1.0);

        // Class numbers are classes; numbers and names in one file are refused.
        let p = tmp("numbers.csv", "id,true_label,pred_label\na,0,1\nb,1,1\n");
        let r = score_predictions_csv(&p, &ScoreOptions::default()).unwrap();
        assert_eq!(r.classes, vec!["0", "1"]);
        let p = tmp(
            "mixed.csv",
            "id,true_label,pred_label\na,0,1\nb,happy,sad\n",
        );
        let e = score_predictions_csv(&p, &ScoreOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("mixed.csv:3:") && e.contains("line 2") && e.contains("mix"),
            "{e}"
        );

        // With the dataset's own names, only those names count, in the given order.
        let own = ScoreOptions {
            classes: Some(vec!["pos".into(), "neg".into()]),
            ignore_unknown_classes: false,
        };
        let p = tmp(
            "own.csv",
            "id,true_label,pred_label\na,pos,neg\nb,neg,neg\n",
        );
        let r = score_predictions_csv(&p, &own).unwrap();
        assert_eq!(r.classes, vec!["pos", "neg"]);
        assert_eq!(r.fer.unwrap().acc_total, 0.5);
        let p = tmp("own-bad.csv", "id,true_label,pred_label\na,pos,happy\n");
        let e = score_predictions_csv(&p, &own).unwrap_err().to_string();
        assert!(
            e.contains("own-bad.csv:2:") && e.contains("--classes: pos, neg"),
            "{e}"
        );
    }

    #[test]
    fn malformed_csv_names_file_and_line() {
        let p = tmp(
            "bad.csv",
            "id,true_label,pred_label\na,happy,sad\nb,happy\n",
        );
        let e = score_predictions_csv(&p, &ScoreOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.csv:3:"), "{e}");
        // An id twice, named with both lines.
        let p = tmp(
            "dup.csv",
            "id,true_label,pred_label\na,happy,sad\nb,sad,sad\na,sad,sad\n",
        );
        let e = score_predictions_csv(&p, &ScoreOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("dup.csv:4:") && e.contains("id 'a'") && e.contains("line 2"),
            "{e}"
        );
        // Landmark columns of three groups of four: refused, not scored without NRMSE.
        let mut header = "id,true_label,pred_label".to_string();
        for g in ["true_x", "true_y", "pred_x"] {
            for i in 0..68 {
                header.push_str(&format!(",{g}_{i}"));
            }
        }
        let p = tmp("partial.csv", &format!("{header}\n"));
        let e = score_predictions_csv(&p, &ScoreOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("partial.csv:1:") && e.contains("pred_y_0..pred_y_67"),
            "{e}"
        );
        // A non-finite coordinate is named by column and line.
        let mut preds = vec![Prediction {
            id: "a".into(),
            true_label: 0,
            pred_label: Some(0),
            true_landmarks: Some([[1.0f32, 2.0]; 68]),
            pred_landmarks: Some([[1.0f32, 2.0]; 68]),
        }];
        if let Some(p) = preds[0].pred_landmarks.as_mut() {
            p[5][1] = f32::NAN;
        }
        let p = tmp("nan.csv", &predictions_csv(&preds, &["anger".to_string()]));
        let e = score_predictions_csv(&p, &ScoreOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("nan.csv:2:") && e.contains("pred_y_5") && e.contains("finite"),
            "{e}"
        );
        let p = tmp("nohdr.csv", "id,label\n");
        let e = score_predictions_csv(&p, &ScoreOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("nohdr.csv:1:") && e.contains("true_label"),
            "{e}"
        );
    }
}
