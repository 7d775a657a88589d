//! Landmark CSV files: `image`, optional `success`, then `x_0..x_67` and `y_0..y_67`
//! (the layout of SynthFER's `landmarks.csv` and of `ckplus48/landmarks_dlib68_x4.csv`).
//! Other columns (face boxes, subject, ...) are ignored. Rows with `success` = 0 have no
//! landmarks. The FLD labels of paper 3.1 (OpenFace 2.0's, 4.3) come from such a file.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{DataError, Result};
use crate::{Landmarks68, NUM_LANDMARKS};

/// Reads a landmark CSV into a map from the `image` column to landmarks (`None` where the
/// annotating tool reported failure).
pub fn read_landmark_csv(path: &Path) -> Result<HashMap<String, Option<Landmarks68>>> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let mut lines = text.lines().enumerate();
    let (_, header) = lines
        .next()
        .ok_or_else(|| DataError::parse(path, 1, "empty file, expected a header line"))?;
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let find = |name: &str| columns.iter().position(|c| *c == name);
    let image_col = find("image")
        .ok_or_else(|| DataError::parse(path, 1, "no `image` column in the header"))?;
    let success_col = find("success");
    let mut xs_cols = Vec::with_capacity(NUM_LANDMARKS);
    let mut ys_cols = Vec::with_capacity(NUM_LANDMARKS);
    for i in 0..NUM_LANDMARKS {
        let (x, y) = (format!("x_{i}"), format!("y_{i}"));
        xs_cols.push(find(&x).ok_or_else(|| {
            DataError::parse(
                path,
                1,
                format!("no `{x}` column: expected x_0..x_67 and y_0..y_67"),
            )
        })?);
        ys_cols.push(find(&y).ok_or_else(|| {
            DataError::parse(
                path,
                1,
                format!("no `{y}` column: expected x_0..x_67 and y_0..y_67"),
            )
        })?);
    }
    let mut out = HashMap::new();
    for (idx, line) in lines {
        let line_no = idx + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != columns.len() {
            return Err(DataError::parse(
                path,
                line_no,
                format!("{} fields, the header has {}", fields.len(), columns.len()),
            ));
        }
        let image = fields[image_col].to_string();
        let success = match success_col {
            Some(c) => fields[c] != "0" && !fields[c].eq_ignore_ascii_case("false"),
            None => true,
        };
        let landmarks = if success {
            // NaN, inf and values beyond f32 (1e39) are refused here: a non-finite label
            // would poison the wing loss and every validation NRMSE of the run.
            let parse = |c: usize| -> Result<f32> {
                match fields[c].parse::<f32>() {
                    Ok(v) if v.is_finite() => Ok(v),
                    Ok(_) => Err(DataError::parse(
                        path,
                        line_no,
                        format!(
                            "column `{}`: '{}' is not a finite coordinate",
                            columns[c], fields[c]
                        ),
                    )),
                    Err(_) => Err(DataError::parse(
                        path,
                        line_no,
                        format!("column `{}`: '{}' is not a number", columns[c], fields[c]),
                    )),
                }
            };
            let xs = xs_cols
                .iter()
                .map(|&c| parse(c))
                .collect::<Result<Vec<_>>>()?;
            let ys = ys_cols
                .iter()
                .map(|&c| parse(c))
                .collect::<Result<Vec<_>>>()?;
            Landmarks68::from_xs_ys(&xs, &ys)
        } else {
            None
        };
        if out.insert(image.clone(), landmarks).is_some() {
            return Err(DataError::parse(
                path,
                line_no,
                format!("image '{image}' is listed twice"),
            ));
        }
    }
    Ok(out)
}

/// The header line of our landmark CSVs: `image,x_0..x_67,y_0..y_67`.
pub fn landmark_csv_header() -> String {
    let mut h = String::from("image");
    for axis in ["x", "y"] {
        for i in 0..NUM_LANDMARKS {
            h.push_str(&format!(",{axis}_{i}"));
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("fer-data-lmcsv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn row(image: &str, v: f32) -> String {
        let mut s = image.to_string();
        for i in 0..136 {
            s.push_str(&format!(",{}", v + i as f32));
        }
        s
    }

    #[test]
    fn reads_points_and_failures() {
        let text = format!("{}\n{}\n", landmark_csv_header(), row("a/1.png", 0.5));
        let p = temp_file("ok.csv", &text);
        let m = read_landmark_csv(&p).unwrap();
        let l = m["a/1.png"].unwrap();
        assert_eq!(l.points[0], [0.5, 68.5]);
        assert_eq!(l.points[67], [67.5, 135.5]);

        let fail = format!(
            "image,success,{}\nb.png,0{}\n",
            &landmark_csv_header()[6..],
            ",".repeat(136)
        );
        let p = temp_file("fail.csv", &fail);
        assert_eq!(read_landmark_csv(&p).unwrap()["b.png"], None);
    }

    #[test]
    fn malformed_rows_name_file_and_line() {
        let text = format!(
            "{}\n{}\nshort,1,2\n",
            landmark_csv_header(),
            row("a.png", 0.0)
        );
        let p = temp_file("short.csv", &text);
        let e = read_landmark_csv(&p).unwrap_err().to_string();
        assert!(e.contains("short.csv:3:"), "{e}");

        let bad = row("a.png", 0.0).replacen(",5", ",five", 1);
        let p = temp_file("nan.csv", &format!("{}\n{}\n", landmark_csv_header(), bad));
        let e = read_landmark_csv(&p).unwrap_err().to_string();
        assert!(e.contains("nan.csv:2:") && e.contains("five"), "{e}");

        for (value, file) in [("NaN", "nan2.csv"), ("inf", "inf.csv"), ("1e39", "big.csv")] {
            let bad = row("a.png", 0.0).replacen(",5", &format!(",{value}"), 1);
            let p = temp_file(file, &format!("{}\n{}\n", landmark_csv_header(), bad));
            let e = read_landmark_csv(&p).unwrap_err().to_string();
            assert!(
                e.contains(&format!("{file}:2:")) && e.contains("not a finite coordinate"),
                "{e}"
            );
        }

        let p = temp_file("nohdr.csv", "image,x_0\n");
        let e = read_landmark_csv(&p).unwrap_err().to_string();
        assert!(e.contains("nohdr.csv:1:") && e.contains("y_0"), "{e}");
    }
}
